"""Word error rate over a corpus (errors summed over sentences / reference words).

Two aligners: jiwer's unit-cost Levenshtein (protocol ``wer-plain``) and the alignment of
NIST sclite (``sctk sclite``), which the Phoenix protocols use. sclite's default word costs
are not unit costs: a correct word costs 0, an insertion or a deletion 3 and a substitution
4 (SCTK ``wwd_WORD``), and its dynamic programme keeps the diagonal step on a tie, then the
insertion, and the deletion only when strictly cheaper. Among alignments of equal cost these
choices decide how the errors split into substitutions, deletions and insertions, so they
are reproduced exactly. sclite also compares words case-insensitively by default, folding
ASCII letters only (its default character encoding).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version

from benchmarks.metrics.recognition import check_ids
from harness.errors import DataError

_SUB, _DEL, _INS = 4, 3, 3  # sclite's default costs; a correct word costs 0
_DIAG, _UP, _LEFT = 0, 1, 2  # back pointers: diagonal, deletion, insertion
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True)
class EditCounts:
    """Correct words, substitutions, deletions and insertions of an alignment."""

    cor: int = 0
    sub: int = 0
    dele: int = 0
    ins: int = 0

    def __add__(self, other: EditCounts) -> EditCounts:
        return EditCounts(self.cor + other.cor, self.sub + other.sub, self.dele + other.dele,
                          self.ins + other.ins)

    @property
    def ref_words(self) -> int:
        """Number of reference words the counts cover."""
        return self.cor + self.sub + self.dele

    def rates(self) -> dict[str, float]:
        """WER and its parts in percent of the reference words."""
        n = self.ref_words
        return {"wer": 100.0 * (self.sub + self.dele + self.ins) / n,
                "sub": 100.0 * self.sub / n, "del": 100.0 * self.dele / n,
                "ins": 100.0 * self.ins / n}


def reference_words(references: Mapping[str, str]) -> dict[str, list[str]]:
    """Whitespace tokens of each reference; an empty reference is a data error."""
    out = {clip: ref.split() for clip, ref in references.items()}
    empty = [clip for clip, words in out.items() if not words]
    if empty:
        raise DataError(f"the reference of clip {empty[0]!r} is empty ({len(empty)} empty in "
                        f"all); WER needs reference words: drop those clips or fix the references")
    return out


def sclite_counts(ref: Sequence[str], hyp: Sequence[str]) -> EditCounts:
    """Edit counts of the alignment sclite finds between two word sequences."""
    ref = [w.translate(_ASCII_LOWER) for w in ref]
    hyp = [w.translate(_ASCII_LOWER) for w in hyp]
    m = len(hyp)
    back = [[_DIAG] + [_LEFT] * m]
    prev = [_INS * j for j in range(m + 1)]
    for i, word in enumerate(ref, start=1):
        cur, ptr = [_DEL * i], [_UP]
        for j in range(1, m + 1):
            diag = prev[j - 1] + (0 if word == hyp[j - 1] else _SUB)
            up, left = prev[j] + _DEL, cur[j - 1] + _INS
            if diag <= up and diag <= left:
                cur.append(diag)
                ptr.append(_DIAG)
            elif up < left:
                cur.append(up)
                ptr.append(_UP)
            else:
                cur.append(left)
                ptr.append(_LEFT)
        back.append(ptr)
        prev = cur
    cor = sub = dele = ins = 0
    i, j = len(ref), m
    while i > 0 or j > 0:
        step = back[i][j]
        if step == _DIAG:
            i, j = i - 1, j - 1
            if ref[i] == hyp[j]:
                cor += 1
            else:
                sub += 1
        elif step == _UP:
            i, dele = i - 1, dele + 1
        else:
            j, ins = j - 1, ins + 1
    return EditCounts(cor, sub, dele, ins)


def sclite_wer(pairs: Iterable[tuple[Sequence[str], Sequence[str]]]) -> dict[str, float]:
    """Corpus WER (percent) of (reference, hypothesis) word sequences aligned as sclite does."""
    total = EditCounts()
    for ref, hyp in pairs:
        total += sclite_counts(ref, hyp)
    return total.rates()


def plain_wer(predictions: Mapping[str, str], references: Mapping[str, str]) -> dict[str, float]:
    """WER in percent with jiwer on whitespace tokens, with its error counts."""
    import jiwer

    check_ids(predictions, references)
    words = reference_words(references)
    ids = list(references)
    out = jiwer.process_words([" ".join(words[c]) for c in ids],
                              [" ".join(predictions[c].split()) for c in ids])
    return EditCounts(out.hits, out.substitutions, out.deletions, out.insertions).rates()


def plain_errors(predictions: Mapping[str, str], references: Mapping[str, str]
                 ) -> list[tuple[int, int]]:
    """Per clip (in the order of ``references``): word errors of jiwer's alignment on
    whitespace words, and reference words; summed, ``plain_wer`` is their ratio."""
    import jiwer

    words = reference_words(references)
    out = jiwer.process_words([" ".join(w) for w in words.values()],
                              [" ".join(predictions[c].split()) for c in words])
    return [(sum(max(c.ref_end_idx - c.ref_start_idx, c.hyp_end_idx - c.hyp_start_idx)
                 for c in chunks if c.type != "equal"), len(w))
            for chunks, w in zip(out.alignments, words.values(), strict=True)]


def plain_details() -> str:
    """How ``plain_wer`` tokenises, compares and aligns (the tool part of its signature)."""
    return f"tok:whitespace|case:mixed|align:levenshtein-1-1-1|jiwer:{version('jiwer')}"
