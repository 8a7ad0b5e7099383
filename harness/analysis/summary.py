"""A quick table of finished cells: mean and spread over seeds per configuration.

``python -m harness summary --results DIR`` groups the result files under DIR by benchmark,
method and config hash, and prints one markdown row per group with the mean, sample
standard deviation and seed count of the headline metrics of the metric protocols the
benchmark's cells were scored with (``harness.core.metric``), and, per group, the config
keys where it departs from the most common value among the groups of its method (so
ablations read as their switches). The
leaderboards build on the same records with more care (signatures, reported numbers,
confidence intervals).
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from harness.cell.results import RESULT_FILE, problems
from harness.cell.tracking import flatten
from harness.core.metric import protocol_of


def finished_results(out: Path) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(result, resolved config) of every valid finished cell under ``out``."""
    found = []
    for path in sorted(out.glob(f"cells/*/*/*/{RESULT_FILE}")):
        result = json.loads(path.read_text(encoding="utf-8"))
        if problems(result):
            continue
        config = json.loads((path.parent / "config.json").read_text(encoding="utf-8"))
        found.append((result, config["config"]))
    return found


def preset_values(method: str, preset: str) -> dict[str, Any]:
    """The flattened values of a method preset ({} when it cannot be loaded)."""
    from harness.cell.runner import method_preset
    from harness.core.registry import METHODS
    from harness.errors import UserError

    try:
        return flatten(method_preset(METHODS.get(method), preset))
    except UserError:
        return {}


def config_changes(configs: list[dict[str, Any]], weights: list[int] | None = None,
                   prefer: dict[str, Any] | None = None) -> list[str]:
    """Per config, the keys whose value differs from the most common value of that key
    (counting each config ``weights[i]`` times, e.g. once per seed); a tie goes to the
    value in ``prefer`` (the method preset's), so that an ablation run as often as its full
    configuration is still the one labelled."""
    flat = [flatten(c) for c in configs]
    weights = weights or [1] * len(flat)
    prefer = prefer or {}
    keys = sorted({k for f in flat for k in f} - {k for k in flat[0] if k.startswith(
        ("method.", "bench."))})
    common = {}
    for k in keys:
        count: dict[str, int] = {}
        for f, w in zip(flat, weights, strict=True):
            value = json.dumps(f.get(k), sort_keys=True)
            count[value] = count.get(value, 0) + w
        preferred = json.dumps(prefer.get(k), sort_keys=True) if k in prefer else None
        common[k] = max(sorted(count), key=lambda v: (count[v], v == preferred))
    return [", ".join(f"{k}={f.get(k)}" for k in keys
                      if json.dumps(f.get(k), sort_keys=True) != common[k]) for f in flat]


def headline(results: Iterable[dict[str, Any]]) -> list[str]:
    """The headline metrics of the protocols that scored ``results``, in order, each once."""
    out: list[str] = []
    for result in results:
        out += [m for m in protocol_of(result["signatures"], result["task"]).headline
                if m not in out]
    return out


def _fmt(values: list[float]) -> str:
    if not values:  # the metric is not one of this group's protocol
        return "-"
    mean = statistics.fmean(values)
    if len(values) < 2:
        return f"{mean:.2f}"
    return f"{mean:.2f} ± {statistics.stdev(values):.2f}"


def summary_table(results: Iterable[tuple[dict[str, Any], dict[str, Any]]], split: str = "test"
                  ) -> str:
    """Markdown table, one row per (benchmark, method, config hash)."""
    groups: dict[tuple[str, str, str], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for result, config in results:
        key = (result["bench"], result["method"], result["config_hash"])
        groups.setdefault(key, []).append((result, config))
    lines = []
    for bench in sorted({k[0] for k in groups}):
        keys = sorted(k for k in groups if k[0] == bench)
        task = groups[keys[0]][0][0]["task"]
        metrics = headline(groups[k][0][0] for k in keys)
        changes = {}
        for method in {k[1] for k in keys}:  # config switches, compared within a method
            same = [k for k in keys if k[1] == method]
            prefer = preset_values(method, groups[same[0]][0][0].get("preset", "smoke"))
            changes.update(zip(same, config_changes([groups[k][0][1] for k in same],
                                                    [len(groups[k]) for k in same], prefer),
                               strict=True))
        lines.append(f"\n{bench} ({task}, {split}):\n")
        lines.append("| method | config | seeds | " + " | ".join(metrics) + " | config hash |")
        lines.append("|---" * (4 + len(metrics)) + "|")
        for key in sorted(keys, key=lambda k: (k[1], bool(changes[k]), changes[k])):
            change = changes[key]
            rows = groups[key]
            seeds = sorted(r["seed"] for r, _ in rows)
            cols = [_fmt([r["metrics"][split][m] for r, _ in rows if m in r["metrics"][split]])
                    for m in metrics]
            lines.append(f"| {key[1]} | {change or '-'} | {len(seeds)} | " + " | ".join(cols)
                         + f" | {key[2]} |")
    return "\n".join(lines).lstrip("\n") + "\n"
