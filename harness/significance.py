"""Paired significance of the difference between two methods on the same test clips.

``paired_bootstrap`` draws ``n_resamples`` resamples of the test clips with replacement
(``numpy.random.default_rng(seed)``) and uses each resample for both methods, so the test
is paired. A method's statistic on a resample is the corpus-level metric of each of its
runs (seeds) on the resampled clips, averaged over its runs; on the full test set that is
the mean of the runs' recorded test metrics. Corpus metrics come from per-clip sufficient
statistics computed once per run, so a resample is a weighted sum of them:

- ISLR ``top1``, ``top5``: per clip a hit (0/1); 100 * hits / clips;
- CSLR ``wer``: per clip the word errors and reference words under the benchmark's WER
  protocol (jiwer's unit-cost alignment, or the Phoenix clean-up and sclite's alignment);
  100 * errors / reference words. Lower is better, and the difference is still a - b;
- SLT ``bleu1`` .. ``bleu4``: per sentence sacrebleu's BLEU statistics (n-gram matches and
  totals, hypothesis and reference length) under the protocol's tokenizer and case; BLEU of
  their sums, as sacrebleu computes corpus BLEU and its own paired bootstrap.

The difference is ``delta = a - b``; its 95% interval is the 2.5 and 97.5 percentiles of the
resampled differences, and the two-sided p-value is twice the smaller share of resampled
differences at or below 0 and at or above 0, each add-one smoothed ((k + 1) / (B + 1)), so
it is never 0 and a method compared with itself gets p = 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.metrics import phoenix, protocols, wer
from harness.errors import DataError, UserError
from harness.results import RESULT_FILE, problems
from harness.score import jsonl_rows, read_text
from harness.tasks import TASKS

#: clip id -> (prediction, reference) of one run on the test split.
Predictions = Mapping[str, tuple[Any, str]]

#: The metrics each task's resampling supports.
METRICS: dict[str, tuple[str, ...]] = {"islr": ("top1", "top5"), "cslr": ("wer",),
                                       "slt": ("bleu1", "bleu2", "bleu3", "bleu4")}
_PHOENIX = {"wer-phoenix": "phoenix-2014", "wer-phoenix2014t": "phoenix-2014t"}
_TOKENIZE = {"bleu-13a": "13a", "bleu-none": "none", "bleu-char": "char"}
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


@dataclass(frozen=True)
class _Statistic:
    """Per-clip sufficient statistics of a metric and the corpus metric of their sums."""

    #: (predictions in clip order, clip id -> reference in that order) -> (n_clips, k)
    per_clip: Callable[[list[Any], dict[str, str]], np.ndarray]
    #: summed statistics (m, k) -> corpus metric of each of the m rows
    corpus: Callable[[np.ndarray], np.ndarray]
    higher_is_better: bool


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
    options = options or {}
    proto = protocols.get(protocols.default_name(protocol, options, "english")
                          if protocol in TASKS else protocol)
    statistic = _statistic(proto, metric, options)
    ids = _common_ids(a, b)
    refs = {c: a[0][c][1] for c in ids}
    stats_a, stats_b = ([statistic.per_clip([run[c][0] for c in ids], refs) for run in runs]
                        for runs in (a, b))
    return _compare(stats_a, stats_b, statistic, proto.name, metric, n_resamples, seed)


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


def _compare(stats_a: list[np.ndarray], stats_b: list[np.ndarray], statistic: _Statistic,
             protocol: str, metric: str, n_resamples: int, seed: int) -> Comparison:
    """The bootstrap of two methods' per-clip statistics (one array per run, clip order)."""
    return _compare_sums([_sums(s, n_resamples, seed) for s in stats_a],
                         [_sums(s, n_resamples, seed) for s in stats_b], statistic, protocol,
                         metric, len(stats_a[0]), n_resamples)


def _compare_sums(sums_a: list[tuple[np.ndarray, np.ndarray]],
                  sums_b: list[tuple[np.ndarray, np.ndarray]], statistic: _Statistic,
                  protocol: str, metric: str, n_clips: int, n_resamples: int) -> Comparison:
    """The bootstrap of two methods from their runs' ``_sums``."""
    def method(sums: list[tuple[np.ndarray, np.ndarray]]) -> tuple[float, np.ndarray]:
        observed = np.mean([statistic.corpus(full)[0] for full, _ in sums])
        return float(observed), np.mean([statistic.corpus(boot) for _, boot in sums], axis=0)

    (obs_a, boot_a), (obs_b, boot_b) = method(sums_a), method(sums_b)
    deltas = boot_a - boot_b
    low, high = np.percentile(deltas, [2.5, 97.5])
    below, above = ((np.count_nonzero(side) + 1) / (n_resamples + 1)
                    for side in (deltas <= 0, deltas >= 0))
    return Comparison(metric, protocol, obs_a, obs_b, obs_a - obs_b,
                      (float(low), float(high)), float(deltas.std()),
                      float(min(1.0, 2 * min(below, above))), n_clips, n_resamples,
                      len(sums_a), len(sums_b), statistic.higher_is_better)


def load_predictions(cell_dir: Path) -> dict[str, tuple[Any, str]]:
    """The test predictions of a finished cell: clip id -> (prediction, reference)."""
    return dict(_load_cell(cell_dir)[1])


def compare_cells(a: Sequence[Path], b: Sequence[Path], metric: str, *,
                  n_resamples: int = 1000, seed: int = 0) -> Comparison:
    """Paired bootstrap test of ``metric`` between finished cells (one per seed) of two
    methods, under the metric protocol and options the cells were scored with."""
    cells = [_load_cell(c) for c in [*a, *b]]
    result = cells[0][0]
    proto, lowercase = _scoring(a[0], result)
    _check_metric(proto, metric)
    family = proto.family(metric)
    signatures = {r["signatures"].get(family) for r, _ in cells}
    if len(signatures) > 1:
        raise DataError(f"the cells' {metric} was computed under different signatures "
                        f"({' vs '.join(sorted(map(str, signatures)))}); compare cells of "
                        f"one leaderboard table")
    preds = [p for _, p in cells]
    ids = tuple(_common_ids(preds[:len(a)], preds[len(a):]))
    sums = [_cell_sums(c, _stamp(c), proto.name, metric, lowercase, ids, n_resamples, seed)
            for c in [*a, *b]]
    statistic = _statistic(proto, metric, {"lowercase": lowercase})
    return _compare_sums(sums[:len(a)], sums[len(a):], statistic, proto.name, metric,
                         len(ids), n_resamples)


@lru_cache(maxsize=4096)  # a leaderboard compares one baseline's cells with every row
def _cell_sums(cell_dir: Path, stamp: tuple[int, ...], protocol: str, metric: str,
               lowercase: bool, ids: tuple[str, ...], n_resamples: int, seed: int
               ) -> tuple[np.ndarray, np.ndarray]:
    """``_sums`` of a cell's per-clip statistics (arguments as ``_cell_statistics``)."""
    return _sums(_cell_statistics(cell_dir, stamp, protocol, metric, lowercase, ids),
                 n_resamples, seed)


def _scoring(cell_dir: Path, result: dict[str, Any]) -> tuple[protocols.Protocol, bool]:
    """The metric protocol a finished cell was scored with, and its lowercase option."""
    head = next(iter(result["signatures"].values())).split("|")[0]
    proto = protocols.get(head.removeprefix("protocol:"), result["task"])
    config = _read_json(cell_dir / result["files"].get("config", "config.json"))
    return proto, bool(config.get("config", {}).get("eval", {}).get("lowercase", False))


#: What ``prefetch`` computed in worker processes: ``_load_cached`` and
#: ``_cell_statistics`` results by their arguments.
_PREFETCHED: dict[tuple[Any, ...], Any] = {}


def prefetch(cells: Sequence[Path], metrics: Mapping[str, str], workers: int | None = None
             ) -> int:
    """Load and score the test predictions of many finished cells at once, in ``workers``
    forked processes (default: the usable cores), for the comparisons that follow
    (``metrics``: task -> the metric they will test, e.g. ``{"slt": "bleu4"}``). Scoring is
    most of a leaderboard's time and each cell is independent. Cells that cannot be read
    are left for ``compare_cells`` to report. Returns the number prefetched."""
    import multiprocessing
    import os

    workers = workers or len(os.sched_getaffinity(0))
    todo = sorted({c for c in cells if (c, _stamp(c)) not in _PREFETCHED})
    if workers < 2 or len(todo) < 8 * workers:  # forking would cost more than it saves
        return 0
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        for done in pool.imap_unordered(_prefetch_one, [(c, dict(metrics)) for c in todo],
                                        chunksize=max(1, len(todo) // (8 * workers))):
            for key, value in done:
                _PREFETCHED[key] = value
    return len(todo)


def _prefetch_one(job: tuple[Path, dict[str, str]]) -> list[tuple[tuple[Any, ...], Any]]:
    """In a worker: the cache entries of one cell (none where it cannot be read)."""
    cell, metrics = job
    stamp = _stamp(cell)
    try:
        loaded = _load_cached(cell, stamp)
        result, preds = loaded
        proto, lowercase = _scoring(cell, result)
        metric = metrics.get(result["task"])
        if metric is None or metric not in METRICS[proto.task]:
            return [((cell, stamp), loaded)]
        key = (cell, stamp, proto.name, metric, lowercase, tuple(sorted(preds)))
        return [((cell, stamp), loaded), (key, _cell_statistics(*key))]
    except (DataError, UserError):
        return []


def _cell_statistics(cell_dir: Path, stamp: tuple[int, ...], protocol: str, metric: str,
                     lowercase: bool, ids: tuple[str, ...]) -> np.ndarray:
    """Per-clip statistics of a cell's test predictions in ``ids`` order (``stamp``: the
    files' modification times, so that a rewritten cell is read again)."""
    key = (cell_dir, stamp, protocol, metric, lowercase, ids)
    found = _PREFETCHED.get(key)
    return found if found is not None else _statistics_cached(*key)


@lru_cache(maxsize=4096)
def _statistics_cached(cell_dir: Path, stamp: tuple[int, ...], protocol: str, metric: str,
                       lowercase: bool, ids: tuple[str, ...]) -> np.ndarray:
    """``_cell_statistics`` computed here."""
    preds = _loaded(cell_dir, stamp)[1]
    statistic = _statistic(protocols.get(protocol), metric, {"lowercase": lowercase})
    return statistic.per_clip([preds[c][0] for c in ids], {c: preds[c][1] for c in ids})


def _stamp(cell_dir: Path) -> tuple[int, ...]:
    """Modification times and sizes of a cell's result and predictions (0 when missing)."""
    out = []
    for path in (cell_dir / RESULT_FILE, cell_dir / "predictions" / "test.jsonl"):
        try:
            st = path.stat()
            out += [st.st_mtime_ns, st.st_size]
        except OSError:
            out += [0, 0]
    return tuple(out)


def _check_metric(proto: protocols.Protocol, metric: str) -> None:
    if metric not in METRICS[proto.task]:
        raise UserError(f"cannot test {metric!r} of protocol {proto.name} for significance; "
                        f"it supports {', '.join(METRICS[proto.task])}")


def _statistic(proto: protocols.Protocol, metric: str, options: Mapping[str, Any]
               ) -> _Statistic:
    _check_metric(proto, metric)
    if proto.task == "islr":
        k = int(metric.removeprefix("top"))
        return _Statistic(lambda preds, refs: np.array(
            [[ref in list(pred)[:k], 1]
             for pred, ref in zip(preds, refs.values(), strict=True)], dtype=float),
            _percent, True)
    if proto.task == "cslr":
        count = _phoenix_errors(_PHOENIX[proto.name]) if proto.name in _PHOENIX else _errors
        return _Statistic(count, _percent, False)
    tokenize, lowercase = _TOKENIZE[proto.name], bool(options.get("lowercase", False))
    order = int(metric.removeprefix("bleu"))
    return _Statistic(
        lambda preds, refs: np.array(_bleu_scorer(tokenize, lowercase, order, tuple(
            refs.values()))._extract_corpus_statistics(preds, None), dtype=float),
        lambda sums: _bleu(sums, order), True)


@lru_cache(maxsize=64)  # the runs of a benchmark share their references: tokenised once
def _bleu_scorer(tokenize: str, lowercase: bool, order: int, refs: tuple[str, ...]) -> Any:
    """A sacrebleu BLEU with ``refs`` (one reference per clip) cached."""
    from sacrebleu.metrics import BLEU

    # force: as in benchmarks.metrics.translation, it only silences a tokenisation warning
    bleu = BLEU(tokenize=tokenize, lowercase=lowercase, max_ngram_order=order, force=True,
                references=[list(refs)])
    if bleu.smooth_method != "exp" or bleu.effective_order:
        raise RuntimeError("corpus BLEU is expected with exp smoothing, no effective order")
    return bleu


def _bleu(sums: np.ndarray, order: int) -> np.ndarray:
    """Corpus BLEU of each row of summed sacrebleu statistics (hypothesis length, reference
    length, n-gram matches 1..order, n-gram totals 1..order): ``BLEU.compute_bleu`` with its
    corpus defaults (exp smoothing, no effective order), over all rows at once."""
    sys_len, ref_len = sums[:, 0], sums[:, 1]
    correct, total = sums[:, 2:2 + order], sums[:, 2 + order:2 + 2 * order]
    with np.errstate(divide="ignore", invalid="ignore"):
        bp = np.where(sys_len >= ref_len, 1.0,
                      np.where(sys_len > 0, np.exp(1 - ref_len / sys_len), 0.0))
        smooth = np.ones(len(sums))
        reached = np.ones(len(sums), dtype=bool)  # compute_bleu stops at the first empty order
        logs = np.zeros(len(sums))
        for n in range(order):
            reached &= total[:, n] > 0
            zero = correct[:, n] == 0
            smooth = np.where(reached & zero, smooth * 2, smooth)
            precision = np.where(zero, 100.0 / (smooth * total[:, n]),
                                 100.0 * correct[:, n] / total[:, n])
            precision = np.where(reached, precision, 0.0)
            logs += np.where(precision > 0, np.log(np.where(precision > 0, precision, 1.0)),
                             -9999999999.0)  # sacrebleu's log of 0
        score = bp * np.exp(logs / order)
    return np.where(correct.sum(axis=1) > 0, score, 0.0)


def _percent(sums: np.ndarray) -> np.ndarray:
    """100 * numerator / denominator of summed (numerator, denominator) statistics."""
    return 100.0 * sums[:, 0] / sums[:, 1]


def _errors(preds: list[str], refs: dict[str, str]) -> np.ndarray:
    """Per clip (word errors, reference words) of jiwer's alignment on whitespace words."""
    import jiwer

    words = wer.reference_words(refs)
    out = jiwer.process_words([" ".join(w) for w in words.values()],
                              [" ".join(p.split()) for p in preds])
    return np.array([[sum(max(c.ref_end_idx - c.ref_start_idx, c.hyp_end_idx - c.hyp_start_idx)
                          for c in chunks if c.type != "equal"), len(w)]
                     for chunks, w in zip(out.alignments, words.values(), strict=True)],
                    dtype=float)


def _phoenix_errors(corpus: str) -> Callable[[list[str], dict[str, str]], np.ndarray]:
    clean = phoenix.CLEANERS[corpus]

    def count(preds: list[str], refs: dict[str, str]) -> np.ndarray:
        """Per clip (word errors, reference words) of sclite on the cleaned hypothesis."""
        words = wer.reference_words(refs)
        edits = [wer.sclite_counts(w, clean(p)) for w, p in zip(words.values(), preds,
                                                                strict=True)]
        return np.array([[e.sub + e.dele + e.ins, e.ref_words] for e in edits], dtype=float)

    return count


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


def _load_cell(cell_dir: Path) -> tuple[dict[str, Any], dict[str, tuple[Any, str]]]:
    """A finished cell's result and its test predictions, or a one-line DataError (cached
    while its files are unchanged: callers must not modify what it returns)."""
    return _loaded(cell_dir, _stamp(cell_dir))


def _loaded(cell_dir: Path, stamp: tuple[int, ...]
            ) -> tuple[dict[str, Any], dict[str, tuple[Any, str]]]:
    """``_load_cached``, or what ``prefetch`` loaded for the cell at ``stamp``."""
    found = _PREFETCHED.get((cell_dir, stamp))
    return found if found is not None else _load_cached(cell_dir, stamp)


@lru_cache(maxsize=4096)
def _load_cached(cell_dir: Path, stamp: tuple[int, ...]
                 ) -> tuple[dict[str, Any], dict[str, tuple[Any, str]]]:
    """``_load_cell`` of the cell as it is at ``stamp``."""
    result = _read_json(cell_dir / RESULT_FILE)
    bad = problems(result) or ([] if isinstance(result["files"].get("predictions_test"), str)
                               else ["no files.predictions_test"])
    if bad:
        raise DataError(f"{cell_dir / RESULT_FILE} is not a finished cell's result "
                        f"({bad[0]}); {_RERUN}")
    path = cell_dir / result["files"]["predictions_test"]
    try:
        text = read_text("test predictions", path)
    except DataError as exc:
        raise DataError(f"{exc}; {_RERUN}") from None
    task = result["task"]
    fast = _parse_rows(text, task)
    if fast is not None:
        return result, fast
    try:  # the reader of `harness score`, whose messages name the file and the line
        rows = jsonl_rows("test predictions", path, text)
    except DataError as exc:
        raise DataError(f"{exc}; {_RERUN}") from None
    out: dict[str, tuple[Any, str]] = {}
    for where, row in rows:
        if not _is_row(row, task):
            shape = "a list of labels" if task == "islr" else "a string"
            raise DataError(f"{path} {where} is not a {task} prediction row (id and "
                            f"reference: strings; prediction: {shape}); {_RERUN}")
        if row["id"] in out:
            raise DataError(f"{path} {where}: clip {row['id']!r} appears twice; {_RERUN}")
        out[row["id"]] = (row["prediction"], row["reference"])
    return result, out


def _parse_rows(text: str, task: str) -> dict[str, tuple[Any, str]] | None:
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
        if not isinstance(row, dict) or not _is_row(row, task) or row["id"] in out:
            return None
        out[row["id"]] = (row["prediction"], row["reference"])
    return out


def _is_row(row: dict[str, Any], task: str) -> bool:
    """Whether a JSONL row is a prediction row as the runner writes it for ``task``."""
    if not (isinstance(row.get("id"), str) and isinstance(row.get("reference"), str)):
        return False
    pred = row.get("prediction")
    if task == "islr":
        return isinstance(pred, list) and all(map(isinstance, pred, repeat(str)))
    return isinstance(pred, str)


def _read_json(path: Path) -> Any:
    """A JSON file's content, or a one-line DataError naming it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path} is missing; is {path.parent} a finished cell?") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read {path} ({exc.__class__.__name__}); {_RERUN}") from None
