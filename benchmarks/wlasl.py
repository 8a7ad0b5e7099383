"""WLASL: word-level American Sign Language, isolated recognition (100-2000 glosses)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchmarks._common import ScoredBenchmark
from harness.registry import BENCHMARKS


@BENCHMARKS.register("wlasl")
class WLASL(ScoredBenchmark):
    """WLASL with its official train/val/test split; ``bench.subset`` in 100/300/1000/2000.

    Expected clip counts (train/dev/test) from the WLASL paper, Table 1.
    """

    task = "islr"
    version = "1"
    summary = "WLASL100/300/1000/2000 isolated ASL (P-I and P-C top-1/top-5)"
    preset = Path(__file__).parent / "presets" / "wlasl.py"
    expected_counts: ClassVar[dict[int, tuple[int, int, int]]] = {
        100: (1442, 338, 258), 300: (3548, 901, 668), 1000: (8974, 2318, 1704),
        2000: (14289, 3916, 2878),
    }
