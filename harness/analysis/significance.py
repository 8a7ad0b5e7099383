"""Paired significance of the difference between two methods on the same test clips.

``paired_bootstrap`` draws ``n_resamples`` resamples of the test clips with replacement
(``numpy.random.default_rng(seed)``) and uses each resample for both methods, so the test
is paired. A method's statistic on a resample is the corpus-level metric of each of its
runs (seeds) on the resampled clips, averaged over its runs; on the full test set that is
the mean of the runs' recorded test metrics. Corpus metrics come from per-clip sufficient
statistics computed once per run, so a resample is a weighted sum of them. The metric
protocol the runs were scored with owns both (``harness.core.metric.MetricProtocol``:
``statistics`` per clip, ``corpus`` of their sums, for its ``tested`` metrics, e.g. a hit
per clip for top-k, word errors and reference words for WER, sacrebleu's n-gram statistics
for BLEU, whose corpus BLEU of summed statistics is sacrebleu's own, as in its paired
bootstrap), and says whether higher is better; the difference is a - b either way.

The difference is ``delta = a - b``; its 95% interval is the 2.5 and 97.5 percentiles of the
resampled differences, and the two-sided p-value is twice the smaller share of resampled
differences at or below 0 and at or above 0, each add-one smoothed ((k + 1) / (B + 1)), so
it is never 0 and a method compared with itself gets p = 1. Where no resampled difference
crosses 0, the p-value is below what B resamples resolve: ``Comparison.p_text`` prints it
as ``< 1/B`` (``p_value`` keeps the smoothed 2 / (B + 1), which ``significant`` tests).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from harness.analysis.score import jsonl_rows, read_text
from harness.cell.results import RESULT_FILE, problems
from harness.cell.statistics import (
    STATISTICS_SCHEMA,
    is_row,
    parse_rows,
    result_protocol,
    statistics_path,
)
from harness.core.metric import MetricProtocol, default_protocol, get_protocol
from harness.core.tasks import TASKS
from harness.errors import DataError, UserError
from harness.io import progress
from harness.io.json_files import read_json

#: clip id -> (prediction, reference) of one run on the test split.
Predictions = Mapping[str, tuple[Any, str]]

_RERUN = "run the cell again with python -m harness run ... --force"


@dataclass(frozen=True)
class Comparison:
    """A paired bootstrap comparison of method a with method b on one metric.

    ``a`` and ``b`` are the observed metrics (mean over each method's runs on the full test
    set), ``delta = a - b`` (for WER a negative delta means a is better), ``ci95`` the
    percentile interval and ``se`` the standard deviation of the resampled differences,
    ``p_value`` the two-sided add-one smoothed bootstrap p-value.
    """

    metric: str
    protocol: str
    a: float
    b: float
    delta: float
    ci95: tuple[float, float]
    se: float
    p_value: float
    n_clips: int
    n_resamples: int
    runs_a: int
    runs_b: int
    higher_is_better: bool

    def significant(self, alpha: float = 0.05) -> bool:
        """Whether the difference is significant at level ``alpha`` (two-sided)."""
        return self.p_value < alpha

    def p_text(self) -> str:
        """The p-value as tables print it: ``< 1/B`` at the resolution limit of the B
        resamples (none crossed 0), else with three decimals."""
        if self.p_value <= 2 / (self.n_resamples + 1):
            return f"< {1 / self.n_resamples:.2g}"
        return f"{self.p_value:.3f}"


def paired_bootstrap(a: Sequence[Predictions], b: Sequence[Predictions], protocol: str,
                     metric: str, *, options: Mapping[str, Any] | None = None,
                     n_resamples: int = 1000, seed: int = 0) -> Comparison:
    """Paired bootstrap test of ``metric`` between the runs of method a and those of b.

    ``protocol`` is a metric protocol name (``bleu-char``, ``wer-phoenix``, ...) or a task
    (``islr``, ``cslr``, ``slt``: its default protocol, ``bleu-13a`` for SLT); ``options``
    are the benchmark's ``eval`` options (``lowercase`` for BLEU). Every run must cover the
    same clips with the same references.
    """
    if not a or not b:
        raise ValueError("each method needs at least one run")
    proto = default_protocol(protocol) if protocol in TASKS else get_protocol(protocol)
    _check_metric(proto, metric)
    ids = _common_ids(a, b)
    refs = {c: a[0][c][1] for c in ids}
    stats_a, stats_b = ([proto.statistics({c: run[c][0] for c in ids}, refs,
                                          options or {})[metric] for run in runs]
                        for runs in (a, b))
    return _compare_boots([_run_boot(s, proto, metric, n_resamples, seed) for s in stats_a],
                          [_run_boot(s, proto, metric, n_resamples, seed) for s in stats_b],
                          proto.higher_is_better(metric), proto.name, metric, len(ids),
                          n_resamples)


@lru_cache(maxsize=16)
def _resample_counts(n_clips: int, n_resamples: int, seed: int) -> np.ndarray:
    """(n_resamples, n_clips): how often each resample draws each clip (read-only; every
    comparison of ``n_clips`` clips with this seed uses the same resamples)."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(n_clips, size=(n_resamples, n_clips), replace=True)
    offsets = n_clips * np.arange(n_resamples)[:, None]  # one bin per (resample, clip)
    counts = np.bincount((picks + offsets).ravel(), minlength=picks.size).reshape(
        picks.shape).astype(float)
    counts.flags.writeable = False
    return counts


def _sums(stats: np.ndarray, n_resamples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A run's summed per-clip statistics on the full test set (1, k) and on each resample
    (n_resamples, k)."""
    return (stats.sum(axis=0, keepdims=True),
            _resample_counts(len(stats), n_resamples, seed) @ stats)


def serial_blas() -> Any:
    """A context in which BLAS runs on one thread: the bootstrap's products are small
    ((resamples x clips) @ (clips x k)), and BLAS threads that wait for work between them
    cost more than the products (measured 4-10x slower on 2 cores)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def _compare_boots(boots_a: list[tuple[float, np.ndarray]],
                   boots_b: list[tuple[float, np.ndarray]], higher_is_better: bool,
                   protocol: str, metric: str, n_clips: int, n_resamples: int) -> Comparison:
    """The bootstrap of two methods from their runs' ``_run_boot``: a method's statistic is
    the mean over its runs, on the full test set and on each resample."""
    def method(boots: list[tuple[float, np.ndarray]]) -> tuple[float, np.ndarray]:
        return float(np.mean([obs for obs, _ in boots])), np.mean([b for _, b in boots], axis=0)

    (obs_a, boot_a), (obs_b, boot_b) = method(boots_a), method(boots_b)
    deltas = boot_a - boot_b
    low, high = np.percentile(deltas, [2.5, 97.5])
    below, above = ((np.count_nonzero(side) + 1) / (n_resamples + 1)
                    for side in (deltas <= 0, deltas >= 0))
    return Comparison(metric, protocol, obs_a, obs_b, obs_a - obs_b,
                      (float(low), float(high)), float(deltas.std()),
                      float(min(1.0, 2 * min(below, above))), n_clips, n_resamples,
                      len(boots_a), len(boots_b), higher_is_better)


def load_predictions(cell_dir: Path) -> dict[str, tuple[Any, str]]:
    """The test predictions of a finished cell: clip id -> (prediction, reference)."""
    return dict(_predictions(cell_dir, _stamp(cell_dir)))


def compare_cells(a: Sequence[Path], b: Sequence[Path], metric: str, *,
                  n_resamples: int = 1000, seed: int = 0) -> Comparison:
    """Paired bootstrap test of ``metric`` between finished cells (one per seed) of two
    methods, under the metric protocol and options the cells were scored with.

    A cell's per-clip statistics come from the file the runner wrote beside its
    predictions (``write_statistics``) when that file is for these exact predictions,
    protocol and signatures; otherwise they are computed from the predictions here."""
    cells = [*a, *b]
    stamps = [_stamp(c) for c in cells]
    results = [_result(c, s) for c, s in zip(cells, stamps, strict=True)]
    proto = result_protocol(results[0])
    _check_metric(proto, metric)
    family = proto.family(metric)
    signatures = {r["signatures"].get(family) for r in results}
    if len(signatures) > 1:
        raise DataError(f"the cells' {metric} was computed under different signatures "
                        f"({' vs '.join(sorted(map(str, signatures)))}); compare cells of "
                        f"one leaderboard table")
    sides = [_sidecar(c, s) for c, s in zip(cells, stamps, strict=True)]
    digests = {None if side is None else (side["clips"], side["clips_sha256"])
               for side in sides}
    if len(digests) == 1 and None not in digests:  # the same clips and references
        n_clips = next(iter(digests))[0]
    else:  # read the predictions, to say which clip differs where one does
        preds = [_predictions(c, s) for c, s in zip(cells, stamps, strict=True)]
        n_clips = len(_common_ids(preds[:len(a)], preds[len(a):]))
    boots = [_boot(c, s, metric, n_resamples, seed) for c, s in zip(cells, stamps, strict=True)]
    return _compare_boots(boots[:len(a)], boots[len(a):], proto.higher_is_better(metric),
                          proto.name, metric, n_clips, n_resamples)


# -- finished cells, read once per state of their files -----------------------------------------

#: Everything read or computed from a cell, by (function, cell, stamp, ...): the stamp
#: (the files' modification times and sizes) makes a rewritten cell read again. ``prefetch``
#: fills it from worker processes.
_CACHE: dict[tuple[Any, ...], Any] = {}
_CACHE_LIMIT = 40_000  # entries; the oldest go first (a leaderboard of 2,000 cells: 8,000)


def _cached(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``fn`` with its results (not its errors) kept in ``_CACHE``."""
    name = fn.__name__

    @functools.wraps(fn)
    def wrapper(*args: Any) -> Any:
        key = (name, *args)
        try:
            return _CACHE[key]
        except KeyError:
            pass
        value = fn(*args)
        _keep(key, value)
        if _ADDED is not None:
            _ADDED.append(key)
        return value

    return wrapper


def _keep(key: tuple[Any, ...], value: Any) -> None:
    """Put an entry in ``_CACHE``, making room by dropping the oldest."""
    while len(_CACHE) >= _CACHE_LIMIT:
        del _CACHE[next(iter(_CACHE))]
    _CACHE[key] = value


#: In a worker of ``prefetch``: the keys ``_cached`` added to ``_CACHE`` for the cell at
#: hand (what the worker hands back).
_ADDED: list[tuple[Any, ...]] | None = None


def prefetch(cells: Sequence[Path], metrics: Mapping[str, str] | None = None,
             workers: int | None = None, n_resamples: int = 1000, seed: int = 0) -> int:
    """Read, score and resample many finished cells at once, for the comparisons that
    follow (``metrics``: protocol name -> the metric they will test, e.g.
    ``{"bleu-13a": "bleu1"}``; without it, each protocol's main headline metric, which
    tables compare; ``n_resamples`` and ``seed`` as they will be made). Returns the number
    of cells done.

    Per-clip statistics are read from the cells' statistics files; cells without usable
    ones are scored in ``workers`` forked processes (default: the usable cores) when there
    are enough of them to pay for the forks. The resampled sums of all cells of one metric
    and test set are then one matrix product and their corpus metrics one vectorised call
    (the statistics are integer counts, so the sums are exact in any order and equal those
    of one cell at a time). Cells that cannot be read are left for ``compare_cells`` to
    report."""
    done = {key[1:3] for key in _CACHE if key[0] == "_boot" and key[4:] == (n_resamples, seed)}
    todo: list[tuple[Path, tuple[int, ...], str]] = []
    for cell in sorted(set(cells)):
        try:
            stamp = _stamp(cell)
            if (cell, stamp) in done:
                continue
            proto = result_protocol(_result(cell, stamp))
            metric = proto.headline[0] if metrics is None else metrics.get(proto.name)
            if metric is not None:
                _check_metric(proto, metric)
                todo.append((cell, stamp, metric))
        except (DataError, UserError):
            continue
    _score_in_workers([t for t in todo if not _holds(_sidecar(t[0], t[1]), t[2])], workers)
    groups: dict[tuple[Any, ...], list[tuple[Path, tuple[int, ...], np.ndarray]]] = {}
    for cell, stamp, metric in progress.bar("leaderboard: cells scored", todo, unit="cell"):
        try:
            stats, proto = _statistics(cell, stamp, metric)
        except (DataError, UserError):
            continue
        groups.setdefault((proto, metric, stats.shape), []).append((cell, stamp, stats))
    with serial_blas():
        for (proto, metric, (n, k)), members in groups.items():
            corpus = get_protocol(proto).corpus
            stacked = np.concatenate([stats for _, _, stats in members], axis=1)  # (n, m * k)
            full = corpus(metric, stacked.sum(axis=0).reshape(len(members), k))
            boot = (_resample_counts(n, n_resamples, seed) @ stacked).reshape(
                n_resamples, len(members), k).transpose(1, 0, 2).reshape(-1, k)
            boot = corpus(metric, boot).reshape(len(members), n_resamples)
            for i, (cell, stamp, _) in enumerate(members):
                _keep(("_boot", cell, stamp, metric, n_resamples, seed),
                      (float(full[i]), boot[i].copy()))
    return sum(len(m) for m in groups.values())


def _score_in_workers(todo: list[tuple[Path, tuple[int, ...], str]], workers: int | None
                      ) -> None:
    """``_statistics`` of cells without stored statistics, computed in forked worker
    processes (scoring is independent per cell) and kept in ``_CACHE``."""
    import multiprocessing

    workers = workers or len(os.sched_getaffinity(0))
    if workers < 2 or len(todo) < 8 * workers:  # forking would cost more than it saves
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        scored = pool.imap_unordered(_score_one, todo,
                                     chunksize=max(1, len(todo) // (8 * workers)))
        for entries in progress.bar("leaderboard: cells scored", scored, total=len(todo),
                                    unit="cell"):
            for key, value in entries:
                _keep(key, value)


def _score_one(job: tuple[Path, tuple[int, ...], str]) -> list[tuple[Any, Any]]:
    """In a worker: what scoring one cell added to ``_CACHE`` (its predictions, which
    ``compare_cells`` checks the clips on, and statistics; nothing where it cannot be
    read)."""
    global _ADDED
    _ADDED = []
    try:
        _predictions(job[0], job[1])
        _statistics(*job)
    except (DataError, UserError):
        pass
    added, _ADDED = _ADDED, None
    return [(key, _CACHE[key]) for key in added if key in _CACHE]


@_cached
def _result(cell_dir: Path, stamp: tuple[int, ...]) -> dict[str, Any]:
    """A finished cell's result, or a one-line DataError (callers must not modify it)."""
    result = _read_json(cell_dir / RESULT_FILE)
    bad = problems(result) or ([] if isinstance(result["files"].get("predictions_test"), str)
                               else ["no files.predictions_test"])
    if bad:
        raise DataError(f"{cell_dir / RESULT_FILE} is not a finished cell's result "
                        f"({bad[0]}); {_RERUN}")
    return result


@_cached
def _predictions(cell_dir: Path, stamp: tuple[int, ...]) -> dict[str, tuple[Any, str]]:
    """A finished cell's test predictions (clip id -> (prediction, reference)), or a
    one-line DataError (callers must not modify what it returns)."""
    result = _result(cell_dir, stamp)
    path = cell_dir / result["files"]["predictions_test"]
    try:
        text = read_text("test predictions", path)
    except DataError as exc:
        raise DataError(f"{exc}; {_RERUN}") from None
    task = result["task"]
    fast = parse_rows(text, task)
    if fast is not None:
        return fast
    try:  # the reader of `harness score`, whose messages name the file and the line
        rows = jsonl_rows("test predictions", path, text)
    except DataError as exc:
        raise DataError(f"{exc}; {_RERUN}") from None
    out: dict[str, tuple[Any, str]] = {}
    for where, row in rows:
        if not is_row(row, task):
            shape = "a list of labels" if task == "islr" else "a string"
            raise DataError(f"{path} {where} is not a {task} prediction row (id and "
                            f"reference: strings; prediction: {shape}); {_RERUN}")
        if row["id"] in out:
            raise DataError(f"{path} {where}: clip {row['id']!r} appears twice; {_RERUN}")
        out[row["id"]] = (row["prediction"], row["reference"])
    return out


@_cached
def _sidecar(cell_dir: Path, stamp: tuple[int, ...]) -> dict[str, Any] | None:
    """The statistics file beside a cell's test predictions, when it was written for
    exactly these predictions (their SHA-256), under the protocol and signatures the
    result records; None otherwise (the statistics are then computed from the
    predictions)."""
    result = _result(cell_dir, stamp)
    path = cell_dir / result["files"]["predictions_test"]
    try:
        side = json.loads(statistics_path(path).read_bytes())
        data = path.read_bytes()
    except (OSError, ValueError):
        return None
    if not (isinstance(side, dict) and side.get("schema") == STATISTICS_SCHEMA
            and side.get("predictions_sha256") == hashlib.sha256(data).hexdigest()
            and side.get("signatures") == result["signatures"]
            and side.get("protocol") == result_protocol(result).name
            and isinstance(side.get("clips"), int) and isinstance(side.get("clips_sha256"), str)
            and isinstance(side.get("statistics"), dict)):
        return None
    return side


@_cached
def _boot(cell_dir: Path, stamp: tuple[int, ...], metric: str, n_resamples: int, seed: int
          ) -> tuple[float, np.ndarray]:
    """A cell's corpus metric on its test set and on each of the bootstrap's resamples."""
    stats, proto = _statistics(cell_dir, stamp, metric)
    return _run_boot(stats, get_protocol(proto), metric, n_resamples, seed)


@_cached
def _statistics(cell_dir: Path, stamp: tuple[int, ...], metric: str
                ) -> tuple[np.ndarray, str]:
    """A cell's per-clip statistics of ``metric`` in sorted clip order, with the protocol
    they are under: stored ones where usable, else scored here."""
    result = _result(cell_dir, stamp)
    stats = _stored(_sidecar(cell_dir, stamp), metric)
    proto = result_protocol(result)
    if stats is not None:
        return stats, proto.name
    preds = _predictions(cell_dir, stamp)
    ids = sorted(preds)
    stats = proto.statistics({c: preds[c][0] for c in ids}, {c: preds[c][1] for c in ids},
                             _eval_options(cell_dir, result))[metric]
    return stats, proto.name


def _holds(side: dict[str, Any] | None, metric: str) -> bool:
    """Whether a statistics file has an entry for ``metric`` (``_stored`` checks it)."""
    return side is not None and metric in side["statistics"]


def _stored(side: dict[str, Any] | None, metric: str) -> np.ndarray | None:
    """A metric's per-clip statistics from a statistics file, if it holds them whole."""
    if side is None:
        return None
    try:
        entry = side["statistics"][metric]
        stats = np.asarray(entry["values"], dtype=float).reshape(entry["shape"])
    except (KeyError, TypeError, ValueError):
        return None
    ok = (stats.ndim == 2
          and stats.shape == (side["clips"], get_protocol(side["protocol"]).width(metric))
          and np.isfinite(stats).all())
    return stats if ok else None


def _run_boot(stats: np.ndarray, proto: MetricProtocol, metric: str, n_resamples: int,
              seed: int) -> tuple[float, np.ndarray]:
    """A run's corpus metric on the full test set and on each resample, from its per-clip
    statistics."""
    full, boot = _sums(stats, n_resamples, seed)
    return float(proto.corpus(metric, full)[0]), proto.corpus(metric, boot)


def _eval_options(cell_dir: Path, result: dict[str, Any]) -> dict[str, Any]:
    """The ``eval`` options a finished cell was scored under."""
    config = _read_json(cell_dir / result["files"].get("config", "config.json"))
    return dict(config.get("config", {}).get("eval", {}))


def _stamp(cell_dir: Path) -> tuple[int, ...]:
    """Modification times and sizes of a cell's result, predictions and statistics (0 when
    missing)."""
    out = []
    for name in (RESULT_FILE, "predictions/test.jsonl", "predictions/test.stats.json"):
        try:
            st = os.stat(f"{cell_dir}/{name}")
            out += [st.st_mtime_ns, st.st_size]
        except OSError:
            out += [0, 0]
    return tuple(out)


def _check_metric(proto: MetricProtocol, metric: str) -> None:
    if metric not in proto.tested:
        raise UserError(f"cannot test {metric!r} of protocol {proto.name} for significance; "
                        f"it supports {', '.join(proto.tested)}")


def _common_ids(a: Sequence[Predictions], b: Sequence[Predictions]) -> list[str]:
    """The sorted clip ids every run covers; a DataError where runs differ in clips or
    references."""
    first = a[0]
    for name, runs in (("a", a), ("b", b)):
        for i, run in enumerate(runs, start=1):
            missing, extra = sorted(set(first) - set(run)), sorted(set(run) - set(first))
            if missing or extra:
                parts = [f"{len(ids)} {kind}, first {ids[0]!r}"
                         for kind, ids in (("missing", missing), ("extra", extra)) if ids]
                raise DataError(f"run {i} of method {name} covers other clips than run 1 of "
                                f"method a ({'; '.join(parts)}); compare runs on the same "
                                f"test split")
            clash = next((c for c in first if run[c][1] != first[c][1]), None)
            if clash is not None:
                raise DataError(f"clip {clash!r} has another reference in run {i} of method "
                                f"{name} than in run 1 of method a; compare runs scored "
                                f"against the same references")
    return sorted(first)


def _read_json(path: Path) -> Any:
    """A JSON file of a finished cell, or a one-line DataError naming it."""
    return read_json(path, missing=f"{path} is missing; is {path.parent} a finished cell?",
                     damaged=f"cannot read {path} ({{error}}); {_RERUN}",
                     damage=(OSError, ValueError))
