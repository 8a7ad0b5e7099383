"""The command line's conventions (issue 22, point 5) and the declared dependencies (point 6):
--version, usage on a bare call, help for every option naming the valid values, one option
name per concept, ``run --config FILE``, results printed once and in the protocol's order;
pyproject.toml declares exactly the packages the code imports."""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

from harness.cli.main import build_parser
from harness.core.registry import BENCHMARKS, METHODS
from tests.conftest import SMALL_SYNTH, in_process

ROOT = Path(__file__).resolve().parent.parent
CELL = ["run", "--method", "scratch", "--bench", "synth-islr", "--threads", "2",
        "--set", *SMALL_SYNTH, "finetune.batch_size=8"]
#: The user's config file of the shared cell, and the --set that says the same.
CONFIG_YAML = "finetune:\n  epochs: 1\n  lr: 0.003\n"
SAME_AS_SET = ["finetune.epochs=1", "finetune.lr=0.003"]


def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    """The parser of each command."""
    (action,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return dict(action.choices)


def wide_help(parser: argparse.ArgumentParser, monkeypatch) -> str:
    """A parser's help on a wide terminal, so that no name is wrapped."""
    monkeypatch.setenv("COLUMNS", "1000")
    return parser.format_help()


# -- conventions -----------------------------------------------------------------------------

def test_version_names_the_package_and_the_commit():
    done = subprocess.run([sys.executable, "-m", "harness", "--version"], capture_output=True,
                          text=True, cwd=ROOT)
    sha = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                         text=True).stdout.strip()
    assert done.returncode == 0 and done.stderr == ""
    assert re.fullmatch(rf"slu-harness \S+ \(git {sha[:12]}(, uncommitted changes)?\)\n",
                        done.stdout), done.stdout


def test_a_bare_call_prints_the_usage_and_the_commands():
    done = subprocess.run([sys.executable, "-m", "harness"], capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("usage: python -m harness")
    for command in ("list", "run", "prepare", "summary", "leaderboard", "throughput"):
        assert f"\n    {command}" in done.stderr


def test_help_is_built_without_loading_methods_benchmarks_or_numpy():
    """Listing names in help imports their packages only when a help text shows them."""
    code = ("import sys; from harness.cli.main import build_parser; p = build_parser(); "
            "p.format_help(); p.parse_args(['list']); "
            "bad = [m for m in ('methods', 'benchmarks', 'numpy', 'torch', 'mmengine') "
            "if m in sys.modules]; assert not bad, bad")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_every_option_of_every_command_has_help():
    parser = build_parser()
    missing = [f"{name} {a.option_strings or a.dest}"
               for name, p in {"": parser, **subparsers(parser)}.items() for a in p._actions
               if not isinstance(a, argparse._SubParsersAction) and not a.help]
    assert not missing, missing


@pytest.mark.parametrize("command", ["run", "config", "throughput"])
def test_help_lists_the_methods_and_benchmarks(command, monkeypatch):
    text = wide_help(subparsers(build_parser())[command], monkeypatch)
    method = next(line for line in text.splitlines() if line.strip().startswith("--method"))
    bench = next(line for line in text.splitlines() if line.strip().startswith("--bench"))
    assert ", ".join(METHODS.names()) in method and ", ".join(BENCHMARKS.names()) in bench
    assert "--config FILE" in text


def test_format_options_list_their_choices(monkeypatch):
    from benchmarks.formats import FORMATS
    from harness.analysis.score import FORMATS as FILE_FORMATS

    commands = subparsers(build_parser())
    formats = {(name, o): list(a.choices) for name, p in commands.items() for a in p._actions
               for o in a.option_strings if o.endswith("format")}
    assert formats == {("prepare", "--format"): list(FORMATS),
                       ("score", "--format"): list(FILE_FORMATS),
                       ("score", "--ref-format"): list(FILE_FORMATS),
                       ("score", "--hyp-format"): list(FILE_FORMATS)}
    assert ", ".join(FORMATS) in wide_help(commands["prepare"], monkeypatch)
    assert all(f in wide_help(commands["score"], monkeypatch) for f in FILE_FORMATS)


def test_an_invalid_format_is_one_line_naming_the_formats(tmp_path, capsys):
    from benchmarks.formats import FORMATS

    done = in_process(["prepare", "wlasl", "--source", str(tmp_path), "--labels",
                       str(tmp_path / "labels.json"), "--format", "unisgn",
                       "--data-root", str(tmp_path / "data")], capsys)
    code, out, err = done.code, done.out, done.err
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert "argument --format: invalid choice: 'unisgn'" in err
    assert all(repr(f) in err for f in FORMATS) and "label" not in err
    assert not (tmp_path / "data").exists()


def test_prepare_through_the_api_checks_the_format_before_the_labels(tmp_path):
    from harness.cell.runner import resolve_bench_config
    from harness.errors import UserError

    bench = BENCHMARKS.get("wlasl")(resolve_bench_config("wlasl", []), root=tmp_path)
    with pytest.raises(UserError, match=r"unknown pose format 'unisgn'; did you mean unisign"):
        bench.prepare(tmp_path, format="unisgn", labels=tmp_path / "missing.json")


def test_summary_reads_results_and_keeps_out_as_a_deprecated_spelling(monkeypatch):
    summary = subparsers(build_parser())["summary"]
    (action,) = [a for a in summary._actions if "--results" in a.option_strings]
    assert action.option_strings == ["--results", "--out"] and action.dest == "results"
    assert "--out is the deprecated spelling" in wide_help(summary, monkeypatch)
    leaderboard = subparsers(build_parser())["leaderboard"]
    assert any("--results" in a.option_strings for a in leaderboard._actions)


@pytest.mark.parametrize("text,needle", [
    ("finetune:\n  epoch: 2\n", "finetune.epoch: no key 'epoch' in finetune (did you mean "
                                "finetune.epochs?)"),
    ("finetune: [1\n", "not valid YAML"),
    ("- 1\n", "expected a mapping of config keys"),
])
def test_a_bad_config_file_is_one_line_naming_it(tmp_path, capsys, text, needle):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    done = in_process(["config", "--method", "scratch", "--bench", "synth-islr",
                       "--config", str(path)], capsys)
    code, out, err = done.code, done.out, done.err
    assert code == 2 and out == "" and err.count("\n") == 1, err
    assert err.startswith(f"error: {path}") and needle in err


# -- one shared cell, run with a config file, then run again (skipped) -----------------------

@pytest.fixture(scope="module")
def cells(harness):
    """(fresh run, skipped rerun, out folder, config file) of one small ISLR cell."""
    config = harness.root / "cli-config.yaml"
    config.write_text(CONFIG_YAML)
    out = harness.root / "out-cli"
    first = harness(*CELL, "--config", str(config), "--out", str(out))
    assert first.code == 0, first.err
    again = harness(*CELL, "--config", str(config), "--out", str(out))
    assert again.code == 0, again.err
    return first, again, out, config


def test_run_config_is_merged_hashed_and_recorded(cells, harness):
    import hashlib

    _, _, out, config = cells
    (path,) = out.glob("cells/*/*/*/result.json")
    result = json.loads(path.read_text())
    recorded = json.loads((path.parent / "config.json").read_text())
    record = {"path": str(config.resolve()),
              "sha256": hashlib.sha256(config.read_bytes()).hexdigest()}
    assert result["config_file"] == record and recorded["config_file"] == record
    assert recorded["config"]["finetune"]["epochs"] == 1
    assert recorded["config"]["finetune"]["lr"] == 0.003
    assert len(result["history"]) == 1
    # the values, not the file, make the cell: --set with the same values, the same hash
    base = ["config", "--method", "scratch", "--bench", "synth-islr", "--json"]
    shown = harness(*base, "--config", str(config), "--set", *SMALL_SYNTH,
                    "finetune.batch_size=8")
    same = harness(*base, "--set", *SMALL_SYNTH, "finetune.batch_size=8", *SAME_AS_SET)
    plain = harness(*base, "--set", *SMALL_SYNTH, "finetune.batch_size=8")
    shown, same, plain = (json.loads(d.out) for d in (shown, same, plain))
    assert shown["config_hash"] == same["config_hash"] == result["config_hash"]
    assert plain["config_hash"] != result["config_hash"]
    assert shown["config_file"] == record and "config_file" not in same


def test_fresh_and_skipped_runs_print_the_same_metrics_in_the_protocols_order(cells):
    first, again, _, _ = cells
    fresh, skipped = first.out.splitlines(), again.out.splitlines()
    assert skipped[0] == fresh[0] + " (already finished; --force reruns it)"
    assert fresh[1:] == skipped[1:]
    names = re.findall(r"(\w+) [\d.]+", fresh[0].split(": ", 1)[1])
    assert names == ["top1", "top5", "pc_top1", "pc_top5"]  # islr-topk's order


def test_results_are_printed_once_on_stdout_and_progress_on_stderr(cells):
    first, again, _, _ = cells
    for done in (first, again):
        assert len(done.out.splitlines()) == 4  # metrics, result, predictions, mlflow
        for line in done.out.splitlines():
            assert line.split(": ", 1)[-1] not in done.err, line
        assert "] test:" not in done.err and "result.json" not in done.err
    assert "] finished in" in first.err and "epoch" in first.err
    assert again.err == ""


def test_summary_reads_the_cells_under_results_and_under_out(cells, harness):
    _, _, out, _ = cells
    new = harness("summary", "--results", str(out))
    old = harness("summary", "--out", str(out))
    assert new.code == 0 and new.out == old.out and "| scratch |" in new.out


# -- dependencies ----------------------------------------------------------------------------

def imported_packages() -> set[str]:
    """Top-level names of the packages the project's modules import (absolute imports,
    function-level ones included), and the packaged text models it imports by name."""
    from methods.text.backbone import PACKAGED

    names = set(PACKAGED.values())
    for package in ("harness", "methods", "benchmarks"):
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
                if isinstance(node, ast.Import):
                    names |= {alias.name.split(".")[0] for alias in node.names}
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - {"__future__", "harness", "methods",
                                                   "benchmarks"}


def normalised(name: str) -> str:
    """A distribution name as PEP 503 compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def test_pyproject_declares_exactly_the_imported_packages():
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = {normalised(re.split(r"[<>=!~;\[ ]", d, maxsplit=1)[0])
                for d in project["dependencies"]}
    providers = packages_distributions()
    imported, unknown = set(), []
    for name in sorted(imported_packages()):
        dists = {normalised(d) for d in providers.get(name, [])}
        if not dists:
            unknown.append(name)
        imported.add(min(dists & declared or dists or {name}))
    assert not unknown, f"imported but not installed: {unknown}"
    assert imported == declared, (f"imported, not declared: {sorted(imported - declared)}; "
                                  f"declared, not imported: {sorted(declared - imported)}")
