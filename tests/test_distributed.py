"""Data-parallel cells: 2 gloo ranks on the CPU against 1 rank (harness/training/distributed.py).

Tolerances, stated: with the encoder frozen (its batch norms in eval mode) and no dropout,
2 ranks compute the 1-rank gradient up to float summation order, so the training losses
agree to 1e-6 relative and the metrics are equal. Fine-tuning the whole encoder, each rank's
batch norms see only its half of the batch (4 clips), so the losses agree within 10% relative
(5.7% seen) and test top-1 within 10 points (4 of 40 test clips) of one rank.
"""

from __future__ import annotations

import json
import socket
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from harness.cell.results import problems
from harness.data.loader import ClipLoader, DataOptions
from harness.training.distributed import World, share
from tests.conftest import HEAVY, SMALL_SYNTH

BASE = ["run", "--method", "scratch", "--bench", "synth-islr", "--quiet", "--threads", "1",
        "--set", *SMALL_SYNTH, "finetune.epochs=3", "finetune.batch_size=8"]
PROBE = ["+finetune.freeze_encoder=true", "model.heads.islr.dropout=0.0"]


def test_shares_split_every_batch_contiguously_and_completely():
    for n in (1, 7, 8, 9):
        for size in (1, 2, 3):
            parts = [share(n, World(rank=r, size=size)) for r in range(size)]
            assert [i for p in parts for i in range(n)[p]] == list(range(n))
            assert max(p.stop - p.start for p in parts) - min(p.stop - p.start
                                                               for p in parts) <= 1


def test_ranks_evaluate_disjoint_batches_that_together_are_the_single_run(harness):
    from harness.cell.runner import resolve_config
    from harness.core.registry import BENCHMARKS

    cfg = resolve_config("scratch", "synth-islr", "smoke", list(SMALL_SYNTH))
    store = BENCHMARKS.get("synth-islr")(cfg, root=harness.data).open()
    loader = ClipLoader(store, store.split("test"), 6, DataOptions(max_frames=16),
                        train=False)
    whole = list(loader.batches())
    parts = [list(loader.batches(every=(r, 3))) for r in range(3)]
    assert sum(map(len, parts)) == len(whole) > 3
    for r, part in enumerate(parts):  # rank r gets batches r, r + 3, ... unchanged
        for b, batch in zip(range(r, len(whole), 3), part, strict=True):
            assert batch.ids == whole[b].ids
            assert np.array_equal(batch.keypoints.numpy(), whole[b].keypoints.numpy())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _result(out: Path) -> tuple[dict, Path]:
    (path,) = out.glob("cells/*/*/*/result.json")
    return json.loads(path.read_text()), path.parent


def _cell(harness, out: Path, extra: list[str], ranks: int) -> tuple[dict, Path]:
    args = [*BASE, *extra, "--out", str(out)]
    if ranks == 1:
        done = harness(*args)
        assert done.code == 0, done.err
    else:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1",
               f"--nproc_per_node={ranks}", "--master_addr=127.0.0.1",
               f"--master_port={_free_port()}", "-m", "harness", *args]
        proc = subprocess.run(cmd, capture_output=True, text=True, cwd=harness.root,
                              env=harness.env, timeout=600)
        assert proc.returncode == 0, proc.stderr[-3000:]
        # One report, from rank 0.
        assert proc.stdout.count("result: ") == 1, proc.stdout
    return _result(out)


@pytest.fixture(scope="module")
def probe(harness):
    """The linear-probe cell on 1 rank and on 2 ranks."""
    return (_cell(harness, harness.root / "ddp-probe-1", PROBE, 1),
            _cell(harness, harness.root / "ddp-probe-2", PROBE, 2))


@pytest.mark.slow
def test_two_ranks_compute_the_single_rank_step(probe):
    (one, _), (two, _) = probe
    assert problems(two) == []
    assert two["cell_key"] == one["cell_key"]  # the same experiment, recorded with its world
    assert one["distributed"]["world_size"] == 1
    dist = two["distributed"]
    assert dist["world_size"] == 2 and dist["backend"] == "gloo"
    assert dist["model_checksums"][0] == dist["model_checksums"][1]  # ranks stayed in sync
    loss1 = [h["train_loss"] for h in one["history"]]
    loss2 = [h["train_loss"] for h in two["history"]]
    assert loss2 == pytest.approx(loss1, rel=1e-6)
    assert [h["dev_top1"] for h in two["history"]] == [h["dev_top1"] for h in one["history"]]
    assert two["metrics"] == one["metrics"]


@pytest.mark.slow
def test_two_ranks_record_one_run_over_the_whole_corpus(probe):
    _, (two, cell) = probe
    rows = [json.loads(line) for line in (cell / "predictions" / "test.jsonl").open()]
    assert len(rows) == two["benchmark"]["counts"]["test"]  # every rank's share gathered
    top1 = 100 * sum(r["prediction"][0] == r["reference"] for r in rows) / len(rows)
    assert top1 == pytest.approx(two["metrics"]["test"]["top1"])
    db = Path(two["mlflow"]["tracking_uri"][len("sqlite:///"):])
    with sqlite3.connect(db) as con:
        runs = con.execute("SELECT status FROM runs").fetchall()
        world = con.execute("SELECT value FROM params WHERE key = 'world_size'").fetchall()
    assert runs == [("FINISHED",)] and world == [("2",)]
    assert two["mlflow"]["run_id"] and "rank 0" not in two["mlflow"]["run_id"]


@HEAVY  # the default run checks the exact step here and a 2-task DDP cell on Slurm
@pytest.mark.slow
def test_two_ranks_fine_tune_the_encoder_within_tolerance_of_one(harness):
    one, _ = _cell(harness, harness.root / "ddp-full-1", [], 1)
    two, _ = _cell(harness, harness.root / "ddp-full-2", [], 2)
    dist = two["distributed"]
    assert dist["model_checksums"][0] == dist["model_checksums"][1]
    loss1 = [h["train_loss"] for h in one["history"]]
    loss2 = [h["train_loss"] for h in two["history"]]
    assert loss2 == pytest.approx(loss1, rel=0.10)
    assert abs(two["metrics"]["test"]["top1"] - one["metrics"]["test"]["top1"]) <= 10.0
