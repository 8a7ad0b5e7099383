"""Metrics equal their reference tools and carry signatures."""

import jiwer
import pytest
import sacrebleu

from benchmarks.metrics import recognition, translation, wer


def test_topk_per_instance_and_per_class():
    refs = {"a": "X", "b": "X", "c": "X", "d": "Y"}
    preds = {"a": ["X", "Y"], "b": ["Y", "X"], "c": ["X"], "d": ["Z", "Q", "R", "S", "Y"]}
    out = recognition.topk_accuracy(preds, refs)
    assert out["top1"] == pytest.approx(50.0)          # a, c of 4
    assert out["pc_top1"] == pytest.approx((2 / 3 + 0) / 2 * 100)
    assert out["top5"] == pytest.approx(100.0)
    assert out["pc_top5"] == pytest.approx(100.0)


def test_missing_prediction_is_an_error():
    with pytest.raises(ValueError, match="no prediction"):
        recognition.topk_accuracy({}, {"a": "X"})


def test_plain_wer_is_corpus_level_and_equals_jiwer():
    refs = {"1": "A B C D", "2": "E F"}
    hyps = {"1": "A X C", "2": "E F G H"}
    out = wer.plain_wer(hyps, refs)
    # 1 sub + 1 del in the first, 2 ins in the second, over 6 reference words
    assert out["wer"] == pytest.approx(100 * 4 / 6)
    assert out["wer"] == pytest.approx(100 * jiwer.wer(list(refs.values()), list(hyps.values())))
    assert out["sub"] + out["del"] + out["ins"] == pytest.approx(out["wer"])


def test_empty_hypothesis_counts_deletions():
    out = wer.plain_wer({"1": ""}, {"1": "A B"})
    assert out["wer"] == pytest.approx(100.0)


def test_bleu_equals_sacrebleu_with_signature():
    refs = {"1": "the cat sat on the mat.", "2": "i went to the store yesterday."}
    hyps = {"1": "the cat sat on a mat.", "2": "i went to store yesterday."}
    proto = translation.TranslationProtocol("13a")
    scores, sig = translation.bleu_scores(hyps, refs, proto)
    ref = sacrebleu.corpus_bleu(list(hyps.values()), [list(refs.values())])
    assert scores["bleu4"] == pytest.approx(ref.score)
    assert scores["bleu1"] > scores["bleu2"] > scores["bleu3"] > scores["bleu4"] > 0
    assert "tok:13a" in sig and "version:" in sig


def test_rouge_l_by_hand():
    proto = translation.TranslationProtocol("13a", rouge_beta=1.2)
    # tokens: hyp [a b c d], ref [a c d e f] -> LCS 3, P = 3/4, R = 3/5
    value, sig = translation.rouge_l({"1": "a b c d"}, {"1": "a c d e f"}, proto)
    p, r, b2 = 3 / 4, 3 / 5, 1.2 ** 2
    assert value == pytest.approx(100 * (1 + b2) * p * r / (r + b2 * p))
    assert "beta:1.2" in sig


def test_character_level_tokenisation_for_chinese():
    proto = translation.TranslationProtocol("zh")
    assert translation.tokens("我们去商店", proto) == list("我们去商店")


@pytest.mark.parametrize("order", [1, 2, 3, 4])
def test_corpus_bleu_of_summed_statistics_is_sacrebleus_compute_bleu_bit_for_bit(order):
    """The vectorised corpus BLEU of the bootstrap gives the floats of sacrebleu's public
    ``BLEU.compute_bleu`` (exp smoothing, no effective order): every row, exactly, with
    empty orders, no matches, zero lengths and brevity penalties among them."""
    import numpy as np
    from sacrebleu.metrics import BLEU

    rng = np.random.default_rng(order)
    m = 3000
    sys_len, ref_len = rng.integers(0, 400, m), rng.integers(1, 400, m)
    total = np.stack([np.maximum(sys_len - n, 0) for n in range(order)], axis=1)
    correct = (total * rng.random((m, order)) * (rng.random((m, 1)) > 0.1)).astype(int)
    correct[rng.random((m, order)) < 0.1] = 0
    sums = np.concatenate([sys_len[:, None], ref_len[:, None], correct, total], axis=1)
    expected = [BLEU.compute_bleu(list(map(int, r[2:2 + order])), list(map(int, r[2 + order:])),
                                  int(r[0]), int(r[1]), smooth_method="exp",
                                  max_ngram_order=order).score for r in sums]
    assert translation.corpus_bleu(sums.astype(float), order).tolist() == expected


def test_bleu_statistics_summed_give_sacrebleus_corpus_bleu():
    import numpy as np

    refs = {"1": "the cat sat on the mat.", "2": "i went to the store yesterday.", "3": "ok"}
    hyps = {"1": "The cat sat on a mat.", "2": "i went to store yesterday.", "3": ""}
    for lowercase in (False, True):
        proto = translation.TranslationProtocol("13a", lowercase=lowercase)
        sums = np.array(translation.bleu_statistics(hyps, refs, proto), dtype=float).sum(0)
        tool = sacrebleu.corpus_bleu(list(hyps.values()), [list(refs.values())],
                                     lowercase=lowercase)
        assert translation.corpus_bleu(sums[None], 4)[0] == tool.score
