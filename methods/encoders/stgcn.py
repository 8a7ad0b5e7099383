"""Part-wise ST-GCN sign encoder (the Uni-Sign pose encoder, shared by the methods).

Four parts of COCO-WholeBody-133 (body 9, left hand 21, right hand 21, face 18 points) are
normalised (see ``normalize_parts``) and encoded by one ST-GCN chain per part type: a
Linear(3 -> C0) joint embedding, spatial blocks (temporal kernel 1) C0 -> ... -> C, then
temporal blocks of C channels (temporal kernel 5). Left and right hands share one chain.
After the spatial blocks the hands add the detached body feature of their wrist and the
face adds the detached body feature of the nose. Joints are mean-pooled, a learned part
embedding is added, the four parts are concatenated (4C) and projected to ``d_model``;
optional transformer layers add temporal context.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.layouts import BODY_LEFT_WRIST, BODY_NOSE, BODY_RIGHT_WRIST, Layout, get_layout
from methods.common.dropout import Dropout

PART_ORDER = ("body", "left_hand", "right_hand", "face")


def hop_adjacency(num_nodes: int, edges: Sequence[tuple[int, int]], max_hop: int = 1
                  ) -> np.ndarray:
    """Distance-partitioned adjacency (max_hop + 1, V, V), column-normalised as in ST-GCN."""
    adj = np.eye(num_nodes)
    for i, j in edges:
        adj[i, j] = adj[j, i] = 1
    reach = [np.linalg.matrix_power(adj, d) > 0 for d in range(max_hop + 1)]
    hop = np.full((num_nodes, num_nodes), np.inf)
    for d in range(max_hop, -1, -1):
        hop[reach[d]] = d
    within = (hop <= max_hop).astype(np.float64)
    normalized = within / within.sum(axis=0, keepdims=True)
    out = np.zeros((max_hop + 1, num_nodes, num_nodes))
    for d in range(max_hop + 1):
        out[d][hop == d] = normalized[hop == d]
    return out.astype(np.float32)


def batch_norm_last(bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """``bn`` over the last dimension of a channels-last tensor (..., C).

    The statistics are those of ``bn`` on the (N, C, T, V) view of the same values (mean and
    variance per channel over every other position); running statistics and the batch
    counter move exactly as the module's own forward moves them.
    """
    if bn.training and bn.track_running_stats:
        bn.num_batches_tracked.add_(1)
    batch_stats = bn.training or not bn.track_running_stats
    momentum = 0.0 if bn.momentum is None else bn.momentum
    flat = x.reshape(-1, x.shape[-1])
    # the (M, C) kernel takes the variance in one pass, which loses fp32 digits where a
    # channel's mean is large against its spread: the data are shifted by their mean first.
    # Not in bf16/fp16: the kernel accumulates in fp32, its error there equals the
    # (N, C, T, V) kernel's (both set by the inputs' own rounding), and the shift would cost
    # three passes over the features (an fp32 copy for the mean, the difference, its grad)
    if batch_stats and x.element_size() >= 4:
        shift = flat.detach().mean(0)
        running = None if bn.running_mean is None else bn.running_mean - shift
        out = F.batch_norm(flat - shift, running, bn.running_var, bn.weight,
                           bn.bias, True, momentum, bn.eps)
        if running is not None:
            bn.running_mean.copy_(running + shift)
    else:
        out = F.batch_norm(flat, bn.running_mean, bn.running_var, bn.weight, bn.bias,
                           batch_stats, momentum, bn.eps)
    return out.view(x.shape)


def linear_last(conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """A 1x1 ``conv`` applied to channels-last (..., C_in) as one matrix product."""
    return F.linear(x, conv.weight.view(conv.out_channels, -1), conv.bias)


class STGCNBlock(nn.Module):
    """Graph convolution over joints (learnable adjacency) then a temporal convolution.

    The parameters are those of the ST-GCN block as the field writes it over (N, C, T, V):
    a 1x1 convolution to K x C channels, the adjacency product summed over the K hop
    partitions, batch norm, ReLU, a (kt, 1) temporal convolution, batch norm, and a residual.
    ``forward`` computes the same function on channels-last (N, T, V, C) tensors, arranged
    for large contiguous matrix products:

    - the 1x1 convolutions are one (N*T*V, C_in) x (C_in, C_out) product each;
    - the adjacency sum over partitions and joints is one batched product of the
      (W, V*K) matrix, broadcast, with the (V*K, C) features of each frame, read in place;
    - the (kt, 1) temporal convolution runs on the (N, C, T, V) view of the channels-last
      memory, which the convolution kernels read in place;
    - batch norm normalises the (N*T*V, C) matrix per column.

    ``methods.encoders.reference`` keeps the straightforward (N, C, T, V) formulation; a test
    pins the two to fp32 rounding on the same parameters.
    """

    def __init__(self, c_in: int, c_out: int, adjacency: np.ndarray, kt: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        k = adjacency.shape[0]
        self.k, self.c_out, self.kt = k, c_out, kt
        self.adjacency = nn.Parameter(torch.from_numpy(adjacency).clone())
        self.gcn = nn.Conv2d(c_in, c_out * k, 1)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.temporal = kt > 1
        self.tconv = nn.Conv2d(c_out, c_out, (kt, 1), padding=((kt - 1) // 2, 0))
        self.bn2 = nn.BatchNorm2d(c_out)
        self.drop = Dropout(dropout)
        self.residual: nn.Module = (nn.Identity() if c_in == c_out else
                                    nn.Sequential(nn.Conv2d(c_in, c_out, 1), nn.BatchNorm2d(c_out)))

    def residual_features(self, x: torch.Tensor) -> torch.Tensor:
        """The residual branch of channels-last x."""
        if isinstance(self.residual, nn.Identity):
            return x
        conv, bn = self.residual
        return batch_norm_last(bn, linear_last(conv, x))

    def graph(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, V, C_in) -> (N, T, W, C_out): sum over k, v of A[k, v, w] (W_k x)[v]."""
        n, t, v, _ = x.shape
        y = linear_last(self.gcn, x)  # (N, T, V, K*C): for each joint, K blocks of C
        # a[w, v*K + k] = A[k, v, w] matches y's (V, K) order, so no copy of y is made
        a = self.adjacency.permute(2, 1, 0).reshape(v, v * self.k).to(y.dtype)
        # one batched product over frames with the adjacency broadcast (stride 0, not
        # copied): 1.8x faster forward + backward than matmul's 2-D @ 3-D, which transposes
        frames = y.view(n * t, v * self.k, self.c_out)
        return torch.bmm(a.expand(n * t, v, v * self.k), frames).view(n, t, v, self.c_out)

    def temporal_conv(self, y: torch.Tensor) -> torch.Tensor:
        """The (kt, 1) convolution over frames of channels-last y, zero-padded."""
        if not self.temporal:
            return linear_last(self.tconv, y)
        # (N, C, T, V) view of channels-last memory: the convolution kernels take it as it
        # is (no copy) and answer in the same layout, so the result is (N, T, V, C) again
        # (measured at the paper shapes: 2.3x faster than a product with the unfolded
        # (N*T*V, C*kt) window matrix, which costs kt copies of the features)
        out = F.conv2d(y.permute(0, 3, 1, 2), self.tconv.weight, self.tconv.bias,
                       padding=self.tconv.padding)
        return out.permute(0, 2, 3, 1).contiguous()

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: (N, T, V, C) channels-last; mask: (N, T, 1, 1) of real frames.

        Features of padded frames are not zeroed here (blocks with temporal kernel 1 treat
        frames independently); the temporal convolution reads them as zeros, and the encoder
        masks its output, so a clip's features do not depend on how it was padded.
        """
        res = self.residual_features(x)
        y = torch.relu(batch_norm_last(self.bn1, self.graph(x)))
        if self.temporal:  # padded frames must read as zeros to the temporal conv
            y = y * mask.to(y.dtype)
        y = self.drop(batch_norm_last(self.bn2, self.temporal_conv(y)))
        return torch.relu(y + res)


class PartChain(nn.Module):
    """Joint embedding, spatial blocks and temporal blocks for one part type."""

    def __init__(self, adjacency: np.ndarray, embed: int, spatial: Sequence[int],
                 temporal: Sequence[int], kt: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Conv2d(3, embed, 1)
        chans = [embed, *spatial]
        self.spatial = nn.ModuleList(STGCNBlock(a, b, adjacency, 1, dropout)
                                     for a, b in itertools.pairwise(chans))
        chans = [chans[-1], *temporal]
        self.temporal = nn.ModuleList(STGCNBlock(a, b, adjacency, kt, dropout)
                                      for a, b in itertools.pairwise(chans))

    def spatial_features(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(N, T, V, 3) -> (N, T, V, C) after the embedding and the spatial blocks."""
        x = linear_last(self.embed, x)
        for block in self.spatial:
            x = block(x, mask)
        return x

    def temporal_features(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """(N, T, V, C) -> (N, T, V, C') after the temporal blocks."""
        for block in self.temporal:
            x = block(x, mask)
        return x


def normalize_parts(kp: torch.Tensor, conf: torch.Tensor, valid: torch.Tensor,
                    frame_mask: torch.Tensor, slices: dict[str, slice], anchors: dict[str, int],
                    threshold: float, rel_scale: float) -> dict[str, torch.Tensor]:
    """Per-part features (B, 3, T, V_p): ``part_features`` in the (N, C, T, V) order."""
    return {name: feats.permute(0, 3, 1, 2).contiguous() for name, feats in
            part_features(kp, conf, valid, frame_mask, slices, anchors, threshold,
                          rel_scale).items()}


def part_features(kp: torch.Tensor, conf: torch.Tensor, valid: torch.Tensor,
                  frame_mask: torch.Tensor, slices: dict[str, slice], anchors: dict[str, int],
                  threshold: float, rel_scale: float) -> dict[str, torch.Tensor]:
    """Per-part features (B, T, V_p, 3) of (x, y, confidence), normalised and masked.

    The body box spans the body points with confidence above ``threshold`` over the whole
    clip and is mapped to [-1, 1]. Hands are taken relative to their own wrist point and
    the face relative to its nose tip, divided by ``rel_scale`` times the body box size,
    and clipped to [-1, 1]. Points at or under the threshold (and hand or face points whose
    anchor is missing) get zero coordinates and zero confidence.
    """
    good = valid & (conf > threshold) & frame_mask[:, :, None]
    xy = kp[..., :2]
    body = slices["body"]
    b_xy, b_good = xy[:, :, body], good[:, :, body]
    big = torch.finfo(xy.dtype).max
    lo = torch.where(b_good[..., None], b_xy, big).amin(dim=(1, 2))
    hi = torch.where(b_good[..., None], b_xy, -big).amax(dim=(1, 2))
    has_body = b_good.flatten(1).any(dim=1)
    center = torch.where(has_body[:, None], (lo + hi) / 2, torch.zeros_like(lo))
    size = torch.where(has_body, (hi - lo).amax(dim=1), torch.ones_like(lo[:, 0]))
    size = size.clamp_min(1e-6)[:, None, None, None]
    center = center[:, None, None, :]
    out = {}
    for name, sl in slices.items():
        p_xy, p_good = xy[:, :, sl], good[:, :, sl]
        if name == "body":
            norm = (p_xy - center) / (size / 2)
        else:
            anchor = anchors[name]
            norm = (p_xy - p_xy[:, :, anchor:anchor + 1]) / (size * rel_scale)
            p_good = p_good & p_good[:, :, anchor:anchor + 1]
        norm = norm.clamp(-1.0, 1.0)
        out[name] = torch.cat([norm, conf[:, :, sl, None]], dim=-1) * p_good[..., None]
    return out


class PositionalEncoding(nn.Module):
    """Fixed sinusoidal positions added to (B, T, D) features."""

    def __init__(self, d_model: int, max_len: int = 4096) -> None:
        super().__init__()
        pos = torch.arange(max_len)[:, None]
        div = torch.exp(torch.arange(0, d_model, 2) * (-math.log(10000.0) / d_model))
        pe = torch.zeros(max_len, d_model)
        pe[:, 0::2] = torch.sin(pos * div)
        pe[:, 1::2] = torch.cos(pos * div)[:, : d_model // 2]
        self.register_buffer("pe", pe, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add positions to x."""
        return x + self.pe[: x.shape[1]]


class PartwiseSTGCN(nn.Module):
    """Part-wise ST-GCN sign encoder: pose clips -> frame features (B, T, d_model)."""

    #: The runner compiles modules that say so when a config sets ``compile=true``.
    compile_unit = True

    def __init__(self, layout: str = "coco_wholebody_133", embed: int = 64,
                 spatial: Sequence[int] = (128, 256), temporal: Sequence[int] = (256, 256, 256),
                 kt: int = 5, d_model: int = 256, dropout: float = 0.0,
                 conf_threshold: float = 0.3, rel_scale: float = 0.2, max_hop: int = 1,
                 context: dict[str, Any] | None = None) -> None:
        super().__init__()
        lay: Layout = get_layout(layout)
        parts = [lay.parts[name] for name in PART_ORDER]
        self.input_joints: tuple[int, ...] = tuple(j for p in parts for j in p.joints)
        self.slices: dict[str, slice] = {}
        start = 0
        for p in parts:
            self.slices[p.name] = slice(start, start + p.size)
            start += p.size
        self.anchors = {p.name: p.anchor for p in parts if p.anchor is not None}
        self.conf_threshold, self.rel_scale = conf_threshold, rel_scale
        adj = {p.name: hop_adjacency(p.size, p.edges, max_hop) for p in parts}
        chain = dict(embed=embed, spatial=spatial, temporal=temporal, kt=kt, dropout=dropout)
        self.body = PartChain(adj["body"], **chain)
        self.hand = PartChain(adj["left_hand"], **chain)  # shared by both hands
        self.face = PartChain(adj["face"], **chain)
        width = temporal[-1] if temporal else spatial[-1]
        self.part_embedding = nn.Parameter(torch.zeros(len(PART_ORDER), width))
        nn.init.normal_(self.part_embedding, std=0.02)
        self.proj = nn.Linear(len(PART_ORDER) * width, d_model)
        self.d_model = d_model
        ctx = dict(context or {})
        layers = int(ctx.get("layers", 0))
        self.context: nn.Module | None = None
        if layers:
            self.position = PositionalEncoding(d_model)
            layer = nn.TransformerEncoderLayer(
                d_model, int(ctx.get("heads", 4)), int(ctx.get("ff", 4 * d_model)),
                float(ctx.get("dropout", 0.1)), batch_first=True, norm_first=True)
            self.context = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, keypoints: torch.Tensor, confidence: torch.Tensor, valid: torch.Tensor,
                frame_mask: torch.Tensor) -> torch.Tensor:
        """(B, T, V, C) inputs over ``input_joints`` -> features (B, T, d_model)."""
        x = part_features(keypoints, confidence, valid, frame_mask, self.slices, self.anchors,
                          self.conf_threshold, self.rel_scale)
        b = keypoints.shape[0]
        mask = frame_mask[:, :, None, None].to(keypoints.dtype)
        both = mask.repeat(2, 1, 1, 1)
        body = self.body.spatial_features(x["body"], mask)
        hands = self.hand.spatial_features(torch.cat([x["left_hand"], x["right_hand"]]), both)
        face = self.face.spatial_features(x["face"], mask)
        wrists = torch.cat([body[:, :, BODY_LEFT_WRIST], body[:, :, BODY_RIGHT_WRIST]]).detach()
        hands = hands + wrists[:, :, None]
        face = face + body[:, :, BODY_NOSE, None].detach()
        body = self.body.temporal_features(body, mask)
        hands = self.hand.temporal_features(hands, both)
        face = self.face.temporal_features(face, mask)
        pooled = [body.mean(2), hands[:b].mean(2), hands[b:].mean(2), face.mean(2)]
        feats = torch.cat([p + self.part_embedding[i] for i, p in enumerate(pooled)], dim=-1)
        return self.frame_features(feats, frame_mask)

    def frame_features(self, feats: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """Concatenated part features (B, T, 4C) -> masked frame features (B, T, d_model)."""
        out = self.proj(feats)
        if self.context is not None:
            out = self.context(self.position(out), src_key_padding_mask=~frame_mask)
        return out * frame_mask[..., None].to(out.dtype)
