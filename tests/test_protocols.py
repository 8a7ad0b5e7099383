"""Metric protocols: BLEU equals the sacrebleu command line, CSL-Daily is scored per
character, ROUGE-L uses BLEU's tokens, the NMFs-CSL split and the Phoenix clean-up rules are
pinned by hand-checked examples, and protocols are named, checked and signed."""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
from pathlib import Path
from typing import ClassVar

import pytest

from benchmarks._common import ScoredBenchmark
from benchmarks.metrics import phoenix, protocols, wer
from harness.cell.runner import resolve_bench_config
from harness.core.metric import get_protocol
from harness.core.registry import BENCHMARKS, PROTOCOLS
from harness.errors import ConfigError, DataError

SACREBLEU = Path(sys.executable).parent / "sacrebleu"

EN_WORDS = ["the", "weather", "will", "be", "cold", "tomorrow", "in", "north", "and", "south",
            "with", "rain", "snow", "wind", "sun", "clouds", "it's", "don't", "3.5", "degrees",
            "(about)", "east-west", '"quite"', "strong"]
EN_PUNCT = [".", "?", "!", ",", ""]
ZH_CHARS = "我们你他今天明天天气很好不去学校商店吃饭喝水看书写字下雨刮风北方南方，。？2019AB"


def english(rng: random.Random) -> str:
    words = [rng.choice(EN_WORDS) for _ in range(rng.randint(5, 9))]
    return " ".join(words) + rng.choice(EN_PUNCT)


def chinese(rng: random.Random) -> str:
    return "".join(rng.choice(ZH_CHARS) for _ in range(rng.randint(6, 11)))


def edited(rng: random.Random, ref: str, sep: str, pool: list[str]) -> str:
    """A hypothesis near ``ref``: substitutions and deletions, never fewer than 4 units."""
    units = ref.split() if sep else list(ref)
    out = [rng.choice(pool) if rng.random() < 0.2 else u for u in units if rng.random() > 0.1]
    return sep.join(out if len(out) >= 4 else units)


def generated(kind: str, n: int = 50, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    make, sep, pool = (english, " ", EN_WORDS) if kind == "en" else (chinese, "", list(ZH_CHARS))
    refs = [make(rng) for _ in range(n)]
    return refs, [edited(rng, r, sep, pool) for r in refs]


def cli_bleu(tmp: Path, refs: list[str], hyps: list[str], tokenize: str) -> dict[str, float]:
    """BLEU-1..4 from the sacrebleu command line: BLEU-4 as it prints it; BLEU-1..3 from the
    n-gram counts behind the precisions it prints, with sacrebleu's brevity penalty."""
    (tmp / "ref.txt").write_text("\n".join(refs) + "\n", encoding="utf-8")
    (tmp / "hyp.txt").write_text("\n".join(hyps) + "\n", encoding="utf-8")
    proc = subprocess.run([str(SACREBLEU), str(tmp / "ref.txt"), "-i", str(tmp / "hyp.txt"),
                           "-m", "bleu", "--tokenize", tokenize, "-w", "6", "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    m = re.fullmatch(r"([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) \(BP = [\d.]+ ratio = [\d.]+ "
                     r"hyp_len = (\d+) ref_len = (\d+)\)", out["verbose_score"])
    assert m, out["verbose_score"]
    precisions, hyp_len, ref_len = [float(x) for x in m.groups()[:4]], *map(int, m.groups()[4:])
    # Every hypothesis has >= 4 tokens, so there are hyp_len - (k-1)*N k-grams; with fewer
    # than 1000 of them the printed 1-decimal precision pins the match count exactly.
    assert hyp_len < 1000
    totals = [hyp_len - k * len(hyps) for k in range(4)]
    matches = [round(p * t / 100) for p, t in zip(precisions, totals, strict=True)]
    assert all(c > 0 for c in matches)
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    scores = {f"bleu{n}": 100 * bp * math.exp(sum(
        math.log(c / t) for c, t in zip(matches[:n], totals[:n], strict=True)) / n)
        for n in (1, 2, 3, 4)}
    assert scores["bleu4"] == pytest.approx(out["score"], abs=1e-5)  # the counts are right
    scores["bleu4"] = out["score"]
    return scores


@pytest.mark.parametrize(("protocol", "kind", "tokenize"), [
    ("bleu-13a", "en", "13a"), ("bleu-none", "en", "none"), ("bleu-char", "zh", "char")])
def test_bleu_equals_sacrebleu_command_line(tmp_path, protocol, kind, tokenize):
    refs, hyps = generated(kind)
    expected = cli_bleu(tmp_path, refs, hyps, tokenize)
    ids = [f"c{i}" for i in range(len(refs))]
    scores = get_protocol(protocol).score(dict(zip(ids, hyps, strict=True)),
                                       dict(zip(ids, refs, strict=True)))
    for name, value in expected.items():
        assert scores.metrics[name] == pytest.approx(value, abs=1e-5), name
    assert f"tok:{tokenize}" in scores.signatures["bleu"]
    assert f"tok:{tokenize}" in scores.signatures["rouge_l"]


class ChineseSLT(ScoredBenchmark):
    """A Chinese translation benchmark (as CSL-Daily) with no protocol named."""

    name = "chinese-slt"
    task = "slt"
    version = "test"
    summary = "test"
    language = "chinese"
    preset: ClassVar[Path] = Path("unused")


def test_chinese_translation_defaults_to_character_level_bleu():
    bench = ChineseSLT({"eval": {}})
    assert bench.metric_protocol().name == "bleu-char"
    hyp, ref = {"1": "今天天气不好"}, {"1": "今天天气很好"}
    chars = bench.score(hyp, ref)
    words = get_protocol("bleu-13a").score(hyp, ref)
    assert chars.metrics["bleu1"] == pytest.approx(100 * 5 / 6)  # 5 of 6 characters match
    assert words.metrics["bleu1"] == 0.0  # one unsplit "word" each, and they differ
    assert chars.metrics["rouge_l"] == pytest.approx(100 * 5 / 6)  # P = R = 5/6
    # every character is a token, digits and Latin letters too (sacrebleu's zh keeps "2019")
    from benchmarks.metrics.translation import TranslationProtocol, tokens
    assert tokens("2019年 AB", TranslationProtocol("char")) == ["2", "0", "1", "9", "年", "A",
                                                                "B"]


@pytest.mark.parametrize(("protocol", "lcs", "n_hyp", "n_ref"), [
    ("bleu-13a", 2, 4, 2),   # [hello , world !] vs [hello world]
    ("bleu-none", 0, 2, 2),  # [hello, world!] vs [hello world]: no token in common
    ("bleu-char", 10, 12, 10),
])
def test_rouge_l_uses_the_bleu_tokens(protocol, lcs, n_hyp, n_ref):
    scores = get_protocol(protocol).score({"1": "hello, world!"}, {"1": "hello world"})
    if lcs == 0:
        assert scores.metrics["rouge_l"] == 0.0
        return
    p, r, b2 = lcs / n_hyp, lcs / n_ref, 1.2 ** 2
    assert scores.metrics["rouge_l"] == pytest.approx(100 * (1 + b2) * p * r / (r + b2 * p))


NMFS_REFS = {"1": "A", "2": "A", "3": "B", "4": "C", "5": "D", "6": "D"}
NMFS_PREDS = {"1": ["A", "B"], "2": ["B", "A"], "3": ["C", "D", "E", "F", "G", "B"],
              "4": ["C"], "5": ["X", "Y", "Z", "W", "D"], "6": ["D", "A"]}


@pytest.mark.parametrize("as_file", [False, True])
def test_nmfs_split_by_hand(tmp_path, as_file):
    confusing: object = ["A", "B"]
    if as_file:
        confusing = tmp_path / "confusing.txt"
        confusing.write_text("A\nB\n\n", encoding="utf-8")
    scores = get_protocol("islr-nmfs-split").score(NMFS_PREDS, NMFS_REFS,
                                                {"confusing_classes": confusing})
    assert scores.metrics == pytest.approx({
        "top1": 100 * 3 / 6, "top5": 100 * 5 / 6,                      # 1,4,6 | all but 3
        "top1_confusing": 100 / 3, "top5_confusing": 200 / 3,           # 1 | 1,2 of 1,2,3
        "top1_normal": 200 / 3, "top5_normal": 100.0})                  # 4,6 | 4,5,6
    assert re.fullmatch(r"protocol:islr-nmfs-split\|version:1\|confusing:2:[0-9a-f]{12}",
                        scores.signatures["topk"])


def test_nmfs_split_needs_confusing_classes_that_occur():
    with pytest.raises(ConfigError, match=r"needs eval\.confusing_classes"):
        get_protocol("islr-nmfs-split").score(NMFS_PREDS, NMFS_REFS, {})
    with pytest.raises(DataError, match="no reference clip belongs to a confusing class"):
        get_protocol("islr-nmfs-split").score(NMFS_PREDS, NMFS_REFS, {"confusing_classes": ["Q"]})


@pytest.mark.parametrize(("hyp", "cleaned"), [
    ("loc-NORD cl-KOMMEN qu-WAS poss-EUCH lh-HAND", "NORD KOMMEN WAS EUCH HAND"),
    ("S0NNE HABEN2", "SONNE HABEN"),
    ("REGEN __EMOTION__ __PU__ __LEFTHAND__ SONNE", "REGEN SONNE"),  # deleted, no gap left
    ("__EPENTHESIS__ REGEN", "REGEN"),
    ("__ON__ REGEN __OFF__", "__ON__ REGEN __OFF__"),  # the 2014 ground truth keeps them
    ("WIE AUSSEHEN", "WIE-AUSSEHEN"),
    ("ZEIGEN WETTER ZEIGEN", "ZEIGEN-BILDSCHIRM WETTER ZEIGEN-BILDSCHIRM"),
    ("IX S H IX", "IX S+H IX"),  # spelled letters joined
    ("IX A B C D IX", "IX A+B+C+D IX"),
    ("A B C", "A+B+C"),
    ("IX SCH H IX", "IX SCH+H IX"),
    ("IX NN E IX", "IX NN+E IX"),
    ("IX E NN IX", "IX E+NN IX"),
    ("WALDRAUM RAUM", "WALD RAUM"),
    ("MEHR-PLUSPLUS", "MEHR"),
    ("REGEN REGEN REGEN SONNE", "REGEN SONNE"),  # immediate repeats of a plain gloss
    ("REGEN __PU__ REGEN", "REGEN"),
    ("WIE-IMMER WIE-IMMER", "WIE-IMMER WIE-IMMER"),  # hyphenated glosses are not collapsed
    ("", "[EMPTY]"),
    ("__PU__ __EMOTION__", "[EMPTY]"),
])
def test_phoenix_2014_clean_up(hyp, cleaned):
    assert phoenix.clean_2014(hyp) == cleaned.split()


@pytest.mark.parametrize(("hyp", "cleaned"), [
    ("__ON__ REGEN __OFF__ __PU__", "REGEN"),  # every __X__ token goes
    ("REGEN __EMOTION__ __LEFTHAND__ __EPENTHESIS__", "REGEN"),
    ("loc-NORD cl-KOMMEN", "NORD KOMMEN"),
    ("poss-EUCH neg-HABEN", "poss-EUCH neg-HABEN"),  # the 2014-T ground truth keeps them
    ("MEHR-PLUSPLUS WALDRAUM", "MEHR WALD"),
    ("IX S H IX", "IX S H IX"),  # no letter joining in 2014-T
    ("WIE AUSSEHEN ZEIGEN", "WIE AUSSEHEN ZEIGEN"),
    ("WIE-IMMER WIE-IMMER REGEN REGEN", "WIE-IMMER REGEN"),  # every immediate repeat
    ("__ON__", "[EMPTY]"),
])
def test_phoenix_2014t_clean_up(hyp, cleaned):
    assert phoenix.clean_2014t(hyp) == cleaned.split()


def test_phoenix_references_are_scored_as_given():
    # the official ground truth has "MOEGLICH MOEGLICH"; a hypothesis's repeat is collapsed
    out = phoenix.phoenix_wer({"1": "MOEGLICH MOEGLICH"}, {"1": "MOEGLICH MOEGLICH"},
                              "phoenix-2014")
    assert out == pytest.approx({"wer": 50.0, "sub": 0.0, "del": 50.0, "ins": 0.0})
    with pytest.raises(DataError, match="reference of clip '1' is empty"):
        phoenix.phoenix_wer({"1": "A"}, {"1": "  "}, "phoenix-2014")


def test_every_protocol_signs_its_numbers_apart():
    data = {"islr": ({"1": ["A", "B"], "2": ["B"]}, {"1": "A", "2": "B"}),
            "cslr": ({"1": "A B", "2": "C"}, {"1": "A B C", "2": "C"}),
            "slt": ({"1": "a cat sat .", "2": "hi"}, {"1": "the cat sat .", "2": "hi there"})}
    seen: dict[str, str] = {}
    for name in PROTOCOLS.names():
        proto = get_protocol(name)
        preds, refs = data[proto.task]
        scores = proto.score(preds, refs, {"confusing_classes": ["A"]} if proto.needs else {})
        assert set(scores.signatures) == set(proto.families)
        for metric in scores.metrics:
            sig = scores.signatures[proto.family(metric)]
            assert sig.startswith(f"protocol:{name}|version:{proto.version}")
            assert seen.setdefault(sig, name) == name, (sig, name)


def test_benchmark_presets_name_their_default_and_a_user_can_pick_another():
    def bench(name: str, *overrides: str) -> ScoredBenchmark:
        return BENCHMARKS.get(name)(resolve_bench_config(name, list(overrides)))

    assert bench("synth-islr").metric_protocol().name == "islr-topk"
    assert bench("synth-cslr").metric_protocol().name == "wer-plain"
    assert bench("synth-slt").metric_protocol().name == "bleu-13a"  # eval.bleu_tokenize
    assert bench("synth-slt").metric_protocol("bleu-none").name == "bleu-none"
    assert bench("synth-slt", "+eval.protocol=bleu-none").metric_protocol().name == "bleu-none"
    assert bench("synth-cslr", "+eval.protocol=wer-phoenix").metric_protocol().name == \
        "wer-phoenix"
    with pytest.raises(ConfigError, match="did you mean wer-phoenix"):
        bench("synth-cslr", "+eval.protocol=wer-phoenx")  # when the benchmark is built
    with pytest.raises(ConfigError, match="scores cslr, but synth-slt is slt"):
        bench("synth-slt").metric_protocol("wer-plain")
    with pytest.raises(ConfigError, match=r"needs eval\.confusing_classes"):
        bench("wlasl", "+eval.protocol=islr-nmfs-split")


def test_synthetic_benchmarks_score_as_before():
    cslr = BENCHMARKS.get("synth-cslr")(resolve_bench_config("synth-cslr", []))
    refs, hyps = {"1": "A B C D", "2": "E F"}, {"1": "A X C", "2": "E F G H"}
    scores = cslr.score(hyps, refs)
    assert scores.metrics == wer.plain_wer(hyps, refs)
    assert scores.metrics["wer"] == pytest.approx(100 * 4 / 6)
    assert scores.signatures["wer"].startswith("protocol:wer-plain|version:1|")
    slt = BENCHMARKS.get("synth-slt")(resolve_bench_config("synth-slt", []))
    refs, hyps = {"1": "he bought the cold chicken ."}, {"1": "he bought cold chicken ."}
    scores = slt.score(hyps, refs)
    assert set(scores.metrics) == {"bleu1", "bleu2", "bleu3", "bleu4", "rouge_l"}
    assert set(scores.signatures) == {"bleu", "rouge_l"}
    assert "tok:13a" in scores.signatures["bleu"] and "beta:1.2" in scores.signatures["rouge_l"]
    assert protocols.default_name("slt", {}, "english") == "bleu-13a"
