"""MediaPipe Holistic points mapped into COCO-WholeBody-133.

Why map instead of registering a MediaPipe layout: the harness's encoders and every
pre-trained checkpoint read COCO-WholeBody-133 parts (body 9, hands 21 + 21, face 18), so one
layout lets a model trained on one release be fine-tuned or evaluated on another, and a
store never mixes layouts. Points MediaPipe does not have stay valid=False.

``to_coco`` reads one array ``[33 pose | 21 left hand | 21 right hand | face mesh]`` (the
OpenHands order); ``.pose`` files are mapped by point name with the same correspondences
(``pose_layouts``), from the names below:

- body: nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles and heels by name
  (MediaPipe's left/right are the signer's own, as in COCO); toes stay missing.
- hands: MediaPipe's 21 hand points are in COCO-WholeBody's hand order (wrist, then four
  joints per finger from the thumb), copied as they are.
- face: only the 18 points the part-wise encoder uses, from the 468-point face mesh by the
  usual approximate mesh-to-iBUG-68 correspondence (an average of two mesh points where one
  iBUG point falls between them): every second jaw point, the inner lip, the nose tip.
  Without a face mesh (OpenHands keeps none) the face is missing.
"""

from __future__ import annotations

import numpy as np

from harness.core.layouts import (
    COCO_WHOLEBODY_133,
    FACE_OFFSET,
    LEFT_HAND_OFFSET,
    RIGHT_HAND_OFFSET,
)

POSE_LANDMARKS = (
    "NOSE", "LEFT_EYE_INNER", "LEFT_EYE", "LEFT_EYE_OUTER", "RIGHT_EYE_INNER", "RIGHT_EYE",
    "RIGHT_EYE_OUTER", "LEFT_EAR", "RIGHT_EAR", "MOUTH_LEFT", "MOUTH_RIGHT", "LEFT_SHOULDER",
    "RIGHT_SHOULDER", "LEFT_ELBOW", "RIGHT_ELBOW", "LEFT_WRIST", "RIGHT_WRIST", "LEFT_PINKY",
    "RIGHT_PINKY", "LEFT_INDEX", "RIGHT_INDEX", "LEFT_THUMB", "RIGHT_THUMB", "LEFT_HIP",
    "RIGHT_HIP", "LEFT_KNEE", "RIGHT_KNEE", "LEFT_ANKLE", "RIGHT_ANKLE", "LEFT_HEEL",
    "RIGHT_HEEL", "LEFT_FOOT_INDEX", "RIGHT_FOOT_INDEX",
)
#: MediaPipe's 21 hand landmarks (``HandLandmark``), in COCO-WholeBody's hand order.
HAND_LANDMARKS = (
    "WRIST", "THUMB_CMC", "THUMB_MCP", "THUMB_IP", "THUMB_TIP", "INDEX_FINGER_MCP",
    "INDEX_FINGER_PIP", "INDEX_FINGER_DIP", "INDEX_FINGER_TIP", "MIDDLE_FINGER_MCP",
    "MIDDLE_FINGER_PIP", "MIDDLE_FINGER_DIP", "MIDDLE_FINGER_TIP", "RING_FINGER_MCP",
    "RING_FINGER_PIP", "RING_FINGER_DIP", "RING_FINGER_TIP", "PINKY_MCP", "PINKY_PIP",
    "PINKY_DIP", "PINKY_TIP",
)
N_POSE, N_HAND, N_FACE_MESH = len(POSE_LANDMARKS), len(HAND_LANDMARKS), 468
LEFT_START, RIGHT_START, FACE_START = N_POSE, N_POSE + N_HAND, N_POSE + 2 * N_HAND

#: The COCO body points MediaPipe's pose has (its names are these, upper-cased).
COCO_BODY = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder", "right_shoulder",
    "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
)
#: iBUG-68 index -> face-mesh indices (averaged) for the face points the encoder uses.
FACE_MESH_TO_IBUG: dict[int, tuple[int, ...]] = {
    0: (127,), 2: (93,), 4: (58, 172), 6: (150,), 8: (152,), 10: (379,), 12: (397, 288),
    14: (323,), 16: (356,),                                   # jaw, every second point
    60: (78,), 61: (82,), 62: (13,), 63: (312,), 64: (308,),  # inner lip, upper
    65: (317,), 66: (14,), 67: (87,),                         # inner lip, lower
    30: (4,),                                                 # nose tip
}


def _gather_table(with_face: bool) -> np.ndarray:
    """(133, 2) source indices per COCO point (two equal ones for a copy; -1: none)."""
    table = np.full((COCO_WHOLEBODY_133.num_joints, 2), -1, dtype=np.int64)
    for name in COCO_BODY:
        table[COCO_WHOLEBODY_133.index(name)] = POSE_LANDMARKS.index(name.upper())
    for i in range(N_HAND):
        table[LEFT_HAND_OFFSET + i] = LEFT_START + i
        table[RIGHT_HAND_OFFSET + i] = RIGHT_START + i
    if with_face:
        for ibug, mesh in FACE_MESH_TO_IBUG.items():
            table[FACE_OFFSET + ibug] = (FACE_START + mesh[0], FACE_START + mesh[-1])
    return table


def to_coco(xy: np.ndarray, conf: np.ndarray, valid: np.ndarray
            ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Map (T, 75 [+ mesh], C) MediaPipe points to (T, 133, C) COCO-WholeBody points."""
    table = _gather_table(with_face=xy.shape[1] >= FACE_START + N_FACE_MESH)
    present = table[:, 0] >= 0
    a, b = np.where(present, table[:, 0], 0), np.where(present, table[:, 1], 0)
    out_xy = (xy[:, a] + xy[:, b]) / 2
    out_conf = np.minimum(conf[:, a], conf[:, b])
    out_valid = valid[:, a] & valid[:, b] & present
    return out_xy, out_conf, out_valid
