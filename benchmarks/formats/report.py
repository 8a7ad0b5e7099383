"""Validation of a source against its labels: what is there, what is missing, what is wrong.

Fatal (``Report.fatal``; ``raise_if_fatal`` turns them into one DataError), because a store
built with them would be wrong or would poison training:

- no clips at all (or only skipped ones), or none whose id matches a label id;
- clips that could not be read (corrupt or refused pickles or files), duplicate ids;
- a wrong joint count; zero frames;
- NaN or infinite values in points marked valid (readers mark NaN points missing, so this
  is an infinite value, or a NaN from a caller's own PoseSequence).

Reported only (the data may still be usable; the user decides):

- clips a reader skipped (ClipError kind ``layout``: a ``.pose`` file whose keypoint layout
  cannot be mapped into COCO-WholeBody-133); the other clips are prepared;
- clip counts per split against the adapter's expected counts;
- label ids without poses, pose clips without labels;
- pose/label frame-count mismatches (never truncated or padded);
- coordinates out of range: outside [0, 1] beyond ``tolerance`` for ``normalized01``,
  below -``tolerance`` x frame size (or -1 px where the size is unknown) or beyond the
  frame for ``pixel``;
- per part (body, hands, face): the share of points missing and of present points whose
  confidence is below ``threshold`` (0.3, the threshold Uni-Sign's loader applies).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from benchmarks.formats._common import Clip, ClipError
from benchmarks.formats.labels import LabelRecord
from harness.core.layouts import get_layout
from harness.errors import DataError

LOW_CONFIDENCE = 0.3
RANGE_TOLERANCE = 0.05
PIXEL_SLACK = 1.0
_SHOWN = 5
_KINDS = {  # ClipError kind -> what the report calls it; all fatal
    "joints": "wrong joint count",
    "frames": "zero frames",
    "unreadable": "unreadable clips",
    "duplicate": "duplicate clip ids",
}
_SKIPPED = {  # ClipError kind -> what the report calls it; the other clips are prepared
    "layout": "clips skipped (keypoint layout not mappable to coco_wholebody_133)",
}


@dataclass
class ClipStats:
    """What validation keeps of one clip; ``parts`` maps a part to (points, missing, low)."""

    id: str
    source: str
    n_frames: int
    n_joints: int
    expected_joints: int
    nonfinite: int
    out_of_range: int
    n_points: int
    parts: dict[str, tuple[int, int, int]] = field(default_factory=dict)


def clip_stats(clip: Clip, *, threshold: float = LOW_CONFIDENCE,
               tolerance: float = RANGE_TOLERANCE) -> ClipStats:
    """Summarise one clip for ``validate`` (so that clips need not be kept in memory)."""
    pose = clip.pose
    layout = get_layout(pose.layout)
    kp, conf, valid = pose.keypoints, pose.confidence, pose.valid
    if kp.ndim != 3 or kp.shape[0] == 0 or kp.shape[1] != layout.num_joints:
        shape = kp.shape if kp.ndim == 3 else (0, 0)
        return ClipStats(clip.id, clip.source, int(shape[0]), int(shape[1]), layout.num_joints,
                         0, 0, 0)
    finite = np.isfinite(kp).all(axis=-1) & np.isfinite(conf)
    xy = np.where(finite[..., None], kp[..., :2], 0.0)
    if pose.coord_space == "normalized01":
        outside = (xy < -tolerance) | (xy > 1 + tolerance)
    else:
        size = np.asarray(pose.frame_size, dtype=np.float64) if pose.frame_size else None
        low = -tolerance * size if size is not None else np.full(2, -PIXEL_SLACK)
        outside = xy < low
        if size is not None:
            outside |= xy > size * (1 + tolerance)
    parts = {}
    for name, part in layout.parts.items():
        v, c = valid[:, part.joints], conf[:, part.joints]
        parts[name] = (int(v.size), int((~v).sum()), int((v & (c < threshold)).sum()))
    return ClipStats(clip.id, clip.source, pose.n_frames, layout.num_joints, layout.num_joints,
                     int((valid & ~finite).sum()), int((valid & finite & outside.any(-1)).sum()),
                     int(valid.size), parts)


@dataclass
class Report:
    """The outcome of ``validate``, as data (``to_dict``) and as text (``to_text``)."""

    n_clips: int
    n_matched: int
    counts: dict[str, dict[str, int | None]]
    labels_without_poses: dict[str, list[str]]
    poses_without_labels: list[str]
    frame_mismatches: list[dict[str, Any]]
    out_of_range: list[dict[str, Any]]
    nonfinite: list[dict[str, Any]]
    clip_errors: dict[str, list[dict[str, str]]]
    confidence: dict[str, dict[str, float]]
    threshold: float
    tolerance: float
    example_ids: dict[str, str] = field(default_factory=dict)

    @property
    def fatal(self) -> list[str]:
        """One line per fatal problem; empty when the source may be prepared."""
        problems = []
        skipped = [e for kind in _SKIPPED for e in self.clip_errors.get(kind, [])]
        if self.n_clips == len(skipped):
            problems.append(f"no clips were read, all were skipped: {_ids(skipped)}" if skipped
                            else "no clips were read")
        elif self.n_matched == 0 and self.example_ids:
            problems.append(f"none of the {self.n_clips} clips matches a label id (pose id "
                            f"{self.example_ids['pose']!r}, label id "
                            f"{self.example_ids['label']!r})")
        for kind, title in _KINDS.items():
            if self.clip_errors.get(kind):
                problems.append(f"{title}: {_ids(self.clip_errors[kind])}")
        if self.nonfinite:
            problems.append(f"NaN or infinite values in valid points: {_ids(self.nonfinite)}")
        return problems

    @property
    def ok(self) -> bool:
        """Whether nothing fatal was found."""
        return not self.fatal

    def raise_if_fatal(self) -> None:
        """Raise one DataError summarising the fatal problems, if there are any."""
        if self.fatal:
            raise DataError(f"the source has {len(self.fatal)} fatal problem(s): "
                            + "; ".join(self.fatal))

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready data (with the fatal problems)."""
        return {**asdict(self), "fatal": self.fatal, "ok": self.ok}

    def to_text(self) -> str:
        """The report for people: counts per split, then problems, fatal ones first."""
        lines = [f"{self.n_clips} clips read, {self.n_matched} matched to labels; "
                 f"{len(self.fatal)} fatal problem(s)"]
        lines.append(f"  {'split':<10} {'found':>8} {'expected':>9} {'labels w/o poses':>17}")
        for split, row in self.counts.items():
            expected = "-" if row["expected"] is None else row["expected"]
            name = split or ("(no labels)" if not row["labelled"] else "(no split)")
            lines.append(f"  {name:<10} {row['found']:>8} {expected:>9} "
                         f"{len(self.labels_without_poses.get(split, [])):>17}")
        lines += [f"FATAL {problem}" for problem in self.fatal]
        missing = [i for ids in self.labels_without_poses.values() for i in ids]
        for title, items in (
                ("labelled clips without poses", [{"id": i} for i in missing]),
                ("poses without labels", [{"id": i} for i in self.poses_without_labels]),
                ("frame-count mismatches (pose vs labels)", self.frame_mismatches),
                (f"clips with coordinates out of range (tolerance {self.tolerance})",
                 self.out_of_range),
                *((title, self.clip_errors.get(kind, [])) for kind, title in _SKIPPED.items())):
            if items:
                lines.append(f"{title}: {_ids(items)}")
        if self.confidence:
            lines.append(f"missing / low-confidence (< {self.threshold}) points by part: "
                         + ", ".join(f"{part} {row['missing_rate']:.1%} / {row['low_rate']:.1%}"
                                     for part, row in self.confidence.items()))
        return "\n".join(lines)


def _ids(items: list[dict[str, Any]]) -> str:
    shown = []
    for item in items[:_SHOWN]:
        extra = ", ".join(f"{k} {v}" for k, v in item.items() if k != "id")
        shown.append(f"{item['id']} ({extra})" if extra else str(item["id"]))
    more = f", and {len(items) - _SHOWN} more" if len(items) > _SHOWN else ""
    return f"{len(items)}: " + ", ".join(shown) + more


def validate(clips: Iterable[Clip | ClipStats], labels: Mapping[str, LabelRecord] | None = None,
             expected: Mapping[str, int] | None = None, *,
             clip_errors: Iterable[ClipError] = (), threshold: float = LOW_CONFIDENCE,
             tolerance: float = RANGE_TOLERANCE) -> Report:
    """Check the clips found (and the readers' per-clip errors) against labels and counts."""
    stats = [c if isinstance(c, ClipStats) else clip_stats(c, threshold=threshold,
                                                             tolerance=tolerance)
             for c in clips]
    errors: dict[str, list[dict[str, str]]] = {}
    for err in clip_errors:
        errors.setdefault(err.kind, []).append({"id": err.clip_id, "detail": str(err)})
    n_clips = len(stats) + sum(len(v) for v in errors.values())
    for s in stats:
        if s.n_frames == 0:
            errors.setdefault("frames", []).append({"id": s.id, "detail": s.source})
        elif s.n_joints != s.expected_joints:
            errors.setdefault("joints", []).append(
                {"id": s.id, "detail": f"{s.n_joints} joints, expected {s.expected_joints}"})
    labels = labels or {}
    expected = expected or {}
    found_ids = {s.id for s in stats}
    found = Counter(labels[s.id].split for s in stats if s.id in labels)
    splits = dict.fromkeys([*expected, *sorted({r.split for r in labels.values()})])
    counts = {split: {"found": found[split], "expected": expected.get(split),
                      "labelled": sum(r.split == split for r in labels.values())}
              for split in splits}
    if not labels:
        counts[""] = {"found": len(stats), "expected": None, "labelled": 0}
    frame_mismatches = [{"id": s.id, "pose_frames": s.n_frames,
                         "label_frames": labels[s.id].n_frames}
                        for s in stats if s.id in labels and s.n_frames
                        and labels[s.id].n_frames not in (None, s.n_frames)]
    without_poses: dict[str, list[str]] = {}
    for clip_id in sorted(set(labels) - found_ids):
        without_poses.setdefault(labels[clip_id].split, []).append(clip_id)
    return Report(
        n_clips=n_clips, n_matched=sum(found.values()), counts=counts,
        labels_without_poses=without_poses,
        poses_without_labels=sorted(found_ids - set(labels)) if labels else [],
        frame_mismatches=frame_mismatches,
        out_of_range=[{"id": s.id, "points": s.out_of_range,
                       "fraction": round(s.out_of_range / max(1, s.n_points), 4)}
                      for s in stats if s.out_of_range],
        nonfinite=[{"id": s.id, "points": s.nonfinite} for s in stats if s.nonfinite],
        clip_errors=errors, confidence=_part_rates(stats), threshold=threshold,
        tolerance=tolerance,
        example_ids={"pose": min(found_ids), "label": min(labels)} if labels and found_ids
        else {})


def _part_rates(stats: list[ClipStats]) -> dict[str, dict[str, float]]:
    totals: dict[str, np.ndarray] = {}
    for s in stats:
        for part, values in s.parts.items():
            totals[part] = totals.get(part, np.zeros(3, dtype=np.int64)) + np.asarray(values)
    return {part: {"points": int(t[0]), "missing_rate": round(float(t[1] / max(1, t[0])), 4),
                   "low_rate": round(float(t[2] / max(1, t[0])), 4)}
            for part, t in totals.items()}
