"""WLASL: word-level American Sign Language, isolated recognition (100-2000 glosses)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchmarks._source import Expected, SourceBenchmark
from harness.core.registry import BENCHMARKS


@BENCHMARKS.register("wlasl")
class WLASL(SourceBenchmark):
    """WLASL with its official train/val/test split; ``bench.subset`` in 100/300/1000/2000.

    Subset rule: WLASL-N is the first N glosses of ``WLASL_v0.3.json`` in the file's order
    (how the official ``nslt_N.json`` files are made; their class index is that position).
    With the JSON as ``--labels`` any subset can be prepared; with labels naming classes by
    index (pyskl, SLRT releases) the classes below N; Uni-Sign's label files name the class
    by its word, so they give WLASL2000 only. Each subset is its own store (``wlasl100``...).
    Class names are the JSON's glosses (lower-case English words), whitespace collapsed.
    Expected clip counts (train/dev/test): the WLASL paper, Table 1. Default protocol:
    ``islr-topk`` (per-instance and per-class top-1/top-5).
    """

    task = "islr"
    version = "2"
    dataset = "wlasl"
    summary = "WLASL100/300/1000/2000 isolated ASL (P-I and P-C top-1/top-5)"
    preset = Path(__file__).parent / "presets" / "wlasl.py"
    subsets = (100, 300, 1000, 2000)
    expected: ClassVar[Expected] = {
        100: {"train": 1442, "dev": 338, "test": 258},
        300: {"train": 3548, "dev": 901, "test": 668},
        1000: {"train": 8974, "dev": 2318, "test": 1704},
        2000: {"train": 14289, "dev": 3916, "test": 2878},
    }
