"""Motion-Preserving Masking (MPM) of keypoints: low-motion points are masked first."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def point_speeds(kp: torch.Tensor, good: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Speed of every point (B, T, V), the mean length of its displacements to the previous
    and the next frame where both ends are good, and whether it has any such displacement."""
    step = (kp[:, 1:] - kp[:, :-1]).norm(dim=-1)
    pair = (good[:, 1:] & good[:, :-1]).to(kp.dtype)
    total = F.pad(step * pair, (0, 0, 1, 0)) + F.pad(step * pair, (0, 0, 0, 1))
    count = F.pad(pair, (0, 0, 1, 0)) + F.pad(pair, (0, 0, 0, 1))
    return total / count.clamp_min(1), count > 0


def _relative(x: torch.Tensor, has: torch.Tensor) -> torch.Tensor:
    """x (B, N) divided by its per-clip mean over the entries in ``has`` (0 where it has none)."""
    mean = (x * has).sum(1, keepdim=True) / has.sum(1, keepdim=True).clamp_min(1)
    return torch.where(mean > 0, x / mean.clamp_min(1e-12), torch.zeros_like(x))


def motion(kp: torch.Tensor, good: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Relative motion of each joint (B, V) and each frame (B, T): the mean speed of its
    points, divided by the clip's mean over joints (frames), so 1 is the clip's average."""
    speed, has = point_speeds(kp, good)
    weight = has.to(kp.dtype)
    joint = (speed * weight).sum(1) / weight.sum(1).clamp_min(1)
    frame = (speed * weight).sum(2) / weight.sum(2).clamp_min(1)
    return _relative(joint, has.any(1)), _relative(frame, has.any(2))


def motion_preserving_mask(kp: torch.Tensor, good: torch.Tensor, eligible: torch.Tensor,
                           ratio: float, joint_protect: float, frame_protect: float
                           ) -> torch.Tensor:
    """(B, T, V) points to mask: round(ratio x eligible points) per clip, drawn without
    replacement with probability proportional to exp(-(joint_protect x joint motion +
    frame_protect x frame motion)), so high-motion joints and frames are spared (both 0:
    uniform random masking). Gumbel top-k; the noise comes from the global CPU generator."""
    b, t, v = eligible.shape
    joint, frame = motion(kp, good)
    log_w = -(joint_protect * joint[:, None, :] + frame_protect * frame[:, :, None])
    noise = -torch.log(-torch.log(torch.rand(b, t, v).clamp(1e-12, 1 - 1e-7))).to(kp.device)
    score = (log_w + noise).masked_fill(~eligible, float("-inf")).flatten(1)
    order = score.argsort(1, descending=True)
    rank = torch.empty_like(order).scatter_(1, order, torch.arange(t * v, device=kp.device)
                                            .expand(b, -1).contiguous())
    n = (ratio * eligible.flatten(1).sum(1)).round().long()
    return (rank < n[:, None]).view(b, t, v)
