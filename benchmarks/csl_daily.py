"""CSL-Daily: continuous Chinese Sign Language about daily life (CSLR and SLT)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from benchmarks._source import Expected, SourceBenchmark
from harness.core.registry import BENCHMARKS

PRESETS = Path(__file__).parent / "presets"


class _CSLDaily(SourceBenchmark):
    """CSL-Daily: one store (``csl-daily``) serves both tasks; labels from Uni-Sign's label
    files (gloss lists and Chinese sentences) or a pyskl/SLRT release. Glosses joined by
    single spaces; text whitespace-collapsed (the character-level BLEU drops spaces anyway).
    Expected counts 18,401 / 1,077 / 1,176 (the CSL-Daily paper).
    """

    version = "1"
    dataset = "csl-daily"
    language = "chinese"
    expected: ClassVar[Expected] = {None: {"train": 18401, "dev": 1077, "test": 1176}}


@BENCHMARKS.register("csl-daily-cslr")
class CSLDailyCSLR(_CSLDaily):
    __doc__ = _CSLDaily.__doc__
    task = "cslr"
    summary = "CSL-Daily CSL -> glosses (plain WER)"
    preset = PRESETS / "csl_daily_cslr.py"


@BENCHMARKS.register("csl-daily-slt")
class CSLDailySLT(_CSLDaily):
    __doc__ = _CSLDaily.__doc__
    task = "slt"
    summary = "CSL-Daily CSL -> Chinese text (character BLEU-1..4, ROUGE-L)"
    preset = PRESETS / "csl_daily_slt.py"
