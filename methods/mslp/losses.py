"""MSLP's objectives: confidence-weighted reconstruction of masked points and the
fine-grained (frame/token) sign-text similarity. Functions of tensors; masks are explicit."""

from __future__ import annotations

import torch

DISTANCES = ("l1", "l2")


def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor,
                        mask: torch.Tensor, distance: str) -> torch.Tensor:
    """Weighted mean distance over the points in ``mask``: sum(w d) / sum(w), 0 with none.

    pred, target: (..., 2) coordinates; weight, mask: (...). ``distance`` 'l1' is the mean
    absolute and 'l2' the mean squared coordinate error of a point.
    """
    diff = pred - target
    if distance == "l1":
        per_point = diff.abs().mean(-1)
    elif distance == "l2":
        per_point = diff.pow(2).mean(-1)
    else:
        raise ValueError(f"unknown reconstruction distance {distance!r}; one of {DISTANCES}")
    w = weight * mask.to(weight.dtype)
    return (w * per_point).sum() / w.sum().clamp_min(1e-6)


def fine_similarity(frames: torch.Tensor, frame_mask: torch.Tensor, tokens: torch.Tensor,
                    token_mask: torch.Tensor) -> torch.Tensor:
    """(B_sign, B_text) late-interaction similarity of every clip with every text.

    With unit-normalised frames (B_s, T, D) and tokens (B_t, L, D): sign-to-text averages,
    over a clip's real frames, each frame's best-matching token; text-to-sign averages, over
    a text's tokens, each token's best-matching frame; the score is the mean of the two.
    Padded frames and masked tokens never match or count.
    """
    sim = torch.einsum("itd,jld->ijtl", frames, tokens)               # (Bs, Bt, T, L)
    f_mask = frame_mask.to(sim.dtype)
    t_mask = token_mask.to(sim.dtype)
    s2t = sim.masked_fill(~token_mask[None, :, None, :], -2.0).amax(3)    # (Bs, Bt, T)
    s2t = (s2t * f_mask[:, None]).sum(-1) / f_mask.sum(-1).clamp_min(1)[:, None]
    t2s = sim.masked_fill(~frame_mask[:, None, :, None], -2.0).amax(2)    # (Bs, Bt, L)
    t2s = (t2s * t_mask[None]).sum(-1) / t_mask.sum(-1).clamp_min(1)[None]
    return (s2t + t2s) / 2
