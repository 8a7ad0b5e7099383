"""Named, versioned metric protocols: how a task's predictions become numbers.

Each protocol (a ``harness.core.metric.MetricProtocol`` registered in
``harness.core.registry.PROTOCOLS``) has a name, the task it scores, a version (bumped whenever
its numbers could change), its scoring, its per-clip statistics and the corpus score of
their sums, the direction of each metric, its headline and selection metrics. Every number
it gives carries a signature that starts with ``protocol:<name>|version:<version>`` and
goes on with how the tool computed it (sacrebleu's own signature, the aligner, the
clean-up, the class split), so numbers of different protocols never share a signature. A
benchmark names its default in its preset (``eval.protocol``); ``python -m harness score
--protocol`` and ``--set +eval.protocol=...`` pick another of the same task. A new protocol
is a class registered in a module of this package; nothing else changes.

``eval`` options the scorers read: ``lowercase``, ``rouge`` and ``rouge_beta`` (BLEU
protocols), ``confusing_classes`` (``islr-nmfs-split``: a list of class names, or the path of
a UTF-8 text file with one name per line).

``eval.rouge`` picks the ROUGE-L definition of the BLEU protocols
(``benchmarks.metrics.translation``): ``bleu-tokens`` (the default: LCS F-measure with the
fixed weight ``eval.rouge_beta`` on BLEU's tokens) or ``unisign`` (Uni-Sign's
``external_metrics/Rouge.py``: whitespace tokens of the raw text, each sentence weighted by
its own P/R), e.g. ``score --set +eval.rouge=unisign``. It is an option of a protocol, not
more protocols, because it is independent of the BLEU tokenisation that names them
(Uni-Sign pairs it with ``bleu-13a`` for English and ``bleu-char`` for Chinese). An option
with a closed set of values is a protocol's ``choices``: checked when the benchmark is
built, and a value other than the default joins the head of every signature the protocol
gives (``protocol:bleu-13a|version:1|rouge:unisign|...``), BLEU's included, since tables
(leaderboards) are keyed by the BLEU signature and show ROUGE-L beside it. At the default,
the signatures are those of the protocol without the option, so earlier numbers keep theirs.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from benchmarks.metrics import phoenix, recognition, translation, wer
from harness.core.metric import MetricProtocol
from harness.core.registry import PROTOCOLS
from harness.errors import ConfigError, DataError

#: Languages whose translations are scored per character by default (CSL-Daily).
CHARACTER_LEVEL_LANGUAGES = frozenset({"chinese"})


class Ratio(MetricProtocol):
    """Metrics that are a percentage of counts: per clip (numerator, denominator), the
    corpus metric 100 * the sum of numerators / the sum of denominators."""

    def corpus(self, metric: str, sums: np.ndarray) -> np.ndarray:
        """100 * numerator / denominator of each row of summed statistics."""
        return 100.0 * sums[:, 0] / sums[:, 1]

    def width(self, metric: str) -> int:
        """The numerator and the denominator."""
        return 2


class TopK(Ratio):
    """ISLR top-k: per clip a hit and the clip, top-k = 100 * hits / clips."""

    task = "islr"
    headline = ("top1", "top5")
    selection = "top1"
    tested = ("top1", "top5")

    def statistics(self, predictions: Mapping[str, Any], references: Mapping[str, str],
                   options: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Per clip (hit at k, 1) for top-1 and top-5."""
        return {m: np.array(recognition.hit_statistics(predictions, references, int(m[3:])),
                            dtype=float) for m in self.tested}


@PROTOCOLS.register("islr-topk")
class IslrTopK(TopK):
    """Per-instance (P-I) and per-class (P-C) top-1/top-5."""

    version = "1"
    summary = "per-instance (P-I) and per-class (P-C) top-1/top-5"
    families: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "topk": ("top1", "top5", "pc_top1", "pc_top5")}
    task_default = True

    def compute(self, predictions: Mapping[str, Any], references: Mapping[str, str],
                options: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
        """P-I and P-C top-k."""
        return recognition.topk_accuracy(predictions, references), {"topk": ""}


@PROTOCOLS.register("islr-nmfs-split")
class NmfsSplit(TopK):
    """NMFs-CSL: top-k over all clips, the confusing classes and the normal ones."""

    version = "1"
    summary = ("NMFs-CSL: top-1/top-5 over all clips, the confusing classes and the normal "
               "ones (eval.confusing_classes)")
    families: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "topk": tuple(f"top{k}{g}" for k in (1, 5) for g in ("", "_confusing", "_normal"))}
    needs: ClassVar[Mapping[str, str]] = {
        "confusing_classes": "the names of the confusing classes, a list or a text file "
                             "with one name per line"}

    def compute(self, predictions: Mapping[str, Any], references: Mapping[str, str],
                options: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
        """Top-k of each group, signed with a digest of the confusing classes."""
        confusing = confusing_classes(options["confusing_classes"])
        digest = hashlib.sha256("\n".join(sorted(confusing)).encode()).hexdigest()[:12]
        metrics = recognition.split_topk(predictions, references, confusing)
        return metrics, {"topk": f"confusing:{len(confusing)}:{digest}"}


def confusing_classes(value: Any) -> frozenset[str]:
    """The confusing class names from a list, or from a text file with one name per line."""
    if isinstance(value, (list, tuple)):
        return frozenset(str(v) for v in value)
    path = Path(str(value))
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"eval.confusing_classes: cannot read {path} ({exc.__class__.__name__}:"
                        f" {exc}); give a list of names or a UTF-8 file, one name per "
                        f"line") from None
    return frozenset(line.strip() for line in lines if line.strip())


class WordErrorRate(Ratio):
    """CSLR WER: per clip the word errors and reference words, WER = 100 * errors / words."""

    task = "cslr"
    families: ClassVar[Mapping[str, tuple[str, ...]]] = {"wer": ("wer", "sub", "del", "ins")}
    headline = ("wer",)
    selection = "wer"
    lower_is_better = frozenset({"wer", "sub", "del", "ins"})
    tested = ("wer",)

    def statistics(self, predictions: Mapping[str, Any], references: Mapping[str, str],
                   options: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Per clip (word errors, reference words)."""
        return {"wer": np.array(self.errors(predictions, references), dtype=float)}

    def errors(self, predictions: Mapping[str, str], references: Mapping[str, str]
               ) -> list[tuple[int, int]]:
        """Per clip (word errors, reference words) under the protocol's alignment."""
        raise NotImplementedError


@PROTOCOLS.register("wer-plain")
class PlainWer(WordErrorRate):
    """jiwer's unit-cost alignment on whitespace words."""

    version = "1"
    summary = "WER, jiwer unit-cost alignment on whitespace words"
    task_default = True

    def compute(self, predictions: Mapping[str, Any], references: Mapping[str, str],
                options: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
        """WER and its parts with jiwer."""
        return wer.plain_wer(predictions, references), {"wer": wer.plain_details()}

    def errors(self, predictions: Mapping[str, str], references: Mapping[str, str]
               ) -> list[tuple[int, int]]:
        """Per clip (word errors, reference words) of jiwer's alignment."""
        return wer.plain_errors(predictions, references)


class PhoenixWer(WordErrorRate):
    """A Phoenix release's official hypothesis clean-up, then sclite's alignment."""

    #: the release whose clean-up applies (a key of ``phoenix.CLEANERS``)
    corpus_name: ClassVar[str]

    def compute(self, predictions: Mapping[str, Any], references: Mapping[str, str],
                options: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
        """WER and its parts of the cleaned hypotheses, as sclite aligns them."""
        return (phoenix.phoenix_wer(predictions, references, self.corpus_name),
                {"wer": phoenix.details(self.corpus_name)})

    def errors(self, predictions: Mapping[str, str], references: Mapping[str, str]
               ) -> list[tuple[int, int]]:
        """Per clip (word errors, reference words) of sclite on the cleaned hypothesis."""
        return phoenix.phoenix_errors(predictions, references, self.corpus_name)


@PROTOCOLS.register("wer-phoenix")
class Phoenix2014Wer(PhoenixWer):
    """Phoenix-2014's evaluation."""

    version = "1"
    summary = "Phoenix-2014 WER: the official hypothesis clean-up, sclite's alignment"
    corpus_name = "phoenix-2014"


@PROTOCOLS.register("wer-phoenix2014t")
class Phoenix2014TWer(PhoenixWer):
    """PHOENIX-2014-T's evaluation."""

    version = "1"
    summary = ("PHOENIX-2014-T WER: the official hypothesis clean-up of the 2014-T release, "
               "sclite's alignment")
    corpus_name = "phoenix-2014t"


_BLEU_SUMMARY = ("BLEU-1..4 (sacrebleu) and ROUGE-L (eval.rouge: LCS F with beta "
                 "eval.rouge_beta on the same tokens, or Uni-Sign's) on ")
_BLEU_ORDERS = (1, 2, 3, 4)


class Bleu(MetricProtocol):
    """SLT BLEU-1..4 through sacrebleu and ROUGE-L, on the tokens of one sacrebleu
    tokenizer; per clip sacrebleu's BLEU statistics, BLEU of their sums as sacrebleu
    computes corpus BLEU (and its own paired bootstrap)."""

    task = "slt"
    version = "1"
    families: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "bleu": tuple(f"bleu{n}" for n in _BLEU_ORDERS), "rouge_l": ("rouge_l",)}
    headline = ("bleu4", "rouge_l")
    selection = "bleu4"
    tested = tuple(f"bleu{n}" for n in _BLEU_ORDERS)
    choices: ClassVar[Mapping[str, tuple[str, ...]]] = {"rouge": translation.ROUGE_DEFINITIONS}
    choice_names: ClassVar[Mapping[str, str]] = {"rouge": "ROUGE-L definition"}
    #: the sacrebleu tokenizer that names the protocol
    tokenize: ClassVar[str]

    def text_protocol(self, options: Mapping[str, Any]) -> translation.TranslationProtocol:
        """How ``options`` tokenise and score under this protocol."""
        return translation.TranslationProtocol(
            tokenize=self.tokenize, lowercase=bool(options.get("lowercase", False)),
            rouge_beta=float(options.get("rouge_beta", 1.2)),
            rouge=str(options.get("rouge") or translation.ROUGE_DEFINITIONS[0]))

    def compute(self, predictions: Mapping[str, Any], references: Mapping[str, str],
                options: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
        """BLEU-1..4 with sacrebleu's signature and ROUGE-L with its definition's."""
        proto = self.text_protocol(options)
        metrics, bleu_sig = translation.bleu_scores(predictions, references, proto)
        metrics["rouge_l"], rouge_sig = translation.rouge_l(predictions, references, proto)
        return metrics, {"bleu": bleu_sig, "rouge_l": rouge_sig}

    def statistics(self, predictions: Mapping[str, Any], references: Mapping[str, str],
                   options: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """Per clip and order n: hypothesis and reference length, matches and totals of the
        n-grams of orders 1..n."""
        top = max(_BLEU_ORDERS)
        stats = np.array(translation.bleu_statistics(
            predictions, references, self.text_protocol(options), top),
            dtype=float).reshape(len(references), 2 + 2 * top)
        return {f"bleu{n}": stats[:, [0, 1, *range(2, 2 + n), *range(2 + top, 2 + top + n)]]
                for n in _BLEU_ORDERS}

    def corpus(self, metric: str, sums: np.ndarray) -> np.ndarray:
        """Corpus BLEU-n of summed statistics, as sacrebleu's ``compute_bleu``."""
        return translation.corpus_bleu(sums, int(metric.removeprefix("bleu")))

    def width(self, metric: str) -> int:
        """Both lengths, and matches and totals per order."""
        return 2 + 2 * int(metric.removeprefix("bleu"))


@PROTOCOLS.register("bleu-13a")
class Bleu13a(Bleu):
    """sacrebleu's default tokens."""

    summary = _BLEU_SUMMARY + "sacrebleu's 13a tokens (Uni-Sign, GFSLT-VLP)"
    tokenize = "13a"
    task_default = True


@PROTOCOLS.register("bleu-none")
class BleuNone(Bleu):
    """Whitespace tokens of text that is tokenised already."""

    summary = _BLEU_SUMMARY + "whitespace tokens of pre-tokenised text (SignJoey, TwoStream)"
    tokenize = "none"


@PROTOCOLS.register("bleu-char")
class BleuChar(Bleu):
    """Characters: Chinese."""

    summary = _BLEU_SUMMARY + "characters, spaces dropped (Chinese: CSL-Daily)"
    tokenize = "char"


def get(name: str, task: str | None = None) -> MetricProtocol:
    """The protocol registered as ``name``; a ConfigError with suggestions if there is none."""
    known = PROTOCOLS.names()
    if name in known:
        return PROTOCOLS.get(name)()
    close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    listed = names_for(task) if task else known
    raise ConfigError(f"unknown metric protocol {name!r}{hint} (protocols"
                      f"{' for ' + task if task else ''}: {', '.join(listed)})")


def names_for(task: str) -> list[str]:
    """Names of the protocols that score ``task``."""
    return [n for n, cls in PROTOCOLS.entries().items() if cls.task == task]


def default_name(task: str, options: Mapping[str, Any], language: str) -> str:
    """The protocol a benchmark's ``eval`` config names, else the task's default.

    ``eval.bleu_tokenize`` (an older spelling) names ``bleu-<tokenize>`` when
    ``eval.protocol`` is absent; translations into a character-level language (Chinese)
    default to ``bleu-char``; otherwise the task's default protocol.
    """
    if options.get("protocol"):
        return str(options["protocol"])
    if task == "slt":
        if options.get("bleu_tokenize"):
            return f"bleu-{options['bleu_tokenize']}"
        if language.lower() in CHARACTER_LEVEL_LANGUAGES:
            return "bleu-char"
    return next(n for n, cls in PROTOCOLS.entries().items()
                if cls.task == task and cls.task_default)


def resolve(task: str, options: Mapping[str, Any], language: str, bench: str,
            name: str | None = None) -> MetricProtocol:
    """The named protocol (default: the benchmark's), checked against its task and options."""
    protocol = get(name or default_name(task, options, language), task)
    if protocol.task != task:
        raise ConfigError(f"metric protocol {protocol.name} scores {protocol.task}, but {bench} "
                          f"is {task}; its protocols: {', '.join(names_for(task))}")
    protocol.check(options)
    return protocol
