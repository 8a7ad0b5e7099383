"""MSLP end to end on SynthSign: pre-training then fine-tuning through the CLI, recorded."""

from __future__ import annotations

import pytest

from harness.cell.results import problems
from tests.conftest import SMALL_SYNTH
from tests.test_run import result_of

TINY = [*SMALL_SYNTH, "data.synth.pretrain_sentences=96", "pretrain.epochs=2",
        "pretrain.batch_size=16", "pretrain.checkpoint_every=2", "pretrain.data.max_frames=32",
        "finetune.epochs=2", "finetune.batch_size=16"]

pytestmark = pytest.mark.slow


def test_pretraining_then_finetuning_is_recorded(harness):
    out = harness.root / "mslp-islr"
    done = harness("run", "--method", "mslp", "--bench", "synth-islr", "--quiet", "--threads",
                   "1", "--out", str(out), "--set", *TINY)
    assert done.code == 0, done.err
    result = result_of(out)
    assert problems(result) == []
    pre = result["pretrain"]
    # 1 in 20 of the 96 pairs is held out of pre-training for the grounding check
    assert 80 <= pre["clips"] < 96 and pre["grounding"]["pairs"] == 96 - pre["clips"]
    assert pre["epochs"] == 2 and len(pre["history"]) == 2
    assert pre["reused"] is False and result["timings"]["pretrain"] > 0
    assert result["benchmark"]["fingerprint"] != result["benchmark"]["store_fingerprint"]
    first, last = pre["history"]
    for part in ("body", "left_hand", "right_hand", "face"):  # manual and non-manual parts
        assert first[f"train_mpm_{part}"] > 0
    assert last["train_loss"] < first["train_loss"]
    from mlflow.tracking import MlflowClient

    client = MlflowClient(result["mlflow"]["tracking_uri"])
    metrics = client.get_run(result["mlflow"]["run_id"]).data.metrics
    for key in ("pretrain.train_loss", "pretrain.train_mpm", "pretrain.train_contrast_global",
                "pretrain.train_contrast_fine", "pretrain.train_mpm_face", "finetune.train_loss",
                "finetune.dev_top1", "test_top1"):
        assert key in metrics, key
