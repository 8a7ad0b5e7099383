"""`python -m harness sweep`: a grid of cells from one spec, safe to repeat, via submitit."""

from __future__ import annotations

import json
import os
import pickle
import time
from pathlib import Path

import pytest
import yaml

from harness.cell.results import problems
from harness.cell.runner import RunOptions, resolve_config
from harness.core.config import config_hash
from harness.errors import ConfigError, UserError
from harness.io import faults
from harness.sweep.grid import CellJob, cell_key, expand, load_spec, status, submit
from tests.conftest import HEAVY, SMALL_SYNTH

SWEEPS = Path(__file__).resolve().parent.parent / "sweeps"
TINY = [*SMALL_SYNTH, "finetune.epochs=1", "finetune.batch_size=16", "data.train_fraction=0.25"]


def write_spec(path: Path, **fields) -> Path:
    """A YAML spec file with ``fields``."""
    path.write_text(yaml.safe_dump(fields, sort_keys=False))
    return path


def test_cells_are_the_product_of_seeds_benches_methods_variants_and_grid(tmp_path):
    spec = load_spec(write_spec(
        tmp_path / "grid.yaml", name="grid", methods=["scratch", "sigma"],
        benches=["synth-islr", "synth-cslr"], seeds=[0, 1], set=["finetune.epochs=1"],
        bench_set={"synth-islr": ["finetune.batch_size=16"]},
        variants=[{"name": "base"}, {"name": "no-lm", "methods": ["sigma"],
                                     "set": ["model.sigma.weights.sgt_lm=0.0"]}],
        grid={"finetune.lr": [0.001, "3e-4"]}))
    cells = expand(spec)
    assert len(cells) == 2 * 2 * (1 + 2) * 2  # seeds x benches x (variants per method) x lr
    assert spec.out == (Path.cwd() / "outputs" / "grid").resolve()
    (cell,) = [c for c in cells if c.method == "sigma" and c.bench == "synth-islr"
               and c.seed == 1 and c.label == "no-lm finetune.lr=3e-4"]
    assert cell.overrides == ("finetune.epochs=1", "finetune.batch_size=16",
                              "model.sigma.weights.sgt_lm=0.0", "finetune.lr=3e-4")
    cfg = resolve_config("sigma", "synth-islr", "smoke", list(cell.overrides))
    assert cfg["finetune"]["lr"] == 3e-4  # a bare value reads as on the command line
    assert cfg["model"]["sigma"]["weights"]["sgt_lm"] == 0.0
    assert not any("sgt_lm" in o for c in cells if c.method == "scratch" for o in c.overrides)
    assert not any("batch_size" in o for c in cells if c.bench == "synth-cslr"
                   for o in c.overrides)


def test_method_set_reaches_only_its_method_in_order(tmp_path):
    spec = load_spec(write_spec(
        tmp_path / "m.yaml", methods=["scratch", "sigma"], benches=["synth-islr"], seeds=[0],
        set=["finetune.epochs=1"], method_set={"sigma": ["pretrain.epochs=1"]},
        variants=[{"name": "v", "set": ["finetune.lr=0.01"]}]))
    by_method = {c.method: c.overrides for c in expand(spec)}
    assert by_method == {"scratch": ("finetune.epochs=1", "finetune.lr=0.01"),
                         "sigma": ("finetune.epochs=1", "pretrain.epochs=1", "finetune.lr=0.01")}
    bad = write_spec(tmp_path / "b.yaml", methods=["scratch"], benches=["synth-islr"],
                     seeds=[0], method_set={"sigma": ["pretrain.epochs=1"]})
    with pytest.raises(ConfigError, match="method_set names 'sigma', which is not in methods"):
        load_spec(bad)


def test_loader_workers_reach_every_cell_and_change_no_key(tmp_path):
    """``loader_workers`` says how batches are built, not what they are: the cells and
    their keys are those of the spec without it."""
    fields = {"name": "w", "methods": ["scratch"], "benches": ["synth-islr"], "seeds": [0, 1]}
    plain = load_spec(write_spec(tmp_path / "plain.yaml", **fields))
    spec = load_spec(write_spec(tmp_path / "w.yaml", **fields, loader_workers=3))
    assert spec.loader_workers == 3 and plain.loader_workers == 0
    assert expand(spec) == expand(plain)


def test_python_spec_equals_yaml_spec(tmp_path):
    fields = {"name": "same", "methods": ["scratch"], "benches": ["synth-islr"],
              "seeds": [0, 2], "set": ["finetune.epochs=1"], "grid": {"finetune.lr": [0.1]}}
    py = tmp_path / "same.py"
    py.write_text("".join(f"{k} = {v!r}\n" for k, v in fields.items()))
    assert expand(load_spec(py)) == expand(load_spec(write_spec(tmp_path / "same.yaml",
                                                                **fields)))


def test_shipped_specs_reproduce_the_experiment_scripts():
    sigma = expand(load_spec(SWEEPS / "sigma_synth_islr.yaml"))
    methods = expand(load_spec(SWEEPS / "methods_synth.yaml"))
    smoke = expand(load_spec(SWEEPS / "smoke.yaml"))
    assert (len(sigma), len(methods), len(smoke)) == (3 + 3 * 7, 5 * 3 * 3, 2)
    assert {c.out for c in sigma} == {c.out for c in methods}

    def hashes(cells):
        return {(c.method, c.seed, config_hash(resolve_config(c.method, c.bench, c.preset,
                                                              list(c.overrides))))
                for c in cells if c.bench == "synth-islr" and c.label in ("", "full")}

    assert hashes(sigma) <= hashes(methods)  # the shared cells (scratch, sigma) run once


@pytest.mark.parametrize(("fields", "message"), [
    ({"seed": [0]}, "unknown key 'seed'; did you mean seeds?"),
    ({"methods": ["scrach"]}, "did you mean scratch"),
    ({"set": ["finetune.epochs"]}, "malformed --set 'finetune.epochs'"),
    ({"set": ["finetune.epoch=1"]}, "did you mean finetune.epochs?"),
    ({"bench_set": {"synth-slt": ["finetune.epochs=1"]}}, "not in benches"),
    ({"loader_workers": -1}, "loader_workers must be an integer >= 0"),
    ({"parallel": 0}, "parallel must be a positive integer"),
])
def test_bad_specs_fail_in_one_line_naming_the_file(harness, fields, message):
    base = {"name": "bad", "methods": ["scratch"], "benches": ["synth-islr"], "seeds": [0]}
    spec = write_spec(harness.root / "bad.yaml", **{**base, **fields})
    done = harness("sweep", str(spec), "--dry-run")
    assert done.code == 2
    assert done.err.count("\n") == 1 and done.err.startswith("error: "), done.err
    assert str(spec) in done.err and message in done.err


def test_bad_spec_errors_in_process(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        load_spec(tmp_path / "missing.yaml")
    bad = write_spec(tmp_path / "v.yaml", methods=["scratch"], benches=["synth-islr"],
                     seeds=[0], variants=[{"name": "x", "methods": ["sigma"]}])
    with pytest.raises(ConfigError, match="methods must list methods of the sweep"):
        load_spec(bad)


@pytest.fixture(scope="module")
def tiny(harness):
    """A two-cell spec (scratch on a small synth-islr, seeds 0 and 1, one epoch)."""
    out = harness.root / "out-sweep"
    return write_spec(harness.root / "tiny.yaml", name="tiny", methods=["scratch"],
                      benches=["synth-islr"], seeds=[0, 1], set=TINY, out=str(out)), out


@pytest.fixture(scope="module")
def dry_run(harness, tiny):
    """The dry run of the tiny sweep, before anything ran."""
    spec, _ = tiny
    done = harness("sweep", str(spec), "--dry-run", "--executor", "local")
    assert done.code == 0, done.err
    return done


def test_dry_run_lists_cells_and_submits_nothing(dry_run, tiny):
    _, out = tiny
    rows = [line.split() for line in dry_run.out.splitlines() if line.startswith("scratch")]
    assert [r[:3] for r in rows] == [["scratch", "synth-islr", str(s)] for s in (0, 1)]
    assert all(len(r[4]) == 16 and " ".join(r[5:7]) == "not submitted" for r in rows)
    assert "executor local, parameters:" in dry_run.out and '"timeout_min": 1440' in dry_run.out
    assert "nothing submitted" in dry_run.out
    assert not (out / ".sweeps").exists() and not (out / "cells").exists()


@pytest.fixture(scope="module")
def local_sweep(harness, tiny, dry_run):
    """The tiny sweep through submitit's local executor, one cell at a time, waited for."""
    spec, out = tiny
    done = harness("sweep", str(spec), "--executor", "local", "--threads", "2",
                   "--parallel", "1")
    assert done.code == 0, done.err
    jobs = [json.loads(line)["job_id"] for line in (out / ".sweeps/tiny/submissions.jsonl").open()]
    ends = [out / ".sweeps/tiny/jobs" / f"{job}_0_result.pkl" for job in jobs]
    deadline = time.time() + 600
    while not all(p.exists() for p in ends) and time.time() < deadline:
        time.sleep(1)
    return done


@pytest.mark.slow
def test_local_sweep_runs_every_cell_under_the_key_it_planned(harness, local_sweep, dry_run,
                                                              tiny):
    spec, out = tiny
    assert "2 submitted to local" in local_sweep.out
    planned = {line.split()[4] for line in dry_run.out.splitlines()
               if line.startswith("scratch")}
    assert {cell_key(c, harness.data) for c in expand(load_spec(spec))} == planned
    results = [json.loads(p.read_text()) for p in out.glob("cells/*/*/*/result.json")]
    assert {r["cell_key"] for r in results} == planned
    assert all(problems(r) == [] for r in results)
    assert sorted(r["seed"] for r in results) == [0, 1]
    records = [json.loads(line) for line in (out / ".sweeps/tiny/submissions.jsonl").open()]
    assert {r["cell_key"] for r in records} == planned
    code = Path(records[0]["code"])  # the jobs ran the code snapshot taken at submission
    assert code.parent == out / ".sweeps" / "tiny"
    assert (code / "harness" / "sweep" / "grid.py").exists()
    log = (out / ".sweeps/tiny/jobs" / f"{records[0]['job_id']}_0_log.out").read_text()
    assert f"code in {code}" in log
    assert results[0]["code"]["git_sha"]  # the snapshot keeps the provenance
    # --parallel 1: both jobs started at once, but the second cell began only after the
    # first one had finished, in the one slot
    assert "at most 1 cells at once" in local_sweep.out
    assert all(r["parallel"] == 1 for r in records)
    spans = sorted((lines[0][:19], lines[-1][:19]) for lines in
                   (p.read_text().splitlines() for p in out.glob("cells/*/*/*/log.txt")))
    assert len(spans) == 2 and spans[0][1] <= spans[1][0], spans
    jobs = [(out / ".sweeps/tiny/jobs" / f"{r['job_id']}_0_log.out").read_text()
            for r in records]
    assert all("waiting for one of 1 slots" in j and "slot 0 of 1" in j for j in jobs)
    assert not list((out / ".sweeps/tiny/slots").glob("waiting-*"))


@pytest.mark.slow
def test_repeated_sweep_submits_nothing_and_status_shows_finished(harness, local_sweep, tiny):
    spec, out = tiny
    again = harness("sweep", str(spec), "--executor", "local")
    assert again.code == 0, again.err
    assert "2 finished (skipped)" in again.out and "0 submitted" in again.out
    assert len((out / ".sweeps/tiny/submissions.jsonl").read_text().splitlines()) == 2
    shown = harness("sweep", "status", str(spec))
    assert shown.code == 0, shown.err
    rows = [line.split() for line in shown.out.splitlines() if line.startswith("scratch")]
    assert len(rows) == 2 and all(r[5] == "finished" for r in rows)
    assert "2 cells: 2 finished" in shown.out


FAKE_SBATCH = """#!/bin/sh
dir=$(dirname "$0"); n=$(cat "$dir/next" 2>/dev/null || echo 4242); echo $((n+1)) > "$dir/next"
pwd > "$dir/cwd.$n"; cp "$1" "$dir/sbatch.$n"; echo "Submitted batch job $n"
"""
FAKE_SQUEUE = "#!/bin/sh\nprintf '4242_0 RUNNING\\n4242_1 PENDING\\n4243 PENDING\\n'\n"


def test_slurm_array_is_bounded_and_queued_cells_are_not_sent_twice(harness, tmp_path,
                                                                     monkeypatch):
    bin_dir = tmp_path / "bin"  # sbatch and squeue mocked at the process boundary
    bin_dir.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("squeue", FAKE_SQUEUE)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    spec = load_spec(write_spec(tmp_path / "s.yaml", name="s", methods=["scratch"],
                                benches=["synth-islr"], seeds=[0, 1, 2], set=TINY,
                                out=str(tmp_path / "out"), threads=2))
    params = {"slurm_array_parallelism": 1, "slurm_partition": "debug"}
    first = submit(spec, "slurm", parameters=params, max_cells=2, data_root=harness.data)
    assert [s.job_id for s in first.submitted] == ["4242_0", "4242_1"]
    script = (bin_dir / "sbatch.4242").read_text()
    for line in ("--array=0-1%1", "--partition=debug", "--cpus-per-task=2",
                 "--job-name=harness-s"):
        assert f"#SBATCH {line}\n" in script
    snapshot = Path((bin_dir / "cwd.4242").read_text().strip())
    assert snapshot.parent == spec.home and (snapshot / ".git").exists()
    second = submit(spec, "slurm", parameters=params, data_root=harness.data)
    assert [s.job_id for s in second.submitted] == ["4243"]  # queued ones are left alone
    assert [s.state for s in status(spec, harness.data)] == ["running", "pending", "pending"]
    assert submit(spec, "slurm", parameters=params, data_root=harness.data).submitted == []
    assert len(spec.records.read_text().splitlines()) == 3


def test_a_local_job_waiting_for_a_slot_is_pending_and_running_once_it_holds_one(harness,
                                                                                 tmp_path):
    import subprocess
    import sys

    spec = load_spec(write_spec(tmp_path / "p.yaml", name="p", methods=["scratch"],
                                benches=["synth-islr"], seeds=[0], set=TINY,
                                out=str(tmp_path / "out"), parallel=1))
    assert spec.parallel == 1
    (cell,) = expand(spec)
    # a live process that says it is submitit's, as a local job's controller does
    job = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "submitit"])
    try:
        spec.home.mkdir(parents=True)
        spec.records.write_text(json.dumps({
            "cell_key": cell_key(cell, harness.data), "job_id": str(job.pid),
            "executor": "local", "folder": str(spec.jobs_dir)}) + "\n")
        marker = spec.home / "slots" / f"waiting-{job.pid}"
        marker.parent.mkdir()
        marker.write_text("")
        (state,) = status(spec, harness.data)
        assert (state.state, state.job_id) == ("pending", str(job.pid))
        assert "waiting for a slot" in state.detail
        marker.unlink()  # it holds a slot now
        (state,) = status(spec, harness.data)
        assert state.state == "running"
    finally:
        job.kill()
        job.wait()


def test_debug_executor_runs_in_process_and_status_reports_the_failure(harness, tmp_path,
                                                                       monkeypatch):
    spec = load_spec(write_spec(tmp_path / "d.yaml", name="d", methods=["scratch"],
                                benches=["synth-islr"], seeds=[0], set=TINY,
                                out=str(tmp_path / "out")))
    # A cell that fails while it trains (a bad value now fails before anything is submitted).
    monkeypatch.setenv("HARNESS_FAULT", "finetune.step=enospc")
    monkeypatch.setattr(faults, "_reached", {})
    (ran,) = submit(spec, "debug", data_root=harness.data).submitted
    assert ran.state == "failed" and "No space left" in ran.detail
    (state,) = status(spec, harness.data)
    assert (state.state, state.detail, state.job_id) == ("failed", ran.detail, ran.job_id)


def test_requeue_after_preemption_carries_only_the_cell_arguments():
    opts = RunOptions(method="scratch", bench="synth-islr", seed=3, overrides=["a.b=1"])
    job = CellJob()
    job.model_state = object()  # whatever a job held in memory is not carried over
    again = pickle.loads(pickle.dumps(job.checkpoint(opts)))
    assert isinstance(again.function, CellJob)
    assert vars(again.function) == {"slots": None, "parallel": None}
    assert again.args == (opts,) and again.kwargs == {}
    limited = pickle.loads(pickle.dumps(CellJob("/x/slots", 2).checkpoint(opts)))
    assert vars(limited.function) == {"slots": "/x/slots", "parallel": 2}  # waits again


def test_one_of_n_slots_lets_the_next_process_in_only_when_one_is_free(tmp_path):
    """The local executor's limit: a process waits, with its marker, while every slot is
    held, and goes on once one is freed; a held slot is no file to clean up."""
    import subprocess
    import sys

    from harness.io.locks import one_of

    marker, done = tmp_path / "waiting-7", tmp_path / "done"
    code = ("import pathlib, sys\nfrom harness.io.locks import one_of\n"
            "p = pathlib.Path(sys.argv[1])\n"
            "with one_of(p / 'slots', 2, marker=p / 'waiting-7', poll_s=0.05) as k:\n"
            "    (p / 'done').write_text(str(k))\n")
    with one_of(tmp_path / "slots", 2) as first, one_of(tmp_path / "slots", 2) as second:
        assert {first, second} == {0, 1}
        child = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)])
        deadline = time.time() + 60
        while not marker.exists() and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # ten polls: all slots are held, so it still waits
        assert marker.exists() and not done.exists()
    assert child.wait(timeout=60) == 0
    assert done.read_text() in ("0", "1") and not marker.exists()
    with pytest.raises(ValueError, match="n must be >= 1"), one_of(tmp_path / "slots", 0):
        pass


def without_slurm() -> str:
    """$PATH less the folders that hold Slurm's commands (as on a laptop)."""
    return os.pathsep.join(d for d in os.environ["PATH"].split(os.pathsep)
                           if not any((Path(d) / c).exists() for c in ("srun", "sbatch")))


def test_dry_run_prints_the_script_a_submission_sends_without_slurm_here(harness, tmp_path,
                                                                          monkeypatch, capsys):
    """--dry-run needs no Slurm: on a machine without srun and sbatch it prints the cells,
    their keys and the sbatch script, byte for byte the one a submission then hands to
    sbatch; only the submission needs Slurm, and without it says so in one line."""
    import shutil

    from harness.cli.main import main

    spec = write_spec(tmp_path / "s.yaml", name="s", methods=["scratch"],
                      benches=["synth-islr"], seeds=[0, 1], set=TINY, out=str(tmp_path / "out"),
                      threads=2)
    argv = ["sweep", str(spec), "--profile", "example_gpu", "--data-root", str(harness.data)]
    path = os.environ["PATH"]
    monkeypatch.setenv("PATH", without_slurm())
    assert shutil.which("srun") is None and shutil.which("sbatch") is None
    assert main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    keys = [cell_key(c, harness.data) for c in expand(load_spec(spec))]
    rows = [line.split() for line in out.splitlines() if line.startswith("scratch")]
    assert [r[4] for r in rows] == keys and all(r[5:7] == ["not", "submitted"] for r in rows)
    script = out.split("sbatch script:\n")[1].split("dry run: would submit 2 cells")[0]
    assert script.startswith("#!/bin/bash\n") and "#SBATCH --array=0-1%2\n" in script
    assert not (tmp_path / "out").exists()  # a dry run writes nothing
    assert main([*argv, "--dry-run", "--parallel", "1"]) == 0  # Slurm's array limit
    assert "#SBATCH --array=0-1%1\n" in capsys.readouterr().out
    assert main([*argv, "--dry-run", "--executor", "local", "--parallel", "1"]) == 0
    assert "at most 1 cells at once (the others wait for a slot)" in capsys.readouterr().out
    assert main([*argv, "--dry-run", "--parallel", "0"]) == 2
    assert "--parallel 0: expected a number of cells >= 1" in capsys.readouterr().err

    assert main(argv) == 2  # a submission needs Slurm: one line, nothing written
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "srun and sbatch are not on PATH here" in err, err
    assert not (tmp_path / "out").exists()

    bin_dir = tmp_path / "bin"  # srun and sbatch at the process boundary: sbatch keeps the script
    bin_dir.mkdir()
    for name, text in (("sbatch", FAKE_SBATCH), ("srun", "#!/bin/sh\n")):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{path}")
    assert main(argv) == 0
    assert (bin_dir / "sbatch.4242").read_text() == script


GOLDEN = Path(__file__).resolve().parent / "golden"


@pytest.mark.parametrize("profile", ["local", "example_gpu"])
def test_sbatch_script_of_each_profile_is_pinned(profile, tmp_path, monkeypatch):
    """The sbatch script a profile gives (what --dry-run shows and map_array submits), here
    rendered where Slurm is not installed.
    After an intended change: UPDATE_GOLDEN=1 pytest tests/test_sweep.py -k sbatch."""
    import sys

    from harness.sweep.grid import executor_parameters, sbatch_script

    monkeypatch.setenv("PATH", without_slurm())
    spec = load_spec(write_spec(tmp_path / "g.yaml", name="g", methods=["scratch"],
                                benches=["synth-islr"], seeds=[0, 1, 2],
                                out=str(tmp_path / "out"), threads=2))
    params = executor_parameters(spec, "slurm", profile)
    text = sbatch_script(spec, params, 3)
    text = text.replace(str(spec.jobs_dir), "{jobs}").replace(sys.executable, "{python}")
    golden = GOLDEN / f"sbatch_{profile}.txt"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(text)
    assert text == golden.read_text()
    one = sbatch_script(spec, params, 1)  # a single cell is a plain job, not an array
    assert "--array" not in one and "#SBATCH --job-name=harness-g\n" in one


@pytest.mark.slow
@HEAVY  # 16 processes starting torch at once: minutes on 2 cores (32 in test_tracking.py)
def test_sixteen_cells_at_once_against_one_sqlite_store_lose_nothing(harness, tmp_path):
    """16 cells started together (local executor: one process each) write one fresh sqlite
    store that the sweep created before fan-out: 16 runs, each finished, none twice."""
    import sqlite3

    out = tmp_path / "out"
    spec = write_spec(tmp_path / "many.yaml", name="many", methods=["scratch"],
                      benches=["synth-islr"], seeds=list(range(16)), threads=1,
                      set=[*SMALL_SYNTH, "finetune.epochs=1", "finetune.batch_size=16",
                           "data.train_fraction=0.25", "model.encoder.spatial=[8,8]"],
                      out=str(out))
    done = harness("sweep", str(spec), "--executor", "local")
    assert done.code == 0, done.err
    assert "16 submitted to local" in done.out
    deadline = time.time() + 900
    while time.time() < deadline:
        shown = harness("sweep", "status", str(spec))
        if "running" not in shown.out and "pending" not in shown.out:
            break
        time.sleep(3)
    assert "16 cells: 16 finished" in shown.out, shown.out
    results = [json.loads(p.read_text()) for p in out.glob("cells/*/*/*/result.json")]
    assert len(results) == 16 and all(problems(r) == [] for r in results)
    with sqlite3.connect(out / "mlflow.db") as con:
        runs = con.execute("SELECT r.run_uuid, r.status, t.value FROM runs r JOIN tags t ON "
                           "t.run_uuid = r.run_uuid AND t.key = 'harness.cell_key'").fetchall()
        metrics = con.execute("SELECT run_uuid, value FROM latest_metrics "
                              "WHERE key = 'test_top1'").fetchall()
    assert sorted(k for _, _, k in runs) == sorted(r["cell_key"] for r in results)
    assert {s for _, s, _ in runs} == {"FINISHED"}
    recorded = {r["mlflow"]["run_id"]: r["metrics"]["test"]["top1"] for r in results}
    assert dict(metrics) == pytest.approx(recorded)
