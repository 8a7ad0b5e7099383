"""A corpus of bad input for every CLI entry point: run, prepare, score, sweep, leaderboard
and reproduce (issue 9, item 3).

Every row is one bad input. The contract for each: exit code 2, exactly one error line on
stderr naming what is wrong, no traceback, nothing half-written left looking finished (no
new result.json, store.json, leaderboard index or temporary file), the shared good outputs
(a prepared store, finished cells, their leaderboard, a sweep's records) unchanged byte for
byte, and no code run from a pickle. Most rows run ``harness.cli.main.main`` in this process;
those marked ``proc`` run ``python -m harness`` in a fresh one, end to end. What the older
tests already cover (tests/test_bad_input.py, test_prepare.py, test_score_cli.py,
test_sweep.py, test_reproduce.py, test_leaderboard.py) is not repeated here.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from harness.io import faults
from tests.conftest import SMALL_SYNTH, in_process
from tests.test_bad_input import rehash
from tests.test_leaderboard import cell as finished_cell
from tests.test_prepare import conf, dump, islr_clips, points, wlasl_json
from tests.test_store import write_store
from tests.test_sweep import FAKE_SBATCH, without_slurm, write_spec

ENTRY_POINTS = ("cli", "run", "prepare", "score", "sweep", "leaderboard", "reproduce")
#: Files whose appearance means "finished": a failed command must not leave a new one.
FINISHED = ("result.json", "store.json", "README.md", "tracked.json")
RUN = ["run", "--method", "scratch", "--bench", "synth-islr", "--quiet"]
CLIP = islr_clips(0)[0]["id"]  # the clip the damaged sources replace


@dataclass
class World:
    """Good inputs and outputs shared by the cases (module scope; never to be changed)."""

    root: Path
    data: Path       # a tiny synth-islr store (SMALL_SYNTH) and wlasl2000 prepared from source
    synth: Path      # that synth-islr store
    source: Path     # Uni-Sign per-clip pickles of 30 clips
    labels: Path     # their WLASL JSON
    cells: Path      # two finished cells
    pages: Path      # the leaderboard of those cells
    recording: Path  # a finished cell's result.json whose config.json holds a full config
    spec: Path       # a valid sweep spec, with earlier submission records under its out


def tree(root: Path) -> dict[Path, str]:
    """sha256 of every file under ``root``."""
    return {p: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    from harness.analysis.leaderboard import write_leaderboards
    from harness.cell.runner import resolve_bench_config, resolve_config
    from harness.core.registry import BENCHMARKS

    root = tmp_path_factory.mktemp("corpus")
    data = root / "data"
    cfg = resolve_config("scratch", "synth-islr", "smoke", SMALL_SYNTH)
    synth = BENCHMARKS.get("synth-islr")(cfg, root=data).store_dir()
    write_store(synth)  # three clips: train, dev, test; nothing has to be generated
    rng = np.random.default_rng(0)
    clips = islr_clips(0)
    source = root / "source"
    for c in clips:
        dump(source / f"{c['id']}.pkl", {"keypoints": [points(rng, (1, 133, 2))] * 4,
                                         "scores": [conf(rng, (1, 133))] * 4})
    labels = wlasl_json(root / "WLASL_v0.3.json", clips)
    BENCHMARKS.get("wlasl")(resolve_bench_config("wlasl", []), root=data).prepare(
        source, labels=labels)
    cells = root / "cells"
    for seed, top1 in enumerate([50.0, 54.0]):
        folder = finished_cell(cells, "scratch", seed, top1, bench="synth-islr", subset=None)
    pages = root / "pages"
    write_leaderboards(cells, pages, resamples=10, plots=False)
    rec = root / "recording"
    shutil.copytree(folder, rec)
    (rec / "config.json").write_text(json.dumps({"config": cfg}))
    spec = write_spec(root / "good.yaml", name="good", methods=["scratch"],
                      benches=["synth-islr"], seeds=[0], set=SMALL_SYNTH,
                      out=str(root / "sweep-out"))
    records = root / "sweep-out" / ".sweeps" / "good" / "submissions.jsonl"
    records.parent.mkdir(parents=True)
    records.write_text('{"cell_key": "0123456789abcdef", "job_id": "1", "executor": "debug"}\n')
    return World(root, data, synth, source, labels, cells, pages, rec / "result.json", spec)


@pytest.fixture(scope="module")
def world_files(world) -> dict[Path, str]:
    return tree(world.root)


# -- builders: each writes a case's inputs under ``tmp`` and returns the CLI arguments ------

def put(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def unreadable(path: Path) -> Path:
    path.chmod(0)
    return path


def then_unreadable(argv: list[str], path: Path) -> list[str]:
    unreadable(path)
    return argv


def run(w: World, tmp: Path, *extra: str, data: Path | None = None, out: Path | None = None,
        sets: tuple[str, ...] = ()) -> list[str]:
    return [*RUN, "--data-root", str(data or w.data), "--out", str(out or tmp / "out"),
            *extra, "--set", *SMALL_SYNTH, "finetune.epochs=1", *sets]


def damaged(damage: Callable[[Path], object]) -> Callable[[World, Path], list[str]]:
    """``run`` on a copy of the synth-islr store with ``damage`` applied."""
    def build(w: World, tmp: Path) -> list[str]:
        store = tmp / "data" / w.synth.name
        shutil.copytree(w.synth, store)
        damage(store)
        return run(w, tmp, data=tmp / "data")

    return build


def edit_meta(**changes) -> Callable[[Path], None]:
    def damage(store: Path) -> None:
        meta = json.loads((store / "store.json").read_text())
        for key, value in changes.items():
            if value is None:
                del meta[key]
            else:
                meta[key] = value
        (store / "store.json").write_text(json.dumps(meta))

    return damage


def edit_array(name: str, dtype: type, change: Callable[[np.ndarray], None]
               ) -> Callable[[Path], None]:
    def damage(store: Path) -> None:
        values = np.fromfile(store / name, dtype=dtype)
        change(values)
        values.tofile(store / name)
        if name == "keypoints.bin":  # every point marked present, so the values count
            valid = np.ones_like(np.fromfile(store / "valid.bin", dtype=np.uint8))
            valid.tofile(store / "valid.bin")
        rehash(store)

    return damage


def drop_test_split(store: Path) -> None:
    rows = [json.loads(line) for line in (store / "manifest.jsonl").read_text().splitlines()]
    for row in rows:
        row["split"] = "train" if row["split"] == "test" else row["split"]
    (store / "manifest.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    rehash(store)


def cut_manifest(store: Path) -> None:
    text = (store / "manifest.jsonl").read_text()
    (store / "manifest.jsonl").write_text(text[: len(text) // 2])
    rehash(store)


def prepare(w: World, tmp: Path, *extra: str, source: Path | None = None,
            labels: Path | None = None, data: Path | None = None) -> list[str]:
    return ["prepare", "wlasl", "--data-root", str(data or tmp / "data"),
            "--source", str(source or w.source), "--labels", str(labels or w.labels), *extra]


def bad_clip(content: object) -> Callable[[World, Path], list[str]]:
    """``prepare`` from a copy of the source whose first clip file holds ``content``
    (an object to pickle, or raw bytes)."""
    def build(w: World, tmp: Path) -> list[str]:
        src = tmp / "src"
        shutil.copytree(w.source, src)
        if isinstance(content, bytes):
            (src / f"{CLIP}.pkl").write_bytes(content)
        else:
            dump(src / f"{CLIP}.pkl", content)
        return prepare(w, tmp, source=src)

    return build


class System:
    """A pickle that runs a shell command when loaded by a plain unpickler."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class Eval:
    """A pickle that evaluates Python code when loaded by a plain unpickler."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (eval, (f"open({str(self.marker)!r}, 'w')",))


def pose(shape: tuple[int, ...], **values) -> dict:
    """A Uni-Sign clip with keypoints (T, 1, J, 2) of ``shape`` and, where given, values."""
    kp = np.full(shape, 0.5, np.float32)
    for index, value in values.items():
        kp[0, 0, int(index.lstrip("j"))] = value
    return {"keypoints": kp, "scores": np.ones(shape[:-1], np.float32)}


def other_labels(tmp: Path, keep: Callable[[dict], dict | None]) -> Path:
    """WLASL labels of the source's clips as ``keep`` changes them (None: left out)."""
    clips = [k for c in islr_clips(0) if (k := keep(dict(c))) is not None]
    return wlasl_json(tmp / "labels.json", clips)


def renamed(clip: dict) -> dict:
    return {**clip, "id": "x" + clip["id"]}  # a clip that is not in the source


def no_test(clip: dict) -> dict | None:
    return None if clip["split"] == "test" else clip


def unpicklable(w: World, tmp: Path) -> Path:
    """A copy of the source whose clip files are not pickles: reading any of them fails."""
    src = shutil.copytree(w.source, tmp / "src")
    for path in src.iterdir():
        path.write_bytes(b"not a pickle")
    return src


def only_sbatch(tmp: Path) -> str:
    """$PATH with a fake sbatch but no srun."""
    put(tmp / "bin" / "sbatch", FAKE_SBATCH).chmod(0o755)
    return f"{tmp / 'bin'}{os.pathsep}{without_slurm()}"


def score(tmp: Path, ref: str | bytes, hyp: str | bytes, *extra: str, bench: str = "synth-islr",
          suffix: str = ".txt") -> list[str]:
    return ["score", "--bench", bench, "--ref", str(put(tmp / f"ref{suffix}", ref)),
            "--hyp", str(put(tmp / f"hyp{suffix}", hyp)), *extra]


def sweep(w: World, tmp: Path, *extra: str, spec: Path | None = None, submit: bool = False,
          **fields) -> list[str]:
    if spec is None:
        base = {"name": "bad", "methods": ["scratch"], "benches": ["synth-islr"], "seeds": [0],
                "set": SMALL_SYNTH, "out": str(tmp / "sweep-out")}
        spec = write_spec(tmp / "bad.yaml", **{**base, **fields})
    return ["sweep", str(spec), *([] if submit else ["--dry-run"]), "--data-root", str(w.data),
            *extra]


def spec_text(w: World, tmp: Path, content: str | bytes, *extra: str) -> list[str]:
    return sweep(w, tmp, *extra, spec=put(tmp / "bad.yaml", content))


def profile(w: World, tmp: Path, content: str | bytes) -> list[str]:
    return sweep(w, tmp, "--profile", str(put(tmp / "profile.yaml", content)))


def leaderboard(w: World, tmp: Path, *extra: str, out: Path | None = None) -> list[str]:
    return ["leaderboard", "--results", str(w.cells), "--out", str(out or tmp / "lb"),
            "--files-only", "--no-plots", "--resamples", "10", *extra]


def reported(w: World, tmp: Path, content: str | bytes, out: Path | None = None) -> list[str]:
    return leaderboard(w, tmp, "--reported", str(put(tmp / "reported.csv", content)), out=out)


def full_disk_midway(w: World, tmp: Path) -> list[str]:
    """A leaderboard whose pages would change (a third cell) on a disk that fills while the
    second page is written: the earlier pages must all stay as they were."""
    cells, lb = tmp / "cells", tmp / "lb"
    shutil.copytree(w.cells, cells)
    shutil.copytree(w.pages, lb)
    finished_cell(cells, "scratch", 2, 70.0, bench="synth-islr", subset=None)
    return ["leaderboard", "--results", str(cells), "--out", str(lb), "--files-only",
            "--no-plots", "--resamples", "10"]


def recording(w: World, tmp: Path, result: str | bytes | None = None,
              config: str | bytes | None = None, **changes) -> list[str]:
    """``reproduce`` of a copy of the good recording with its files replaced or changed."""
    rec = tmp / "rec"
    shutil.copytree(w.recording.parent, rec)
    if changes:
        data = json.loads((rec / "result.json").read_text())
        data.update(changes)
        (rec / "result.json").write_text(json.dumps(data))
    for name, content in (("result.json", result), ("config.json", config)):
        if content == "DELETE":
            (rec / name).unlink()
        elif content is not None:
            put(rec / name, content)
    return ["reproduce", str(rec / "result.json"), "--out", str(tmp / "rep")]


# -- the corpus ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One bad input: how to build it, the phrases its one error line must hold."""

    id: str
    category: str
    build: Callable[[World, Path], list[str]]
    needles: tuple[str, ...]
    fault: str | None = None    # HARNESS_FAULT (see harness.faults)
    proc: bool = False          # in a fresh process (python -m harness), not in this one
    as_user: bool = False       # file permissions must apply (skipped when run as root)
    protect: tuple[str, ...] = ()  # paths under the case's folder that must not change
    absent: tuple[str, ...] = ()   # paths under the case's folder that must not appear
    path: Callable[[Path], str] | None = None  # $PATH for the case, given its folder


def marker(tmp: Path) -> Path:
    return tmp / "pwned"


CASES = [
    # -- run -------------------------------------------------------------------------------
    Case("cli-unknown-subcommand", "unknown name", lambda w, t: ["fli"],
         ("invalid choice: 'fli'",)),
    Case("run-type-epochs", "wrong type",
         lambda w, t: run(w, t, sets=("finetune.epochs=abc",)),
         ("finetune.epochs takes a number", '"abc"'), proc=True),
    Case("run-type-lr", "wrong type", lambda w, t: run(w, t, sets=("finetune.lr=fast",)),
         ("finetune.lr takes a number",)),
    Case("run-type-section", "wrong type", lambda w, t: run(w, t, sets=("finetune=3",)),
         ("finetune is a section", "finetune.epochs=VALUE")),
    Case("run-type-bool", "wrong type", lambda w, t: run(w, t, sets=("data.verify=1",)),
         ("data.verify takes True or False",)),
    Case("run-value-batch", "bad value", lambda w, t: run(w, t, sets=("finetune.batch_size=0",)),
         ("finetune.batch_size=0", "integer >= 1")),
    Case("run-value-epochs", "bad value", lambda w, t: run(w, t, sets=("finetune.epochs=-1",)),
         ("finetune.epochs=-1", "integer >= 1")),
    # issue 20: no epoch of fine-tuning finished a cell at chance, recorded as any other
    Case("run-value-epochs-zero", "bad value",
         lambda w, t: run(w, t, sets=("finetune.epochs=0",)),
         ("finetune.epochs=0", "integer >= 1", "--set finetune.epochs=VALUE")),
    Case("run-value-fraction-zero", "bad value",
         lambda w, t: run(w, t, sets=("data.train_fraction=0.0",)),
         ("data.train_fraction=0.0", "(0, 1]")),
    Case("run-value-lr-zero", "bad value", lambda w, t: run(w, t, sets=("finetune.lr=0.0",)),
         ("finetune.lr=0.0", "a number > 0")),
    Case("run-value-eval-batch-zero", "bad value",
         lambda w, t: run(w, t, sets=("finetune.eval_batch_size=0",)),
         ("finetune.eval_batch_size=0", "integer >= 1")),
    Case("run-value-warmup", "bad value",
         lambda w, t: run(w, t, sets=("finetune.warmup_ratio=2.0",)),
         ("finetune.warmup_ratio=2.0", "[0, 1]")),
    Case("run-unknown-sampling", "unknown name",
         lambda w, t: run(w, t, sets=("data.sampling=randm",)),
         ("data.sampling='randm'", "one of uniform, random")),
    Case("run-unknown-padding", "unknown name",
         lambda w, t: run(w, t, sets=("model.encoder.padding=reflect",)),
         ("model.encoder.padding='reflect'", "one of repeat, zero"), proc=True),
    Case("run-unknown-decoder", "unknown name",
         lambda w, t: run(w, t, sets=("model.heads.cslr.decoder=beem",)),
         ("model.heads.cslr.decoder='beem'", "one of beam, greedy")),
    Case("run-value-fraction", "bad value",
         lambda w, t: run(w, t, sets=("data.train_fraction=2.0",)),
         ("data.train_fraction=2.0", "(0, 1]")),
    Case("run-value-eval-every", "bad value",
         lambda w, t: run(w, t, sets=("finetune.eval_every=0",)), ("finetune.eval_every=0",)),
    Case("run-value-threads", "bad value", lambda w, t: run(w, t, "--threads", "0"),
         ("--threads", "integer >= 1")),
    Case("run-value-compile", "wrong type", lambda w, t: run(w, t, sets=("+compile=yes",)),
         ("compile='yes'", "true or false")),
    Case("run-value-loader-workers", "bad value",
         lambda w, t: run(w, t, "--loader-workers", "-1"), ("--loader-workers",
                                                             "integer >= 0")),
    Case("run-unknown-device", "unknown name", lambda w, t: run(w, t, "--device", "tpu"),
         ("--device 'tpu' is not a device", "cpu")),
    # issue 22: a user's config file (--config) is merged as --set would set its values
    Case("run-config-unknown-key", "unknown key",
         lambda w, t: run(w, t, "--config", str(put(t / "mine.yaml", "finetune:\n  epoch: 1\n"))),
         ("mine.yaml: finetune.epoch: no key 'epoch'", "did you mean finetune.epochs")),
    Case("run-config-invalid-python", "malformed option",
         lambda w, t: run(w, t, "--config", str(put(t / "mine.py", "finetune = dict(epochs=1\n"))),
         ("mine.py:1: invalid python",), proc=True),
    Case("run-config-missing", "missing path",
         lambda w, t: run(w, t, "--config", str(t / "nowhere.py")),
         ("nowhere.py: cannot be read",)),
    Case("run-earlier-cells", "bad value",
         lambda w, t: run(w, t, "--device", "tpu", out=w.cells), ("--device 'tpu'",)),
    Case("run-out-is-file", "missing path",
         lambda w, t: run(w, t, out=put(t / "out", "not a folder")),
         ("a file is in the way", "out")),
    Case("run-data-root-is-file", "missing path",
         lambda w, t: run(w, t, data=put(t / "data", "not a folder")),
         ("a file is in the way", "data")),
    Case("run-tracking-store-corrupt", "corrupt file",
         lambda w, t: run(w, t, "--tracking-uri",
                          f"sqlite:///{put(t / 'mlflow.db', b'not sqlite' * 200)}"),
         ("mlflow.db cannot be opened", "--tracking-uri")),
    Case("run-store-header-key", "corrupt store", damaged(edit_meta(n_frames=None)),
         ("store.json has no valid n_frames", "prepare it again"), proc=True),
    Case("run-store-header-type", "corrupt store", damaged(edit_meta(n_clips="many")),
         ("store.json has no valid n_clips",)),
    Case("run-store-header-layout", "corrupt store", damaged(edit_meta(layout="bogus")),
         ("unknown keypoint layout 'bogus'",)),
    Case("run-store-header-files", "corrupt store", damaged(edit_meta(files=3)),
         ("lacks the checksums",)),
    Case("run-store-channels", "wrong joint count", damaged(edit_meta(channels=3)),
         ("keypoints.bin has", "truncated or corrupt")),
    Case("run-store-manifest-cut", "truncated store", damaged(cut_manifest),
         ("manifest.jsonl is unreadable",)),
    Case("run-store-missing-file", "truncated store",
         damaged(lambda s: (s / "valid.bin").unlink()), ("valid.bin is missing",)),
    Case("run-store-inf", "non-finite keypoints",
         damaged(edit_array("keypoints.bin", np.float32, lambda a: a.fill(np.inf))),
         ("NaN or infinite keypoints",)),
    Case("run-store-confidence-nan", "non-finite keypoints",
         damaged(edit_array("confidence.bin", np.float32, lambda a: a.__setitem__(3, np.nan))),
         ("confidence holds NaN",)),
    Case("run-store-offsets-out-of-range", "out-of-range",
         damaged(edit_array("offsets.bin", np.int64, lambda a: a.__setitem__(1, 10 ** 9))),
         ("offsets are not a monotone index",)),
    Case("run-store-no-test-split", "mismatched labels", damaged(drop_test_split),
         ("has no test split",)),
    Case("run-store-unreadable", "unreadable path",
         damaged(lambda s: unreadable(s / "keypoints.bin")),
         ("permission denied", "keypoints.bin"), as_user=True),

    # -- prepare ---------------------------------------------------------------------------
    Case("prepare-unknown-bench", "unknown name", lambda w, t: ["prepare", "wlsl"],
         ("unknown benchmark 'wlsl'", "did you mean wlasl")),
    Case("prepare-unknown-format", "unknown name",
         lambda w, t: prepare(w, t, "--format", "unisgn"),
         ("argument --format: invalid choice: 'unisgn'", "'unisign'", "'pose'")),
    Case("prepare-malformed-set", "malformed option",
         lambda w, t: prepare(w, t, "--set", "bench"), ("malformed --set 'bench'",)),
    Case("prepare-unknown-key", "unknown key",
         lambda w, t: prepare(w, t, "--set", "bench.subzet=100"),
         ("no key 'subzet'", "did you mean bench.subset")),
    Case("prepare-type-subset", "wrong type",
         lambda w, t: prepare(w, t, "--set", "bench.subset=abc"),
         ("bench.subset takes a number",)),
    Case("prepare-value-subset", "bad value", lambda w, t: prepare(w, t, "--set", "bench.subset=7"),
         ("bench.subset=7 is not a wlasl subset", "100, 300, 1000, 2000")),
    Case("prepare-data-root-is-file", "missing path",
         lambda w, t: prepare(w, t, data=put(t / "data", "not a folder")),
         ("a file is in the way",), proc=True),
    Case("prepare-labels-missing", "missing path",
         lambda w, t: prepare(w, t, labels=t / "nowhere.json"),
         ("label path", "nowhere.json does not exist")),
    Case("prepare-labels-unreadable", "unreadable path",
         lambda w, t: prepare(w, t, labels=unreadable(put(t / "l.json", w.labels.read_text()))),
         ("l.json",), as_user=True),
    Case("prepare-source-unreadable", "unreadable path",
         lambda w, t: prepare(w, t, source=unreadable(shutil.copytree(w.source, t / "src"))),
         ("permission denied", "src"), as_user=True),
    Case("prepare-labels-non-utf8", "corrupt file",
         lambda w, t: prepare(w, t, labels=put(t / "l.json", b"\xff\xfe[]")),
         ("l.json: not a readable WLASL JSON file", "UnicodeDecodeError")),
    Case("prepare-labels-truncated", "truncated file",
         lambda w, t: prepare(w, t, labels=put(t / "l.json", w.labels.read_text()[:200])),
         ("l.json: not a readable WLASL JSON file",)),
    Case("prepare-labels-unknown-clips", "mismatched labels",
         lambda w, t: prepare(w, t, labels=other_labels(t, renamed)),
         ("none of the 30 clips matches a label id", "nothing prepared")),
    Case("prepare-labels-missing-split", "mismatched labels",
         lambda w, t: prepare(w, t, labels=other_labels(t, no_test)),
         ("the labels have no test clips", "nothing prepared")),
    Case("prepare-labels-missing-split-force", "mismatched labels",  # over the good store
         lambda w, t: prepare(w, t, "--force", data=w.data, labels=other_labels(t, no_test)),
         ("the labels have no test clips",)),
    Case("prepare-labels-missing-split-before-poses", "mismatched labels",  # none read
         lambda w, t: prepare(w, t, source=unpicklable(w, t), labels=other_labels(t, no_test)),
         ("labels.json: the labels have no test clips", "nothing prepared")),
    Case("prepare-labels-duplicate-id", "mismatched labels",
         lambda w, t: prepare(w, t, source=unpicklable(w, t), labels=wlasl_json(
             t / "labels.json", [*islr_clips(0), islr_clips(0)[0]])),
         (f"labels.json: clip '{CLIP}' is labelled twice", "label ids must be unique")),
    Case("prepare-over-other-source", "other inputs",  # the good store stays
         lambda w, t: prepare(w, t, data=w.data, source=shutil.copytree(w.source, t / "other")),
         ("wlasl2000 is already prepared from other inputs", "/source (asked: ",
          "/other); add --force")),
    Case("prepare-over-other-fps", "other inputs",
         lambda w, t: prepare(w, t, "--set", "bench.fps=50", data=w.data),
         ("already prepared from other inputs", "bench.fps 25.0 (asked: 50.0)")),
    Case("prepare-pickle-os-system", "forbidden pickle",
         lambda w, t: bad_clip({"keypoints": System(marker(t)), "scores": []})(w, t),
         ("system, which the harness does not load", f"{CLIP}.pkl"), proc=True),
    Case("prepare-pickle-eval", "forbidden pickle",
         lambda w, t: bad_clip({"keypoints": Eval(marker(t)), "scores": []})(w, t),
         ("builtins.eval, which the harness does not load",)),
    Case("prepare-labels-pickle-eval", "forbidden pickle",
         lambda w, t: prepare(w, t, labels=put(t / "labels" / "labels.train", gzip.compress(
             pickle.dumps({CLIP: Eval(marker(t))}))).parent),
         ("labels.train: the pickle refers to builtins.eval",)),
    Case("prepare-pickle-truncated-gzip", "truncated file",
         bad_clip(gzip.compress(pickle.dumps(pose((4, 1, 133, 2))))[:40]),
         ("unreadable clips", "corrupt gzip data")),
    Case("prepare-inf-keypoints", "non-finite keypoints", bad_clip(pose((4, 1, 133, 2), j5=np.inf)),
         ("NaN or infinite values in valid points", CLIP)),
    Case("prepare-zero-frames", "zero frames", bad_clip(pose((0, 1, 133, 2))),
         ("zero frames",)),
    Case("prepare-wrong-joints", "wrong joint count", bad_clip(pose((4, 1, 127, 2))),
         ("wrong joint count",)),
    Case("prepare-full-disk", "full disk",
         lambda w, t: prepare(w, t, "--force", data=w.data),
         ("no space left on the device writing", "store.json"), fault="atomic.replace=enospc"),

    # -- score -----------------------------------------------------------------------------
    Case("score-unknown-bench", "unknown name",
         lambda w, t: score(t, "A\n", "A\n", bench="synth-isl"),
         ("unknown benchmark 'synth-isl'", "did you mean synth-islr")),
    Case("score-missing-hyp", "malformed option",
         lambda w, t: ["score", "--bench", "synth-islr", "--ref", str(put(t / "r.txt", "A\n"))],
         ("required: --hyp",)),
    Case("score-malformed-set", "malformed option",
         lambda w, t: score(t, "A\n", "A\n", "--set", "eval"), ("malformed --set 'eval'",)),
    Case("score-unknown-key", "unknown key",
         lambda w, t: score(t, "A\n", "A\n", "--set", "eval.bogus=1"),
         ("no key 'bogus' in eval", "'+'")),
    Case("score-type-option", "wrong type",
         lambda w, t: score(t, "A b\n", "A b\n", "--set", "eval.rouge_beta=abc",
                            bench="synth-slt"),
         ("eval.rouge_beta takes a number",)),
    Case("score-hyp-non-utf8", "non-UTF-8",
         lambda w, t: score(t, '{"id": "a", "reference": "A"}\n',
                            b'{"id": "a", "prediction": "\xff"}\n', suffix=".jsonl"),
         ("--hyp", "is not UTF-8 text", "save it as UTF-8"), proc=True),
    Case("score-ref-blank", "empty file", lambda w, t: score(t, " \n\n", "A\n"),
         ("--ref", "is empty")),
    Case("score-ref-unreadable", "unreadable path",
         lambda w, t: then_unreadable(score(t, "A\n", "A\n"), t / "ref.txt"),
         ("cannot read --ref",), as_user=True),
    Case("score-duplicate-clip", "mismatched labels",
         lambda w, t: score(t, '{"a": "A", "a": "B"}', '{"a": "A"}', suffix=".json"),
         ("--ref", "clip id 'a' appears twice")),
    Case("score-nan-label", "non-finite value",
         lambda w, t: score(t, '{"a": NaN}', '{"a": "A"}', suffix=".json"),
         ("the value of clip 'a' is NaN",)),

    # -- sweep -----------------------------------------------------------------------------
    Case("sweep-status-without-spec", "malformed option", lambda w, t: ["sweep", "status"],
         ("sweep status needs a spec",)),
    Case("sweep-unknown-executor", "unknown name",
         lambda w, t: sweep(w, t, "--executor", "pbs"), ("invalid choice: 'pbs'",)),
    Case("sweep-unknown-profile", "unknown name", lambda w, t: sweep(w, t, "--profile", "gpux"),
         ("unknown Slurm profile 'gpux'", "example_gpu")),
    Case("sweep-unknown-profile-submit", "unknown name",  # the good sweep's records stay
         lambda w, t: ["sweep", str(w.spec), "--profile", "gpux", "--executor", "local",
                       "--data-root", str(w.data)], ("unknown Slurm profile 'gpux'",)),
    Case("sweep-unknown-bench", "unknown name", lambda w, t: sweep(w, t, benches=["synth-isl"]),
         ("benches: unknown benchmark 'synth-isl'",)),
    Case("sweep-unknown-preset", "unknown name", lambda w, t: sweep(w, t, preset="huge"),
         ("no preset 'huge'",)),
    Case("sweep-profile-type", "wrong type", lambda w, t: profile(w, t, "partition: 3\n"),
         ("profile.yaml: partition must be a string",)),
    Case("sweep-profile-yaml", "corrupt file", lambda w, t: profile(w, t, "nodes: [\n"),
         ("profile.yaml: not valid YAML",)),
    Case("sweep-profile-non-utf8", "non-UTF-8", lambda w, t: profile(w, t, b"qos: \xff\n"),
         ("profile.yaml: not UTF-8 text",)),
    Case("sweep-spec-non-utf8", "non-UTF-8",
         lambda w, t: spec_text(w, t, b"methods: [scr\xffatch]\n"),
         ("bad.yaml: not UTF-8 text", "save it as UTF-8"), proc=True),
    Case("sweep-spec-truncated", "truncated file",
         lambda w, t: spec_text(w, t, "methods: [scratch\n"), ("bad.yaml: not valid YAML",)),
    Case("sweep-spec-empty", "empty file", lambda w, t: spec_text(w, t, ""),
         ("bad.yaml: expected a mapping",)),
    Case("sweep-spec-unreadable", "unreadable path",
         lambda w, t: sweep(w, t, spec=unreadable(put(t / "s.yaml", w.spec.read_text()))),
         ("permission denied", "s.yaml"), as_user=True),
    Case("sweep-type-set", "wrong type",
         lambda w, t: sweep(w, t, set=[*SMALL_SYNTH, "finetune.epochs=abc"]),
         ("bad.yaml: scratch on synth-islr", "finetune.epochs takes a number")),
    Case("sweep-value-seeds", "bad value", lambda w, t: sweep(w, t, seeds=[0, 0]),
         ("seeds must be a non-empty list of distinct integers",)),
    Case("sweep-value-threads", "bad value", lambda w, t: sweep(w, t, "--threads", "0"),
         ("--threads", "integer >= 1")),
    Case("sweep-value-max", "bad value", lambda w, t: sweep(w, t, "--max", "-1"),
         ("--max -1",)),
    Case("sweep-submit-without-slurm", "missing tool",
         lambda w, t: sweep(w, t, submit=True), ("srun and sbatch are not on PATH here",
                                                 "--executor local", "--dry-run"),
         path=lambda t: without_slurm(), absent=("sweep-out",)),
    Case("sweep-submit-without-srun", "missing tool",
         lambda w, t: sweep(w, t, submit=True), ("srun is not on PATH here",),
         path=only_sbatch, absent=("sweep-out",)),
    Case("sweep-out-is-file", "missing path",
         lambda w, t: sweep(w, t, out=str(put(t / "sweep-out", "not a folder"))),
         ("a file is in the way", "sweep-out")),

    # -- leaderboard -----------------------------------------------------------------------
    Case("leaderboard-filter-unknown-key", "unknown key",
         lambda w, t: leaderboard(w, t, "--filter", "methd=scratch"),
         ("--filter methd: no finished cell has this key",)),
    Case("leaderboard-value-resamples", "bad value",
         lambda w, t: leaderboard(w, t, "--resamples", "-5"), ("--resamples", "integer >= 0")),
    Case("leaderboard-reported-missing", "missing path",
         lambda w, t: leaderboard(w, t, "--reported", str(t / "nowhere.csv")),
         ("--reported", "nowhere.csv is not a file")),
    Case("leaderboard-reported-non-utf8", "non-UTF-8",
         lambda w, t: reported(w, t, b"\xff\xfemethod\n"),
         ("reported.csv: not a readable UTF-8 CSV file",)),
    Case("leaderboard-reported-short-row", "truncated file",
         lambda w, t: reported(w, t, "method,paper_method,bench,split,metric,protocol,value,"
                                     "input,source,confidence\nsigma,Sigma\n"),
         ("reported.csv:2: expected 10 fields",)),
    Case("leaderboard-reported-no-protocol", "corrupt file",  # the columns before issue 20
         lambda w, t: reported(w, t, "method,paper_method,bench,split,metric,value,input,source,"
                                     "confidence\nsigma,Sigma,wlasl2000,test,top1,64.4,pose,"
                                     "x,secondary\n"),
         ("reported.csv: expected the columns", "protocol")),
    Case("leaderboard-reported-earlier-pages", "corrupt file",  # the good pages stay
         lambda w, t: reported(w, t, "method,value\n", out=w.pages),
         ("reported.csv: expected the columns",)),
    Case("leaderboard-reported-unreadable", "unreadable path",
         lambda w, t: leaderboard(w, t, "--reported", str(unreadable(put(t / "r.csv", "x")))),
         ("permission denied", "r.csv"), as_user=True),
    Case("leaderboard-out-is-file", "missing path",
         lambda w, t: leaderboard(w, t, out=put(t / "lb", "not a folder")),
         ("a file is in the way", "lb")),
    Case("leaderboard-tracking-store-missing", "missing path",
         lambda w, t: ["leaderboard", "--results", str(w.cells), "--out", str(t / "lb"),
                       "--tracking-uri", f"sqlite:///{t / 'none.db'}"],
         ("there is no MLflow store at", "none.db"), absent=("none.db",)),
    Case("leaderboard-tracking-store-corrupt", "corrupt file",
         lambda w, t: ["leaderboard", "--results", str(w.cells), "--out", str(t / "lb"),
                       "--tracking-uri", f"sqlite:///{put(t / 'm.db', b'not sqlite' * 200)}"],
         ("m.db cannot be opened",)),
    Case("leaderboard-full-disk-midway", "full disk", full_disk_midway,
         ("no space left on the device writing", "cslr.md"),
         fault="atomic.replace:2=enospc", protect=("lb",), proc=True),

    # -- reproduce -------------------------------------------------------------------------
    Case("reproduce-result-non-utf8", "non-UTF-8", lambda w, t: recording(w, t, b"\xff\xfe{}"),
         ("rec/result.json is not valid JSON",)),
    Case("reproduce-result-truncated", "truncated file",
         lambda w, t: recording(w, t, w.recording.read_text()[:80]),
         ("rec/result.json is not valid JSON",)),
    Case("reproduce-result-unreadable", "unreadable path",
         lambda w, t: then_unreadable(recording(w, t), t / "rec" / "result.json"),
         ("permission denied", "result.json"), as_user=True),
    Case("reproduce-config-missing", "missing path", lambda w, t: recording(w, t, config="DELETE"),
         ("rec/config.json is missing",)),
    Case("reproduce-config-without-config", "corrupt file",
         lambda w, t: recording(w, t, config='{"method": "scratch"}'),
         ("rec/config.json holds no resolved config",), proc=True),
    Case("reproduce-config-list", "corrupt file", lambda w, t: recording(w, t, config="[1, 2]"),
         ("rec/config.json holds no resolved config",)),
    Case("reproduce-unknown-method", "unknown name", lambda w, t: recording(w, t, method="scrach"),
         ("unknown method 'scrach'",)),
    Case("reproduce-unknown-preset", "unknown name", lambda w, t: recording(w, t, preset="huge"),
         ("no preset 'huge'",)),
    Case("reproduce-value-tolerance", "bad value",
         lambda w, t: [*recording(w, t), "--tolerance", "-1"], ("--tolerance -1.0",)),
    Case("reproduce-value-tolerance-nan", "bad value",
         lambda w, t: [*recording(w, t), "--tolerance", "nan"], ("--tolerance nan",)),
    Case("reproduce-value-threads", "bad value",
         lambda w, t: [*recording(w, t), "--threads", "0"], ("--threads", "integer >= 1")),
    Case("reproduce-earlier-cells", "bad value",  # the good cells stay
         lambda w, t: ["reproduce", str(w.recording), "--out", str(w.cells)],
         ("already holds cells", "fresh folder")),
    Case("reproduce-run-id-no-store", "missing path",
         lambda w, t: ["reproduce", "0123456789abcdef", "--tracking-uri",
                       f"sqlite:///{t / 'none.db'}"],
         ("there is no MLflow store at", "none.db"), absent=("none.db",)),
    Case("reproduce-run-id-corrupt-store", "corrupt file",
         lambda w, t: ["reproduce", "0123456789abcdef", "--tracking-uri",
                       f"sqlite:///{put(t / 'm.db', b'not sqlite' * 200)}"],
         ("m.db cannot be opened",)),
]


def entry_point(case: Case) -> str:
    return case.id.split("-")[0]


def permissions_apply(tmp: Path) -> bool:
    """Whether a file without read permission is unreadable here (not so for root, unless
    it runs without the capability that overrides file permissions)."""
    probe = unreadable(put(tmp / "probe", "x"))
    try:
        probe.read_text()
        return False
    except PermissionError:
        return True
    finally:
        probe.chmod(0o644)
        probe.unlink()


def finished_looking(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.name in FINISHED or ".tmp-" in p.name}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_fails_in_one_line_and_damages_nothing(case, world, world_files, harness,
                                                         tmp_path, capsys, monkeypatch):
    if case.as_user and os.geteuid() == 0 and not permissions_apply(tmp_path):
        pytest.skip("file permissions do not stop root")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HARNESS_DATA", str(world.data))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(faults, "_reached", {})
    if case.fault:
        monkeypatch.setenv("HARNESS_FAULT", case.fault)
    else:
        monkeypatch.delenv("HARNESS_FAULT", raising=False)
    argv = case.build(world, tmp_path)
    if case.path:
        monkeypatch.setenv("PATH", case.path(tmp_path))
    before = finished_looking(tmp_path)
    kept = {p: tree(tmp_path / p) for p in case.protect}
    try:
        done = harness(*argv, timeout=120, fault=case.fault) if case.proc \
            else in_process(argv, capsys)
    finally:
        for path in tmp_path.rglob("*"):  # let pytest clean up what a case made unreadable
            if not path.is_symlink():
                path.chmod(0o755 if path.is_dir() else 0o644)
    assert done.code == 2, (done.code, done.out, done.err)
    assert "Traceback" not in done.err, done.err
    assert len(done.error_lines) == 1, done.err
    for needle in case.needles:
        assert needle in done.error_lines[0], (needle, done.error_lines[0])
    assert finished_looking(tmp_path) == before  # nothing new looks finished or half-written
    assert {p: tree(tmp_path / p) for p in case.protect} == kept
    for name in case.absent:
        assert not (tmp_path / name).exists(), name
    assert not marker(tmp_path).exists()  # no pickle ran code
    assert tree(world.root).items() >= world_files.items()  # good outputs are unchanged
    new = finished_looking(world.root) - set(world_files)
    assert not new, new


def test_the_corpus_covers_every_entry_point_and_category():
    by_entry = {e: {c.category for c in CASES if entry_point(c) == e} for e in ENTRY_POINTS}
    assert all(by_entry.values()), by_entry
    categories = {c.category for c in CASES}
    assert {"unknown name", "malformed option", "unknown key", "wrong type", "bad value",
            "missing path", "unreadable path", "truncated store", "corrupt store",
            "forbidden pickle", "non-finite keypoints", "out-of-range", "zero frames",
            "wrong joint count", "mismatched labels", "non-UTF-8", "empty file",
            "full disk"} <= categories
    assert {entry_point(c) for c in CASES if c.category == "full disk"} >= {
        "prepare", "leaderboard"}
    assert len({c.id for c in CASES}) == len(CASES)
