"""Fault injection for the reliability tests: die at a named point, as a SIGKILL would.

``HARNESS_FAULT=POINT[:N]`` makes the process kill itself with SIGKILL the N-th time (1st by
default) it reaches POINT; ``HARNESS_FAULT=POINT[:N]=enospc`` raises the OSError of a full
disk there instead. Unset, a point costs one environment lookup. Points:
``pretrain.step`` / ``finetune.step`` (after an optimiser step), ``checkpoint.replace`` and
``atomic.replace`` (a written, synced temporary file not yet renamed over its target),
``evaluate`` (before scoring a split), ``result.before`` / ``result.written`` (either side
of writing result.json), ``mlflow.finished`` (the run finished, the cell not yet marked
as recorded) and ``store.create`` (a new sqlite MLflow store migrated, not yet in place).
"""

from __future__ import annotations

import errno
import os
import signal

_reached: dict[str, int] = {}


def point(name: str, path: object = None) -> None:
    """Die here with SIGKILL (or fail as a full disk would, writing ``path``) if
    ``HARNESS_FAULT`` names this point and its count is due."""
    spec = os.environ.get("HARNESS_FAULT")
    if not spec:
        return
    spec, _, mode = spec.partition("=")
    target, _, nth = spec.partition(":")
    if target != name:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] != int(nth or 1):
        return
    if mode == "enospc":
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path) if path else None)
    os.kill(os.getpid(), signal.SIGKILL)
