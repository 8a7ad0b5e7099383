"""``.pose`` files (sign-language-processing/pose), read with the ``pose-format`` package.

A file holds a header (components with named points, frame width and height) and a body:
``data`` a masked (T, P, V, C) array, ``confidence`` (T, P, V) and ``fps``. Two component
sets are read:

- COCO-WholeBody-133: ``BODY`` (23), ``FACE`` (68), ``LEFT_HAND``, ``RIGHT_HAND`` (21 each),
  or AlphaPose's ``*_133`` names; concatenated they are the 133 points in COCO order.
- MediaPipe Holistic: ``POSE_LANDMARKS`` (33), ``LEFT_HAND_LANDMARKS``,
  ``RIGHT_HAND_LANDMARKS`` (21 each) and optionally ``FACE_LANDMARKS`` (468, or 478 with
  irises); mapped into COCO-WholeBody-133 (see ``_mediapipe``); ``POSE_WORLD_LANDMARKS`` is
  ignored.

Choices: person 0; a point is missing where pose-format masks it (confidence 0) or it is NaN;
coordinates are pixels (pose-format's convention) and the frame size comes from the header;
fps from the body (``default_fps`` only where it is 0); z is dropped.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.formats import _mediapipe
from benchmarks.formats._common import (
    DEFAULT_FPS,
    ClipError,
    build_pose,
    missing_points,
    per_clip_reader,
)
from harness.errors import DataError
from harness.pose import PoseSequence

FORMAT = "pose"
SUFFIX = ".pose"
_COCO_SETS = (("BODY", "FACE", "LEFT_HAND", "RIGHT_HAND"),
              ("BODY_133", "FACE_133", "LEFT_HAND_133", "RIGHT_HAND_133"))
_COCO_SIZES = (23, 68, 21, 21)
_HOLISTIC = ("POSE_LANDMARKS", "LEFT_HAND_LANDMARKS", "RIGHT_HAND_LANDMARKS")
_HOLISTIC_SIZES = (_mediapipe.N_POSE, _mediapipe.N_HAND, _mediapipe.N_HAND)
_FACE = "FACE_LANDMARKS"
_PARSE_ERRORS = (struct.error, ValueError, EOFError, IndexError, KeyError, TypeError,
                 NotImplementedError, UnicodeDecodeError, OverflowError, MemoryError)


def read_clip(file: Path, clip_id: str, *, fps: float = DEFAULT_FPS,
              frame_size: tuple[int, int] | None = None) -> PoseSequence:
    """The PoseSequence of one ``.pose`` file, in COCO-WholeBody-133."""
    from pose_format import Pose

    where = str(file)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise DataError(f"{where}: cannot read ({exc.strerror or exc})") from None
    try:
        pose = Pose.read(raw)
    except _PARSE_ERRORS as exc:
        raise ClipError(clip_id, "unreadable", f"{where}: not a readable .pose file "
                                               f"({type(exc).__name__}: {str(exc)[:120]})"
                        ) from None
    header, body = pose.header, pose.body
    kind, index = _point_index(header.components, clip_id, where)
    data, conf = body.data, np.asarray(body.confidence, dtype=np.float64)
    frames, persons = int(data.shape[0]), int(data.shape[1])
    if frames == 0:
        raise ClipError(clip_id, "frames", f"{where}: clip has zero frames")
    if persons:
        xy = np.asarray(np.ma.getdata(data[:, 0, index, :2]), dtype=np.float64)
        masked = np.ma.getmaskarray(data[:, 0, index]).any(axis=-1)
        conf = conf[:, 0, index]
    else:
        xy, masked = np.zeros((frames, len(index), 2)), np.ones((frames, len(index)), bool)
        conf = np.zeros((frames, len(index)))
    valid = ~masked & ~missing_points(xy, conf)
    if kind == "holistic":
        xy, conf, valid = _mediapipe.to_coco(xy, conf, valid)
    width, height = int(header.dimensions.width), int(header.dimensions.height)
    file_fps = float(body.fps)
    provenance: dict[str, Any] = {
        "format": FORMAT, "source": where, "components": [c.name for c in header.components],
        "estimator": "MediaPipe Holistic" if kind == "holistic" else "COCO-WholeBody-133",
        "person": f"index 0 of {persons}", "frame_range": [0, frames], "source_frames": frames,
        "fps_source": "file" if file_fps > 0 else "default"}
    if kind == "holistic":
        provenance["mapping"] = "mediapipe_holistic -> coco_wholebody_133"
    return build_pose(xy, conf, coord_space="pixel", fps=file_fps if file_fps > 0 else fps,
                      frame_size=(width, height) if width > 0 and height > 0 else frame_size,
                      provenance=provenance, valid=valid)


read = per_clip_reader(
    read_clip, "Clips from a folder of ``.pose`` files (or one such file).", (SUFFIX,))


def _point_index(components: list[Any], clip_id: str, where: str) -> tuple[str, np.ndarray]:
    """Which component set the header holds and the point indices to gather, in order."""
    offsets, start = {}, 0
    for comp in components:
        offsets[comp.name] = (start, len(comp.points))
        start += len(comp.points)
    for names in _COCO_SETS:
        if all(n in offsets for n in names):
            return "coco", _gather(offsets, names, _COCO_SIZES, clip_id, where)
    if all(n in offsets for n in _HOLISTIC):
        names, sizes = _HOLISTIC, _HOLISTIC_SIZES
        if _FACE in offsets:
            names, sizes = (*names, _FACE), (*sizes, _mediapipe.N_FACE_MESH)
        return "holistic", _gather(offsets, names, sizes, clip_id, where)
    raise ClipError(clip_id, "unreadable", f"{where}: unsupported .pose components "
                                           f"{sorted(offsets)}; readable are COCO-WholeBody "
                                           f"{list(_COCO_SETS[0])} and MediaPipe Holistic "
                                           f"{[*_HOLISTIC, _FACE]}")


def _gather(offsets: dict[str, tuple[int, int]], names: tuple[str, ...],
            sizes: tuple[int, ...], clip_id: str, where: str) -> np.ndarray:
    parts = []
    for name, size in zip(names, sizes, strict=True):
        start, count = offsets[name]
        # A face mesh may carry extra (iris) points after the 468 of the mesh.
        if count != size and not (name == _FACE and count > size):
            raise ClipError(clip_id, "joints", f"{where}: component {name} has {count} points, "
                                               f"expected {size}")
        parts.append(np.arange(start, start + size))
    return np.concatenate(parts)
