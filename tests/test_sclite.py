"""Phoenix WER equals NIST sclite's on the same cleaned input, utterance by utterance.

sclite (Debian package ``sctk``) is part of the project's set-up: without it these tests
fail, they do not skip.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from pathlib import Path

import jiwer
import pytest

from benchmarks.metrics import phoenix, wer
from harness.core.metric import get_protocol

# Reference glosses as the official ground truth writes them (cleaned, __ON__/__OFF__ kept).
REF_VOCAB = ["REGEN", "SONNE", "WOLKE", "NORD", "SUED", "MORGEN", "IX", "WIE-AUSSEHEN",
             "ZEIGEN-BILDSCHIRM", "WIE-IMMER", "S+H", "__ON__", "__OFF__", "neg-HABEN", "GRAD",
             "SCHNEE", "WIND", "KOMMEN", "STARK", "ÄHNLICH"]
# Hypothesis glosses a recogniser may emit, raw: markers, spelled letters, case variants.
HYP_EXTRA = ["loc-NORD", "cl-KOMMEN", "poss-EUCH", "__EMOTION__", "__PU__", "__LEFTHAND__",
             "__EPENTHESIS__", "S", "H", "NN", "SCH", "WIE", "AUSSEHEN", "ZEIGEN", "WALDRAUM",
             "MEHR-PLUSPLUS", "regen", "Sonne", "NEG-HABEN", "ähnlich", "S0NNE", "HABEN2"]
PAIRS = 1200


def sclite_command() -> list[str]:
    """How to run sclite here; fails (never skips) when SCTK is not installed."""
    if shutil.which("sctk"):
        return ["sctk", "sclite"]
    if shutil.which("sclite"):
        return ["sclite"]
    pytest.fail("sclite is not installed: it is the reference for WER and part of the set-up; "
                "install the Debian package sctk (apt-get install sctk; `make test` does it)")


def corpus(seed: int = 0) -> list[tuple[str, str]]:
    """(reference, raw hypothesis) pairs: substitutions, insertions, deletions, repeats,
    markers, empty hypotheses and sequences of more than 100 glosses."""
    rng = random.Random(seed)
    pairs = []
    for k in range(PAIRS):
        n = rng.randint(101, 160) if k % 40 == 0 else rng.randint(1, 14)
        ref = [rng.choice(REF_VOCAB) for _ in range(n)]
        if k % 25 == 0:
            pairs.append((" ".join(ref), rng.choice(["", "  ", "__PU__", "__EPENTHESIS__"])))
            continue
        hyp = []
        for word in ref:
            r = rng.random()
            if r < 0.15:
                continue  # deletion
            if r < 0.35:
                word = rng.choice(REF_VOCAB + HYP_EXTRA)  # substitution
            hyp.append(word)
            if rng.random() < 0.1:
                hyp.append(word)  # immediate repeat
            if rng.random() < 0.15:
                hyp.append(rng.choice(REF_VOCAB + HYP_EXTRA))  # insertion
        pairs.append((" ".join(ref), " ".join(hyp)))
    return pairs


def run_sclite(tmp: Path, pairs: list[tuple[list[str], list[str]]]) -> dict[str, tuple]:
    """Per utterance id, sclite's (#C, #S, #D, #I) for (reference, hypothesis) word lists."""
    ids = [f"spk_{k:05d}" for k in range(len(pairs))]
    for name, side in (("ref.trn", 0), ("hyp.trn", 1)):
        lines = [" ".join(p[side]) + f" ({i})\n" for i, p in zip(ids, pairs, strict=True)]
        (tmp / name).write_text("".join(lines), encoding="utf-8")
    proc = subprocess.run([*sclite_command(), "-r", str(tmp / "ref.trn"), "trn",
                           "-h", str(tmp / "hyp.trn"), "trn", "-i", "rm", "-o", "pra", "stdout"],
                          capture_output=True, text=True, encoding="utf-8", errors="replace",
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = dict(re.findall(r"id: \((\S+)\)\nScores: \(#C #S #D #I\) (\d+ \d+ \d+ \d+)",
                            proc.stdout))
    assert len(found) == len(pairs), proc.stdout[-2000:]
    return {i: tuple(int(x) for x in found[i].split()) for i in ids}


@pytest.mark.parametrize(("protocol", "clean"), [("wer-phoenix", phoenix.clean_2014),
                                                 ("wer-phoenix2014t", phoenix.clean_2014t)])
def test_phoenix_wer_equals_sclite(tmp_path, protocol, clean):
    pairs = corpus()
    cleaned = [(ref.split(), clean(hyp)) for ref, hyp in pairs]
    assert sum(len(r) > 100 for r, _ in cleaned) >= 25
    assert sum(h == [phoenix.EMPTY] for _, h in cleaned) >= PAIRS // 25
    expected = run_sclite(tmp_path, cleaned)
    mine = {}
    for (ref, hyp), key in zip(cleaned, expected, strict=True):
        c = wer.sclite_counts(ref, hyp)
        mine[key] = (c.cor, c.sub, c.dele, c.ins)
    differing = [k for k in expected if mine[k] != expected[k]]
    assert not differing, [(k, mine[k], expected[k]) for k in differing[:5]]

    cor, sub, dele, ins = (sum(v[i] for v in expected.values()) for i in range(4))
    refs = {str(k): ref for k, (ref, _) in enumerate(pairs)}
    hyps = {str(k): hyp for k, (_, hyp) in enumerate(pairs)}
    scores = get_protocol(protocol).score(hyps, refs)
    n = cor + sub + dele
    assert scores.metrics["wer"] == pytest.approx(100 * (sub + dele + ins) / n, abs=1e-9)
    assert scores.metrics["sub"] == pytest.approx(100 * sub / n, abs=1e-9)
    assert scores.metrics["del"] == pytest.approx(100 * dele / n, abs=1e-9)
    assert scores.metrics["ins"] == pytest.approx(100 * ins / n, abs=1e-9)
    assert scores.signatures["wer"].startswith(f"protocol:{protocol}|version:")


def test_corpus_tells_sclite_weights_from_unit_costs():
    """The generated corpus has utterances where unit-cost Levenshtein splits the errors
    differently, so the comparison above would catch a unit-cost aligner."""
    split_differs = 0
    for ref, hyp in corpus()[:300]:
        words = phoenix.clean_2014(hyp)
        out = jiwer.process_words(ref, " ".join(words))
        c = wer.sclite_counts(ref.split(), words)
        split_differs += (out.substitutions, out.deletions, out.insertions) != (c.sub, c.dele,
                                                                               c.ins)
    assert split_differs >= 10


@pytest.mark.parametrize(("ref", "hyp", "counts"), [
    ("A B X", "X A B", (2, 0, 1, 1)),          # unit costs would also allow 3 substitutions
    ("A B C D", "[EMPTY]", (0, 1, 3, 0)),      # [EMPTY] is a word: one substitution
    ("REGEN Sonne", "regen SONNE", (2, 0, 0, 0)),  # ASCII case is ignored, as sclite does
    ("ÄHNLICH", "ähnlich", (0, 1, 0, 0)),      # non-ASCII case is not (sclite's ASCII default)
])
def test_sclite_alignment_by_hand(ref, hyp, counts):
    c = wer.sclite_counts(ref.split(), hyp.split())
    assert (c.cor, c.sub, c.dele, c.ins) == counts
