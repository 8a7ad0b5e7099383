"""Isolated recognition accuracy: per-instance (P-I) and per-class (P-C) top-k, and the
NMFs-CSL split of top-k into confusing and normal classes."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

from harness.errors import DataError


def topk_accuracy(predictions: Mapping[str, Sequence[str]], references: Mapping[str, str],
                  ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Top-k accuracies in percent: ``top{k}`` per instance and ``pc_top{k}`` per class.

    A prediction is a ranked list of labels; a clip counts as correct at k when its label
    is among the first k. Per-class accuracy averages the per-class accuracies over the
    classes present in the references.
    """
    hits = _hits(predictions, references, ks)
    out: dict[str, float] = {}
    for k in ks:
        per_class = hits[k]
        out[f"top{k}"] = _percent(per_class)
        out[f"pc_top{k}"] = 100.0 * sum(sum(v) / len(v) for v in per_class.values()) / len(
            per_class)
    return out


def split_topk(predictions: Mapping[str, Sequence[str]], references: Mapping[str, str],
               confusing: Collection[str], ks: Sequence[int] = (1, 5)) -> dict[str, float]:
    """Per-instance top-k in percent over all clips (``top{k}``), over the clips of the
    ``confusing`` classes (``top{k}_confusing``) and over the others (``top{k}_normal``)."""
    hits = _hits(predictions, references, ks)
    groups = {"confusing": {c for c in hits[ks[0]] if c in confusing}}
    groups["normal"] = set(hits[ks[0]]) - groups["confusing"]
    for group, classes in groups.items():
        if not classes:
            raise DataError(f"no reference clip belongs to a {group} class, so top-k on the "
                            f"{group} classes is undefined: check the confusing class names "
                            f"(eval.confusing_classes) against the reference labels")
    out: dict[str, float] = {}
    for k in ks:
        out[f"top{k}"] = _percent(hits[k])
        for group, classes in groups.items():
            out[f"top{k}_{group}"] = _percent({c: hits[k][c] for c in classes})
    return out


def hit_statistics(predictions: Mapping[str, Sequence[str]], references: Mapping[str, str],
                   k: int) -> list[tuple[int, int]]:
    """Per clip (in the order of ``references``): whether its label is among its first k
    predictions, and 1 (the clip): summed, ``100 * hits / clips`` is top-k."""
    return [(int(label in list(predictions[clip])[:k]), 1) for clip, label in references.items()]


def _hits(predictions: Mapping[str, Sequence[str]], references: Mapping[str, str],
          ks: Sequence[int]) -> dict[int, dict[str, list[bool]]]:
    """Per k and reference class, whether each clip's label is in its first k predictions."""
    check_ids(predictions, references)
    hits: dict[int, dict[str, list[bool]]] = {k: defaultdict(list) for k in ks}
    for clip, label in references.items():
        if not label.strip():
            raise DataError(f"the reference label of clip {clip!r} is empty; every clip needs "
                            f"its class label")
        ranked = list(predictions[clip])
        for k in ks:
            hits[k][label].append(label in ranked[:k])
    return hits


def _percent(per_class: Mapping[str, list[bool]]) -> float:
    """Per-instance accuracy in percent over the clips of the given classes."""
    return 100.0 * sum(sum(v) for v in per_class.values()) / sum(
        len(v) for v in per_class.values())


def check_ids(predictions: Mapping[str, object], references: Mapping[str, object]) -> None:
    """Fail unless there are references and each has a prediction."""
    if not references:
        raise ValueError("no references to score")
    missing = [c for c in references if c not in predictions]
    if missing:
        raise ValueError(f"{len(missing)} references have no prediction (first: {missing[0]})")
