"""`python -m tools.perf --quick`: the suite runs and reports every figure with its
reference (no timing is asserted: absolute speed belongs to the machine); `python -m harness
perf` says where the suite went."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from harness.core.registry import METHODS

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def quick_report(harness) -> dict:
    """The JSON report of ``python -m tools.perf --quick`` on this machine."""
    argv = harness.argv(("--quick", "--json", "--threads", "2"))
    argv[1:3] = ["-m", "tools.perf"]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, env=harness.env,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_harness_perf_points_to_the_tool(harness):
    done = harness("perf", "--quick")
    assert done.code == 2 and done.out == ""
    assert done.error_lines == ["error: perf is a developer tool of the repository now: run "
                                "python -m tools.perf [--quick] [--json] [--device cuda] from "
                                "its root"]


def test_script_form_runs():
    done = subprocess.run([sys.executable, "tools/perf.py", "--help"], capture_output=True,
                          text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and "--quick" in done.stdout, done.stderr


def test_quick_suite_reports_every_figure_against_its_reference(quick_report):
    report = copy.deepcopy(quick_report)
    assert set(report["peak_gflops"]) == {"fp32", "bf16"}
    users = {u for row in report["encoder"].values() for u in row["users"]}
    assert {f"{m}/smoke" for m in METHODS.names()} <= users  # every method's encoder
    for row in report["encoder"].values():
        for precision in ("fp32", "bf16"):
            stats = row[precision]
            assert stats["train_gflop_per_sample"] > 0 and stats["train_samples_s"] > 0
            assert stats["train_peak_fraction"] > 0
        assert row["bf16_over_fp32_train"] > 0
        # the straightforward formulation is timed next to the harness's, on the same config
        assert row["reference_fp32"]["train_gflop_per_sample"] == pytest.approx(
            row["fp32"]["train_gflop_per_sample"], rel=0.05)
        assert row["fp32_over_reference_fp32_train"] > 0
        assert row["bf16_over_reference_fp32_train"] > 0
    assert isinstance(report["native_bf16"], bool)
    for precision in report["timed_precisions"]:
        assert report["dropout"][precision]["fast_ms"] > 0
        assert report["dropout"][precision]["torch_ms"] > 0
    load = report["loading"]
    assert load["clips"] == 64 and load["over_pickle"] > 0 and load["over_training"] > 0
    assert load["train_over_pickle"] > 0
    assert report["metrics"]["pairs"] == 1000 and report["metrics"]["wer_over_jiwer"] > 0
    assert report["cli"]["cells"] == 5 * 4 * 2 * 5 and report["cli"]["leaderboard_s"] > 0


def test_full_report_without_bf16_steps_says_why(quick_report):
    """Where bf16 is emulated the full suite times no bf16 step; the report says the bf16
    target cannot be measured there and still checks the others."""
    from tools.perf import render

    report = copy.deepcopy(quick_report)
    report.update(quick=False, native_bf16=False, timed_precisions=["fp32"])
    for label, row in list(report["encoder"].items()):
        for key in ("bf16", "bf16_over_fp32_train", "bf16_over_reference_fp32_train"):
            row.pop(key)
        report["encoder"][label.replace("smoke", "paper")] = row
    text = render(report)
    assert "encoder steps are not timed in bf16 here" in text
    assert "encoder_bf16_over_reference_fp32_paper: - (>= 2.5) not measurable here" in text
    assert "  bf16: train" not in text
    assert "encoder_fp32_over_reference_fp32_paper: " in text and "list_s: " in text
