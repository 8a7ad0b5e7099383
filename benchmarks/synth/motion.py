"""Timelines: signs, rest poses and transitions as per-frame tracks of the articulators.

A ``Track`` holds, per frame, the hand-centre target, in-plane angle, palm roll and
handshape vector of the dominant and the non-dominant hand (each in its own canonical
right-side frame, see ``skeleton``), plus mouth opening, brow raise and a head offset.
A sign's track comes from its phonological parameters (``lexicon.Sign``) with per-instance
variation of every parameter; ``join`` links tracks by transitions in which every channel
is interpolated with an ease-in/ease-out profile, so the hands travel and the handshape
morphs from the end of one segment to the start of the next.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from benchmarks.synth.lexicon import (
    BASE_SHAPES,
    HANDSHAPES,
    MIDLINE,
    MOVEMENTS,
    ORIENTATIONS,
    RELAXED,
    REST_ORIENTATION,
    Sign,
)
from benchmarks.synth.skeleton import HAND_CENTRE, Signer


@dataclass
class Track:
    """Per-frame articulator targets; hand axes are [dominant, non-dominant]."""

    centre: np.ndarray   # (T, 2, 2) hand-centre targets, canonical frames
    theta: np.ndarray    # (T, 2) in-plane hand angle (radians)
    roll: np.ndarray     # (T, 2) palm roll (radians)
    shape: np.ndarray    # (T, 2, 21) handshape vectors
    mouth: np.ndarray    # (T,) mouth opening 0..1
    brow: np.ndarray     # (T,) brow raise (negative: furrow)
    head: np.ndarray     # (T, 2) head offset (pixels at camera scale 1)

    @property
    def frames(self) -> int:
        """Number of frames."""
        return int(self.centre.shape[0])


_FIELDS = tuple(f.name for f in fields(Track))
_REST = np.array([-0.3, 1.06])
_REST_THETA, _REST_ROLL = np.deg2rad(REST_ORIENTATION)


def _smooth(s: np.ndarray) -> np.ndarray:
    return s * s * (3.0 - 2.0 * s)


def location_xy(name: str, signer: Signer) -> np.ndarray:
    """Canonical-frame position of a named location for this signer's body."""
    sw, h, fy = signer.shoulder_width, signer.head_size, signer.face_centre_y
    x, y = {
        "neutral": (-0.22 * sw, 0.68 * sw), "chest": (-0.08 * sw, 0.38 * sw),
        "stomach": (-0.02 * sw, 0.88 * sw), "shoulder": (0.36 * sw, 0.1 * sw),
        "side": (-0.8 * sw, 0.55 * sw), "high": (-0.3 * h, fy - 0.8 * h),
        "forehead": (-0.05 * h, fy - 0.42 * h), "temple": (-0.42 * h, fy - 0.22 * h),
        "nose": (0.0, fy + 0.02 * h), "cheek": (-0.38 * h, fy + 0.12 * h),
        "chin": (0.0, fy + 0.5 * h),
    }[name]
    return np.array([x, y])


def _path(move: str, direction: float, reps: int, amp: float, s: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """Movement offsets (n, 2) and roll change (n,) over normalised time ``s``."""
    e = _smooth(s)
    d = np.array([math.cos(direction), math.sin(direction)])
    perp = np.array([-d[1], d[0]])
    stroke = e if reps == 1 else 0.5 * (1 - np.cos(2 * np.pi * reps * s))
    zero = np.zeros_like(s)
    if move == "straight":
        return amp * stroke[:, None] * d, zero
    if move == "arc":
        return amp * (stroke[:, None] * d + 0.3 * np.sin(np.pi * stroke)[:, None] * perp), zero
    if move == "circle":
        sense = 1.0 if math.cos(direction) > 0 else -1.0
        phi = sense * 2 * np.pi * reps * e
        return amp * np.stack([np.cos(phi) - 1, np.sin(phi)], 1), zero
    if move == "zigzag":
        tri = (2 / np.pi) * np.arcsin(np.sin(2 * np.pi * 3 * e))
        return amp * (e[:, None] * d + 0.3 * tri[:, None] * perp), zero
    if move == "tap":
        return -amp * np.abs(np.sin(np.pi * reps * s))[:, None] * d, zero
    if move == "twist":
        return np.zeros((len(s), 2)), 0.5 * np.pi * stroke
    return np.zeros((len(s), 2)), zero


def rest_track(signer: Signer, n: int, rng: np.random.Generator, iv: float) -> Track:
    """Both hands resting low in front of the body, relaxed, for ``n`` frames."""
    sw = signer.shoulder_width
    centre = np.empty((n, 2, 2))
    centre[:] = _REST * sw + rng.normal(0, 0.02 * sw * iv, (2, 2))
    centre[..., 1] += (0.01 * sw * iv * np.sin(np.linspace(0, np.pi, n)))[:, None]
    return Track(centre, np.full((n, 2), _REST_THETA), np.full((n, 2), _REST_ROLL),
                 np.broadcast_to(RELAXED, (n, 2, RELAXED.size)), np.zeros(n), np.zeros(n),
                 np.zeros((n, 2)))


def sign_track(sign: Sign, signer: Signer, n: int, rng: np.random.Generator, iv: float,
               brow: float = 0.0, shake: bool = False, reduce: float = 1.0) -> Track:
    """The track of one sign instance of ``n`` frames (``reduce`` < 1: coarticulated)."""
    sw = signer.shoulder_width
    n_hold = int(rng.integers(1, 3))
    gamma = math.exp(0.12 * iv * rng.normal())
    s = np.concatenate([np.linspace(0, 1, n - n_hold) ** gamma, np.ones(n_hold)])
    two = sign.hands in ("sym", "alt")
    # location, path, orientation and handshape of the dominant hand
    if sign.hands == "base":
        base_centre = np.array([-0.08 * sw, 0.8 * sw]) + rng.normal(0, 0.03 * sw * iv, 2)
        loc = base_centre * [-1, 1] + [0, -0.16 * sw]
    else:
        loc = location_xy(sign.location, signer)
        if two and sign.location in MIDLINE:
            loc[0] = min(loc[0] - 0.1 * sw, -0.3 * sw)
    loc = loc + rng.normal(0, 0.05 * sw * iv, 2)
    amp = (MOVEMENTS[sign.movement][2] * sw * signer.space * reduce * (0.6 if two else 1.0)
           * (1 + 0.15 * iv * rng.normal()))
    direction = math.radians(sign.direction + 10 * iv * rng.normal())
    off, droll = _path(sign.movement, direction, sign.reps, amp, s)
    off = off + np.outer(s, rng.normal(0, 0.02 * sw * iv, 2))
    theta0, roll0 = np.deg2rad(np.add(ORIENTATIONS[sign.orientation],
                                      np.multiply([10, 15], iv * rng.normal(size=2))))
    shape0 = HANDSHAPES[sign.handshape] + rng.normal(0, 0.1 * iv, RELAXED.size)
    if sign.handshape2:
        w = _smooth(np.clip((s - 0.3) / 0.4, 0, 1))[:, None]
        shape1 = HANDSHAPES[sign.handshape2] + rng.normal(0, 0.1 * iv, RELAXED.size)
        dom_shape = (1 - w) * shape0 + w * shape1
    else:
        dom_shape = np.broadcast_to(shape0, (n, RELAXED.size))
    dom = (loc + off, theta0 + 0.3 * droll, roll0 + droll, dom_shape)
    # the non-dominant hand
    if sign.hands == "one":
        rest = _REST * sw + rng.normal(0, 0.02 * sw * iv, 2)
        nondom = (np.broadcast_to(rest, (n, 2)), np.full(n, _REST_THETA), np.full(n, _REST_ROLL),
                  np.broadcast_to(RELAXED, (n, RELAXED.size)))
    elif two:
        mirrored = off if sign.hands == "sym" else off[0] + off[-1] - off
        jitter = rng.normal(0, 0.02 * sw * iv, 2)
        nondom = (loc + jitter + mirrored, dom[1], dom[2],
                  dom_shape + rng.normal(0, 0.04 * iv, RELAXED.size))
    else:
        b_theta, b_roll = np.deg2rad(ORIENTATIONS[BASE_SHAPES[sign.base_handshape]])
        b_shape = HANDSHAPES[sign.base_handshape] + rng.normal(0, 0.05 * iv, RELAXED.size)
        nondom = (np.broadcast_to(base_centre, (n, 2)), np.full(n, b_theta), np.full(n, b_roll),
                  np.broadcast_to(b_shape, (n, RELAXED.size)))
    # non-manual channels
    h = signer.head_size
    mouth = (0.8 * (1 + 0.15 * iv * rng.normal()) * np.sin(np.pi * s) if sign.mouth
             else np.zeros(n))
    head = np.zeros((n, 2))
    head[:, 1] = 0.02 * h * iv * rng.normal() * np.sin(np.pi * s)
    if shake:
        head[:, 0] = 0.07 * h * np.sin(4 * np.pi * s)
    return Track(
        centre=np.stack([dom[0], nondom[0]], 1),
        theta=np.stack([np.broadcast_to(dom[1], (n,)), np.broadcast_to(nondom[1], (n,))], 1),
        roll=np.stack([np.broadcast_to(dom[2], (n,)), np.broadcast_to(nondom[2], (n,))], 1),
        shape=np.stack([dom[3], nondom[3]], 1), mouth=mouth, brow=np.full(n, brow), head=head)


def join(tracks: list[Track], signer: Signer, rng: np.random.Generator
         ) -> tuple[Track, list[tuple[int, int]]]:
    """Concatenate tracks with eased transitions; also the [start, end) frames of each track."""
    vmax = 0.25 * signer.shoulder_width / signer.tempo
    reach = HAND_CENTRE * signer.hand_size
    parts: dict[str, list[np.ndarray]] = {k: [] for k in _FIELDS}
    spans: list[tuple[int, int]] = []
    start = 0
    for i, track in enumerate(tracks):
        if i:
            prev = tracks[i - 1]
            dist = np.max(np.sqrt(((prev.centre[-1] - track.centre[0]) ** 2).sum(-1))
                          + reach * np.abs(prev.theta[-1] - track.theta[0]))
            n = min(18, max(2, math.ceil(1.5 * dist / vmax))) + int(rng.integers(0, 2))
            w = _smooth(np.arange(1, n + 1) / (n + 1))
            for k in _FIELDS:
                a, b = getattr(prev, k)[-1], getattr(track, k)[0]
                parts[k].append(a + (b - a) * w.reshape((n,) + (1,) * a.ndim))
            start += n
        for k in _FIELDS:
            parts[k].append(getattr(track, k))
        spans.append((start, start + track.frames))
        start += track.frames
    return Track(**{k: np.concatenate(v) for k, v in parts.items()}), spans
