"""Masked pooling and contrastive objectives over a batch of paired clips and texts."""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over dim 1 of (B, N, D) where mask (B, N) is True."""
    m = mask[..., None].to(x.dtype)
    return (x * m).sum(1) / m.sum(1).clamp_min(1.0)


def same_text(texts: list[str], device: torch.device) -> torch.Tensor:
    """(B, B) boolean: pair (i, j) shares the same text (a positive, not a negative)."""
    ids = {t: i for i, t in enumerate(dict.fromkeys(texts))}
    keys = torch.tensor([ids[t] for t in texts], device=device)
    return keys[:, None] == keys[None, :]


def soft_contrastive(logits: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE where every pair marked in ``positives`` counts as a positive.

    logits: (B, B) sign-to-text scores; positives: (B, B) bool with a True diagonal.
    """
    target = positives.float()
    s2t = -(target / target.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1).mean()
    t2s = -(target / target.sum(0, keepdim=True) * logits.log_softmax(0)).sum(0).mean()
    return (s2t + t2s) / 2
