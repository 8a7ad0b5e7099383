"""OpenHands' MediaPipe Holistic keypoints: one pickle per clip.

A clip file holds ``{'keypoints': (T, 75, 3), 'confidences': (T, 75)}``: 33 pose landmarks,
21 left-hand and 21 right-hand landmarks (OpenHands' extraction script drops the face mesh),
x and y divided by the frame size (``normalized01``) and MediaPipe's relative depth z. The
confidence is the pose landmark's visibility, 1 for a detected hand and 0 for an undetected
part, whose points are zeros.

Choices: points are mapped into COCO-WholeBody-133 (see ``_mediapipe``; the face is
missing); an undetected part (zeros with confidence 0) and NaN points are missing; z is
dropped (the harness's encoders are 2D and MediaPipe's z is not on the x/y scale); fps and
frame size are not stored (``default_fps``, ``frame_size``).
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.formats import _mediapipe
from benchmarks.formats._common import (
    DEFAULT_FPS,
    ClipError,
    PoseFormat,
    as_array,
    build_pose,
    check_shape,
    load_clip_dict,
    missing_points,
    per_clip_reader,
)
from harness.core.pose import PoseSequence
from harness.core.registry import POSE_FORMATS

FORMAT = "openhands"
ESTIMATOR = "MediaPipe Holistic (OpenHands)"
N_POINTS = _mediapipe.FACE_START
KEYS = ("keypoints", "confidences")


def read_clip(file: Path, clip_id: str, *, fps: float = DEFAULT_FPS,
              frame_size: tuple[int, int] | None = None) -> PoseSequence:
    """The PoseSequence of one OpenHands clip file, in COCO-WholeBody-133."""
    where = str(file)
    data = load_clip_dict(file, clip_id, KEYS, "an OpenHands")
    kp = as_array(data["keypoints"], clip_id, where, "keypoints")
    conf = as_array(data["confidences"], clip_id, where, "confidences")
    if kp.ndim != 3 or kp.shape[-1] not in (2, 3):
        raise ClipError(clip_id, "unreadable", f"{where}: keypoints have shape {kp.shape}, "
                                               f"expected (T, 75, 3)")
    check_shape(clip_id, where, kp, "MediaPipe Holistic 33 pose + 21 + 21 hand points",
                joints=N_POINTS)
    if conf.shape != kp.shape[:2]:
        raise ClipError(clip_id, "unreadable", f"{where}: confidences {conf.shape} do not match "
                                               f"keypoints {kp.shape[:2]}")
    xy = kp[..., :2]
    xy, conf, valid = _mediapipe.to_coco(xy, conf, ~missing_points(xy, conf))
    provenance = {"format": FORMAT, "source": where, "estimator": ESTIMATOR,
                  "person": "single person (MediaPipe Holistic)",
                  "mapping": "mediapipe_holistic -> coco_wholebody_133 (no face)",
                  "frame_range": [0, int(kp.shape[0])], "source_frames": int(kp.shape[0]),
                  "fps_source": "default"}
    return build_pose(xy, conf, coord_space="normalized01", fps=fps, frame_size=frame_size,
                      provenance=provenance, valid=valid)


read = per_clip_reader(
    read_clip, "Clips from a folder of OpenHands per-clip pickles (or one such file).")


@POSE_FORMATS.register(FORMAT)
class OpenHandsPoses(PoseFormat):
    """OpenHands: one MediaPipe pickle per clip."""

    rank = 3
    read = staticmethod(read)
