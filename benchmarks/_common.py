"""Scoring shared by the adapters: the metric protocol follows the task and the eval config."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from benchmarks.metrics import protocols
from harness.core.metric import MetricProtocol
from harness.data.benchmark import Benchmark


class ScoredBenchmark(Benchmark):
    """A benchmark scored with a named metric protocol of its task.

    ``eval.protocol`` names it (see ``benchmarks.metrics.protocols``; without it: the task's
    default); the other ``eval`` keys are the protocol's options. A protocol that does not
    exist, scores another task or lacks an option is an error when the benchmark is built,
    before anything trains.
    """

    def __init__(self, cfg: dict[str, Any], root: str | Path | None = None) -> None:
        super().__init__(cfg, root)
        self.metric_protocol()

    def metric_protocol(self, name: str | None = None) -> MetricProtocol:
        """The protocol ``name``, or this benchmark's default, checked against its task."""
        return protocols.resolve(self.task, self.cfg.get("eval", {}), self.language, self.name,
                                 name)
