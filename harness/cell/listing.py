"""The cells under an output folder, each with a readable name beside its hashed folder.

A cell's folder is ``cells/<bench>/<method>/<cell_key>``: the key says nothing to a reader.
``python -m harness list-cells`` names each cell ``<method>/<bench>/s<seed>/<key[:8]>``
(from the identity its ``config.json`` records), with its state, the disk its folder uses
and the checkpoints it keeps.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from harness.cell.results import load_finished


@dataclass
class CellEntry:
    """One cell folder: its readable name, state, size and checkpoints."""

    name: str  # method/bench/s<seed>/<first 8 characters of the cell key>
    state: str  # finished, failed (an error.txt) or unfinished (running, killed, pending)
    folder: Path
    size_bytes: int
    checkpoints: list[str]


def readable_name(method: str, bench: str, seed: Any, cell_key: str) -> str:
    """``method/bench/s<seed>/<short key>``: a cell as a reader would name it."""
    return f"{method}/{bench}/s{seed}/{cell_key[:8]}"


def find_cells(results: Path) -> list[CellEntry]:
    """Every cell folder under ``results`` (finished or not), sorted by readable name."""
    entries = []
    for folder in sorted(results.glob("cells/*/*/*/")):
        bench, method, key = folder.parts[-3:]
        try:
            identity = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            seed = identity["seed"]
        except (OSError, ValueError, KeyError, TypeError):
            seed = "?"  # the cell never got as far as writing its config
        state = ("finished" if load_finished(folder) is not None else
                 "failed" if (folder / "error.txt").exists() else "unfinished")
        files = [p for p in folder.rglob("*") if p.is_file()]
        entries.append(CellEntry(
            readable_name(method, bench, seed, key), state, folder,
            sum(p.stat().st_size for p in files),
            sorted(p.name for p in (folder / "checkpoints").glob("*.pt"))))
    return sorted(entries, key=lambda e: e.name)


def render(entries: list[CellEntry], as_json: bool = False) -> str:
    """The cells as aligned text lines (name, state, size, checkpoints, folder) or JSON."""
    if as_json:
        return json.dumps([{**asdict(e), "folder": str(e.folder)} for e in entries],
                          indent=2) + "\n"
    width = max([len(e.name) for e in entries] + [4])
    lines = [f"{'cell':<{width}}  {'state':<10} {'size':>9}  checkpoints / folder"]
    for e in entries:
        lines.append(f"{e.name:<{width}}  {e.state:<10} {_size(e.size_bytes):>9}  "
                     f"{','.join(e.checkpoints) or '-'}  {e.folder}")
    return "\n".join(lines) + "\n"


def _size(n: float) -> str:
    """``n`` bytes in B, KB, MB or GB (powers of 1024)."""
    units = ("B", "KB", "MB", "GB")
    i = 0
    while n >= 1024 and i < len(units) - 1:
        n, i = n / 1024, i + 1
    return f"{n:.0f} B" if i == 0 else f"{n:.1f} {units[i]}"
