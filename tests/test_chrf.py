"""chrF, a metric added in ``benchmarks/metrics/`` alone: it equals sacrebleu's corpus chrF
(from per-clip statistics too, float for float), a benchmark picks it with
``eval.protocol``, and selection, significance, summary and leaderboard show it with no
change to the engine."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from sacrebleu.metrics import CHRF
from sacrebleu.significance import PairedTest

from benchmarks.metrics.chrf import chrf_statistics, corpus_chrf
from harness.analysis.significance import compare_cells, paired_bootstrap
from harness.cell.runner import resolve_bench_config
from harness.core.metric import get_protocol
from harness.core.registry import BENCHMARKS
from tests.pages_fixture import Bench, write_cell

ENGLISH = ["the", "cat", "sat", "on", "a", "mat", "It's", "cold,", "isn't", "it?", "Rain",
           "tomorrow", "north-east", "3.5", "(about)", "."]
CHINESE = list("我们你他今天明天天气很好不去学校商店吃饭喝水，。？2019AB")


def corpus(n: int, seed: int, chinese: bool = False) -> tuple[dict[str, str], dict[str, str]]:
    """References and noisy hypotheses (empty ones and one-character ones among them)."""
    rng = random.Random(seed)
    sep, vocab = ("", CHINESE) if chinese else (" ", ENGLISH)
    refs, hyps = {}, {}
    for i in range(n):
        ref = [rng.choice(vocab) for _ in range(rng.randint(1, 12))]
        hyp = [rng.choice(vocab) if rng.random() < 0.3 else u for u in ref
               if rng.random() > 0.15]
        refs[f"s{i:04d}"], hyps[f"s{i:04d}"] = sep.join(ref), sep.join(hyp)
    return hyps, refs


@pytest.mark.parametrize("chinese", [False, True])
@pytest.mark.parametrize("lowercase", [False, True])
def test_chrf_and_chrf_of_summed_statistics_are_sacrebleus_corpus_chrf(chinese, lowercase):
    hyps, refs = corpus(300, 1 + chinese, chinese)
    tool = CHRF(lowercase=lowercase).corpus_score(list(hyps.values()), [list(refs.values())])
    options = {"lowercase": lowercase}
    scores = get_protocol("chrf").score(hyps, refs, options)
    assert scores.metrics == {"chrf": tool.score}
    stats = np.array(chrf_statistics(hyps, refs, lowercase), dtype=float)
    assert corpus_chrf(stats.sum(0, keepdims=True))[0] == tool.score
    # and on any part of the corpus, as the bootstrap's resamples are
    rng = np.random.default_rng(0)
    for _ in range(20):
        picks = rng.choice(len(refs), size=len(refs), replace=True)
        ids = [list(refs)[i] for i in picks]
        part = CHRF(lowercase=lowercase).corpus_score([hyps[c] for c in ids],
                                                      [[refs[c] for c in ids]])
        assert corpus_chrf(stats[picks].sum(0, keepdims=True))[0] == part.score


def test_chrf_is_signed_with_its_protocol_and_sacrebleus_signature():
    hyps, refs = corpus(20, 3)
    scores = get_protocol("chrf").score(hyps, refs, {})
    assert scores.signatures == {"chrf": "protocol:chrf|version:1|nrefs:1|case:mixed|eff:yes|"
                                         "nc:6|nw:0|space:no|version:2.6.0"}
    lower = get_protocol("chrf").score(hyps, refs, {"lowercase": True})
    assert "|case:lc|" in lower.signatures["chrf"]


def test_a_benchmark_picks_chrf_and_selects_its_checkpoints_on_it():
    bench = BENCHMARKS.get("synth-slt")(resolve_bench_config("synth-slt",
                                                             ["+eval.protocol=chrf"]))
    protocol = bench.metric_protocol()
    assert (protocol.name, protocol.selection, protocol.higher_is_better("chrf")) == \
        ("chrf", "chrf", True)
    hyps, refs = corpus(10, 4)
    assert bench.score(hyps, refs).metrics == {"chrf": CHRF().corpus_score(
        list(hyps.values()), [list(refs.values())]).score}
    assert bench.score({c: "" for c in refs}, refs).metrics == {"chrf": 0.0}  # trivial


def test_resampled_chrf_is_sacrebleus_paired_bootstrap(monkeypatch):
    """With the same seed both draw the same resamples: against the references themselves
    (chrF 100 on every resample) our interval of the difference is sacrebleu's of a."""
    monkeypatch.setenv("SACREBLEU_SEED", "12345")
    hyps, refs = corpus(400, 5)
    a = {c: (hyps[c], refs[c]) for c in refs}
    perfect = {c: (r, r) for c, r in refs.items()}
    ours = paired_bootstrap([a], [perfect], "chrf", "chrf", seed=12345)
    _, scores = PairedTest([("refs", list(refs.values())), ("a", list(hyps.values()))],
                           {"chrF": CHRF()}, [list(refs.values())], test_type="bs",
                           n_samples=1000)()
    theirs = scores["chrF2"][1]
    assert ours.a == theirs.score
    low, high = (v + 100 for v in ours.ci95)
    assert (high - low) / 2 == pytest.approx(theirs.ci, rel=0.02)


def test_cells_scored_with_chrf_appear_in_the_pages_summary_and_comparisons(tmp_path):
    from harness.analysis.leaderboard import write_leaderboards
    from harness.analysis.summary import finished_results, summary_table

    out = tmp_path / "outputs"
    chrf = Bench("synth-slt", "slt", "chrf", {"protocol": "chrf"})
    bleu = Bench("synth-slt", "slt", "bleu-13a", {})
    cells = {(bench.protocol, method): [write_cell(out, bench, method, seed, skill,
                                                   stats=seed % 2 == 0)
                                        for seed in range(3)]
             for bench in (chrf, bleu) for method, skill in (("scratch", 0.5), ("sigma", 0.8))}
    pages = tmp_path / "lb"
    write_leaderboards(out, pages, plots=False, resamples=200)
    slt = (pages / "slt.md").read_text(encoding="utf-8")
    assert "(Student's t) for bleu4 / chrf;" in slt and "Higher bleu4, higher chrf is better" in slt
    table = slt.split("Signature: `protocol:chrf|version:1|")[1].split("MLflow runs")[0]
    head, _, scratch, sigma = [line for line in table.splitlines() if line.startswith("|")]
    assert head.startswith("| method | config | n | chrf | chrf 95% CI | vs scratch | "
                           "reported chrf |")
    comparison = compare_cells(cells["chrf", "sigma"], cells["chrf", "scratch"], "chrf",
                               n_resamples=200)
    assert comparison.higher_is_better and comparison.delta > 0
    assert f"| {comparison.delta:+.2f} (p {comparison.p_text()})*" in sigma
    results = [json.loads((c / "result.json").read_text()) for c in cells["chrf", "sigma"]]
    mean = np.mean([r["metrics"]["test"]["chrf"] for r in results])
    assert sigma.startswith(f"| sigma | - | 3 | {mean:.2f} ± ")
    assert scratch.startswith("| scratch | - | 3 |")
    summary = summary_table(finished_results(out))
    head = next(line for line in summary.splitlines() if line.startswith("| method"))
    assert set(head.split(" | ")[3:-1]) == {"bleu4", "rouge_l", "chrf"}
    column = head.split(" | ").index("chrf")
    chrf_rows = [line.split(" | ")[column] for line in summary.splitlines()
                 if line.startswith("| sigma |")]
    std = np.std([r["metrics"]["test"]["chrf"] for r in results], ddof=1)
    assert sorted(chrf_rows) == ["-", f"{mean:.2f} ± {std:.2f}"]  # BLEU's config: -
