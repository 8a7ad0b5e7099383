"""``scratch``: the shared part-wise ST-GCN encoder and task heads, with no pre-training.

The floor every pre-training method must beat: the same encoder and heads the pre-training
methods fine-tune, initialised at random and trained on the benchmark's train split only.
"""

from __future__ import annotations

from pathlib import Path

from harness.core.registry import METHODS
from methods.common.method import EncoderMethod


@METHODS.register("scratch")
class Scratch(EncoderMethod):
    """Part-wise ST-GCN + task head trained from random initialisation."""

    tasks = ("islr", "cslr", "slt")
    summary = "part-wise ST-GCN + task head, no pre-training (the floor)"
    presets_dir = Path(__file__).parent / "presets"
