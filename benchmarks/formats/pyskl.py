"""pyskl annotation pickles: ``{'split': {name: [ids]}, 'annotations': [clip, ...]}``.

Each clip is ``{frame_dir, total_frames, img_shape, keypoint (M, T, V, 2),
keypoint_score (M, T, V), label}`` with pixel coordinates; only V = 133
(COCO-WholeBody) is accepted. ``img_shape`` is (height, width) and becomes the frame size.

Choices: person 0 of the M persons (pyskl pads absent persons with zeros, which read as
missing points); a point is missing when NaN or (0, 0) with score 0; fps is not stored
(``default_fps``). The split and label of each clip are read by
``benchmarks.formats.labels.read_pyskl_labels`` from the same file.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

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

FORMAT = "pyskl"
ESTIMATOR = "unknown (pyskl annotation file)"


def load(path: str | Path) -> tuple[Path, dict[str, Any]]:
    """The annotation pickle's path and its checked top-level dict."""
    file = single_pickle(Path(path), FORMAT)
    data = load_pickle(file)
    if (not isinstance(data, dict) or not isinstance(data.get("annotations"), list)
            or not isinstance(data.get("split", {}), dict)):
        raise DataError(f"{file}: not a pyskl annotation pickle (expected {{'split': {{name: "
                        f"[ids]}}, 'annotations': [...]}})")
    return file, data


def read(path: str | Path, *, default_fps: float = DEFAULT_FPS,
         frame_size: tuple[int, int] | None = None,
         errors: list[ClipError] | None = None) -> Iterator[Clip]:
    """Clips from one pyskl annotation pickle (or a folder holding exactly one pickle)."""
    file, data = load(path)
    return clips_from(_entries(data["annotations"], file, default_fps, frame_size), errors)


def _entries(annotations: list[Any], file: Path, fps: float,
             frame_size: tuple[int, int] | None) -> Iterator[Entry]:
    for index in range(len(annotations)):
        ann, annotations[index] = annotations[index], None  # released once its clip is built
        name = str(ann.get("frame_dir", f"#{index}")) if isinstance(ann, dict) else f"#{index}"
        clip_id, where = canonical_id(name), f"{file} [annotations[{index}] {name}]"
        yield clip_id, where, partial(_pose, ann, clip_id, where, file, fps, frame_size)


def _pose(ann: Any, clip_id: str, where: str, file: Path, fps: float,
          frame_size: tuple[int, int] | None) -> PoseSequence:
    if not isinstance(ann, dict) or "keypoint" not in ann or "keypoint_score" not in ann:
        keys = sorted(map(str, ann)) if isinstance(ann, dict) else type(ann).__name__
        raise ClipError(clip_id, "unreadable", f"{where}: annotation needs frame_dir, keypoint "
                                               f"and keypoint_score (found {keys})")
    kp = as_array(ann["keypoint"], clip_id, where, "keypoint")
    score = as_array(ann["keypoint_score"], clip_id, where, "keypoint_score")
    if kp.ndim != 4 or kp.shape[-1] != 2 or score.shape != kp.shape[:3]:
        raise ClipError(clip_id, "unreadable", f"{where}: keypoint {kp.shape} / keypoint_score "
                                               f"{score.shape} are not (M, T, V, 2) / (M, T, V)")
    persons, frames = kp.shape[0], kp.shape[1]
    if persons:
        kp, score = kp[0], score[0]
    else:
        kp = np.full(kp.shape[1:], np.nan)
        score = np.zeros(kp.shape[:2])
    check_shape(clip_id, where, kp, "COCO-WholeBody, keypoint (M, T, 133, 2)")
    shape = ann.get("img_shape")
    if shape is not None:
        try:
            frame_size = (int(shape[1]), int(shape[0]))
        except (TypeError, ValueError, IndexError):
            raise ClipError(clip_id, "unreadable", f"{where}: img_shape {shape!r} is not "
                                                   f"(height, width)") from None
    provenance = {"format": FORMAT, "source": str(file), "key": str(ann.get("frame_dir", "")),
                  "estimator": ESTIMATOR, "person": "index 0 of M", "max_persons": int(persons),
                  "frame_range": [0, int(frames)], "source_frames": int(frames),
                  "fps_source": "default"}
    return build_pose(kp, score, coord_space="pixel", fps=fps, frame_size=frame_size,
                      provenance=provenance)


@POSE_FORMATS.register(FORMAT)
class PysklPoses(PoseFormat):
    """pyskl annotation pickles (with their own labels)."""

    rank = 2
    read = staticmethod(read)
