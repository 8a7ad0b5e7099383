"""The keypoint layouts pose-format defines, as tables by point name into COCO-WholeBody-133.

A ``.pose`` header names its components and the points of each. Every layout below is a table
from (component name, point name) to the COCO-WholeBody-133 indices that point fills
(``harness.core.layouts``: 0-16 body, 17-22 feet, 23-90 the 68-point iBUG face, 91-111 left hand,
112-132 right hand). Left and right are the signer's own side in all of these layouts, as in
COCO. A COCO point that several source points fill is their mean; one that no source point
fills stays missing. Only true correspondences are listed: points COCO lacks (OpenPose's
neck, mid-hip and pupils, Halpe's head top, neck and pelvis, the mouth corners, inner and outer
eye corners and hand and foot points of MediaPipe's pose model) are left out.

The layouts, as pose-format 0.15 defines their headers (``pose_format.utils``):

- ``holistic`` (``holistic.holistic_components``): POSE_LANDMARKS (MediaPipe's 33 pose
  landmark names), FACE_LANDMARKS (the face mesh, points "0" to "467", or "477" with irises),
  LEFT_HAND_LANDMARKS and RIGHT_HAND_LANDMARKS (MediaPipe's 21 hand landmark names).
  POSE_WORLD_LANDMARKS (metres, not image coordinates) is not read. Body and hands correspond
  as in ``_mediapipe``; of the face, the 18 iBUG points of ``_mediapipe``'s mesh
  correspondence (the part-wise encoder's), the other 50 are missing. ``generic.reduce_holistic``
  (the WMT-SLT header) keeps 8 body points (shoulders, elbows, wrists, hips) and 128 face
  contour points: the same table reads it, and what it dropped (nose, eyes, ears, knees,
  ankles, heels; the face's nose tip, mesh point 4) is missing.
- ``openpose_137`` (``openpose.OpenPose_Components``, what ``load_openpose`` writes; e.g. the
  DGS Corpus): pose_keypoints_2d (BODY_25), face_keypoints_2d (70: the 68 iBUG points FB_0 to
  FLI_67, named by their iBUG index, then two pupils), hand_left_keypoints_2d and
  hand_right_keypoints_2d (OpenPose's 21-point hand, in COCO's order: BASE is the wrist, then
  four points per finger from the thumb; pose-format's names label these positions).
- ``openpose_135`` (``openpose_135.OpenPose_Components``; e.g. AUTSL, WMT-SLT): one component
  BODY_135 with 25 body points, 20 points per hand (no hand wrist: the body's LWrist and RWrist
  are the hands' roots and fill both), and OpenPose's 70 face points (brows numbered from their
  outer end, so LEyeBrow4 is iBUG 22).
- ``alphapose_136`` (``alphapose.get_alphapose_components``, Halpe): BODY_136 (COCO's body and
  feet names, in another order), FACE_136 (face_0 to face_67), LEFT_HAND_136 and RIGHT_HAND_136
  (hand_0 to hand_20).
- ``alphapose_133`` (``alphapose_133.get_alphapose_133_components``) and
  ``coco_wholebody_133`` (``cocowholebody133_header.cocowholebody_components``, which
  ``mmposewholebody`` also writes): BODY_133 / BODY, FACE_133 / FACE (face-0 to face-67;
  pose-format 0.13 wrote AlphaPose's as face_0 to face_67), LEFT_HAND_133 / LEFT_HAND and
  RIGHT_HAND_133 / RIGHT_HAND (hand_0 to hand_20): the COCO points themselves.

A header is read with the one layout its component names belong to; points named otherwise
(by another tool) are not read, and a header with components of no layout here, or of several,
is refused (``pose_file``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from benchmarks.formats._mediapipe import COCO_BODY, FACE_MESH_TO_IBUG, HAND_LANDMARKS
from harness.core.layouts import (
    COCO_WHOLEBODY_133,
    FACE_OFFSET,
    LEFT_HAND_OFFSET,
    RIGHT_HAND_OFFSET,
)

#: A source point: (component name, point name).
Point = tuple[str, str]

_HANDS = (("left", LEFT_HAND_OFFSET), ("right", RIGHT_HAND_OFFSET))  # side, first COCO index
_N_BODY = FACE_OFFSET  # COCO's 17 body and 6 foot points
_COCO = COCO_WHOLEBODY_133.index


@dataclass(frozen=True)
class SourceLayout:
    """A layout pose-format defines: its id, estimator, (component, point) -> COCO indices,
    and older names of points (old name -> the name in ``table``)."""

    name: str
    estimator: str
    table: Mapping[Point, tuple[int, ...]]
    aliases: Mapping[Point, Point] = field(default_factory=dict)

    @property
    def components(self) -> frozenset[str]:
        """The component names the layout reads."""
        return frozenset(component for component, _ in self.table)

    def sources(self) -> dict[int, tuple[Point, ...]]:
        """COCO index -> the source points whose mean it is."""
        out: dict[int, tuple[Point, ...]] = {}
        for point, targets in self.table.items():
            for target in targets:
                out[target] = (*out.get(target, ()), point)
        return out


def _table(pairs: Iterable[tuple[Point, int]]) -> dict[Point, tuple[int, ...]]:
    table: dict[Point, tuple[int, ...]] = {}
    for point, index in pairs:
        table[point] = (*table.get(point, ()), index)
    return table


def _holistic() -> Iterable[tuple[Point, int]]:
    for name in COCO_BODY:
        yield ("POSE_LANDMARKS", name.upper()), _COCO(name)
    for side, offset in _HANDS:
        for i, name in enumerate(HAND_LANDMARKS):
            yield (f"{side.upper()}_HAND_LANDMARKS", name), offset + i
    for ibug, mesh in FACE_MESH_TO_IBUG.items():
        for index in mesh:
            yield ("FACE_LANDMARKS", str(index)), FACE_OFFSET + ibug


#: OpenPose body point -> COCO point (BODY_25 and BODY_135 share these names).
_OPENPOSE_BODY = {
    "Nose": "nose",
    **{f"{side[0].upper()}{part}": f"{side}_{coco}" for side in ("left", "right")
       for part, coco in (("Eye", "eye"), ("Ear", "ear"), ("Shoulder", "shoulder"),
                          ("Elbow", "elbow"), ("Wrist", "wrist"), ("Hip", "hip"), ("Knee", "knee"),
                          ("Ankle", "ankle"), ("BigToe", "big_toe"), ("SmallToe", "small_toe"),
                          ("Heel", "heel"))},
}
_FINGERS = ("Thumb", "Index", "Middle", "Ring", "Pinky")


def _openpose_137() -> Iterable[tuple[Point, int]]:
    for name, coco in _OPENPOSE_BODY.items():
        yield ("pose_keypoints_2d", name), _COCO(coco)
    for prefix, first, end in (("FB", 0, 17), ("FEB", 17, 27), ("FN", 27, 36), ("FE", 36, 48),
                               ("FLO", 48, 60), ("FLI", 60, 68)):
        for ibug in range(first, end):
            yield ("face_keypoints_2d", f"{prefix}_{ibug}"), FACE_OFFSET + ibug
    hand = ("BASE", "T_STT", "T_BCMC", "T_MCP", "T_IP",
            *(f"{finger[0]}_{joint}" for finger in _FINGERS[1:]
              for joint in ("CMC", "MCP", "PIP", "DIP")))
    for side, offset in _HANDS:
        for i, name in enumerate(hand):
            yield (f"hand_{side}_keypoints_2d", name), offset + i


def _openpose_135() -> Iterable[tuple[Point, int]]:
    for name, coco in _OPENPOSE_BODY.items():
        yield ("BODY_135", name), _COCO(coco)
    for side, offset in _HANDS:
        s = side[0].upper()
        yield ("BODY_135", f"{s}Wrist"), offset  # the hand's root is the body's wrist
        for f, finger in enumerate(_FINGERS):
            joints = (("1CMC", "2Knuckles", "3IP") if finger == "Thumb"
                      else ("1Knuckles", "2PIP", "3DIP"))
            for j, joint in enumerate((*joints, "4FingerTip")):
                yield ("BODY_135", f"{s}{finger}{joint}"), offset + 1 + 4 * f + j
    face = (*(f"FaceContour{i}" for i in range(17)), *(f"REyeBrow{i}" for i in range(5)),
            *(f"LEyeBrow{i}" for i in reversed(range(5))), *(f"NoseUpper{i}" for i in range(4)),
            *(f"NoseLower{i}" for i in range(5)), *(f"REye{i}" for i in range(6)),
            *(f"LEye{i}" for i in range(6)), *(f"OMouth{i}" for i in range(12)),
            *(f"IMouth{i}" for i in range(8)))
    for ibug, name in enumerate(face):
        yield ("BODY_135", name), FACE_OFFSET + ibug


def _wholebody(suffix: str, face: str) -> Iterable[tuple[Point, int]]:
    for i, name in enumerate(COCO_WHOLEBODY_133.joint_names[:_N_BODY]):
        yield (f"BODY{suffix}", name), i
    for ibug in range(68):
        yield (f"FACE{suffix}", face.format(ibug)), FACE_OFFSET + ibug
    for side, offset in _HANDS:
        for i in range(21):
            yield (f"{side.upper()}_HAND{suffix}", f"hand_{i}"), offset + i


#: pose-format 0.13 named AlphaPose-133's face points face_N; 0.14 renamed them face-N.
_ALPHAPOSE_133_FACE = {("FACE_133", f"face_{i}"): ("FACE_133", f"face-{i}") for i in range(68)}

LAYOUTS: tuple[SourceLayout, ...] = (
    SourceLayout("holistic", "MediaPipe Holistic", _table(_holistic())),
    SourceLayout("openpose_137", "OpenPose (BODY_25, face, hands)", _table(_openpose_137())),
    SourceLayout("openpose_135", "OpenPose BODY_135", _table(_openpose_135())),
    SourceLayout("alphapose_136", "AlphaPose Halpe-136", _table(_wholebody("_136", "face_{}"))),
    SourceLayout("alphapose_133", "AlphaPose COCO-WholeBody-133",
                 _table(_wholebody("_133", "face-{}")), _ALPHAPOSE_133_FACE),
    SourceLayout("coco_wholebody_133", "COCO-WholeBody-133", _table(_wholebody("", "face-{}"))),
)


def layouts_of(component_names: Iterable[str]) -> list[SourceLayout]:
    """The layouts that read any of these components (one for a header pose-format wrote)."""
    names = set(component_names)
    return [layout for layout in LAYOUTS if layout.components & names]
