"""Shared fixtures: a small SynthSign world and a CLI runner in fresh processes."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    # one intra-op thread per test worker (set before torch is imported), see Harness
    os.environ.setdefault("OMP_NUM_THREADS", "1")

#: The heavy part of the suite (``HARNESS_HEAVY=1``: ``make test-heavy``, ``.ci/run --heavy``).
HEAVY = pytest.mark.skipif(not os.environ.get("HARNESS_HEAVY"), reason="heavy: HARNESS_HEAVY=1")

# A small world so that whole cells train in well under a minute on 2 CPU cores.
SMALL_SYNTH = [
    "data.synth.vocab_size=20", "data.synth.n_train_signers=4", "data.synth.n_dev_signers=2",
    "data.synth.n_test_signers=2", "data.synth.cslr_sentences=[160,40,40]",
]


@dataclass
class Done:
    """A finished CLI process."""

    code: int
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        """Lines of stderr that report an error."""
        return [line for line in self.err.splitlines() if line.startswith(("error:", "python"))]


class Harness:
    """Runs ``python -m harness`` in a fresh process with a private data root and output."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.data = root / "data"
        self.env = {**os.environ, "HARNESS_DATA": str(self.data), "PYTHONHASHSEED": "0",
                    "HARNESS_CACHE": str(root / "cache")}
        self.env.pop("MLFLOW_TRACKING_URI", None)
        # Under pytest-xdist the test workers share the cores: each cell gets one thread, so
        # that two workers do not oversubscribe two cores (results do not depend on it).
        self.shared = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1
        if self.shared:
            self.env["OMP_NUM_THREADS"] = "1"

    def argv(self, args: tuple[str, ...]) -> list[str]:
        """The command line of ``python -m harness *args`` (``--threads`` 1 when shared)."""
        out = list(args)
        if self.shared:
            out = ["1" if i and out[i - 1] == "--threads" and a.isdigit() and int(a) > 1 else a
                   for i, a in enumerate(out)]
        return [sys.executable, "-m", "harness", *out]

    def __call__(self, *args: str, timeout: float = 900, fault: str | None = None) -> Done:
        """Run the CLI; ``fault`` sets HARNESS_FAULT (see harness.faults)."""
        env = {**self.env, "HARNESS_FAULT": fault} if fault else self.env
        proc = subprocess.run(self.argv(args), capture_output=True,
                              text=True, cwd=self.root, env=env, timeout=timeout)
        return Done(proc.returncode, proc.stdout, proc.stderr)

    def popen(self, *args: str) -> subprocess.Popen:
        """Start the CLI without waiting."""
        return subprocess.Popen(self.argv(args), cwd=self.root,
                                env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    """A CLI runner whose data root (and generated SynthSign stores) is shared by the session."""
    return Harness(tmp_path_factory.mktemp("harness"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Keep each test file on one pytest-xdist worker (``--dist loadgroup``), so that its
    module fixtures run once; the files that use the local Slurm cluster share a worker, so
    that one cluster runs at a time (two on one host starve each other's jobs)."""
    for item in items:
        group = "slurm" if item.get_closest_marker("slurm") else item.module.__name__
        item.add_marker(pytest.mark.xdist_group(group))
