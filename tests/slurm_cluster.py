"""A real single-node Slurm cluster on localhost for the session (slurm/start_local.sh).

Tests that need it import the fixture:
``from tests.slurm_cluster import slurm_cluster_fixture  # noqa: F401`` and take an argument
named ``slurm_cluster``. Starting needs root: run as another user, the tests are skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SLURM_DIR = Path(__file__).resolve().parent.parent / "slurm"


@dataclass(frozen=True)
class SlurmCluster:
    """A running cluster: its folder, its slurm.conf and an environment that points at it."""

    dir: Path
    conf: Path
    env: dict[str, str]


def _script(name: str, *args: str, timeout: float) -> None:
    """Run slurm/<name>; fail the tests with its output if it fails."""
    proc = subprocess.run([str(SLURM_DIR / name), *args], capture_output=True, text=True,
                          timeout=timeout)
    if proc.returncode != 0:
        pytest.fail(f"slurm/{name} {' '.join(args)} failed ({proc.returncode}):\n"
                    f"{proc.stdout}{proc.stderr}", pytrace=False)


@pytest.fixture(scope="session", name="slurm_cluster")
def slurm_cluster_fixture(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SlurmCluster]:
    """Start a cluster in a temporary folder (installing Slurm if missing), stop it at the end."""
    if os.geteuid() != 0:
        pytest.skip("a local Slurm cluster needs root (slurmd starts jobs as their users)")
    sbin = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])
    if shutil.which("slurmctld", path=sbin) is None:
        _script("install.sh", timeout=900)
    folder = tmp_path_factory.mktemp("slurm")
    try:
        _script("start_local.sh", str(folder), timeout=120)
        conf = folder / "slurm.conf"
        yield SlurmCluster(folder, conf, {**os.environ, "SLURM_CONF": str(conf)})
    finally:
        # Also after a failed start: stop whatever of it runs.
        stop = subprocess.run([str(SLURM_DIR / "stop_local.sh"), str(folder)],
                              capture_output=True, text=True, timeout=120)
        assert stop.returncode == 0, f"slurm/stop_local.sh {folder} failed:\n{stop.stderr}"
