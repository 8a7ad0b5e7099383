"""The prepared store: round trip, atomic publication, and refusal of corrupt files."""

import json

import numpy as np
import pytest

from harness.core.pose import PoseSequence
from harness.data.store import PoseStore, StoreWriter
from harness.errors import DataError


def make_pose(t: int, seed: int = 0) -> PoseSequence:
    rng = np.random.default_rng(seed)
    kp = rng.uniform(0, 500, size=(t, 133, 2)).astype(np.float32)
    conf = rng.uniform(0, 1, size=(t, 133)).astype(np.float32)
    valid = conf > 0.2
    return PoseSequence(kp, conf, valid, 25.0, (512, 512), provenance={"seed": seed})


def write_store(path, lengths=(5, 3, 7)):
    poses = [make_pose(t, i) for i, t in enumerate(lengths)]
    with StoreWriter(path) as w:
        for i, p in enumerate(poses):
            w.add(f"c{i}", p, split=["train", "dev", "test"][i % 3], signer=f"s{i}",
                  gloss=f"G{i}", text=f"text {i}")
        w.close()
    return poses


def test_round_trip(tmp_path):
    poses = write_store(tmp_path / "s")
    store = PoseStore(tmp_path / "s")
    assert len(store) == 3 and store.splits() == {"train": 1, "dev": 1, "test": 1}
    for i, p in enumerate(poses):
        got = store.clip(i)
        np.testing.assert_array_equal(got.valid, p.valid)
        np.testing.assert_array_equal(got.keypoints[p.valid], p.keypoints[p.valid])
        assert (got.keypoints[~p.valid] == 0).all()  # missing points are stored as zeros
        np.testing.assert_array_equal(got.confidence, p.confidence)
        assert got.fps == 25.0 and got.frame_size == (512, 512)
        assert got.provenance == {"seed": i}
    assert store.clips[1].gloss == "G1" and store.clips[2].text == "text 2"


def test_fingerprint_depends_on_content(tmp_path):
    write_store(tmp_path / "a")
    write_store(tmp_path / "b")
    write_store(tmp_path / "c", lengths=(5, 3, 8))
    fa, fb, fc = (PoseStore(tmp_path / n).fingerprint for n in "abc")
    assert fa == fb != fc


def test_unfinished_store_is_refused_and_nothing_published_on_error(tmp_path):
    with pytest.raises(RuntimeError), StoreWriter(tmp_path / "s") as w:
        w.add("c0", make_pose(4), split="train")
        raise RuntimeError("killed")
    assert not (tmp_path / "s").exists()
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("damage", ["truncate", "flip", "manifest", "meta", "nan"])
def test_corrupt_store_is_a_data_error(tmp_path, damage):
    write_store(tmp_path / "s")
    root = tmp_path / "s"
    if damage == "truncate":
        data = (root / "keypoints.bin").read_bytes()
        (root / "keypoints.bin").write_bytes(data[:-100])
    elif damage == "flip":
        data = bytearray((root / "confidence.bin").read_bytes())
        data[10] ^= 0xFF
        (root / "confidence.bin").write_bytes(bytes(data))
    elif damage == "manifest":
        (root / "manifest.jsonl").write_text('{"id": "c0"}\n')
    elif damage == "meta":
        (root / "store.json").write_text("{not json")
    elif damage == "nan":
        kp = np.fromfile(root / "keypoints.bin", dtype=np.float32)
        kp[:] = np.nan
        kp.tofile(root / "keypoints.bin")
        meta = json.loads((root / "store.json").read_text())
        meta["files"].pop("keypoints.bin")  # a store whose checksums were rewritten
        (root / "store.json").write_text(json.dumps(meta))
    with pytest.raises(DataError, match=r"prepared store .*s"):
        PoseStore(root)


def test_writer_refuses_bad_clips(tmp_path):
    with StoreWriter(tmp_path / "s") as w:
        bad = make_pose(3)
        bad.keypoints[1, 5] = np.nan
        bad.valid[1, 5] = True
        with pytest.raises(DataError, match="NaN"):
            w.add("nan", bad, split="train")
        with pytest.raises(DataError, match="zero frames"):
            w.add("empty", make_pose(0), split="train")
        with pytest.raises(DataError, match="joints"):
            w.add("joints", PoseSequence(np.zeros((3, 17, 2)), np.ones((3, 17)),
                                         np.ones((3, 17), bool), 25.0, None), split="train")
        w.add("ok", make_pose(2), split="train")
        with pytest.raises(DataError, match="duplicate"):
            w.add("ok", make_pose(2), split="train")
        w.close()
    assert len(PoseStore(tmp_path / "s")) == 1
