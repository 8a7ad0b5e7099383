"""Sigma's pre-training objectives: hierarchical alignment (global and cluster-wise local),
hard-negative mining and sign-text matching. Functions of tensors; masks are explicit."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class ClusterAggregator(nn.Module):
    """Pools frame features into K sign clusters with K learned queries (masked attention)."""

    def __init__(self, dim: int, clusters: int) -> None:
        super().__init__()
        self.queries = nn.Parameter(torch.randn(clusters, dim) * dim ** -0.5)
        self.key = nn.Linear(dim, dim)
        self.value = nn.Linear(dim, dim)
        self.scale = dim ** -0.5

    def forward(self, frames: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """frames (B, T, D), mask (B, T) -> clusters (B, K, D); padded frames get no weight."""
        scores = torch.einsum("kd,btd->bkt", self.queries, self.key(frames)) * self.scale
        scores = scores.masked_fill(~mask[:, None, :], torch.finfo(scores.dtype).min)
        weights = scores.softmax(-1)
        return torch.einsum("bkt,btd->bkd", weights, self.value(frames))


def word_units(tokens: torch.Tensor, word_ids: list[list[int | None]], unit: str
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """Text units (B, M, D) and their mask from token features (B, L, D).

    ``unit='subword'``: every non-special token is a unit; ``unit='word'``: the sub-word
    tokens of one word (same word id) are averaged into one unit.
    """
    b, length, _d = tokens.shape
    if unit == "subword":
        mask = torch.tensor([[w is not None for w in row] + [False] * (length - len(row))
                             for row in word_ids], device=tokens.device)
        return tokens, mask
    if unit != "word":
        raise ValueError(f"unknown text unit {unit!r}")
    n_words = max(1, max((max((w for w in row if w is not None), default=-1) + 1)
                         for row in word_ids))
    assign = torch.zeros(b, n_words, length, device=tokens.device, dtype=tokens.dtype)
    for i, row in enumerate(word_ids):
        for pos, w in enumerate(row):
            if w is not None:
                assign[i, w, pos] = 1.0
    counts = assign.sum(-1)
    units = assign @ tokens / counts.clamp_min(1.0)[..., None]
    return units, counts > 0


def local_similarity(clusters: torch.Tensor, units: torch.Tensor, unit_mask: torch.Tensor
                     ) -> torch.Tensor:
    """(B_sign, B_text) cluster-wise similarity of every sign clip with every text.

    With unit-normalised clusters C_i (K, D) and text units U_j (M, D): text-to-sign takes,
    for each unit, its best-matching cluster and averages over the text's units;
    sign-to-text takes, for each cluster, its best-matching unit and averages over the
    clusters; the similarity is the mean of the two. Padded units never match or count.
    """
    c = F.normalize(clusters, dim=-1)
    u = F.normalize(units, dim=-1)
    sim = torch.einsum("ikd,jmd->ijkm", c, u)                          # (Bs, Bt, K, M)
    valid = unit_mask[None, :, None, :]
    t2s = sim.amax(dim=2)                                              # (Bs, Bt, M)
    t2s = (t2s * unit_mask[None]).sum(-1) / unit_mask.sum(-1).clamp_min(1)[None]
    s2t = sim.masked_fill(~valid, -2.0).amax(dim=3).mean(-1)          # (Bs, Bt)
    return (t2s + s2t) / 2


def hardest_negatives(similarity: torch.Tensor, positives: torch.Tensor
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """For each sign the most similar non-matching text and for each text the most similar
    non-matching sign, with masks of the rows that have any negative at all."""
    sim = similarity.detach().masked_fill(positives, float("-inf"))
    text_for_sign = sim.argmax(1)
    sign_for_text = sim.argmax(0)
    return (text_for_sign, torch.isfinite(sim.amax(1)), sign_for_text,
            torch.isfinite(sim.amax(0)))
