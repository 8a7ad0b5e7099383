"""The straightforward (N, C, T, V) formulation of the part-wise ST-GCN encoder, written as
Uni-Sign's release writes it (``stgcn_layers/stgcn_block.py``, ``models.py``).

Each block is the release's: a 1x1 ``Conv2d`` to K x C channels, the partitioned adjacency
applied with ``einsum('nkctv,kvw->nctw')``, ``BatchNorm2d``, an in-place ReLU; in a temporal
block a (kt, 1) ``Conv2d``, ``BatchNorm2d`` and torch's dropout; the residual, an in-place
ReLU. Parts are projected by ``Linear(3, C)`` on (N, T, V, 3) and permuted to (N, C, T, V);
joints are mean-pooled over the last axis. It holds the same parameters as
``methods.encoders.stgcn.PartwiseSTGCN`` (a subclass that only replaces ``forward``), so a
state dict moves between the two unchanged. It is not used for training: it is the
reference that the tests pin the fast channels-last formulation to (both are pinned to the
release's own numbers), and the baseline that the throughput suite (``tools/perf.py``)
times it against.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.core.layouts import BODY_LEFT_WRIST, BODY_NOSE, BODY_RIGHT_WRIST
from methods.encoders.stgcn import PART_ORDER, PartChain, PartwiseSTGCN, STGCNBlock


def block_forward(block: STGCNBlock, x: torch.Tensor, mask: torch.Tensor | None
                  ) -> torch.Tensor:
    """One block over x (N, C, T, V); mask (N, 1, T, 1) zeroes padded frames before the
    temporal convolution (the harness's ``padding='zero'``), None leaves them (the release)."""
    n, _, t, v = x.shape
    res = block.residual(x)
    y = block.gcn(x).view(n, block.k, block.c_out, t, v)
    y = torch.einsum("nkctv,kvw->nctw", y, block.adjacency).contiguous()
    y = F.relu(block.bn1(y), inplace=True)
    if block.temporal:
        if mask is not None:
            y = y * mask
        # torch's own dropout, as the release has it (the fast encoder's ``Dropout`` draws
        # its mask more cheaply from the same generator: another mask, the same distribution)
        y = F.dropout(block.bn2(block.tconv(y)), block.drop.p, block.training, inplace=True)
    return F.relu(y + res, inplace=True)


def chain_forward(chain: PartChain, x: torch.Tensor, mask: torch.Tensor | None,
                  blocks: str) -> torch.Tensor:
    """The embedding and spatial blocks (``blocks='spatial'``, x (N, T, V, 3)) or the temporal
    blocks (``'temporal'``, x (N, C, T, V)) of one part's chain; answers (N, C, T, V)."""
    if blocks == "spatial":
        x = chain.embed(x).permute(0, 3, 1, 2)
    for block in getattr(chain, blocks):
        x = block_forward(block, x, mask)
    return x


class ReferencePartwiseSTGCN(PartwiseSTGCN):
    """``PartwiseSTGCN`` computed in the straightforward (N, C, T, V) formulation."""

    def forward(self, keypoints: torch.Tensor, confidence: torch.Tensor, valid: torch.Tensor,
                frame_mask: torch.Tensor, affine: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, V, C) inputs over ``input_joints`` -> features (B, T, d_model)."""
        x = self.normalized(keypoints, confidence, valid, frame_mask, affine)
        mask = None
        if self.padding == "zero":
            mask = frame_mask[:, None, :, None].to(keypoints.dtype)
        wrists = {"left_hand": BODY_LEFT_WRIST, "right_hand": BODY_RIGHT_WRIST}
        body = chain_forward(self.body, x["body"], mask, "spatial")
        pooled = {}

        def part(chain: PartChain, feats: torch.Tensor, joint: torch.Tensor | None,
                 m: torch.Tensor | None) -> torch.Tensor:
            feat = chain_forward(chain, feats, m, "spatial")
            if joint is not None:
                feat = feat + joint.detach()
            return chain_forward(chain, feat, m, "temporal").mean(-1).transpose(1, 2)

        pooled["body"] = chain_forward(self.body, body, mask, "temporal").mean(-1).transpose(1, 2)
        if self.hands == "separate":
            for name, j in wrists.items():
                pooled[name] = part(self.hand, x[name], body[..., j][..., None], mask)
        else:
            two = None if mask is None else torch.cat([mask, mask])
            both = part(self.hand, torch.cat([x[n] for n in wrists]),
                        torch.cat([body[..., j][..., None] for j in wrists.values()]), two)
            pooled["left_hand"], pooled["right_hand"] = both.chunk(2)
        pooled["face"] = part(self.face, x["face"], body[..., BODY_NOSE][..., None], mask)
        return self.frame_features(torch.cat([pooled[n] for n in PART_ORDER], dim=-1),
                                   frame_mask)
