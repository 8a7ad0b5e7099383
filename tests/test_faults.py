"""Fault injection: a cell killed (SIGKILL) anywhere ends, when rerun, finished with the
metrics of an uninterrupted run, and never leaves a finished-looking result from a partial
run. Named points (``harness.io.faults``) cover pre-training, fine-tuning, checkpoint and
result writing, evaluation and the MLflow record; seeded kills at random moments are the
heavy part (``HARNESS_HEAVY=1``, ``make test-heavy``)."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.cell.results import load_finished
from tests.conftest import HEAVY, SMALL_SYNTH

TINY = [*SMALL_SYNTH, "data.synth.pretrain_sentences=48", "pretrain.epochs=1",
        "pretrain.batch_size=16", "pretrain.checkpoint_every=1", "finetune.epochs=2",
        "finetune.batch_size=16", "finetune.checkpoint_every=2"]
CELL = ["run", "--method", "sigma", "--bench", "synth-islr", "--quiet", "--threads", "2",
        "--set", *TINY]
#: Run by default: a kill in pre-training, and one between result.json and MLflow.
POINTS = ["pretrain.step:2", "result.written"]
#: The rest of the named points, with the heavy part.
HEAVY_POINTS = ["checkpoint.replace:2", "finetune.step:3", "atomic.replace:2", "evaluate:3",
                "result.before", "mlflow.finished"]

pytestmark = pytest.mark.slow


def run_cell(harness, out: Path, fault: str | None = None) -> subprocess.CompletedProcess:
    env = {**harness.env, **({"HARNESS_FAULT": fault} if fault else {})}
    return subprocess.run([sys.executable, "-m", "harness", *CELL, "--out", str(out)],
                          cwd=harness.root, env=env, capture_output=True, text=True,
                          timeout=900)


def cell_dir(out: Path) -> Path:
    (folder,) = list(out.glob("cells/*/*/*/"))
    return folder


def finished_runs(out: Path) -> list[tuple[str, str]]:
    """(status, harness.status tag) of the MLflow runs in the cell's store."""
    db = sqlite3.connect(out / "mlflow.db")
    rows = db.execute("select r.status, t.value from runs r left join tags t on "
                      "t.run_uuid = r.run_uuid and t.key = 'harness.status' "
                      "where r.lifecycle_stage = 'active'").fetchall()
    db.close()
    return rows


@pytest.fixture(scope="module")
def reference(harness):
    """The uninterrupted cell: its test metrics and predictions."""
    out = harness.root / "faults-reference"
    done = run_cell(harness, out)
    assert done.returncode == 0, done.stderr
    result = load_finished(cell_dir(out))
    preds = (cell_dir(out) / "predictions" / "test.jsonl").read_text()
    return result["metrics"], preds


def _check_killed_then_resumed(harness, out: Path, reference, killed) -> None:
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-400:]
    folder = cell_dir(out)
    partial = load_finished(folder)
    left = sorted(p.name for p in folder.rglob("*.tmp-*"))
    # never a finished-looking result from a partial run: a result here is complete
    if partial is not None:
        assert partial["metrics"] == reference[0]
        if not (folder / "tracked.json").exists():  # killed before its last checkpoint went
            assert (folder / "checkpoints" / "finetune.last.pt").exists()
    resumed = run_cell(harness, out)
    assert resumed.returncode == 0, resumed.stderr[-800:]
    result = load_finished(folder)
    assert result is not None and result["metrics"] == reference[0]
    assert (folder / "predictions" / "test.jsonl").read_text() == reference[1]
    assert (folder / "tracked.json").exists()
    # the finished cell keeps its selected weights, not the checkpoint to resume from
    assert (folder / "checkpoints" / "finetune.best.pt").exists()
    assert not (folder / "checkpoints" / "finetune.last.pt").exists()
    assert finished_runs(out) == [("FINISHED", "finished")]  # one run, complete
    assert not [p for p in folder.rglob("*.tmp-*") if p.name not in left]


@pytest.mark.parametrize("fault", [*POINTS, *(pytest.param(p, marks=HEAVY)
                                              for p in HEAVY_POINTS)])
def test_killed_at_a_named_point_resumes_to_the_uninterrupted_result(harness, reference,
                                                                     fault, tmp_path):
    out = tmp_path / "out"
    killed = run_cell(harness, out, fault)
    if fault in ("result.before", "atomic.replace:2", "checkpoint.replace:2",
                 "pretrain.step:2", "finetune.step:3", "evaluate:3"):
        assert load_finished(cell_dir(out)) is None  # killed before the result was whole
    _check_killed_then_resumed(harness, out, reference, killed)


@HEAVY
def test_seeded_random_kills_never_corrupt_a_cell(harness, reference, tmp_path):
    """20 seeded trials: SIGKILL at a random moment of the run (0 to 1.2x the reference
    duration), rerun, as often as it takes; each trial ends with the reference metrics."""
    started = time.perf_counter()
    run_cell(harness, tmp_path / "timing")
    duration = time.perf_counter() - started
    rng = random.Random(2026)
    survived = 0
    for trial in range(20):
        out = tmp_path / f"trial{trial}"
        delay = rng.uniform(0.1, 1.2) * duration
        proc = subprocess.Popen([sys.executable, "-m", "harness", *CELL, "--out", str(out)],
                                cwd=harness.root, env=harness.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            survived += 1
        done = run_cell(harness, out)
        assert done.returncode == 0, (trial, done.stderr[-800:])
        result = load_finished(cell_dir(out))
        assert result["metrics"] == reference[0], trial
        assert finished_runs(out) == [("FINISHED", "finished")], trial
    (tmp_path.parent / "fault-trials.json").write_text(json.dumps(
        {"trials": 20, "killed": survived}))
