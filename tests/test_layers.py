"""The import rules of harness/ hold (pyproject.toml's [tool.importlinter], also run by
``make lint``): each subpackage imports only from the layers below it, the engine names no
method, benchmark or tool (plugins come through harness.core.registry), methods and
benchmarks stay on the lower layers and apart, and no modules import each other in a cycle."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    exe = Path(sys.executable).with_name("lint-imports")
    command = str(exe) if exe.exists() else shutil.which("lint-imports")
    if command is None:
        pytest.skip("import-linter is not installed (pip install -e '.[dev]')")
    done = subprocess.run([command, "--no-cache"], cwd=ROOT, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_private_names_are_imported_across_modules():
    """``from harness.x import _name``: a private name used elsewhere is made public."""
    bad = []
    for folder in ("harness", "methods", "benchmarks", "tools", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                stripped = line.strip()
                if not stripped.startswith("from harness"):
                    continue
                names = stripped.split(" import ", 1)[1] if " import " in stripped else ""
                if any(name.strip().startswith("_") and not name.strip().startswith("__")
                       for name in names.strip("()").split(",")):
                    bad.append(f"{path.relative_to(ROOT)}:{n}: {stripped}")
    assert not bad, "\n".join(bad)
