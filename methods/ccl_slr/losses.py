"""MoCo-style InfoNCE against a queue of keys, with optional mined extra positives (SPM)."""

from __future__ import annotations

import torch


def info_nce(q: torch.Tensor, k: torch.Tensor, queue: torch.Tensor, temperature: float,
             extra: torch.Tensor | None = None, mode: str = "mean"
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """InfoNCE of unit queries q (B, E) with their keys k (B, E) against the queue (K, E),
    and the fraction of queries whose own key scores highest.

    ``extra`` (B, K) marks queue entries that are extra positives of a query: ``mode='mean'``
    averages the log-likelihoods of all positives (SupCon's L_out), ``mode='sum'`` takes the
    log of their summed likelihood (L_in). Without extra positives both are plain InfoNCE.
    """
    logits = torch.cat([(q * k).sum(1, keepdim=True), q @ queue.T], dim=1).float() / temperature
    log_p = logits.log_softmax(1)
    positives = torch.zeros_like(log_p, dtype=torch.bool)
    positives[:, 0] = True
    if extra is not None:
        positives[:, 1:] = extra
    if mode == "mean":
        loss = -(log_p * positives).sum(1) / positives.sum(1)
    elif mode == "sum":
        loss = -log_p.masked_fill(~positives, float("-inf")).logsumexp(1)
    else:
        raise ValueError(f"unknown multi-positive mode {mode!r} (mean or sum)")
    accuracy = (logits.argmax(1) == 0).float().mean()
    return loss.mean(), accuracy.detach()


def mine_positives(anchors: torch.Tensor, queue: torch.Tensor, topk: int, threshold: float
                   ) -> torch.Tensor:
    """(B, K) mask of the ``topk`` queue entries most cosine-similar to each anchor (B, E)
    whose similarity is at least ``threshold`` (unit vectors in, no gradient)."""
    sim = anchors.detach() @ queue.T
    top = sim.topk(min(topk, sim.shape[1]), dim=1)
    mask = torch.zeros_like(sim, dtype=torch.bool)
    return mask.scatter_(1, top.indices, top.values >= threshold)
