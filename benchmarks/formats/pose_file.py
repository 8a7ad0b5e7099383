"""``.pose`` files (sign-language-processing/pose), read with the ``pose-format`` package.

A file holds a header (components with named points, frame width and height) and a body:
``data`` a masked (T, P, V, C) array, ``confidence`` (T, P, V) and ``fps``. Points are mapped
into COCO-WholeBody-133 by their names, (component, point), through the table of the layout
the header's component names identify (``pose_layouts``: MediaPipe Holistic, full or reduced
by ``reduce_holistic``; OpenPose 137 and 135; AlphaPose 136 and 133; COCO-WholeBody-133 as
MMPose writes it). A COCO point that the file does not have (a component left out, points
removed, a point the layout lacks) is missing; components of no layout
(``POSE_WORLD_LANDMARKS``, any other) are ignored.

A header with components of no known layout (or of several, or none of whose point names the
table knows) is refused for that file only: a ClipError of kind ``layout``, which the
validation report lists as a skipped clip while the other files are prepared.

Choices: person 0; a point is missing where pose-format masks it (confidence 0) or it is NaN;
a COCO point that is the mean of several source points (two face-mesh points for one iBUG
point) is present where all of them are, with their lowest confidence; coordinates are pixels
(pose-format's convention) and the frame size comes from the header; fps from the body
(``default_fps`` only where it is 0); z is dropped.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.formats._common import (
    DEFAULT_FPS,
    ClipError,
    PoseFormat,
    build_pose,
    missing_points,
    per_clip_reader,
)
from benchmarks.formats.pose_layouts import LAYOUTS, Point, SourceLayout, layouts_of
from harness.core.layouts import COCO_WHOLEBODY_133
from harness.core.pose import PoseSequence
from harness.core.registry import POSE_FORMATS
from harness.errors import DataError

FORMAT = "pose"
SUFFIX = ".pose"
_PARSE_ERRORS = (struct.error, ValueError, EOFError, IndexError, KeyError, TypeError,
                 NotImplementedError, UnicodeDecodeError, OverflowError, MemoryError)


def read_clip(file: Path, clip_id: str, *, fps: float = DEFAULT_FPS,
              frame_size: tuple[int, int] | None = None) -> PoseSequence:
    """The PoseSequence of one ``.pose`` file, mapped into COCO-WholeBody-133 by point name."""
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
    components = [(c.name, list(c.points)) for c in header.components]
    layout, sources = _sources(components, clip_id, where)
    data, conf = body.data, np.asarray(body.confidence, dtype=np.float64)
    frames, persons = int(data.shape[0]), int(data.shape[1])
    if frames == 0:
        raise ClipError(clip_id, "frames", f"{where}: clip has zero frames")
    n_points = sum(len(points) for _, points in components)
    if persons:
        src_xy = np.asarray(np.ma.getdata(data[:, 0, :, :2]), dtype=np.float64)
        src_conf = conf[:, 0]
        src_valid = ~np.ma.getmaskarray(data[:, 0]).any(axis=-1)
    else:
        src_xy, src_conf = np.zeros((frames, n_points, 2)), np.zeros((frames, n_points))
        src_valid = np.zeros((frames, n_points), bool)
    src_valid &= ~missing_points(src_xy, src_conf)
    shape = (frames, COCO_WHOLEBODY_133.num_joints)
    xy, out_conf, valid = np.zeros((*shape, 2)), np.zeros(shape), np.zeros(shape, bool)
    for target, index in sources.items():
        xy[:, target] = src_xy[:, index].mean(axis=1)
        out_conf[:, target] = src_conf[:, index].min(axis=1)
        valid[:, target] = src_valid[:, index].all(axis=1)
    width, height = int(header.dimensions.width), int(header.dimensions.height)
    file_fps = float(body.fps)
    provenance: dict[str, Any] = {
        "format": FORMAT, "source": where, "components": [name for name, _ in components],
        "estimator": layout.estimator, "layout": layout.name,
        "mapping": f"{layout.name} -> coco_wholebody_133 by point name",
        "mapped_points": len(sources),
        "person": f"index 0 of {persons}", "frame_range": [0, frames], "source_frames": frames,
        "fps_source": "file" if file_fps > 0 else "default"}
    return build_pose(xy, out_conf, coord_space="pixel",
                      fps=file_fps if file_fps > 0 else fps,
                      frame_size=(width, height) if width > 0 and height > 0 else frame_size,
                      provenance=provenance, valid=valid)


read = per_clip_reader(
    read_clip, "Clips from a folder of ``.pose`` files (or one such file).", (SUFFIX,))


def _sources(components: list[tuple[str, list[str]]], clip_id: str, where: str
             ) -> tuple[SourceLayout, dict[int, list[int]]]:
    """The header's layout, and per COCO point it has, the file's indices of its sources."""
    names = [name for name, _ in components]
    found = layouts_of(names)
    if len(found) != 1:
        known = "; ".join(f"{layout.name} ({', '.join(sorted(layout.components))})"
                          for layout in LAYOUTS)
        what = ("components of several layouts (" + ", ".join(f.name for f in found) + ")"
                if found else "no component of a known layout")
        raise ClipError(clip_id, "layout", f"{where}: skipped: {what} in its .pose header "
                                           f"(components {names}); convert it to one of "
                                           f"pose-format's layouts: {known}")
    layout = found[0]
    position: dict[Point, int] = {}
    start = 0
    for name, points in components:
        for i, point in enumerate(points):
            position.setdefault(layout.aliases.get((name, point), (name, point)), start + i)
        start += len(points)
    sources = {target: [position[p] for p in points]
               for target, points in layout.sources().items()
               if all(p in position for p in points)}
    if not sources:
        raise ClipError(clip_id, "layout", f"{where}: skipped: no point name of its .pose "
                                           f"components {names} is one of pose-format's "
                                           f"{layout.name} layout; convert it to that layout")
    return layout, sources


@POSE_FORMATS.register(FORMAT)
class PoseFiles(PoseFormat):
    """pose-format's ``.pose`` files."""

    rank = 4
    read = staticmethod(read)
