"""SLRT's released keypoints (TwoStream-SLR, NLA-SLR; HRNet COCO-WholeBody-133).

One pickle per dataset: ``{name: {'keypoints': (T, 133, 3)}}`` or ``{name: (T, 133, 3)}``
(both forms are accepted, entry by entry), x and y in pixels of the source frames, the third
channel the estimator's score. Names may carry a split prefix (``train/<clip>``); the clip id
is the last path component.

Choices: a point is missing when its coordinates or score are NaN, or when it is (0, 0) with
score 0; fps and frame size are not stored (``default_fps`` and ``frame_size`` are used). The
whole pickle is loaded (it is one object); entries are converted and released one by one.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.formats._common import (
    DEFAULT_FPS,
    Clip,
    ClipError,
    Entry,
    PoseFormat,
    as_array,
    build_pose,
    canonical_id,
    check_shape,
    clips_from,
)
from benchmarks.formats.detect import single_pickle
from harness.core.pose import PoseSequence
from harness.core.registry import POSE_FORMATS
from harness.errors import DataError
from harness.io.safe_pickle import load_pickle

FORMAT = "slrt"
ESTIMATOR = "HRNet COCO-WholeBody (SLRT release)"


def read(path: str | Path, *, default_fps: float = DEFAULT_FPS,
         frame_size: tuple[int, int] | None = None,
         errors: list[ClipError] | None = None) -> Iterator[Clip]:
    """Clips from one SLRT keypoint pickle (or a folder holding exactly one pickle)."""
    file = single_pickle(Path(path), FORMAT)
    data = load_pickle(file)
    if not isinstance(data, dict) or not data:
        raise DataError(f"{file}: not an SLRT keypoint pickle (expected a non-empty dict of clip "
                        f"name -> (T, 133, 3) array or {{'keypoints': (T, 133, 3)}})")
    return clips_from(_entries(data, file, default_fps, frame_size), errors)


def _entries(data: dict[Any, Any], file: Path, fps: float, frame_size: tuple[int, int] | None
             ) -> Iterator[Entry]:
    for name in sorted(data, key=str):
        value = data.pop(name)  # released once its clip is built
        clip_id, where = canonical_id(str(name)), f"{file} [{name}]"
        yield clip_id, where, partial(_pose, value, clip_id, where, str(name), file, fps,
                                      frame_size)


def _pose(value: Any, clip_id: str, where: str, name: str, file: Path, fps: float,
          frame_size: tuple[int, int] | None) -> PoseSequence:
    if isinstance(value, dict):
        if "keypoints" not in value:
            raise ClipError(clip_id, "unreadable", f"{where}: entry has no 'keypoints' (keys "
                                                   f"{sorted(map(str, value))})")
        value = value["keypoints"]
    arr = as_array(value, clip_id, where, "keypoints")
    if arr.ndim == 0 or arr.shape[0] == 0:
        raise ClipError(clip_id, "frames", f"{where}: clip has zero frames")
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ClipError(clip_id, "unreadable", f"{where}: keypoints have shape {arr.shape}, "
                                               f"expected (T, 133, 3) = x, y, score")
    check_shape(clip_id, where, arr, "COCO-WholeBody (T, 133, 3)")
    provenance = {"format": FORMAT, "source": str(file), "key": name, "estimator": ESTIMATOR,
                  "person": "single person per entry", "frame_range": [0, int(arr.shape[0])],
                  "source_frames": int(arr.shape[0]), "fps_source": "default"}
    return build_pose(arr[..., :2], arr[..., 2], coord_space="pixel", fps=fps,
                      frame_size=frame_size, provenance=provenance)


@POSE_FORMATS.register(FORMAT)
class SlrtPoses(PoseFormat):
    """SLRT's releases: one HRNet keypoint pickle per dataset."""

    rank = 1
    read = staticmethod(read)
