"""Scoring shared by the adapters: the metric protocol follows the task and the eval config."""

from __future__ import annotations

from typing import Any

from benchmarks.metrics import recognition, translation, wer
from harness.benchmark import Benchmark, Scores


class ScoredBenchmark(Benchmark):
    """A benchmark scored with the standard metrics of its task.

    ``eval`` config keys: ``wer_protocol`` (CSLR), ``bleu_tokenize``, ``lowercase`` and
    ``rouge_beta`` (SLT).
    """

    def score(self, predictions: dict[str, Any], references: dict[str, str]) -> Scores:
        """Score predictions against references with the task's metric protocol."""
        ev = self.cfg.get("eval", {})
        if self.task == "islr":
            return Scores(recognition.topk_accuracy(predictions, references),
                          {"topk": recognition.signature()})
        if self.task == "cslr":
            protocol = ev.get("wer_protocol", wer.PLAIN)
            if protocol != wer.PLAIN:
                raise ValueError(f"unknown WER protocol {protocol!r}")
            return Scores(wer.plain_wer(predictions, references), {"wer": wer.plain_signature()})
        proto = translation.TranslationProtocol(
            tokenize=ev.get("bleu_tokenize", "13a"), lowercase=bool(ev.get("lowercase", False)),
            rouge_beta=float(ev.get("rouge_beta", 1.2)))
        metrics, bleu_sig = translation.bleu_scores(predictions, references, proto)
        metrics["rouge_l"], rouge_sig = translation.rouge_l(predictions, references, proto)
        return Scores(metrics, {"bleu": bleu_sig, "rouge_l": rouge_sig})
