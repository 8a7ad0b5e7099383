"""CTC decoding: greedy and prefix beam search over per-frame log-probabilities."""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np


def greedy_decode(logprobs: np.ndarray, blank: int = 0) -> list[int]:
    """Best path: argmax per frame, merge repeats, drop blanks. logprobs: (T, V)."""
    best = logprobs.argmax(axis=1)
    out, prev = [], -1
    for s in best.tolist():
        if s != prev and s != blank:
            out.append(s)
        prev = s
    return out


def _logadd(a: float, b: float) -> float:
    if a == -math.inf:
        return b
    if b == -math.inf:
        return a
    hi, lo = (a, b) if a > b else (b, a)
    return hi + math.log1p(math.exp(lo - hi))


def prefix_beam_search(logprobs: np.ndarray, beam: int = 5, blank: int = 0,
                       prune: int = 8) -> list[int]:
    """CTC prefix beam search (no language model). logprobs: (T, V) natural-log probs.

    Each prefix keeps the log-probabilities of ending in a blank and in a non-blank; per
    frame only the ``prune`` most likely symbols are expanded. Ties are broken by the
    prefix itself so that the result is deterministic.
    """
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, -math.inf)}
    for t in range(logprobs.shape[0]):
        row = logprobs[t]
        top = np.argsort(-row, kind="stable")[:prune].tolist()
        nxt: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [-math.inf, -math.inf])
        for prefix, (p_b, p_nb) in beams.items():
            total = _logadd(p_b, p_nb)
            for s in top:
                p = float(row[s])
                if s == blank:
                    entry = nxt[prefix]
                    entry[0] = _logadd(entry[0], total + p)
                    continue
                last = prefix[-1] if prefix else None
                ext = (*prefix, s)
                entry = nxt[ext]
                if s == last:  # a repeat needs a blank in between to extend
                    entry[1] = _logadd(entry[1], p_b + p)
                    same = nxt[prefix]
                    same[1] = _logadd(same[1], p_nb + p)
                else:
                    entry[1] = _logadd(entry[1], total + p)
        ranked = sorted(nxt.items(), key=lambda kv: (-_logadd(*kv[1]), kv[0]))
        beams = {k: (v[0], v[1]) for k, v in ranked[:beam]}
    best = max(beams.items(), key=lambda kv: (_logadd(*kv[1]), tuple(-x for x in kv[0])))
    return list(best[0])
