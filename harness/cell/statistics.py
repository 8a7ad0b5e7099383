"""Per-clip statistics of a cell's test predictions, written beside them by the runner.

A metric protocol (``harness.core.metric.MetricProtocol``) computes, for each metric it can
test, sufficient statistics per clip; their sums give the corpus metric. The runner scores its
test predictions clip by clip once (``write_statistics``) and keeps the statistics beside the
predictions file, so that paired comparisons (``harness.analysis.significance``) read numbers
instead of scoring every cell again. This module is the file's writer and its format; the
comparisons read it back only when it matches the predictions they see.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.metric import MetricProtocol, get_protocol, protocol_named_by
from harness.errors import DataError
from harness.io import atomic

#: Version of the statistics file's layout; a file of another version is not read.
STATISTICS_SCHEMA = 1


def statistics_path(predictions: Path) -> Path:
    """Where the per-clip statistics of a predictions file are kept (``test.jsonl`` ->
    ``test.stats.json``)."""
    return predictions.with_suffix(".stats.json")


def write_statistics(predictions: Path, task: str, signatures: Mapping[str, str],
                     options: Mapping[str, Any]) -> Path:
    """Score a cell's predictions file clip by clip, for every metric its protocol can test,
    and write the statistics beside it (atomically); returns the file written.

    ``signatures`` are the cell's metric signatures as its result records them and
    ``options`` its benchmark's ``eval`` options. The file holds, next to the statistics
    (in the order of the sorted clip ids), the SHA-256 of the predictions file, the protocol,
    the options and the signatures, and a digest of the clip ids and references: a reader
    uses the statistics only when the predictions, protocol, signatures and clips match
    what it sees, and scores the predictions itself otherwise. A leaderboard over
    thousands of cells thus reads numbers instead of running sacrebleu and jiwer over
    every cell again.
    """
    data = predictions.read_bytes()
    preds = parse_rows(data.decode("utf-8"), task)
    if preds is None:
        raise DataError(f"{predictions} is not a well-formed {task} predictions file")
    proto = result_protocol({"signatures": signatures, "task": task})
    ids = sorted(preds)
    refs = {c: preds[c][1] for c in ids}
    content = {
        "schema": STATISTICS_SCHEMA,
        "predictions_sha256": hashlib.sha256(data).hexdigest(),
        "protocol": proto.name, "options": dict(options), "signatures": dict(signatures),
        "clips": len(ids), "clips_sha256": _clips_digest(refs),
        "statistics": {m: _flat(stats) for m, stats in proto.statistics(
            {c: preds[c][0] for c in ids}, refs, options).items()},
    }
    path = statistics_path(predictions)
    atomic.write_text(path, json.dumps(content, separators=(",", ":")) + "\n")
    return path


def _flat(stats: np.ndarray) -> dict[str, Any]:
    """A (clips, k) statistics array as its shape and its values in row order, integers
    where they are counts (all of them are; JSON reads flat integers 4x faster than nested
    floats)."""
    values = stats.astype(np.int64) if np.array_equal(stats, np.round(stats)) else stats
    return {"shape": list(stats.shape), "values": values.ravel().tolist()}


def _clips_digest(refs: Mapping[str, str]) -> str:
    """A digest of clip ids and their references: two runs have the same test clips and
    references exactly when their digests are equal."""
    return hashlib.sha256(json.dumps(sorted(refs.items()), ensure_ascii=False)
                          .encode("utf-8")).hexdigest()


def result_protocol(result: Mapping[str, Any]) -> MetricProtocol:
    """The metric protocol a result's signatures name (a UserError where it names none
    this harness has)."""
    return get_protocol(protocol_named_by(next(iter(result["signatures"].values()))) or "")


def parse_rows(text: str, task: str) -> dict[str, tuple[Any, str]] | None:
    """clip id -> (prediction, reference) of well-formed prediction JSONL, parsed as one
    JSON array (several times faster than line by line); None when anything is wrong (a
    line that is not one JSON object, a bad row, a clip twice), for the line-by-line reader
    to say what and where."""
    lines = [line for line in text.split("\n") if line.strip()]
    try:
        rows = json.loads("[" + ",".join(lines) + "]")
    except ValueError:
        return None
    if len(rows) != len(lines):  # e.g. two objects on one line
        return None
    out = {}
    for row in rows:
        if not isinstance(row, dict) or not is_row(row, task) or row["id"] in out:
            return None
        out[row["id"]] = (row["prediction"], row["reference"])
    return out


def is_row(row: dict[str, Any], task: str) -> bool:
    """Whether a JSONL row is a prediction row as the runner writes it for ``task``."""
    if not (isinstance(row.get("id"), str) and isinstance(row.get("reference"), str)):
        return False
    pred = row.get("prediction")
    if task == "islr":
        return isinstance(pred, list) and all(map(isinstance, pred, repeat(str)))
    return isinstance(pred, str)
