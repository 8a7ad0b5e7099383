"""Pose readers, label readers, format detection and the validation report.

Every source is written here in the layout its release uses, then read back and compared
exactly: keypoints, confidence, validity, fps, frame size and labels.
"""

import csv
import gzip
import json
import os
import pickle

import numpy as np
import pytest
from pose_format import Pose
from pose_format.numpy.pose_body import NumPyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions
from pose_format.utils.cocowholebody133_header import cocowholebody_components

from benchmarks.formats import (
    DEFAULT_FPS,
    FORMATS,
    Clip,
    ClipError,
    LabelRecord,
    clip_stats,
    detect_format,
    detect_label_format,
    read_clips,
    read_labels,
    validate,
)
from benchmarks.formats._mediapipe import FACE_MESH_TO_IBUG, HAND_LANDMARKS, POSE_LANDMARKS
from harness.core.layouts import (
    COCO_WHOLEBODY_133,
    FACE_OFFSET,
    LEFT_HAND_OFFSET,
    RIGHT_HAND_OFFSET,
)
from harness.core.pose import PoseSequence
from harness.core.registry import POSE_FORMATS
from harness.errors import DataError, UserError

RNG = np.random.default_rng(0)
F32 = np.float32


def dump(path, obj, protocol=4, compress=False):
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = pickle.dumps(obj, protocol=protocol)
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def by_id(clips):
    return {c.id: c for c in clips}


# -- Uni-Sign --------------------------------------------------------------------------------
def unisign_frames(n_frames, persons=(1,)):
    """Per-frame lists as Uni-Sign's extraction writes them: keypoints / (W, H) in float64."""
    kps = [RNG.random((persons[t % len(persons)], 133, 2)) for t in range(n_frames)]
    scores = [RNG.random((persons[t % len(persons)], 133)).astype(F32) for t in range(n_frames)]
    return kps, scores


def test_unisign_clips_round_trip(tmp_path):
    kps, scores = unisign_frames(6, persons=(1, 1, 2))
    kps[1][0, 5] = np.nan                                  # missing: NaN
    kps[3][0, 100], scores[3][0, 100] = 0.0, 0.0           # missing: (0, 0) with score 0
    dump(tmp_path / "poses/train/clipA.pkl",
         {"keypoints": kps, "scores": scores, "start": np.int64(1), "end": 5})
    stacked_kp = RNG.random((4, 1, 133, 2))
    stacked_sc = RNG.random((4, 1, 133)).astype(F32)
    dump(tmp_path / "poses/test/clipB.pkl", {"keypoints": stacked_kp, "scores": stacked_sc})

    assert detect_format(tmp_path / "poses") == "unisign"
    assert detect_format(tmp_path / "poses/train/clipA.pkl") == "unisign"
    clips = by_id(read_clips(tmp_path / "poses"))
    assert sorted(clips) == ["clipA", "clipB"]

    a = clips["clipA"].pose
    want = np.stack([k[0] for k in kps])[1:5].astype(F32)   # person 0, frames [start, end)
    want_conf = np.stack([s[0] for s in scores])[1:5]
    want_valid = np.ones((4, 133), bool)
    want_valid[0, 5] = want_valid[2, 100] = False
    np.testing.assert_array_equal(a.valid, want_valid)
    np.testing.assert_array_equal(a.keypoints[want_valid], want[want_valid])
    np.testing.assert_array_equal(a.confidence[want_valid], want_conf[want_valid])
    assert (a.keypoints[~want_valid] == 0).all() and (a.confidence[~want_valid] == 0).all()
    assert (a.fps, a.coord_space, a.layout) == (DEFAULT_FPS, "normalized01", "coco_wholebody_133")
    assert a.provenance["frame_range"] == [1, 5] and a.provenance["source_frames"] == 6
    assert a.provenance["max_persons"] == 2 and "index 0" in a.provenance["person"]
    assert a.provenance["format"] == "unisign" and a.provenance["source"].endswith("clipA.pkl")
    a.check()

    b = clips["clipB"].pose
    np.testing.assert_array_equal(b.keypoints, stacked_kp[:, 0].astype(F32))
    np.testing.assert_array_equal(b.confidence, stacked_sc[:, 0])
    assert b.valid.all() and b.provenance["frame_range"] == [0, 4]

    kps, scores = unisign_frames(3)
    kps[1], scores[1] = np.zeros((0, 133, 2)), np.zeros((0, 133), F32)   # nobody detected
    dump(tmp_path / "one/clipC.pkl", {"keypoints": kps, "scores": scores})
    c = next(read_clips(tmp_path / "one/clipC.pkl")).pose
    np.testing.assert_array_equal(c.valid.all(axis=1), [True, False, True])
    np.testing.assert_array_equal(c.keypoints[2], kps[2][0].astype(F32))

    again = by_id(read_clips(tmp_path / "poses", "unisign", default_fps=29.97,
                             frame_size=(1280, 720)))
    assert again["clipB"].pose.fps == pytest.approx(29.97)
    assert again["clipB"].pose.frame_size == (1280, 720)


def test_unisign_label_files(tmp_path):
    # CSL-Daily style (gloss list) and How2Sign style (name with .mp4, gloss '').
    dump(tmp_path / "labels/labels.train", {
        "S000020_P0000_T00": {"name": "S000020_P0000_T00", "gloss": ["他", "今天", "年龄"],
                              "text": "他今年四岁。", "video_path": "S000020_P0000_T00.mp4"}},
         compress=True)
    dump(tmp_path / "labels/labels.test", {
        "-fZc29_0-1-rgb_front.mp4": {"name": "-fZc29_0-1-rgb_front.mp4", "gloss": "",
                                     "text": "Hi!", "video_path": "-fZc29_0-1-rgb_front.mp4"}},
         compress=True)
    assert detect_label_format(tmp_path / "labels") == "unisign"
    assert detect_label_format(tmp_path / "labels/labels.train") == "unisign"
    records = read_labels(tmp_path / "labels")
    assert records == {
        "S000020_P0000_T00": LabelRecord("S000020_P0000_T00", "train", "他 今天 年龄",
                                         "他今年四岁。",
                                         source=str(tmp_path / "labels/labels.train")),
        "-fZc29_0-1-rgb_front": LabelRecord("-fZc29_0-1-rgb_front", "test", "", "Hi!",
                                            source=str(tmp_path / "labels/labels.test")),
    }
    assert list(read_labels(tmp_path / "labels/labels.test")) == ["-fZc29_0-1-rgb_front"]


# -- SLRT -------------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [2, 4, 5])
@pytest.mark.parametrize("nested", [True, False])
def test_slrt_pickles_round_trip(tmp_path, protocol, nested):
    arrays = {"train/01April_2010_Thursday_heute-6694": RNG.random((7, 133, 3)).astype(F32) * 200,
              "dev/11August_2010_Wednesday_tagesschau-2": RNG.random((3, 133, 3)).astype(F32)}
    arrays["dev/11August_2010_Wednesday_tagesschau-2"][1, 7] = 0.0   # (0, 0), score 0
    payload = {k: ({"keypoints": v} if nested else v) for k, v in arrays.items()}
    path = dump(tmp_path / "keypoints_hrnet.pkl", payload, protocol=protocol)

    assert detect_format(path) == "slrt"
    assert detect_format(tmp_path) == "slrt"     # a folder holding the one pickle
    clips = by_id(read_clips(path, frame_size=(210, 260)))
    assert sorted(clips) == ["01April_2010_Thursday_heute-6694",
                             "11August_2010_Wednesday_tagesschau-2"]
    for key, arr in arrays.items():
        pose = clips[key.split("/")[1]].pose
        valid = ~((arr[..., 2] == 0) & (arr[..., :2] == 0).all(-1))
        np.testing.assert_array_equal(pose.valid, valid)
        np.testing.assert_array_equal(pose.keypoints, arr[..., :2])
        np.testing.assert_array_equal(pose.confidence, arr[..., 2])
        assert (pose.coord_space, pose.frame_size, pose.fps) == ("pixel", (210, 260), DEFAULT_FPS)
        assert pose.provenance["key"] == key
    assert not clips["11August_2010_Wednesday_tagesschau-2"].pose.valid[1, 7]


# -- pyskl ------------------------------------------------------------------------------------
def test_pyskl_annotations_round_trip(tmp_path):
    kp = [RNG.random((2, 5, 133, 2)).astype(F32) * 300, RNG.random((1, 3, 133, 2)).astype(F32)]
    sc = [RNG.random((2, 5, 133)).astype(F32), RNG.random((1, 3, 133)).astype(F32)]
    kp[0][0, 2, 40], sc[0][0, 2, 40] = 0.0, 0.0
    annotations = [
        {"frame_dir": "clip_a", "total_frames": 5, "img_shape": (260, 210),
         "original_shape": (260, 210), "keypoint": kp[0], "keypoint_score": sc[0], "label": 3},
        {"frame_dir": "clip_b", "total_frames": 4, "img_shape": (480, 640),
         "keypoint": kp[1], "keypoint_score": sc[1], "label": 0},
    ]
    path = dump(tmp_path / "wlasl_hrnet.pkl",
                {"split": {"train": ["clip_a"], "val": ["clip_b"]}, "annotations": annotations})

    assert detect_format(path) == "pyskl"
    assert detect_label_format(path) == "pyskl"
    clips = by_id(read_clips(path))
    a, b = clips["clip_a"].pose, clips["clip_b"].pose
    valid = np.ones((5, 133), bool)
    valid[2, 40] = False
    np.testing.assert_array_equal(a.valid, valid)
    np.testing.assert_array_equal(a.keypoints, kp[0][0])      # person 0 of 2
    np.testing.assert_array_equal(a.confidence, sc[0][0])
    assert a.frame_size == (210, 260) and b.frame_size == (640, 480)
    assert a.coord_space == "pixel" and a.provenance["max_persons"] == 2

    labels = read_labels(path)
    assert labels["clip_a"].split == "train" and labels["clip_a"].gloss == "3"
    assert labels["clip_b"].split == "dev" and labels["clip_b"].n_frames == 4
    # total_frames 4 against 3 frames of keypoints: reported, never truncated.
    report = validate(clips.values(), labels)
    assert report.frame_mismatches == [{"id": "clip_b", "pose_frames": 3, "label_frames": 4}]
    assert report.ok


# -- OpenHands --------------------------------------------------------------------------------
def test_openhands_clips_map_into_coco(tmp_path):
    t = 4
    kp = RNG.random((t, 75, 3)).astype(F32)
    conf = np.concatenate([RNG.random((t, 33)), np.ones((t, 42))], axis=1).astype(F32)
    kp[1, 33:54], conf[1, 33:54] = 0.0, 0.0            # left hand not detected in frame 1
    dump(tmp_path / "oh/00335.pkl", {"keypoints": kp, "confidences": conf})

    assert detect_format(tmp_path / "oh") == "openhands"
    pose = next(read_clips(tmp_path / "oh")).pose
    assert pose.keypoints.shape == (t, 133, 2) and pose.coord_space == "normalized01"
    for coco, mp in (("nose", "NOSE"), ("left_ear", "LEFT_EAR"), ("right_wrist", "RIGHT_WRIST"),
                     ("left_heel", "LEFT_HEEL")):
        i, j = COCO_WHOLEBODY_133.index(coco), POSE_LANDMARKS.index(mp)
        np.testing.assert_array_equal(pose.keypoints[:, i], kp[:, j, :2])
        np.testing.assert_array_equal(pose.confidence[:, i], conf[:, j])
    left = slice(LEFT_HAND_OFFSET, LEFT_HAND_OFFSET + 21)
    right = slice(RIGHT_HAND_OFFSET, RIGHT_HAND_OFFSET + 21)
    np.testing.assert_array_equal(pose.keypoints[:, right], kp[:, 54:75, :2])
    np.testing.assert_array_equal(pose.keypoints[[0, 2, 3], left], kp[[0, 2, 3], 33:54, :2])
    assert not pose.valid[1, left].any() and pose.valid[[0, 2, 3], left].all()
    face = slice(FACE_OFFSET, FACE_OFFSET + 68)
    assert not pose.valid[:, face].any() and not pose.valid[:, 17].any()   # no face, no toes
    assert pose.provenance["estimator"].startswith("MediaPipe Holistic")


# -- .pose ------------------------------------------------------------------------------------
def write_pose(path, components, data, conf, fps, size=(640, 480)):
    header = PoseHeader(0.2, PoseHeaderDimensions(*size), components)
    body = NumPyPoseBody(fps, data, conf)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        Pose(header, body).write(fh)
    return path


def test_pose_file_coco_wholebody_round_trip(tmp_path):
    data = (RNG.random((5, 1, 133, 2)) * 400).astype(F32)
    conf = RNG.random((5, 1, 133)).astype(F32)
    conf[2, 0, 120:] = 0.0                                     # masked by pose-format
    write_pose(tmp_path / "poses/sign_1.pose", cocowholebody_components(), data, conf, 29.97)

    assert detect_format(tmp_path / "poses") == "pose"
    pose = next(read_clips(tmp_path / "poses")).pose
    valid = conf[:, 0] > 0
    np.testing.assert_array_equal(pose.valid, valid)
    np.testing.assert_array_equal(pose.keypoints[valid], data[:, 0][valid])
    np.testing.assert_array_equal(pose.confidence, conf[:, 0])
    assert pose.fps == pytest.approx(29.97) and pose.frame_size == (640, 480)
    assert pose.coord_space == "pixel" and pose.provenance["fps_source"] == "file"


def holistic_components():
    def comp(name, points, fmt="XYZC"):
        return PoseHeaderComponent(name, points, [], [], fmt)

    hand = list(HAND_LANDMARKS)  # the names pose-format writes (mediapipe's HandLandmark)
    return [comp("POSE_LANDMARKS", list(POSE_LANDMARKS)),
            comp("FACE_LANDMARKS", [str(i) for i in range(468)]),
            comp("LEFT_HAND_LANDMARKS", hand), comp("RIGHT_HAND_LANDMARKS", hand),
            comp("POSE_WORLD_LANDMARKS", list(POSE_LANDMARKS))]


def test_pose_file_mediapipe_holistic_maps_face_hands_body(tmp_path):
    n = 33 + 468 + 21 + 21 + 33
    data = (RNG.random((3, 1, n, 3)) * 500).astype(F32)
    conf = np.ones((3, 1, n), F32)
    rh = 33 + 468 + 21
    conf[0, 0, rh:rh + 21] = 0.0                               # right hand missing in frame 0
    write_pose(tmp_path / "h.pose", holistic_components(), data, conf, 25.0, size=(1280, 720))

    pose = next(read_clips(tmp_path / "h.pose")).pose
    src = data[:, 0, :, :2]
    np.testing.assert_array_equal(pose.keypoints[:, 0], src[:, 0])                  # nose
    np.testing.assert_array_equal(pose.keypoints[:, 9], src[:, 15])                  # l wrist
    np.testing.assert_array_equal(pose.keypoints[:, LEFT_HAND_OFFSET:LEFT_HAND_OFFSET + 21],
                                  src[:, 501:522])
    assert not pose.valid[0, RIGHT_HAND_OFFSET:].any() and pose.valid[1:, RIGHT_HAND_OFFSET:].all()
    face = src[:, 33:501]
    np.testing.assert_array_equal(pose.keypoints[:, FACE_OFFSET + 8], face[:, 152])   # chin
    np.testing.assert_allclose(pose.keypoints[:, FACE_OFFSET + 4],
                               (face[:, 58] + face[:, 172]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(pose.keypoints[:, 53], face[:, 4])                 # nose tip
    face_part = COCO_WHOLEBODY_133.parts["face"].joints
    assert pose.valid[:, face_part].all()                     # the encoder's 18 face points
    assert pose.valid[:, FACE_OFFSET:FACE_OFFSET + 68].sum() == 3 * len(FACE_MESH_TO_IBUG)
    assert pose.frame_size == (1280, 720) and pose.fps == 25.0


# -- WLASL and Phoenix labels -----------------------------------------------------------------
def test_wlasl_json_subsets_are_the_first_glosses_in_file_order(tmp_path):
    def inst(vid, split, start=1, end=-1, signer=5):
        return {"bbox": [0, 0, 10, 10], "fps": 25, "frame_start": start, "frame_end": end,
                "instance_id": 0, "signer_id": signer, "source": "aslbrick", "split": split,
                "url": "http://x", "variation_id": 0, "video_id": vid}

    content = [{"gloss": "book",
                "instances": [inst("69241", "train", 1, 40), inst("07069", "val")]},
               {"gloss": "drink", "instances": [inst("65539", "test", 11, 20, signer=9)]},
               {"gloss": "computer", "instances": [inst("12328", "train")]}]
    path = tmp_path / "WLASL_v0.3.json"
    path.write_text(json.dumps(content))

    assert detect_label_format(path) == "wlasl"
    full = read_labels(path)
    assert sorted(full) == ["07069", "12328", "65539", "69241"]
    sub = read_labels(path, subset=2)
    assert sorted(sub) == ["07069", "65539", "69241"]
    assert sub["07069"].split == "dev" and sub["07069"].n_frames is None
    assert sub["69241"] == LabelRecord("69241", "train", "book", signer="5", frame_range=(0, 40),
                                       fps=25.0, source=str(path))
    assert sub["65539"].frame_range == (10, 20) and sub["65539"].n_frames == 10
    with pytest.raises(UserError, match="subset 5"):
        read_labels(path, subset=5)


def write_csv(path, header, rows):
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter="|", quoting=csv.QUOTE_NONE, escapechar="\\")
        writer.writerow(header)
        writer.writerows(rows)
    return path


def test_phoenix_corpus_csvs(tmp_path):
    t_header = ["name", "video", "start", "end", "speaker", "orth", "translation"]
    (tmp_path / "t").mkdir()
    write_csv(tmp_path / "t/PHOENIX-2014-T.dev.corpus.csv", t_header, [
        ["11August_2010_Wednesday_tagesschau-2", "11August_2010_Wednesday_tagesschau-2/1/*.png",
         "-1", "-1", "Signer08", "DRUCK TIEF KOMMEN",
         "tiefer luftdruck bestimmt in den nächsten tagen unser wetter"]])
    write_csv(tmp_path / "t/PHOENIX-2014-T.train.corpus.csv", t_header, [
        ["01April_2010_Thursday_heute-6694", "train/01April_2010_Thursday_heute-6694/1/*.png",
         "-1", "-1", "Signer04", "JETZT WETTER", "und nun die wettervorhersage ."]])
    write_csv(tmp_path / "t/PHOENIX-2014-T.train-complex-annotation.corpus.csv", t_header, [])
    assert detect_label_format(tmp_path / "t") == "phoenix2014t"
    records = read_labels(tmp_path / "t")
    assert records["11August_2010_Wednesday_tagesschau-2"] == LabelRecord(
        "11August_2010_Wednesday_tagesschau-2", "dev", "DRUCK TIEF KOMMEN",
        "tiefer luftdruck bestimmt in den nächsten tagen unser wetter", "Signer08",
        source=str(tmp_path / "t/PHOENIX-2014-T.dev.corpus.csv"))
    assert records["01April_2010_Thursday_heute-6694"].split == "train"

    p14 = write_csv(tmp_path / "train.corpus.csv", ["id", "folder", "signer", "annotation"], [
        ["01April_2010_Thursday_heute_default-0", "01April_2010_Thursday_heute_default-0/1/*.png",
         "Signer04", "__ON__ LIEB ZUSCHAUER __OFF__"]])
    assert detect_label_format(p14) == "phoenix2014"
    record = read_labels(p14)["01April_2010_Thursday_heute_default-0"]
    assert (record.split, record.signer, record.gloss) == ("train", "Signer04",
                                                          "__ON__ LIEB ZUSCHAUER __OFF__")
    bad = write_csv(tmp_path / "dev.corpus.csv", ["name", "gloss"], [["a", "B"]])
    with pytest.raises(DataError, match=r"dev\.corpus\.csv.*header"):
        read_labels(bad)


# -- bad input --------------------------------------------------------------------------------
class Evil:
    def __reduce__(self):
        return (os.system, ("touch pwned_by_pickle",))


def test_a_pickle_with_code_is_refused_and_nothing_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dump(tmp_path / "src/evil.pkl", {"keypoints": Evil(), "scores": []})
    with pytest.raises(DataError, match=r"evil\.pkl.*(posix|os)\.system"):
        detect_format(tmp_path / "src")
    with pytest.raises(DataError, match=r"evil\.pkl.*(posix|os)\.system"):
        list(read_clips(tmp_path / "src", "unisign"))
    assert not (tmp_path / "pwned_by_pickle").exists()


@pytest.mark.parametrize("fmt", ["unisign", "slrt"])
def test_wrong_joint_count_and_zero_frames(tmp_path, fmt):
    if fmt == "unisign":
        dump(tmp_path / "a/c1.pkl", {"keypoints": [np.zeros((1, 130, 2))] * 2,
                                     "scores": [np.zeros((1, 130))] * 2})
        dump(tmp_path / "b/c2.pkl", {"keypoints": [], "scores": []})
    else:
        dump(tmp_path / "a/k.pkl", {"c1": np.zeros((4, 17, 3))})
        dump(tmp_path / "b/k.pkl", {"c2": {"keypoints": np.zeros((0, 133, 3))}})
    with pytest.raises(DataError, match=r"c1.*\b(130|17) joints per frame, expected 133"):
        list(read_clips(tmp_path / "a", fmt))
    with pytest.raises(DataError, match=r"c2.*zero frames"):
        list(read_clips(tmp_path / "b", fmt))


def test_start_end_outside_the_clip_is_an_error(tmp_path):
    kps, scores = unisign_frames(3)
    dump(tmp_path / "c.pkl", {"keypoints": kps, "scores": scores, "start": 2, "end": 9})
    with pytest.raises(DataError, match=r"c\.pkl: frame range start=2 end=9 .* 3 frames"):
        list(read_clips(tmp_path / "c.pkl", "unisign"))


def test_truncated_files_are_data_errors(tmp_path):
    raw = pickle.dumps({"c1": RNG.random((50, 133, 3))}, protocol=4)
    (tmp_path / "k.pkl").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match=r"k\.pkl: not a readable pickle"):
        list(read_clips(tmp_path / "k.pkl", "slrt"))
    kps, scores = unisign_frames(2)
    raw = pickle.dumps({"keypoints": kps, "scores": scores})
    (tmp_path / "u").mkdir()
    (tmp_path / "u/c.pkl").write_bytes(raw[:-30])
    with pytest.raises(DataError, match=r"c\.pkl: not a readable pickle"):
        list(read_clips(tmp_path / "u", "unisign"))
    path = write_pose(tmp_path / "p/x.pose", cocowholebody_components(),
                      RNG.random((4, 1, 133, 2)).astype(F32), np.ones((4, 1, 133), F32), 25)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DataError, match=r"x\.pose: not a readable \.pose file"):
        list(read_clips(path))


def test_unknown_or_ambiguous_sources_name_the_formats(tmp_path):
    (tmp_path / "txt").mkdir()
    (tmp_path / "txt/a.txt").write_text("hello")
    formats = r".*--format with one of: unisign, slrt, pyskl, openhands, pose"
    with pytest.raises(DataError, match=r"txt: cannot tell the pose format \(no .*" + formats):
        detect_format(tmp_path / "txt")
    other = dump(tmp_path / "other.pkl", {"weights": {"layer1": np.zeros(3)}})
    with pytest.raises(DataError, match=r"other\.pkl: cannot tell" + formats):
        detect_format(other)
    # {name: array} is SLRT's structure; the array's shape is checked when it is read.
    arrays = dump(tmp_path / "arrays.pkl", {"weights": np.zeros(3)})
    assert detect_format(arrays) == "slrt"
    with pytest.raises(DataError, match=r"weights.*shape \(3,\), expected \(T, 133, 3\)"):
        list(read_clips(arrays))
    dump(tmp_path / "mixed/a.pkl", {"keypoints": [], "scores": []})
    (tmp_path / "mixed/b.pose").write_bytes(b"")
    with pytest.raises(DataError, match=r"both \.pose files \(1\) and pickles \(1\)" + formats):
        detect_format(tmp_path / "mixed")
    with pytest.raises(UserError, match="unknown pose format 'unisgn'; did you mean unisign"):
        read_clips(tmp_path / "mixed", "unisgn")
    with pytest.raises(DataError, match="cannot tell the label format"):
        read_labels(other)
    assert set(FORMATS) == set(POSE_FORMATS.names())


def test_per_clip_readers_stream_one_file_at_a_time(tmp_path):
    kps, scores = unisign_frames(2)
    dump(tmp_path / "a.pkl", {"keypoints": kps, "scores": scores})
    (tmp_path / "b.pkl").write_bytes(b"\x80\x04garbage")
    clips = read_clips(tmp_path, "unisign")
    assert next(clips).id == "a"                       # b.pkl has not been opened yet
    with pytest.raises(DataError, match=r"b\.pkl"):
        next(clips)


def test_bad_clips_can_be_collected_and_reading_goes_on(tmp_path):
    kps, scores = unisign_frames(3)
    dump(tmp_path / "src/a/good.pkl", {"keypoints": kps, "scores": scores})
    dump(tmp_path / "src/b/good.pkl", {"keypoints": kps, "scores": scores})   # duplicate id
    dump(tmp_path / "src/joints.pkl", {"keypoints": [np.zeros((1, 17, 2))],
                                       "scores": [np.zeros((1, 17))]})
    (tmp_path / "src/broken.pkl").write_bytes(b"\x80\x04garbage")
    errors: list[ClipError] = []
    clips = list(read_clips(tmp_path / "src", "unisign", errors=errors))
    assert [c.id for c in clips] == ["good"]
    assert sorted((e.clip_id, e.kind) for e in errors) == [
        ("broken", "unreadable"), ("good", "duplicate"), ("joints", "joints")]
    report = validate(clips, {"good": LabelRecord("good", "train")}, clip_errors=errors)
    assert set(report.clip_errors) == {"unreadable", "duplicate", "joints"}
    assert len(report.fatal) == 3 and report.n_clips == 4
    with pytest.raises(DataError, match=r"3 fatal problem\(s\): wrong joint count: 1: joints"):
        report.raise_if_fatal()


# -- validation report ------------------------------------------------------------------------
def make_clip(clip_id, frames=4, coord_space="normalized01", frame_size=None, value=0.5,
              conf=0.9):
    kp = np.full((frames, 133, 2), value, F32)
    return Clip(clip_id, PoseSequence(kp, np.full((frames, 133), conf, F32),
                                      np.ones((frames, 133), bool), 25.0, frame_size,
                                      coord_space), f"{clip_id}.pkl")


def test_report_compares_poses_with_labels_and_expected_counts():
    labels = {r.id: r for r in [
        LabelRecord("a", "train", "X", frame_range=(0, 4)), LabelRecord("b", "train", "Y"),
        LabelRecord("c", "dev", "Z", frame_range=(10, 14)), LabelRecord("d", "test", "X"),
        LabelRecord("g", "test", "Y")]}
    bad = make_clip("g")
    bad.pose.keypoints[1, 3, 0] = np.inf
    low = make_clip("e", coord_space="pixel", value=-5.0)
    low.pose.confidence[:, LEFT_HAND_OFFSET:LEFT_HAND_OFFSET + 21] = 0.1
    clips = [make_clip("a"), make_clip("c", frames=6), low, bad]
    stats = [clip_stats(c) for c in clips]
    report = validate(stats, labels, {"train": 2, "dev": 1, "test": 1},
                      clip_errors=[ClipError("f", "frames", "f.pkl: clip has zero frames")])

    assert report.counts == {"train": {"found": 1, "expected": 2, "labelled": 2},
                             "dev": {"found": 1, "expected": 1, "labelled": 1},
                             "test": {"found": 1, "expected": 1, "labelled": 2}}
    assert report.labels_without_poses == {"train": ["b"], "test": ["d"]}
    assert report.poses_without_labels == ["e"]
    assert report.frame_mismatches == [{"id": "c", "pose_frames": 6, "label_frames": 4}]
    assert report.nonfinite == [{"id": "g", "points": 1}]
    assert [r["id"] for r in report.out_of_range] == ["e"]
    assert report.confidence["left_hand"]["low_rate"] == round(4 * 21 / (18 * 21), 4)
    assert report.confidence["body"]["missing_rate"] == 0.0
    assert report.fatal == ["zero frames: 1: f (detail f.pkl: clip has zero frames)",
                            "NaN or infinite values in valid points: 1: g (points 1)"]
    data = json.loads(json.dumps(report.to_dict()))
    assert data["ok"] is False and data["counts"]["train"]["expected"] == 2
    text = report.to_text()
    assert "FATAL zero frames" in text and "labelled clips without poses: 2: b, d" in text
    assert "frame-count mismatches (pose vs labels): 1: c (pose_frames 6, label_frames 4)" in text
    with pytest.raises(DataError, match=r"2 fatal problem\(s\)"):
        report.raise_if_fatal()


def test_report_confidence_rates_and_ranges():
    clip = make_clip("a", frames=2)
    clip.pose.confidence[:, LEFT_HAND_OFFSET:LEFT_HAND_OFFSET + 21] = 0.1
    clip.pose.valid[:, RIGHT_HAND_OFFSET:RIGHT_HAND_OFFSET + 21] = False
    clip.pose.keypoints[0, 0] = (1.04, 0.5)       # within the 0.05 tolerance
    clip.pose.keypoints[1, 0] = (1.2, 0.5)        # out of range
    report = validate([clip], {"a": LabelRecord("a", "train")})
    assert report.ok
    assert report.confidence["left_hand"] == {"points": 42, "missing_rate": 0.0, "low_rate": 1.0}
    assert report.confidence["right_hand"]["missing_rate"] == 1.0
    assert report.out_of_range == [{"id": "a", "points": 1, "fraction": round(1 / 266, 4)}]
    inside = make_clip("p", coord_space="pixel", frame_size=(100, 50), value=40.0)
    assert validate([inside]).out_of_range == []
    below = make_clip("p", coord_space="pixel", frame_size=(100, 50), value=60.0)
    assert validate([below]).out_of_range[0]["points"] == 4 * 133      # y beyond 50 px


def test_report_with_nothing_usable_is_fatal():
    assert validate([], {}).fatal == ["no clips were read"]
    report = validate([make_clip("clip1")], {"video_1": LabelRecord("video_1", "train")})
    assert report.fatal == ["none of the 1 clips matches a label id (pose id 'clip1', label "
                            "id 'video_1')"]
