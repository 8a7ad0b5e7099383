"""OpenASL: American Sign Language in the wild (news, vlogs) translated to English."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchmarks._source import Expected, SourceBenchmark
from harness.core.registry import BENCHMARKS


@BENCHMARKS.register("openasl")
class OpenASL(SourceBenchmark):
    """OpenASL: expected ~96,476 / 966 / 975 (the paper; unverified against the release).
    Text whitespace-collapsed, case and punctuation kept. Default protocol: ``bleu-13a``.
    """

    task = "slt"
    version = "1"
    dataset = "openasl"
    summary = "OpenASL ASL -> English (BLEU-1..4 13a, ROUGE-L)"
    preset = Path(__file__).parent / "presets" / "openasl.py"
    expected: ClassVar[Expected] = {None: {"train": 96476, "dev": 966, "test": 975}}
