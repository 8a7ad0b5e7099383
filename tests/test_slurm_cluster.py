"""Jobs through a real Slurm cluster on localhost, and the cluster profiles that submit them."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
import submitit

from harness.errors import ConfigError, UserError
from harness.sweep.slurm_profiles import executor_parameters, load_profile, profile_names
from tests.slurm_cluster import SlurmCluster, slurm_cluster_fixture  # noqa: F401

FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY",
            "PREEMPTED", "BOOT_FAIL", "DEADLINE"}


def wait_for_states(job_id: str, env: dict[str, str], n_tasks: int, limit_s: float = 60) -> list:
    """The final states of the tasks of a job array, once all of them have finished."""
    deadline = time.monotonic() + limit_s
    while True:
        out = subprocess.run(["squeue", "-h", "-r", "-t", "all", "-j", job_id, "-o", "%K %T"],
                             env=env, capture_output=True, text=True, check=True).stdout
        states = dict(line.split() for line in out.splitlines())
        if len(states) == n_tasks and set(states.values()) <= FINISHED:
            return [states[key] for key in sorted(states, key=int)]
        assert time.monotonic() < deadline, f"job {job_id} still unfinished: {states}"
        time.sleep(0.5)


@pytest.mark.slurm
def test_sbatch_job_array_runs_every_task(slurm_cluster: SlurmCluster, tmp_path: Path) -> None:
    submit = subprocess.run(
        ["sbatch", "--parsable", "--array=0-2", f"--output={tmp_path}/task_%a.txt", "--wrap",
         'echo "task $SLURM_ARRAY_TASK_ID of $SLURM_ARRAY_TASK_COUNT"'],
        env=slurm_cluster.env, capture_output=True, text=True, check=True)
    job_id = submit.stdout.strip()
    assert wait_for_states(job_id, slurm_cluster.env, 3) == ["COMPLETED"] * 3
    outputs = {p.name: p.read_text() for p in tmp_path.glob("task_*.txt")}
    assert outputs == {f"task_{i}.txt": f"task {i} of 3\n" for i in range(3)}


@pytest.mark.slurm
def test_submitit_map_array_with_the_local_profile(
        slurm_cluster: SlurmCluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLURM_CONF", str(slurm_cluster.conf))
    offset = 10

    def shifted_square(x: int) -> tuple[int, str]:
        # A closure: submitit ships it to the job by value, not by import.
        return x * x + offset, os.environ["SLURM_ARRAY_TASK_ID"]

    executor = submitit.AutoExecutor(folder=tmp_path, cluster="slurm")
    executor.update_parameters(**executor_parameters(load_profile("local")))
    jobs = executor.map_array(shifted_square, [0, 1, 2, 3])
    deadline = time.monotonic() + 120
    while not all(job.done() for job in jobs):
        assert time.monotonic() < deadline, [job.stderr() for job in jobs]
        time.sleep(0.5)
    assert [job.result() for job in jobs] == [(10, "0"), (11, "1"), (14, "2"), (19, "3")]
    # At most two tasks at once, on the local cluster's partition.
    script = next(tmp_path.glob("*_submission.sh")).read_text()
    assert "#SBATCH --array=0-3%2\n" in script
    assert "#SBATCH --partition=debug\n" in script


@pytest.mark.parametrize("name", profile_names())
def test_every_shipped_profile_is_valid_for_submitit(name: str, tmp_path: Path) -> None:
    executor = submitit.AutoExecutor(folder=tmp_path, cluster="debug")
    executor.update_parameters(**executor_parameters(load_profile(name)))  # NameError if not


def test_profile_with_unknown_key_is_a_one_line_config_error(tmp_path: Path) -> None:
    path = tmp_path / "mine.yaml"
    path.write_text("partition: debug\ngpus: 2\n")
    with pytest.raises(ConfigError) as err:
        load_profile(path)
    assert "\n" not in str(err.value)
    assert str(path) in str(err.value) and "unknown key gpus" in str(err.value)
    assert "gpus_per_node" in str(err.value)  # the known keys are listed


def test_unknown_profile_name_is_a_one_line_user_error() -> None:
    with pytest.raises(UserError) as err:
        load_profile("lcoal")
    assert err.type is UserError
    assert "\n" not in str(err.value)
    assert "did you mean local?" in str(err.value) and "example_gpu" in str(err.value)
