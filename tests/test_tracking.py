"""The MLflow tracker: a fresh sqlite store opened by many cells at once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

OPEN = """
import sys
from harness.tracking import Tracker
t = Tracker(sys.argv[1])
print(t.experiment_id)
"""


def test_cells_opening_a_new_sqlite_store_at_once_all_succeed(tmp_path: Path):
    # The first open creates and migrates the schema; unguarded, a second process doing the
    # same at that moment fails ("duplicate column name: step"), as seen in a real sweep.
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    procs = [subprocess.Popen([sys.executable, "-c", OPEN, uri], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(4)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0] * 4, [err[-500:] for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1  # one experiment, shared
