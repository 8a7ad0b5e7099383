"""Registries: lazy discovery, suggestions for unknown names, duplicate names refused."""

import subprocess
import sys

import pytest

from harness.core.registry import BENCHMARKS, METHODS, Catalog
from harness.errors import UserError


def test_all_entries_are_found():
    assert "scratch" in METHODS.names()
    assert {"synth-islr", "synth-cslr", "synth-slt", "wlasl"} <= set(BENCHMARKS.names())


def test_unknown_name_suggests_close_ones():
    with pytest.raises(UserError, match="did you mean synth-islr"):
        BENCHMARKS.get("synth_islr")


def test_duplicate_name_is_an_error():
    cat = Catalog("thing", "methods")

    @cat.register("a")
    class A:
        pass

    with pytest.raises(ValueError, match="duplicate thing name 'a'"):
        @cat.register("a")
        class B:
            pass


def test_list_imports_neither_torch_nor_mlflow():
    code = ("import sys; from harness.cli.main import main; main(['list']); "
            "bad = [m for m in ('torch', 'mlflow', 'transformers') if m in sys.modules]; "
            "assert not bad, bad")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "scratch" in proc.stdout and "synth-islr" in proc.stdout
