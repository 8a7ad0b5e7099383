"""`python -m harness reproduce`: a finished cell re-run from its recording."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.conftest import SMALL_SYNTH

pytestmark = pytest.mark.slow

CELL = ["run", "--method", "scratch", "--bench", "synth-islr", "--quiet", "--threads", "1",
        "--set", *SMALL_SYNTH, "finetune.epochs=2", "finetune.batch_size=16",
        "model.encoder.spatial=[16,16]"]


@pytest.fixture(scope="module")
def recorded(harness):
    out = harness.root / "out-reproduce"
    done = harness(*CELL, "--out", str(out))
    assert done.code == 0, done.err
    (path,) = out.glob("cells/*/*/*/result.json")
    return path


def test_reproducing_a_run_id_gives_identical_metrics(harness, recorded):
    result = json.loads(recorded.read_text())
    done = harness("reproduce", result["mlflow"]["run_id"], "--tracking-uri",
                   result["mlflow"]["tracking_uri"], "--out", str(harness.root / "rep-a"),
                   "--threads", "1")
    assert done.code == 0, done.err
    assert "agree (tolerance 0)" in done.out and "data differs" not in done.out
    rows = [line.split() for line in done.out.splitlines() if line.startswith(("dev", "test"))]
    assert len(rows) == sum(len(v) for v in result["metrics"].values())
    assert all(r[2] == r[3] and float(r[4]) == 0 for r in rows)
    again = json.loads(next((harness.root / "rep-a").glob("cells/*/*/*/result.json"))
                       .read_text())
    assert again["cell_key"] == result["cell_key"] and again["metrics"] == result["metrics"]


def test_changed_data_and_numbers_are_reported(harness, recorded, tmp_path):
    copy = tmp_path / "cell"
    copy.mkdir()
    shutil.copy(recorded.parent / "config.json", copy)
    result = json.loads(recorded.read_text())
    result["benchmark"]["fingerprint"] = "0" * 16  # recorded on other data
    result["metrics"]["test"]["top1"] += 1.0
    (copy / "result.json").write_text(json.dumps(result))
    done = harness("reproduce", str(copy / "result.json"), "--out", str(tmp_path / "rep"),
                   "--threads", "1", "--tolerance", "0.5")
    assert done.code == 1, done.err
    assert f"warning: data differs: recorded fingerprint {'0' * 16}, now " in done.out
    assert "DIFFER (tolerance 0.5)" in done.out
    (top1,) = [line.split() for line in done.out.splitlines() if line.startswith("test")
               and line.split()[1] == "top1"]
    assert float(top1[4]) == pytest.approx(-1.0)


def test_nothing_to_reproduce_is_one_line(harness, tmp_path):
    missing = harness("reproduce", str(tmp_path / "none" / "result.json"))
    assert missing.code == 2 and missing.err.count("\n") == 1
    assert "does not exist" in missing.err
    bad = tmp_path / "result.json"
    bad.write_text("{}")
    (tmp_path / "config.json").write_text("{}")
    done = harness("reproduce", str(bad))
    assert done.code == 2 and "is not a finished result" in done.err
