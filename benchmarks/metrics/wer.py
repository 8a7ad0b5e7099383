"""Word error rate over a corpus (errors summed over sentences / reference words)."""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import version

from benchmarks.metrics.recognition import _check_ids

PLAIN = "wer-plain"


def plain_wer(predictions: Mapping[str, str], references: Mapping[str, str]) -> dict[str, float]:
    """WER in percent with jiwer on whitespace tokens, with its error counts."""
    import jiwer

    _check_ids(predictions, references)
    ids = list(references)
    empty = [c for c in ids if not references[c].split()]
    if empty:
        raise ValueError(f"reference of {empty[0]!r} is empty; WER needs reference words")
    refs = [" ".join(references[c].split()) for c in ids]
    hyps = [" ".join(predictions[c].split()) for c in ids]
    out = jiwer.process_words(refs, hyps)
    n_ref = out.hits + out.substitutions + out.deletions
    return {
        "wer": 100.0 * (out.substitutions + out.deletions + out.insertions) / n_ref,
        "sub": 100.0 * out.substitutions / n_ref,
        "del": 100.0 * out.deletions / n_ref,
        "ins": 100.0 * out.insertions / n_ref,
    }


def plain_signature() -> str:
    """Signature of the plain WER protocol."""
    return f"protocol:{PLAIN}|tok:whitespace|case:mixed|jiwer:{version('jiwer')}"
