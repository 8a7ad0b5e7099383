"""Readers for the skeleton formats the field publishes, label files, detection, validation.

Pose formats (one module each, registered in ``harness.core.registry.POSE_FORMATS``; ``FORMATS``
lists their names in the order of their ``rank``, as below; every one yields canonical
``harness.core.pose.PoseSequence`` clips in ``coco_wholebody_133``):

========== ========================================== ============ =====================
format     source                                     coordinates  fps
========== ========================================== ============ =====================
unisign    folder of per-clip pickles (RTMPose)       normalized01 default
slrt       one pickle per dataset (HRNet)             pixel        default
pyskl      one annotation pickle per dataset          pixel        default
openhands  folder of per-clip pickles (MediaPipe)     normalized01 default
pose       folder of ``.pose`` files (pose-format)    pixel        from the file
========== ========================================== ============ =====================

Each module's docstring says how it reads its format: which person it takes, which points
count as missing (valid=False, coordinates and confidence 0), what it records in the clip's
provenance. MediaPipe sources are mapped into COCO-WholeBody-133 (``_mediapipe``), so every
store has one layout and the part-wise encoder's parts (body, hands, face) always exist.
Formats that do not store fps get ``default_fps`` (``DEFAULT_FPS`` = 25 unless the caller
passes the benchmark's); a clip id is the file stem or the dataset key's last path
component without a video suffix (``canonical_id``), which is how label ids are made too.

How ``python -m harness prepare BENCH --source PATH [--format F] [--labels PATH]`` uses
this package (in the benchmark adapter's ``prepare``)::

    fmt = options["format"] or detect_format(source)        # one-line DataError if unsure
    labels = read_labels(options["labels"]) if options["labels"] else None
    errors: list[ClipError] = []                             # collect, do not stop, per clip
    stats = []
    with StoreWriter(path, info={"format": fmt}) as writer:
        for clip in read_clips(source, fmt, default_fps=FPS, errors=errors):   # streams
            stats.append(clip_stats(clip))
            record = labels.get(clip.id) if labels else None
            if record is None or stats[-1].nonfinite:
                continue                                     # the report lists these
            writer.add(clip.id, clip.pose, split=record.split, signer=record.signer,
                       gloss=record.gloss, text=record.text, source=clip.source)
        report = validate(stats, labels, EXPECTED_COUNTS, clip_errors=errors)
        print(report.to_text())                              # and/or save report.to_dict()
        report.raise_if_fatal()                              # aborts the unfinished store
        writer.close()

Label formats (``harness.core.registry.LABEL_FORMATS``, see ``labels``): Uni-Sign's gzip-pickled
dicts, WLASL's
JSON (with ``subset=N`` for WLASL-N), the Phoenix-2014 and Phoenix-2014-T corpus CSVs, and
the labels inside pyskl annotation pickles. What the validation report treats as fatal is
listed in ``report``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from pathlib import Path

from benchmarks.formats._common import DEFAULT_FPS, Clip, ClipError, canonical_id, ranked
from benchmarks.formats.detect import detect_format
from benchmarks.formats.labels import LabelRecord, detect_label_format, read_labels
from benchmarks.formats.report import ClipStats, Report, clip_stats, validate
from harness.core.registry import POSE_FORMATS
from harness.errors import UserError

#: The registered pose formats' names, in the order of their rank.
FORMATS = ranked(POSE_FORMATS.entries())

__all__ = [
    "DEFAULT_FPS", "FORMATS", "Clip", "ClipError", "ClipStats", "LabelRecord", "Report",
    "canonical_id", "check_format", "clip_stats", "detect_format", "detect_label_format",
    "read_clips", "read_labels", "validate",
]


def read_clips(path: str | Path, format: str | None = None, *,
               default_fps: float = DEFAULT_FPS, frame_size: tuple[int, int] | None = None,
               errors: list[ClipError] | None = None) -> Iterator[Clip]:
    """The clips of a pose source, in ``format`` (detected when None).

    ``default_fps`` and ``frame_size`` apply where the format does not store them; with
    ``errors`` given, a bad clip is appended to it and reading goes on, else it is raised.
    """
    path = Path(path)
    if not path.exists():
        raise UserError(f"pose source {path} does not exist")
    fmt = format or detect_format(path)
    check_format(fmt)
    return POSE_FORMATS.get(fmt).read(path, default_fps=default_fps, frame_size=frame_size,
                                      errors=errors)


def check_format(fmt: str) -> None:
    """A UserError in one line (with a suggestion) when ``fmt`` is not a pose format."""
    if fmt not in FORMATS:
        close = difflib.get_close_matches(fmt, FORMATS, n=1)
        hint = f"; did you mean {close[0]}?" if close else ""
        raise UserError(f"unknown pose format {fmt!r}{hint} (known: {', '.join(FORMATS)})")
