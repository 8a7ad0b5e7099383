"""The seed papers' sweeps (sweeps/papers/): each expands to the cells its header says, dry-runs
without prepared data or Slurm, and a submission of unprepared data stops in one line."""

from __future__ import annotations

import itertools
import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from harness.cell.runner import CellRun, resolve_config
from harness.cli.main import main
from harness.core.config import config_hash
from harness.core.registry import BENCHMARKS, METHODS
from harness.sweep.grid import NEEDS_DATA, expand, load_spec
from tests.test_sweep import FAKE_SBATCH, TINY, without_slurm, write_spec

PAPERS = Path(__file__).resolve().parent.parent / "sweeps" / "papers"
SEEDS = [0, 1, 2]
#: Each paper's spec: its method and the benchmarks of its main tables that the harness has.
EXPECTED = {
    "sigma.yaml": ("sigma", ["wlasl", "csl-daily-cslr", "csl-daily-slt", "how2sign",
                             "openasl"]),
    "uni_sign.yaml": ("uni_sign", ["wlasl", "msasl", "csl-daily-cslr", "csl-daily-slt",
                                   "how2sign", "openasl"]),
    "mslp.yaml": ("mslp", ["wlasl", "msasl", "nmfs-csl", "slr500", "phoenix2014",
                           "phoenix2014t-cslr", "csl-daily-cslr", "phoenix2014t-slt",
                           "csl-daily-slt"]),
    "ccl_slr.yaml": ("ccl_slr", ["msasl", "wlasl", "nmfs-csl", "slr500"]),
}
PREPARE = re.compile(r"^#\s+python -m harness prepare (\S+) ", re.M)


def header(path: Path) -> str:
    """The comment block that opens a spec file."""
    return "".join(itertools.takewhile(lambda line: line.startswith("#"),
                                       path.read_text(encoding="utf-8").splitlines(True)))


def test_every_paper_spec_is_listed_here():
    assert sorted(p.name for p in PAPERS.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_paper_spec_expands_to_the_cells_its_header_says(name):
    """The paper's method and scratch x its benchmarks x seeds 0-2, each cell once, under
    the paper preset; the header says how many, how to prepare every benchmark and the
    commands that run the sweep and show its leaderboard."""
    path = PAPERS / name
    method, benches = EXPECTED[name]
    spec = load_spec(path)
    assert (spec.methods, spec.benches, spec.seeds, spec.preset) == \
        ([method, "scratch"], benches, SEEDS, "paper")
    assert spec.out == (Path.cwd() / "outputs" / "papers").resolve()
    assert (PAPERS.parent.parent / "slurm" / "profiles" / f"{spec.profile}.yaml").is_file()
    cells = expand(spec)
    assert sorted((c.method, c.bench, c.seed) for c in cells) == sorted(
        itertools.product([method, "scratch"], benches, SEEDS))
    assert {(c.preset, c.label) for c in cells} == {("paper", "")}
    text = header(path)
    stated = re.search(r"^# Cells: 2 methods x (\d+) benches x 3 seeds = (\d+) cells", text,
                       re.M)
    assert stated and tuple(map(int, stated.groups())) == (len(benches), len(cells))
    for line in (f"python -m harness sweep sweeps/papers/{name} --dry-run",
                 f"python -m harness sweep sweeps/papers/{name} --profile ",
                 "python -m harness leaderboard --results outputs/papers "):
        assert line in text, line
    prepared = PREPARE.findall(text)  # one command per store; a shared store is named so
    shared = re.findall(r"^#\s+\((\S+): the same store as (\S+), nothing more", text, re.M)
    assert sorted(prepared + [b for b, _ in shared]) == sorted(benches)
    assert all(other in prepared for _, other in shared)
    assert "GPU-hours" in text and "Not covered" in text and "Seeds:" in text


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_every_cell_is_a_task_its_method_does(name):
    """Every method does every task it is given here (CCL-SLR's paper is ISLR only, and so
    is its spec); a spec that gives a method a task it does not do is an error at load."""
    tasks = set()
    for cell in expand(load_spec(PAPERS / name)):
        tasks.add(BENCHMARKS.get(cell.bench).task)
        assert BENCHMARKS.get(cell.bench).task in METHODS.get(cell.method).tasks
    assert tasks == ({"islr"} if name == "ccl_slr.yaml" else {"islr", "cslr", "slt"})


def test_a_method_given_a_task_it_does_not_do_is_an_error(tmp_path, monkeypatch, capsys):
    """Not left out silently: the spec stops in one line naming the method and benchmark."""
    monkeypatch.setattr(METHODS.get("ccl_slr"), "tasks", ("islr",))
    spec = write_spec(tmp_path / "cslr.yaml", methods=["ccl_slr", "scratch"],
                      benches=["wlasl", "phoenix2014"], seeds=[0], preset="paper")
    assert main(["sweep", str(spec), "--dry-run", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err == (f"error: {spec}: ccl_slr on phoenix2014: method ccl_slr does not do cslr "
                   "(it does islr)\n")


def test_scratch_cells_are_shared_between_the_paper_sweeps():
    """All paper sweeps write to one folder, and a scratch cell on a benchmark that two of
    them share has one config (so it runs once), except CSL-Daily SLT, whose ROUGE-L is
    Uni-Sign's in the Sigma and Uni-Sign sweeps and the harness's in MSLP's."""
    specs: dict[tuple[str, str], set[str]] = {}  # (bench, config hash): the specs with it
    for name in EXPECTED:
        for c in expand(load_spec(PAPERS / name)):
            if c.method == "scratch" and c.seed == 0:
                chash = config_hash(resolve_config(c.method, c.bench, c.preset,
                                                   list(c.overrides)))
                specs.setdefault((c.bench, chash), set()).add(name)
    configs = Counter(bench for bench, _ in specs)
    assert {b for b, n in configs.items() if n > 1} == {"csl-daily-slt"}
    assert sorted(map(sorted, (v for (b, _), v in specs.items() if b == "csl-daily-slt"))) == \
        [["mslp.yaml"], ["sigma.yaml", "uni_sign.yaml"]]
    assert next(v for (b, _), v in specs.items() if b == "wlasl") == set(EXPECTED)


DRY_RUN_ALL = """
import json, sys
from harness.cli.main import main
codes = [main(["sweep", path, "--dry-run", "--data-root", sys.argv[1]]) for path in sys.argv[2:]]
loaded = sorted(m for m in sys.modules
                if m.split(".")[0] in ("transformers", "tokenizers", "huggingface_hub"))
print("RESULT " + json.dumps({"codes": codes, "loaded": loaded}))
"""


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory) -> tuple[dict[str, str], dict, Path]:
    """The dry run of every paper spec in one fresh process: no prepared data, no Slurm on
    PATH, an empty offline Hugging Face cache, another hash seed than this process."""
    tmp = tmp_path_factory.mktemp("papers")
    env = {**os.environ, "PATH": without_slurm(), "HF_HOME": str(tmp / "hf"),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONHASHSEED": "123",
           "PYTHONPATH": str(PAPERS.parent.parent)}
    env.pop("HARNESS_DATA", None)
    names = sorted(EXPECTED)
    proc = subprocess.run([sys.executable, "-c", DRY_RUN_ALL, str(tmp / "data"),
                           *(str(PAPERS / n) for n in names)], capture_output=True, text=True,
                          cwd=tmp, env=env, timeout=600)
    assert proc.returncode == 0 and "RESULT " in proc.stdout, proc.stderr
    before, result = proc.stdout.rsplit("RESULT ", 1)
    outputs = re.split(r"^(?=sweep paper-)", before, flags=re.M)[1:]
    return dict(zip(names, outputs, strict=True)), json.loads(result), tmp


def test_dry_runs_need_neither_data_nor_slurm_nor_text_models(dry_runs):
    """Each paper spec dry-runs where nothing is prepared and there is no Slurm, and loads
    no text model (mT5 and the sentence encoder are names until a cell builds its model)."""
    outputs, result, tmp = dry_runs
    assert result == {"codes": [0] * len(EXPECTED), "loaded": []}
    for name, out in outputs.items():
        n = len(expand(load_spec(PAPERS / name)))
        assert f": {n} cells: {n} needs data; preset paper" in out
        assert f"#SBATCH --array=0-{n - 1}%16\n" in out and "#SBATCH --gpus-per-node=1\n" in out
        assert f"dry run: would submit {n} cells; nothing submitted" in out
    assert not (tmp / "outputs").exists() and not (tmp / "data").exists()  # nothing written


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_dry_run_prints_each_cell_its_config_hash_and_what_its_key_needs(dry_runs, name):
    """One line per cell with its config hash (as this process resolves it, under another
    hash seed) and, for its key, the command that prepares its benchmark."""
    outputs, _, _ = dry_runs
    spec = load_spec(PAPERS / name)
    lines = [line for line in outputs[name].splitlines()
             if line.split() and line.split()[0] in spec.methods]
    cells = expand(spec)
    assert len(lines) == len(cells)
    runs = {}  # the seeds of a method and benchmark share their config
    for cell, line in zip(cells, lines, strict=True):
        run = runs.setdefault((cell.method, cell.bench), CellRun(cell.options()))
        method, bench, seed, variant, key, *state, job, chash, note = line.split(maxsplit=9)
        assert (method, bench, seed, variant, key) == (cell.method, cell.bench,
                                                       str(cell.seed), "-", "-")
        assert (" ".join(state), job, chash) == (NEEDS_DATA, "-", run.chash)
        assert chash == config_hash(run.cfg)
        assert note.endswith(f"key: needs the prepared data ({run.bench.prepare_hint()})")
        assert f"python -m harness prepare {cell.bench} " in note


@pytest.mark.parametrize("executor", ["slurm", "local"])
def test_submitting_unprepared_data_is_one_line_and_submits_nothing(executor, tmp_path,
                                                                     monkeypatch, capsys):
    """With Slurm's commands at hand (an sbatch that keeps what it is given), a paper sweep
    whose data is not prepared stops before anything: one line naming each benchmark with
    its prepare command, exit 2, no job, no folder."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool, text in (("sbatch", FAKE_SBATCH), ("srun", "#!/bin/sh\n")):
        (bin_dir / tool).write_text(text)
        (bin_dir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)  # the spec's out is relative to here
    data = tmp_path / "data"
    assert main(["sweep", str(PAPERS / "sigma.yaml"), "--data-root", str(data),
                 "--executor", executor]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    for bench in EXPECTED["sigma.yaml"][1]:
        assert f" {bench} (python -m harness prepare {bench} " in err
    assert f"not prepared under {data}" in err and "nothing submitted" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bin"]
    assert sorted(p.name for p in bin_dir.iterdir()) == ["sbatch", "srun"]  # never called


def test_prepared_cells_show_the_runners_keys_beside_unprepared_ones(harness, tmp_path,
                                                                     monkeypatch, capsys):
    """A spec over SynthSign (prepared by the harness) and WLASL (not prepared): the dry run
    prints for the SynthSign cells the keys and config hashes the runner computes, for the
    WLASL cells the prepare command, and the sbatch script of all of them; status says the
    same; a submission names WLASL alone and submits nothing."""
    spec = write_spec(tmp_path / "mixed.yaml", name="mixed", methods=["scratch", "sigma"],
                      benches=["synth-islr", "wlasl"], seeds=[0, 1],
                      bench_set={"synth-islr": [*TINY, "data.synth.pretrain_sentences=200"]},
                      out=str(tmp_path / "out"))
    monkeypatch.setenv("PATH", without_slurm())
    argv = ["sweep", str(spec), "--data-root", str(harness.data), "--profile", "example_gpu"]
    assert main([*argv, "--dry-run"]) == 0
    out = capsys.readouterr().out
    cells = expand(load_spec(spec))
    lines = [line.split(maxsplit=9) for line in out.splitlines()
             if line.split() and line.split()[0] in ("scratch", "sigma")]
    assert len(lines) == len(cells) == 8
    for cell, line in zip(cells, lines, strict=True):
        run = CellRun(cell.options(data_root=harness.data))
        if cell.bench == "synth-islr":
            run.identify()  # the runner's own key: what `harness run` would write under
            assert (line[4], " ".join(line[5:7]), line[8]) == \
                (run.cell_key, "not submitted", run.chash)
        else:
            assert (line[4], " ".join(line[5:7]), line[8]) == ("-", NEEDS_DATA, run.chash)
            assert line[9] == f"key: needs the prepared data ({run.bench.prepare_hint()})"
    assert "4 not submitted, 4 needs data" in out
    assert "#SBATCH --array=0-7%8\n" in out and "would submit 8 cells" in out

    assert main(["sweep", "status", str(spec), "--data-root", str(harness.data)]) == 0
    shown = capsys.readouterr().out
    assert shown.count(NEEDS_DATA) == 4 + 1 and "key: needs the prepared data" in shown

    assert main([*argv, "--executor", "local"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ": wlasl (python -m harness prepare wlasl " in err
    assert "synth-islr" not in err
    assert not (tmp_path / "out").exists()
