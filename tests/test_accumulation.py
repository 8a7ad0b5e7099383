"""Gradient accumulation in the trainer (harness/training/trainer.py): an optimiser step over ``k``
batches of ``b`` clips is the step over one batch of ``k x b``; a stage killed inside an
accumulation resumes to the uninterrupted weights; the effective batch is checked and
recorded.

The models here have no batch statistics and compute in fp64, so the only difference
between accumulating and one large batch is float rounding: 2e-15 (2e-14 with clipping)
against a bound of 1e-13, where losses not divided by ``k`` leave 3e-4 (1.7e-8 with
clipping: AdamW barely sees a gradient's scale) and batches of 2 without accumulation 0.26.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

from harness.cell.runner import check_values, resolve_config
from harness.data.loader import ClipLoader, DataOptions
from harness.data.store import PoseStore
from harness.errors import ConfigError
from harness.io import checkpoint
from harness.training.distributed import SINGLE, World, accumulation_steps, init, shutdown
from harness.training.trainer import StageConfig, Trainer
from tests.conftest import SMALL_SYNTH
from tests.test_data import store  # noqa: F401  (the module's store fixture)

CPU = torch.device("cpu")
#: Every frame of every clip (the store's clips have 5-11), no augmentation: a clip's
#: values do not depend on the batch it is drawn in.
WHOLE = DataOptions(max_frames=16, speed_jitter=0.0, scale_jitter=0.0, rotate_deg=0.0,
                    shift=0.0)


class Probe(torch.nn.Module):
    """Each clip's mean pose over its frames, through a small fp64 MLP, to gloss logits: no
    batch statistics, and a clip's loss does not depend on the other clips of its batch.
    Records every training loss (which depends on the dropout drawn) and, with ``fail_at``,
    stops like a killed process at that call of ``loss``."""

    def __init__(self, dropout: float = 0.0, fail_at: int | None = None) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(133 * 2, 16), torch.nn.Tanh(), torch.nn.Dropout(dropout),
            torch.nn.Linear(16, 4)).double()
        self.losses: list[float] = []
        self.fail_at = fail_at

    def loss(self, batch) -> dict[str, torch.Tensor]:
        if self.fail_at is not None and len(self.losses) + 1 == self.fail_at:
            raise Killed
        mask = batch.frame_mask.double()[:, :, None, None]
        pose = (batch.keypoints.double() * mask).sum(1) / mask.sum(1) / 500.0
        target = torch.tensor([int(g[1:]) for g in batch.gloss])
        loss = torch.nn.functional.cross_entropy(self.net(pose.flatten(1)), target)
        self.losses.append(loss.item())
        return {"loss": loss}


class Killed(Exception):
    """The stand-in for a SIGKILL in the middle of an accumulation."""


@pytest.fixture(autouse=True)
def one_thread():
    """One intra-op thread for these tiny models (40x faster than two on a busy machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def train(store, folder, batch_size: int, effective: int | None, *,  # noqa: F811
          model: Probe | None = None, world: World = SINGLE, **stage):
    model = model or Probe()
    folder.mkdir(parents=True, exist_ok=True)
    loader = ClipLoader(store, store.split("train"), batch_size, WHOLE, train=True, seed=1,
                        stage="finetune")
    cfg = StageConfig(**{"epochs": 3, "lr": 0.05, "weight_decay": 0.1, "warmup_ratio": 0.2,
                         "grad_clip": 0.0, "checkpoint_every": 0,
                         "effective_batch_size": effective, **stage})
    trainer = Trainer(model, "finetune", cfg, loader, folder, evaluate=None, device=CPU,
                      log=lambda _: None, world=world)
    return model, trainer


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def gap(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    return max((a[k] - b[k]).abs().max().item() for k in a)


def test_k_batches_of_b_step_as_one_batch_of_k_times_b(store, tmp_path):  # noqa: F811
    """17 training clips: 8 batches of 2 make 2 steps of 3 batches an epoch (the last 2
    batches unused), as 2 batches of 6 do; AdamW with weight decay and warm-up, 6 steps."""
    start = weights(Probe())
    ends = {}
    for clip in (0.0, 0.05):
        accumulated, acc = train(store, tmp_path / f"acc{clip}", 2, 6, grad_clip=clip)
        whole, one = train(store, tmp_path / f"one{clip}", 6, None, grad_clip=clip)
        assert (acc.accumulation, acc.steps_per_epoch, one.steps_per_epoch) == (3, 2, 2)
        acc.run()
        one.run()
        assert acc.state["global_step"] == one.state["global_step"] == 6
        assert len(accumulated.losses) == 18 and len(whole.losses) == 6
        a, b = weights(accumulated), weights(whole)
        assert gap(a, start) > 0.1
        assert gap(a, b) < 1e-13, gap(a, b)  # fp64 rounding
        # the epoch's loss: the mean over the same clips
        assert [h["train_loss"] for h in acc.state["history"]] == pytest.approx(
            [h["train_loss"] for h in one.state["history"]], rel=1e-13)
        ends[clip] = a
    assert gap(ends[0.0], ends[0.05]) > 1e-3  # the clipping acted (on the summed gradient)


def test_a_stage_killed_inside_an_accumulation_resumes_to_the_same_weights(
        store, tmp_path):  # noqa: F811
    """Checkpoints every step; killed at the 2nd of 3 batches of the 2nd step, the stage
    resumes from the end of the 1st step and repeats the 2nd from its first batch, with the
    dropout of an uninterrupted run."""
    steady, first = train(store, tmp_path / "steady", 2, 6, model=Probe(dropout=0.3),
                          checkpoint_every=1)
    first.run()

    killed, trainer = train(store, tmp_path / "killed", 2, 6,
                            model=Probe(dropout=0.3, fail_at=5), checkpoint_every=1)
    with pytest.raises(Killed):
        trainer.run()
    saved = checkpoint.load(tmp_path / "killed" / "finetune.last.pt")["state"]
    assert (saved["step"], saved["global_step"]) == (3, 1)  # between steps, never inside

    resumed, trainer = train(store, tmp_path / "killed", 2, 6, model=Probe(dropout=0.3),
                             checkpoint_every=1)
    trainer.run()
    assert killed.losses == steady.losses[:4]
    assert resumed.losses == steady.losses[3:]  # the same batches with the same dropout
    end, again = weights(steady), weights(resumed)
    assert all(torch.equal(end[k], again[k]) for k in end)
    assert [_untimed(h) for h in trainer.state["history"]] == \
        [_untimed(h) for h in first.state["history"]]


def _untimed(record: dict) -> dict:
    return {k: v for k, v in record.items() if k != "epoch_seconds"}


def test_an_effective_batch_that_is_not_whole_batches_is_one_error(
        harness, store, tmp_path):  # noqa: F811
    assert accumulation_steps("pretrain", 64, 512) == 8
    assert accumulation_steps("pretrain", 64, None) == 1
    with pytest.raises(ConfigError, match=r"pretrain.effective_batch_size=500 is not a "
                                          r"multiple of pretrain.batch_size=64 .* 448 or 512"):
        accumulation_steps("pretrain", 64, 500)
    cfg = resolve_config("scratch", "synth-islr", "smoke", ["+finetune.effective_batch_size=50"])
    with pytest.raises(ConfigError, match=r"finetune\.batch_size=32"):
        check_values(cfg)
    done = harness("config", "--method", "scratch", "--bench", "synth-islr",
                   "--set", "+finetune.effective_batch_size=50")
    assert done.code == 2 and len(done.err.strip().splitlines()) == 1, done.err
    assert "finetune.effective_batch_size=50 is not a multiple of finetune.batch_size=32" \
        in done.err and "32 or 64" in done.err
    with pytest.raises(ConfigError, match="an epoch has 8"):  # more clips than an epoch has
        train(store, tmp_path / "big", 2, 18)


def _rank(rank: int, port: int, store_path: str, folder: str) -> None:
    """One of two gloo ranks: batches of 4 (2 clips a rank), 2 of them a step; saves its
    weights and how often DDP all-reduced the gradients."""
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    world = init(World(rank=rank, size=2), "cpu")
    try:
        model, trainer = train(PoseStore(Path(store_path)), Path(folder), 4, 8, world=world)
        syncs = []

        def counted(state, bucket):  # DDP's own all-reduce, counted
            syncs.append(bucket.index())
            return allreduce_hook(state, bucket)

        trainer.loss_of.register_comm_hook(None, counted)
        trainer.run()
        torch.save({"weights": weights(model), "syncs": len(syncs),
                    "batching": trainer.batching}, Path(folder) / f"rank{rank}.pt")
    finally:
        shutdown(world)


@pytest.mark.slow  # two processes and DDP's start-up: ~10 s
def test_two_ranks_accumulate_locally_and_average_once_a_step(store, tmp_path):  # noqa: F811
    """Two ranks, batches of 4 added up in pairs, against one rank with batches of 8: the
    same weights, and one all-reduce (the model is one bucket) per optimiser step."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_rank, args=(port, str(store.path), str(tmp_path / "ddp")), nprocs=2)
    whole, one = train(store, tmp_path / "one", 8, None)
    one.run()
    ranks = [torch.load(tmp_path / "ddp" / f"rank{r}.pt") for r in (0, 1)]
    assert gap(ranks[0]["weights"], ranks[1]["weights"]) == 0.0
    assert gap(ranks[0]["weights"], weights(whole)) < 1e-13
    assert [r["syncs"] for r in ranks] == [one.state["global_step"]] * 2 == [6, 6]
    assert ranks[1]["batching"] == {"batch_size": 4, "world_size": 2, "per_device_batch": 2,
                                    "accumulation_steps": 2, "effective_batch_size": 8,
                                    "optimizer_steps_per_epoch": 2}


@pytest.mark.slow
def test_the_result_records_the_effective_batch(harness, tmp_path):
    out = tmp_path / "out"
    done = harness("run", "--method", "scratch", "--bench", "synth-islr", "--quiet",
                   "--threads", "2", "--out", str(out), "--set", *SMALL_SYNTH,
                   "finetune.epochs=1", "finetune.batch_size=8",
                   "+finetune.effective_batch_size=16")
    assert done.code == 0, done.err
    (path,) = out.glob("cells/*/*/*/result.json")
    result = json.loads(path.read_text())
    assert result["training"] == {"pretrain": None, "finetune": {
        "batch_size": 8, "world_size": 1, "per_device_batch": 8, "accumulation_steps": 2,
        "effective_batch_size": 16, "optimizer_steps_per_epoch": 10}}  # 160 clips
    with sqlite3.connect(out / "mlflow.db") as con:
        (value,) = con.execute("SELECT value FROM params WHERE key = "
                               "'finetune.effective_batch_size'").fetchone()
    assert value == "16"
