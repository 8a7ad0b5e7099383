"""Pose-estimator effects applied to the clean rendered signer.

- Gaussian jitter on every point, larger on the hands than on the body and face;
- confidence scores per point: high on the body, lower on the hands, lower still when a hand
  moves fast (motion blur) or when hands overlap each other or cover the face (occlusion);
- dropped points: random and low-confidence ones, and points outside the frame, get
  valid=False, a confidence below 0.3 and perturbed (finite) coordinates;
- whole-hand dropout for a few frames (the hand detector misses): all 21 points invalid at
  coordinates (0, 0);
- legs and feet are never valid (signing videos crop them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from benchmarks.synth.skeleton import FACE, LEFT_HAND, LEG_JOINTS, N_JOINTS, RIGHT_HAND

_HANDS = np.r_[LEFT_HAND:LEFT_HAND + 21, RIGHT_HAND:RIGHT_HAND + 21]
_FINGERTIPS = np.array([h + k for h in (LEFT_HAND, RIGHT_HAND) for k in (4, 8, 12, 16, 20)])
_JITTER = np.ones(N_JOINTS)
_JITTER[FACE:FACE + 68] = 0.6
_JITTER[_HANDS] = 1.6
_JITTER32 = _JITTER.astype(np.float32)
_CONF = np.full(N_JOINTS, 0.92, dtype=np.float32)
_CONF[FACE:FACE + 68] = 0.88
_CONF[[11, 12]] = 0.6
_CONF[_HANDS] = 0.82
_CONF[_FINGERTIPS] = 0.76
_DROP = np.full(N_JOINTS, 0.3)
_DROP[FACE:FACE + 68] = 0.5
_DROP[_HANDS] = 3.0
#: Valid points never score below this; dropped points always do.
MIN_VALID_CONF = 0.3


@dataclass(frozen=True)
class DetectorNoise:
    """Strength of the estimator effects (already scaled by the difficulty)."""

    jitter_px: float
    drop_rate: float           # per-point drop probability (body x0.3, face x0.5, hands x3)
    hand_dropout_rate: float   # whole-hand dropout events per hand per second
    fps: float


def detect(kp: np.ndarray, lengths: list[int], rngs: list[np.random.Generator],
           hand_px: float, frame_size: tuple[int, int], noise: DetectorNoise
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Noisy float32 keypoints, float32 confidence and bool validity for clean points (T, V, 2).

    ``kp`` may hold several clips of one signer concatenated in time: ``lengths`` gives
    their frame counts and ``rngs`` their generators (every random draw of a clip comes
    from its own generator, so batching does not change the result).
    """
    t = kp.shape[0]
    draws = [(r.standard_normal((n, N_JOINTS, 2), dtype=np.float32),
              r.random((n, N_JOINTS, 2), dtype=np.float32))
             for n, r in zip(lengths, rngs, strict=True)]
    gauss = np.concatenate([g for g, _ in draws])
    unif = np.concatenate([u for _, u in draws])
    conf = _CONF + 0.1 * (unif[..., 0] - 0.5)
    # motion blur: fast hands score lower
    wrists = kp[:, [RIGHT_HAND, LEFT_HAND]]
    step = np.diff(wrists, axis=0, prepend=wrists[:1])
    step[np.cumsum(lengths[:-1], dtype=int)] = 0.0      # no motion across clip boundaries
    blur = 0.3 * np.tanh(np.sqrt((step ** 2).sum(-1)) / (0.25 * hand_px))         # (T, 2)
    conf[:, RIGHT_HAND:RIGHT_HAND + 21] -= blur[:, :1]
    conf[:, LEFT_HAND:LEFT_HAND + 21] -= blur[:, 1:]
    # occlusion: a hand over the face, the two hands over each other
    centres = kp[:, LEFT_HAND:RIGHT_HAND + 21].reshape(t, 2, 21, 2).mean(2)   # (T, 2, 2)
    cx, cy = centres[..., 0], centres[..., 1]
    fx, fy = kp[:, FACE:FACE + 68, 0], kp[:, FACE:FACE + 68, 1]
    near = np.minimum((fx - cx[:, :1]) ** 2 + (fy - cy[:, :1]) ** 2,
                      (fx - cx[:, 1:]) ** 2 + (fy - cy[:, 1:]) ** 2) < (0.6 * hand_px) ** 2
    conf[:, FACE:FACE + 68] -= 0.35 * near
    overlap = (cx[:, 0] - cx[:, 1]) ** 2 + (cy[:, 0] - cy[:, 1]) ** 2 < (0.8 * hand_px) ** 2
    conf[:, _HANDS] -= 0.15 * overlap[:, None]
    np.clip(conf, MIN_VALID_CONF + 0.01, 0.99, out=conf)
    # dropped points: random, more likely at low confidence, and outside the frame
    p_drop = (noise.drop_rate * _DROP
              + min(1.0, 10 * noise.drop_rate) * 0.5 * np.clip((0.5 - conf) / 0.2, 0, 1))
    dropped = unif[..., 1] < p_drop
    w, h = frame_size
    x, y = kp[..., 0], kp[..., 1]
    dropped |= (x < 0) | (x >= w) | (y < 0) | (y >= h)
    dropped[:, LEG_JOINTS] = True
    sigma = np.where(dropped, np.float32(4 * noise.jitter_px + 5),
                     (_JITTER32 * np.float32(noise.jitter_px))[None])
    out = kp.astype(np.float32) + gauss * sigma[..., None]
    # whole-hand dropout
    start = 0
    for n, r in zip(lengths, rngs, strict=True):
        for base in (RIGHT_HAND, LEFT_HAND):
            for _ in range(r.poisson(noise.hand_dropout_rate * n / noise.fps)):
                first = start + int(r.integers(0, n))
                last = min(start + n, first + int(r.integers(2, 7)))
                dropped[first:last, base:base + 21] = True
                out[first:last, base:base + 21] = 0.0
        start += n
    conf = np.where(dropped, 0.02 + (MIN_VALID_CONF - 0.04) * unif[..., 0], conf)
    return out, conf.astype(np.float32), ~dropped
