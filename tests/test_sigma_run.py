"""Sigma end to end on SynthSign: pre-training then fine-tuning, logged, resumable."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
import torch

from harness.cell.results import problems
from harness.cell.runner import resolve_config
from harness.core.tasks import TaskSpec
from methods.sigma import Sigma
from tests.conftest import HEAVY, SMALL_SYNTH
from tests.test_run import result_of

TINY = [*SMALL_SYNTH, "data.synth.pretrain_sentences=96", "pretrain.epochs=2",
        "pretrain.batch_size=16", "pretrain.checkpoint_every=2", "finetune.epochs=2",
        "finetune.batch_size=16"]

pytestmark = pytest.mark.slow


def sigma(bench: str) -> list[str]:
    return ["run", "--method", "sigma", "--bench", bench, "--quiet", "--set", *TINY]


@pytest.fixture(scope="module")
def islr(harness):
    out = harness.root / "sigma-islr"
    done = harness(*sigma("synth-islr"), "--out", str(out))
    assert done.code == 0, done.err
    return result_of(out)


def test_pretraining_then_finetuning_is_recorded(islr):
    assert problems(islr) == []
    pre = islr["pretrain"]
    # 1 in 20 of the 96 pairs is held out of pre-training for the grounding check
    assert 80 <= pre["clips"] < 96 and pre["grounding"]["pairs"] == 96 - pre["clips"]
    assert pre["epochs"] == 2 and len(pre["history"]) == 2
    assert islr["timings"]["pretrain"] > 0
    # the cell's fingerprint covers the benchmark store and the pre-training corpus
    assert islr["benchmark"]["fingerprint"] != islr["benchmark"]["store_fingerprint"]


def test_both_stages_are_in_mlflow(islr):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(islr["mlflow"]["tracking_uri"])
    metrics = client.get_run(islr["mlflow"]["run_id"]).data.metrics
    for key in ("pretrain.train_loss", "pretrain.train_hal_global", "pretrain.train_hal_local",
                "pretrain.train_sgt_match", "pretrain.train_sgt_lm", "finetune.train_loss",
                "finetune.dev_top1", "test_top1"):
        assert key in metrics, key
    history = client.get_metric_history(islr["mlflow"]["run_id"], "pretrain.train_loss")
    assert len(history) == 2


@HEAVY  # the default run kills pre-training at a named point (tests/test_faults.py)
def test_killed_in_pretraining_resumes_to_the_same_result(harness, islr):
    out = harness.root / "sigma-islr-killed"
    proc = harness.popen(*sigma("synth-islr"), "--out", str(out))
    state = None
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        found = list(out.glob("pretrained/sigma/*/checkpoints/pretrain.last.pt"))
        if found:
            try:
                state = torch.load(found[0], weights_only=True)["state"]
            except (RuntimeError, EOFError):
                state = None  # caught between writes; the file is replaced atomically
            if state and state["epoch"] == 1 and state["step"] > 0:
                break
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert state and state["epoch"] == 1, "the run left pre-training before it was killed"
    assert not list(out.glob("cells/*/*/*/result.json"))
    done = harness(*sigma("synth-islr"), "--out", str(out))
    assert done.code == 0, done.err
    result = result_of(out)
    assert result["metrics"] == islr["metrics"]
    strip = [{k: v for k, v in h.items() if k != "epoch_seconds"} for h in
             result["pretrain"]["history"]]
    assert strip == [{k: v for k, v in h.items() if k != "epoch_seconds"} for h in
                     islr["pretrain"]["history"]]


def test_a_second_cell_reuses_the_finished_pretraining(harness, islr):
    out = harness.root / "sigma-islr"
    done = harness(*sigma("synth-islr"), "finetune.epochs=1", "--out", str(out))
    assert done.code == 0, done.err
    other = [r for r in map(json.loads, map(Path.read_text, out.glob("cells/*/*/*/result.json")))
             if r["cell_key"] != islr["cell_key"]]
    assert len(other) == 1 and problems(other[0]) == []
    pre, first = other[0]["pretrain"], islr["pretrain"]
    assert first["reused"] is False and pre["reused"] is True
    assert pre["shared"] == first["shared"] and pre["history"] == first["history"]
    assert pre["checkpoint_sha256"] == first["checkpoint_sha256"]
    assert other[0]["history"] != islr["history"]  # its own fine-tuning
    from mlflow.tracking import MlflowClient

    client = MlflowClient(other[0]["mlflow"]["tracking_uri"])
    curve = client.get_metric_history(other[0]["mlflow"]["run_id"], "pretrain.train_loss")
    assert [m.value for m in curve] == [h["train_loss"] for h in first["history"]]


@pytest.mark.parametrize("bench", ["synth-cslr", "synth-slt"])
def test_sentence_tasks_run_end_to_end(harness, bench):
    out = harness.root / f"sigma-{bench}"
    small = ["data.synth.cslr_sentences=[48,16,16]", "pretrain.epochs=1", "finetune.epochs=1"]
    done = harness(*sigma(bench), *small, "--out", str(out))
    assert done.code == 0, done.err
    result = result_of(out)
    assert problems(result) == [] and result["pretrain"]["epochs"] == 1


def test_finetuning_models_continue_from_the_pretrained_weights():
    cfg = resolve_config("sigma", "synth-slt", "smoke", [
        "model.encoder.spatial=[8, 16]", "model.encoder.temporal=[16]", "model.encoder.embed=8",
        "model.encoder.d_model=32", "model.text.d_model=32", "model.text.d_ff=32",
        "model.text.vocab_size=300"])
    texts = ["the boy went home .", "where is the old house ?"] * 20
    method = Sigma()
    pre = method.build_pretrainer(cfg, TaskSpec("pretrain", train_texts=texts))
    for task, spec in (("islr", TaskSpec("islr", classes=["A", "B"])),
                       ("cslr", TaskSpec("cslr", classes=["A", "B"])),
                       ("slt", TaskSpec("slt", train_texts=["other text entirely ."] * 5))):
        model = method.build(cfg, spec, pretrained=pre)
        for name, value in pre.sign_encoder.state_dict().items():
            assert torch.equal(model.encoder.state_dict()[name], value), (task, name)
        # the SGT encoder layers (both streams) and the empty text's encoding come along
        for name, value in pre.sgt.state_dict().items():
            assert torch.equal(model.encoder.sgt.state_dict()[name], value), (task, name)
        assert torch.equal(model.encoder.empty_text.detach(), pre.empty_text_encoding())
        if task == "slt":
            assert model.tokenizer.get_vocab() == pre.backbone.tokenizer.get_vocab()
            for name, value in pre.lm.state_dict().items():
                assert torch.equal(model.text_model.state_dict()[name], value)
            assert torch.equal(model.proj.weight, pre.lm_proj.weight)
            assert model.text_model is not pre.lm  # fine-tuning does not move the pretrainer
    json.dumps(cfg)  # the resolved config is plain data
