"""How2Sign: American Sign Language instructional videos translated to English."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchmarks._source import Expected, SourceBenchmark
from harness.core.registry import BENCHMARKS


@BENCHMARKS.register("how2sign")
class How2Sign(SourceBenchmark):
    """How2Sign sentence clips: expected ~31,128 / 1,741 / 2,322 (the paper); Uni-Sign's
    released files hold 31,086 train and 2,349 test clips, so the report will differ from
    the paper's counts with them. Text whitespace-collapsed, case and punctuation kept
    (13a tokenisation splits punctuation at scoring). Default protocol: ``bleu-13a``.
    """

    task = "slt"
    version = "1"
    dataset = "how2sign"
    summary = "How2Sign ASL -> English (BLEU-1..4 13a, ROUGE-L)"
    preset = Path(__file__).parent / "presets" / "how2sign.py"
    expected: ClassVar[Expected] = {None: {"train": 31128, "dev": 1741, "test": 2322}}
