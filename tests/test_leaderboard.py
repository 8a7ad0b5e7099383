"""`python -m harness leaderboard`: tables from result files with known numbers."""

from __future__ import annotations

import json
import math
import statistics
from pathlib import Path

import pytest

from harness.errors import DataError
from harness.leaderboard import Stat, read_reported, write_leaderboards
from harness.results import SCHEMA_VERSION

TOPK = "protocol:islr-topk|version:1"


def cell(out: Path, method: str, seed: int, top1: float, *, signature: str = TOPK,
         lr: float = 1e-3, bench: str = "wlasl", status: str = "finished") -> None:
    """A result.json and config.json as the runner writes them (the fields tables read)."""
    config = {"method": {"name": method}, "bench": {"name": bench}, "finetune": {"lr": lr}}
    chash = f"{method}-{lr}-{signature[-1]}"
    key = f"{chash}-{seed}"
    folder = out / "cells" / bench / method / key
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps({"config": config}))
    result = {
        "schema": SCHEMA_VERSION, "status": status, "method": method, "preset": "smoke",
        "bench": bench, "task": "islr", "seed": seed, "cell_key": key, "config_hash": chash,
        "benchmark": {"name": bench, "version": "wlasl-1", "fingerprint": "f" * 16},
        "metrics": {"test": {"top1": top1, "top5": top1 + 10}}, "signatures": {"topk":
                                                                              signature},
        "selection": {}, "code": {"git_sha": "abcdef0123456789", "dirty": False},
        "environment": {}, "timings": {}, "files": {},
        "mlflow": {"tracking_uri": "sqlite:///x/mlflow.db", "run_id": f"run{method}{seed}"
                                                                      f"{lr}0000"},
    }
    (folder / "result.json").write_text(json.dumps(result))


@pytest.fixture()
def store(tmp_path: Path) -> Path:
    out = tmp_path / "outputs"
    for seed, v in enumerate([60.0, 62.0, 64.0]):
        cell(out, "sigma", seed, v)
    for seed, v in enumerate([50.0, 54.0]):  # seed 2 missing
        cell(out, "scratch", seed, v)
    cell(out, "scratch", 2, 99.0, status="failed")  # a failed run counts for nothing
    cell(out, "sigma", 0, 70.0, lr=1e-4)  # an ablation: one seed
    for seed, v in enumerate([40.0, 41.0, 42.0]):  # another protocol: never the same table
        cell(out, "sigma", seed, v, signature="protocol:islr-topk|version:2")
    return out


def test_stats_are_mean_sample_std_and_student_t_interval():
    s = Stat.of([60.0, 62.0, 64.0])
    assert s.mean == 62.0 and s.std == 2.0
    assert s.ci95 == pytest.approx(4.303 * 2.0 / math.sqrt(3))
    assert Stat.of([5.0]) == Stat(5.0, None, None)


def test_tables_show_exact_numbers_marks_and_order(store, tmp_path):
    reported = tmp_path / "reported.csv"
    reported.write_text("method,bench,split,metric,value,input,source,confidence\n"
                        "sigma,wlasl,test,top1,64.40,pose,Sigma paper,secondary\n"
                        "sigma,wlasl,dev,top1,99.0,pose,not test,secondary\n")
    out = tmp_path / "lb"
    write_leaderboards(store, out, reported)
    page = (out / "islr.md").read_text()
    v1, v2 = page.split("## wlasl (version wlasl-1)")[1:]
    assert "`protocol:islr-topk|version:1`" in v1 and "version:2" not in v1
    assert "`protocol:islr-topk|version:2`" in v2 and "version:1`" not in v2
    rows = [line for line in v1.splitlines() if line.startswith("| s")]
    assert [r.split(" | ")[:3] for r in rows] == [
        ["| scratch", "-", "2 †"], ["| sigma", "-", "3"],
        ["| sigma", "finetune.lr=0.0001", "1 †"]]
    scratch, sigma, ablation = (r.split(" | ") for r in rows)
    assert scratch[3] == f"52.00 ± {statistics.stdev([50.0, 54.0]):.2f}"
    assert scratch[6:8] == ["-", "-"]  # nothing reported for scratch
    ci = 4.303 * 2.0 / math.sqrt(3)
    assert sigma[3:8] == ["62.00 ± 2.00", "72.00 ± 2.00", f"[{62 - ci:.2f}, {62 + ci:.2f}]",
                          "64.40", "-2.40"]
    assert ablation[3] == "70.00" and ablation[5] == "-"
    assert sigma[-1] == "s0 `runsigma`, s1 `runsigma`, s2 `runsigma` |"
    assert "Reported numbers: sigma: Sigma paper" in v1
    assert "99.00" not in page  # neither the failed run nor the dev number
    index = (out / "README.md").read_text()
    assert "| Isolated sign recognition (ISLR) | wlasl | 4 | [islr.md](islr.md) |" in index
    assert "No finished cells of this task yet." in (out / "slt.md").read_text()


def test_regenerating_changes_no_byte(store, tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    write_leaderboards(store, first)
    write_leaderboards(store, second)
    for name in ("islr.md", "cslr.md", "slt.md", "README.md"):
        assert (first / name).read_bytes() == (second / name).read_bytes()


def test_bad_reported_file_is_one_line(tmp_path):
    bad = tmp_path / "reported.csv"
    bad.write_text("method,value\nsigma,1\n")
    with pytest.raises(DataError, match="expected the columns"):
        read_reported(bad)
    bad.write_text("method,bench,split,metric,value,input,source,confidence\n"
                   "sigma,wlasl,test,top1,high,pose,x,y\n")
    with pytest.raises(DataError, match=r"reported.csv:2: value 'high' is not a number"):
        read_reported(bad)


def test_cli_writes_the_pages_and_refuses_a_missing_folder(harness, store, tmp_path):
    done = harness("leaderboard", "--results", str(store), "--out", str(tmp_path / "lb"))
    assert done.code == 0, done.err
    assert done.out.count("wrote ") == 4
    missing = harness("leaderboard", "--results", str(tmp_path / "nope"))
    assert missing.code == 2 and missing.err.startswith("error: ")
    assert missing.err.count("\n") == 1 and "nope is not a folder" in missing.err
