"""NMFs-CSL: isolated Chinese Sign Language with non-manual features (1,067 classes)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchmarks._source import Expected, SourceBenchmark
from harness.core.registry import BENCHMARKS


@BENCHMARKS.register("nmfs-csl")
class NMFsCSL(SourceBenchmark):
    """NMFs-CSL: train and test splits only (no dev: checkpoints are never selected on test,
    the last epoch is reported). Expected counts ~25,608 / ~6,402 (the paper's; unverified).

    The confusing/normal breakdown (610 confusing, 457 normal classes) needs the names of the
    confusing classes, which label files do not mark:
    ``--set eval.protocol=islr-nmfs-split eval.confusing_classes=FILE``. Default protocol:
    ``islr-topk``.
    """

    task = "islr"
    version = "1"
    dataset = "nmfs-csl"
    summary = "NMFs-CSL isolated CSL, 1,067 classes (top-1/top-5; confusing/normal split)"
    preset = Path(__file__).parent / "presets" / "nmfs_csl.py"
    splits = ("train", "test")
    select_split = None
    language = "chinese"
    expected: ClassVar[Expected] = {None: {"train": 25608, "test": 6402}}
