"""Part-wise ST-GCN sign encoder: the pose encoder of Uni-Sign's release, shared by every method.

The function is that of Uni-Sign's public release (github ZechengLi19/Uni-Sign, commit
2c9028f: ``models.py``, ``stgcn_layers/``, ``datasets.py``), and
``tests/test_encoder_golden.py`` shows it: the release's own code, run outside the project on
fixed inputs and weights, gave the numbers in ``tests/golden/unisign_encoder.npz``, and this
encoder, loading those weights through ``methods.encoders.release`` (the mapping users load
release checkpoints with), reproduces its normalised inputs, outputs, gradients and
batch-norm statistics to float32 rounding. What it computes, by default:

- Inputs: COCO-WholeBody-133 keypoints (x, y) with confidences, four parts (body 9 points,
  left and right hand 21 each, face 18; ``harness.core.layouts``). Normalisation (the release's
  ``load_part_kp``/``crop_scale``): the body box spans the body points with confidence
  above ``conf_threshold`` (0.3) over the whole clip; its larger side ``s`` maps the body to
  [-1, 1] about the box centre. Hands are taken relative to their own point 0 (the hand's
  wrist) and the face relative to the nose tip, divided by ``s``. Everything is clipped to
  [-1, 1], and points at or under the threshold get zero coordinates and confidence. A clip
  with fewer than 4 confident body points (over all frames), or a box of size 0, is zero.
  The third input channel is the raw confidence.
- Per part: Linear(3 -> ``embed`` 64); spatial blocks (temporal kernel 1) 64 -> 64 -> 128 ->
  256 (``spatial``); temporal blocks 256 x 3 (``temporal``, kernel ``kt`` 5). A block is the
  graph convolution (a 1x1 convolution to K x C channels summed over the K=2 distance
  partitions of a learnable adjacency, max hop 1, the release's edge lists), batch norm,
  ReLU; a temporal block then applies a (kt, 1) convolution, batch norm and dropout
  (``dropout``, 0 in the release), a spatial block nothing; then the residual (identity, or
  a 1x1 convolution and batch norm where the width changes) and a ReLU.
- Left and right hands share one chain, run once for each hand (so that in training each
  hand's batch norm sees its own statistics, as in the release). After the spatial blocks
  the hands add the detached body feature of their wrist, the face that of the nose.
- Joints are mean-pooled, the four parts concatenated (4 x 256) and a zero-initialised
  learned part embedding of the same width added; a Linear projects to ``d_model`` (768 in
  the release, the LM's width). Linear layers are initialised trunc-normal(0.02) with zero
  bias, as the release initialises them; convolutions and batch norm keep torch's defaults.
- Padding: the release pads a batch by repeating each clip's last frame and runs the
  encoder over the padded length (``padding='repeat'``).

What the harness adds, each a switch whose default is the release's function:

- ``padding='zero'``: padded frames are zero and masked before every temporal
  convolution, so that a clip's features do not depend on the clips it is batched with
  (with 'repeat', the last kt//2 x 3 frames see its batch's padded length, and evaluation
  numbers depend on the evaluation batch size, deterministically).
- ``context``: transformer layers over the projected frames (``layers=0``: none, as in the
  release, where mT5 gives the pose tokens their order).
- ``affine``: a per-clip 2D transform (B, 2, 3) applied in the normalised space before the
  clipping (rotation and scale to every part, the translation to the body, whose
  coordinates are absolute), which is where the data path's spatial augmentations act:
  applied to raw coordinates, a scale or a shift would be undone by the box normalisation.
- ``hands='joint'``: both hands go through their shared chain in one pass, so that batch
  norm normalises them with one set of statistics. With the release's 'separate', training
  normalises each hand by its own batch statistics while evaluation uses running statistics
  that mix the two hands; where the hands differ (SynthSign's left and right hands sit on
  opposite sides of their wrists) the evaluated network is not the trained one.
- ``init='torch'``: torch's default initialisation of the Linear layers instead of the
  release's trunc-normal(0.02).
- ``part_scale``: hands and face divided by ``part_scale`` times the body size (1, the
  release: they span about a fifth of [-1, 1]).
- Outputs at padded frames are zeroed (the release leaves them to the LM's attention mask).

The shared ``paper`` preset keeps the release's value of every switch. The shared ``smoke``
preset sets ``hands='joint'``, ``init='torch'`` and ``part_scale=0.2``: at its size and budget
the release's values learn SynthSign at about half the rate (measured in
``docs/measurements/2026-12-07-smoke-encoder-synth-islr.md``).

``methods.encoders.reference`` keeps the straightforward (N, C, T, V) formulation, written as
the release writes it; this module computes the same function on channels-last (N, T, V, C)
tensors, arranged for large contiguous matrix products. Tests pin both to the release.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.core.config import Rule, choice, number
from harness.core.layouts import BODY_LEFT_WRIST, BODY_NOSE, BODY_RIGHT_WRIST, Layout, get_layout
from methods.common.dropout import Dropout

if TYPE_CHECKING:
    from harness.core.tasks import Batch

PART_ORDER = ("body", "left_hand", "right_hand", "face")
PADDING = ("repeat", "zero")
HANDS = ("separate", "joint")
INIT = ("release", "torch")
#: The release zeroes a clip with fewer confident body points than this (over all frames).
MIN_BODY_POINTS = 4


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
    """The release's ST-GCN block: graph convolution (learnable adjacency), batch norm, ReLU,
    then for a temporal block (``kt`` > 1) a (kt, 1) convolution, batch norm and dropout;
    the residual, a ReLU. A spatial block (``kt`` = 1) has no temporal layers at all.

    The parameters are those of the block written over (N, C, T, V) tensors;
    ``forward`` computes the same function on channels-last (N, T, V, C) tensors:

    - the 1x1 convolutions are one (N*T*V, C_in) x (C_in, C_out) product each;
    - the adjacency sum over partitions and joints is one batched product of the
      (W, V*K) matrix, broadcast, with the (V*K, C) features of each frame, read in place;
    - the (kt, 1) temporal convolution runs on the (N, C, T, V) view of the channels-last
      memory, which the convolution kernels read in place;
    - batch norm normalises the (N*T*V, C) matrix per column.
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
        if self.temporal:
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
        # (N, C, T, V) view of channels-last memory: the convolution kernels take it as it
        # is (no copy) and answer in the same layout, so the result is (N, T, V, C) again
        # (measured at the paper shapes: 2.3x faster than a product with the unfolded
        # (N*T*V, C*kt) window matrix, which costs kt copies of the features)
        out = F.conv2d(y.permute(0, 3, 1, 2), self.tconv.weight, self.tconv.bias,
                       padding=self.tconv.padding)
        return out.permute(0, 2, 3, 1).contiguous()

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """x: (N, T, V, C) channels-last; mask: (N, T, 1, 1) of real frames, or None where
        padded frames are part of the input (the release's repeated last frame).

        With a mask, features of padded frames are not zeroed here (blocks with temporal
        kernel 1 treat frames independently); the temporal convolution reads them as zeros,
        and the encoder masks its output, so a clip's features do not depend on its padding.
        """
        res = self.residual_features(x)
        y = torch.relu(batch_norm_last(self.bn1, self.graph(x)))
        if self.temporal:
            if mask is not None:  # padded frames must read as zeros to the temporal conv
                y = y * mask.to(y.dtype)
            y = self.drop(batch_norm_last(self.bn2, self.temporal_conv(y)))
        return torch.relu(y + res)


def init_linear(layer: nn.Linear, init: str) -> nn.Linear:
    """``layer`` initialised as ``init`` says: 'release', trunc-normal(0.02) weights and zero
    bias (how the release initialises its Linear layers); 'torch', torch's default."""
    if init == "release":
        nn.init.trunc_normal_(layer.weight, std=0.02)
        nn.init.zeros_(layer.bias)
    return layer


class PartChain(nn.Module):
    """Joint embedding, spatial blocks and temporal blocks for one part type."""

    def __init__(self, adjacency: np.ndarray, embed: int, spatial: Sequence[int],
                 temporal: Sequence[int], kt: int, dropout: float, init: str = "release"
                 ) -> None:
        super().__init__()
        self.embed = init_linear(nn.Linear(3, embed), init)
        chans = [embed, *spatial]
        self.spatial = nn.ModuleList(STGCNBlock(a, b, adjacency, 1, dropout)
                                     for a, b in itertools.pairwise(chans))
        chans = [chans[-1], *temporal]
        self.temporal = nn.ModuleList(STGCNBlock(a, b, adjacency, kt, dropout)
                                      for a, b in itertools.pairwise(chans))

    def spatial_features(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """(N, T, V, 3) -> (N, T, V, C) after the embedding and the spatial blocks."""
        x = self.embed(x)
        for block in self.spatial:
            x = block(x, mask)
        return x

    def temporal_features(self, x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        """(N, T, V, C) -> (N, T, V, C') after the temporal blocks."""
        for block in self.temporal:
            x = block(x, mask)
        return x


def part_features(kp: torch.Tensor, conf: torch.Tensor, valid: torch.Tensor,
                  frame_mask: torch.Tensor, slices: dict[str, slice], anchors: dict[str, int],
                  threshold: float, affine: torch.Tensor | None = None,
                  part_scale: float = 1.0) -> dict[str, torch.Tensor]:
    """Per-part features (B, T, V_p, 3) of (x, y, confidence), normalised as the release
    normalises them (see the module docstring); ``affine`` (B, 2, 3) transforms the
    normalised coordinates before they are clipped. Padded frames are zero."""
    good = valid & (conf > threshold) & frame_mask[:, :, None]
    xy = kp[..., :2]
    body = slices["body"]
    b_xy, b_good = xy[:, :, body], good[:, :, body]
    big = torch.finfo(xy.dtype).max
    lo = torch.where(b_good[..., None], b_xy, big).amin(dim=(1, 2))
    hi = torch.where(b_good[..., None], b_xy, -big).amax(dim=(1, 2))
    size = (hi - lo).amax(dim=1)
    usable = (b_good.flatten(1).sum(1) >= MIN_BODY_POINTS) & (size > 0)
    center = torch.where(usable[:, None], (lo + hi) / 2, torch.zeros_like(lo))[:, None, None]
    size = torch.where(usable, size, torch.ones_like(size))[:, None, None, None]
    out = {}
    for name, sl in slices.items():
        p_xy = xy[:, :, sl]
        if name == "body":
            norm = (p_xy - center) / (size / 2)
        else:
            anchor = anchors[name]
            norm = (p_xy - p_xy[:, :, anchor:anchor + 1]) / (size * part_scale)
        if affine is not None:
            norm = torch.einsum("btvj,bij->btvi", norm, affine[:, :, :2].to(norm.dtype))
            if name == "body":
                norm = norm + affine[:, None, None, :, 2].to(norm.dtype)
        norm = norm.clamp(-1.0, 1.0)
        keep = good[:, :, sl] & usable[:, None, None]
        out[name] = torch.cat([norm, conf[:, :, sl, None]], dim=-1) * keep[..., None]
    return out


def repeat_last_frame(x: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
    """(B, T, ...) with each clip's padded frames replaced by its last real frame (the
    release's padding); ``frame_mask`` marks a prefix of real frames."""
    t = x.shape[1]
    last = (frame_mask.sum(1) - 1).clamp_min(0)
    idx = torch.minimum(torch.arange(t, device=x.device)[None], last[:, None])
    idx = idx.view(*idx.shape, *([1] * (x.ndim - 2))).expand_as(x)
    return x.gather(1, idx)


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
    #: What ``model.encoder`` values must be, checked before a cell runs.
    RULES: ClassVar[dict[str, Rule]] = {"padding": choice(*PADDING), "hands": choice(*HANDS),
                                        "init": choice(*INIT),
                                        "part_scale": number(0, low_open=True)}

    def __init__(self, layout: str = "coco_wholebody_133", embed: int = 64,
                 spatial: Sequence[int] = (64, 128, 256), temporal: Sequence[int] = (256, 256, 256),
                 kt: int = 5, d_model: int = 768, dropout: float = 0.0,
                 conf_threshold: float = 0.3, max_hop: int = 1, padding: str = "repeat",
                 context: dict[str, Any] | None = None, hands: str = "separate",
                 init: str = "release", part_scale: float = 1.0) -> None:
        super().__init__()
        for key, value, allowed in (("padding", padding, PADDING), ("hands", hands, HANDS),
                                    ("init", init, INIT)):
            if value not in allowed:
                raise ValueError(f"model.encoder.{key}={value!r}: one of {allowed}")
        if not part_scale > 0:
            raise ValueError(f"model.encoder.part_scale={part_scale!r}: a positive number")
        lay: Layout = get_layout(layout)
        parts = [lay.parts[name] for name in PART_ORDER]
        self.input_joints: tuple[int, ...] = tuple(j for p in parts for j in p.joints)
        self.slices: dict[str, slice] = {}
        start = 0
        for p in parts:
            self.slices[p.name] = slice(start, start + p.size)
            start += p.size
        self.anchors = {p.name: p.anchor for p in parts if p.anchor is not None}
        self.conf_threshold, self.padding = conf_threshold, padding
        self.hands, self.part_scale = hands, float(part_scale)
        adj = {p.name: hop_adjacency(p.size, p.edges, max_hop) for p in parts}
        chain = dict(embed=embed, spatial=spatial, temporal=temporal, kt=kt, dropout=dropout,
                     init=init)
        self.body = PartChain(adj["body"], **chain)
        self.hand = PartChain(adj["left_hand"], **chain)  # shared by both hands
        self.face = PartChain(adj["face"], **chain)
        width = temporal[-1] if temporal else spatial[-1]
        self.part_embedding = nn.Parameter(torch.zeros(len(PART_ORDER) * width))
        self.proj = init_linear(nn.Linear(len(PART_ORDER) * width, d_model), init)
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

    def normalized(self, keypoints: torch.Tensor, confidence: torch.Tensor, valid: torch.Tensor,
                   frame_mask: torch.Tensor, affine: torch.Tensor | None = None
                   ) -> dict[str, torch.Tensor]:
        """What the part chains read: per-part (B, T, V_p, 3), padded as ``padding`` says."""
        x = part_features(keypoints, confidence, valid, frame_mask, self.slices, self.anchors,
                          self.conf_threshold, affine, self.part_scale)
        if self.padding == "repeat":
            x = {name: repeat_last_frame(feats, frame_mask) for name, feats in x.items()}
        return x

    def encode(self, batch: Batch) -> torch.Tensor:
        """Frame features (B, T, d_model) of a batch (with its augmentation, if any)."""
        return self(batch.keypoints, batch.confidence, batch.valid, batch.frame_mask,
                    batch.affine)

    def forward(self, keypoints: torch.Tensor, confidence: torch.Tensor, valid: torch.Tensor,
                frame_mask: torch.Tensor, affine: torch.Tensor | None = None) -> torch.Tensor:
        """(B, T, V, C) inputs over ``input_joints`` -> features (B, T, d_model)."""
        x = self.normalized(keypoints, confidence, valid, frame_mask, affine)
        mask = None
        if self.padding == "zero":
            mask = frame_mask[:, :, None, None].to(keypoints.dtype)
        body = self.body.spatial_features(x["body"], mask)
        pooled = {"body": self.body.temporal_features(body, mask).mean(2)}
        wrists = {"left_hand": BODY_LEFT_WRIST, "right_hand": BODY_RIGHT_WRIST}
        if self.hands == "separate":
            # the hands share one chain but run through it one after the other, as in the
            # release: in training each is normalised by its own batch statistics
            for name, joint in wrists.items():
                feats = self.hand.spatial_features(x[name], mask)
                feats = feats + body[:, :, joint, None].detach()
                pooled[name] = self.hand.temporal_features(feats, mask).mean(2)
        else:  # one pass over both hands: one set of batch statistics for the two
            two = None if mask is None else torch.cat([mask, mask])
            feats = self.hand.spatial_features(torch.cat([x[n] for n in wrists]), two)
            feats = feats + torch.cat([body[:, :, j, None] for j in wrists.values()]).detach()
            pooled["left_hand"], pooled["right_hand"] = (
                self.hand.temporal_features(feats, two).mean(2).chunk(2))
        face = self.face.spatial_features(x["face"], mask) + body[:, :, BODY_NOSE, None].detach()
        pooled["face"] = self.face.temporal_features(face, mask).mean(2)
        return self.frame_features(torch.cat([pooled[n] for n in PART_ORDER], dim=-1),
                                   frame_mask)

    def frame_features(self, feats: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        """Concatenated part features (B, T, 4C) -> masked frame features (B, T, d_model)."""
        out = self.proj(feats + self.part_embedding)
        if self.context is not None:
            out = self.context(self.position(out), src_key_padding_mask=~frame_mask)
        return out * frame_mask[..., None].to(out.dtype)
