"""Command line: ``python -m harness COMMAND ...`` (``python -m harness`` alone: the usage).

Imports are lazy: ``list`` never loads torch, and the names that help texts and choices list
(methods, benchmarks, pose formats) are looked up only when they are shown or checked.
Errors the user can cause end in one line on stderr and exit code 2. Results go to stdout,
progress and warnings to stderr. Option names: ``--out`` is where a command writes,
``--results`` the folder of finished cells it reads.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from harness.errors import DataError, UserError


class _Formatter(argparse.HelpFormatter):
    """Help text wrapped between words only, so that names such as synth-islr stay whole."""

    def _split_lines(self, text: str, width: int) -> list[str]:
        return textwrap.wrap(" ".join(text.split()), width, break_on_hyphens=False)


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line and exit code 2."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _at_least(least: int) -> Any:
    """An argparse type: an integer >= ``least``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"expected an integer >= {least}, got {value}")
        return value

    return parse


class _Names(Sequence[str]):
    """Names (of methods, benchmarks, pose formats) looked up on first use: finding them
    imports their packages (numpy and more), which a command that shows or checks none of
    them does not pay for."""

    def __init__(self, load: Callable[[], Sequence[str]]) -> None:
        self._load = load
        self._names: list[str] | None = None

    def _get(self) -> list[str]:
        if self._names is None:
            self._names = list(self._load())
        return self._names

    def __getitem__(self, index: Any) -> Any:
        return self._get()[index]

    def __len__(self) -> int:
        return len(self._get())

    def __str__(self) -> str:
        return ", ".join(self._get())


def _method_names() -> list[str]:
    from harness.core.registry import METHODS

    return METHODS.names()


def _bench_names() -> list[str]:
    from harness.core.registry import BENCHMARKS

    return BENCHMARKS.names()


def _pose_formats() -> Sequence[str]:
    from harness.core.registry import POSE_FORMATS

    formats = POSE_FORMATS.entries()
    return sorted(formats, key=lambda name: formats[name].rank)  # the order detection tries


METHOD_NAMES, BENCH_NAMES, POSE_FORMATS = (_Names(_method_names), _Names(_bench_names),
                                           _Names(_pose_formats))


def _help(action: argparse.Action, text: str, names: _Names) -> None:
    """Give ``action`` its help once it is added (``%(names)s`` in ``text``: ``names``), so
    that no parser looks the names up while it is built (Python 3.14's argparse expands a
    help text given to add_argument at once)."""
    action.names = names  # type: ignore[attr-defined]
    action.help = text


class _Version(argparse.Action):
    """``--version``: the package version and, in a git checkout, the commit."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS,
                 **kwargs: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace,
                 values: Any, option_string: str | None = None) -> NoReturn:
        from harness import __version__
        from harness.io.provenance import code_version

        code = code_version()
        line = f"slu-harness {code['package_version'] or __version__}"
        if code["git_sha"]:
            line += f" (git {code['git_sha'][:12]}" + (", uncommitted changes)"
                                                       if code["dirty"] else ")")
        print(line)
        parser.exit(0)


def _overrides(args: argparse.Namespace) -> list[str]:
    return [item for group in (args.set or []) for item in group]


def cmd_list(args: argparse.Namespace) -> int:
    """Print the registered methods and benchmarks with their task types."""
    from harness.cell.runner import resolve_bench_config
    from harness.core.registry import BENCHMARKS, METHODS
    from harness.data.benchmark import data_root, shortfall
    from harness.data.store import PoseStore

    methods = {name: {"tasks": list(cls.tasks), "presets": cls.presets(),
                      "pretraining": cls.has_pretraining, "summary": cls.summary}
               for name, cls in METHODS.entries().items()}
    root = data_root(args.data_root)
    benches = {}
    for name, cls in BENCHMARKS.entries().items():
        bench = cls(resolve_bench_config(name, []), root=root)
        benches[name] = {"task": cls.task, "version": cls.version, "summary": cls.summary,
                         "prepared": bench.is_prepared()}
        if benches[name]["prepared"]:  # its splits against the expected clip counts
            try:
                counts = PoseStore(bench.store_dir(), verify=False).splits()
            except DataError as exc:
                benches[name]["problem"] = str(exc)
            else:
                benches[name].update(bench.completeness(counts))
    if args.json:
        print(json.dumps({"methods": methods, "benchmarks": benches}, indent=2))
        return 0
    if args.markdown:
        print(markdown_tables(), end="")
        return 0
    print("methods:")
    for name, m in methods.items():
        print(f"  {name:<12} tasks: {','.join(m['tasks']):<14} presets: "
              f"{','.join(m['presets']):<24} {m['summary']}")
    print(f"benchmarks (data root: {root}):")
    for name, b in benches.items():
        state = "prepared" if b["prepared"] else "not prepared"
        note = None
        if "problem" in b:
            state, note = "unreadable", b["problem"]
        elif b.get("complete") is False:
            state = "incomplete"
            note = (f"the prepared store has {shortfall(b)} clips expected: its numbers are "
                    "not comparable with papers'")
        print(f"  {name:<17} task: {b['task']:<5} {b['version']:<12} {state:<13} {b['summary']}")
        if note:
            print(f"  {'':<17} {note}")
    return 0


def markdown_tables() -> str:
    """The registries as markdown tables (methods, benchmarks with their expected clip counts
    and default protocols, metric protocols): what ``list --markdown`` prints and what
    docs/benchmarks.md holds between its ``list --markdown`` markers (a test keeps them
    equal). Nothing in them depends on this machine's data."""
    from harness.cell.runner import resolve_bench_config
    from harness.core.registry import BENCHMARKS, METHODS, PROTOCOLS

    def cell(text: object) -> str:
        return " ".join(str(text).split()).replace("|", "\\|")

    lines = ["| method | tasks | presets | pre-training | what it is |", "|---|---|---|---|---|"]
    for name, cls in METHODS.entries().items():
        lines.append(f"| `{name}` | {', '.join(t.upper() for t in cls.tasks)} | "
                     f"{', '.join(cls.presets())} | {'yes' if cls.has_pretraining else 'no'} | "
                     f"{cell(cls.summary)} |")
    lines += ["", "| benchmark | task | version | expected train / dev / test | default "
              "protocol | what it is |", "|---|---|---|---|---|---|"]
    for name, cls in BENCHMARKS.entries().items():
        bench = cls(resolve_bench_config(name, []), root=Path("."))
        expected = bench.expected_counts()
        counts = " / ".join(f"{expected[s]:,}" if s in expected else "-"
                            for s in ("train", "dev", "test")) if expected else "generated"
        protocol = bench.metric_protocol().name
        lines.append(f"| `{name}` | {cls.task.upper()} | {cls.version} | {counts} | "
                     f"`{protocol}` | {cell(cls.summary)} |")
    lines += ["", "| protocol | task | headline metrics | selects on | what it is |",
              "|---|---|---|---|---|"]
    for name, cls in PROTOCOLS.entries().items():
        protocol = cls()
        direction = "higher" if protocol.higher_is_better(protocol.selection) else "lower"
        lines.append(f"| `{name}` | {cls.task.upper()} | {', '.join(cls.headline)} | "
                     f"{cls.selection} ({direction} is better) | {cell(cls.summary)} |")
    return "\n".join(lines) + "\n"


def cmd_run(args: argparse.Namespace) -> int:
    """Run one cell and print where its results are."""
    from harness.cell.runner import RunOptions, run_cell

    opts = RunOptions(method=args.method, bench=args.bench, seed=args.seed, preset=args.preset,
                      overrides=_overrides(args),
                      config_file=Path(args.config) if args.config else None,
                      out=Path(args.out),
                      tracking_uri=args.tracking_uri,
                      data_root=Path(args.data_root) if args.data_root else None,
                      force=args.force, device=args.device, threads=args.threads,
                      loader_workers=args.loader_workers,
                      quiet=args.quiet, keep_last=args.keep_last)
    outcome = run_cell(opts)
    if not outcome.main:  # another rank of a data-parallel cell: rank 0 reports
        return 0
    from harness.cell.results import ordered_metrics

    result, path = outcome.result, outcome.path
    test = ordered_metrics(result, "test")
    note = " (already finished; --force reruns it)" if outcome.skipped else ""
    print(f"{result['method']} on {result['bench']} (seed {result['seed']}): "
          + ", ".join(f"{k} {v:.2f}" for k, v in test.items()) + note)
    print(f"result: {path}")
    print(f"predictions: {path.parent / 'predictions'}")
    print(f"mlflow: {result['mlflow']['tracking_uri']} run {result['mlflow']['run_id']}")
    return 0


def cmd_config(args: argparse.Namespace) -> int:
    """Print the resolved config that ``run`` would use for a cell, with its config hash."""
    from harness.cell.runner import check_values, resolve_config
    from harness.core.config import config_hash, file_record

    config_file = Path(args.config) if args.config else None
    cfg = resolve_config(args.method, args.bench, args.preset, _overrides(args), config_file)
    check_values(cfg)
    chash = config_hash(cfg)
    record = file_record(config_file) if config_file else None
    if args.json:
        shown: dict[str, Any] = {"config_hash": chash, "config": cfg}
        if record:
            shown["config_file"] = record
        print(json.dumps(shown, indent=2, sort_keys=True))
        return 0
    print(f"# {args.method} on {args.bench}, preset {args.preset}: config_hash {chash}")
    if record:
        print(f"# config file {record['path']} (sha256 {record['sha256']})")
    print(json.dumps(cfg, indent=2, sort_keys=True))
    return 0


def cmd_prepare(args: argparse.Namespace) -> int:
    """Prepare a benchmark's store from source files (or generate a synthetic one)."""
    from harness.cell.runner import resolve_bench_config
    from harness.core.registry import BENCHMARKS

    cls = BENCHMARKS.get(args.bench)
    cfg = resolve_bench_config(args.bench, _overrides(args))
    bench = cls(cfg, root=Path(args.data_root) if args.data_root else None)
    source = Path(args.source) if args.source else None
    if source is not None and not source.exists():
        raise UserError(f"--source {source} does not exist")
    options: dict[str, Any] = {"format": args.format,
                               "labels": Path(args.labels) if args.labels else None}
    path = bench.prepare(source, force=args.force, **options)
    from harness.data.store import PoseStore

    store = PoseStore(path, verify=False)
    report = getattr(bench, "last_report", None)
    if report is not None:
        print(report.to_text())
    elif source is not None:
        print(f"{args.bench} is already prepared; --force prepares it again")
    counts = ", ".join(f"{k} {v}" for k, v in sorted(store.splits().items()))
    print(f"{args.bench}: {len(store)} clips ({counts}) in {path}")
    print(f"fingerprint: {store.fingerprint}")
    return 0


def cmd_summary(args: argparse.Namespace) -> int:
    """Print mean and spread over seeds of the finished cells under --results."""
    from harness.analysis.summary import finished_results, summary_table

    results = finished_results(Path(args.results))
    if not results:
        raise UserError(f"no finished cells under {args.results}")
    print(summary_table(results, args.split), end="")
    return 0


def cmd_list_cells(args: argparse.Namespace) -> int:
    """Print every cell under --results by a readable name, with its state, size and folder."""
    from harness.cell.listing import find_cells, render

    print(render(find_cells(Path(args.results)), args.json), end="")
    return 0


def cmd_throughput(args: argparse.Namespace) -> int:
    """Time training steps of each stage of a method on a benchmark."""
    import platform

    from harness.cli.throughput import measure

    rows = measure(args.method, args.bench, args.preset, _overrides(args), args.steps,
                   args.warmup, Path(args.data_root) if args.data_root else None,
                   Path(args.config) if args.config else None)
    print(f"{args.method} ({args.preset}) on {args.bench}, {platform.processor() or 'cpu'}, "
          f"{rows[0]['threads']} threads, {args.steps} steps after {args.warmup} warm-up:")
    for row in rows:
        print(f"  {row['stage']:<18} batch {row['batch_size']:.0f} x <= {row['max_frames']} "
              f"frames: {row['samples_per_s']:.1f} samples/s ({row['s_per_step']:.2f} s/step)")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    """Score prediction files with a benchmark's metric protocol and print the signatures."""
    from harness.analysis.score import render, score_files

    report = score_files(args.bench, args.protocol, Path(args.ref), Path(args.hyp),
                         _overrides(args), args.ref_format or args.format,
                         args.hyp_format or args.format)
    print(render(report, args.json), end="")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    """Write the markdown leaderboards and plots of the finished cells."""
    import shlex

    from harness.analysis.leaderboard import command_path, tracking_uri, write_leaderboards
    from harness.analysis.records import parse_filters

    results = Path(args.results)
    if args.reported and not Path(args.reported).is_file():
        raise UserError(f"--reported {args.reported} is not a file; give the curated numbers "
                        f"(a CSV like leaderboards/reported.csv) or leave the flag out")
    # the command to regenerate the pages, as the index prints it: no absolute paths
    command = ["python", "-m", "harness", "leaderboard", "--results",
               command_path(args.results)]
    if args.tracking_uri:
        command += ["--tracking-uri", command_path(args.tracking_uri)]
    if args.files_only:
        command.append("--files-only")
    if args.filter:
        command += ["--filter", *args.filter]
    if args.out != "leaderboards":
        command += ["--out", command_path(args.out)]
    if args.reported:
        command += ["--reported", command_path(args.reported)]
    written = write_leaderboards(
        results, Path(args.out), Path(args.reported) if args.reported else None,
        uri=None if args.files_only else tracking_uri(args.tracking_uri, results),
        filters=parse_filters(args.filter or []),
        resamples=args.resamples, plots=not args.no_plots, command=shlex.join(command))
    for path in written:
        print(f"wrote {path}")
    return 0


def cmd_perf(args: argparse.Namespace) -> int:
    """The performance suite moved out of the engine: say where."""
    raise UserError("perf is a developer tool of the repository now: run python -m "
                    "tools.perf [--quick] [--json] [--device cuda] from its root")


def cmd_reproduce(args: argparse.Namespace) -> int:
    """Re-run a recorded cell and print recorded against reproduced metrics."""
    from harness.cell.reproduce import report, reproduce

    done = reproduce(args.target, tolerance=args.tolerance,
                     out=Path(args.out) if args.out else None, tracking_uri=args.tracking_uri,
                     data_root=Path(args.data_root) if args.data_root else None,
                     threads=args.threads)
    print(report(done), end="")
    return 0 if done.agree else 1


def cmd_sweep(args: argparse.Namespace) -> int:
    """Submit a sweep's unfinished cells, or print its plan (--dry-run) or its cells' states."""
    from harness.sweep import grid as sweep

    if args.target == "status" and args.spec is None:
        raise UserError("sweep status needs a spec: python -m harness sweep status SPEC")
    if args.target != "status" and args.spec is not None:
        raise UserError(f"unexpected {args.spec!r}: use 'sweep SPEC' or 'sweep status SPEC'")
    if args.max is not None and args.max < 0:
        raise UserError(f"--max {args.max}: expected a number of cells >= 0")
    path = args.spec if args.target == "status" else args.target
    spec = sweep.load_spec(path)
    root = Path(args.data_root) if args.data_root else None
    if args.target == "status":
        states = sweep.status(spec, root)
        print(f"sweep {spec.name} ({path}): {sweep.counts(states)}")
        print(sweep.table(states, spec), end="")
        return 0
    if args.dry_run:
        states = sweep.status(spec, root)
        todo = sweep.to_submit(states, args.max)
        print(f"sweep {spec.name} ({path}): {sweep.counts(states)}; preset {spec.preset}, "
              f"out {spec.out}")
        print(f"overrides of every cell: {' '.join(spec.set) or '-'}")
        print(sweep.table(states, spec, overrides=True), end="")
        params = sweep.executor_parameters(spec, args.executor, args.profile,
                                           threads=args.threads, parallel=args.parallel)
        print(f"executor {args.executor}, parameters: {json.dumps(params, sort_keys=True)}")
        if limit := sweep.local_slots(spec, args.executor, args.parallel):
            print(f"at most {limit} cells at once (the others wait for a slot)")
        if args.executor == "slurm" and todo:
            print("sbatch script:")
            print(sweep.sbatch_script(spec, params, len(todo)), end="")
        print(f"dry run: would submit {len(todo)} cells; nothing submitted")
        return 0
    done = sweep.submit(spec, args.executor, profile=args.profile, max_cells=args.max,
                        data_root=root, tracking_uri=args.tracking_uri, threads=args.threads,
                        parallel=args.parallel)
    sent = {s.key for s in done.submitted}
    finished = sum(s.state == "finished" for s in done.states if s.key not in sent)
    queued = sum(s.state in ("running", "pending") for s in done.states if s.key not in sent)
    print(f"sweep {spec.name} ({path}): {len(done.states)} cells, {finished} finished "
          f"(skipped), {queued} running or pending (left alone), {len(done.submitted)} "
          f"submitted to {args.executor}")
    if done.submitted and args.executor != "debug":
        print(f"executor parameters: {json.dumps(done.parameters, sort_keys=True)}")
        if done.slots:
            print(f"at most {done.slots} cells at once; the others wait for a slot "
                  "(state pending)")
    for s in done.submitted:  # the debug executor has run them already
        ran = f" {s.state}" + (f": {s.detail}" if s.detail else "")
        print(f"  {s.cell.method} {s.cell.bench} seed {s.cell.seed} {s.cell.label}".rstrip()
              + f"  key {s.key}  job {s.job_id}" + (ran if args.executor == "debug" else ""))
    if done.submitted:
        if args.executor != "debug":
            print(f"job logs: {spec.jobs_dir}/<job id>_0_log.out and .err")
        print(f"cell logs: {spec.out}/cells/<bench>/<method>/<cell key>/log.txt")
        print(f"code: {done.code}")
        print(f"records: {spec.records}")
    print(f"state of every cell: python -m harness sweep status {path}")
    failed = sum(s.state == "failed" for s in done.submitted)  # debug runs cells right here
    if failed:
        print(f"error: {failed} of the cells run in this process failed", file=sys.stderr)
    return 1 if failed else 0


def _cell_options(p: argparse.ArgumentParser, method: str, bench: str) -> None:
    """--method and --bench, their help naming the registered ones."""
    _help(p.add_argument("--method", required=True, metavar="METHOD"),
          f"{method}: %(names)s", METHOD_NAMES)
    _help(p.add_argument("--bench", required=True, metavar="BENCH"),
          f"{bench}: %(names)s", BENCH_NAMES)


def _config_options(p: argparse.ArgumentParser) -> None:
    """--preset, --config and --set: what makes a cell's resolved config, in that order."""
    p.add_argument("--preset", default="smoke", help="method preset (default smoke; list "
                                                     "shows each method's presets)")
    p.add_argument("--config", metavar="FILE", help="your own config file (.py as the "
                   "presets are written, or .yaml/.json), merged over the preset before any "
                   "--set; a key the preset lacks must be listed in its _new_keys_")
    p.add_argument("--set", action="append", nargs="+", metavar="KEY=VALUE",
                   help="override a config value, e.g. finetune.epochs=3 ('+KEY=VALUE' adds "
                        "a new key)")


def _data_root_option(p: argparse.ArgumentParser) -> None:
    """--data-root: where the prepared stores are."""
    p.add_argument("--data-root", help="where prepared stores live (default $HARNESS_DATA "
                                       "or ./data)")


def _threads_option(p: argparse.ArgumentParser, text: str = "torch CPU threads") -> None:
    """--threads: torch's intra-op threads."""
    p.add_argument("--threads", type=_at_least(1), help=text)


def _json_option(p: argparse.ArgumentParser, text: str = "machine-readable output") -> None:
    """--json: the output as JSON, for a program."""
    p.add_argument("--json", action="store_true", help=text)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the harness CLI."""
    parser = _Parser(prog="python -m harness",
                     description="Benchmark and reproducibility harness for skeleton-based "
                                 "sign language understanding.")
    parser.add_argument("--version", action=_Version, help="print the harness's version (and "
                        "git commit in a checkout) and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser,
                                title="commands (python -m harness COMMAND --help for each)")

    p = sub.add_parser("list", help="methods and benchmarks with their task types")
    _json_option(p)
    p.add_argument("--markdown", action="store_true", help="the methods, benchmarks (expected "
                   "clip counts, default protocol) and metric protocols as markdown tables")
    _data_root_option(p)
    p.set_defaults(func=cmd_list)

    p = sub.add_parser("run", help="run one cell: train, select on dev, evaluate, record")
    _cell_options(p, "the method to run", "the benchmark to run it on")
    p.add_argument("--seed", type=int, default=0, help="random seed of the cell (default 0); "
                                                       "each seed is a cell of its own")
    _config_options(p)
    p.add_argument("--out", default="outputs", help="where the cell is written: "
                   "cells/<bench>/<method>/<key>/, the shared pre-trainings and the MLflow "
                   "store (default ./outputs)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI "
                                          "or sqlite under --out)")
    _data_root_option(p)
    p.add_argument("--force", action="store_true", help="rerun a finished cell from scratch")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    _threads_option(p)
    p.add_argument("--loader-workers", type=_at_least(0), default=0,
                   help="build batches in this many processes (default 0: in a background "
                        "thread, which keeps up with CPU training; see docs/performance.md)")
    p.add_argument("--quiet", action="store_true", help="no progress lines or bars")
    p.add_argument("--keep-last", action="store_true", help="keep the finished cell's "
                   "finetune.last.pt (default: deleted; finetune.best.pt is always kept)")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("config", help="print the resolved config (and its hash) that run "
                                      "would use for a cell")
    _cell_options(p, "the method", "the benchmark")
    _config_options(p)
    _json_option(p, "one JSON object: config_hash, config (and config_file with --config)")
    p.set_defaults(func=cmd_config)

    p = sub.add_parser("prepare", help="convert a benchmark's pose files into the store")
    _help(p.add_argument("bench", metavar="BENCH"), "the benchmark to prepare: %(names)s",
          BENCH_NAMES)
    p.add_argument("--source", help="folder or file with the published pose data, or a "
                                    "tar/zip archive of it (extracted safely)")
    _help(p.add_argument("--format", choices=POSE_FORMATS, metavar="FORMAT"),
          "pose format of --source, one of: %(choices)s (detected when not given)",
          POSE_FORMATS)
    p.add_argument("--labels", help="label / annotation file or folder, or an archive")
    p.add_argument("--set", action="append", nargs="+", metavar="KEY=VALUE",
                   help="override a benchmark config value (e.g. data.synth.vocab_size=20)")
    _data_root_option(p)
    p.add_argument("--force", action="store_true", help="replace an existing store")
    p.set_defaults(func=cmd_prepare)
    p = sub.add_parser("throughput", help="training samples/s of each stage of a method "
                                          "on a benchmark, on this machine")
    _cell_options(p, "the method to time", "the benchmark whose prepared data feeds it")
    _config_options(p)
    p.add_argument("--steps", type=_at_least(1), default=10,
                   help="optimiser steps timed per stage (default 10)")
    p.add_argument("--warmup", type=_at_least(0), default=2,
                   help="untimed steps before them (default 2)")
    _data_root_option(p)
    p.set_defaults(func=cmd_throughput)

    p = sub.add_parser("summary", help="mean and spread over seeds of finished cells")
    p.add_argument("--results", "--out", dest="results", default="outputs",
                   help="folder of the finished cells, run's --out (default ./outputs; "
                        "--out is the deprecated spelling)")
    p.add_argument("--split", default="test", choices=["dev", "test"],
                   help="the split whose metrics are summarised: %(choices)s (default test)")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("list-cells", help="the cells under --results by readable name "
                                          "(method/bench/seed/key), state, size and folder")
    p.add_argument("--results", default="outputs", help="output folder of the runs "
                                                        "(default ./outputs)")
    _json_option(p)
    p.set_defaults(func=cmd_list_cells)

    p = sub.add_parser("score", help="score prediction files with a benchmark's metric protocol")
    _help(p.add_argument("--bench", required=True, metavar="BENCH"),
          "the benchmark whose metric protocol scores the files: %(names)s", BENCH_NAMES)
    p.add_argument("--protocol", help="metric protocol of the benchmark's task (default: the "
                                      "benchmark's own)")
    p.add_argument("--ref", required=True, help="references: .json {id: text}, .jsonl/.csv "
                                                "with id and reference (or text), plain text "
                                                "(one clip per line), Uni-Sign's "
                                                "*_tmp_refs.txt or an STM file")
    p.add_argument("--hyp", required=True, help="hypotheses, the same forms (prediction or "
                                                "text field; ISLR: a label or a ranked list), "
                                                "Uni-Sign's *_tmp_pres.txt or a CTM file")
    from harness.analysis.score import FORMATS
    p.add_argument("--format", choices=FORMATS, default="auto", help="format of both files "
                   "(default auto: a Uni-Sign, CTM or STM dump by its lines, else by the "
                   "suffix, else plain lines)")
    p.add_argument("--ref-format", choices=FORMATS, help="format of --ref (default --format)")
    p.add_argument("--hyp-format", choices=FORMATS, help="format of --hyp (default --format)")
    _json_option(p)
    p.add_argument("--set", action="append", nargs="+", metavar="KEY=VALUE",
                   help="override a benchmark config value, e.g. +eval.confusing_classes=[...]")
    p.set_defaults(func=cmd_score)

    p = sub.add_parser("leaderboard", help="write markdown tables (one per task and an "
                                           "index) and plots of the finished cells")
    p.add_argument("--results", default="outputs", help="output folder of the cells "
                                                        "(default ./outputs)")
    p.add_argument("--tracking-uri", help="MLflow store to read the runs from (default: "
                                          "$MLFLOW_TRACKING_URI, else <results>/mlflow.db "
                                          "when it exists); result files fill in the rest")
    p.add_argument("--files-only", action="store_true", help="read the result files under "
                                                             "--results only, not MLflow")
    p.add_argument("--filter", nargs="+", action="extend", metavar="KEY=VALUE",
                   help="keep cells where a result field or dotted config key equals (=) "
                        "or differs from (!=) a value, e.g. method=sigma bench.subset=2000")
    p.add_argument("--out", default="leaderboards", help="where the tables go "
                                                         "(default ./leaderboards)")
    p.add_argument("--reported", help="the curated reported numbers (default: the "
                                      "harness's leaderboards/reported.csv, wherever --out is)")
    p.add_argument("--resamples", type=_at_least(0), default=1000,
                   help="paired bootstrap resamples (0: no comparisons)")
    p.add_argument("--no-plots", action="store_true", help="write no PNG plots")
    p.set_defaults(func=cmd_leaderboard)

    p = sub.add_parser("perf", help="moved: python -m tools.perf (a developer tool in the "
                                    "repository)", add_help=False, prefix_chars="+")
    p.add_argument("rest", nargs="*", help=argparse.SUPPRESS)  # any options: see the pointer
    p.set_defaults(func=cmd_perf)

    p = sub.add_parser("reproduce", help="re-run a finished cell from its recording and "
                                         "compare the metrics (exit 1 when they differ)")
    p.add_argument("target", metavar="RESULT_JSON|RUN_ID", help="a cell's result.json (or "
                   "its folder), or an MLflow run id")
    p.add_argument("--tolerance", type=float, default=0.0, help="largest accepted absolute "
                   "difference per metric (default 0: identical)")
    p.add_argument("--out", help="fresh output folder for the re-run (default: a temporary "
                                 "one)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI to find RUN_ID in (default "
                                          "$MLFLOW_TRACKING_URI or ./outputs/mlflow.db)")
    _data_root_option(p)
    _threads_option(p)
    p.set_defaults(func=cmd_reproduce)

    p = sub.add_parser("sweep", help="submit a grid of cells from a spec file (skips finished "
                                     "ones), or 'sweep status SPEC'")
    p.add_argument("target", metavar="SPEC", help="sweep spec (.yaml or .py), or 'status' "
                                                  "followed by the spec")
    p.add_argument("spec", nargs="?", help=argparse.SUPPRESS)
    p.add_argument("--executor", choices=["slurm", "local", "debug"], default="slurm",
                   help="slurm (default), local (background processes on this machine) or "
                        "debug (in this process, one after another)")
    p.add_argument("--profile", help="cluster profile name or file (default: the spec's)")
    p.add_argument("--dry-run", action="store_true", help="print the cells, their keys and "
                   "states and the executor parameters; submit nothing")
    p.add_argument("--max", type=int, metavar="N", help="submit at most N cells")
    p.add_argument("--parallel", type=int, metavar="N",
                   help="run at most N cells at once (default: the spec's parallel, else "
                        "all): Slurm's array parallelism, or slots on --executor local")
    _threads_option(p, "torch CPU threads per cell (default: the spec's)")
    p.add_argument("--tracking-uri", help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI "
                                          "or sqlite under the spec's out)")
    _data_root_option(p)
    p.set_defaults(func=cmd_sweep)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a bare ``python -m harness``: the usage, as for a bad command
        parser.print_help(sys.stderr)
        return 2
    from harness.io import progress

    progress.set_quiet(getattr(args, "quiet", False) or getattr(args, "json", False))
    try:
        return args.func(args)
    except UserError as exc:
        message = " ".join(str(exc).split())
        print(f"error: {message}", file=sys.stderr)
        return exc.exit_code
    except OSError as exc:
        if exc.errno in (errno.EACCES, errno.EPERM) and exc.filename:
            print(f"error: permission denied: {exc.filename}; make it readable (and writable "
                  "where the harness writes) for you, or give another path", file=sys.stderr)
            return 2
        if exc.errno in (errno.ENOTDIR, errno.EEXIST) and exc.filename:
            print(f"error: {exc.filename}: a file is in the way of a folder the harness needs "
                  "there; give another path or move the file away", file=sys.stderr)
            return 2
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" writing {exc.filename}" if exc.filename else ""
        print(f"error: no space left on the device{where}; free some space and run the "
              "command again (finished cells and earlier files are untouched)",
              file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
