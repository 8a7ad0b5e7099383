"""Paired bootstrap comparisons: observed numbers equal the benchmark metrics, the test
rejects what it should and only that, and agrees with sacrebleu's own paired bootstrap."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sacrebleu
from sacrebleu.metrics import BLEU
from sacrebleu.significance import PairedTest

from benchmarks.metrics import protocols
from harness.analysis.significance import (
    compare_cells,
    load_predictions,
    paired_bootstrap,
)
from harness.cell.results import SCHEMA_VERSION
from harness.cell.statistics import write_statistics
from harness.errors import DataError, UserError

LABELS = [f"G{i}" for i in range(30)]
GLOSSES = [f"W{i}" for i in range(60)] + ["loc-W1", "__EMOTION__", "S", "H"]
ENGLISH = ["the", "a", "of", "to", "in", "is", "was", "he", "she", "it", "on", "at", "by",
           "cat", "dog", "house", "sat", "ran", "weather", "rain", "sun", "tomorrow", "North",
           "Wind"]


def ids(n: int) -> list[str]:
    """Clip ids whose sorted order is their order in the list (sacrebleu keeps list order)."""
    return [f"clip{i:05d}" for i in range(n)]


def islr_run(refs: dict[str, str], accuracy: float, seed: int) -> dict[str, tuple[Any, str]]:
    """Ranked top-5 labels: the reference first with probability ``accuracy``."""
    rnd = random.Random(seed)
    out = {}
    for clip, ref in refs.items():
        others = rnd.sample([g for g in LABELS if g != ref], 5)
        ranked = [ref, *others[:4]] if rnd.random() < accuracy else others
        if rnd.random() < 0.3:  # sometimes the reference ranks 2nd..5th
            ranked = [*others[:1], ref, *others[1:4]]
        out[clip] = (ranked, ref)
    return out


def noisy_run(refs: dict[str, str], vocab: list[str], error: float, seed: int
              ) -> dict[str, tuple[Any, str]]:
    """Each reference word kept (upper-cased one time in ten: it counts where case does),
    substituted, dropped or followed by an insertion."""
    rnd = random.Random(seed)
    out = {}
    for clip, ref in refs.items():
        words = []
        for w in ref.split():
            u = rnd.random()
            if u < error / 3:
                continue
            kept = w.upper() if rnd.random() < 0.1 else w
            words.append(rnd.choice(vocab) if u < 2 * error / 3 else kept)
            if u > 1 - error / 3:
                words.append(rnd.choice(vocab))
        out[clip] = (" ".join(words), ref)
    return out


def sentences(n: int, vocab: list[str], seed: int) -> dict[str, str]:
    rnd = random.Random(seed)
    return {c: " ".join(rnd.choices(vocab, k=rnd.randint(2, 14))) for c in ids(n)}


def protocol_metric(protocol: str, run: dict[str, tuple[Any, str]], metric: str,
                    options: dict[str, Any] | None = None) -> float:
    """The benchmark's own number: the metric protocol scoring the run's predictions."""
    preds = {c: p for c, (p, _) in run.items()}
    refs = {c: r for c, (_, r) in run.items()}
    return protocols.get(protocol).score(preds, refs, options).metrics[metric]


@pytest.fixture(scope="module")
def islr_refs() -> dict[str, str]:
    rnd = random.Random(0)
    return {c: rnd.choice(LABELS) for c in ids(2000)}


@pytest.mark.parametrize("metric", ["top1", "top5"])
def test_observed_topk_is_the_protocols_top_k(islr_refs, metric):
    a = [islr_run(islr_refs, 0.5, seed) for seed in range(3)]
    b = [islr_run(islr_refs, 0.4, 9)]
    out = paired_bootstrap(a, b, "islr-topk", metric, n_resamples=50)
    expected = np.mean([protocol_metric("islr-topk", r, metric) for r in a])
    assert out.a == pytest.approx(expected, abs=1e-9)
    assert out.b == pytest.approx(protocol_metric("islr-topk", b[0], metric), abs=1e-9)
    assert out.delta == pytest.approx(out.a - out.b, abs=1e-12)
    assert (out.n_clips, out.runs_a, out.runs_b, out.higher_is_better) == (2000, 3, 1, True)


@pytest.mark.parametrize("protocol", ["wer-plain", "wer-phoenix", "wer-phoenix2014t"])
def test_observed_wer_is_the_protocols_wer(protocol):
    refs = sentences(300, GLOSSES[:60], seed=1)
    a = [noisy_run(refs, GLOSSES, 0.3, seed) for seed in range(2)]
    b = [noisy_run(refs, GLOSSES, 0.4, seed) for seed in range(2, 5)]
    out = paired_bootstrap(a, b, protocol, "wer", n_resamples=50)
    assert out.a == pytest.approx(np.mean([protocol_metric(protocol, r, "wer") for r in a]),
                                  abs=1e-9)
    assert out.b == pytest.approx(np.mean([protocol_metric(protocol, r, "wer") for r in b]),
                                  abs=1e-9)
    assert not out.higher_is_better and out.delta < 0  # a errs less: a negative delta


@pytest.mark.parametrize(("protocol", "options", "sacrebleu_args"), [
    ("bleu-13a", {}, {"tokenize": "13a"}),
    ("bleu-13a", {"lowercase": True}, {"tokenize": "13a", "lowercase": True}),
    ("bleu-none", {}, {"tokenize": "none", "force": True}),
    ("bleu-char", {}, {"tokenize": "char"}),
])
def test_observed_bleu_is_sacrebleus_corpus_bleu(protocol, options, sacrebleu_args):
    refs = sentences(300, ENGLISH, seed=2)
    a = [noisy_run(refs, ENGLISH, 0.3, seed) for seed in range(2)]
    b = [noisy_run(refs, ENGLISH, 0.35, 7)]
    for metric in ("bleu1", "bleu4"):
        out = paired_bootstrap(a, b, protocol, metric, options=options, n_resamples=50)
        assert out.a == pytest.approx(np.mean([protocol_metric(protocol, r, metric, options)
                                               for r in a]), abs=1e-9)
        order = int(metric[-1])
        tool = BLEU(max_ngram_order=order, **sacrebleu_args).corpus_score(
            [p for p, _ in b[0].values()], [list(refs.values())])
        assert out.b == pytest.approx(tool.score, abs=1e-9)


def test_a_task_name_stands_for_its_default_protocol(islr_refs):
    a, b = [islr_run(islr_refs, 0.5, 0)], [islr_run(islr_refs, 0.4, 1)]
    assert paired_bootstrap(a, b, "islr", "top1", n_resamples=20) == paired_bootstrap(
        a, b, "islr-topk", "top1", n_resamples=20)
    refs = sentences(50, ENGLISH, seed=3)
    slt = paired_bootstrap([noisy_run(refs, ENGLISH, 0.3, 0)], [noisy_run(refs, ENGLISH, 0.3, 1)],
                           "slt", "bleu4", n_resamples=20)
    assert slt.protocol == "bleu-13a"


@pytest.mark.parametrize(("protocol", "metric"), [("islr-topk", "top1"), ("wer-plain", "wer"),
                                                  ("bleu-13a", "bleu4")])
def test_a_system_against_itself_is_no_difference(protocol, metric):
    refs = sentences(200, ENGLISH, seed=4)
    if protocol == "islr-topk":
        refs = {c: LABELS[len(r) % len(LABELS)] for c, r in refs.items()}
        run = islr_run(refs, 0.5, 0)
    else:
        run = noisy_run(refs, ENGLISH, 0.3, 0)
    out = paired_bootstrap([run, run], [run], protocol, metric, n_resamples=200)
    assert out.delta == 0.0 and out.ci95 == (0.0, 0.0) and out.se == 0.0
    assert out.p_value == 1.0 and not out.significant() and out.p_text() == "1.000"


def test_better_on_many_clips_is_significant_and_a_few_random_flips_are_not(islr_refs):
    base = islr_run(islr_refs, 0.5, 0)
    hits = [c for c, (p, r) in base.items() if p[0] == r]
    misses = [c for c, (p, r) in base.items() if p[0] != r]
    wrong = {c: ([g for g in LABELS if g != r][:5], r) for c, (_, r) in base.items()}
    worse = {**base, **{c: wrong[c] for c in hits[:200]}}  # 200 of 2000 clips lost
    b_ = 1000
    clear = paired_bootstrap([base], [worse], "islr-topk", "top1", n_resamples=b_)
    assert clear.delta == pytest.approx(10.0)
    assert clear.p_value == pytest.approx(2 / (b_ + 1)) and clear.significant(0.01)
    assert clear.p_text() == "< 0.001"  # no resample crossed 0: below what 1,000 resolve
    assert clear.ci95[0] > 0
    right = {c: ([r, *[g for g in LABELS if g != r][:4]], r) for c, (_, r) in base.items()}
    flipped = {**base, **{c: wrong[c] for c in hits[:3]}, **{c: right[c] for c in misses[:2]}}
    tiny = paired_bootstrap([base], [flipped], "islr-topk", "top1", n_resamples=b_)
    assert tiny.delta == pytest.approx(100 * 1 / 2000)
    assert tiny.p_value > 0.3 and not tiny.significant()
    assert tiny.p_text() == f"{tiny.p_value:.3f}"
    assert tiny.ci95[0] < 0 < tiny.ci95[1]


def test_bootstrap_sd_of_the_delta_is_the_analytic_paired_sd(islr_refs):
    a, b = islr_run(islr_refs, 0.5, 0), islr_run(islr_refs, 0.45, 1)
    out = paired_bootstrap([a], [b], "islr-topk", "top1", n_resamples=2000, seed=3)
    d = np.array([(a[c][0][0] == r) - (b[c][0][0] == r) for c, r in islr_refs.items()])
    analytic = 100 * math.sqrt(d.var() / len(d))
    assert out.se == pytest.approx(analytic, rel=0.15)
    assert out.ci95[1] - out.ci95[0] == pytest.approx(2 * 1.96 * analytic, rel=0.15)


def paired_bs(hyps: dict[str, list[str]], refs: list[str], n: int) -> dict[str, Any]:
    """sacrebleu's paired bootstrap (its seed 12345), baseline first: name -> its Result."""
    _, scores = PairedTest(list(hyps.items()), {"BLEU": BLEU()}, [refs], test_type="bs",
                           n_samples=n)()
    return dict(zip(scores["System"], scores["BLEU"], strict=True))


def test_resampled_bleu_matches_sacrebleus_paired_bootstrap(monkeypatch):
    # With the same seed, both draw the same resamples (numpy's choice over the clips in
    # order), so BLEU on each resample must be sacrebleu's. sacrebleu reports the resampled
    # BLEU of each system, not of the difference: against the references themselves (BLEU
    # 100 on every resample) the difference is a's resampled BLEU - 100, so our interval
    # must be sacrebleu's 95% interval of a (it takes the 25th and 975th of 1000 sorted
    # values, we interpolate the 2.5 and 97.5 percentiles: equal to a small tolerance).
    monkeypatch.setenv("SACREBLEU_SEED", "12345")
    refs = sentences(400, ENGLISH, seed=5)
    a = noisy_run(refs, ENGLISH, 0.3, 0)
    perfect = {c: (r, r) for c, r in refs.items()}
    ours = paired_bootstrap([a], [perfect], "bleu-13a", "bleu4", seed=12345)
    theirs = paired_bs({"refs": list(refs.values()), "a": [p for p, _ in a.values()]},
                       list(refs.values()), 1000)["a"]
    assert ours.a == pytest.approx(theirs.score, abs=1e-9)
    low, high = (v + 100 for v in ours.ci95)
    assert (high - low) / 2 == pytest.approx(theirs.ci, rel=0.02)
    assert low < theirs.mean < high


@pytest.mark.parametrize("data_seed", [0, 1, 2])
def test_bleu_p_value_agrees_with_sacrebleus_paired_bootstrap(monkeypatch, data_seed):
    # sacrebleu's p-value (Moses' bootstrap-hypothesis-difference-significance) is another
    # statistic: the share of resamples whose |delta*| - mean |delta*| exceeds |delta|. For
    # delta* ~ N(delta, s^2) that is about 0.42 at delta = 0, about 0.27 at |delta| = s/3 and
    # one tail, Phi(-|delta|/s), for |delta| >> s, while ours, twice the smaller tail at 0,
    # is 2 Phi(-|delta|/s): on the same resamples ours is 2.35 to 2.9 times sacrebleu's for
    # two systems of equal quality, and at the floor exactly 2/(B+1) against its 1/(B+1).
    # (Between, where both rest on a few dozen tail resamples, the ratio is mostly noise.)
    monkeypatch.setenv("SACREBLEU_SEED", "12345")
    refs = sentences(500, ENGLISH, seed=10 + data_seed)
    a, b = noisy_run(refs, ENGLISH, 0.3, 1), noisy_run(refs, ENGLISH, 0.3, 2)
    hyps = {"b": [p for p, _ in b.values()], "a": [p for p, _ in a.values()]}
    ours = paired_bootstrap([a], [b], "bleu-13a", "bleu4", seed=12345)
    theirs = paired_bs(hyps, list(refs.values()), 1000)
    assert (ours.a, ours.b) == pytest.approx((theirs["a"].score, theirs["b"].score), abs=1e-9)
    assert 2.0 <= ours.p_value / theirs["a"].p_value <= 3.2
    assert not ours.significant()
    far = noisy_run(refs, ENGLISH, 0.5, 3)
    ours = paired_bootstrap([a], [far], "bleu-13a", "bleu4", seed=12345)
    theirs = paired_bs({"far": [p for p, _ in far.values()], "a": hyps["a"]},
                       list(refs.values()), 1000)
    assert ours.p_value == pytest.approx(2 / 1001)
    assert theirs["a"].p_value == pytest.approx(1 / 1001)


def test_same_seed_same_result_and_the_seed_matters(islr_refs):
    a = [islr_run(islr_refs, 0.5, s) for s in range(2)]
    b = [islr_run(islr_refs, 0.48, s) for s in range(2, 5)]
    first = paired_bootstrap(a, b, "islr-topk", "top1", seed=4)
    assert paired_bootstrap(a, b, "islr-topk", "top1", seed=4) == first
    other = paired_bootstrap(a, b, "islr-topk", "top1", seed=5)
    assert other.delta == first.delta and other.ci95 != first.ci95


def test_runs_must_cover_the_same_clips_with_the_same_references(islr_refs):
    a = islr_run(islr_refs, 0.5, 0)
    fewer = dict(list(a.items())[:-1])
    with pytest.raises(DataError, match=r"run 2 of method b covers other clips .*1 missing"):
        paired_bootstrap([a], [a, fewer], "islr-topk", "top1")
    clip = next(iter(a))
    relabelled = {**a, clip: (a[clip][0], "OTHER")}
    with pytest.raises(DataError, match=f"clip '{clip}' has another reference"):
        paired_bootstrap([a, relabelled], [a], "islr-topk", "top1")


def test_unsupported_metric_is_a_user_error(islr_refs):
    a = islr_run(islr_refs, 0.5, 0)
    with pytest.raises(UserError, match=r"pc_top1.*supports top1, top5"):
        paired_bootstrap([a], [a], "islr-topk", "pc_top1")


# -- cells -----------------------------------------------------------------------------------

def write_cell(folder: Path, run: dict[str, tuple[Any, str]], task: str, signature: str,
               eval_options: dict[str, Any] | None = None, stats: bool = False) -> Path:
    """A finished cell as the runner leaves it: result.json, config.json, test predictions
    (and, with ``stats``, their per-clip statistics)."""
    (folder / "predictions").mkdir(parents=True)
    rows = [{"id": c, "prediction": p, "reference": r} for c, (p, r) in run.items()]
    (folder / "predictions" / "test.jsonl").write_text(
        "".join(json.dumps(row) + "\n" for row in rows))
    (folder / "config.json").write_text(json.dumps({"config": {"eval": eval_options or {}}}))
    family = {"islr": "topk", "slt": "bleu"}[task]
    result = {"schema": SCHEMA_VERSION, "status": "finished", "method": "m", "preset": "p",
              "bench": "b", "task": task, "seed": 0, "cell_key": "k", "config_hash": "h",
              "benchmark": {"fingerprint": "f"}, "metrics": {"test": {"x": 1.0}},
              "signatures": {family: signature}, "selection": {}, "code": {},
              "environment": {}, "timings": {}, "mlflow": {},
              "method_info": {"input": "pose", "variant": None},
              "files": {"config": "config.json", "predictions_test": "predictions/test.jsonl"}}
    (folder / "result.json").write_text(json.dumps(result))
    if stats:
        write_statistics(folder / "predictions" / "test.jsonl", task, result["signatures"],
                         eval_options or {})
    return folder


def test_load_predictions_reads_what_the_runner_writes(tmp_path, islr_refs):
    run = islr_run(islr_refs, 0.5, 0)
    cell = write_cell(tmp_path / "c", run, "islr", "protocol:islr-topk|version:1")
    assert load_predictions(cell) == {c: (list(p), r) for c, (p, r) in run.items()}


def test_bad_prediction_files_are_one_line_data_errors(tmp_path, islr_refs):
    cell = write_cell(tmp_path / "c", islr_run(islr_refs, 0.5, 0), "islr",
                      "protocol:islr-topk|version:1")
    path = cell / "predictions" / "test.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], '{"id": "x", "prediction": "G1", "reference": "G1"}']))
    with pytest.raises(DataError, match=r"test.jsonl line 2 is not a islr prediction row"):
        load_predictions(cell)
    path.write_text(lines[0] + "\n{not json\n")
    with pytest.raises(DataError, match=r"test.jsonl line 2 is not valid JSON"):
        load_predictions(cell)
    # the fast reader parses the lines as one JSON array: what only that would accept is
    # still refused line by line
    path.write_text(f"{lines[0]}\n{lines[1]}, {lines[2]}\n")
    with pytest.raises(DataError, match=r"test.jsonl line 2 is not valid JSON"):
        load_predictions(cell)
    path.write_text(f"{lines[0]}\n{lines[1][:20]}\n{lines[1][20:]}\n")
    with pytest.raises(DataError, match=r"test.jsonl line 2 is not valid JSON"):
        load_predictions(cell)
    path.write_text(f"{lines[0]}\n{lines[1]}\n{lines[0]}\n")
    with pytest.raises(DataError, match=r"test.jsonl line 3: clip '.*' appears twice"):
        load_predictions(cell)
    path.unlink()
    with pytest.raises(DataError, match=r"test.jsonl does not exist; run the cell again") as err:
        load_predictions(cell)
    assert "\n" not in str(err.value)
    with pytest.raises(DataError, match=r"result.json is missing"):
        load_predictions(tmp_path / "nowhere")


def forget_cells() -> None:
    """Empty what the module keeps of the cells it read (as a new process starts)."""
    from harness.analysis import significance

    significance._CACHE.clear()


def test_prefetching_changes_no_comparison(tmp_path):
    """The leaderboard reads, scores (in forked workers) and resamples (all cells of a
    metric at once) its cells first: the comparisons are those of one cell at a time, and
    unreadable cells are left to report themselves."""
    from harness.analysis import significance

    refs = sentences(60, ENGLISH, seed=8)
    sig = "protocol:bleu-13a|version:1"
    cells = [write_cell(tmp_path / f"c{i}", noisy_run(refs, ENGLISH, 0.2 + 0.02 * i, i),
                        "slt", sig, stats=i % 3 == 0) for i in range(30)]
    (tmp_path / "c29" / "predictions" / "test.jsonl").write_text("{broken\n")
    pairs = [(cells[:3], cells[3:6]), (cells[6:9], cells[:3]), (cells[9:12], cells[12:16])]
    forget_cells()
    expected = [compare_cells(a, b, "bleu4", n_resamples=200) for a, b in pairs]
    forget_cells()
    assert significance.prefetch(cells, {"bleu-13a": "bleu4"}, workers=2,
                                 n_resamples=200) == 29
    scored_here = []
    significance._ADDED = scored_here  # what compare_cells computes from here on
    try:
        assert [compare_cells(a, b, "bleu4", n_resamples=200) for a, b in pairs] == expected
    finally:
        significance._ADDED = None
    assert not [k for k in scored_here if k[0] in ("_statistics", "_boot")]  # all prefetched
    with pytest.raises(DataError, match=r"c29/predictions/test\.jsonl line 1 is not valid"):
        compare_cells(cells[28:], cells[:2], "bleu4", n_resamples=200)


def test_stored_statistics_give_the_comparison_of_the_predictions(tmp_path):
    """The per-clip statistics the runner stores beside the predictions are read instead of
    scoring them, and give the same comparison; they are ignored (the predictions scored)
    where they were written for other predictions, another protocol or other signatures."""
    from harness.analysis import significance

    refs = sentences(50, ENGLISH, seed=3)
    sig = "protocol:bleu-13a|version:1"
    runs = [noisy_run(refs, ENGLISH, e, i) for i, e in enumerate([0.2, 0.25, 0.5, 0.55])]
    plain = [write_cell(tmp_path / f"p{i}", r, "slt", sig) for i, r in enumerate(runs)]
    stored = [write_cell(tmp_path / f"s{i}", r, "slt", sig, stats=True)
              for i, r in enumerate(runs)]
    for metric in ("bleu1", "bleu4"):
        forget_cells()
        expected = compare_cells(plain[:2], plain[2:], metric, n_resamples=300)
        forget_cells()
        assert compare_cells(stored[:2], stored[2:], metric, n_resamples=300) == expected
        assert not [k for k in significance._CACHE if k[0] == "_predictions"]  # not parsed

    # stored numbers are what is used: forged ones (for these very predictions) change it
    stats_file = stored[0] / "predictions" / "test.stats.json"
    good = stats_file.read_text()
    forged = json.loads(good)
    entry = forged["statistics"]["bleu4"]
    entry["values"] = [0] * len(entry["values"])
    stats_file.write_text(json.dumps(forged))
    forget_cells()
    assert compare_cells(stored[:2], stored[2:], "bleu4", n_resamples=300).a != expected.a

    # ... but not where they are not for these predictions, protocol or signatures
    def changed(edit):
        doc = json.loads(good)
        edit(doc)
        stats_file.write_text(json.dumps(doc))
        forget_cells()
        return compare_cells(stored[:2], stored[2:], "bleu4", n_resamples=300)

    doc = json.loads(good)
    for key, value in [("predictions_sha256", "0" * 64), ("protocol", "bleu-none"),
                       ("signatures", {"bleu": sig + "|tok:none"}), ("schema", 99)]:
        assert changed(lambda d, k=key, v=value: d.update({k: v, "statistics":
                                                          forged["statistics"]})) == expected
    assert changed(lambda d: d["statistics"]["bleu4"].update(shape=[7, 3])) == expected
    narrow = {"shape": [50, 4], "values": [1] * 200}  # BLEU-1's width, filed as BLEU-4's
    assert changed(lambda d: d["statistics"].update(bleu4=narrow)) == expected
    stats_file.write_text("{not json")
    forget_cells()
    assert compare_cells(stored[:2], stored[2:], "bleu4", n_resamples=300) == expected
    assert doc["clips"] == 50 and doc["options"] == {}


def test_stored_statistics_still_say_which_clips_differ(tmp_path, islr_refs):
    """Runs of other test clips are refused as without stored statistics."""
    sig = "protocol:islr-topk|version:1"
    a = write_cell(tmp_path / "a", islr_run(islr_refs, 0.5, 0), "islr", sig, stats=True)
    fewer = dict(list(islr_run(islr_refs, 0.5, 1).items())[:-1])
    b = write_cell(tmp_path / "b", fewer, "islr", sig, stats=True)
    forget_cells()
    with pytest.raises(DataError, match=r"covers other clips than run 1 of method a \(1 miss"):
        compare_cells([a], [b], "top1", n_resamples=50)


def test_serial_blas_runs_blas_on_one_thread():
    """The leaderboard's comparisons run inside it: BLAS is on one thread there and as
    before after it."""
    from threadpoolctl import threadpool_info

    from harness.analysis.significance import serial_blas

    def blas_threads() -> list[int]:
        return [i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"]

    np.ones((4, 4)) @ np.ones((4, 4))  # numpy's BLAS is loaded
    before = blas_threads()
    assert before
    with serial_blas():
        assert set(blas_threads()) == {1}
    assert blas_threads() == before


def test_compare_cells_uses_the_cells_protocol_and_options(tmp_path):
    refs = sentences(200, ENGLISH, seed=6)
    a = [noisy_run(refs, ENGLISH, 0.3, s) for s in range(2)]
    b = [noisy_run(refs, ENGLISH, 0.4, 5)]
    sig = "protocol:bleu-13a|version:1|case:lc"
    lower = {"lowercase": True}
    cells_a = [write_cell(tmp_path / f"a{i}", r, "slt", sig, lower) for i, r in enumerate(a)]
    cells_b = [write_cell(tmp_path / "b0", b[0], "slt", sig, lower)]
    out = compare_cells(cells_a, cells_b, "bleu4", n_resamples=100)
    assert out == paired_bootstrap(a, b, "bleu-13a", "bleu4", options=lower, n_resamples=100)
    assert out.a == pytest.approx(np.mean([sacrebleu.corpus_bleu(
        [p.lower() for p, _ in r.values()], [[t.lower() for t in refs.values()]]).score
        for r in a]), abs=1e-9)
    other = write_cell(tmp_path / "b1", b[0], "slt", "protocol:bleu-13a|version:1|case:mixed")
    with pytest.raises(DataError, match="different signatures"):
        compare_cells(cells_a, [other], "bleu4")
