"""Shared fixtures: a small SynthSign world and a CLI runner in fresh processes."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

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

    def __call__(self, *args: str, timeout: float = 900, fault: str | None = None) -> Done:
        """Run the CLI; ``fault`` sets HARNESS_FAULT (see harness.faults)."""
        env = {**self.env, "HARNESS_FAULT": fault} if fault else self.env
        proc = subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True,
                              text=True, cwd=self.root, env=env, timeout=timeout)
        return Done(proc.returncode, proc.stdout, proc.stderr)

    def popen(self, *args: str) -> subprocess.Popen:
        """Start the CLI without waiting."""
        return subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=self.root,
                                env=self.env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)


@pytest.fixture(scope="session")
def harness(tmp_path_factory: pytest.TempPathFactory) -> Harness:
    """A CLI runner whose data root (and generated SynthSign stores) is shared by the session."""
    return Harness(tmp_path_factory.mktemp("harness"))
