"""Leaderboards: markdown tables and plots of finished cells, one page per task, an index.

``python -m harness leaderboard [--tracking-uri URI] [--results DIR] [--out leaderboards/]
[--filter KEY=VALUE ...]`` reads the finished cells from MLflow (``--tracking-uri``, else
``$MLFLOW_TRACKING_URI``, else ``<results>/mlflow.db`` when it exists) and from the result
files under ``--results``, which fill in cells the store does not have (see
``harness.analysis.records``), and writes ``<out>/islr.md``, ``cslr.md``, ``slt.md``, plots under
``<out>/plots/`` and ``<out>/README.md``.

A row is one (benchmark incl. subset, benchmark version, metric signature, method, config
hash): its seed count, mean ± sample standard deviation and 95% confidence interval
(Student's t over the seeds) of the headline metrics of its metric protocol (the protocol
the signature names, ``harness.core.metric``: which metrics, the main one, its direction), the
number a paper reports for
that method and benchmark where the curated ``reported.csv`` (the harness's
``leaderboards/reported.csv`` wherever the pages go, or ``--reported``) has one for the same
method as published (no variant), split, input modalities and metric protocol
(``protocol_matches``), the test clips scored against the count the benchmark expects, the
epoch each seed was selected at, the data fingerprints, code versions and the MLflow runs.
A row's marks say why its number cannot stand beside a paper's (fewer clips than expected,
a preset not meant for real data, uncommitted code, a variant); the difference from the
paper's number is shown only for a row without marks. Local paths are printed relative to
the pages' folder, never as a machine's absolute path. Each benchmark gets one table per
metric signature, so numbers computed under
different protocols never share a column, and rows with fewer than ``MIN_SEEDS`` seeds are
marked †. Every row is compared with the benchmark's ``scratch`` row, and every ablation
with its method's full configuration, by a paired bootstrap over the test clips
(``harness.analysis.significance``) where both have predictions, its p-value shown as ``p < 1/R``
where none of the R resamples crossed zero. Below the main tables: ablation
tables (configurations of a method that differ from its most common one by a switch the
method declares in ``Method.ablations``; each also with the Student's t interval of its
per-seed differences from the full configuration, and a verdict, beyond noise only where
that interval and the bootstrap both exclude no change) and label-efficiency tables (the
same configuration at several ``data.train_fraction`` values). The pages hold no
timestamps and are sorted, so regenerating them from the same cells changes no byte.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import statistics
import sys
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from harness.analysis.records import Record, from_mlflow, from_results, select
from harness.analysis.summary import config_changes, preset_values
from harness.core.metric import MetricProtocol, default_protocol, protocol_of
from harness.data.benchmark import shortfall
from harness.errors import DataError, UserError
from harness.io import atomic
from harness.io.provenance import SOURCE_ROOT

MIN_SEEDS = 3
BASELINE = "scratch"
TASK_TITLES = {"islr": "Isolated sign recognition (ISLR)",
               "cslr": "Continuous sign recognition (CSLR)",
               "slt": "Gloss-free sign language translation (SLT)"}
FRACTION = "data.train_fraction"
#: Ablations every pre-training method has.
COMMON_ABLATIONS = {"no pre-training": {"pretrain.epochs": 0}}
REPORTED_COLUMNS = ("method", "paper_method", "bench", "split", "metric", "protocol", "value",
                    "input", "source", "confidence")
#: The ``protocol`` of a reported number whose scoring is not known: never compared.
UNKNOWN = "unknown"
#: The curated numbers papers report, as the harness ships them (``--reported`` overrides).
REPORTED = SOURCE_ROOT / "leaderboards" / "reported.csv"


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
        # the exact two-sided 95% Student's t quantile for any seed count: scipy.special's
        # inverse t distribution, equal to scipy.stats.t.ppf and a third of its import time
        from scipy.special import stdtrit

        std = statistics.stdev(values)
        quantile = float(stdtrit(len(values) - 1, 0.975))
        return cls(mean, std, quantile * std / math.sqrt(len(values)))


@dataclass
class Row:
    """One configuration of one method on one benchmark under one metric signature."""

    task: str
    bench: str  # the benchmark with its subset, e.g. wlasl2000
    version: str
    signature: str
    method: str
    config_hash: str
    #: the headline metrics of its metric protocol, the main one first
    headline: tuple[str, ...] = ()
    #: whether a higher main metric is better
    higher_is_better: bool = True
    label: str = ""  # the config switches where it departs from its method's usual config
    ablation: str = ""  # the name of the ablation it is, if it is one
    seeds: list[int] = field(default_factory=list)
    stats: dict[str, Stat] = field(default_factory=dict)
    values: dict[str, list[float]] = field(default_factory=dict)  # per seed, seed order
    fingerprints: list[str] = field(default_factory=list)
    code: list[str] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    input: str | None = None  # the input modalities its cells read (method_info), if known
    variant: str | None = None  # the harness adaptation it is, if not the published method
    synthetic: bool = False  # on data the harness generates (Benchmark.synthetic)
    clips: str = "?"  # test clips scored against the expected count: ``642/642``
    #: why its number cannot stand beside a paper's (incomplete data, a preset not meant
    #: for the benchmark, uncommitted code, a variant); empty: it can
    marks: list[str] = field(default_factory=list)

    @property
    def main(self) -> str:
        """The metric its table compares, plots and gives an interval for."""
        return self.headline[0]

    @property
    def table(self) -> tuple[str, str, str]:
        return self.bench, self.version, self.signature

    @property
    def fraction(self) -> float:
        return float(self.records[0].flat.get(FRACTION, 1.0))


@dataclass(frozen=True)
class Reported:
    """A number a paper reports, from the curated reported.csv."""

    method: str
    paper_method: str
    bench: str
    metric: str
    protocol: str  # the harness protocol and the options the number depends on, or unknown
    value: float
    input: str
    source: str
    confidence: str


def bench_id(record: Record) -> str:
    """The benchmark a record is on, with its subset: ``wlasl2000``, ``synth-islr``."""
    subset = record.flat.get("bench.subset")
    return f"{record.result['bench']}{subset}" if subset not in (None, "") else \
        record.result["bench"]


def read_reported(path: Path) -> list[Reported]:
    """The curated reported numbers of the test split, in file order."""
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if tuple(reader.fieldnames or ()) != REPORTED_COLUMNS:
                raise DataError(f"{path}: expected the columns {','.join(REPORTED_COLUMNS)}; "
                                "see leaderboards/README.md")
            rows = list(reader)
    except (UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: not a readable UTF-8 CSV file ({type(exc).__name__}); "
                        "save it as UTF-8 with the columns of leaderboards/README.md") from None
    out = []
    for i, row in enumerate(rows, start=2):
        if None in row or None in row.values():
            raise DataError(f"{path}:{i}: expected {len(REPORTED_COLUMNS)} fields "
                            f"({','.join(REPORTED_COLUMNS)})")
        try:
            value = float(row["value"])
        except ValueError:
            raise DataError(f"{path}:{i}: value {row['value']!r} is not a number") from None
        if row["split"] == "test":
            out.append(Reported(row["method"], row["paper_method"], row["bench"],
                                row["metric"], row["protocol"] or UNKNOWN, value, row["input"],
                                row["source"], row["confidence"]))
    return out


def protocol_matches(protocol: str, signature: str) -> bool:
    """Whether a reported number's ``protocol`` (the harness protocol's name and the options
    its number depends on, as signatures write them: ``bleu-13a|rouge:unisign``) is the one
    a metric signature was computed under; an ``unknown`` protocol matches none."""
    if protocol in ("", UNKNOWN):
        return False
    name, *options = protocol.split("|")
    parts = signature.split("|")
    return parts[0] == f"protocol:{name}" and all(o in parts[1:] for o in options)


def _modalities(text: str | None) -> frozenset[str]:
    """``pose+rgb`` and ``rgb+pose`` alike, as a set of input modalities."""
    return frozenset(str(text or "").split("+")) - {""}


def reported_for(reported: list[Reported], row: Row, metric: str) -> Reported | None:
    """The number a paper reports for what ``row`` measures: the same method in its main
    configuration (no config label, not a variant of it), benchmark, metric, test split
    (the only split read), input modalities and protocol."""
    if row.label or row.variant or not row.input:
        return None
    for rep in reported:
        if (rep.method, rep.bench, rep.metric) == (row.method, row.bench, metric) \
                and _modalities(rep.input) == _modalities(row.input) \
                and protocol_matches(rep.protocol, row.signature):
            return rep
    return None


def _ablations(method: str) -> dict[str, dict[str, Any]]:
    from harness.core.registry import METHODS

    try:
        cls = METHODS.get(method)
    except UserError:
        return {}
    common = COMMON_ABLATIONS if cls.has_pretraining else {}
    return {**common, **cls.ablations}


@lru_cache(maxsize=64)
def _preset(method: str, preset: str) -> dict[str, Any]:
    return preset_values(method, preset)


def _ablation_name(flat: dict[str, Any], reference: dict[str, Any],
                   ablations: dict[str, dict[str, Any]]) -> str:
    """The declared ablation a config is: it differs from the reference only there."""
    diff = {k for k in set(flat) | set(reference) if flat.get(k) != reference.get(k)}
    for name, switches in ablations.items():
        if diff == set(switches) and all(flat.get(k) == v for k, v in switches.items()):
            return name
    return ""


def build_rows(records: list[Record], split: str = "test") -> list[Row]:
    """Group finished cells into rows, sorted by task, benchmark, signature and method."""
    groups: dict[tuple[str, ...], list[Record]] = {}
    protocols: dict[tuple[str, ...], MetricProtocol] = {}
    for rec in records:
        result = rec.result
        task = result["task"]
        proto = protocol_of(result["signatures"], task)
        key = (task, bench_id(rec), str(result["benchmark"]["version"]),
               result["signatures"].get(proto.family(proto.headline[0]), "-"),
               result["method"], result["config_hash"])
        groups.setdefault(key, []).append(rec)
        protocols[key] = proto  # one signature: one protocol
    rows = []
    for key, members in groups.items():
        members.sort(key=lambda r: r.result["seed"])
        proto = protocols[key]
        values = {m: [r.result["metrics"][split][m] for r in members] for m in proto.headline}
        info = members[0].result.get("method_info") or {}
        bench = _bench_of(members[0])
        rows.append(Row(*key, headline=proto.headline,
                        higher_is_better=proto.higher_is_better(proto.headline[0]),
                        seeds=[r.result["seed"] for r in members],
                        stats={m: Stat.of(v) for m, v in values.items()}, values=values,
                        fingerprints=sorted({r.result["benchmark"]["fingerprint"]
                                             for r in members}),
                        code=sorted({str(r.result["code"].get("git_sha") or "?")[:10]
                                     + ("+dirty" if r.result["code"].get("dirty") else "")
                                     for r in members}),
                        records=members, input=info.get("input"),
                        variant=info.get("variant"),
                        synthetic=bench is not None and bench.synthetic,
                        clips=_clips(members, bench), marks=_marks(members)))
    by_method: dict[tuple[str, str], list[Row]] = {}
    for row in rows:  # ablations read as their switches, within a method
        by_method.setdefault((row.bench, row.method), []).append(row)
    for same in by_method.values():
        prefer = _preset(same[0].method, same[0].records[0].result["preset"])
        labels = config_changes([r.records[0].config for r in same],
                                [len(r.seeds) for r in same], prefer)
        for row, label in zip(same, labels, strict=True):
            row.label = label
        reference = [r for r in same if not r.label]
        if reference:
            declared = _ablations(same[0].method)
            for row in same:
                if row.label:
                    row.ablation = _ablation_name(row.records[0].flat,
                                                  reference[0].records[0].flat, declared)
    return sorted(rows, key=lambda r: (r.task, r.bench, r.version, r.signature, r.method,
                                       bool(r.label), r.label, r.config_hash))


# -- what a row's number can be compared with ---------------------------------------------------

@lru_cache(maxsize=256)
def _adapter(name: str, bench: str) -> Any:
    """The benchmark adapter ``name`` configured with the ``bench`` section (JSON) a cell ran
    with; None where this harness has no such benchmark."""
    from harness.core.registry import BENCHMARKS

    try:
        return BENCHMARKS.get(name)({"bench": json.loads(bench)})
    except UserError:
        return None


def _bench_of(record: Record) -> Any:
    return _adapter(record.result["bench"],
                    json.dumps(record.config.get("bench") or {}, sort_keys=True))


def _clips(records: list[Record], bench: Any) -> str:
    """The test clips the cells were scored on, against the count ``bench`` expects:
    ``642/642``, ``1/642``; ``180 (generated)`` for SynthSign; ``?`` where not recorded."""
    found = sorted({str(c["test"]) if "test" in (c := r.result["benchmark"].get("counts")
                                                  or {}) else "?" for r in records})
    if bench is not None and bench.synthetic:
        return f"{', '.join(found)} (generated)"
    expected = bench.expected_counts().get("test") if bench is not None else None
    return f"{', '.join(found)}/{expected if expected is not None else '?'}"


def _marks(records: list[Record]) -> list[str]:
    """Why the cells' numbers cannot stand beside a paper's, each reason once: data with
    fewer clips than the benchmark expects (or not known to be complete), a preset not
    meant for the benchmark, uncommitted or unknown code, a variant of the method."""
    from harness.core.method import Method
    from harness.core.registry import METHODS

    marks: list[str] = []
    for rec in records:
        result, bench = rec.result, _bench_of(rec)
        found = []
        if bench is None:
            found.append(f"benchmark {result['bench']} unknown here")
        else:
            counts = result["benchmark"].get("counts")
            done = bench.completeness(counts) if counts else {"complete": None}
            if done["complete"] is False:
                found.append(f"incomplete data ({shortfall(done)})")
            elif done["complete"] is None:
                found.append("split sizes not known to be complete")
            try:
                method = METHODS.get(result["method"])
            except UserError:
                method = Method
            if not method.preset_meant_for(result["preset"], bench.synthetic):
                found.append(f"preset {result['preset']}: not for real data")
        code = result["code"]
        if code.get("dirty"):
            found.append("uncommitted code")
        elif not code.get("git_sha") or code.get("dirty") is None:
            found.append("code version unknown")
        variant = (result.get("method_info") or {}).get("variant")
        if variant:
            found.append(f"variant: {variant}")
        marks += [m for m in found if m not in marks]
    return marks


# -- paired comparisons ------------------------------------------------------------------------

def _paired(a: Row, b: Row, metric: str, resamples: int) -> Any:
    """The paired bootstrap comparison of two rows on their test clips, or None when a run
    has no predictions on disk (or ``resamples`` is 0)."""
    if not resamples or any(r.predictions() is None for r in [*a.records, *b.records]):
        return None
    from harness.analysis.significance import compare_cells

    try:
        return compare_cells([r.folder for r in a.records], [r.folder for r in b.records],
                             metric, n_resamples=resamples)
    except DataError:  # e.g. runs on different test references: there is no paired test
        return None


def _versus(cmp: Any) -> str:
    """``+11.85 (p < 0.001)`` with * when significant at 5%; ``-`` without a comparison."""
    if cmp is None:
        return "-"
    mark = "*" if cmp.significant(0.05) else ""
    return f"{cmp.delta:+.2f} (p {cmp.p_text()}){mark}"


# -- markdown ----------------------------------------------------------------------------------

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


def _n(row: Row) -> str:
    return f"{len(row.seeds)}{'' if len(row.seeds) >= MIN_SEEDS else ' †'}"


def _runs(row: Row) -> str:
    return ", ".join(f"[s{r.result['seed']}]({r.url})" if r.url else
                     f"s{r.result['seed']} `{r.result['mlflow']['run_id'][:8]}`"
                     for r in row.records)


def _epochs(row: Row) -> str:
    """The epoch each seed's checkpoint was selected at, of how many (``12/20``; ‡ where no
    epoch beat the trivial prediction and the last was used); ``last`` without a dev split."""
    selections = [r.result.get("selection") or {} for r in row.records]
    if all(s.get("epoch") is not None and s.get("split") is None for s in selections):
        return "last (no dev split)"
    return ", ".join(f"{s['epoch']}/{s.get('epochs', '?')}"
                     f"{'‡' if s.get('fallback_to_last') else ''}"
                     if s.get("epoch") is not None else "?" for s in selections)


def _shown(location: str, out: Path) -> str:
    """A path or ``sqlite:///`` / ``file://`` URI as the pages print it: local paths
    relative to the pages' folder ``out``, never a machine's absolute path; server URIs and
    relative paths as they are."""
    parsed = urlparse(location)
    if parsed.scheme == "sqlite":
        path = location[len("sqlite:///"):]
    elif parsed.scheme in ("", "file"):
        path = unquote(parsed.path) if parsed.scheme else location
    else:
        return location
    if not os.path.isabs(path):
        return location
    return os.path.relpath(path, out.resolve())


def _config(row: Row) -> str:
    if row.ablation:
        return f"{row.ablation} ({row.label})"
    return row.label or "-"


def plot_name(bench: str, version: str, signature: str) -> str:
    """The file name (under plots/) of one benchmark table's plot; stable across runs."""
    digest = hashlib.sha256(f"{version}|{signature}".encode()).hexdigest()[:8]
    return f"{bench}-{digest}.png"


def task_markdown(task: str, rows: list[Row], reported: list[Reported],
                  resamples: int = 1000, plots: dict[tuple[str, str, str], str] | None = None,
                  out: Path = Path(".")) -> str:
    """The markdown page of one task (local paths relative to its folder, ``out``)."""
    tables = sorted({r.table for r in rows})
    main, better = _mains(task, [next(r for r in rows if r.table == t) for t in tables])
    lines = [f"# {TASK_TITLES[task]}", "",
             "Mean ± sample std over seeds (n), 95% confidence interval of the mean "
             f"(Student's t) for {main}; † marks fewer than {MIN_SEEDS} seeds. "
             f"{better} is better. `vs {BASELINE}`: the "
             f"difference in {main} from the benchmark's `{BASELINE}` row and the p-value of "
             f"a paired bootstrap over the test clips ({resamples} resamples, seeds "
             f"averaged{_resolution(resamples)}), * where p < 0.05, - where a run has no "
             "predictions or the runs were scored against different test references. "
             "`reported`: the number a paper gives for the same method as published, "
             "benchmark, split, input and metric protocol (reported.csv, with its source); "
             "Δ is the difference only where `marks` is empty, and `marks` says why not: "
             "fewer clips than the benchmark expects, a preset not meant for real data, "
             "uncommitted code, a variant of the method. `test clips`: the clips scored "
             "against the count the dataset's papers give. `epoch`: the epoch each seed's "
             "checkpoint was selected at on dev, of how many; ‡ where none beat the trivial "
             "prediction's dev score and the last was used. Generated by "
             "`python -m harness leaderboard`; do not edit by hand.", ""]
    for bench, version, signature in tables:
        members = [r for r in rows if r.table == (bench, version, signature)]
        metrics, main = members[0].headline, members[0].main
        lines += [f"## {bench} (version {version})", "", f"Signature: `{signature}`", ""]
        if plots and (bench, version, signature) in plots:
            lines += [f"![{bench}: {main} per method and seed](plots/"
                      f"{plots[(bench, version, signature)]})", ""]
        base = next((r for r in members if r.method == BASELINE and not r.label), None)
        head = ["method", "config", "n", *metrics, f"{main} 95% CI", f"vs {BASELINE}",
                f"reported {main}", "Δ", "test clips", "epoch", "marks", "data", "code", "runs"]
        lines.append("| " + " | ".join(head) + " |")
        lines.append("|" + "---|" * len(head))
        refs = {id(r): reported_for(reported, r, main) for r in members}
        for r in members:
            ref = refs[id(r)]
            vs = _versus(_paired(r, base, main, resamples)) \
                if base is not None and r is not base else "-"
            lines.append("| " + " | ".join([
                r.method, _config(r), _n(r), *(_cell(r.stats[m]) for m in metrics),
                _ci(r.stats[main]), vs, f"{ref.value:.2f}" if ref else "-",
                f"{r.stats[main].mean - ref.value:+.2f}" if ref and not r.marks else "-",
                r.clips, _epochs(r), "; ".join(r.marks) or "-",
                " ".join(f"`{f}`" for f in r.fingerprints),
                " ".join(f"`{c}`" for c in r.code), _runs(r)]) + " |")
        uris = sorted({_shown(r.result["mlflow"]["tracking_uri"], out) for row in members
                       for r in row.records})
        lines += ["", "MLflow runs (first 8 characters of the run id) in: "
                  + ", ".join(f"`{u}`" for u in uris)]
        shown = [ref for ref in refs.values() if ref is not None]
        lines += _reported_only(reported, bench, main, shown)
        used = sorted({(rep.method, rep.source) for rep in shown})
        if used:
            lines += ["", "Reported numbers: " + "; ".join(f"{m}: {s}" for m, s in used)]
        lines.append("")
        lines += _ablation_tables(members, main, resamples)
        lines += _label_efficiency(members, main)
    if not tables:
        lines += ["No finished cells of this task yet.", ""]
    return "\n".join(lines)


def _mains(task: str, firsts: list[Row]) -> tuple[str, str]:
    """The main metric a page's tables compare (``bleu4``; ``bleu4 / chrf`` where tables of
    several protocols differ in it) and which way is better (``Higher bleu4``), from a row
    of each table (none: the task's default protocol)."""
    found = [(r.main, r.higher_is_better) for r in firsts]
    if not found:
        default = default_protocol(task)
        found = [(default.headline[0], default.higher_is_better(default.headline[0]))]
    mains = list(dict.fromkeys(found))
    better = ", ".join(f"{'higher' if higher else 'lower'} {metric}" for metric, higher in mains)
    return " / ".join(metric for metric, _ in mains), better[0].upper() + better[1:]


def _resolution(resamples: int) -> str:
    """How the page shows a p-value below what ``resamples`` resolve."""
    return f"; p < {1 / resamples:.2g} where none crossed zero" if resamples else ""


def _reported_only(reported: list[Reported], bench: str, metric: str, shown: list[Reported]
                   ) -> list[str]:
    """What papers report on a benchmark that no row here measures (another method, input
    or protocol), for context."""
    others = [rep for rep in reported if rep.bench == bench and rep.metric == metric
              and rep not in shown]
    if not others:
        return []
    lines = ["", f"Reported by papers for what no row here measures ({metric}: another "
             "method, input or protocol, or a method's variant):", "",
             "| method | input | protocol | reported | source | confidence |",
             "|---|---|---|---|---|---|"]
    for rep in sorted(others, key=lambda r: (r.paper_method, r.input, r.source)):
        lines.append(f"| {rep.paper_method} | {rep.input} | {rep.protocol} | {rep.value:.2f} "
                     f"| {rep.source} | {rep.confidence} |")
    return lines


def _ablation_tables(members: list[Row], main: str, resamples: int) -> list[str]:
    """Per method with declared ablations in this table: each against the full config, with
    both kinds of noise and what they say together (see :func:`ablation_verdict`)."""
    lines = []
    for method in sorted({r.method for r in members if r.ablation}):
        full = next((r for r in members if r.method == method and not r.label), None)
        if full is None:  # its full configuration ran under another signature
            continue
        ablated = sorted((r for r in members if r.method == method and r.ablation),
                         key=lambda r: r.ablation)
        lines += [f"### Ablations of {method} on {full.bench}", "",
                  f"`Δ vs full`: the ablation's mean {main} minus the full configuration's. "
                  "`paired p`: the paired bootstrap over the test clips (seeds averaged), "
                  "the noise of sampling the test set. `seed-paired Δ 95% CI`: Student's t "
                  "interval of the per-seed differences (ablation minus full at the same "
                  "seed), the noise of training. `verdict`: `beyond noise` where p < 0.05 and "
                  "the interval excludes 0, `within noise` where either does not, `too few "
                  "seeds` under 2 shared seeds.", "",
                  f"| ablation | switches | n | {main} | Δ vs full | paired p | "
                  "seed-paired Δ 95% CI | verdict |",
                  "|---|---|---|---|---|---|---|---|",
                  f"| full | - | {_n(full)} | {_cell(full.stats[main])} | - | - | - | - |"]
        for r in ablated:
            cmp = _paired(r, full, main, resamples)
            interval = seed_paired_interval(r, full, main)
            lines.append(f"| {r.ablation} | {r.label} | {_n(r)} | {_cell(r.stats[main])} | "
                         f"{r.stats[main].mean - full.stats[main].mean:+.2f} | "
                         f"{cmp.p_text() if cmp else '-'} | "
                         f"{f'[{interval[0]:+.2f}, {interval[1]:+.2f}]' if interval else '-'} | "
                         f"{ablation_verdict(cmp, interval)} |")
        lines.append("")
    return lines


def seed_paired_interval(a: Row, b: Row, metric: str) -> tuple[float, float] | None:
    """The 95% Student's t interval of ``a - b`` over the seeds both rows ran, each seed's
    difference taken between the two runs of that seed; None under 2 shared seeds."""
    va = dict(zip(a.seeds, a.values[metric], strict=True))
    vb = dict(zip(b.seeds, b.values[metric], strict=True))
    diffs = [va[s] - vb[s] for s in sorted(va.keys() & vb.keys())]
    if len(diffs) < 2:
        return None
    stat = Stat.of(diffs)
    assert stat.ci95 is not None
    return stat.mean - stat.ci95, stat.mean + stat.ci95


def ablation_verdict(cmp: Any, interval: tuple[float, float] | None) -> str:
    """Whether an ablation changed the result beyond both the test set's and the seeds'
    noise: the paired bootstrap significant at 5% and the seed-paired interval excluding 0.
    A missing bootstrap (no predictions on disk) leaves the interval to decide."""
    if interval is None:
        return "too few seeds"
    seeds = interval[0] > 0 or interval[1] < 0
    clips = cmp is None or cmp.significant(0.05)
    return "beyond noise" if seeds and clips else "within noise"


def _without_fraction(label: str) -> str:
    return ", ".join(p for p in label.split(", ") if p and not p.startswith(FRACTION + "="))


def _label_efficiency(members: list[Row], main: str) -> list[str]:
    """The same configurations at several fractions of the labelled training data."""
    fractions = sorted({r.fraction for r in members})
    if len(fractions) < 2:
        return []
    groups: dict[tuple[str, str], dict[float, Row]] = {}
    for r in members:
        rest = {k: v for k, v in r.records[0].flat.items() if k != FRACTION}
        key = (r.method, json.dumps(rest, sort_keys=True, default=str))
        groups.setdefault(key, {})[r.fraction] = r
    bench = members[0].bench
    lines = [f"### Label efficiency on {bench}", "",
             f"{main} (mean ± std, n) by the fraction of labelled training clips used for "
             "fine-tuning (`data.train_fraction`); pre-training data unchanged.", "",
             "| method | config | " + " | ".join(f"{f:g}" for f in fractions) + " |",
             "|---|---|" + "---|" * len(fractions)]
    for (method, _), by_fraction in sorted(groups.items(), key=lambda kv: (
            kv[0][0], _without_fraction(next(iter(kv[1].values())).label))):
        if len(by_fraction) < 2:
            continue
        label = _without_fraction(next(iter(by_fraction.values())).label) or "-"
        cells = [f"{_cell(by_fraction[f].stats[main])} ({len(by_fraction[f].seeds)})"
                 if f in by_fraction else "-" for f in fractions]
        lines.append(f"| {method} | {label} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def index_markdown(rows: list[Row], source: str, command: str, n_cells: int,
                   reported: str, found: bool) -> str:
    """leaderboards/README.md: what the tables are and how to regenerate them; ``reported``
    names the file of reported numbers the pages show, unless it was not ``found``."""
    lines = ["# Leaderboards", "",
             f"Built from {n_cells} finished cells ({source}). Regenerate with:",
             "", "```bash", command, "```",
             "", "| task | benchmarks | rows | page |", "|---|---|---|---|"]
    for task in TASK_TITLES:
        mine = [r for r in rows if r.task == task]
        benches = ", ".join(sorted({r.bench for r in mine})) or "-"
        lines.append(f"| {TASK_TITLES[task]} | {benches} | {len(mine)} | [{task}.md]({task}.md) |")
    if not found:
        lines += ["", f"No reported numbers: {reported} is missing, so the pages show none; "
                  "`--reported PATH` names a file of them."]
    else:
        lines += ["", f"`{reported}` holds the numbers papers report, curated from the "
                  "project's design notes with their sources: `method` is the harness method "
                  "it compares with (empty when the harness has none), `paper_method` the name "
                  "in the paper, `bench` the harness benchmark with its subset, `metric` the "
                  "harness metric name, `protocol` the harness metric protocol that computes "
                  "the number as the paper did, with the options it depends on as signatures "
                  "write them (`bleu-13a|rouge:unisign`), or `unknown`, `input` what the "
                  "paper's model saw, `confidence` verified (re-scored or read from the "
                  "authors' release) or secondary (quoted by a summary). A row shows a "
                  "paper's number only for the same method as published, benchmark, split, "
                  "input and protocol (never an `unknown` one), and its difference only where "
                  "the row has no marks (complete data, a preset meant for the benchmark, "
                  "committed code)."]
    synthetic = sorted({r.bench for r in rows if r.synthetic})
    if synthetic:
        lines += ["", f"{', '.join(synthetic)} are SynthSign, the harness's synthetic "
                  "data: their numbers test the machinery and compare methods on synthetic "
                  "signing, and say nothing about real sign language data."]
    lines.append("")
    return "\n".join(lines)


# -- sources and writing -----------------------------------------------------------------------

def tracking_uri(explicit: str | None, results: Path) -> str | None:
    """The MLflow store to read: the flag, else $MLFLOW_TRACKING_URI, else the sqlite store
    under the results folder when it exists."""
    if explicit:
        return explicit
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    db = results / "mlflow.db"
    return f"sqlite:///{db.resolve()}" if db.is_file() else None


def command_path(value: str) -> str:
    """A path (or ``sqlite:///`` URI) as the regenerate command prints it: relative to the
    folder the command ran in, never a machine's absolute path."""
    if value.startswith("sqlite:///") and os.path.isabs(value[len("sqlite:///"):]):
        return "sqlite:///" + os.path.relpath(value[len("sqlite:///"):])
    return os.path.relpath(value) if os.path.isabs(value) else value


def gather(results: Path, uri: str | None, filters: list[tuple[str, bool, str]],
           out: Path = Path(".")) -> tuple[list[Record], str]:
    """The finished cells from MLflow, then the result files it lacks; and a description
    (local paths relative to the pages' folder ``out``)."""
    tracked = from_mlflow(uri) if uri else []
    keys = {r.result["cell_key"] for r in tracked}
    files = [r for r in from_results(results) if r.result["cell_key"] not in keys] \
        if results.is_dir() else []
    if uri is None and not results.is_dir():
        raise UserError(f"--results {results} is not a folder and no --tracking-uri was "
                        "given; point at a cells folder or an MLflow store")
    parts = [f"{len(tracked)} from MLflow `{_shown(uri, out)}`"] if uri else []
    if files or not uri:
        parts.append(f"{len(files)} from the result files under "
                     f"`{_shown(str(results.resolve()), out)}`")
    return select(tracked + files, filters), ", ".join(parts)


def write_leaderboards(results: Path, out: Path, reported_path: Path | None = None, *,
                       uri: str | None = None, filters: list[tuple[str, bool, str]] = (),
                       resamples: int = 1000, plots: bool = True, command: str = ""
                       ) -> list[Path]:
    """Write the task pages, their plots and the index; returns the files written. The
    reported numbers come from ``reported_path``, else the harness's ``REPORTED``; where
    that is missing, a warning says so and the pages show none."""
    records, source = gather(results, uri, list(filters), out)
    reported_path = reported_path or REPORTED
    reported = read_reported(reported_path) if reported_path.is_file() else None
    if reported is None:
        print(f"warning: {reported_path} is missing: the pages show no reported numbers; "
              "--reported PATH names a file of them", file=sys.stderr)
    # beside the pages (the committed leaderboards/), the index names it by its file name
    shown = "reported.csv" if reported is not None \
        and reported_path.resolve() == (out / "reported.csv").resolve() \
        else _shown(str(reported_path.resolve()), out)
    rows = build_rows(records)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[Path, bytes] = {}  # written together: a full disk leaves the old set whole
    tables = {}  # the plotted rows of each table
    if plots:
        from harness.analysis.plots import plotted

        tables = {t: m for t in sorted({r.table for r in rows})
                  if (m := plotted([r for r in rows if r.table == t]))}
    names = {table: plot_name(*table) for table in tables}
    # the plots are drawn in a forked process while this one compares the rows
    drawn = Forked(lambda: {names[t]: _plot(members) for t, members in tables.items()}) \
        if tables else None
    from harness.analysis.significance import prefetch, serial_blas

    if resamples:  # every cell with predictions read and resampled once, up front
        prefetch([r.folder for row in rows for r in row.records
                  if r.predictions() is not None], n_resamples=resamples)
    with serial_blas():  # the paired comparisons: many small matrix products
        for task in TASK_TITLES:
            files[out / f"{task}.md"] = task_markdown(
                task, [r for r in rows if r.task == task], reported or [], resamples, names,
                out).encode("utf-8")
    files[out / "README.md"] = index_markdown(
        rows, source,
        command or f"python -m harness leaderboard --results {command_path(str(results))}",
        len(records), shown, reported is not None).encode("utf-8")
    if drawn is not None:
        (out / "plots").mkdir(exist_ok=True)
        files.update({out / "plots" / name: png for name, png in drawn.result().items()})
    atomic.write_all(files)
    return list(files)


def _plot(rows: list[Row]) -> bytes:
    """The PNG of one table's plotted rows."""
    from harness.analysis.plots import table_plot

    return table_plot(rows, rows[0].main)


class Forked:
    """``fn()`` computed in a forked child process while the caller goes on, on machines
    with a second core (with one, ``result`` computes it in place). Where the child fails
    or dies, ``result`` computes it in place too, so that an error is raised here, with its
    traceback, and never lost in the child."""

    def __init__(self, fn: Any) -> None:
        import multiprocessing

        self.fn, self.proc = fn, None
        if len(os.sched_getaffinity(0)) < 2:
            return
        ctx = multiprocessing.get_context("fork")
        self.recv, send = ctx.Pipe(duplex=False)
        self.proc = ctx.Process(target=_forked_child, args=(fn, send), daemon=True)
        self.proc.start()
        send.close()

    def result(self) -> Any:
        """What ``fn()`` returned."""
        if self.proc is None:
            return self.fn()
        try:
            ok, value = self.recv.recv()
        except (EOFError, OSError):  # the child died before it could answer
            ok, value = False, None
        finally:
            self.recv.close()
            self.proc.join()
        return value if ok else self.fn()


def _forked_child(fn: Any, send: Any) -> None:
    try:
        answer = (True, fn())
    except BaseException:  # the parent computes it again and raises it there
        answer = (False, None)
    send.send(answer)
    send.close()
