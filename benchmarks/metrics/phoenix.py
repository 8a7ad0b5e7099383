"""The Phoenix WER protocols: the official clean-up of hypothesis glosses, then sclite.

The RWTH-PHOENIX-Weather releases score recognition with a shell script that cleans the
hypothesis (a CTM file, one gloss per line) with sed/grep/awk rules, fills an empty
hypothesis with ``[EMPTY]`` and aligns it with sclite against the ground-truth STM file. The
two releases ship different rules:

- Phoenix-2014 (``evaluatePhoenix2014.sh``): delete the markers ``loc-``, ``cl-``, ``qu-``,
  ``poss-``, ``lh-``; ``S0NNE`` -> ``SONNE``, ``HABEN2`` -> ``HABEN``; delete ``__EMOTION__``,
  ``__PU__``, ``__LEFTHAND__``; ``WIE AUSSEHEN`` -> ``WIE-AUSSEHEN``, ``ZEIGEN`` ->
  ``ZEIGEN-BILDSCHIRM``; join spelled letters with ``+`` (``S H`` -> ``S+H``, also ``SCH``
  and ``NN``); drop a ``RAUM`` suffix after two capitals and ``-PLUSPLUS``; collapse an
  immediately repeated plain gloss (letters only); drop ``__EPENTHESIS__``. Its ground truth
  keeps ``__ON__`` and ``__OFF__``, so they are scored.
- PHOENIX-2014-T (``evaluatePHOENIX-2014-T-signrecognition.sh``): drop ``__LEFTHAND__``,
  ``__EPENTHESIS__``, ``__EMOTION__`` and every ``__X__`` token (``__ON__``, ``__OFF__``,
  ``__PU__``, ...); strip a leading ``loc-`` or ``cl-``, a trailing ``-PLUSPLUS`` and a
  ``RAUM`` suffix; collapse any immediate repeat. Its ground truth keeps ``poss-`` and
  ``neg-`` markers, so they are not touched.

The rules are the official ones, in the official order, written here in Python and applied
to the hypothesis as one sentence, so the rules that span two glosses (spelled letters,
``WIE AUSSEHEN``, repeats) act as their patterns say. A deleted marker leaves no gap (in the
official CTM a deleted gloss is a dropped line). References are not cleaned, as in the
official scripts: they must be the official ground truth (the STM text), which keeps some
repeats (``MOEGLICH MOEGLICH``) that the clean-up would collapse.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from benchmarks.metrics.recognition import check_ids
from benchmarks.metrics.wer import reference_words, sclite_counts, sclite_wer

EMPTY = "[EMPTY]"

#: Phoenix-2014: (pattern, replacement) in the order of the official pipeline.
_MARKERS_2014 = [(re.escape(m), "") for m in ("loc-", "cl-", "qu-", "poss-", "lh-")] + [
    ("S0NNE", "SONNE"), ("HABEN2", "HABEN"),
    ("__EMOTION__", ""), ("__PU__", ""), ("__LEFTHAND__", ""),
]
_LETTER = r"([ +][A-Z]) ([A-Z][ +])"
_SENTENCE_2014 = [
    ("WIE AUSSEHEN", "WIE-AUSSEHEN"), ("ZEIGEN ", "ZEIGEN-BILDSCHIRM "),
    ("ZEIGEN$", "ZEIGEN-BILDSCHIRM"),
    (r"^([A-Z]) ([A-Z][+ ])", r"\1+\2"), (r"[ +]([A-Z]) ([A-Z]) ", r" \1+\2 "),
    (_LETTER, r"\1+\2"), (_LETTER, r"\1+\2"), (_LETTER, r"\1+\2"),
    (r"([ +]SCH) ([A-Z][ +])", r"\1+\2"), (r"([ +]NN) ([A-Z][ +])", r"\1+\2"),
    (r"([ +][A-Z]) (NN[ +])", r"\1+\2"), (r"([ +][A-Z]) ([A-Z])$", r"\1+\2"),
    ("([A-Z][A-Z])RAUM", r"\1"), ("-PLUSPLUS", ""),
] + [(r"(?<![\w-])(\b[A-Z]+(?![\w-])) \1(?![\w-])", r"\1")] * 4  # the script runs it 4 times
_DROPPED_2014 = ("__LEFTHAND__", "__EPENTHESIS__", "__EMOTION__")

#: PHOENIX-2014-T: glosses dropped, then per-gloss rewrites, in the official order.
_DROPPED_2014T = re.compile(r"__LEFTHAND__|__EPENTHESIS__|__EMOTION__|^__[^_ ]*__$")
_GLOSS_2014T = [(r"^loc-(.*)$", r"\1"), ("-PLUSPLUS$", ""), (r"^cl-(.*)$", r"\1"),
                (r"\b([A-Z][A-Z]*)RAUM$", r"\1")]


def _compiled(rules: list[tuple[str, str]]) -> list[tuple[re.Pattern[str], str]]:
    return [(re.compile(pattern, re.ASCII), repl) for pattern, repl in rules]


_MARKERS_2014_RE = _compiled(_MARKERS_2014)
_SENTENCE_2014_RE = _compiled(_SENTENCE_2014)
_GLOSS_2014T_RE = _compiled(_GLOSS_2014T)


def _rewrite(text: str, rules: list[tuple[re.Pattern[str], str]]) -> str:
    for pattern, repl in rules:
        text = pattern.sub(repl, text)
    return text


def clean_2014(hypothesis: str) -> list[str]:
    """Hypothesis glosses after the Phoenix-2014 evaluation's clean-up (``[EMPTY]`` if none)."""
    text = " ".join(_rewrite(hypothesis, _MARKERS_2014_RE).split())
    words = _rewrite(text, _SENTENCE_2014_RE).split()
    return [w for w in words if not any(d in w for d in _DROPPED_2014)] or [EMPTY]


def clean_2014t(hypothesis: str) -> list[str]:
    """Hypothesis glosses after the PHOENIX-2014-T evaluation's clean-up (``[EMPTY]`` if none;
    immediate repeats collapsed)."""
    kept = [_rewrite(w, _GLOSS_2014T_RE) for w in hypothesis.split()
            if not _DROPPED_2014T.search(w)]
    words = [w for w in kept if w] or [EMPTY]
    return [w for i, w in enumerate(words) if i == 0 or w != words[i - 1]]


CLEANERS: dict[str, Callable[[str], list[str]]] = {"phoenix-2014": clean_2014,
                                                   "phoenix-2014t": clean_2014t}


def phoenix_wer(predictions: Mapping[str, str], references: Mapping[str, str],
                corpus: str) -> dict[str, float]:
    """Corpus WER (percent, with sub/del/ins) of cleaned hypotheses against the references as
    given, aligned as sclite aligns; ``corpus`` picks the clean-up (a key of CLEANERS)."""
    check_ids(predictions, references)
    clean = CLEANERS[corpus]
    refs = reference_words(references)
    return sclite_wer((refs[c], clean(predictions[c])) for c in references)


def phoenix_errors(predictions: Mapping[str, str], references: Mapping[str, str],
                   corpus: str) -> list[tuple[int, int]]:
    """Per clip (in the order of ``references``): word errors of sclite's alignment of the
    cleaned hypothesis, and reference words; summed, ``phoenix_wer`` is their ratio."""
    clean = CLEANERS[corpus]
    edits = [sclite_counts(words, clean(predictions[c]))
             for c, words in reference_words(references).items()]
    return [(e.sub + e.dele + e.ins, e.ref_words) for e in edits]


def details(corpus: str) -> str:
    """How ``phoenix_wer`` cleans, compares and aligns (the tool part of its signature)."""
    return f"clean:{corpus}-hyp|refs:as-given|case:ascii-insensitive|align:sclite-sub4-del3-ins3"
