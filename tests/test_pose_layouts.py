"""``.pose`` files of every layout pose-format defines, mapped into COCO-WholeBody-133 by name.

Each test builds a header with pose-format's own definitions (``load_openpose``, the
``*_components`` helpers, ``reduce_holistic``, ``pose_hide_legs``, ``remove_components``),
writes a real file whose point k holds the coordinates (k + 1, 10 + 20 t + k % 7) in frame t,
reads it through ``pose_file.read_clip`` and checks every one of the 133 points: the source
points it comes from (found with pose-format's ``get_point_index``), or missing. MediaPipe's
holistic header is written out by hand (``pose_format.utils.holistic`` imports mediapipe,
which the harness does not install), with the names that module takes from mediapipe.
"""

from __future__ import annotations

import numpy as np
import pytest
from pose_format import Pose
from pose_format.numpy.pose_body import NumPyPoseBody
from pose_format.pose_header import PoseHeader, PoseHeaderComponent, PoseHeaderDimensions
from pose_format.utils import generic, openpose, openpose_135
from pose_format.utils.alphapose import get_alphapose_components
from pose_format.utils.alphapose_133 import get_alphapose_133_components
from pose_format.utils.cocowholebody133_header import cocowholebody_components

from benchmarks.formats import ClipError, read_clips, validate
from benchmarks.formats._mediapipe import FACE_MESH_TO_IBUG, POSE_LANDMARKS
from benchmarks.formats.labels import LabelRecord
from benchmarks.formats.pose_file import read_clip
from harness.core.layouts import (
    COCO_WHOLEBODY_133,
    FACE_OFFSET,
    LEFT_HAND_OFFSET,
    RIGHT_HAND_OFFSET,
)
from tests.test_formats import holistic_components, write_pose
from tests.test_prepare import islr_clips, prepare, stored, wlasl_json

F32 = np.float32
SIZE = (1280, 720)
COCO = COCO_WHOLEBODY_133.index
BODY17 = COCO_WHOLEBODY_133.joint_names[:17]
HANDS = {"left": LEFT_HAND_OFFSET, "right": RIGHT_HAND_OFFSET}
#: mediapipe's HandLandmark names, which pose-format's holistic header uses.
MEDIAPIPE_HAND = (
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP",
    "INDEX_FINGER_MCP", "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP",
    "MIDDLE_FINGER_MCP", "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP",
    "RING_FINGER_MCP", "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP",
    "PINKY_MCP", "PINKY_PIP", "PINKY_DIP", "PINKY_TIP",
)
#: COCO body and foot point -> OpenPose's name for it (BODY_25 and BODY_135 alike).
OPENPOSE_BODY = {
    "nose": "Nose", "left_eye": "LEye", "right_eye": "REye", "left_ear": "LEar",
    "right_ear": "REar", "left_shoulder": "LShoulder", "right_shoulder": "RShoulder",
    "left_elbow": "LElbow", "right_elbow": "RElbow", "left_wrist": "LWrist",
    "right_wrist": "RWrist", "left_hip": "LHip", "right_hip": "RHip", "left_knee": "LKnee",
    "right_knee": "RKnee", "left_ankle": "LAnkle", "right_ankle": "RAnkle",
    "left_big_toe": "LBigToe", "left_small_toe": "LSmallToe", "left_heel": "LHeel",
    "right_big_toe": "RBigToe", "right_small_toe": "RSmallToe", "right_heel": "RHeel",
}

Expected = dict[int, list[tuple[str, str]]]  # COCO index -> the source points it averages


def numbered(components: list[PoseHeaderComponent], frames: int = 3
             ) -> tuple[np.ndarray, np.ndarray]:
    """(data, confidence) of one person: point k at (k + 1, 10 + 20 t + k % 7), all present."""
    n = sum(len(c.points) for c in components)
    k, t = np.arange(n), np.arange(frames)[:, None]
    data = np.zeros((frames, 1, n, len(components[0].format) - 1), F32)
    data[:, 0, :, 0] = k + 1
    data[:, 0, :, 1] = 10 + 20 * t + k % 7
    conf = np.broadcast_to(0.3 + 0.6 * k / n, (frames, 1, n)).astype(F32)
    return data, conf


def write_read(tmp_path, pose: Pose, name: str = "clip"):
    """Write ``pose`` as a .pose file and read it back through the harness's reader."""
    path = write_pose(tmp_path / f"{name}.pose", pose.header.components, pose.body.data,
                      np.asarray(pose.body.confidence), pose.body.fps, SIZE)
    return read_clip(path, name)


def make_pose(components: list[PoseHeaderComponent], frames: int = 3) -> Pose:
    data, conf = numbered(components, frames)
    header = PoseHeader(0.2, PoseHeaderDimensions(*SIZE), components)
    return Pose(header, NumPyPoseBody(25.0, data, conf))


def check(read, pose: Pose, expected: Expected) -> None:
    """Every COCO point is the mean of its expected source points (with their lowest
    confidence), or missing (valid False, confidence 0) where nothing is expected."""
    data = np.ma.getdata(pose.body.data)[:, 0, :, :2]
    conf = np.asarray(pose.body.confidence)[:, 0]
    assert read.keypoints.shape == (data.shape[0], 133, 2)
    for i, name in enumerate(COCO_WHOLEBODY_133.joint_names):
        if i not in expected:
            assert not read.valid[:, i].any() and not read.confidence[:, i].any(), name
            continue
        index = [pose.header.get_point_index(c, p) for c, p in expected[i]]
        np.testing.assert_allclose(read.keypoints[:, i], data[:, index].mean(axis=1),
                                   err_msg=name)
        np.testing.assert_array_equal(read.confidence[:, i], conf[:, index].min(axis=1),
                                      err_msg=name)
        assert read.valid[:, i].all(), name


def hands(components: tuple[str, str], names) -> Expected:
    """Each hand's 21 points, in COCO order (wrist, thumb 1-4, index 1-4, ..., pinky 1-4)."""
    return {HANDS[side] + i: [(component, name)]
            for side, component in zip(HANDS, components, strict=True)
            for i, name in enumerate(names)}


def body(component: str, names: dict[str, str]) -> Expected:
    return {COCO(coco): [(component, name)] for coco, name in names.items()}


def face68(component: str, names) -> Expected:
    """iBUG point i from the i-th name."""
    return {FACE_OFFSET + i: [(component, name)] for i, name in enumerate(names)}


def holistic_expected(face: bool = True) -> Expected:
    expected = {**body("POSE_LANDMARKS", {n: n.upper() for n in (*BODY17, "left_heel",
                                                                    "right_heel")}),
                **hands(("LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS"), MEDIAPIPE_HAND)}
    if face:
        expected.update({FACE_OFFSET + ibug: [("FACE_LANDMARKS", str(m)) for m in mesh]
                         for ibug, mesh in FACE_MESH_TO_IBUG.items()})
    return expected


# -- OpenPose ----------------------------------------------------------------------------------
def openpose_frames(frames: int, people: int = 1) -> dict:
    """OpenPose JSON frames (what ``load_openpose`` reads): flat x, y, c lists per component,
    point k of the 137 at (k + 1, 10 + 20 t + k % 7) with confidence 0.5."""
    sizes = {"pose_keypoints_2d": 25, "face_keypoints_2d": 70, "hand_left_keypoints_2d": 21,
             "hand_right_keypoints_2d": 21}
    out = {}
    for t in range(frames):
        person, k = {}, 0
        for name, n in sizes.items():
            person[name] = [v for j in range(k, k + n) for v in (j + 1, 10 + 20 * t + j % 7, 0.5)]
            k += n
        out[t] = {"people": [person] * people}
    return out


OPENPOSE_137 = {
    **body("pose_keypoints_2d", OPENPOSE_BODY),
    **face68("face_keypoints_2d", openpose.FACE_POINTS[:68]),
    **hands(("hand_left_keypoints_2d", "hand_right_keypoints_2d"), openpose.HAND_POINTS),
}


def test_openpose_137_maps_every_point_by_name(tmp_path):
    pose = openpose.load_openpose(openpose_frames(3, people=2), fps=25, width=SIZE[0],
                                  height=SIZE[1])
    assert pose.header.total_points() == 137
    read = write_read(tmp_path, pose)
    check(read, pose, OPENPOSE_137)
    assert len(OPENPOSE_137) == 133                   # every COCO point has a source
    assert openpose.FACE_POINTS[68:] == ["FP_68", "FP_69"]                # pupils: not iBUG
    # by hand, the points the part-wise encoder leans on
    at = pose.header.get_point_index
    src = np.ma.getdata(pose.body.data)[:, 0]
    for coco, component, name in (
            ("left_wrist", "pose_keypoints_2d", "LWrist"),
            ("right_wrist", "pose_keypoints_2d", "RWrist"),
            ("left_shoulder", "pose_keypoints_2d", "LShoulder"),
            ("right_elbow", "pose_keypoints_2d", "RElbow"),
            ("left_hand_wrist", "hand_left_keypoints_2d", "BASE"),
            ("right_hand_thumb4", "hand_right_keypoints_2d", "T_IP"),
            ("left_hand_pinky1", "hand_left_keypoints_2d", "P_CMC"),
            ("face_jaw8", "face_keypoints_2d", "FB_8"),
            ("face_inner_lip0", "face_keypoints_2d", "FLI_60")):
        np.testing.assert_array_equal(read.keypoints[:, COCO(coco)],
                                      src[:, at(component, name)])
    assert read.provenance["layout"] == "openpose_137" and read.fps == 25
    assert read.frame_size == SIZE and read.provenance["person"] == "index 0 of 2"


def test_openpose_zero_confidence_is_missing(tmp_path):
    frames = openpose_frames(2)
    rwrist = openpose.BODY_POINTS.index("RWrist")
    frames[1]["people"][0]["pose_keypoints_2d"][3 * rwrist + 2] = 0.0   # not detected
    read = write_read(tmp_path, openpose.load_openpose(frames, width=SIZE[0], height=SIZE[1]))
    assert read.valid[0, COCO("right_wrist")] and not read.valid[1, COCO("right_wrist")]
    assert read.confidence[1, COCO("right_wrist")] == 0 and read.valid[1, COCO("left_wrist")]


def test_removed_components_and_points_are_missing(tmp_path):
    """pose-format's pose_hide_legs(remove=True) and remove_components: reduced, not refused."""
    pose = openpose.load_openpose(openpose_frames(2), width=SIZE[0], height=SIZE[1])
    pose = generic.pose_hide_legs(pose, remove=True)
    pose = pose.remove_components(["hand_right_keypoints_2d"])
    read = write_read(tmp_path, pose)
    legs = {COCO(f"{side}_{part}") for side in ("left", "right")
            for part in ("hip", "knee", "ankle", "big_toe", "small_toe", "heel")}
    right_hand = set(range(RIGHT_HAND_OFFSET, RIGHT_HAND_OFFSET + 21))
    check(read, pose, {i: p for i, p in OPENPOSE_137.items() if i not in legs | right_hand})


OPENPOSE_135 = {
    **body("BODY_135", OPENPOSE_BODY),
    **face68("BODY_135", openpose_135.FACE_POINTS[:68]),
    **{HANDS[side] + i: [("BODY_135", name)] for side, names in
       (("left", ["LWrist", *openpose_135.LEFT_HAND_POINTS]),
        ("right", ["RWrist", *openpose_135.RIGHT_HAND_POINTS])) for i, name in enumerate(names)},
}


def test_openpose_135_maps_body_hands_face_and_the_wrist_roots_the_hands(tmp_path):
    pose = make_pose(openpose_135.OpenPose_Components)
    assert pose.header.total_points() == 135
    read = write_read(tmp_path, pose)
    check(read, pose, OPENPOSE_135)
    assert openpose_135.FACE_POINTS[68:] == ["RPupil", "LPupil"]
    # the brows run from the outer end: LEyeBrow4 (inner end of the left brow) is iBUG 22
    assert OPENPOSE_135[FACE_OFFSET + 22] == [("BODY_135", "LEyeBrow4")]
    np.testing.assert_array_equal(read.keypoints[:, LEFT_HAND_OFFSET],
                                  read.keypoints[:, COCO("left_wrist")])


# -- AlphaPose, COCO-WholeBody, MMPose ---------------------------------------------------------
def wholebody_expected(suffix: str, face: str, body_names) -> Expected:
    names = {n: n for n in body_names if n in COCO_WHOLEBODY_133.joint_names}
    return {**body(f"BODY{suffix}", names),
            **face68(f"FACE{suffix}", [face.format(i) for i in range(68)]),
            **hands((f"LEFT_HAND{suffix}", f"RIGHT_HAND{suffix}"),
                    [f"hand_{i}" for i in range(21)])}


def test_alphapose_136_maps_by_name_and_leaves_out_head_neck_pelvis(tmp_path):
    components = get_alphapose_components()
    pose = make_pose(components)
    read = write_read(tmp_path, pose)
    expected = wholebody_expected("_136", "face_{}", components[0].points)
    check(read, pose, expected)
    assert len(expected) == 133
    # Halpe's feet come in another order than COCO's: by name, not by position
    src = np.ma.getdata(pose.body.data)[:, 0]
    np.testing.assert_array_equal(read.keypoints[:, COCO("left_small_toe")],
                                  src[:, pose.header.get_point_index("BODY_136",
                                                                     "left_small_toe")])


def alphapose_133_v013() -> list[PoseHeaderComponent]:
    """AlphaPose-133 as pose-format 0.13 wrote it: face points named face_N."""
    components = get_alphapose_133_components()
    components[1].points = [f"face_{i}" for i in range(68)]
    return components


@pytest.mark.parametrize("make, suffix, face", [
    (cocowholebody_components, "", "face-{}"),
    (get_alphapose_133_components, "_133", "face-{}"),
    (alphapose_133_v013, "_133", "face_{}"),
])
def test_coco_wholebody_133_headers_are_the_coco_points(tmp_path, make, suffix, face):
    """COCO-WholeBody (also what pose-format's MMPose estimator writes) and AlphaPose-133."""
    components = make()
    pose = make_pose(components)
    read = write_read(tmp_path, pose)
    np.testing.assert_array_equal(read.keypoints, np.ma.getdata(pose.body.data)[:, 0])
    assert read.valid.all()
    check(read, pose, wholebody_expected(suffix, face, components[0].points))


# -- MediaPipe Holistic --------------------------------------------------------------------------
def holistic(face_points: int = 468) -> list[PoseHeaderComponent]:
    """pose-format's holistic_components(): mediapipe's names, face mesh points "0", "1", ..."""
    components = holistic_components()
    components[1].points = [str(i) for i in range(face_points)]
    components[2].points = components[3].points = list(MEDIAPIPE_HAND)
    return components


@pytest.mark.parametrize("face_points", [468, 478])
def test_holistic_maps_body_hands_and_face(tmp_path, face_points):
    pose = make_pose(holistic(face_points))
    read = write_read(tmp_path, pose)
    check(read, pose, holistic_expected())
    src = np.ma.getdata(pose.body.data)[:, 0, :, :2]
    mesh = pose.header.get_point_index("FACE_LANDMARKS", "0")
    np.testing.assert_array_equal(read.keypoints[:, FACE_OFFSET + 8], src[:, mesh + 152])  # chin
    np.testing.assert_array_equal(read.keypoints[:, FACE_OFFSET + 4],
                                  (src[:, mesh + 58] + src[:, mesh + 172]) / 2)
    assert read.provenance["layout"] == "holistic"


def test_reduced_holistic_keeps_what_reduce_holistic_keeps(tmp_path):
    pose = generic.reduce_holistic(make_pose(holistic()))
    sizes = {c.name: len(c.points) for c in pose.header.components}
    assert sizes == {"POSE_LANDMARKS": 8, "FACE_LANDMARKS": 128, "LEFT_HAND_LANDMARKS": 21,
                     "RIGHT_HAND_LANDMARKS": 21}                   # the WMT-SLT header
    read = write_read(tmp_path, pose)
    kept = set(pose.header.components[1].points)
    expected = {i: p for i, p in holistic_expected().items()
                if all(c != "FACE_LANDMARKS" or n in kept for c, n in p)}
    body_kept = {"left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist",
                 "right_wrist", "left_hip", "right_hip"}
    expected = {i: p for i, p in expected.items()
                if i >= FACE_OFFSET or COCO_WHOLEBODY_133.joint_names[i] in body_kept}
    check(read, pose, expected)
    assert not read.valid[:, COCO("nose")].any() and not read.valid[:, COCO("left_ear")].any()
    face_part = COCO_WHOLEBODY_133.parts["face"].joints
    assert read.valid[:, face_part].sum(axis=1).tolist() == [17] * 3   # all but the nose tip
    assert not read.valid[:, 53].any()                                 # mesh point 4 is gone


def test_a_face_point_averaged_from_two_mesh_points_needs_both(tmp_path):
    """iBUG 4 is the mean of mesh points 58 and 172: missing where either is masked or gone."""
    pose = make_pose(holistic())
    first = pose.header.get_point_index("FACE_LANDMARKS", "0")
    pose.body.confidence[1, 0, first + 172] = 0                      # masked in frame 1
    pose.body.data = np.ma.masked_array(pose.body.data)
    pose.body.data[1, 0, first + 172] = np.ma.masked
    read = write_read(tmp_path, pose, "masked")
    assert read.valid[:, FACE_OFFSET + 4].tolist() == [True, False, True]
    assert read.valid[:, FACE_OFFSET + 8].all()
    kept = [str(i) for i in range(468) if i != 58]                   # mesh point 58 removed
    names = [c.name for c in pose.header.components]
    read = write_read(tmp_path, pose.get_components(names, {"FACE_LANDMARKS": kept}), "cut")
    assert not read.valid[:, FACE_OFFSET + 4].any() and read.valid[:, FACE_OFFSET + 8].all()


def test_holistic_without_face_has_a_missing_face(tmp_path):
    pose = make_pose(holistic()).remove_components(["FACE_LANDMARKS"])
    check(write_read(tmp_path, pose), pose, holistic_expected(face=False))


# -- pose-format's own correspondences ----------------------------------------------------------
@pytest.mark.parametrize("components", [
    pytest.param(holistic, id="holistic"),
    pytest.param(lambda: openpose.OpenPose_Components, id="openpose_137"),
    pytest.param(get_alphapose_components, id="alphapose_136"),
    pytest.param(get_alphapose_133_components, id="alphapose_133"),
])
def test_pose_format_s_named_landmarks_land_on_its_coco_ones(tmp_path, components):
    """pose-format names the same landmarks in each layout (shoulders, body wrists, hand
    wrists, index/middle/pinky knuckles): each lands on the COCO point pose-format names."""
    pose = make_pose(components())
    read = write_read(tmp_path, pose)
    coco = make_pose(cocowholebody_components())
    src = np.ma.getdata(pose.body.data)[:, 0, :, :2]

    def pairs(p: Pose) -> list[int]:
        shoulders = [p.header.get_point_index(*c) for c in generic.pose_shoulders(p.header)]
        (left, right), knuckles, line = generic.hands_components(p.header)
        hand = [p.header.get_point_index(c, n) for c in (left, right) for n in (*knuckles, *line)]
        wrists = [f(p, side) for f in (generic.get_hand_wrist_index,
                                       generic.get_body_hand_wrist_index)
                  for side in ("LEFT", "RIGHT")]
        return shoulders + hand + wrists

    for source, target in zip(pairs(pose), pairs(coco), strict=True):
        np.testing.assert_array_equal(read.keypoints[:, target], src[:, source])


# -- layouts that cannot be mapped ---------------------------------------------------------------
def odd_header(tmp_path, name: str, components: list[PoseHeaderComponent]):
    data, conf = numbered(components, 2)
    return write_pose(tmp_path / f"{name}.pose", components, data, conf, 25.0, SIZE)


def comp(name: str, points: list[str]) -> PoseHeaderComponent:
    return PoseHeaderComponent(name, points, [], [], "XYC")


@pytest.mark.parametrize("components, phrase", [
    ([comp("KEYPOINTS", [f"p{i}" for i in range(17)])], "no component of a known layout"),
    ([comp("POSE_WORLD_LANDMARKS", list(POSE_LANDMARKS))], "no component of a known layout"),
    ([comp("BODY", ["a", "b"]), comp("hand_left_keypoints_2d", ["BASE"])],
     r"components of several layouts \(openpose_137, coco_wholebody_133\)"),
    ([comp("BODY", [f"joint{i}" for i in range(23)])], "no point name"),
])
def test_an_unmappable_header_is_a_layout_error_for_that_file(tmp_path, components, phrase):
    path = odd_header(tmp_path, "odd", components)
    with pytest.raises(ClipError, match=rf"odd\.pose: skipped: {phrase}") as caught:
        read_clip(path, "odd")
    assert caught.value.kind == "layout" and caught.value.clip_id == "odd"
    assert "convert it" in str(caught.value) and "\n" not in str(caught.value)


def test_an_unmappable_file_is_skipped_and_reported_not_fatal(tmp_path):
    good = make_pose(cocowholebody_components())
    for name in ("a", "c"):
        write_pose(tmp_path / f"src/{name}.pose", good.header.components, good.body.data,
                   np.asarray(good.body.confidence), 25.0, SIZE)
    odd_header(tmp_path / "src", "b", [comp("KEYPOINTS", ["p0", "p1"])])
    errors: list[ClipError] = []
    clips = list(read_clips(tmp_path / "src", errors=errors))
    assert [c.id for c in clips] == ["a", "c"]
    assert [(e.clip_id, e.kind) for e in errors] == [("b", "layout")]
    labels = {i: LabelRecord(i, "train") for i in "abc"}
    report = validate(clips, labels, clip_errors=errors)
    assert report.ok and report.n_clips == 3 and report.n_matched == 2
    text = report.to_text()
    assert "clips skipped (keypoint layout not mappable to coco_wholebody_133): 1: b (" in text
    assert "b.pose: skipped" in text and "FATAL" not in text
    # only skipped clips: nothing to prepare, and the one line says why
    only = validate([], labels, clip_errors=errors)
    assert only.fatal == [f"no clips were read, all were skipped: 1: b (detail {errors[0]})"]


# -- through `python -m harness prepare` ---------------------------------------------------------
def test_openpose_and_reduced_holistic_files_prepare_and_an_unmappable_one_is_skipped(
        harness, tmp_path):
    clips = islr_clips(7)
    written, bad = {}, clips[0]["id"]
    for n, c in enumerate(clips):
        path = tmp_path / "poses" / f"{c['id']}.pose"
        if c["id"] == bad:
            odd_header(tmp_path / "poses", bad, [comp("KEYPOINTS", ["p0", "p1", "p2"])])
            continue
        if n % 2:
            pose = openpose.load_openpose(openpose_frames(c["T"]), fps=25, width=SIZE[0],
                                          height=SIZE[1])
        else:
            pose = generic.reduce_holistic(make_pose(holistic(), c["T"]))
        write_pose(path, pose.header.components, pose.body.data, np.asarray(pose.body.confidence),
                   25.0, SIZE)
        written[c["id"]] = pose
    wlasl_json(tmp_path / "WLASL_v0.3.json", clips)
    store = prepare(harness, "wlasl", "--source", str(tmp_path / "poses"), "--labels",
                    str(tmp_path / "WLASL_v0.3.json"), "--data-root", str(tmp_path / "data"))
    out = stored(store)
    assert set(out) == set(written) and bad not in out
    validation = store.meta["info"]["validation"]
    assert [e["id"] for e in validation["clip_errors"]["layout"]] == [bad]
    assert validation["fatal"] == [] and bad in validation["labels_without_poses"]["train"]
    assert validation["n_clips"] == len(clips) and validation["n_matched"] == len(clips) - 1
    for clip_id, (kp, _, valid, _) in out.items():
        pose = written[clip_id]
        src = np.ma.getdata(pose.body.data)[:, 0, :, :2]
        at = pose.header.get_point_index
        if pose.header.components[0].name == "pose_keypoints_2d":
            left_wrist, right_elbow = at("pose_keypoints_2d", "LWrist"), at("pose_keypoints_2d",
                                                                             "RElbow")
            left = at("hand_left_keypoints_2d", "BASE")
            assert valid.all()
        else:
            left_wrist, right_elbow = at("POSE_LANDMARKS", "LEFT_WRIST"), at("POSE_LANDMARKS",
                                                                              "RIGHT_ELBOW")
            left = at("LEFT_HAND_LANDMARKS", "WRIST")
            assert not valid[:, COCO("nose")].any() and valid[:, LEFT_HAND_OFFSET:].all()
        np.testing.assert_array_equal(kp[:, COCO("left_wrist")], src[:, left_wrist])
        np.testing.assert_array_equal(kp[:, COCO("right_elbow")], src[:, right_elbow])
        np.testing.assert_array_equal(kp[:, LEFT_HAND_OFFSET:LEFT_HAND_OFFSET + 21],
                                      src[:, left:left + 21])
