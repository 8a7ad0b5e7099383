"""CCL-SLR end to end on SynthSign: pose-only pre-training, then fine-tuning, recorded."""

from __future__ import annotations

import pytest

from harness.results import problems
from tests.conftest import SMALL_SYNTH
from tests.test_run import result_of

TINY = [*SMALL_SYNTH, "data.synth.pretrain_sentences=96", "pretrain.epochs=2",
        "pretrain.batch_size=16", "pretrain.checkpoint_every=2", "finetune.epochs=2",
        "finetune.batch_size=16", "model.ccl.queue_size=48", "model.ccl.spm.start_step=6"]

pytestmark = pytest.mark.slow


def test_pretraining_then_finetuning_on_synth_islr_is_recorded(harness):
    out = harness.root / "ccl-slr-islr"
    done = harness("run", "--method", "ccl_slr", "--bench", "synth-islr", "--quiet",
                   "--threads", "1", "--set", *TINY, "--out", str(out))
    assert done.code == 0, done.err
    result = result_of(out)
    assert problems(result) == []
    pre = result["pretrain"]
    assert pre["clips"] == 96 and pre["epochs"] == 2 and len(pre["history"]) == 2
    assert pre["reused"] is False and result["timings"]["pretrain"] > 0
    assert {"train_loss", "train_intra", "train_acc", "train_mined"} <= set(pre["history"][0])
    assert len(result["history"]) == 2 and "dev_top1" in result["history"][-1]
    # said once, on stderr through the method's logger: no benchmark has RGB features yet
    assert done.err.count("no RGB features in this benchmark: cross-modal branch skipped") == 1
    from mlflow.tracking import MlflowClient

    client = MlflowClient(result["mlflow"]["tracking_uri"])
    metrics = client.get_run(result["mlflow"]["run_id"]).data.metrics
    for key in ("pretrain.train_loss", "pretrain.train_intra", "finetune.train_loss",
                "finetune.dev_top1", "test_top1"):
        assert key in metrics, key
