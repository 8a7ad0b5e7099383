"""Uni-Sign end to end on SynthSign: text-generation pre-training, then ISLR by generation."""

from __future__ import annotations

import json

import pytest

from harness.cell.results import problems
from tests.conftest import SMALL_SYNTH
from tests.test_run import result_of

TINY = [*SMALL_SYNTH, "data.synth.pretrain_sentences=96", "pretrain.epochs=2",
        "pretrain.batch_size=16", "pretrain.checkpoint_every=2", "finetune.epochs=1",
        "finetune.batch_size=16", "model.uni_sign.max_new_tokens=16"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def islr(harness):
    out = harness.root / "uni-sign-islr"
    done = harness("run", "--method", "uni_sign", "--bench", "synth-islr", "--quiet",
                   "--threads", "1", "--set", *TINY, "--out", str(out))
    assert done.code == 0, done.err
    return out, result_of(out)


def test_pretraining_then_finetuning_is_recorded(islr):
    _, result = islr
    assert problems(result) == []
    pre = result["pretrain"]
    # 1 in 20 of the 96 pairs is held out of pre-training for the grounding check
    assert 80 <= pre["clips"] < 96 and pre["grounding"]["pairs"] == 96 - pre["clips"]
    assert pre["epochs"] == 2 and len(pre["history"]) == 2
    assert pre["reused"] is False and result["timings"]["pretrain"] > 0
    assert len(result["history"]) == 1 and "dev_top1" in result["history"][0]
    from mlflow.tracking import MlflowClient

    metrics = MlflowClient(result["mlflow"]["tracking_uri"]).get_run(
        result["mlflow"]["run_id"]).data.metrics
    for key in ("pretrain.train_loss", "finetune.train_loss", "finetune.dev_top1", "test_top1"):
        assert key in metrics, key


def test_islr_predictions_are_ranked_distinct_generations(islr):
    out, _ = islr
    (path,) = out.glob("cells/*/*/*/predictions/test.jsonl")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows and all(isinstance(r["prediction"], list) for r in rows)
    for row in rows:  # the final beam gives up to 5 distinct candidates, never repeats
        assert 1 <= len(row["prediction"]) <= 5
        assert len(set(row["prediction"])) == len(row["prediction"])
