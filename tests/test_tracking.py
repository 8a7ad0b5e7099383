"""The MLflow tracker under concurrency: a fresh sqlite store opened by many cells at once;
cells finishing at once against a real `mlflow server` (8 by default; 32 against it and
against one sqlite store in the heavy part)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import HEAVY

OPEN = """
import sys
from harness.cell.tracking import Tracker
t = Tracker(sys.argv[1])
print(t.experiment_id)
"""


def test_a_kill_while_creating_a_store_leaves_none_and_a_broken_one_is_one_line(tmp_path):
    # Seen in a fault trial: a cell killed while MLflow migrated a new sqlite store left a
    # half-made one that every later cell crashed on. It is now made aside and renamed.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    env = {**os.environ, "HARNESS_FAULT": "store.create"}
    killed = subprocess.run([sys.executable, "-c", OPEN, uri], env=env, capture_output=True)
    assert killed.returncode == -9 and not (tmp_path / "mlflow.db").exists()
    ok = subprocess.run([sys.executable, "-c", OPEN, uri], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr[-400:]
    (tmp_path / "mlflow.db").write_bytes(b"SQLite format 3\x00" + b"\x07" * 4000)
    from harness.cell.tracking import Tracker
    from harness.errors import UserError

    with pytest.raises(UserError, match=r"cannot be opened .*move the file away"):
        Tracker(uri)


def test_cells_opening_a_new_sqlite_store_at_once_all_succeed(tmp_path: Path):
    # The first open creates and migrates the schema; unguarded, a second process doing the
    # same at that moment fails ("duplicate column name: step"), as seen in a real sweep.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, uri], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-500:] for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1  # one experiment, shared



def test_a_store_copied_from_the_schema_template_equals_a_migrated_one(tmp_path, monkeypatch):
    import sqlite3

    from harness.cell.tracking import Tracker, schema_template

    monkeypatch.setenv("HARNESS_CACHE", str(tmp_path / "cache"))
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    Tracker(f"sqlite:///{tmp_path / 'a/mlflow.db'}")  # migrated by MLflow, kept as template
    assert schema_template().is_file()
    monkeypatch.chdir(tmp_path / "b")
    Tracker(f"sqlite:///{tmp_path / 'b/mlflow.db'}")  # copied from the template

    def describe(db: Path) -> tuple:
        with sqlite3.connect(db) as con:
            schema = con.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name"
                                 ).fetchall()
            revision = con.execute("SELECT version_num FROM alembic_version").fetchall()
            experiments = con.execute("SELECT experiment_id, name, artifact_location FROM "
                                      "experiments WHERE experiment_id = 0").fetchall()
        con.close()
        return schema, revision, experiments

    a, b = describe(tmp_path / "a/mlflow.db"), describe(tmp_path / "b/mlflow.db")
    assert a[:2] == b[:2]
    # MLflow's "Default" is the harness's experiment (no stray one): artifacts where MLflow
    # would put them when no artifact root is given
    assert a[2] == [(0, "harness", str(tmp_path / "a/mlruns/0"))]
    assert b[2] == [(0, "harness", str(tmp_path / "b/mlruns/0"))]

FINISH = """
import sys, time
from pathlib import Path
from harness.cell.tracking import Tracker
uri, key, folder, n = sys.argv[1], sys.argv[2], Path(sys.argv[3]), int(sys.argv[4])
tracker = Tracker(uri, artifact_root=folder / "mlartifacts" if uri.startswith("sqlite") else None)
(folder / f"ready-{key}").touch()
while len(list(folder.glob("ready-*"))) < n:  # every process reaches the store at once
    time.sleep(0.01)
run_id = tracker.start(key, f"scratch/synth-islr/{key}", {"harness.config_hash": "c" + key})
tracker.log_params({"cell": key, "finetune.lr": 0.001, "seed": int(key[1:])})
tracker.log_metrics({"test_top1": float(key[1:]), "test_top5": 99.0})
tracker.set_tags({"harness.status": "finished"})
result = folder / key / "result.json"
result.parent.mkdir(parents=True)
result.write_text('{"cell": "%s"}' % key)
tracker.log_artifact(result)
tracker.finish("FINISHED")
"""


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    """A real `mlflow server` on loopback with a sqlite store and served artifacts."""
    root = tmp_path_factory.mktemp("server")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri",
                             f"sqlite:///{root / 'mlflow.db'}", "--artifacts-destination",
                             str(root / "artifacts"), "--host", "127.0.0.1", "--port",
                             str(port), "--workers", "1"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    uri = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while True:
        try:
            with urllib.request.urlopen(f"{uri}/health", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if time.time() > deadline or proc.poll() is not None:
            proc.kill()
            pytest.fail("mlflow server did not start")
        time.sleep(0.5)
    yield uri
    proc.terminate()
    proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize(("store", "n"), [
    # The default run: 8 at once against the server. 32 against each store, and 16 cells
    # through a sweep (test_sweep.py), in the heavy part: 32 processes starting MLflow at
    # once take minutes of both cores.
    ("server", 8),
    pytest.param("server", 32, marks=HEAVY),
    pytest.param("sqlite", 32, marks=HEAVY)])
def test_cells_finishing_at_once_lose_and_duplicate_nothing(store, n, tmp_path, request):
    from mlflow.tracking import MlflowClient

    uri = (f"sqlite:///{tmp_path / 'mlflow.db'}" if store == "sqlite"
           else request.getfixturevalue("mlflow_server"))
    keys = [f"k{i:02d}" for i in range(n)]
    procs = [subprocess.Popen([sys.executable, "-c", FINISH, uri, key, str(tmp_path), str(n)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for key in keys]
    errors = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * n, [e[-400:] for e in errors if e][:2]
    client = MlflowClient(uri)
    exp = client.get_experiment_by_name("harness")
    runs = client.search_runs([exp.experiment_id], max_results=1000)
    by_key = {}
    for run in runs:
        by_key.setdefault(run.data.tags["harness.cell_key"], []).append(run)
    assert sorted(by_key) == keys and all(len(v) == 1 for v in by_key.values())  # 0 lost, 0 dup
    for key, (run,) in by_key.items():
        assert run.info.status == "FINISHED" and run.data.tags["harness.status"] == "finished"
        assert run.data.metrics["test_top1"] == float(key[1:]) and run.data.params["cell"] == key
        assert [a.path for a in client.list_artifacts(run.info.run_id)] == ["result.json"]
