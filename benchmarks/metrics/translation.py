"""Translation metrics: BLEU-1..4 through sacrebleu and ROUGE-L on the same tokens."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib.metadata import version

from benchmarks.metrics.recognition import _check_ids


@dataclass(frozen=True)
class TranslationProtocol:
    """How hypotheses and references are tokenised and scored.

    tokenize: a sacrebleu tokenizer name ('13a', 'none', 'zh', 'char', ...);
    lowercase: compare case-insensitively; rouge_beta: the F-measure weight of ROUGE-L
    (1.2 as in the coco-caption scorer that the SLT field's code uses).
    """

    tokenize: str = "13a"
    lowercase: bool = False
    rouge_beta: float = 1.2


def bleu_scores(predictions: Mapping[str, str], references: Mapping[str, str],
                protocol: TranslationProtocol) -> tuple[dict[str, float], str]:
    """Corpus BLEU-1..4 (percent) and the sacrebleu signature of BLEU-4."""
    from sacrebleu.metrics import BLEU

    _check_ids(predictions, references)
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


def rouge_l(predictions: Mapping[str, str], references: Mapping[str, str],
            protocol: TranslationProtocol) -> tuple[float, str]:
    """Sentence-level ROUGE-L F-measure averaged over the corpus (percent), with how it was
    computed (tokens, case, beta, aggregation)."""
    _check_ids(predictions, references)
    beta2 = protocol.rouge_beta ** 2
    total = 0.0
    for clip, ref in references.items():
        hyp_t, ref_t = tokens(predictions[clip], protocol), tokens(ref, protocol)
        lcs = lcs_length(hyp_t, ref_t)
        if lcs == 0:
            continue
        prec, rec = lcs / len(hyp_t), lcs / len(ref_t)
        total += (1 + beta2) * prec * rec / (rec + beta2 * prec)
    signature = (f"metric:rouge-l|tok:{protocol.tokenize}|lc:{protocol.lowercase}"
                 f"|beta:{protocol.rouge_beta}|agg:sentence-mean|sacrebleu:{version('sacrebleu')}")
    return 100.0 * total / len(references), signature
