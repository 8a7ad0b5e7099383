"""Fault injection for the reliability tests: die at a named point, as a SIGKILL would.

``HARNESS_FAULT=POINT[:N]`` makes the process kill itself with SIGKILL the N-th time (1st by
default) it reaches POINT; unset, a point costs one environment lookup. Points:
``pretrain.step`` / ``finetune.step`` (after an optimiser step), ``checkpoint.replace`` and
``atomic.replace`` (a written, synced temporary file not yet renamed over its target),
``evaluate`` (before scoring a split), ``result.before`` / ``result.written`` (either side
of writing result.json) and ``mlflow.finished`` (the run finished, the cell not yet marked
as recorded).
"""

from __future__ import annotations

import os
import signal

_reached: dict[str, int] = {}


def point(name: str) -> None:
    """Die here with SIGKILL if ``HARNESS_FAULT`` names this point and its count is due."""
    spec = os.environ.get("HARNESS_FAULT")
    if not spec:
        return
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
