"""Two spatio-temporally augmented views of a batch of pose clips, made in torch.

Every random number is drawn from torch's global CPU generator (then moved to the batch's
device), the generator whose state the trainer checkpoints, so a resumed pre-training draws
the same views as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import torch

from harness.core.tasks import Batch


@dataclass(frozen=True)
class ViewConfig:
    """Ranges of the view augmentations (``model.ccl.augment``); 0 switches one off."""

    scale: float = 0.2        # isotropic scale factor in [1 - s, 1 + s]
    rotate_deg: float = 15.0  # in-plane rotation in [-r, r] degrees
    shear: float = 0.2        # shear factors (x and y) in [-h, h]
    shift: float = 0.1        # translation by up to this much in normalised units ([-1, 1])
    crop_min: float = 0.7     # temporal crop keeps a fraction in [crop_min, 1] of the frames
    speed: float = 0.2        # the crop is resampled to (1 + [-v, v]) times its length
    jitter: float = 0.01      # per-point Gaussian noise, std as a fraction of the extent

    @classmethod
    def from_config(cls, section: dict[str, Any]) -> ViewConfig:
        """Build from the ``augment`` config section."""
        return cls(**{k: float(v) for k, v in section.items()})


def uniform(shape: tuple[int, ...], low: float, high: float, device: torch.device
            ) -> torch.Tensor:
    """U[low, high) from the global CPU generator, on ``device``."""
    return (low + (high - low) * torch.rand(shape)).to(device)


def good_points(batch: Batch, threshold: float) -> torch.Tensor:
    """(B, T, V) points that are valid, confident and in a real frame."""
    return batch.valid & (batch.confidence > threshold) & batch.frame_mask[..., None]


def clip_frame(kp: torch.Tensor, good: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-clip centre (B, 2) and extent (B,) of the good points (0 and 1 for a clip with none)."""
    big = torch.finfo(kp.dtype).max
    mask = good[..., None]
    lo = torch.where(mask, kp, big).amin(dim=(1, 2))
    hi = torch.where(mask, kp, -big).amax(dim=(1, 2))
    has = good.flatten(1).any(1)
    centre = torch.where(has[:, None], (lo + hi) / 2, torch.zeros_like(lo))
    extent = torch.where(has, (hi - lo).amax(1), torch.ones_like(lo[:, 0])).clamp_min(1e-6)
    return centre, extent


def temporal_indices(lengths: torch.Tensor, total: int, crop_min: float, speed: float
                     ) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame indices (B, T') of a random crop of each clip resampled to a random length,
    and the new lengths (B,); T' <= ``total``, positions past a clip's length repeat its
    last index (they are padding)."""
    device = lengths.device
    b = len(lengths)
    n = lengths.clamp_min(1).float()
    crop = torch.minimum((uniform((b,), crop_min, 1.0, device) * n).round().clamp_min(1), n)
    start = (uniform((b,), 0.0, 1.0, device) * (n - crop + 1)).floor()
    out = (crop * uniform((b,), 1.0 - speed, 1.0 + speed, device)).round().clamp(1, total)
    pos = torch.arange(int(out.max()), device=device, dtype=torch.float)
    step = (crop - 1) / (out - 1).clamp_min(1)
    idx = start[:, None] + (pos[None] * step[:, None]).round()
    idx = torch.minimum(idx, start[:, None] + crop[:, None] - 1)
    return idx.long(), out.long()


def affine_matrices(b: int, cfg: ViewConfig, device: torch.device) -> torch.Tensor:
    """(B, 2, 2) random rotation @ shear @ isotropic scale."""
    theta = uniform((b,), -cfg.rotate_deg, cfg.rotate_deg, device) * (math.pi / 180)
    cos, sin = theta.cos(), theta.sin()
    rot = torch.stack([torch.stack([cos, -sin], -1), torch.stack([sin, cos], -1)], -2)
    hx, hy = uniform((2, b), -cfg.shear, cfg.shear, device)
    ones = torch.ones_like(hx)
    shear = torch.stack([torch.stack([ones, hx], -1), torch.stack([hy, ones], -1)], -2)
    scale = uniform((b,), 1.0 - cfg.scale, 1.0 + cfg.scale, device)
    return rot @ shear * scale[:, None, None]


def compose(outer: torch.Tensor, inner: torch.Tensor | None) -> torch.Tensor:
    """The (B, 2, 3) transform ``outer`` after ``inner`` (None: the identity)."""
    if inner is None:
        return outer
    mat = outer[:, :, :2] @ inner[:, :, :2]
    shift = (outer[:, :, :2] @ inner[:, :, 2:]) + outer[:, :, 2:]
    return torch.cat([mat, shift], dim=-1)


def make_view(batch: Batch, cfg: ViewConfig, threshold: float) -> Batch:
    """A random view of every clip: temporal crop and resampling and joint jitter of the
    raw points, and a 2D affine transform (scale, rotation, shear, translation) of the
    encoder's normalised coordinates (``Batch.affine``, after the batch's own), where the
    encoder's per-clip normalisation does not undo it. Padded frames of the view are zero,
    invalid and outside ``frame_mask``."""
    kp, device = batch.keypoints[..., :2], batch.keypoints.device
    b, t, v, _ = kp.shape
    idx, lengths = temporal_indices(batch.frame_mask.sum(1), t, cfg.crop_min, cfg.speed)
    frame_mask = torch.arange(idx.shape[1], device=device)[None] < lengths[:, None]
    pick = idx[:, :, None]
    kp = kp.gather(1, pick[..., None].expand(-1, -1, v, 2))
    real = frame_mask[..., None]
    confidence = batch.confidence.gather(1, pick.expand(-1, -1, v)) * real
    valid = batch.valid.gather(1, pick.expand(-1, -1, v)) & real
    view = dataclasses.replace(batch, keypoints=kp, confidence=confidence, valid=valid,
                               frame_mask=frame_mask)
    if cfg.jitter:
        _, extent = clip_frame(kp, good_points(view, threshold))
        kp = kp + torch.randn(kp.shape).to(device) * (cfg.jitter * extent)[:, None, None, None]
    # normalised coordinates span [-1, 1] over the body box: the shift is in those units
    shift = uniform((b, 2), -cfg.shift, cfg.shift, device)
    transform = torch.cat([affine_matrices(b, cfg, device), shift[..., None]], dim=-1)
    view.affine = compose(transform, batch.affine)
    view.keypoints = kp * real[..., None]
    return view
