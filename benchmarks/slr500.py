"""SLR500: isolated Chinese Sign Language, 500 classes, signer-independent split."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchmarks._source import Expected, SourceBenchmark
from harness.core.registry import BENCHMARKS


@BENCHMARKS.register("slr500")
class SLR500(SourceBenchmark):
    """SLR500 (the isolated part of the USTC CSL dataset): 50 signers, the first 36 for
    training and the other 14 for testing; train and test splits only (no dev: the last
    epoch is reported). Expected counts ~90,000 / ~35,000 (unverified). Default protocol:
    ``islr-topk``.
    """

    task = "islr"
    version = "1"
    dataset = "slr500"
    summary = "SLR500 isolated CSL, 500 classes, signer split (top-1/top-5)"
    preset = Path(__file__).parent / "presets" / "slr500.py"
    splits = ("train", "test")
    select_split = None
    language = "chinese"
    expected: ClassVar[Expected] = {None: {"train": 90000, "test": 35000}}
