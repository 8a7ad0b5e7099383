"""What every reader shares: the clip record, per-clip errors, ids and the missing-point rule."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from harness.core.layouts import COCO_WHOLEBODY_133
from harness.core.pose import PoseSequence
from harness.errors import DataError
from harness.io.safe_pickle import load_pickle

#: fps given to clips whose format does not store it (every format but ``.pose``); the
#: readers' ``default_fps`` argument overrides it (e.g. with the label file's fps).
DEFAULT_FPS = 25.0
PICKLE_SUFFIXES = (".pkl", ".pickle")
_VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".pkl", ".pickle", ".pose")


@dataclass
class Clip:
    """One clip a reader found: its id (matched against the labels), pose and origin."""

    id: str
    pose: PoseSequence
    source: str


class PoseFormat:
    """A pose format the field publishes, registered in ``harness.core.registry.POSE_FORMATS`` by
    the module that reads it (one module per format)."""

    name: ClassVar[str]  # set by POSE_FORMATS.register
    #: where it stands where formats are listed (messages, ``--format`` choices)
    rank: ClassVar[int]
    #: ``read(path, *, default_fps, frame_size, errors)``: the clips of a source
    read: ClassVar[Callable[..., Iterator[Clip]]]


def ranked(entries: Mapping[str, Any]) -> tuple[str, ...]:
    """The names of registered formats in the order of their ``rank``."""
    return tuple(sorted(entries, key=lambda name: entries[name].rank))


class ClipError(DataError):
    """A problem confined to one clip: ``kind`` is joints, frames, duplicate, unreadable or
    layout (a clip skipped, see ``report``)."""

    def __init__(self, clip_id: str, kind: str, message: str) -> None:
        super().__init__(message)
        self.clip_id = clip_id
        self.kind = kind


def raise_or_collect(error: ClipError, errors: list[ClipError] | None) -> None:
    """Raise ``error``, or append it to ``errors`` when the caller collects them."""
    if errors is None:
        raise error
    errors.append(error)


def canonical_id(name: str) -> str:
    """The id a clip is matched by: last path component without a video or pose suffix."""
    base = str(name).replace("\\", "/").rstrip("/").rsplit("/", 1)[-1]
    for suffix in _VIDEO_SUFFIXES:
        if base.lower().endswith(suffix):
            return base[: -len(suffix)]
    return base


def clip_files(path: Path, suffixes: tuple[str, ...]) -> list[Path]:
    """The files under ``path`` (or ``path`` itself) with one of ``suffixes``, sorted."""
    if path.is_file():
        return [path]
    with os.scandir(path):  # an unreadable folder is an error (rglob would see it empty)
        pass
    return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


def missing_points(xy: np.ndarray, conf: np.ndarray) -> np.ndarray:
    """Points a source marks as missing: NaN coordinates or confidence, or all-zero
    coordinates with zero confidence (how padded persons and undetected parts are stored)."""
    return (np.isnan(xy).any(axis=-1) | np.isnan(conf)
            | ((conf == 0) & (xy == 0).all(axis=-1)))


def build_pose(xy: np.ndarray, conf: np.ndarray, *, coord_space: str, fps: float,
               frame_size: tuple[int, int] | None, provenance: dict[str, Any],
               valid: np.ndarray | None = None) -> PoseSequence:
    """A COCO-WholeBody-133 PoseSequence; missing points get valid=False, (0, 0) and conf 0.

    Infinite values are not a missing marker: they stay valid so that validation fails.
    """
    xy = np.asarray(xy, dtype=np.float32)[..., :2]
    conf = np.asarray(conf, dtype=np.float32)
    ok = ~missing_points(xy, conf)
    if valid is not None:
        ok &= valid
    xy = np.where(ok[..., None], xy, np.float32(0))
    conf = np.where(ok, conf, np.float32(0))
    return PoseSequence(xy, conf, ok, float(fps), frame_size, coord_space,
                        COCO_WHOLEBODY_133.name, provenance)


def check_shape(clip_id: str, where: str, array: np.ndarray, expected: str,
                joints: int = COCO_WHOLEBODY_133.num_joints, joint_axis: int = -2) -> None:
    """Raise a ClipError unless ``array`` has frames and ``joints`` joints on its joint axis."""
    if array.ndim == 0 or array.shape[0] == 0:
        raise ClipError(clip_id, "frames", f"{where}: clip has zero frames")
    if array.shape[joint_axis] != joints:
        raise ClipError(clip_id, "joints", f"{where}: {array.shape[joint_axis]} joints per "
                                           f"frame, expected {joints} ({expected}); got shape "
                                           f"{tuple(array.shape)}")


def as_array(value: Any, clip_id: str, where: str, what: str) -> np.ndarray:
    """``value`` as a float array, or a ClipError saying which field is not numeric."""
    try:
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ClipError(clip_id, "unreadable", f"{where}: {what} is not a numeric array "
                                               f"(ragged or of type {type(value).__name__})"
                        ) from None


#: What a reader hands to ``clips_from``: clip id, where it comes from, and a function that
#: builds its PoseSequence (raising ClipError or DataError for a bad clip).
Entry = tuple[str, str, Callable[[], PoseSequence]]


def clips_from(entries: Iterable[Entry], errors: list[ClipError] | None) -> Iterator[Clip]:
    """Build the clips one by one; a bad or duplicate clip is raised, or collected in
    ``errors`` (reading then goes on with the next clip)."""
    seen: dict[str, str] = {}
    for clip_id, where, build in entries:
        first = seen.setdefault(clip_id, where)
        if first != where:
            raise_or_collect(ClipError(clip_id, "duplicate", f"{where}: clip id {clip_id!r} "
                                                             f"also comes from {first}"), errors)
            continue
        try:
            pose = build()
        except ClipError as exc:
            raise_or_collect(exc, errors)
            continue
        except DataError as exc:
            raise_or_collect(ClipError(clip_id, "unreadable", str(exc)), errors)
            continue
        yield Clip(clip_id, pose, where)


def load_clip_dict(file: Path, clip_id: str, keys: tuple[str, ...], what: str) -> dict[str, Any]:
    """A per-clip pickle's dict, or a ClipError unless it has ``keys``."""
    data = load_pickle(file)
    if not isinstance(data, dict) or any(k not in data for k in keys):
        found = sorted(map(str, data)) if isinstance(data, dict) else type(data).__name__
        raise ClipError(clip_id, "unreadable", f"{file}: not {what} clip pickle (needs keys "
                                               f"{list(keys)}, found {found})")
    return data


def per_clip_reader(read_clip: Callable[..., PoseSequence], doc: str,
                    suffixes: tuple[str, ...] = PICKLE_SUFFIXES) -> Callable[..., Iterator[Clip]]:
    """A reader of a folder of per-clip files (or one file) built from a one-clip reader
    ``read_clip(file, clip_id, *, fps, frame_size)``; clip ids are the file stems."""

    def read(path: str | Path, *, default_fps: float = DEFAULT_FPS,
             frame_size: tuple[int, int] | None = None,
             errors: list[ClipError] | None = None) -> Iterator[Clip]:
        entries = ((canonical_id(f.name), str(f),
                    partial(read_clip, f, canonical_id(f.name), fps=default_fps,
                            frame_size=frame_size))
                   for f in clip_files(Path(path), suffixes))
        return clips_from(entries, errors)

    read.__doc__ = doc
    return read
