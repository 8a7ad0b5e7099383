"""Every pre-training method runs offline on the CPU on the sentence-level SynthSign
benchmarks too (the ISLR cells are in each method's own test module), pre-training once for
both: the second benchmark reuses the first one's pre-training."""

from __future__ import annotations

import json

import pytest

from harness.cell.results import problems
from tests.conftest import SMALL_SYNTH

TINY = [*SMALL_SYNTH, "data.synth.cslr_sentences=[24,8,8]",
        "data.synth.pretrain_sentences=32", "pretrain.epochs=1", "pretrain.batch_size=16",
        "pretrain.data.max_frames=32", "finetune.epochs=1", "finetune.batch_size=16"]

EXTRA = {"ccl_slr": ["model.ccl.queue_size=16"]}  # the queue must be smaller than the corpus

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("method", ["mslp", "ccl_slr", "uni_sign"])
def test_sentence_benchmarks_run_and_share_the_pretraining(harness, method):
    out = harness.root / f"matrix-{method}"
    results = {}
    for bench in ("synth-cslr", "synth-slt"):
        done = harness("run", "--method", method, "--bench", bench, "--quiet", "--threads",
                       "1", "--out", str(out), "--set", *TINY, *EXTRA.get(method, []))
        assert done.code == 0, done.err
        (path,) = out.glob(f"cells/{bench}/{method}/*/result.json")
        results[bench] = json.loads(path.read_text())
        assert problems(results[bench]) == []
    cslr, slt = results["synth-cslr"], results["synth-slt"]
    assert cslr["signatures"]["wer"].startswith("protocol:wer-plain")
    assert cslr["metrics"]["test"]["wer"] >= 0
    assert slt["signatures"]["bleu"].startswith("protocol:bleu-13a")
    assert cslr["pretrain"]["reused"] is False and slt["pretrain"]["reused"] is True
    assert slt["pretrain"]["checkpoint_sha256"] == cslr["pretrain"]["checkpoint_sha256"]
