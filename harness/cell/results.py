"""The result file of a cell (result.json): schema, validation and loading.

A result is written once, atomically, after the predictions; a cell counts as finished only
when its result.json exists, parses and validates. Fields (schema version 2):

- ``schema``, ``status`` ("finished"), ``method``, ``preset``, ``bench``, ``task``, ``seed``
- ``cell_key``, ``config_hash``; ``benchmark``: name, version, data fingerprint, counts
- ``config_file``: the path and SHA-256 of the user's config file the cell was run with
  (``--config``), or None (absent from results written before it)
- ``checks``: whether the preset is meant for the benchmark, each split's clips found
  against expected, and whether the store is complete (True, False, None: not known;
  absent from results written before it)
- ``metrics``: split -> name -> value (sorted by name; ``ordered_metrics`` gives the
  protocol's order); ``signatures``: metric family -> signature
- ``selection``: the split, metric and criterion that chose the checkpoint, its value and
  epoch, the trivial prediction's score it had to beat, and whether it fell back to the last
  epoch
- ``method_info``: the input modalities the cell read and the method variant (an
  adaptation's name, or None); ``pretrain``: the pre-training record, or None
- ``code``: git sha, dirty flag, diff hash; ``environment``; ``slurm``; ``timings``
- ``mlflow``: tracking URI and run id; ``files``: predictions and config, relative paths
- ``distributed``: world size, backend and each rank's checksum of the final model
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 2
RESULT_FILE = "result.json"

_REQUIRED: dict[str, type | tuple[type, ...]] = {
    "schema": int, "status": str, "method": str, "preset": str, "bench": str, "task": str,
    "seed": int, "cell_key": str, "config_hash": str, "benchmark": dict, "metrics": dict,
    "signatures": dict, "selection": dict, "code": dict, "environment": dict, "timings": dict,
    "mlflow": dict, "files": dict, "method_info": dict,
}


def problems(result: Any) -> list[str]:
    """What is wrong with a result object (empty when it is a valid finished result)."""
    if not isinstance(result, dict):
        return ["not a JSON object"]
    out = [f"missing or mistyped field {k!r}" for k, t in _REQUIRED.items()
           if not isinstance(result.get(k), t)]
    if out:
        return out
    if result["schema"] != SCHEMA_VERSION:
        out.append(f"schema {result['schema']} is not {SCHEMA_VERSION}")
    if result["status"] != "finished":
        out.append(f"status is {result['status']!r}")
    if "test" not in result["metrics"] or not result["metrics"]["test"]:
        out.append("no test metrics")
    for split, values in result["metrics"].items():
        if not all(isinstance(v, (int, float)) for v in values.values()):
            out.append(f"non-numeric {split} metric")
    if not result["signatures"]:
        out.append("no metric signatures")
    if not result["benchmark"].get("fingerprint"):
        out.append("no data fingerprint")
    return out


def load_finished(cell_dir: Path) -> dict[str, Any] | None:
    """The cell's result if it is finished and valid, else None."""
    path = cell_dir / RESULT_FILE
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return None if problems(result) else result


def ordered_metrics(result: dict[str, Any], split: str = "test") -> dict[str, float]:
    """A split's metrics in the order of the protocol that scored them (its signature
    families'), whether the result was just computed or read back from its sorted JSON;
    metrics the protocol does not name follow, sorted."""
    from harness.core.metric import protocol_of

    values = result["metrics"][split]
    order = protocol_of(result["signatures"], result["task"]).metrics
    return {m: values[m] for m in [*order, *sorted(values)] if m in values}
