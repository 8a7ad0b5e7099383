"""The straightforward (N, C, T, V) formulation of the part-wise ST-GCN encoder.

This is the encoder as the field's code writes it: 1x1 and (kt, 1) ``Conv2d`` over
(N, C, T, V) tensors, the partitioned adjacency applied with an einsum, ``BatchNorm2d`` and
torch's dropout. It holds the same parameters as ``methods.encoders.stgcn.PartwiseSTGCN``
(it is a subclass that only replaces ``forward``), so a state dict moves between the two
unchanged. It is not used for training: it is the reference that the tests pin the fast
channels-last formulation to, and the baseline that ``python -m harness perf`` times it
against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.layouts import BODY_LEFT_WRIST, BODY_NOSE, BODY_RIGHT_WRIST
from methods.encoders.stgcn import PartChain, PartwiseSTGCN, STGCNBlock, normalize_parts


def block_forward(block: STGCNBlock, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """One block over x (N, C, T, V) with mask (N, 1, T, 1)."""
    n, _, t, v = x.shape
    res = block.residual(x)
    y = block.gcn(x).view(n, block.k, block.c_out, t, v)
    y = torch.einsum("nkctv,kvw->nctw", y, block.adjacency)
    y = torch.relu(block.bn1(y))
    if block.temporal:
        y = y * mask
    # torch's own dropout, as the field's code has it (the fast encoder's ``Dropout`` draws
    # its mask more cheaply from the same generator: another mask, the same distribution)
    y = F.dropout(block.bn2(block.tconv(y)), block.drop.p, block.training)
    return torch.relu(y + res)


def spatial_features(chain: PartChain, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, 3, T, V) -> (N, C, T, V) after the embedding and the spatial blocks."""
    x = chain.embed(x)
    for block in chain.spatial:
        x = block_forward(block, x, mask)
    return x


def temporal_features(chain: PartChain, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """(N, C, T, V) -> (N, C', T, V) after the temporal blocks."""
    for block in chain.temporal:
        x = block_forward(block, x, mask)
    return x


class ReferencePartwiseSTGCN(PartwiseSTGCN):
    """``PartwiseSTGCN`` computed in the straightforward (N, C, T, V) formulation."""

    def forward(self, keypoints: torch.Tensor, confidence: torch.Tensor, valid: torch.Tensor,
                frame_mask: torch.Tensor) -> torch.Tensor:
        """(B, T, V, C) inputs over ``input_joints`` -> features (B, T, d_model)."""
        x = normalize_parts(keypoints, confidence, valid, frame_mask, self.slices, self.anchors,
                            self.conf_threshold, self.rel_scale)
        b = keypoints.shape[0]
        mask = frame_mask[:, None, :, None].to(keypoints.dtype)
        body = spatial_features(self.body, x["body"], mask)
        hands = spatial_features(self.hand, torch.cat([x["left_hand"], x["right_hand"]]),
                                 mask.repeat(2, 1, 1, 1))
        face = spatial_features(self.face, x["face"], mask)
        wrists = torch.cat([body[..., BODY_LEFT_WRIST], body[..., BODY_RIGHT_WRIST]]).detach()
        hands = hands + wrists[..., None]
        face = face + body[..., BODY_NOSE, None].detach()
        body = temporal_features(self.body, body, mask)
        hands = temporal_features(self.hand, hands, mask.repeat(2, 1, 1, 1))
        face = temporal_features(self.face, face, mask)
        pooled = [body.mean(-1), hands[:b].mean(-1), hands[b:].mean(-1), face.mean(-1)]
        feats = torch.cat([p.transpose(1, 2) + self.part_embedding[i]
                           for i, p in enumerate(pooled)], dim=-1)
        return self.frame_features(feats, frame_mask)
