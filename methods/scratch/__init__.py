"""``scratch``: the shared part-wise ST-GCN encoder and task heads, with no pre-training.

The floor every pre-training method must beat: the same encoder and heads the pre-training
methods fine-tune, initialised at random and trained on the benchmark's train split only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.method import Method
from harness.registry import METHODS
from harness.tasks import TaskSpec


@METHODS.register("scratch")
class Scratch(Method):
    """Part-wise ST-GCN + task head trained from random initialisation."""

    tasks = ("islr", "cslr", "slt")
    summary = "part-wise ST-GCN + task head, no pre-training (the floor)"
    presets_dir = Path(__file__).parent / "presets"

    def build(self, cfg: dict[str, Any], spec: TaskSpec, pretrained: Any = None) -> Any:
        """Encoder and head for ``spec.task`` from ``cfg['model']`` (nothing pre-trained)."""
        from methods.encoders.stgcn import PartwiseSTGCN
        from methods.heads.models import build_task_model

        encoder = PartwiseSTGCN(layout=spec.layout, **cfg["model"]["encoder"])
        return build_task_model(encoder, spec, cfg["model"]["heads"])
