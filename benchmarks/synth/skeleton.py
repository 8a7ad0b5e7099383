"""The articulated 2D signer and its rendering into the 133 COCO-WholeBody points.

Body coordinates are pixels at camera scale 1 with the origin at the neck base (midpoint of
the shoulders), x to the image right (the signer's left) and y down. Each arm and hand is
computed in a canonical frame that is the signer's right side; the left side is its mirror
image (x -> -x), so one code path serves both hands and left-dominant signers.

- Arms: 2D two-link inverse kinematics from the shoulder to a target wrist with fixed
  upper-arm and forearm lengths. The elbow always takes the same of the two solutions
  (outwards for hands in front of the torso, down in front of the chest for hands at the
  face), so it never flips between frames.
- Hands: forward kinematics of a small 3D hand (palm axes u along the fingers, v towards
  the thumb, n out of the palm); each finger flexes at three joints towards n, the thumb
  has abduction, opposition and flexion. The hand is projected orthographically after an
  in-plane rotation ``theta`` and a roll ``rho`` about u, so the hand width is
  foreshortened by cos(rho) and flexed fingers show when the palm is seen from the side.
- Face: the 68 iBUG landmarks from a template scaled by the head size; mouth opening and
  brow raise deform it, nods and shakes move it.
- Legs and feet are placed below the hips (mostly outside the frame).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

N_JOINTS = 133
FACE, LEFT_HAND, RIGHT_HAND = 23, 91, 112
LEG_JOINTS = np.arange(13, 23)
#: Hand-centre offset along the finger axis from the wrist, in hand lengths.
HAND_CENTRE = 0.45


@dataclass(frozen=True)
class Signer:
    """Body proportions (pixels at camera scale 1), camera placement and signing habits."""

    id: str
    shoulder_width: float
    upper_arm: float
    forearm: float
    head_size: float
    hand_size: float
    neck: float
    torso: float
    origin: tuple[float, float]   # pixel position of the neck base
    scale: float                  # camera distance factor
    tilt: float                   # in-plane body rotation (radians)
    space: float                  # signing-space size factor
    tempo: float                  # frames-per-sign factor (> 1: slower)
    left_dominant: bool

    @property
    def face_centre_y(self) -> float:
        """Body y of the face-template origin (the chin sits at -neck)."""
        return -(self.neck + 0.5 * self.head_size)


def sample_signer(sid: str, rng: np.random.Generator, variation: float, left_dominant: bool,
                  frame_size: tuple[int, int]) -> Signer:
    """Draw one signer; ``variation`` scales every deviation from the reference body."""
    u = rng.uniform(-1.0, 1.0, size=12) * variation
    w, h = frame_size
    sw = 150.0 * (1 + 0.12 * u[0])
    return Signer(
        id=sid, shoulder_width=sw,
        upper_arm=0.60 * sw * (1 + 0.08 * u[1]), forearm=0.52 * sw * (1 + 0.08 * u[2]),
        head_size=0.5 * sw * (1 + 0.10 * u[3]), hand_size=0.46 * sw * (1 + 0.10 * u[4]),
        neck=0.2 * sw * (1 + 0.2 * u[5]), torso=1.45 * sw * (1 + 0.08 * u[6]),
        origin=(w * (0.5 + 0.06 * u[7]), h * (0.40 + 0.04 * u[8])),
        scale=min(w, h) / 512.0 * (1 + 0.13 * u[9]), tilt=0.04 * u[10],
        space=1 + 0.2 * u[11], tempo=float(1 + 0.22 * rng.uniform(-1, 1) * variation),
        left_dominant=left_dominant)


def _face_template() -> np.ndarray:
    """The 68 iBUG landmarks of a frontal face, in head-size units around the face origin."""
    phi = (np.pi + 0.1) - np.arange(17) * (np.pi + 0.2) / 16
    c, s = np.cos(phi), np.sin(phi)
    jaw = np.stack([0.5 * np.sign(c) * np.abs(c) ** 0.8, -0.1 + 0.6 * s], 1)
    brow_x = np.array([-0.40, -0.32, -0.23, -0.14, -0.06])
    brow_y = np.array([-0.30, -0.35, -0.37, -0.36, -0.33])
    brows = np.concatenate([np.stack([brow_x, brow_y], 1),
                            np.stack([-brow_x[::-1], brow_y[::-1]], 1)])
    bridge = np.stack([np.zeros(4), np.linspace(-0.2, 0.04, 4)], 1)
    base = np.array([[-0.09, 0.09], [-0.045, 0.11], [0, 0.12], [0.045, 0.11], [0.09, 0.09]])
    r_eye = np.array([[-0.29, -0.17], [-0.23, -0.205], [-0.17, -0.205], [-0.11, -0.17],
                      [-0.17, -0.14], [-0.23, -0.14]])
    l_eye = r_eye[[3, 2, 1, 0, 5, 4]] * [-1, 1]
    outer = np.array([[-0.17, 0.27], [-0.11, 0.235], [-0.045, 0.22], [0, 0.225],
                      [0.045, 0.22], [0.11, 0.235], [0.17, 0.27], [0.11, 0.31],
                      [0.045, 0.33], [0, 0.335], [-0.045, 0.33], [-0.11, 0.31]])
    inner = np.array([[-0.14, 0.27], [-0.045, 0.255], [0, 0.255], [0.045, 0.255],
                      [0.14, 0.27], [0.045, 0.28], [0, 0.282], [-0.045, 0.28]])
    face = np.concatenate([jaw, brows, bridge, base, r_eye, l_eye, outer, inner])
    assert face.shape == (68, 2)
    return face


FACE_TEMPLATE = _face_template()
# Per-landmark weights of the mouth opening (lower lip and chin drop) and brow raise.
_MOUTH_W = np.zeros(68)
_MOUTH_W[4:13] = 0.06 * np.cos(np.linspace(-1.2, 1.2, 9))
_MOUTH_W[[55, 56, 57, 58, 59, 65, 66, 67]] = 0.1
_MOUTH_W[[48, 54, 60, 64]] = 0.03
_BROW_W = np.zeros(68)
_BROW_W[17:27] = 0.05
#: Nose, left eye, right eye, left ear, right ear (COCO 0-4) in face-template units.
_HEAD_POINTS = np.array([FACE_TEMPLATE[30], FACE_TEMPLATE[42:48].mean(0),
                         FACE_TEMPLATE[36:42].mean(0), [0.53, -0.1], [-0.53, -0.1]])

# Hand geometry in hand lengths: MCP joints (u, v) of index..pinky and their segment lengths,
# the thumb CMC joint and thumb segment lengths, the direction the thumb flexes towards.
_MCP_U = np.array([0.44, 0.45, 0.43, 0.39])[:, None]
_MCP_V = np.array([0.12, 0.0, -0.10, -0.19])[:, None]
_SEG = np.array([[0.22, 0.13, 0.10], [0.25, 0.155, 0.11], [0.23, 0.15, 0.10],
                 [0.18, 0.11, 0.09]])
_THUMB_CMC = (0.10, 0.14)
_THUMB_SEG = np.array([0.20, 0.15, 0.12])
_THUMB_BEND = np.array([0.0, -0.6, 0.8])


def hand_local(shape: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Forward kinematics: handshapes (..., 21) -> u, v, n coordinates (..., 21) of 21 points."""
    lead = shape.shape[:-1]
    # fingers: each joint flexes towards the palm normal n, in the plane of the spread finger
    flex = np.cumsum(shape[..., 3:15].reshape((*lead, 4, 3)), axis=-1)
    spread = shape[..., 15:19, None]
    along = np.cos(flex) * _SEG
    pts = []
    for base, step in ((_MCP_U, along * np.cos(spread)), (_MCP_V, along * np.sin(spread)),
                       (0.0, np.sin(flex) * _SEG)):
        chain = base + np.cumsum(step, axis=-1)
        first = np.broadcast_to(np.asarray(base, dtype=float), (*lead, 4, 1))
        pts.append(np.concatenate([first, chain], axis=-1).reshape((*lead, 16)))
    # thumb: abduction and opposition give its direction, flexion bends it across the palm
    ab, op = shape[..., 19, None], shape[..., 20, None]
    d0 = (np.cos(op) * np.cos(ab), np.cos(op) * np.sin(ab), np.sin(op))
    dot = sum(b * d for b, d in zip(_THUMB_BEND, d0, strict=True))
    bend = [b - dot * d for b, d in zip(_THUMB_BEND, d0, strict=True)]
    norm = np.sqrt(sum(b * b for b in bend))
    phi = np.cumsum(shape[..., 0:3], axis=-1)
    cp, sp = np.cos(phi) * _THUMB_SEG, np.sin(phi) * _THUMB_SEG
    out = []
    for k, (d, b, c) in enumerate(zip(d0, bend, (*_THUMB_CMC, 0.0), strict=True)):
        thumb = c + np.cumsum(cp * d + sp * (b / norm), axis=-1)
        wrist_cmc = np.broadcast_to(np.array([0.0, c]), (*lead, 2))
        out.append(np.concatenate([wrist_cmc, thumb, pts[k]], axis=-1))
    return out[0], out[1], out[2]


def finger_axis(theta: np.ndarray) -> np.ndarray:
    """Image direction of the finger axis u for in-plane angles ``theta`` (0 = up)."""
    return np.stack([np.sin(theta), -np.cos(theta)], -1)


def project_hand(u: np.ndarray, v: np.ndarray, n: np.ndarray, theta: np.ndarray,
                 roll: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthographic image offsets (x, y) of canonical (right) hand points (..., 21)."""
    across = v * np.cos(roll)[..., None] + n * np.sin(roll)[..., None]
    st, ct = np.sin(theta)[..., None], np.cos(theta)[..., None]
    return u * st + across * ct, across * st - u * ct


def arm_ik(shoulder: np.ndarray, target: np.ndarray, upper: float, fore: float
           ) -> tuple[np.ndarray, np.ndarray]:
    """Two-link IK of a canonical (right) arm: elbows and reachable wrists for targets (..., 2)."""
    d = target - shoulder
    dist = np.linalg.norm(d, axis=-1, keepdims=True)
    unit = np.where(dist > 1e-6, d / np.maximum(dist, 1e-6), np.array([0.0, 1.0]))
    reach = np.clip(dist, abs(upper - fore) * 1.05 + 1e-3, (upper + fore) * 0.999)
    cos_a = (upper ** 2 + reach ** 2 - fore ** 2) / (2 * upper * reach)
    a = np.arccos(np.clip(cos_a, -1.0, 1.0))[..., 0]
    ca, sa = np.cos(a), np.sin(a)
    bent = np.stack([ca * unit[..., 0] - sa * unit[..., 1],
                     sa * unit[..., 0] + ca * unit[..., 1]], -1)
    return shoulder + upper * bent, shoulder + reach * unit


def _lower_body(signer: Signer) -> np.ndarray:
    """Hips, knees, ankles and feet (12, 2) in body coordinates, COCO order 11-22."""
    sw, ty = signer.shoulder_width, signer.torso
    hip, leg = 0.34 * sw, 0.374 * sw
    return np.array([
        [hip, ty], [-hip, ty], [hip * 1.05, ty + 1.05 * sw], [-hip * 1.05, ty + 1.05 * sw],
        [leg, ty + 2.0 * sw], [-leg, ty + 2.0 * sw],
        [leg + 0.05 * sw, ty + 2.15 * sw], [leg + 0.2 * sw, ty + 2.12 * sw], [leg, ty + 2.05 * sw],
        [-leg - 0.05 * sw, ty + 2.15 * sw], [-leg - 0.2 * sw, ty + 2.12 * sw],
        [-leg, ty + 2.05 * sw]])


def render(signer: Signer, centre: np.ndarray, theta: np.ndarray, roll: np.ndarray,
           shape: np.ndarray, mouth: np.ndarray, brow: np.ndarray, head: np.ndarray,
           sway: np.ndarray) -> np.ndarray:
    """Pixel coordinates (T, 133, 2) of the signer from per-frame hand and face tracks.

    ``centre``: (T, 2, 2) hand-centre targets, ``theta``/``roll``: (T, 2) radians,
    ``shape``: (T, 2, 21), all for the physical [right, left] hand in its canonical frame;
    ``mouth``/``brow``: (T,), ``head``: (T, 2) head offset, ``sway``: (T, 2) body offset.
    """
    t = centre.shape[0]
    sw, hs, h = signer.shoulder_width, signer.hand_size, signer.head_size
    x, y = np.empty((t, N_JOINTS)), np.empty((t, N_JOINTS))
    # arms and hands, physical [right, left]: the left side is the mirror image (x -> -x)
    side = np.array([1.0, -1.0])
    shoulder = np.array([-sw / 2, 0.0])
    wrist_target = centre - HAND_CENTRE * hs * finger_axis(theta)
    elbow, wrist = arm_ik(shoulder, wrist_target, signer.upper_arm, signer.forearm)
    hx, hy = project_hand(*hand_local(shape), theta, roll)
    hx = (wrist[..., 0, None] + hs * hx) * side[:, None]
    hy = wrist[..., 1, None] + hs * hy
    x[:, [6, 5]], y[:, [6, 5]] = shoulder[0] * side, 0.0
    x[:, [8, 7]], y[:, [8, 7]] = elbow[..., 0] * side, elbow[..., 1]
    x[:, [10, 9]], y[:, [10, 9]] = hx[:, :, 0], hy[:, :, 0]
    x[:, RIGHT_HAND:RIGHT_HAND + 21], y[:, RIGHT_HAND:RIGHT_HAND + 21] = hx[:, 0], hy[:, 0]
    x[:, LEFT_HAND:LEFT_HAND + 21], y[:, LEFT_HAND:LEFT_HAND + 21] = hx[:, 1], hy[:, 1]
    # face and head points
    ox, oy = head[:, 0, None], signer.face_centre_y + head[:, 1, None]
    x[:, FACE:FACE + 68] = ox + h * FACE_TEMPLATE[:, 0]
    y[:, FACE:FACE + 68] = oy + h * (FACE_TEMPLATE[:, 1] + mouth[:, None] * _MOUTH_W
                                     - brow[:, None] * _BROW_W)
    x[:, 0:5] = ox + h * _HEAD_POINTS[:, 0]
    y[:, 0:5] = oy + h * _HEAD_POINTS[:, 1]
    x[:, 11:23], y[:, 11:23] = _lower_body(signer).T
    # body sway, then the camera: rotation, scale, placement
    x += sway[:, 0, None]
    y += sway[:, 1, None]
    c, s = np.cos(signer.tilt) * signer.scale, np.sin(signer.tilt) * signer.scale
    return np.stack([signer.origin[0] + c * x - s * y, signer.origin[1] + s * x + c * y], -1)
