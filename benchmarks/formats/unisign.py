"""Uni-Sign's released keypoints: one pickle per clip, RTMPose COCO-WholeBody-133.

A clip file ``<video stem>.pkl`` holds ``{'keypoints': [per frame (N_person, 133, 2)],
'scores': [per frame (N_person, 133)]}`` (or the same stacked into (T, N, 133, 2) and
(T, N, 133) arrays), coordinates divided by the frame width and height (``normalized01``),
and optionally ``start``/``end``: the frames [start, end) that Uni-Sign's loader uses.

Choices, recorded in each clip's provenance:

- Person: index 0 of every frame, as Uni-Sign's own loader does (``skeleton[0]``); rtmlib
  orders people by detection, and always returns at least one (the whole image when it finds
  nobody). A frame with no person at all is kept with every point missing.
- Frames: with ``start``/``end`` only [start, end) is read, like Uni-Sign's loader; the
  provenance keeps the range and the file's full length.
- Missing points: NaN coordinates or scores, or (0, 0) with score 0. RTMPose itself always
  predicts every point, so in Uni-Sign's releases missing means low score, not invalid.
- fps and frame size are not in the files: ``default_fps`` and ``frame_size`` (both
  overridable by the caller) are used.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.formats._common import (
    DEFAULT_FPS,
    ClipError,
    PoseFormat,
    as_array,
    build_pose,
    check_shape,
    load_clip_dict,
    per_clip_reader,
)
from harness.core.pose import PoseSequence
from harness.core.registry import POSE_FORMATS

FORMAT = "unisign"
ESTIMATOR = "RTMPose COCO-WholeBody (Uni-Sign release)"
KEYS = ("keypoints", "scores")


def read_clip(file: Path, clip_id: str, *, fps: float = DEFAULT_FPS,
              frame_size: tuple[int, int] | None = None) -> PoseSequence:
    """The PoseSequence of one Uni-Sign clip file."""
    where = str(file)
    data = load_clip_dict(file, clip_id, KEYS, "a Uni-Sign")
    people, persons = _first_person(data["keypoints"], clip_id, where, "keypoints", 3)
    scores, _ = _first_person(data["scores"], clip_id, where, "scores", 2)
    total = people.shape[0]
    if scores.shape[0] != total:
        raise ClipError(clip_id, "frames", f"{where}: {total} frames of keypoints but "
                                           f"{scores.shape[0]} of scores")
    start, end = _frame_range(data, total, clip_id, where)
    people, scores = people[start:end], scores[start:end]
    check_shape(clip_id, where, people, "COCO-WholeBody (N_person, 133, 2) per frame")
    if people.shape[-1] != 2 or scores.shape[-1] != people.shape[1]:
        raise ClipError(clip_id, "unreadable", f"{where}: keypoints {people.shape} / scores "
                                               f"{scores.shape} are not (T, 133, 2) / (T, 133)")
    provenance = {"format": FORMAT, "source": where, "estimator": ESTIMATOR,
                  "person": "index 0 of each frame (Uni-Sign's loader)",
                  "max_persons": persons, "frame_range": [start, end], "source_frames": total,
                  "fps_source": "default"}
    return build_pose(people, scores, coord_space="normalized01", fps=fps,
                      frame_size=frame_size, provenance=provenance)


read = per_clip_reader(
    read_clip, "Clips from a folder of Uni-Sign per-clip pickles (or one such file).")


def _first_person(value: Any, clip_id: str, where: str, what: str, ndim: int
                  ) -> tuple[np.ndarray, int]:
    """Person 0 of every frame as one array, and the largest number of people in a frame.

    ``ndim`` is the rank of one frame (N_person, 133[, 2]); frames without a person are NaN.
    """
    if isinstance(value, np.ndarray):
        if value.ndim != ndim + 1:
            raise ClipError(clip_id, "unreadable", f"{where}: {what} has shape {value.shape}, "
                                                   f"expected {ndim + 1} axes (T, N_person, 133"
                                                   f"{', 2' if ndim == 3 else ''})")
        frames = as_array(value, clip_id, where, what)
        return (frames[:, 0] if frames.shape[1] else _nan_frames(frames)), int(frames.shape[1])
    if not isinstance(value, (list, tuple)):
        raise ClipError(clip_id, "unreadable", f"{where}: {what} must be a list of per-frame "
                                               f"arrays or one stacked array, got "
                                               f"{type(value).__name__}")
    if not value:
        raise ClipError(clip_id, "frames", f"{where}: clip has zero frames")
    firsts, persons = [], 0
    for t, frame in enumerate(value):
        arr = as_array(frame, clip_id, where, f"{what}[{t}]")
        if arr.ndim != ndim:
            raise ClipError(clip_id, "unreadable", f"{where}: {what}[{t}] has shape {arr.shape}, "
                                                   f"expected {ndim} axes (N_person, 133"
                                                   f"{', 2' if ndim == 3 else ''})")
        persons = max(persons, arr.shape[0])
        firsts.append(arr[0] if arr.shape[0] else np.full(arr.shape[1:], np.nan))
    shapes = {f.shape for f in firsts}
    if len(shapes) > 1:
        raise ClipError(clip_id, "joints", f"{where}: {what} frames differ in shape "
                                           f"({sorted(shapes)})")
    return np.stack(firsts), persons


def _nan_frames(frames: np.ndarray) -> np.ndarray:
    return np.full((frames.shape[0], *frames.shape[2:]), np.nan)


def _frame_range(data: dict[str, Any], total: int, clip_id: str, where: str) -> tuple[int, int]:
    if "start" not in data and "end" not in data:
        return 0, total
    try:
        start, end = int(data.get("start", 0)), int(data.get("end", total))
    except (TypeError, ValueError):
        raise ClipError(clip_id, "unreadable", f"{where}: start/end are not integers") from None
    if not 0 <= start <= end <= total:
        raise ClipError(clip_id, "frames", f"{where}: frame range start={start} end={end} is "
                                           f"outside the file's {total} frames")
    if start == end:
        raise ClipError(clip_id, "frames", f"{where}: clip has zero frames (start = end = "
                                           f"{start})")
    return start, end


@POSE_FORMATS.register(FORMAT)
class UniSignPoses(PoseFormat):
    """Uni-Sign's releases: one RTMPose pickle per clip."""

    rank = 0
    read = staticmethod(read)
