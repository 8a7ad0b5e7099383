"""Translation metrics: BLEU-1..4 through sacrebleu and ROUGE-L, by default on the same tokens.

ROUGE-L has more than one definition in the SLT field's code, and they give numbers several
points apart on the same outputs (docs/measurements/2026-12-07-unisign-rescoring.md), so
``TranslationProtocol.rouge`` names the one used (``ROUGE_DEFINITIONS``):

- ``bleu-tokens``: the LCS F-measure of each sentence on the tokens BLEU sees (the
  protocol's sacrebleu tokenizer and case) with a fixed weight ``rouge_beta`` (1.2, as in
  the coco-caption scorer), averaged over sentences;
- ``unisign``: the definition of Uni-Sign's ``external_metrics/Rouge.py`` ``rouge()``
  (tf_seq2seq's sentence-level ROUGE-L; github ZechengLi19/Uni-Sign, read at commit
  2c9028f), which gives the ROUGE-L of its papers' tables: tokens are the raw text split at
  every single space (so ``""`` is one empty token and a doubled, leading or trailing space
  adds one; empty tokens match each other), and the F-measure weight of each sentence is its
  own P/R, averaged over sentences. ``rouge_beta`` does not apply; ``lowercase`` does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version
from typing import TYPE_CHECKING

from benchmarks.metrics.recognition import check_ids

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class TranslationProtocol:
    """How hypotheses and references are tokenised and scored.

    tokenize: a sacrebleu tokenizer name ('13a', 'none', 'zh', 'char', ...);
    lowercase: compare case-insensitively; rouge_beta: the F-measure weight of the
    ``bleu-tokens`` ROUGE-L (1.2 as in the coco-caption scorer that the SLT field's code
    uses); rouge: which ROUGE-L definition (one of ``ROUGE_DEFINITIONS``).
    """

    tokenize: str = "13a"
    lowercase: bool = False
    rouge_beta: float = 1.2
    rouge: str = "bleu-tokens"


#: The ROUGE-L definitions of the module docstring; the first is the default.
ROUGE_DEFINITIONS = ("bleu-tokens", "unisign")


def bleu_scores(predictions: Mapping[str, str], references: Mapping[str, str],
                protocol: TranslationProtocol) -> tuple[dict[str, float], str]:
    """Corpus BLEU-1..4 (percent) and the sacrebleu signature of BLEU-4."""
    from sacrebleu.metrics import BLEU

    check_ids(predictions, references)
    ids = list(references)
    hyps = [predictions[c] for c in ids]
    refs = [[references[c] for c in ids]]  # one reference stream, wrapped as sacrebleu needs
    out, signature = {}, ""
    for n in (1, 2, 3, 4):
        # force: the protocol names the tokenisation on purpose (Phoenix-2014T text ends in
        # " ."); it only silences sacrebleu's "forgot to detokenize" warning, not the score.
        metric = BLEU(tokenize=protocol.tokenize, lowercase=protocol.lowercase,
                      max_ngram_order=n, force=True)
        out[f"bleu{n}"] = float(metric.corpus_score(hyps, refs).score)
        signature = str(metric.get_signature())
    return out, signature


def bleu_statistics(predictions: Mapping[str, str], references: Mapping[str, str],
                    protocol: TranslationProtocol, order: int = 4) -> list[list[int]]:
    """Per clip (in the order of ``references``) sacrebleu's BLEU statistics up to
    ``order``: hypothesis length, reference length, n-gram matches 1..order and n-gram
    totals 1..order, as ``BLEU.sentence_score`` counts them (the counts of n <= order do
    not depend on the highest order); summed, ``corpus_bleu`` gives corpus BLEU."""
    from sacrebleu.metrics import BLEU

    # effective_order only changes the sentence's own score, which is not used (and keeps
    # sacrebleu from warning about sentence BLEU); force as in bleu_scores
    bleu = BLEU(tokenize=protocol.tokenize, lowercase=protocol.lowercase,
                max_ngram_order=order, effective_order=True, force=True)
    out = []
    for clip, ref in references.items():
        score = bleu.sentence_score(predictions[clip], [ref])
        out.append([score.sys_len, score.ref_len, *score.counts, *score.totals])
    return out


def corpus_bleu(sums: np.ndarray, order: int) -> np.ndarray:
    """Corpus BLEU-``order`` of each row of summed ``bleu_statistics`` (hypothesis length,
    reference length, n-gram matches 1..order, n-gram totals 1..order).

    This is sacrebleu's public ``BLEU.compute_bleu`` with the defaults of its corpus BLEU
    (exp smoothing, no effective order), written over all rows at once: a paired bootstrap
    scores every resample of every run (a leaderboard of 2,000 cells: 500,000 rows of
    BLEU, 25 us each in ``compute_bleu``, 100x less here). The operations are the same, in
    the same order, and give the same floats (``tests/test_metrics.py`` checks it, bit for
    bit, against ``compute_bleu``).
    """
    import numpy as np

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


@lru_cache(maxsize=8)
def _tokenizer(name: str) -> Callable[[str], str]:
    from sacrebleu.metrics.bleu import BLEU

    return BLEU(tokenize=name).tokenizer


def tokens(text: str, protocol: TranslationProtocol) -> list[str]:
    """The tokens BLEU sees for ``text`` under ``protocol`` (lower-cased, then tokenised)."""
    text = text.lower() if protocol.lowercase else text
    return _tokenizer(protocol.tokenize)(text.rstrip()).split()


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists."""
    if len(a) < len(b):
        a, b = b, a
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0]
        for j, y in enumerate(b):
            cur.append(prev[j] + 1 if x == y else max(prev[j + 1], cur[j]))
        prev = cur
    return prev[-1]


def _f_measure(prec: float, rec: float, beta2: float) -> float:
    """The F-measure of precision and recall weighted by ``beta2`` (beta squared)."""
    return (1 + beta2) * prec * rec / (rec + beta2 * prec)


def _sentence_rouge_l(hyp: str, ref: str, protocol: TranslationProtocol) -> float:
    """ROUGE-L F-measure of one sentence under the protocol's ROUGE-L definition."""
    if protocol.rouge == "unisign":
        if protocol.lowercase:
            hyp, ref = hyp.lower(), ref.lower()
        hyp_t, ref_t = hyp.split(" "), ref.split(" ")
    else:
        hyp_t, ref_t = tokens(hyp, protocol), tokens(ref, protocol)
    lcs = lcs_length(hyp_t, ref_t)
    if lcs == 0:
        return 0.0
    prec, rec = lcs / len(hyp_t), lcs / len(ref_t)
    beta2 = (prec / rec) ** 2 if protocol.rouge == "unisign" else protocol.rouge_beta ** 2
    return _f_measure(prec, rec, beta2)


def rouge_l(predictions: Mapping[str, str], references: Mapping[str, str],
            protocol: TranslationProtocol) -> tuple[float, str]:
    """Sentence-level ROUGE-L F-measure averaged over the corpus (percent), with how it was
    computed (definition, tokens, case, beta, aggregation)."""
    check_ids(predictions, references)
    total = sum(_sentence_rouge_l(predictions[clip], ref, protocol)
                for clip, ref in references.items())
    if protocol.rouge == "unisign":
        signature = (f"metric:rouge-l|def:unisign|tok:split-space|lc:{protocol.lowercase}"
                     f"|beta:p/r|agg:sentence-mean")
    else:
        signature = (f"metric:rouge-l|tok:{protocol.tokenize}|lc:{protocol.lowercase}"
                     f"|beta:{protocol.rouge_beta}|agg:sentence-mean"
                     f"|sacrebleu:{version('sacrebleu')}")
    return 100.0 * total / len(references), signature
