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

# A small world and a narrower encoder (half the smoke preset's channels) so that whole
# cells train in well under a minute on one core. At this size the scratch cells still
# learn (measured: ISLR test top-1 65.0 after 5 epochs, as with the smoke channels; CSLR
# WER 67.1 after 6 epochs; SLT BLEU-4 15.4 after 4 epochs).
SMALL_WORLD = [
    "data.synth.vocab_size=20", "data.synth.n_train_signers=4", "data.synth.n_dev_signers=2",
    "data.synth.n_test_signers=2", "data.synth.cslr_sentences=[160,40,40]",
]
SMALL_SYNTH = [*SMALL_WORLD, "model.encoder.spatial=[16,32]", "model.encoder.temporal=[32]"]


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



def in_process(argv: list[str], capsys) -> Done:
    """``python -m harness ARGV`` in this process (argparse's exits caught), with the output
    ``capsys`` captured: for checks that need no fresh interpreter."""
    from harness.cli.main import main

    capsys.readouterr()
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    return Done(code, out, err)

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


# How the suite is spread over pytest-xdist workers (``make test``: ``-n 2 --dist loadfile
# --no-loadscope-reorder``). A work unit is one test file, so that its module fixtures run
# once, except that the files on the local Slurm cluster are one unit: one cluster runs at
# a time (two on one host starve each other's jobs). Units start in the order below, the
# longest first, so that no long file is left for the end. (pytest-xdist's own
# ``--dist loadgroup`` does not group under pytest 9.2: it renames ``item._nodeid``, which
# pytest 9.2 no longer reads.)
SLURM_FILES = ("tests/test_sweep_slurm.py", "tests/test_slurm_cluster.py")
LONGEST_FIRST = (*SLURM_FILES, "tests/test_run.py", "tests/test_tracking.py",
                 "tests/test_sigma_run.py", "tests/test_methods_matrix.py",
                 "tests/test_faults.py", "tests/test_distributed.py")


def _file(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first (a stable sort: the others keep their order)."""
    rank = {path: i for i, path in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(_file(item.nodeid), len(rank)))


def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """Whole files per worker, the Slurm files together (see SLURM_FILES)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = _file(nodeid)
            return "slurm" if path in SLURM_FILES else path

    return ByFile(config, log)
