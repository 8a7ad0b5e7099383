"""The canonical in-memory pose sequence every reader produces and every model consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.core.layouts import get_layout
from harness.errors import DataError

COORD_SPACES = ("pixel", "normalized01")


@dataclass
class PoseSequence:
    """One clip of keypoints with everything needed to interpret them.

    keypoints: float32 (T, V, C), C = 2 (x, y) or 3 (x, y, z), in ``coord_space``.
    confidence: float32 (T, V), the estimator's score per point (1.0 where unknown).
    valid: bool (T, V); False marks a missing point whatever its coordinates hold.
    frame_size: (width, height) in pixels of the source video, or None if unknown.
    provenance: free-form facts about the origin (estimator, source clip, frame range).
    """

    keypoints: np.ndarray
    confidence: np.ndarray
    valid: np.ndarray
    fps: float
    frame_size: tuple[int, int] | None
    coord_space: str = "pixel"
    layout: str = "coco_wholebody_133"
    provenance: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keypoints = np.asarray(self.keypoints, dtype=np.float32)
        self.confidence = np.asarray(self.confidence, dtype=np.float32)
        self.valid = np.asarray(self.valid, dtype=bool)

    @property
    def n_frames(self) -> int:
        """Number of frames T."""
        return int(self.keypoints.shape[0])

    def check(self, where: str = "pose sequence") -> None:
        """Raise DataError naming ``where`` unless shapes, values and metadata are sound."""
        kp, conf, valid = self.keypoints, self.confidence, self.valid
        try:
            layout = get_layout(self.layout)
        except KeyError as exc:
            raise DataError(f"{where}: {exc.args[0]}") from None
        if kp.ndim != 3 or kp.shape[2] not in (2, 3):
            raise DataError(f"{where}: keypoints must have shape (T, V, 2|3), got {kp.shape}")
        if kp.shape[0] == 0:
            raise DataError(f"{where}: clip has zero frames")
        if kp.shape[1] != layout.num_joints:
            raise DataError(f"{where}: {kp.shape[1]} joints per frame, layout {layout.name} "
                            f"has {layout.num_joints}")
        if conf.shape != kp.shape[:2] or valid.shape != kp.shape[:2]:
            raise DataError(f"{where}: confidence {conf.shape} / valid {valid.shape} do not "
                            f"match keypoints {kp.shape[:2]}")
        if self.coord_space not in COORD_SPACES:
            raise DataError(f"{where}: coordinate space {self.coord_space!r} is not one of "
                            f"{COORD_SPACES}")
        if not np.isfinite(self.fps) or self.fps <= 0:
            raise DataError(f"{where}: fps must be positive, got {self.fps}")
        bad = ~np.isfinite(kp).all(axis=2) & valid
        if bad.any():
            t, v = np.argwhere(bad)[0]
            raise DataError(f"{where}: {int(bad.sum())} valid keypoints are NaN or infinite "
                            f"(first at frame {t}, joint {v})")
        if not np.isfinite(conf).all():
            raise DataError(f"{where}: confidence holds NaN or infinite values")
