"""What `run` and `list` say about a cell whose numbers cannot stand beside a paper's
(issue 20): a preset not meant for the benchmark's data, and a prepared store with fewer
clips than the benchmark expects. Neither stops the cell; both are one warning line before
training, in the cell's log, and facts in result.json (``checks``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cell.runner import resolve_bench_config, resolve_config
from harness.core.registry import BENCHMARKS, METHODS
from tests.conftest import SMALL_SYNTH
from tests.test_prepare import CELL, unisign_release

#: what the small Uni-Sign release of tests/test_prepare.py holds, against WLASL2000
FOUND = {"train": 18, "dev": 6, "test": 6}
SPLITS = {"train": {"found": 18, "expected": 14289}, "dev": {"found": 6, "expected": 3916},
          "test": {"found": 6, "expected": 2878}}


def test_completeness_is_against_the_expected_counts_and_generated_data_is_complete():
    wlasl = BENCHMARKS.get("wlasl")(resolve_bench_config("wlasl", []))
    assert wlasl.completeness(FOUND) == {"splits": SPLITS, "complete": False}
    full = {"train": 14289, "dev": 3916, "test": 2878}
    assert wlasl.completeness(full)["complete"] is True
    # a subset's own counts; more clips than expected is not missing any
    wlasl100 = BENCHMARKS.get("wlasl")(resolve_bench_config("wlasl", ["bench.subset=100"]))
    assert wlasl100.completeness({"train": 1442, "dev": 338, "test": 259})["complete"] is True
    # MSASL100's counts are not listed: not known to be complete
    msasl100 = BENCHMARKS.get("msasl")(resolve_bench_config("msasl", ["bench.subset=100"]))
    assert msasl100.completeness({"train": 1, "dev": 1, "test": 1})["complete"] is None
    synth = BENCHMARKS.get("synth-islr")(resolve_config("scratch", "synth-islr", "smoke",
                                                        SMALL_SYNTH))
    assert synth.synthetic and not wlasl.synthetic
    assert synth.completeness({"train": 1, "dev": 1, "test": 1})["complete"] is True


def test_smoke_presets_are_meant_for_synthsign_and_paper_for_real_data():
    for name, method in METHODS.entries().items():
        assert method.preset_meant_for("paper", synthetic=False), name
        assert method.preset_meant_for("smoke", synthetic=True), name
        assert not method.preset_meant_for("smoke", synthetic=False), name


@pytest.fixture(scope="module")
def partial(harness, tmp_path_factory) -> tuple[Path, Path]:
    """A wlasl2000 store prepared from 30 clips (6 test clips of 2,878): the data root and
    the data root's prepared store."""
    tmp = tmp_path_factory.mktemp("partial")
    unisign_release(tmp)
    root = tmp / "data"
    done = harness("prepare", "wlasl", "--source", str(tmp / "poses"), "--labels",
                   str(tmp / "labels"), "--data-root", str(root))
    assert done.code == 0, done.err
    return root, root / "wlasl2000"


def test_run_on_a_partial_store_with_the_smoke_preset_warns_and_records_both(harness, partial):
    root, _ = partial
    out = root.parent / "out"
    done = harness("run", *CELL[:-3], "--bench", "wlasl", "--out", str(out), "--data-root",
                   str(root), *CELL[-3:])
    assert done.code == 0, done.err
    preset = ("warning: preset smoke of scratch is not meant for wlasl's real data (it is "
              "sized for SynthSign): its numbers are not comparable with papers'; use "
              "--preset paper")
    store = ("warning: the prepared wlasl store is incomplete (train 18 of 14289, dev 6 of "
             "3916, test 6 of 2878 clips expected): its numbers are not comparable with "
             "papers'")
    # one line each, even under --quiet
    assert [line.split("] ", 1)[1] for line in done.err.splitlines() if "warning:" in line] \
        == [preset, store], done.err
    (path,) = out.glob("cells/*/*/*/result.json")
    result = json.loads(path.read_text())
    assert result["checks"] == {"preset_meant_for_benchmark": False, "splits": SPLITS,
                                "complete": False}
    log = (path.parent / "log.txt").read_text().splitlines()
    said = [i for i, line in enumerate(log) if line.endswith((preset, store))]
    trained = next(i for i, line in enumerate(log) if "finetune epoch 1/1" in line)
    assert len(said) == 2 and max(said) < trained  # in the cell's log, before training


def test_list_shows_an_incomplete_store(harness, partial):
    root, _ = partial
    done = harness("list", "--data-root", str(root))
    assert done.code == 0, done.err
    (line,) = [line for line in done.out.splitlines() if line.strip().startswith("wlasl ")]
    assert " incomplete " in line
    assert ("the prepared store has train 18 of 14289, dev 6 of 3916, test 6 of 2878 clips "
            "expected") in done.out
    listed = json.loads(harness("list", "--data-root", str(root), "--json").out)
    assert listed["benchmarks"]["wlasl"]["complete"] is False
    assert listed["benchmarks"]["wlasl"]["splits"] == SPLITS
