"""Bad input ends in one clear error line, exit code 2, and no finished-looking result."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from harness.data.store import file_sha256, fingerprint_of
from tests.conftest import SMALL_SYNTH, SMALL_WORLD

RUN = ["run", "--method", "scratch", "--bench", "synth-islr", "--quiet", "--set", *SMALL_SYNTH,
       "finetune.epochs=1"]


def assert_clean_failure(done, out, *needles):
    assert done.code == 2, (done.code, done.err)
    assert "Traceback" not in done.err
    assert len(done.error_lines) == 1, done.err
    for needle in needles:
        assert needle in done.error_lines[0], done.error_lines[0]
    assert not list(out.glob("cells/*/*/*/result.json"))


@pytest.mark.parametrize(("args", "needles"), [
    (["--method", "scrach", "--bench", "synth-islr"], ["unknown method 'scrach'",
                                                      "did you mean scratch"]),
    (["--method", "scratch", "--bench", "synth-isl"], ["unknown benchmark", "synth-islr"]),
    (["--method", "scratch", "--bench", "synth-islr", "--set", "finetune.epochs"],
     ["malformed --set"]),
    (["--method", "scratch", "--bench", "synth-islr", "--set", "finetune.epoch=2"],
     ["did you mean finetune.epochs"]),
    (["--method", "scratch", "--bench", "synth-islr", "--preset", "huge"],
     ["no preset 'huge'", "smoke"]),
    (["--method", "scratch", "--bench", "synth-islr", "--set", "data.synth.vocab_size=-3"],
     ["data.synth"]),
    (["--method", "scratch", "--bench", "wlasl"],
     ["wlasl is not prepared", "python -m harness prepare wlasl"]),
    (["--method", "scratch"], ["--bench"]),
    (["--method", "sigma", "--bench", "synth-islr", "--preset", "paper", "--set", *SMALL_SYNTH,
      "data.synth.pretrain_sentences=32"],
     ["'google/mt5-base' is not on this machine", "--set model.text.name_or_path=DIR"]),
    (["--method", "scratch", "--bench", "synth-islr", "--seed", "x"], ["invalid int"]),
    (["--method", "scratch", "--bench", "synth-islr", "--set", "precision=fp8"],
     ["precision='fp8'", "fp32, bf16, fp16"]),
    (["--method", "scratch", "--bench", "synth-islr", "--set", "precision=fp16", "--device",
      "cpu"], ["precision=fp16 needs a CUDA device", "precision=bf16"]),
])
def test_bad_arguments(harness, tmp_path, args, needles):
    out = tmp_path / "out"
    assert_clean_failure(harness("run", *args, "--out", str(out)), out, *needles)


@pytest.fixture(scope="module")
def prepared(harness):
    """The small synth-islr store, prepared once: its path."""
    done = harness("prepare", "synth-islr", "--set", *SMALL_WORLD)
    assert done.code == 0, done.err
    # The session's data root holds other synth-islr stores too: take the one prepare reports.
    path = Path(done.out.splitlines()[0].rsplit(" in ", 1)[1])
    assert path.parent == harness.data and path.name.startswith("synth-islr-"), done.out
    return path


def damaged_copy(harness, prepared, tmp_path, damage):
    """A data root holding a copy of the store with ``damage`` applied."""
    root = tmp_path / "data"
    store = root / prepared.name
    shutil.copytree(prepared, store)
    damage(store)
    return root


def rehash(store):
    """Record the current checksums, as a buggy external tool might after writing bad data."""
    meta = json.loads((store / "store.json").read_text())
    meta["files"] = {name: file_sha256(store / name) for name in meta["files"]}
    meta["fingerprint"] = fingerprint_of(meta["files"])
    (store / "store.json").write_text(json.dumps(meta))


def truncate(store):
    data = (store / "keypoints.bin").read_bytes()
    (store / "keypoints.bin").write_bytes(data[: len(data) // 2])


def bitflip(store):
    data = bytearray((store / "keypoints.bin").read_bytes())
    data[1234] ^= 0x40
    (store / "keypoints.bin").write_bytes(bytes(data))


def nan_keypoints(store):
    kp = np.fromfile(store / "keypoints.bin", dtype=np.float32)
    kp[1000:1100] = np.nan
    kp.tofile(store / "keypoints.bin")
    valid = np.fromfile(store / "valid.bin", dtype=np.uint8)
    valid[:] = 1
    valid.tofile(store / "valid.bin")
    rehash(store)


def empty_clip(store):
    offsets = np.fromfile(store / "offsets.bin", dtype=np.int64)
    offsets[1] = 0  # clip 0 now has no frames, clip 1 takes them
    offsets.tofile(store / "offsets.bin")
    lines = (store / "manifest.jsonl").read_text().splitlines()
    first, second = json.loads(lines[0]), json.loads(lines[1])
    second["n_frames"] += first["n_frames"]
    first["n_frames"] = 0
    lines[0], lines[1] = json.dumps(first), json.dumps(second)
    (store / "manifest.jsonl").write_text("\n".join(lines) + "\n")
    rehash(store)


def garbled_meta(store):
    (store / "store.json").write_text("{not json")


@pytest.mark.parametrize(("damage", "needle"), [
    (truncate, "truncated or corrupt"),
    (bitflip, "checksum"),
    (nan_keypoints, "NaN"),
    (empty_clip, "zero frames"),
    (garbled_meta, "store.json is unreadable"),
])
def test_damaged_store(harness, prepared, tmp_path, damage, needle):
    root = damaged_copy(harness, prepared, tmp_path, damage)
    out = tmp_path / "out"
    done = harness(*RUN, "--data-root", str(root), "--out", str(out))
    assert_clean_failure(done, out, needle, str(root))


def test_prepare_rejects_source_for_generated_benchmark(harness, tmp_path):
    done = harness("prepare", "synth-islr", "--source", str(tmp_path))
    assert done.code == 2 and "takes no --source" in done.error_lines[0]


def test_unknown_subcommand_is_one_line(harness):
    done = harness("fly")
    assert done.code == 2 and len(done.err.strip().splitlines()) == 1


def test_a_full_disk_is_one_line_and_damages_nothing(harness, tmp_path):
    out = tmp_path / "out"
    good = harness(*RUN, "--out", str(out))
    assert good.code == 0, good.err
    (first,) = out.glob("cells/*/*/*/result.json")
    before = first.read_bytes()
    full = harness(*RUN, "--seed", "1", "--out", str(out), fault="result.before=enospc")
    assert full.code == 2 and "Traceback" not in full.err, full.err
    assert len(full.error_lines) == 1 and "no space left on the device writing" in full.err
    assert "result.json" in full.error_lines[0]
    assert list(out.glob("cells/*/*/*/result.json")) == [first]  # no result for seed 1
    assert first.read_bytes() == before
    lb = tmp_path / "lb"
    assert harness("leaderboard", "--results", str(out), "--out", str(lb)).code == 0
    pages = {p: p.read_bytes() for p in lb.rglob("*") if p.is_file()}
    cell(out)  # another finished cell: the tables would change
    full = harness("leaderboard", "--results", str(out), "--out", str(lb),
                   fault="atomic.replace=enospc")
    assert full.code == 2 and len(full.error_lines) == 1, full.err
    assert {p: p.read_bytes() for p in lb.rglob("*") if p.is_file()} == pages  # untouched


def cell(out: Path) -> None:
    """Copy the finished cell under ``out`` as a second seed's cell."""
    (src,) = out.glob("cells/*/*/*/result.json")
    dst = src.parent.with_name(src.parent.name + "x")
    shutil.copytree(src.parent, dst)
    result = json.loads((dst / "result.json").read_text())
    result.update(seed=7, cell_key=dst.name)
    (dst / "result.json").write_text(json.dumps(result))
