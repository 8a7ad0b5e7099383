"""What a cell shows and leaves: progress bars on a terminal only (never with --quiet or
--json, never on stdout), its MLflow record (a training-loss curve, final metrics at the last
step, one set of tags, log and config artifacts, the dataset input, no stray experiment), and
its disk (the best checkpoint kept, the last one only with --keep-last; readable names)."""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from harness.io import progress
from tests.conftest import SMALL_SYNTH

EPOCHS, LOG_EVERY = 2, 2
CELL = ["run", "--method", "scratch", "--bench", "synth-islr", "--threads", "2", "--set",
        *SMALL_SYNTH, f"finetune.epochs={EPOCHS}", "finetune.batch_size=16",
        f"+finetune.log_every={LOG_EVERY}"]

pytestmark = pytest.mark.slow


def _pty() -> tuple[int, int]:
    """A pseudo-terminal (master, slave) of 120 columns (a bar needs a width)."""
    import pty

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    return master, slave


def run_on_terminal(argv: list[str], cwd: Path, env: dict[str, str],
                    timeout: float = 900) -> tuple[int, str, str]:
    """Run ``argv`` with stderr on a pseudo-terminal and stdout on a pipe; returns the exit
    code, stdout and what the terminal received."""
    master, slave = _pty()
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    seen = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 1.0)[0]:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not chunk:
                    break
                seen += chunk
            elif proc.poll() is not None:
                break
        stdout = proc.stdout.read().decode()
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, stdout, seen.decode(errors="replace")


def test_bars_are_drawn_on_a_terminal_only_and_never_for_quiet_or_json(monkeypatch, tmp_path):
    from harness.cli import main as cli

    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert not progress.shown()  # a pipe or a file: nothing drawn
    master, slave = _pty()
    terminal = os.fdopen(slave, "w")
    try:
        monkeypatch.setattr(sys, "stderr", terminal)
        assert progress.shown() and not progress.shown(quiet=True)
        for _ in progress.bar("counting", range(3), total=3, unit="clip"):
            pass
        terminal.flush()
        assert b"counting" in os.read(master, 65536)
        with progress.bar("silent", total=3, quiet=True) as bar:
            assert bar.disable
        # --json (and --quiet) silence every bar of the command; its JSON is on stdout
        stdout = io.StringIO()
        monkeypatch.setattr(sys, "stdout", stdout)
        assert cli.main(["list", "--json", "--data-root", str(tmp_path)]) == 0
        assert not progress.shown()
        json.loads(stdout.getvalue())
    finally:
        progress.set_quiet(False)
        terminal.close()
        os.close(master)


@pytest.fixture(scope="module")
def cell(harness, tmp_path_factory):
    """One ISLR cell run with stderr on a terminal, from a folder of its own:
    (exit code, stdout, terminal output, out, working folder, result)."""
    cwd = tmp_path_factory.mktemp("tty-cell")
    out = cwd / "out"
    code, stdout, seen = run_on_terminal(harness.argv((*CELL, "--out", str(out))), cwd,
                                         harness.env)
    assert code == 0, seen[-2000:]
    (path,) = list(out.glob("cells/*/*/*/result.json"))
    return code, stdout, seen, out, cwd, json.loads(path.read_text())


def test_training_and_evaluation_show_bars_with_an_eta_on_stderr_only(cell):
    _, stdout, seen, *_ = cell
    assert f"finetune ({EPOCHS} epochs)" in seen  # the stage: its ETA
    assert f"epoch {EPOCHS}/{EPOCHS}" in seen and "loss " in seen  # the epoch's batches
    assert re.search(r"\d+/\d+ \[\d\d:\d\d<\d\d:\d\d", seen)  # done/total [elapsed<ETA
    assert "batch/s" in seen or "s/batch" in seen
    assert "dev predictions" in seen and "test predictions" in seen
    assert "result:" in stdout and "\r" not in stdout and "%|" not in stdout


def test_quiet_draws_nothing_on_a_terminal_and_keep_last_keeps_the_checkpoint(harness, cell):
    cwd = cell[4]
    out = cwd / "out-keep"
    code, stdout, seen = run_on_terminal(harness.argv((  # one epoch: another, shorter cell
        *CELL, "finetune.epochs=1", "--quiet", "--keep-last", "--out", str(out))), cwd,
        harness.env)
    assert code == 0, seen[-2000:]
    assert "%|" not in seen and "epoch 1/" not in seen and "predictions:" in stdout
    (folder,) = list(out.glob("cells/*/*/*/"))
    assert {p.name for p in (folder / "checkpoints").iterdir()} == {
        "finetune.best.pt", "finetune.last.pt"}


def test_mlflow_holds_the_curve_final_metrics_tags_artifacts_and_dataset(cell):
    from mlflow.tracking import MlflowClient

    *_, cwd, result = cell
    client = MlflowClient(result["mlflow"]["tracking_uri"])
    run_id = result["mlflow"]["run_id"]
    run = client.get_run(run_id)
    steps = result["training"]["finetune"]["optimizer_steps_per_epoch"] * EPOCHS
    curve = client.get_metric_history(run_id, "finetune.loss")
    assert len(curve) > EPOCHS and [m.step for m in curve] == list(
        range(LOG_EVERY, steps + 1, LOG_EVERY))
    for name in ("finetune.lr", "finetune.samples_per_s"):
        assert len(client.get_metric_history(run_id, name)) == len(curve)
    for split, values in result["metrics"].items():  # after the curve, at its last step
        for name, value in values.items():
            (point,) = client.get_metric_history(run_id, f"{split}_{name}")
            assert point.step == steps and point.value == pytest.approx(value)
    tags = run.data.tags
    assert tags["mlflow.source.git.commit"] == result["code"]["git_sha"]
    assert tags["mlflow.source.name"] == "harness run"
    for key in ("method", "bench", "seed", "cell_key", "config_hash"):
        assert tags[f"harness.{key}"] == str(result[key])
    assert tags["harness.status"] == "finished"
    assert all(k.startswith(("harness.", "mlflow.")) for k in tags)  # one set, no duplicates
    names = {a.path for a in client.list_artifacts(run_id)}
    assert {"log.txt", "config.json", "result.json", "predictions"} <= names
    (entry,) = run.inputs.dataset_inputs
    assert entry.dataset.name == "synth-islr"
    assert entry.dataset.digest == result["benchmark"]["store_fingerprint"]
    assert json.loads(entry.dataset.profile)["version"] == result["benchmark"]["version"]
    assert {t.key: t.value for t in entry.tags}["mlflow.data.context"] == "finetune"
    # the store holds the harness's experiment alone, and nothing went to the cwd
    assert [e.name for e in client.search_experiments(view_type=3)] == ["harness"]
    assert not (cwd / "mlruns").exists()


def test_a_finished_cell_keeps_its_best_checkpoint_is_skipped_and_listed(harness, cell):
    *_, out, _, result = cell
    (folder,) = list(out.glob("cells/*/*/*/"))
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["finetune.best.pt"]
    again = harness(*CELL, "--quiet", "--out", str(out))
    assert again.code == 0 and "already finished" in again.out, again.err[-800:]
    name = f"scratch/synth-islr/s0/{result['cell_key'][:8]}"
    listed = harness("list-cells", "--results", str(out))
    assert listed.code == 0 and re.search(rf"{name}\s+finished\s", listed.out), listed.out
    assert str(folder) in listed.out
    (entry,) = json.loads(harness("list-cells", "--results", str(out), "--json").out)
    assert entry["name"] == name and entry["checkpoints"] == ["finetune.best.pt"]
