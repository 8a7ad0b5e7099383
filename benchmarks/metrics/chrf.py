"""chrF: the character n-gram F-score of translations (Popović 2015), as sacrebleu gives it.

Protocol ``chrf`` (``--set +eval.protocol=chrf``, ``score --protocol chrf``): sacrebleu's
chrF2 with its defaults (character n-grams of orders 1..6, spaces dropped, recall weighted
by beta = 2, no word n-grams, effective-order averaging), on the text as written
(``eval.lowercase`` compares case-insensitively). Characters need no tokenizer, so one
protocol serves English and Chinese alike.

Per clip the statistics are, for each order, the hypothesis n-grams, the reference n-grams
and the matches, counted as sacrebleu counts them (its public n-gram extraction); the
corpus chrF of their sums is sacrebleu's corpus chrF, float for float
(``tests/test_chrf.py``), so the paired bootstrap resamples chrF as sacrebleu's own
does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np

from benchmarks.metrics.recognition import check_ids
from harness.core.metric import MetricProtocol
from harness.core.registry import PROTOCOLS

CHAR_ORDER = 6
BETA = 2


def chrf_score(predictions: Mapping[str, str], references: Mapping[str, str],
               lowercase: bool = False) -> tuple[float, str]:
    """Corpus chrF (percent) by sacrebleu, with sacrebleu's signature."""
    from sacrebleu.metrics import CHRF

    check_ids(predictions, references)
    metric = CHRF(char_order=CHAR_ORDER, beta=BETA, lowercase=lowercase)
    score = metric.corpus_score([predictions[c] for c in references], [list(references.values())])
    return float(score.score), str(metric.get_signature())


def chrf_statistics(predictions: Mapping[str, str], references: Mapping[str, str],
                    lowercase: bool = False) -> list[list[int]]:
    """Per clip (in the order of ``references``), for orders 1..6: hypothesis n-grams
    (0 where the reference has none of that order, as sacrebleu counts), reference n-grams
    and matches."""
    from sacrebleu.metrics.helpers import extract_all_char_ngrams

    out = []
    for clip, ref in references.items():
        hyp = predictions[clip]
        if lowercase:
            hyp, ref = hyp.lower(), ref.lower()
        row = []
        for hyp_grams, ref_grams in zip(extract_all_char_ngrams(hyp, CHAR_ORDER),
                                        extract_all_char_ngrams(ref, CHAR_ORDER), strict=True):
            matches = sum(min(n, ref_grams[g]) for g, n in hyp_grams.items() if g in ref_grams)
            row += [sum(hyp_grams.values()) if ref_grams else 0, sum(ref_grams.values()),
                    matches]
        out.append(row)
    return out


def corpus_chrf(sums: np.ndarray) -> np.ndarray:
    """Corpus chrF (percent) of each row of summed ``chrf_statistics``: the precision and
    recall of each order where both sides have n-grams, averaged, then their F-beta; the
    operations of sacrebleu's chrF in its order, over all rows at once."""
    factor = BETA ** 2
    avg_prec, avg_rec = np.zeros(len(sums)), np.zeros(len(sums))
    effective = np.zeros(len(sums))
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(CHAR_ORDER):
            n_hyp, n_ref, n_match = sums[:, 3 * i], sums[:, 3 * i + 1], sums[:, 3 * i + 2]
            both = (n_hyp > 0) & (n_ref > 0)
            avg_prec = np.where(both, avg_prec + n_match / n_hyp, avg_prec)
            avg_rec = np.where(both, avg_rec + n_match / n_ref, avg_rec)
            effective += both
        avg_prec = np.where(effective > 0, avg_prec / effective, 0.0)
        avg_rec = np.where(effective > 0, avg_rec / effective, 0.0)
        score = (1 + factor) * avg_prec * avg_rec / ((factor * avg_prec) + avg_rec)
    return np.where(avg_prec + avg_rec != 0, 100 * score, 0.0)


@PROTOCOLS.register("chrf")
class ChrF(MetricProtocol):
    """sacrebleu's chrF2 of translations."""

    task = "slt"
    version = "1"
    summary = ("chrF2 (sacrebleu: character 1..6-grams without spaces, beta 2) on the text "
               "as written")
    families: ClassVar[Mapping[str, tuple[str, ...]]] = {"chrf": ("chrf",)}
    headline = ("chrf",)
    selection = "chrf"
    tested = ("chrf",)

    def compute(self, predictions: Mapping[str, Any], references: Mapping[str, str],
                options: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
        """chrF with sacrebleu's signature."""
        value, signature = chrf_score(predictions, references,
                                      bool(options.get("lowercase", False)))
        return {"chrf": value}, {"chrf": signature}

    def statistics(self, predictions: Mapping[str, Any], references: Mapping[str, str],
                   options: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Per clip and order: hypothesis n-grams, reference n-grams, matches."""
        stats = chrf_statistics(predictions, references, bool(options.get("lowercase", False)))
        return {"chrf": np.array(stats, dtype=float).reshape(len(references), 3 * CHAR_ORDER)}

    def corpus(self, metric: str, sums: np.ndarray) -> np.ndarray:
        """Corpus chrF of summed statistics."""
        return corpus_chrf(sums)

    def width(self, metric: str) -> int:
        """Three counts per order."""
        return 3 * CHAR_ORDER
