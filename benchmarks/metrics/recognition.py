"""Isolated recognition accuracy: per-instance (P-I) and per-class (P-C) top-k."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

PROTOCOL = "islr-topk"
VERSION = "1"


def topk_accuracy(predictions: Mapping[str, Sequence[str]], references: Mapping[str, str],
                  ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Top-k accuracies in percent: ``top{k}`` per instance and ``pc_top{k}`` per class.

    A prediction is a ranked list of labels; a clip counts as correct at k when its label
    is among the first k. Per-class accuracy averages the per-class accuracies over the
    classes present in the references.
    """
    _check_ids(predictions, references)
    hits: dict[int, dict[str, list[bool]]] = {k: defaultdict(list) for k in ks}
    for clip, label in references.items():
        ranked = list(predictions[clip])
        for k in ks:
            hits[k][label].append(label in ranked[:k])
    out: dict[str, float] = {}
    n = len(references)
    for k in ks:
        per_class = hits[k]
        correct = sum(sum(v) for v in per_class.values())
        out[f"top{k}"] = 100.0 * correct / n
        out[f"pc_top{k}"] = 100.0 * sum(sum(v) / len(v) for v in per_class.values()) / len(
            per_class)
    return out


def signature() -> str:
    """Signature of the top-k protocol."""
    return f"protocol:{PROTOCOL}|version:{VERSION}"


def _check_ids(predictions: Mapping[str, object], references: Mapping[str, object]) -> None:
    if not references:
        raise ValueError("no references to score")
    missing = [c for c in references if c not in predictions]
    if missing:
        raise ValueError(f"{len(missing)} references have no prediction (first: {missing[0]})")
