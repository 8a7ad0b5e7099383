"""Leaderboards: markdown tables of finished cells, one file per task, plus an index.

``python -m harness leaderboard --results DIR [--out leaderboards/]`` reads the result files
of the finished cells under DIR (every ``cells/*/*/*/result.json`` that validates) and writes
``<out>/islr.md``, ``cslr.md``, ``slt.md`` and ``<out>/README.md``.

A row is one (benchmark, benchmark version, method, config hash, metric signature): its
seed count, mean ± sample standard deviation and 95% confidence interval (Student's t over
the seeds) of the task's headline metrics, the number the paper reports for that method and
benchmark where ``reported.csv`` (beside the tables) has one, and the difference. Each
benchmark gets one table per metric signature, so numbers computed under different
protocols never share a column. Rows with fewer than ``MIN_SEEDS`` seeds are marked.
The tables hold no timestamps and are sorted, so regenerating them from the same results
changes no byte.
"""

from __future__ import annotations

import csv
import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import atomic
from harness.errors import DataError, UserError
from harness.summary import HEADLINE, _changes, finished_results

MIN_SEEDS = 3
TASK_TITLES = {"islr": "Isolated sign recognition (ISLR)",
               "cslr": "Continuous sign recognition (CSLR)",
               "slt": "Gloss-free sign language translation (SLT)"}
#: The signature family that each task's headline metrics carry.
FAMILY = {"islr": "topk", "cslr": "wer", "slt": "bleu"}
LOWER_IS_BETTER = {"wer"}
REPORTED_COLUMNS = ("method", "bench", "split", "metric", "value", "input", "source",
                    "confidence")
# Two-sided 95% Student's t quantiles by degrees of freedom (df > 30: the normal 1.96).
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306,
        9: 2.262, 10: 2.228, 11: 2.201, 12: 2.179, 13: 2.160, 14: 2.145, 15: 2.131,
        16: 2.120, 17: 2.110, 18: 2.101, 19: 2.093, 20: 2.086, 21: 2.080, 22: 2.074,
        23: 2.069, 24: 2.064, 25: 2.060, 26: 2.056, 27: 2.052, 28: 2.048, 29: 2.045,
        30: 2.042}


@dataclass(frozen=True)
class Stat:
    """Mean, sample standard deviation and 95% CI half-width of one metric over seeds."""

    mean: float
    std: float | None
    ci95: float | None

    @classmethod
    def of(cls, values: list[float]) -> Stat:
        mean = statistics.fmean(values)
        if len(values) < 2:
            return cls(mean, None, None)
        std = statistics.stdev(values)
        t = _T95.get(len(values) - 1, 1.96)
        return cls(mean, std, t * std / math.sqrt(len(values)))


@dataclass
class Row:
    """One configuration of one method on one benchmark under one metric signature."""

    task: str
    bench: str
    version: str
    signature: str
    method: str
    config_hash: str
    label: str = ""
    seeds: list[int] = field(default_factory=list)
    stats: dict[str, Stat] = field(default_factory=dict)
    fingerprints: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    runs: list[tuple[int, str, str]] = field(default_factory=list)  # seed, uri, run id


def read_reported(path: Path) -> dict[tuple[str, str, str], dict[str, str]]:
    """The curated reported numbers: (method, bench, metric) -> row (test split only)."""
    if not path.is_file():
        return {}
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        if tuple(reader.fieldnames or ()) != REPORTED_COLUMNS:
            raise DataError(f"{path}: expected the columns {','.join(REPORTED_COLUMNS)}")
        rows = list(reader)
    out = {}
    for i, row in enumerate(rows, start=2):
        try:
            float(row["value"])
        except ValueError:
            raise DataError(f"{path}:{i}: value {row['value']!r} is not a number") from None
        if row["split"] == "test":
            out[(row["method"], row["bench"], row["metric"])] = row
    return out


def build_rows(results: list[tuple[dict[str, Any], dict[str, Any]]],
               split: str = "test") -> list[Row]:
    """Group finished cells into rows, sorted by task, benchmark, signature and method."""
    groups: dict[tuple[str, ...], list[tuple[dict[str, Any], dict[str, Any]]]] = {}
    for result, config in results:
        task = result["task"]
        key = (task, result["bench"], str(result["benchmark"]["version"]),
               result["signatures"].get(FAMILY[task], "-"), result["method"],
               result["config_hash"])
        groups.setdefault(key, []).append((result, config))
    rows, configs = [], []
    for key, members in groups.items():
        members.sort(key=lambda rc: rc[0]["seed"])
        task = key[0]
        rows.append(Row(*key, seeds=[r["seed"] for r, _ in members],
                        stats={m: Stat.of([r["metrics"][split][m] for r, _ in members])
                               for m in HEADLINE[task]},
                        fingerprints=sorted({r["benchmark"]["fingerprint"]
                                             for r, _ in members}),
                        code=sorted({str(r["code"].get("git_sha") or "?")[:10]
                                     + ("+dirty" if r["code"].get("dirty") else "")
                                     for r, _ in members}),
                        runs=[(r["seed"], r["mlflow"]["tracking_uri"], r["mlflow"]["run_id"])
                              for r, _ in members]))
        configs.append(members[0][1])
    by_method: dict[tuple[str, str], list[int]] = {}
    for i, row in enumerate(rows):  # ablations read as their switches, within a method
        by_method.setdefault((row.bench, row.method), []).append(i)
    for same in by_method.values():
        for i, label in zip(same, _changes([configs[i] for i in same]), strict=True):
            rows[i].label = label
    return sorted(rows, key=lambda r: (r.task, r.bench, r.version, r.signature, r.method,
                                       bool(r.label), r.label, r.config_hash))


def _num(value: float) -> str:
    return f"{value:.2f}"


def _cell(stat: Stat) -> str:
    if stat.std is None:
        return _num(stat.mean)
    return f"{_num(stat.mean)} ± {_num(stat.std)}"


def _ci(stat: Stat) -> str:
    if stat.ci95 is None:
        return "-"
    return f"[{_num(stat.mean - stat.ci95)}, {_num(stat.mean + stat.ci95)}]"


def task_markdown(task: str, rows: list[Row],
                  reported: dict[tuple[str, str, str], dict[str, str]]) -> str:
    """The markdown page of one task."""
    metrics = HEADLINE[task]
    main = metrics[0]
    lines = [f"# {TASK_TITLES[task]}", "",
             "Mean ± sample std over seeds (n), 95% confidence interval of the mean "
             f"(Student's t) for {main}; † marks fewer than {MIN_SEEDS} seeds. "
             f"{'Lower' if main in LOWER_IS_BETTER else 'Higher'} {main} is better. "
             "Generated by `python -m harness leaderboard`; do not edit by hand.", ""]
    tables = sorted({(r.bench, r.version, r.signature) for r in rows})
    for bench, version, signature in tables:
        members = [r for r in rows if (r.bench, r.version, r.signature) == (bench, version,
                                                                             signature)]
        lines += [f"## {bench} (version {version})", "", f"Signature: `{signature}`", ""]
        head = ["method", "config", "n", *metrics, f"{main} 95% CI", f"reported {main}",
                "Δ", "data", "code", "runs"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        for r in members:
            ref = reported.get((r.method, r.bench, main))
            rep = f"{float(ref['value']):.2f}" if ref else "-"
            delta = f"{r.stats[main].mean - float(ref['value']):+.2f}" if ref else "-"
            n = f"{len(r.seeds)}{'' if len(r.seeds) >= MIN_SEEDS else ' †'}"
            runs = ", ".join(f"s{s} `{i[:8]}`" for s, _, i in r.runs)
            lines.append("| " + " | ".join([
                r.method, r.label or "-", n, *(_cell(r.stats[m]) for m in metrics),
                _ci(r.stats[main]), rep, delta, " ".join(f"`{f}`" for f in r.fingerprints),
                " ".join(f"`{c}`" for c in r.code), runs]) + " |")
        uris = sorted({u for r in members for _, u, _ in r.runs})
        lines += ["", "MLflow runs (first 8 characters of the run id) in: "
                  + ", ".join(f"`{u}`" for u in uris)]
        sources = sorted({(r.method, reported[(r.method, r.bench, main)]["source"])
                          for r in members if (r.method, r.bench, main) in reported})
        if sources:
            lines += ["", "Reported numbers: " + "; ".join(f"{m}: {s}" for m, s in sources)]
        lines.append("")
    if not tables:
        lines += ["No finished cells of this task yet.", ""]
    return "\n".join(lines)


def index_markdown(rows: list[Row], results_dir: str, n_cells: int) -> str:
    """leaderboards/README.md: what the tables are and how to regenerate them."""
    lines = ["# Leaderboards", "",
             f"Built from {n_cells} finished cells under `{results_dir}`. Regenerate with:",
             "", "```bash", f"python -m harness leaderboard --results {results_dir}", "```",
             "", "| task | benchmarks | rows | page |", "|---|---|---|---|"]
    for task in TASK_TITLES:
        mine = [r for r in rows if r.task == task]
        benches = ", ".join(sorted({r.bench for r in mine})) or "-"
        lines.append(f"| {TASK_TITLES[task]} | {benches} | {len(mine)} | [{task}.md]({task}.md) |")
    if any(r.bench.startswith("synth-") for r in rows):
        lines += ["", "Benchmarks named `synth-*` are SynthSign, the harness's synthetic "
                  "data: their numbers test the machinery and compare methods on synthetic "
                  "signing, and say nothing about real sign language data."]
    lines.append("")
    return "\n".join(lines)


def write_leaderboards(results_dir: Path, out: Path, reported_path: Path | None = None
                       ) -> list[Path]:
    """Write the task pages and the index; returns the files written."""
    if not results_dir.is_dir():
        raise UserError(f"--results {results_dir} is not a folder")
    results = finished_results(results_dir)
    reported = read_reported(reported_path or out / "reported.csv")
    rows = build_rows(results)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for task in TASK_TITLES:
        path = out / f"{task}.md"
        atomic.write_text(path, task_markdown(task, [r for r in rows if r.task == task],
                                              reported))
        written.append(path)
    index = out / "README.md"
    atomic.write_text(index, index_markdown(rows, str(results_dir), len(results)))
    return [*written, index]
