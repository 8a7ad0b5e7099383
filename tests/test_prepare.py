"""`python -m harness prepare` from each published pose format, then a cell on the result.

Each test writes a small dataset in the exact layout a release uses (Uni-Sign per-clip
pickles with gzip-pickled label dicts; an SLRT dataset pickle with WLASL JSON labels; a pyskl
annotation pickle; OpenHands per-clip pickles; `.pose` files with the PHOENIX-2014-T corpus
CSVs), prepares it through the CLI, checks that the store holds exactly what was written
(keypoints, confidence, fps, labels) and runs one short cell on it.
"""

from __future__ import annotations

import csv
import gzip
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from pose_format import Pose
from pose_format.numpy.pose_body import NumPyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderDimensions
from pose_format.utils.cocowholebody133_header import cocowholebody_components

from benchmarks.formats._mediapipe import POSE_LANDMARKS
from harness.core.layouts import COCO_WHOLEBODY_133, LEFT_HAND_OFFSET, RIGHT_HAND_OFFSET
from harness.data.store import PoseStore

F32 = np.float32
WORDS = ["book", "drink", "computer", "before", "chair", "go"]
SPLITS = {"train": 3, "val": 1, "test": 1}          # clips per word and split
CELL = ["--method", "scratch", "--quiet", "--threads", "1", "--set", "finetune.epochs=1",
        "data.max_frames=16"]


def islr_clips(seed: int = 0) -> list[dict]:
    """(id, split, word, T) of a 6-word ISLR set: 3 train, 1 val, 1 test clip per word."""
    rng = np.random.default_rng(seed)
    clips = []
    for w, word in enumerate(WORDS):
        for split, n in SPLITS.items():
            for k in range(n):
                clips.append({"id": f"{w:02d}{split[:2]}{k}", "split": split, "word": word,
                              "label": w, "T": int(rng.integers(6, 12))})
    return clips


def dump(path: Path, obj, compress: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = pickle.dumps(obj, protocol=4)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def wlasl_json(path: Path, clips: list[dict]) -> Path:
    entries = {word: {"gloss": word, "instances": []} for word in WORDS}
    for c in clips:
        entries[c["word"]]["instances"].append(
            {"bbox": [0, 0, 10, 10], "fps": 25, "frame_start": 1, "frame_end": -1,
             "instance_id": 0, "signer_id": 3, "source": "test", "split": c["split"],
             "url": "http://example.invalid", "variation_id": 0, "video_id": c["id"]})
    path.write_text(json.dumps(list(entries.values())))
    return path


def points(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 1.0) -> np.ndarray:
    return (0.05 + 0.9 * rng.random(shape) * scale).astype(F32)


def conf(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return (0.3 + 0.7 * rng.random(shape)).astype(F32)


def stored(store: PoseStore) -> dict[str, tuple]:
    out = {}
    for i, info in enumerate(store.clips):
        kp, cf, valid = store.arrays(i)
        out[info.id] = (np.asarray(kp), np.asarray(cf), np.asarray(valid).astype(bool), info)
    return out


def prepare(harness, bench: str, *args: str) -> PoseStore:
    done = harness("prepare", bench, *args)
    assert done.code == 0, done.err
    assert "clips read" in done.out and "0 fatal problem(s)" in done.out
    assert "fingerprint:" in done.out
    (path,) = [line.split(" in ")[-1] for line in done.out.splitlines()
               if line.startswith(f"{bench}:")]
    return PoseStore(path)


def run_cell(harness, bench: str, data_root: Path, *extra: str) -> dict:
    out = data_root.parent / f"out-{bench}"
    done = harness("run", *CELL[:-3], "--bench", bench, "--out", str(out), "--data-root",
                   str(data_root), *CELL[-3:], *extra)
    assert done.code == 0, done.err
    (path,) = out.glob("cells/*/*/*/result.json")
    return json.loads(path.read_text())


def unisign_release(folder: Path, seed: int = 1) -> tuple[list[dict], dict[str, tuple]]:
    """Uni-Sign's layout under ``folder``: poses/<split>/<id>.pkl and labels/labels.<split>;
    the clips and what each pickle holds (keypoints, scores)."""
    rng = np.random.default_rng(seed)
    clips, written, labels = islr_clips(seed), {}, {}
    for c in clips:
        kps = [points(rng, (1, 133, 2)).astype(np.float64) for _ in range(c["T"])]
        scores = [conf(rng, (1, 133)) for _ in range(c["T"])]
        dump(folder / "poses" / c["split"] / f"{c['id']}.pkl",
             {"keypoints": kps, "scores": scores})
        written[c["id"]] = (np.stack([k[0] for k in kps]).astype(F32),
                            np.stack([s[0] for s in scores]))
        labels.setdefault(c["split"], {})[c["id"]] = {
            "name": c["id"], "gloss": "", "text": c["word"],
            "video_path": f"{c['split']}/{c['id']}.mp4"}
    for split, entries in labels.items():
        dump(folder / "labels" / f"labels.{split}", entries, compress=True)
    return clips, written


def test_unisign_pickles_and_label_dicts(harness, tmp_path):
    clips, written = unisign_release(tmp_path)
    root = tmp_path / "data"
    store = prepare(harness, "wlasl", "--source", str(tmp_path / "poses"), "--labels",
                    str(tmp_path / "labels"), "--data-root", str(root))
    assert store.path.name == "wlasl2000"
    info = store.meta["info"]
    assert info["format"] == "unisign" and info["label_format"] == "unisign"
    assert info["validation"]["counts"]["train"]["found"] == 18
    assert info["validation"]["counts"]["train"]["expected"] == 14289
    got = stored(store)
    assert set(got) == set(written)
    by_id = {c["id"]: c for c in clips}
    for clip_id, (kp, cf, valid, meta) in got.items():
        np.testing.assert_array_equal(kp, written[clip_id][0])
        np.testing.assert_array_equal(cf, written[clip_id][1])
        assert valid.all() and meta.fps == 25.0
        split = {"val": "dev"}.get(by_id[clip_id]["split"], by_id[clip_id]["split"])
        assert (meta.split, meta.gloss) == (split, by_id[clip_id]["word"])

    result = run_cell(harness, "wlasl", root)
    assert result["benchmark"]["counts"] == {"train": 18, "dev": 6, "test": 6}
    assert result["signatures"]["topk"].startswith("protocol:islr-topk")


def test_archives_prepare_the_same_store_as_their_folders(harness, tmp_path):
    """Releases come as archives: a tar.gz of the poses and a zip of the labels give the
    store their extracted folders give, with sources recorded as ARCHIVE!member and no
    extraction folder left behind."""
    import tarfile
    import zipfile

    unisign_release(tmp_path / "release")
    with tarfile.open(tmp_path / "poses.tar.gz", "w:gz") as tf:
        tf.add(tmp_path / "release" / "poses", arcname="WLASL/poses")
    with zipfile.ZipFile(tmp_path / "labels.zip", "w") as zf:
        for f in sorted((tmp_path / "release" / "labels").iterdir()):
            zf.write(f, f"labels/{f.name}")
    plain = prepare(harness, "wlasl", "--source", str(tmp_path / "release" / "poses"),
                    "--labels", str(tmp_path / "release" / "labels"), "--data-root",
                    str(tmp_path / "plain"))
    packed = prepare(harness, "wlasl", "--source", str(tmp_path / "poses.tar.gz"),
                     "--labels", str(tmp_path / "labels.zip"), "--data-root",
                     str(tmp_path / "packed"))
    got, want = stored(packed), stored(plain)
    assert set(got) == set(want) and len(got) == 30
    for clip_id, (kp, cf, valid, meta) in got.items():
        for a, b in zip((kp, cf, valid), want[clip_id][:3], strict=True):
            np.testing.assert_array_equal(a, b)
        assert (meta.split, meta.gloss, meta.fps) == (want[clip_id][3].split,
                                                     want[clip_id][3].gloss, 25.0)
    assert packed.meta["info"]["source"] == f"{tmp_path / 'poses.tar.gz'}!WLASL/poses"
    assert {c.source.split("!")[0] for c in packed.clips} == {str(tmp_path / "poses.tar.gz")}
    assert all(c.source.split("!")[1].startswith("WLASL/poses/") for c in packed.clips)
    assert [p.name for p in (tmp_path / "packed").iterdir()] == ["wlasl2000"]

    # a member that would land outside the extraction folder: one line, exit 2, no store
    evil = tmp_path / "evil.tar"
    with tarfile.open(evil, "w") as tf:
        tf.add(tmp_path / "release" / "poses", arcname="poses")
        tf.add(tmp_path / "labels.zip", arcname="../../outside.zip")
    done = harness("prepare", "wlasl", "--source", str(evil), "--labels",
                   str(tmp_path / "labels.zip"), "--data-root", str(tmp_path / "evil"))
    assert done.code == 2 and len(done.error_lines) == 1, done.err
    assert "member '../../outside.zip' has a '..' component" in done.err
    assert "Traceback" not in done.err and not (tmp_path / "outside.zip").exists()
    assert not any((tmp_path / "evil").iterdir())


def test_slrt_pickle_with_wlasl_json(harness, tmp_path):
    rng = np.random.default_rng(2)
    clips, payload = islr_clips(2), {}
    for c in clips:
        arr = np.concatenate([points(rng, (c["T"], 133, 2), 256.0) * 400,
                              conf(rng, (c["T"], 133, 1))], axis=-1)
        payload[f"{c['split']}/{c['id']}"] = {"keypoints": arr}
    dump(tmp_path / "keypoints_hrnet.pkl", payload)
    wlasl_json(tmp_path / "WLASL_v0.3.json", clips)

    root = tmp_path / "data"
    store = prepare(harness, "wlasl", "--source", str(tmp_path / "keypoints_hrnet.pkl"),
                    "--format", "slrt", "--labels", str(tmp_path / "WLASL_v0.3.json"),
                    "--data-root", str(root), "--set", "bench.subset=100", "bench.fps=30")
    assert store.path.name == "wlasl100" and store.meta["info"]["label_format"] == "wlasl"
    got = stored(store)
    for key, value in payload.items():
        kp, cf, valid, meta = got[key.split("/")[1]]
        np.testing.assert_array_equal(kp, value["keypoints"][..., :2])
        np.testing.assert_array_equal(cf, value["keypoints"][..., 2])
        assert valid.all() and meta.fps == 30.0 and meta.coord_space == "pixel"
        assert meta.signer == "3"
    run_cell(harness, "wlasl", root, "bench.subset=100")


def test_pyskl_annotations_carry_their_own_labels(harness, tmp_path):
    rng = np.random.default_rng(3)
    clips, annotations, split = islr_clips(3), [], {}
    for c in clips:
        annotations.append({"frame_dir": c["id"], "total_frames": c["T"], "img_shape": (256, 256),
                            "original_shape": (256, 256), "label": c["label"],
                            "keypoint": points(rng, (1, c["T"], 133, 2)) * 250,
                            "keypoint_score": conf(rng, (1, c["T"], 133))})
        split.setdefault(c["split"], []).append(c["id"])
    dump(tmp_path / "msasl_hrnet.pkl", {"split": split, "annotations": annotations})

    root = tmp_path / "data"
    store = prepare(harness, "msasl", "--source", str(tmp_path / "msasl_hrnet.pkl"),
                    "--data-root", str(root), "--set", "bench.subset=100")
    got = stored(store)
    for ann in annotations:
        kp, cf, _, meta = got[ann["frame_dir"]]
        np.testing.assert_array_equal(kp, ann["keypoint"][0])
        np.testing.assert_array_equal(cf, ann["keypoint_score"][0])
        assert meta.gloss == str(ann["label"]) and tuple(meta.frame_size) == (256, 256)
    assert store.meta["info"]["validation"]["frame_mismatches"] == []
    run_cell(harness, "msasl", root, "bench.subset=100")


def test_openhands_pickles_with_wlasl_json(harness, tmp_path):
    rng = np.random.default_rng(4)
    clips, written = islr_clips(4), {}
    for c in clips:
        kp = points(rng, (c["T"], 75, 3))
        cf = conf(rng, (c["T"], 75))
        dump(tmp_path / "poses" / f"{c['id']}.pkl", {"keypoints": kp, "confidences": cf})
        written[c["id"]] = (kp, cf)
    wlasl_json(tmp_path / "WLASL_v0.3.json", clips)

    root = tmp_path / "data"
    store = prepare(harness, "wlasl", "--source", str(tmp_path / "poses"), "--labels",
                    str(tmp_path / "WLASL_v0.3.json"), "--data-root", str(root))
    assert store.meta["info"]["format"] == "openhands"
    wrist = COCO_WHOLEBODY_133.index("right_wrist"), POSE_LANDMARKS.index("RIGHT_WRIST")
    for clip_id, (kp, cf, valid, meta) in stored(store).items():
        src_kp, src_cf = written[clip_id]
        np.testing.assert_array_equal(kp[:, wrist[0]], src_kp[:, wrist[1], :2])
        np.testing.assert_array_equal(cf[:, wrist[0]], src_cf[:, wrist[1]])
        np.testing.assert_array_equal(kp[:, LEFT_HAND_OFFSET:LEFT_HAND_OFFSET + 21],
                                      src_kp[:, 33:54, :2])
        np.testing.assert_array_equal(kp[:, RIGHT_HAND_OFFSET:RIGHT_HAND_OFFSET + 21],
                                      src_kp[:, 54:75, :2])
        assert valid[:, RIGHT_HAND_OFFSET:].all() and meta.coord_space == "normalized01"
    run_cell(harness, "wlasl", root)


def write_corpus_csv(path: Path, rows: list[list[str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="|", quoting=csv.QUOTE_NONE, escapechar="\\")
        writer.writerow(["name", "video", "start", "end", "speaker", "orth", "translation"])
        writer.writerows(rows)


def test_pose_files_with_phoenix2014t_csvs_serve_cslr_and_slt(harness, tmp_path):
    rng = np.random.default_rng(5)
    glosses = ["REGEN", "SONNE", "WIND", "NORD", "MORGEN", "WARM"]
    words = ["regen", "sonne", "wind", "im norden", "morgen", "warm"]
    rows: dict[str, list[list[str]]] = {"train": [], "dev": [], "test": []}
    written = {}
    for split, n in (("train", 16), ("dev", 4), ("test", 4)):
        for k in range(n):
            name = f"01April_2010_Thursday_heute-{split}{k}"
            picks = rng.choice(len(glosses), size=int(rng.integers(2, 4)), replace=False)
            frames = 6 * len(picks)
            data = points(rng, (frames, 1, 133, 2)) * 200
            confidence = conf(rng, (frames, 1, 133))
            header = PoseHeader(0.2, PoseHeaderDimensions(210, 260), cocowholebody_components())
            with open(tmp_path / f"{name}.pose", "wb") as fh:
                Pose(header, NumPyPoseBody(25.0, data, confidence)).write(fh)
            written[name] = (data[:, 0], confidence[:, 0])
            rows[split].append([name, f"{split}/{name}/1/*.png", "-1", "-1", "Signer01",
                                " ".join(glosses[i] for i in picks),
                                " ".join(words[i] for i in picks) + " ."])
    (tmp_path / "annotations").mkdir()
    for split, split_rows in rows.items():
        write_corpus_csv(tmp_path / "annotations" / f"PHOENIX-2014-T.{split}.corpus.csv",
                         split_rows)

    root = tmp_path / "data"
    store = prepare(harness, "phoenix2014t-slt", "--source", str(tmp_path), "--labels",
                    str(tmp_path / "annotations"), "--data-root", str(root))
    assert store.path.name == "phoenix2014t"
    texts = {r[0]: r[6] for split_rows in rows.values() for r in split_rows}
    for clip_id, (kp, cf, valid, meta) in stored(store).items():
        np.testing.assert_array_equal(kp, written[clip_id][0])
        np.testing.assert_array_equal(cf, written[clip_id][1])
        assert valid.all() and meta.fps == 25.0 and meta.text == texts[clip_id]
        assert tuple(meta.frame_size) == (210, 260)
    slt = run_cell(harness, "phoenix2014t-slt", root, "finetune.batch_size=8")
    assert slt["signatures"]["bleu"].startswith("protocol:bleu-13a")
    # The same store serves CSLR, scored with the 2014-T clean-up and sclite's alignment.
    cslr = run_cell(harness, "phoenix2014t-cslr", root, "finetune.batch_size=8")
    assert cslr["signatures"]["wer"].startswith("protocol:wer-phoenix2014t")
    assert cslr["benchmark"]["fingerprint"] == slt["benchmark"]["fingerprint"]


# -- bad input ---------------------------------------------------------------------------------
class Exploit:
    def __reduce__(self):
        return (print, ("pwned",))


def bad_sources(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    """name -> (prepare arguments, a phrase the one-line error must hold)."""
    rng = np.random.default_rng(6)
    clips = islr_clips(6)[:10]
    good = tmp_path / "good"
    for c in clips:
        dump(good / f"{c['id']}.pkl", {"keypoints": [points(rng, (1, 133, 2))] * 4,
                                       "scores": [conf(rng, (1, 133))] * 4})
    wlasl_json(tmp_path / "WLASL_v0.3.json", clips)
    labels = ["--labels", str(tmp_path / "WLASL_v0.3.json")]
    evil = tmp_path / "evil"
    dump(evil / f"{clips[0]['id']}.pkl", {"keypoints": Exploit(), "scores": []})
    zero = tmp_path / "zero"
    dump(zero / f"{clips[0]['id']}.pkl", {"keypoints": [], "scores": []})
    joints = tmp_path / "joints"
    dump(joints / f"{clips[0]['id']}.pkl", {"keypoints": [points(rng, (1, 127, 2))] * 3,
                                            "scores": [conf(rng, (1, 127))] * 3})
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / f"{clips[0]['id']}.pkl").write_bytes(pickle.dumps({"keypoints": 1})[:9])
    return {
        "missing-source": (["--source", str(tmp_path / "nowhere"), *labels], "does not exist"),
        "missing-labels": (["--source", str(good)], "--labels"),
        "wrong-format": (["--source", str(good), "--format", "slrt", *labels], "slrt"),
        "unknown-format": (["--source", str(good), "--format", "mp4", *labels],
                           "invalid choice: 'mp4'"),
        "malicious": (["--source", str(evil), *labels], "does not load"),
        "unreadable": (["--source", str(broken), *labels], "not a readable pickle"),
        "zero-frames": (["--source", str(zero), *labels], "zero frames"),
        "wrong-joints": (["--source", str(joints), *labels], "joint"),
    }


@pytest.fixture(scope="module")
def bad(tmp_path_factory):
    return bad_sources(tmp_path_factory.mktemp("bad-sources"))


@pytest.mark.parametrize("case", ["missing-source", "missing-labels", "wrong-format",
                                  "unknown-format", "malicious", "unreadable", "zero-frames",
                                  "wrong-joints"])
def test_bad_sources_fail_in_one_line_and_leave_no_store(harness, bad, tmp_path, case):
    args, phrase = bad[case]
    root = tmp_path / "data"
    done = harness("prepare", "wlasl", *args, "--data-root", str(root))
    assert done.code == 2, (done.out, done.err)
    lines = done.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.err, done.err
    assert phrase in lines[0], lines[0]
    assert "pwned" not in done.out + done.err
    assert not (root / "wlasl2000" / "store.json").exists()
    assert not list(root.glob("*tmp*")) if root.exists() else True


# -- preparing over a store, and labels before poses --------------------------------------------
def named_paths(text: str) -> list[Path]:
    """The absolute paths an error line names (ended by space, colon, comma, semicolon or ')')."""
    return [Path(p) for p in re.findall(r"(/[^\s:;,()]+)", text)]


def test_prepare_over_a_store_from_other_inputs_stops_and_says_what_differs(harness, tmp_path):
    """The same source and labels, named either way, are a fast no-op; another source, other
    labels, another format or other options stop in one line naming what differs and how to
    replace the store, which stays as it was; --force replaces it."""
    base = harness.root / "again"  # the CLI runs in harness.root: "again/..." is relative
    unisign_release(base / "a")
    unisign_release(base / "b", seed=2)
    root = tmp_path / "data"
    first = prepare(harness, "wlasl", "--source", "again/a/poses", "--labels", "again/a/labels",
                    "--data-root", str(root))
    meta = (first.path / "store.json").read_bytes()
    a = ["--source", str(base / "a" / "poses"), "--labels", str(base / "a" / "labels")]
    same = harness("prepare", "wlasl", *a, "--data-root", str(root))
    assert same.code == 0, same.err
    assert "wlasl is already prepared" in same.out and "clips read" not in same.out
    assert (first.path / "store.json").read_bytes() == meta

    b_poses, b_labels = str(base / "b" / "poses"), str(base / "b" / "labels")
    for args, differs in [
            (["--source", b_poses, a[2], a[3]], f"source {a[1]} (asked: {b_poses})"),
            ([*a[:2], "--labels", b_labels], f"labels {a[3]} (asked: {b_labels})"),
            ([*a, "--format", "openhands"], "format unisign (asked: openhands)"),
            ([*a, "--set", "bench.fps=30"], "bench.fps 25.0 (asked: 30.0)"),
            ([*a, "--set", "bench.text_normalise=[lower]"], "bench.text_normalise")]:
        done = harness("prepare", "wlasl", *args, "--data-root", str(root))
        assert done.code == 2, (args, done.out, done.err)
        assert len(done.error_lines) == 1 and "Traceback" not in done.err, done.err
        line = done.error_lines[0]
        assert f"{first.path} is already prepared from other inputs" in line, line
        assert differs in line and "--force" in line and "--data-root" in line, line
        assert (first.path / "store.json").read_bytes() == meta
    forced = prepare(harness, "wlasl", "--source", b_poses, "--labels", b_labels,
                     "--data-root", str(root), "--force")
    assert forced.meta["info"]["source"] == b_poses
    assert forced.fingerprint != first.fingerprint


def test_labels_are_checked_before_any_pose_file_is_read(harness, tmp_path):
    """Labels that lack a split or label a clip twice fail before a pose file is opened (all
    of them here would be refused), in one line that names only files that exist."""
    unisign_release(tmp_path)
    for path in (tmp_path / "poses").rglob("*.pkl"):
        path.write_bytes(b"not a pickle")
    labels = tmp_path / "labels"
    root = tmp_path / "data"
    (labels / "labels.test").rename(tmp_path / "labels.test")
    done = harness("prepare", "wlasl", "--source", str(tmp_path / "poses"), "--labels",
                   str(labels), "--data-root", str(root))
    assert done.code == 2 and len(done.error_lines) == 1, done.err
    line = done.error_lines[0]
    assert f"{labels}: the labels have no test clips" in line and "nothing prepared" in line
    assert all(p.exists() for p in named_paths(line)), line

    (tmp_path / "labels.test").rename(labels / "labels.test")
    with gzip.open(labels / "labels.test", "rb") as fh:
        test = pickle.load(fh)
    with gzip.open(labels / "labels.train", "rb") as fh:
        twice = next(iter(pickle.load(fh).values()))  # a train clip labelled for test as well
    dump(labels / "labels.test", {**test, "again": twice}, compress=True)
    done = harness("prepare", "wlasl", "--source", str(tmp_path / "poses"), "--labels",
                   str(labels), "--data-root", str(root))
    assert done.code == 2 and len(done.error_lines) == 1, done.err
    line = done.error_lines[0]
    assert f"clip {twice['name']!r} is labelled twice" in line, line
    assert "label ids must be unique" in line and str(labels / "labels.test") in line
    assert all(p.exists() for p in named_paths(line)), line
    assert not root.exists() or not any(root.iterdir())
