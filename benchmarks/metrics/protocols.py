"""Named, versioned metric protocols: how a task's predictions become numbers.

Each protocol has a name, the task it scores, a version (bumped whenever its numbers could
change) and a scorer. Every number it gives carries a signature that starts with
``protocol:<name>|version:<version>`` and goes on with how the tool computed it (sacrebleu's
own signature, the aligner, the clean-up, the class split), so numbers of different
protocols never share a signature. A benchmark names its default in its preset
(``eval.protocol``); ``python -m harness score --protocol`` and ``--set +eval.protocol=...``
pick another of the same task.

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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks.metrics import phoenix, recognition, translation, wer
from harness.benchmark import Scores
from harness.errors import ConfigError, DataError

#: (metrics, tool details per signature family) from (predictions, references, eval options).
Scorer = Callable[[Mapping[str, Any], Mapping[str, str], Mapping[str, Any]],
                  tuple[dict[str, float], dict[str, str]]]

#: Languages whose translations are scored per character by default (CSL-Daily).
CHARACTER_LEVEL_LANGUAGES = frozenset({"chinese"})


@dataclass(frozen=True)
class Protocol:
    """A named, versioned way of scoring one task; its signature goes with every number."""

    name: str
    task: str
    version: str
    summary: str
    #: signature family -> the metrics it covers (the keys of ``Scores.signatures``)
    families: Mapping[str, tuple[str, ...]]
    scorer: Scorer
    #: ``eval`` options the protocol cannot do without
    needs: tuple[str, ...] = ()
    #: ``eval`` options with a closed set of values, the default first
    choices: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def check(self, options: Mapping[str, Any]) -> None:
        """Fail with what to set when an option the protocol needs is missing or a choice
        is not one of its values."""
        missing = [k for k in self.needs if options.get(k) in (None, "", [])]
        if missing:
            raise ConfigError(f"metric protocol {self.name} needs eval.{missing[0]} "
                              f"({_NEEDS_HELP[missing[0]]}); add it to the benchmark preset "
                              f"or pass --set +eval.{missing[0]}=...")
        for key, values in self.choices.items():
            value = options.get(key)
            if value is not None and value not in values:
                close = difflib.get_close_matches(str(value), values, n=1, cutoff=0.5)
                hint = f"; did you mean {close[0]}?" if close else ""
                raise ConfigError(f"eval.{key}={value!r} is not a {_CHOICE_HELP[key]} of "
                                  f"metric protocol {self.name} (choices: "
                                  f"{', '.join(values)}){hint}")

    def chosen(self, options: Mapping[str, Any]) -> dict[str, str]:
        """The value of each of the protocol's choices under ``options`` (default: the first)."""
        return {key: str(options.get(key) or values[0]) for key, values in self.choices.items()}

    def score(self, predictions: Mapping[str, Any], references: Mapping[str, str],
              options: Mapping[str, Any] | None = None) -> Scores:
        """Score predictions against references; every family of metrics gets its signature."""
        options = options or {}
        self.check(options)
        metrics, details = self.scorer(predictions, references, options)
        head = f"protocol:{self.name}|version:{self.version}" + "".join(
            f"|{key}:{value}" for key, value in self.chosen(options).items()
            if value != self.choices[key][0])
        return Scores(metrics, {f: f"{head}|{d}" if d else head for f, d in details.items()})

    def family(self, metric: str) -> str:
        """The signature family of one of the protocol's metrics."""
        return next(f for f, names in self.families.items() if metric in names)


_NEEDS_HELP = {"confusing_classes": "the names of the confusing classes, a list or a text "
                                   "file with one name per line"}
_CHOICE_HELP = {"rouge": "ROUGE-L definition"}


def _topk(predictions: Mapping[str, Any], references: Mapping[str, str],
          options: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    return recognition.topk_accuracy(predictions, references), {"topk": ""}


def _nmfs_split(predictions: Mapping[str, Any], references: Mapping[str, str],
                options: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
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


def _plain_wer(predictions: Mapping[str, Any], references: Mapping[str, str],
               options: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
    return wer.plain_wer(predictions, references), {"wer": wer.plain_details()}


def _phoenix(corpus: str) -> Scorer:
    def scorer(predictions: Mapping[str, Any], references: Mapping[str, str],
               options: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
        return (phoenix.phoenix_wer(predictions, references, corpus),
                {"wer": phoenix.details(corpus)})

    return scorer


def _bleu(tokenize: str) -> Scorer:
    def scorer(predictions: Mapping[str, Any], references: Mapping[str, str],
               options: Mapping[str, Any]) -> tuple[dict[str, float], dict[str, str]]:
        proto = translation.TranslationProtocol(
            tokenize=tokenize, lowercase=bool(options.get("lowercase", False)),
            rouge_beta=float(options.get("rouge_beta", 1.2)),
            rouge=str(options.get("rouge") or translation.ROUGE_DEFINITIONS[0]))
        metrics, bleu_sig = translation.bleu_scores(predictions, references, proto)
        metrics["rouge_l"], rouge_sig = translation.rouge_l(predictions, references, proto)
        return metrics, {"bleu": bleu_sig, "rouge_l": rouge_sig}

    return scorer


_TOPK = {"topk": ("top1", "top5", "pc_top1", "pc_top5")}
_SPLIT = {"topk": tuple(f"top{k}{g}" for k in (1, 5) for g in ("", "_confusing", "_normal"))}
_WER = {"wer": ("wer", "sub", "del", "ins")}
_BLEU = {"bleu": ("bleu1", "bleu2", "bleu3", "bleu4"), "rouge_l": ("rouge_l",)}
_BLEU_SUMMARY = ("BLEU-1..4 (sacrebleu) and ROUGE-L (eval.rouge: LCS F with beta "
                 "eval.rouge_beta on the same tokens, or Uni-Sign's) on ")
_ROUGE = {"rouge": translation.ROUGE_DEFINITIONS}

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in [
    Protocol("islr-topk", "islr", "1", "per-instance (P-I) and per-class (P-C) top-1/top-5",
             _TOPK, _topk),
    Protocol("islr-nmfs-split", "islr", "1", "NMFs-CSL: top-1/top-5 over all clips, the "
             "confusing classes and the normal ones (eval.confusing_classes)",
             _SPLIT, _nmfs_split, needs=("confusing_classes",)),
    Protocol("wer-plain", "cslr", "1", "WER, jiwer unit-cost alignment on whitespace words",
             _WER, _plain_wer),
    Protocol("wer-phoenix", "cslr", "1", "Phoenix-2014 WER: the official hypothesis clean-up, "
             "sclite's alignment", _WER, _phoenix("phoenix-2014")),
    Protocol("wer-phoenix2014t", "cslr", "1", "PHOENIX-2014-T WER: the official hypothesis "
             "clean-up of the 2014-T release, sclite's alignment", _WER,
             _phoenix("phoenix-2014t")),
    Protocol("bleu-13a", "slt", "1", _BLEU_SUMMARY + "sacrebleu's 13a tokens (Uni-Sign, "
             "GFSLT-VLP)", _BLEU, _bleu("13a"), choices=_ROUGE),
    Protocol("bleu-none", "slt", "1", _BLEU_SUMMARY + "whitespace tokens of pre-tokenised "
             "text (SignJoey, TwoStream)", _BLEU, _bleu("none"), choices=_ROUGE),
    Protocol("bleu-char", "slt", "1", _BLEU_SUMMARY + "characters, spaces dropped (Chinese: "
             "CSL-Daily)", _BLEU, _bleu("char"), choices=_ROUGE),
]}


def get(name: str, task: str | None = None) -> Protocol:
    """The protocol registered as ``name``; a ConfigError with suggestions if there is none."""
    if name in PROTOCOLS:
        return PROTOCOLS[name]
    close = difflib.get_close_matches(name, list(PROTOCOLS), n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else ""
    known = names_for(task) if task else list(PROTOCOLS)
    raise ConfigError(f"unknown metric protocol {name!r}{hint} (protocols"
                      f"{' for ' + task if task else ''}: {', '.join(known)})")


def names_for(task: str) -> list[str]:
    """Names of the protocols that score ``task``."""
    return [n for n, p in PROTOCOLS.items() if p.task == task]


def default_name(task: str, options: Mapping[str, Any], language: str) -> str:
    """The protocol a benchmark's ``eval`` config names, else the task's default.

    ``eval.bleu_tokenize`` (an older spelling) names ``bleu-<tokenize>`` when
    ``eval.protocol`` is absent; translations into a character-level language (Chinese)
    default to ``bleu-char``, others to ``bleu-13a``.
    """
    if options.get("protocol"):
        return str(options["protocol"])
    if task == "cslr":
        return "wer-plain"
    if task == "slt":
        if options.get("bleu_tokenize"):
            return f"bleu-{options['bleu_tokenize']}"
        return "bleu-char" if language.lower() in CHARACTER_LEVEL_LANGUAGES else "bleu-13a"
    return "islr-topk"


def resolve(task: str, options: Mapping[str, Any], language: str, bench: str,
            name: str | None = None) -> Protocol:
    """The named protocol (default: the benchmark's), checked against its task and options."""
    protocol = get(name or default_name(task, options, language), task)
    if protocol.task != task:
        raise ConfigError(f"metric protocol {protocol.name} scores {protocol.task}, but {bench} "
                          f"is {task}; its protocols: {', '.join(names_for(task))}")
    protocol.check(options)
    return protocol
