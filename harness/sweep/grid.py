"""Sweeps: a grid of cells from one spec file, submitted through submitit, safe to repeat.

A spec (YAML, or a python file read like the presets: ``harness.core.config.read_config_file``)
names::

    name: sigma_synth_islr          # default: the file's stem
    methods: [scratch, sigma]
    benches: [synth-islr]
    seeds: [0, 1, 2]
    preset: smoke                   # the methods' preset (default smoke)
    set: [finetune.epochs=20]       # overrides of every cell
    bench_set: {synth-islr: [finetune.batch_size=16]}   # per benchmark
    method_set: {ccl_slr: [model.ccl.queue_size=64]}    # per method
    variants:                       # named ablations; ``methods`` limits one to those methods
      - {name: full}
      - {name: no-pretraining, set: [pretrain.epochs=0], methods: [sigma]}
    grid: {finetune.lr: [0.001, 0.0003]}   # cartesian product, KEY=VALUE each
    out: outputs/sigma-synth-islr   # default outputs/<name>, relative to the current folder
    profile: cpu                    # a cluster profile (slurm/profiles/), or --profile
    threads: 2                      # torch CPU threads of each cell
    loader_workers: 4               # processes building each cell's batches (default 0:
                                    # a thread; pays where a GPU trains faster than it)
    parallel: 2                     # at most this many cells at once (or --parallel N): the
                                    # array's limit on Slurm, slots on --executor local

Cells = seeds x benches x methods x variants x grid points. A cell's overrides are ``set``,
then its benchmark's ``bench_set``, its method's ``method_set``, its variant's ``set``, then
its grid point. Its key is
computed as the runner computes it, so a cell that any run (a sweep, a script, ``harness
run``) finished under the same output folder is skipped, and one that was killed resumes from
its checkpoints. The key needs the benchmark's prepared data (its fingerprint): a cell whose
benchmark is not prepared has its config hash but no key yet (state ``needs data``, with
the command that prepares it), which a dry run shows and a submission refuses. Unfinished
cells go out as one job array; each job runs one cell (``CellJob``) and on preemption or
timeout requeues itself with its arguments only. With ``parallel`` N the local executor still
starts every job at once, but each waits (state ``pending``) for one of N slots
(``<out>/.sweeps/<name>/slots/``) before it imports the model code, so a workstation runs N
cells at a time; a job's wait counts against its ``timeout_min`` (24 h by default), after
which it requeues and waits again.

Bookkeeping lives in ``<out>/.sweeps/<name>/``: ``submissions.jsonl`` (one line per submitted
cell: key, job id, time), ``jobs/`` (submitit's pickles and the jobs' logs) and
``code-<time>/`` (the snapshot of the repository the jobs run from).
"""

from __future__ import annotations

import contextlib
import difflib
import itertools
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from submitit.helpers import Checkpointable, DelayedSubmission
from submitit.slurm.slurm import SlurmExecutor

from harness.cell.runner import CellRun, RunOptions
from harness.core.config import parse_override, short_hash
from harness.errors import ConfigError, DataError, UserError
from harness.io.locks import file_lock

EXECUTORS = ("slurm", "local", "debug")
SPEC_KEYS = ("name", "methods", "benches", "seeds", "preset", "set", "grid", "variants",
             "bench_set", "method_set", "out", "profile", "threads", "loader_workers",
             "parallel")
_VARIANT_KEYS = ("name", "set", "methods")
_METHOD_SECTIONS = ("model", "finetune", "pretrain", "precision", "method")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DEFAULT_PARAMETERS: dict[str, Any] = {"timeout_min": 24 * 60}
#: The state of a cell whose benchmark is not prepared: no data fingerprint, so no key yet.
NEEDS_DATA = "needs data"


@dataclass(frozen=True)
class Variant:
    """A named set of overrides, for all methods or only the listed ones."""

    name: str
    set: tuple[str, ...] = ()
    methods: tuple[str, ...] | None = None


@dataclass
class SweepSpec:
    """A validated sweep spec."""

    path: Path
    name: str
    methods: list[str]
    benches: list[str]
    seeds: list[int]
    preset: str = "smoke"
    set: list[str] = field(default_factory=list)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    variants: list[Variant] = field(default_factory=list)
    bench_set: dict[str, list[str]] = field(default_factory=dict)
    method_set: dict[str, list[str]] = field(default_factory=dict)
    out: Path = Path("outputs")
    profile: str | None = None
    threads: int | None = None
    loader_workers: int = 0
    parallel: int | None = None  # at most this many cells at once (None: no limit)

    @property
    def home(self) -> Path:
        """The sweep's bookkeeping folder, ``<out>/.sweeps/<name>``."""
        return self.out / ".sweeps" / self.name

    @property
    def records(self) -> Path:
        """The file that lists every submission."""
        return self.home / "submissions.jsonl"

    @property
    def jobs_dir(self) -> Path:
        """submitit's folder: pickles and the jobs' stdout/stderr."""
        return self.home / "jobs"


@dataclass(frozen=True)
class Cell:
    """One (method, benchmark, seed, overrides) of a sweep."""

    method: str
    bench: str
    seed: int
    overrides: tuple[str, ...]
    preset: str
    out: Path
    label: str = ""  # the variant and grid point, for people

    def options(self, **kwargs: Any) -> RunOptions:
        """The runner's options for this cell (``kwargs``: where and how fast it runs)."""
        return RunOptions(method=self.method, bench=self.bench, seed=self.seed,
                          preset=self.preset, overrides=list(self.overrides), out=self.out,
                          **kwargs)


@dataclass
class CellState:
    """Where a cell of a sweep stands."""

    cell: Cell
    key: str  # "" while the benchmark is not prepared (state NEEDS_DATA)
    cell_dir: Path | None
    state: str  # finished, running, pending, failed, unknown (cannot tell), not submitted,
    #             needs data
    job_id: str | None = None
    detail: str = ""
    config_hash: str = ""
    prepare: str = ""  # the command that prepares the cell's benchmark (state NEEDS_DATA)


# -- spec files ----------------------------------------------------------------------------

def _read(path: Path) -> Any:
    if not path.is_file():
        raise UserError(f"sweep spec {path} does not exist")
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            return yaml.safe_load(path.read_text(encoding="utf-8"))
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); save it as UTF-8"
                              ) from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if path.suffix == ".py":
        from harness.core.config import read_config_file

        raw = read_config_file(path)
        return {k: v for k, v in raw.items() if not k.startswith("_")}  # helpers
    raise UserError(f"sweep spec {path}: expected a .yaml, .yml or .py file")


def _names(raw: Any, what: str, path: Path, catalog: Any) -> list[str]:
    if not isinstance(raw, list) or not raw or not all(isinstance(n, str) for n in raw):
        raise ConfigError(f"{path}: {what} must be a non-empty list of names")
    if len(set(raw)) != len(raw):
        raise ConfigError(f"{path}: {what} lists a name twice")
    for name in raw:
        try:
            catalog.get(name)
        except UserError as exc:
            raise ConfigError(f"{path}: {what}: {exc}") from None
    return list(raw)


def _overrides(raw: Any, what: str, path: Path) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(o, str) for o in raw):
        raise ConfigError(f"{path}: {what} must be a list of KEY=VALUE strings")
    for text in raw:
        try:
            parse_override(text)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {what}: {exc}") from None
    return list(raw)


def _override_text(key: str, value: Any) -> str:
    """``KEY=VALUE`` as ``--set`` reads it (strings bare, like on the command line)."""
    return f"{key}={value}" if isinstance(value, str) else f"{key}={value!r}"


def _check_keys(raw: dict[str, Any], allowed: tuple[str, ...], where: str) -> None:
    for key in raw:
        if key not in allowed:
            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f"; did you mean {close[0]}?" if close else f" (known: {', '.join(allowed)})"
            raise ConfigError(f"{where}: unknown key {key!r}{hint}")


def load_spec(path: str | Path) -> SweepSpec:
    """Read and validate a sweep spec; errors are one line that names the file."""
    from harness.core.registry import BENCHMARKS, METHODS

    path = Path(path)
    raw = _read(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sweep settings at the top level")
    _check_keys(raw, SPEC_KEYS, str(path))
    name = raw.get("name", path.stem)
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{path}: name must be letters, digits, '.', '_' or '-'")
    methods = _names(raw.get("methods"), "methods", path, METHODS)
    benches = _names(raw.get("benches"), "benches", path, BENCHMARKS)
    seeds = raw.get("seeds")
    if (not isinstance(seeds, list) or not seeds
            or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds)
            or len(set(seeds)) != len(seeds)):
        raise ConfigError(f"{path}: seeds must be a non-empty list of distinct integers")
    preset = raw.get("preset", "smoke")
    if not isinstance(preset, str):
        raise ConfigError(f"{path}: preset must be a name such as smoke or paper")
    grid = raw.get("grid") or {}
    if not isinstance(grid, dict):
        raise ConfigError(f"{path}: grid must map KEY to a list of values")
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise ConfigError(f"{path}: grid {key}: expected a non-empty list of values")
        _overrides([_override_text(str(key), v) for v in values], f"grid {key}", path)
    variants = _variants(raw.get("variants"), methods, path)
    bench_set = _per_name(raw, "bench_set", benches, "benches", path)
    method_set = _per_name(raw, "method_set", methods, "methods", path)
    threads = raw.get("threads")
    if threads is not None and not _positive_int(threads):
        raise ConfigError(f"{path}: threads must be a positive integer")
    workers = raw.get("loader_workers", 0)
    if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
        raise ConfigError(f"{path}: loader_workers must be an integer >= 0")
    parallel = raw.get("parallel")
    if parallel is not None and not _positive_int(parallel):
        raise ConfigError(f"{path}: parallel must be a positive integer (cells at once)")
    profile = raw.get("profile")
    if profile is not None and not isinstance(profile, str):
        raise ConfigError(f"{path}: profile must be the name or path of a cluster profile")
    out = raw.get("out", f"outputs/{name}")
    if not isinstance(out, str) or not out:
        raise ConfigError(f"{path}: out must be a folder")
    return SweepSpec(path=path, name=name, methods=methods, benches=benches, seeds=list(seeds),
                     preset=preset, set=_overrides(raw.get("set"), "set", path),
                     grid={str(k): list(v) for k, v in grid.items()}, variants=variants,
                     bench_set=bench_set, method_set=method_set,
                     out=Path(out).expanduser().resolve(), profile=profile, threads=threads,
                     loader_workers=workers, parallel=parallel)


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _per_name(raw: dict[str, Any], key: str, names: list[str], what: str,
              path: Path) -> dict[str, list[str]]:
    """``bench_set`` / ``method_set``: overrides for some of the sweep's benches / methods."""
    table = raw.get(key) or {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: {key} must map a name of {what} to a list of overrides")
    for name in table:
        if name not in names:
            raise ConfigError(f"{path}: {key} names {name!r}, which is not in {what}")
    return {n: _overrides(o, f"{key} {n}", path) for n, o in table.items()}


def _variants(raw: Any, methods: list[str], path: Path) -> list[Variant]:
    if raw is None:
        return []
    if not isinstance(raw, list) or not all(isinstance(v, dict) for v in raw):
        raise ConfigError(f"{path}: variants must be a list of {{name, set, methods}} mappings")
    out = []
    for i, item in enumerate(raw):
        where = f"{path}: variants[{i}]"
        _check_keys(item, _VARIANT_KEYS, where)
        name = item.get("name")
        if not isinstance(name, str) or not name:
            raise ConfigError(f"{where}: every variant needs a name")
        only = item.get("methods")
        if only is not None:
            if not isinstance(only, list) or not all(m in methods for m in only):
                raise ConfigError(f"{where} ({name}): methods must list methods of the sweep "
                                  f"({', '.join(methods)})")
            only = tuple(only)
        out.append(Variant(name, tuple(_overrides(item.get("set"), f"variant {name}", path)),
                           only))
    names = [v.name for v in out]
    if len(set(names)) != len(names):
        raise ConfigError(f"{path}: two variants share a name")
    return out


# -- cells and keys --------------------------------------------------------------------------

def expand(spec: SweepSpec) -> list[Cell]:
    """The sweep's cells; each cell's config is resolved, so a bad override fails here."""
    from harness.cell.runner import resolve_config

    points = [list(zip(spec.grid, values, strict=True))
              for values in itertools.product(*spec.grid.values())]
    variants = spec.variants or [Variant("")]
    cells, checked = [], set()
    for seed, bench, method in itertools.product(spec.seeds, spec.benches, spec.methods):
        for variant in variants:
            if variant.methods is not None and method not in variant.methods:
                continue
            for point in points:
                grid_set = [_override_text(k, v) for k, v in point]
                label = " ".join(filter(None, [variant.name, *grid_set]))
                overrides = (*spec.set, *spec.bench_set.get(bench, ()),
                             *spec.method_set.get(method, ()), *variant.set, *grid_set)
                cell = Cell(method, bench, seed, overrides, spec.preset, spec.out, label)
                if (method, bench, overrides) not in checked:
                    checked.add((method, bench, overrides))
                    try:
                        resolve_config(method, bench, spec.preset, list(overrides))
                    except UserError as exc:
                        raise type(exc)(f"{spec.path}: {method} on {bench}"
                                        f"{' (' + label + ')' if label else ''}: {exc}"
                                        ) from None
                cells.append(cell)
    return cells


def _identify(cell: Cell, data_root: Path | None, fingerprints: dict[str, str]
              ) -> tuple[CellRun, str | None]:
    """The cell's ``CellRun`` (config hash, benchmark) and its key as the runner computes
    it, or None where the benchmark is not prepared (nothing to fingerprint yet; a store
    that is there but unusable is an error); ``fingerprints`` caches each benchmark data
    config's fingerprint, so a sweep opens (and checks) each store once."""
    from harness.cell.runner import cell_key_of

    run = CellRun(cell.options(data_root=data_root))
    ckpt = (run.cfg.get("pretrain") or {}).get("checkpoint")
    data_key = short_hash(cell.bench, str(run.bench.root.resolve()), run.pretraining, ckpt,
                          {k: v for k, v in run.cfg.items() if k not in _METHOD_SECTIONS})
    if data_key not in fingerprints:
        try:
            run.identify()
        except DataError:
            if run.bench.is_prepared():
                raise
            return run, None
        fingerprints[data_key] = run.fingerprint
    return run, cell_key_of(cell.method, cell.bench, cell.seed, run.chash,
                            fingerprints[data_key])


def cell_key(cell: Cell, data_root: Path | None = None) -> str:
    """The cell's key: hash of method, bench, seed, config hash and data fingerprint."""
    run, key = _identify(cell, data_root, {})
    if key is None:
        raise DataError(f"{cell.bench} is not prepared under {run.bench.root}: "
                        f"{run.bench.prepare_hint()}")
    return key


# -- records and job states ------------------------------------------------------------------

def _append_records(spec: SweepSpec, records: list[dict[str, Any]]) -> None:
    """Append submission records to ``submissions.jsonl``, whole lines under a lock."""
    text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in records)
    with file_lock(spec.records.with_name(spec.records.name + ".lock")), \
            open(spec.records, "a", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _latest_records(spec: SweepSpec) -> dict[str, dict[str, Any]]:
    """The latest submission record of each cell key."""
    latest: dict[str, dict[str, Any]] = {}
    try:
        lines = spec.records.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return latest
    for line in lines:
        try:
            record = json.loads(line)
            latest[record["cell_key"]] = record
        except (ValueError, KeyError, TypeError):
            continue  # a line cut short by a crash: the cell counts as not submitted
    return latest


def _squeue(job_ids: list[str]) -> dict[str, str] | None:
    """Slurm states of the queued jobs among ``job_ids`` (None where squeue is missing)."""
    if shutil.which("squeue") is None:
        return None
    arrays = sorted({j.split("_")[0] for j in job_ids})
    try:
        out = subprocess.run(["squeue", "-h", "-r", "-o", "%i %T", "-j", ",".join(arrays)],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:  # squeue refuses ids that have all left the queue
        return {} if "invalid job id" in out.stderr.lower() else None
    return dict(line.split(maxsplit=1) for line in out.stdout.splitlines() if " " in line)


def _alive(pid: str) -> bool:
    """Whether a local job's controller process is running (not a zombie, not a new PID)."""
    proc = Path("/proc") / pid
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, ValueError):
        return False
    except PermissionError:
        return True
    try:
        stat = (proc / "stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z" and \
            b"submitit" in (proc / "cmdline").read_bytes()
    except OSError:
        return True  # no /proc: trust kill(0)


def _last_error_line(text: str) -> str:
    """The line of a traceback or log that says what went wrong."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.search(r"(Error|Exception|error:|fatal:|Killed|CANCELLED|DUE TO)", line):
            return line[:300]
    return lines[-1][:300] if lines else ""


_QUEUED = {"PENDING": "pending", "REQUEUED": "pending", "REQUEUE_HOLD": "pending",
           "REQUEUE_FED": "pending", "CONFIGURING": "pending", "RESIZING": "pending",
           "RUNNING": "running", "COMPLETING": "running", "SUSPENDED": "running",
           "STAGE_OUT": "running", "SIGNALING": "running"}


def _job_state(record: dict[str, Any], queue: dict[str, str] | None) -> tuple[str, str]:
    """(state, detail) of an unfinished cell's latest job."""
    from submitit.core.utils import JobPaths

    executor, job_id = record["executor"], record["job_id"]
    no_result = "the job ended but left no valid result.json"
    if executor == "debug":
        return "failed", record.get("error") or no_result
    paths = JobPaths(Path(record["folder"]), job_id, 0)
    if executor == "local" and _alive(job_id):
        if (Path(record["folder"]).parent / "slots" / f"waiting-{job_id}").exists():
            return "pending", f"process {job_id}, waiting for a slot (parallel)"
        return "running", f"process {job_id}"
    slurm_state = ""
    if executor == "slurm":
        if queue is None:  # no squeue here: ask submitit (sacct)
            from submitit import SlurmJob

            slurm_state = SlurmJob(Path(record["folder"]), job_id).state.split()[0]
        else:
            slurm_state = queue.get(job_id, "ENDED")  # not in the queue: it ended
        if slurm_state in _QUEUED:
            return _QUEUED[slurm_state], slurm_state.lower()
    try:
        with open(paths.result_pickle, "rb") as fh:
            kind, value = pickle.load(fh)
    except (OSError, ValueError, EOFError, pickle.UnpicklingError):
        kind, value = None, None
    if kind == "error":
        return "failed", _last_error_line(str(value))
    if kind == "success":
        return "failed", no_result
    if slurm_state == "UNKNOWN":  # neither squeue nor sacct could say
        return "unknown", f"neither squeue nor sacct could say what became of job {job_id}"
    try:
        line = _last_error_line(paths.stderr.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        line = ""
    return "failed", line or f"the job ended without a result; see {paths.stderr}"


def _unprepared(spec: SweepSpec, states: list[CellState], data_root: Path | None) -> str:
    """One line naming the benchmarks of ``states`` that are not prepared under the data
    root, each with the command that prepares it ("" when every one is prepared)."""
    from harness.data.benchmark import data_root as default_data_root

    todo = {s.cell.bench: s.prepare for s in states if s.state == NEEDS_DATA}
    if not todo:
        return ""
    return (f"{spec.path}: not prepared under {default_data_root(data_root)}: "
            + "; ".join(f"{bench} ({hint})" for bench, hint in todo.items())
            + "; prepare them first (or give --data-root or $HARNESS_DATA where they are, or "
              "leave them out of benches); nothing submitted")


def _job_states(spec: SweepSpec, states: list[CellState]) -> None:
    """Fill in the latest job of each unfinished cell and how it stands."""
    latest = _latest_records(spec)
    slurm = [latest[s.key]["job_id"] for s in states
             if s.key in latest and latest[s.key]["executor"] == "slurm"]
    queue = _squeue(slurm) if slurm else {}
    for s in states:
        record = latest.get(s.key)
        if record is not None:
            s.job_id = record["job_id"]
            s.state, s.detail = _job_state(record, queue)


def status(spec: SweepSpec, data_root: Path | None = None) -> list[CellState]:
    """Every distinct cell of the sweep with its key and state: finished (a valid
    result.json), running or pending (its latest job), failed (with the error), unknown or
    not submitted."""
    from harness.cell.results import load_finished

    fingerprints: dict[str, str] = {}
    states, seen = [], set()
    for cell in expand(spec):
        try:
            run, key = _identify(cell, data_root, fingerprints)
        except UserError as exc:
            raise type(exc)(f"{spec.path}: {cell.method} on {cell.bench}: {exc}") from None
        same = key or (cell.method, cell.bench, cell.seed, run.chash)
        if same in seen:  # different overrides that resolve to the same config
            continue
        seen.add(same)
        if key is None:
            hint = run.bench.prepare_hint()
            states.append(CellState(cell, "", None, NEEDS_DATA,
                                    detail=f"key: needs the prepared data ({hint})",
                                    config_hash=run.chash, prepare=hint))
            continue
        cell_dir = cell.out / "cells" / cell.bench / cell.method / key
        done = load_finished(cell_dir) is not None
        states.append(CellState(cell, key, cell_dir, "finished" if done else "not submitted",
                                config_hash=run.chash))
    _job_states(spec, [s for s in states if s.state not in ("finished", NEEDS_DATA)])
    return states


# -- submission ------------------------------------------------------------------------------

def executor_parameters(spec: SweepSpec, executor: str, profile: str | None = None,
                        parameters: dict[str, Any] | None = None,
                        threads: int | None = None,
                        parallel: int | None = None) -> dict[str, Any]:
    """submitit AutoExecutor parameters: defaults, then the cluster profile (``profile`` or
    the spec's), then ``parallel`` (or the spec's) as Slurm's array parallelism, then
    ``parameters``; CPUs per task default to the cells' threads. (The local executor's
    limit is not a submitit parameter: ``submit`` gives it to the jobs, see ``local_slots``.)"""
    if parallel is not None and not _positive_int(parallel):
        raise UserError(f"--parallel {parallel}: expected a number of cells >= 1")
    params: dict[str, Any] = {**_DEFAULT_PARAMETERS, "name": f"harness-{spec.name}"}
    name = profile or spec.profile
    if name and executor != "debug":
        try:
            from harness.sweep import slurm_profiles
        except ImportError:
            raise UserError(f"cluster profile {name!r}: this checkout has no "
                            f"harness/sweep/slurm_profiles.py to read profiles with") from None
        params.update(slurm_profiles.executor_parameters(slurm_profiles.load_profile(name)))
    if executor == "slurm" and (parallel or spec.parallel):
        params["slurm_array_parallelism"] = parallel or spec.parallel
    params.update(parameters or {})
    if (threads or spec.threads) and "cpus_per_task" not in params:
        params["cpus_per_task"] = threads or spec.threads
    return params


def local_slots(spec: SweepSpec, executor: str, parallel: int | None = None) -> int | None:
    """How many cells the local executor runs at once: ``parallel``, else the spec's; None
    for no limit, and for the other executors (Slurm takes it as a submitit parameter)."""
    return (parallel or spec.parallel) if executor == "local" else None


class _SlurmScripts(SlurmExecutor):
    """submitit's Slurm executor, only to render sbatch scripts: it starts on any machine,
    where submitit's own refuses to start without ``srun`` on PATH."""

    @classmethod
    def affinity(cls) -> int:
        """Available everywhere (it is only asked for scripts)."""
        return 1


def sbatch_script(spec: SweepSpec, parameters: dict[str, Any], n_cells: int) -> str:
    """The sbatch script submitit would submit for ``n_cells`` cells with ``parameters``
    (one job, or a job array when there are several cells), as ``--dry-run`` shows it; on
    any machine, with or without Slurm."""
    import submitit

    # The AutoExecutor translates the parameters exactly as for a submission (cluster
    # "slurm"), into an executor that renders without Slurm here.
    pool = submitit.AutoExecutor(folder=spec.jobs_dir, cluster="debug")
    pool.cluster, pool._executor = "slurm", _SlurmScripts(spec.jobs_dir)
    try:
        pool.update_parameters(**parameters)
    except (NameError, AssertionError, ValueError, TypeError) as exc:
        raise ConfigError(f"executor parameters {parameters} for slurm: "
                          f"{' '.join(str(exc).split())}") from None
    # submitit's own rendering (what map_array writes), so the preview cannot drift from it.
    slurm = pool._executor
    if n_cells > 1:
        slurm.parameters["map_count"] = n_cells
    return slurm._make_submission_file_text(slurm._submitit_command_str, "dry-run")


class CellJob(Checkpointable):
    """The callable each job runs: one cell through the runner; with ``slots`` (a folder)
    and ``parallel`` N, only once it holds one of N slots there (the local executor's limit
    on cells at once)."""

    def __init__(self, slots: str | None = None, parallel: int | None = None) -> None:
        self.slots, self.parallel = slots, parallel

    def __call__(self, opts: RunOptions) -> dict[str, Any]:
        if not (self.slots and self.parallel):
            return self._run(opts)
        from submitit import JobEnvironment

        from harness.io.locks import one_of

        folder = Path(self.slots)
        marker = folder / f"waiting-{JobEnvironment().job_id}"
        print(f"waiting for one of {self.parallel} slots in {folder}", flush=True)
        with one_of(folder, self.parallel, marker=marker) as slot:
            print(f"slot {slot} of {self.parallel}", flush=True)
            return self._run(opts)

    def _run(self, opts: RunOptions) -> dict[str, Any]:
        from harness.cell.runner import run_cell
        from harness.io.provenance import SOURCE_ROOT
        from harness.training.distributed import export_slurm_world

        export_slurm_world()  # several Slurm tasks: one DDP rank each
        print(f"cell {opts.method} on {opts.bench} seed {opts.seed}, code in {SOURCE_ROOT}",
              flush=True)
        outcome = run_cell(opts)
        return {"cell_key": outcome.result["cell_key"], "result": str(outcome.path),
                "skipped": outcome.skipped, "test": outcome.result["metrics"]["test"]}

    def checkpoint(self, opts: RunOptions) -> DelayedSubmission:
        """On preemption or timeout: requeue a fresh job with the same arguments only; the
        cell resumes from the checkpoints in its folder (no model state is pickled)."""
        return DelayedSubmission(type(self)(self.slots, self.parallel), opts)


def _git(root: Path, *args: str) -> list[str] | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, check=True,
                             timeout=120)
    except (OSError, subprocess.SubprocessError):
        return None
    return [f for f in out.stdout.decode().split("\0") if f]


@contextlib.contextmanager
def _code_snapshot(spec: SweepSpec) -> Iterator[tuple[Path, str]]:
    """Submit from a snapshot of the repository: jobs import the code as it was at submission,
    whatever happens to the working tree while they wait. Yields the code's folder and how
    it was made."""
    from submitit.helpers import RsyncSnapshot

    from harness.io.provenance import SOURCE_ROOT

    root = SOURCE_ROOT
    untracked = _git(root, "ls-files", "-z", "--others", "--exclude-standard")
    if untracked is None:
        yield root, f"{root} (installed code: not a git checkout, so no snapshot)"
        return
    inside = spec.out.is_relative_to(root)
    untracked = [f for f in untracked
                 if not (inside and (root / f).resolve().is_relative_to(spec.out))]
    stamp = time.strftime("%Y%m%d-%H%M%S")
    dest = spec.home / f"code-{stamp}"
    for i in itertools.count(2):  # two submissions within a second get two snapshots
        if not dest.exists():
            break
        dest = spec.home / f"code-{stamp}-{i}"
    if RsyncSnapshot.available():
        with RsyncSnapshot(dest, root_dir=root, include=untracked):
            yield dest, f"{dest} (submitit RsyncSnapshot: git clone + rsync of the working tree)"
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    clone = subprocess.run(["git", "clone", "--quiet", "--depth=1", f"file://{root}",
                            str(dest)], capture_output=True, text=True, timeout=600)
    if clone.returncode != 0:
        raise UserError(f"could not snapshot the code of {root} into {dest}: "
                        f"{' '.join(clone.stderr.split())}")
    for name in _git(root, "ls-files", "-z", "--deleted") or []:
        (dest / name).unlink(missing_ok=True)
    for name in (_git(root, "ls-files", "-z", "--cached") or []) + untracked:
        src = root / name
        if src.is_file() or src.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            (dest / name).unlink(missing_ok=True)
            shutil.copy2(src, dest / name, follow_symlinks=False)
    previous = Path.cwd()
    os.chdir(dest)
    try:
        yield dest, f"{dest} (git clone of HEAD + copy of the tracked and untracked files)"
    finally:
        os.chdir(previous)


@contextlib.contextmanager
def _detached_stdio(log: Path) -> Iterator[None]:
    """Point fds 1 and 2 at ``log`` while local jobs start, so that their controllers, which
    outlive this process, hold neither the caller's terminal nor its pipes."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as fh:
        os.dup2(fh.fileno(), 1)
        os.dup2(fh.fileno(), 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        for fd, copy in zip((1, 2), saved, strict=True):
            os.dup2(copy, fd)
            os.close(copy)


@dataclass
class Submission:
    """What ``submit`` did: all cells with their states, those it submitted, and how."""

    states: list[CellState]
    submitted: list[CellState]
    executor: str
    parameters: dict[str, Any]
    code: str = ""
    slots: int | None = None  # the local executor's cells at once (None: no limit)


def to_submit(states: list[CellState], max_cells: int | None = None) -> list[CellState]:
    """The cells a submission sends: not submitted before, or whose last job failed, and
    those whose data is not prepared yet (which ``submit`` refuses until it is)."""
    todo = [s for s in states if s.state in ("not submitted", "failed", NEEDS_DATA)]
    return todo[:max_cells] if max_cells is not None else todo


def submit(spec: SweepSpec, executor: str = "slurm", *, profile: str | None = None,
           parameters: dict[str, Any] | None = None, max_cells: int | None = None,
           data_root: Path | None = None, tracking_uri: str | None = None,
           threads: int | None = None, parallel: int | None = None) -> Submission:
    """Submit the sweep's unfinished cells that no job is running or waiting for, as one
    job array (at most ``max_cells``), and record the submissions; ``parameters`` adds
    submitit AutoExecutor parameters to the profile's; ``parallel`` (or the spec's) bounds
    the cells that run at once (Slurm's array parallelism, the local executor's slots)."""
    import submitit
    from submitit.core.utils import FailedJobError, FailedSubmissionError

    from harness.cell.tracking import Tracker, default_uri
    from harness.data.benchmark import data_root as default_data_root
    from harness.io.provenance import SOURCE_ROOT

    if executor not in EXECUTORS:
        raise UserError(f"unknown executor {executor!r}; use one of {', '.join(EXECUTORS)}")
    params = executor_parameters(spec, executor, profile, parameters, threads, parallel)
    states = status(spec, data_root)
    if missing := _unprepared(spec, states, data_root):
        raise DataError(missing)
    todo = to_submit(states, max_cells)
    limit = local_slots(spec, executor, parallel)
    done = Submission(states, todo, executor, params, slots=limit)
    if not todo:
        return done
    if executor == "slurm" and (absent := [c for c in ("srun", "sbatch")
                                           if shutil.which(c) is None]):
        raise UserError(f"--executor slurm: {' and '.join(absent)} "
                        f"{'is' if len(absent) == 1 else 'are'} not on PATH here; submit from "
                        f"a Slurm login node, or use --executor local to run on this machine "
                        f"(--dry-run shows the cells and the sbatch script anywhere)")
    spec.out.mkdir(parents=True, exist_ok=True)
    uri = tracking_uri or default_uri(spec.out)
    Tracker(uri, artifact_root=spec.out / "mlartifacts")  # schema + experiment, once
    root = default_data_root(data_root).resolve()
    opts = [s.cell.options(data_root=root, tracking_uri=uri, threads=threads or spec.threads,
                           loader_workers=spec.loader_workers)
            for s in todo]
    pool = submitit.AutoExecutor(folder=spec.jobs_dir, cluster=executor)
    try:
        pool.update_parameters(**params)
    except (NameError, AssertionError, ValueError, TypeError) as exc:
        raise ConfigError(f"executor parameters {params} for {executor}: "
                          f"{' '.join(str(exc).split())}") from None
    with contextlib.ExitStack() as stack:
        code, done.code = (SOURCE_ROOT, f"{SOURCE_ROOT} (this process)") \
            if executor == "debug" else stack.enter_context(_code_snapshot(spec))
        if executor == "local":
            stack.enter_context(_detached_stdio(spec.jobs_dir / "local-controllers.log"))
        try:
            jobs = pool.map_array(CellJob(str(spec.home / "slots"), limit) if limit
                                  else CellJob(), opts)
        except (FailedJobError, FailedSubmissionError) as exc:
            raise UserError(f"{executor} refused the job array: "
                            f"{_last_error_line(str(exc)) or exc}") from None
    records = []
    for s, job in zip(todo, jobs, strict=True):
        s.job_id, s.state = job.job_id, "pending"
        records.append({"time": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "cell_key": s.key,
                        "job_id": job.job_id, "executor": executor,
                        "folder": str(spec.jobs_dir), "method": s.cell.method,
                        "bench": s.cell.bench, "seed": s.cell.seed, "label": s.cell.label,
                        "code": str(code), **({"parallel": limit} if limit else {})})
    if executor != "debug":
        _append_records(spec, records)
        return done
    for s, job, record in zip(todo, jobs, records, strict=True):  # here, one after another
        error = job.exception()
        s.state = "failed" if error else "finished"
        s.detail = _last_error_line(f"{type(error).__name__}: {error}") if error else ""
        _append_records(spec, [{**record, "error": s.detail or None}])
    return done


# -- reports ---------------------------------------------------------------------------------

def counts(states: list[CellState]) -> str:
    """``N cells: a finished, b running, ...`` in a fixed order of states."""
    order = ("finished", "running", "pending", "failed", "unknown", "not submitted",
             NEEDS_DATA)
    n = {k: sum(s.state == k for s in states) for k in order}
    return f"{len(states)} cells: " + ", ".join(f"{v} {k}" for k, v in n.items() if v)


def table(states: list[CellState], spec: SweepSpec, *, overrides: bool = False) -> str:
    """An aligned table of cells with their key, state, job and config hash, then the
    detail (a failure, or how to prepare the data a key needs); ``overrides`` puts each
    cell's overrides beyond the spec's common ``set`` before that detail."""
    head = ["method", "bench", "seed", "variant", "cell key", "state", "job", "config",
            "overrides" if overrides else "detail"]
    rows = [[s.cell.method, s.cell.bench, str(s.cell.seed), s.cell.label or "-", s.key or "-",
             s.state, s.job_id or "-", s.config_hash or "-",
             "; ".join(filter(None, [" ".join(s.cell.overrides[len(spec.set):])
                                     if overrides else "", s.detail])) or "-"]
            for s in states]
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head) - 1)]
    return "".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=False)) + "  "
                   + r[-1] + "\n" for r in [head, *rows])
