"""Progress bars of long work (tqdm), drawn on stderr only where someone watches.

A bar is drawn when stderr is an interactive terminal and the command was not asked for
silence (``--quiet``, or ``--json`` whose output is for a program: ``set_quiet``) nor the
caller (``quiet``: a rank other than 0, a cell run with ``quiet``). Anywhere else (a pipe, a
log file, a Slurm job, the tests) nothing is drawn, so no log or JSON document holds a bar.
Lines printed while a bar is drawn go through ``write``, which redraws the bar below them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

_quiet = False


def set_quiet(quiet: bool) -> None:
    """Draw no bar in this process (the CLI's ``--quiet`` and ``--json``)."""
    global _quiet
    _quiet = quiet


def shown(quiet: bool = False) -> bool:
    """Whether bars are drawn: stderr is a terminal and no one asked for silence."""
    return not (quiet or _quiet) and sys.stderr.isatty()


def bar(desc: str, iterable: Iterable[Any] | None = None, *, total: float | None = None,
        unit: str = "it", initial: int = 0, quiet: bool = False, average: bool = False
        ) -> Any:
    """A tqdm bar on stderr (a no-op one unless ``shown(quiet)``), cleared when closed;
    ``average``: its rate and ETA from the whole elapsed time rather than recent steps."""
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, total=total, unit=unit, initial=initial, leave=False,
                file=sys.stderr, dynamic_ncols=True, disable=not shown(quiet),
                **({"smoothing": 0} if average else {}))


def write(line: str) -> None:
    """Print a line on stderr above the bars being drawn (as plain ``print`` without them)."""
    from tqdm import tqdm

    tqdm.write(line, file=sys.stderr)
    sys.stderr.flush()
