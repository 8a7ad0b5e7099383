"""ROUGE-L definitions of the translation protocols: ``eval.rouge=unisign`` equals Uni-Sign's
own ``rouge()`` on hand-written pairs, the default ``bleu-tokens`` is unchanged, and the
choice is checked, selectable from ``score`` and a benchmark's config, and signed.

The golden numbers below were produced by running, outside this repository, the function
``rouge`` of ``external_metrics/Rouge.py`` of github ZechengLi19/Uni-Sign at commit
``RELEASE_COMMIT`` (the file last changed in 3a64a4c) with this repository's ``.venv``
(Python, numpy 2.4.6): ``rouge([hyp], [ref])["rouge_l/f_score"]`` for each pair of
``GOLDEN``, ``rouge(hyps, refs)["rouge_l/f_score"]`` for all of them (``GOLDEN_CORPUS``) and
the same on the lower-cased texts (``GOLDEN_CORPUS_LOWER``). Only the inputs written here and
the numbers it printed are kept; none of its code.
"""

from __future__ import annotations

import json

import pytest

from benchmarks.metrics import translation
from harness.cell.runner import resolve_bench_config
from harness.core.metric import get_protocol
from harness.core.registry import BENCHMARKS, PROTOCOLS
from harness.errors import ConfigError

#: The Uni-Sign commit whose ``external_metrics/Rouge.py`` gave the golden numbers.
RELEASE_COMMIT = "2c9028fffdf875ab2bd69bdd03f9e32d91c298f6"

#: (hypothesis, reference, the release's ROUGE-L F of the pair as a fraction)
GOLDEN = [
    ("the cat sat on the mat", "the cat sat on the mat", 0.9999999999995),   # identical
    ("hello world", "good night moon", 0.0),                                 # no overlap
    ("", "the weather is cold", 0.0),                                        # empty hypothesis
    ("", "", 0.9999999999995),                     # both empty: one empty token each, matched
    ("the the the cat", "the cat the dog the", 0.6507936507933955),          # repeated words
    ("hello, world!", "hello world", 0.0),         # punctuation stays on the word
    ("it is cold .", "it is cold today .", 0.8677248677246125),              # split punctuation
    ("我 们 去 商 店", "我 们 去 学 校", 0.5999999999994999),                 # spaced characters
    ("今 天 天 气 很 好 。", "今 天 天 气 不 好 。", 0.857142857142357),     # full-width stop
    ("a  b c", "a b c", 0.8241758241751401),       # a doubled space is an empty token
    (" see you tomorrow ", "see you tomorrow", 0.6710526315782787),          # outer spaces too
    ("The Cat", "the cat", 0.0),                   # case-sensitive
    ("i want to go to the store now please", "i go store", 0.3571428571424668),  # P << R
    ("c b a", "a b c", 0.3333333333328333),        # order
    ("", "a ", 0.5555555555556296),                # the empty tokens match
    ("a\tb c", "a b c", 0.37142857142849306),      # a tab does not split
    ("2019 年 A B", "2019 年 a b", 0.4999999999995),                        # mixed scripts
]
GOLDEN_CORPUS = 0.5051970675806592
GOLDEN_CORPUS_LOWER = 0.5934323616982768

UNISIGN = translation.TranslationProtocol(rouge="unisign")
HYPS = {str(i): hyp for i, (hyp, _, _) in enumerate(GOLDEN)}
REFS = {str(i): ref for i, (_, ref, _) in enumerate(GOLDEN)}


@pytest.mark.parametrize(("hyp", "ref", "golden"), GOLDEN)
def test_unisign_rouge_l_equals_the_release_per_pair(hyp, ref, golden):
    value, _ = translation.rouge_l({"c": hyp}, {"c": ref}, UNISIGN)
    assert value / 100 == pytest.approx(golden, abs=1e-9)


@pytest.mark.parametrize("protocol", [n for n, cls in PROTOCOLS.entries().items()
                                      if "rouge" in cls.choices])
def test_unisign_rouge_l_equals_the_release_on_the_corpus_under_every_bleu_protocol(protocol):
    scores = get_protocol(protocol).score(HYPS, REFS, {"rouge": "unisign"})
    assert scores.metrics["rouge_l"] / 100 == pytest.approx(GOLDEN_CORPUS, abs=1e-9)
    lower = get_protocol(protocol).score(HYPS, REFS, {"rouge": "unisign", "lowercase": True})
    assert lower.metrics["rouge_l"] / 100 == pytest.approx(GOLDEN_CORPUS_LOWER, abs=1e-9)
    # the BLEU numbers do not depend on the ROUGE-L definition
    default = get_protocol(protocol).score(HYPS, REFS, {})
    assert {m: v for m, v in scores.metrics.items() if m != "rouge_l"} == \
        {m: v for m, v in default.metrics.items() if m != "rouge_l"}


def test_the_default_is_bleu_tokens_and_unchanged():
    proto = get_protocol("bleu-13a")
    default = proto.score(HYPS, REFS, {})
    named = proto.score(HYPS, REFS, {"rouge": "bleu-tokens", "rouge_beta": 1.2})
    assert default == named
    assert default.signatures["rouge_l"].startswith(
        "protocol:bleu-13a|version:1|metric:rouge-l|tok:13a|lc:False|beta:1.2|agg:sentence-mean")
    assert default.signatures["bleu"].startswith("protocol:bleu-13a|version:1|nrefs:1|")
    # LCS F with beta 1.2 on 13a tokens, by hand for one pair: [it is cold .] vs
    # [it is cold today .] -> LCS 4, P = 1, R = 4/5
    value, _ = translation.rouge_l({"c": "it is cold ."}, {"c": "it is cold today ."},
                                   translation.TranslationProtocol())
    p, r, b2 = 1.0, 4 / 5, 1.2 ** 2
    assert value == pytest.approx(100 * (1 + b2) * p * r / (r + b2 * p))


def test_unisign_is_signed_on_every_family():
    scores = get_protocol("bleu-char").score(HYPS, REFS, {"rouge": "unisign"})
    assert scores.signatures["rouge_l"] == ("protocol:bleu-char|version:1|rouge:unisign|"
                                            "metric:rouge-l|def:unisign|tok:split-space|"
                                            "lc:False|beta:p/r|agg:sentence-mean")
    assert scores.signatures["bleu"].startswith("protocol:bleu-char|version:1|rouge:unisign|"
                                                "nrefs:1|")
    default = get_protocol("bleu-char").score(HYPS, REFS, {})
    assert set(scores.signatures.values()).isdisjoint(default.signatures.values())


def bench(name: str, *overrides: str):
    return BENCHMARKS.get(name)(resolve_bench_config(name, list(overrides)))


def test_a_benchmark_config_picks_the_definition_and_a_wrong_one_fails_when_built():
    how2sign = bench("how2sign", "+eval.rouge=unisign")
    assert how2sign.score(HYPS, REFS).metrics["rouge_l"] / 100 == \
        pytest.approx(GOLDEN_CORPUS, abs=1e-9)
    chars = bench("synth-slt", "+eval.protocol=bleu-char", "+eval.rouge=unisign")
    assert chars.score(HYPS, REFS).signatures["rouge_l"].startswith(
        "protocol:bleu-char|version:1|rouge:unisign|")
    with pytest.raises(ConfigError, match=r"eval\.rouge='unisgn' is not a ROUGE-L definition "
                                          r"of metric protocol bleu-13a \(choices: "
                                          r"bleu-tokens, unisign\); did you mean unisign\?"):
        bench("how2sign", "+eval.rouge=unisgn")


def dump(kind: str, texts: dict[str, str]) -> str:
    """Lines as Uni-Sign's evaluate() writes them: ``sample: NAME, KIND: TEXT``."""
    return "".join(f"sample: {name}, {kind}: {text}\n" for name, text in texts.items())


def test_score_cli_takes_the_definition_and_keeps_the_texts_as_written(harness, tmp_path):
    ref, hyp = tmp_path / "test_tmp_refs.txt", tmp_path / "test_tmp_pres.txt"
    ref.write_text(dump("ground-truth", REFS), encoding="utf-8")
    hyp.write_text(dump("prediction", HYPS), encoding="utf-8")
    args = ("score", "--bench", "how2sign", "--ref", str(ref), "--hyp", str(hyp))
    done = harness(*args, "--set", "+eval.rouge=unisign", "--json", timeout=120)
    assert done.code == 0, done.err
    report = json.loads(done.out)
    assert report["formats"] == {"ref": "unisign", "hyp": "unisign"}
    assert report["metrics"]["rouge_l"] / 100 == pytest.approx(GOLDEN_CORPUS, abs=1e-9)
    assert "|rouge:unisign|" in report["signatures"]["bleu4"]
    plain = harness(*args, "--json", timeout=120)
    assert plain.code == 0, plain.err
    assert json.loads(plain.out)["metrics"] == pytest.approx(
        get_protocol("bleu-13a").score(HYPS, REFS, {}).metrics)
    wrong = harness(*args, "--set", "+eval.rouge=coco", timeout=120)
    assert wrong.code == 2 and len(wrong.error_lines) == 1, wrong.err
    assert "eval.rouge='coco' is not a ROUGE-L definition" in wrong.err
    assert "choices: bleu-tokens, unisign" in wrong.err

