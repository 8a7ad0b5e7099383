"""Keypoint layouts: named joints, named parts and skeleton edges.

The harness speaks one canonical layout, ``coco_wholebody_133`` (the layout of the RTMPose /
HRNet whole-body estimators that the field's releases use). Index ranges follow the
COCO-WholeBody definition: 0-16 body, 17-22 feet, 23-90 face (the 68-point iBUG order),
91-111 left hand, 112-132 right hand. "Left" and "right" are the signer's own sides.
"""

from __future__ import annotations

from dataclasses import dataclass, field

_BODY17 = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow",
    "left_wrist", "right_wrist", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle",
)
_FEET6 = (
    "left_big_toe", "left_small_toe", "left_heel",
    "right_big_toe", "right_small_toe", "right_heel",
)
_HAND21 = (
    "wrist",
    "thumb1", "thumb2", "thumb3", "thumb4",
    "index1", "index2", "index3", "index4",
    "middle1", "middle2", "middle3", "middle4",
    "ring1", "ring2", "ring3", "ring4",
    "pinky1", "pinky2", "pinky3", "pinky4",
)
#: Edges of one 21-point hand, in hand-local indices (wrist = 0, four joints per finger, each
#: finger a chain from the wrist): the hand graph of Uni-Sign's release (``stgcn_layers/
#: gcn_utils.py``, layouts 'left'/'right'), which has no edges across the palm.
HAND_EDGES: tuple[tuple[int, int], ...] = tuple(
    (a, b) for base in (1, 5, 9, 13, 17)
    for a, b in ((0, base), (base, base + 1), (base + 1, base + 2), (base + 2, base + 3)))

FACE_OFFSET = 23
LEFT_HAND_OFFSET = 91
RIGHT_HAND_OFFSET = 112


def _face68_names() -> tuple[str, ...]:
    groups = (("jaw", 17), ("right_brow", 5), ("left_brow", 5), ("nose_bridge", 4),
              ("nose_base", 5), ("right_eye", 6), ("left_eye", 6), ("outer_lip", 12),
              ("inner_lip", 8))
    return tuple(f"face_{g}{i}" for g, n in groups for i in range(n))


@dataclass(frozen=True)
class Part:
    """A named subset of a layout's joints with its own skeleton graph.

    ``joints`` are indices into the full layout; ``edges`` use part-local indices;
    ``anchor`` is the part-local index that the part is expressed relative to (or None).
    """

    name: str
    joints: tuple[int, ...]
    edges: tuple[tuple[int, int], ...]
    anchor: int | None = None

    @property
    def size(self) -> int:
        """Number of joints in the part."""
        return len(self.joints)


@dataclass(frozen=True)
class Layout:
    """A keypoint layout: joint names and the parts the sign encoders use."""

    name: str
    joint_names: tuple[str, ...]
    parts: dict[str, Part] = field(default_factory=dict)

    @property
    def num_joints(self) -> int:
        """Number of joints per frame."""
        return len(self.joint_names)

    def index(self, joint: str) -> int:
        """Index of a joint by name."""
        return self.joint_names.index(joint)


def _coco_wholebody_133() -> Layout:
    names = (_BODY17 + _FEET6 + _face68_names()
             + tuple(f"left_hand_{n}" for n in _HAND21)
             + tuple(f"right_hand_{n}" for n in _HAND21))
    assert len(names) == 133
    # The parts and their graphs are those of Uni-Sign's release (``datasets.py`` picks the
    # points, ``stgcn_layers/gcn_utils.py`` joins them). Body: nose, ears, shoulders, elbows,
    # wrists (local 0..8); the nose joins the ears and the shoulders, each arm is a chain.
    body = Part(
        "body", (0, 3, 4, 5, 6, 7, 8, 9, 10),
        ((0, 1), (0, 2), (0, 3), (0, 4), (3, 5), (5, 7), (4, 6), (6, 8)),
        anchor=None,
    )
    left = Part("left_hand", tuple(range(LEFT_HAND_OFFSET, LEFT_HAND_OFFSET + 21)), HAND_EDGES, 0)
    right = Part("right_hand", tuple(range(RIGHT_HAND_OFFSET, RIGHT_HAND_OFFSET + 21)),
                 HAND_EDGES, 0)
    # Face: every second jaw point (9, a chain), the inner lip (8, a loop), the nose tip (1),
    # which joins all 17 other points and is the part's anchor.
    jaw = tuple(range(FACE_OFFSET, FACE_OFFSET + 17, 2))
    inner_lip = tuple(range(83, 91))
    face_joints = jaw + inner_lip + (53,)
    face_edges = tuple((i, i + 1) for i in range(8))  # jaw chain
    face_edges += tuple((9 + i, 9 + (i + 1) % 8) for i in range(8))  # inner-lip loop
    face_edges += tuple((17, i) for i in range(17))  # nose tip to every other point
    face = Part("face", face_joints, face_edges, anchor=17)
    return Layout("coco_wholebody_133", names,
                  {p.name: p for p in (body, left, right, face)})


COCO_WHOLEBODY_133 = _coco_wholebody_133()
LAYOUTS: dict[str, Layout] = {COCO_WHOLEBODY_133.name: COCO_WHOLEBODY_133}

#: Part-local indices of the wrists in the body part (for hands) and the nose (for the face).
BODY_LEFT_WRIST, BODY_RIGHT_WRIST, BODY_NOSE = 7, 8, 0


def get_layout(name: str) -> Layout:
    """Look up a layout by id."""
    try:
        return LAYOUTS[name]
    except KeyError:
        raise KeyError(f"unknown keypoint layout {name!r}; known: {sorted(LAYOUTS)}") from None
