"""Frame and joint masking of pose clips for masked pose modelling."""

from __future__ import annotations

from dataclasses import dataclass

import torch


def random_subset(eligible: torch.Tensor, ratio: float, noise: torch.Tensor) -> torch.Tensor:
    """(B, N) bool: round(ratio x the row's eligible count) of each row's eligible entries,
    those with the smallest ``noise`` (uniform in [0, 1), same shape)."""
    score = noise.masked_fill(~eligible, 2.0)
    rank = score.argsort(dim=1).argsort(dim=1)
    count = (ratio * eligible.sum(1)).round()
    return rank < count[:, None]


@dataclass
class PoseMask:
    """What masked pose modelling hides from the encoder in one batch."""

    #: (B, T) real frames masked as a whole.
    frames: torch.Tensor
    #: (B, T, V) points hidden from the encoder: every point of a masked frame and the
    #: joint-masked points of the other frames.
    points: torch.Tensor


def draw_mask(good: torch.Tensor, frame_mask: torch.Tensor, slices: dict[str, slice],
              protected: torch.Tensor, frame_ratio: float, joint_ratio: float,
              generator: torch.Generator) -> PoseMask:
    """Mask round(frame_ratio x real frames) whole frames of each clip, then, in each part
    (``slices``) of each clip, round(joint_ratio x good points of the unmasked frames) points,
    never the ``protected`` (V,) joints. good: (B, T, V) points the encoder sees.

    The noise is drawn frame-major from ``generator`` (on the CPU), so the masks of a clip's
    real frames do not depend on how far the batch is padded.
    """
    b, t, v = good.shape
    noise = torch.rand(t, b, v + 1, generator=generator).to(good.device).transpose(0, 1)
    frames = random_subset(frame_mask, frame_ratio, noise[..., v])
    eligible = good & ~frames[..., None] & ~protected
    joints = torch.zeros_like(good)
    for sl in slices.values():
        part = eligible[:, :, sl]
        pick = random_subset(part.flatten(1), joint_ratio, noise[:, :, sl].flatten(1))
        joints[:, :, sl] = pick.view_as(part)
    return PoseMask(frames, frames[..., None] | joints)
