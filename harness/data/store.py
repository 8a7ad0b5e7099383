"""The prepared store: all clips of a benchmark packed into memory-mappable arrays.

Layout of a store directory (written by StoreWriter, read by PoseStore)::

    store.json       format, layout, shapes and dtypes, per-file sha256, fingerprint;
                     written last, so a directory without it is an unfinished store
    keypoints.bin    float32 (F, V, C)   all frames of all clips, clip after clip
    confidence.bin   float32 (F, V)
    valid.bin        uint8   (F, V)      1 = point present
    offsets.bin      int64   (N + 1,)    clip i is frames offsets[i]:offsets[i+1]
    manifest.jsonl   one JSON object per clip: id, split, signer, gloss, text, n_frames,
                     source, fps, frame_size, coord_space, provenance

Loading a clip is a slice of the memory maps. The writer builds the store in a sibling
temporary directory and renames it into place, so a killed prepare leaves nothing that
looks finished.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.layouts import get_layout
from harness.core.pose import PoseSequence
from harness.errors import DataError
from harness.io import atomic

FORMAT = "harness-pose-store"
FORMAT_VERSION = 1
_ARRAYS = {  # name -> (file, dtype)
    "keypoints": ("keypoints.bin", np.float32),
    "confidence": ("confidence.bin", np.float32),
    "valid": ("valid.bin", np.uint8),
    "offsets": ("offsets.bin", np.int64),
}
_MANIFEST = "manifest.jsonl"
_META = "store.json"
_CHUNK = 1 << 22


@dataclass(frozen=True)
class ClipInfo:
    """Manifest entry of one clip."""

    index: int
    id: str
    split: str
    signer: str
    gloss: str
    text: str
    n_frames: int
    source: str
    fps: float
    frame_size: tuple[int, int] | None
    coord_space: str
    provenance: dict[str, Any]


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def fingerprint_of(file_hashes: dict[str, str]) -> str:
    """Data fingerprint of a store: a hash over its format and the hashes of its files."""
    payload = json.dumps({"format": FORMAT, "version": FORMAT_VERSION, "files": file_hashes},
                         sort_keys=True)
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


class StoreWriter:
    """Append clips one by one, then ``close()`` to publish the store atomically."""

    def __init__(self, path: str | Path, *, layout: str = "coco_wholebody_133", channels: int = 2,
                 info: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.layout = get_layout(layout)
        self.channels = channels
        self.info = dict(info or {})
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        if self.tmp.exists():
            shutil.rmtree(self.tmp)
        self.tmp.mkdir(parents=True)
        # The files stay open while clips are appended; close() or abort() closes them.
        self._files = {name: open(self.tmp / fname, "wb")  # noqa: SIM115
                       for name, (fname, _) in _ARRAYS.items() if name != "offsets"}
        self._manifest = open(self.tmp / _MANIFEST, "w", encoding="utf-8")  # noqa: SIM115
        self._offsets = [0]
        self._ids: set[str] = set()

    def add(self, clip_id: str, pose: PoseSequence, *, split: str, signer: str = "",
            gloss: str = "", text: str = "", source: str = "") -> None:
        """Validate one clip and append it to the store."""
        where = f"clip {clip_id!r}" + (f" ({source})" if source else "")
        if clip_id in self._ids:
            raise DataError(f"{where}: duplicate clip id")
        pose.check(where)
        if pose.layout != self.layout.name or pose.keypoints.shape[2] != self.channels:
            raise DataError(f"{where}: layout {pose.layout} with {pose.keypoints.shape[2]} "
                            f"channels, the store holds {self.layout.name} with {self.channels}")
        kp = np.where(pose.valid[..., None], pose.keypoints, 0.0).astype(np.float32)
        self._files["keypoints"].write(np.ascontiguousarray(kp).tobytes())
        self._files["confidence"].write(np.ascontiguousarray(pose.confidence).tobytes())
        self._files["valid"].write(pose.valid.astype(np.uint8).tobytes())
        self._offsets.append(self._offsets[-1] + pose.n_frames)
        self._ids.add(clip_id)
        entry = {
            "id": clip_id, "split": split, "signer": signer, "gloss": gloss, "text": text,
            "n_frames": pose.n_frames, "source": source, "fps": float(pose.fps),
            "frame_size": list(pose.frame_size) if pose.frame_size else None,
            "coord_space": pose.coord_space, "provenance": pose.provenance,
        }
        self._manifest.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")

    def close(self) -> dict[str, Any]:
        """Finish the files, write store.json last and move the store into place."""
        for fh in self._files.values():
            fh.close()
        self._manifest.close()
        if len(self._offsets) == 1:
            self.abort()
            raise DataError(f"{self.path}: no clips were written; nothing to prepare")
        np.asarray(self._offsets, dtype=np.int64).tofile(self.tmp / _ARRAYS["offsets"][0])
        hashes = {fname: file_sha256(self.tmp / fname)
                  for fname in [f for f, _ in _ARRAYS.values()] + [_MANIFEST]}
        n_frames = self._offsets[-1]
        meta = {
            "format": FORMAT, "format_version": FORMAT_VERSION, "layout": self.layout.name,
            "channels": self.channels, "n_clips": len(self._offsets) - 1, "n_frames": n_frames,
            "files": hashes, "fingerprint": fingerprint_of(hashes), "info": self.info,
        }
        atomic.write_json(self.tmp / _META, meta)
        if self.path.exists():
            old = self.path.with_name(f".{self.path.name}.old-{os.getpid()}")
            self.path.rename(old)
            shutil.rmtree(old)
        self.tmp.rename(self.path)
        return meta

    def abort(self) -> None:
        """Drop everything written so far."""
        for fh in [*self._files.values(), self._manifest]:
            fh.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> StoreWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        if exc_type is not None:
            self.abort()


class PoseStore:
    """Read-only view of a prepared store; clips are slices of memory maps."""

    def __init__(self, path: str | Path, *, verify: bool = True) -> None:
        """Open and check a store; ``verify`` also compares every file with its checksum."""
        self.path = Path(path)
        self.meta = self._read_meta()
        shape = (self.meta["n_frames"], get_layout(self.meta["layout"]).num_joints)
        shapes = {"keypoints": (*shape, self.meta["channels"]), "confidence": shape,
                  "valid": shape, "offsets": (self.meta["n_clips"] + 1,)}
        self._arrays: dict[str, np.ndarray] = {}
        for name, (fname, dtype) in _ARRAYS.items():
            fpath = self.path / fname
            expected = int(np.prod(shapes[name])) * np.dtype(dtype).itemsize
            size = fpath.stat().st_size if fpath.exists() else -1
            if size != expected:
                what = "is missing" if size < 0 else f"has {size} bytes, expected {expected}"
                raise self._corrupt(f"{fname} {what} (truncated or corrupt)")
            # plain ndarray views of the maps: slicing an np.memmap costs ~10x more
            self._arrays[name] = np.asarray(np.memmap(fpath, dtype=dtype, mode="r",
                                                      shape=shapes[name]))
        if verify:
            self._verify_hashes()
        self.clips = self._read_manifest()
        self._check_offsets()
        self._check_values()
        self.fingerprint: str = self.meta["fingerprint"]

    # -- opening and checking ------------------------------------------------------------
    def _corrupt(self, what: str) -> DataError:
        return DataError(f"prepared store {self.path}: {what}; prepare it again "
                         f"(python -m harness prepare ... --force)")

    def _read_meta(self) -> dict[str, Any]:
        meta_path = self.path / _META
        if not meta_path.exists():
            if self.path.is_dir():
                raise self._corrupt(f"{_META} is missing (an unfinished or foreign directory)")
            raise DataError(f"no prepared store at {self.path}")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            ok = meta.get("format") == FORMAT
        except (OSError, ValueError, AttributeError) as exc:
            raise self._corrupt(f"{_META} is unreadable ({exc.__class__.__name__})") from None
        if not ok:
            raise self._corrupt(f"{_META} is not a {FORMAT} header")
        if meta.get("format_version") != FORMAT_VERSION:
            raise self._corrupt(f"format version {meta.get('format_version')} is not "
                                f"{FORMAT_VERSION}")
        for key in ("n_frames", "n_clips", "channels"):
            value = meta.get(key)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise self._corrupt(f"{_META} has no valid {key} ({value!r})")
        files = meta.get("files")
        if not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values()) \
                or not isinstance(meta.get("fingerprint"), str):
            raise self._corrupt(f"{_META} lacks the checksums of its files")
        try:
            get_layout(meta.get("layout"))
        except KeyError as exc:
            raise self._corrupt(f"{_META}: {exc.args[0]}") from None
        return meta

    def _verify_hashes(self) -> None:
        for fname, digest in self.meta["files"].items():
            if not (self.path / fname).exists() or file_sha256(self.path / fname) != digest:
                raise self._corrupt(f"{fname} does not match its recorded checksum")

    def _read_manifest(self) -> list[ClipInfo]:
        clips = []
        try:
            with open(self.path / _MANIFEST, encoding="utf-8") as fh:
                for i, line in enumerate(fh):
                    e = json.loads(line)
                    fs = e.get("frame_size")
                    clips.append(ClipInfo(
                        i, e["id"], e["split"], e.get("signer", ""), e.get("gloss", ""),
                        e.get("text", ""), int(e["n_frames"]), e.get("source", ""),
                        float(e["fps"]), tuple(fs) if fs else None,
                        e.get("coord_space", "pixel"), e.get("provenance", {})))
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise self._corrupt(f"{_MANIFEST} is unreadable ({exc.__class__.__name__}: {exc})"
                                ) from None
        if len(clips) != self.meta["n_clips"]:
            raise self._corrupt(f"{_MANIFEST} lists {len(clips)} clips, store.json "
                                f"{self.meta['n_clips']}")
        return clips

    def _check_offsets(self) -> None:
        off = np.asarray(self._arrays["offsets"])
        lengths = np.diff(off)
        if off[0] != 0 or off[-1] != self.meta["n_frames"] or (lengths < 0).any():
            raise self._corrupt("offsets are not a monotone index of the frames")
        empty = np.flatnonzero(lengths == 0)
        if empty.size:
            raise self._corrupt(f"clip {self.clips[empty[0]].id!r} has zero frames")
        manifest_lengths = np.array([c.n_frames for c in self.clips])
        if not np.array_equal(manifest_lengths, lengths):
            i = int(np.flatnonzero(manifest_lengths != lengths)[0])
            raise self._corrupt(f"clip {self.clips[i].id!r} has {lengths[i]} frames in the "
                                f"arrays but {manifest_lengths[i]} in the manifest")

    def _check_values(self) -> None:
        kp, valid = self._arrays["keypoints"], self._arrays["valid"]
        off = np.asarray(self._arrays["offsets"])
        step = max(1, _CHUNK // max(1, kp[0].nbytes))
        for start in range(0, len(kp), step):
            stop = min(len(kp), start + step)
            bad = ~np.isfinite(kp[start:stop]).all(axis=-1) & (valid[start:stop] > 0)
            if bad.any():
                frame = start + int(np.argwhere(bad)[0][0])
                clip = self.clips[int(np.searchsorted(off, frame, side="right")) - 1]
                raise self._corrupt(f"clip {clip.id!r} has NaN or infinite keypoints")
        conf = self._arrays["confidence"]
        for start in range(0, len(conf), step):
            if not np.isfinite(conf[start:start + step]).all():
                raise self._corrupt("confidence holds NaN or infinite values")

    # -- access --------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.clips)

    @property
    def offsets(self) -> np.ndarray:
        """Frame offsets (N + 1,) of the clips."""
        return self._arrays["offsets"]

    def packed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Keypoints (F, V, C), confidence and validity (F, V) of every frame, read-only."""
        return (self._arrays["keypoints"], self._arrays["confidence"],
                self._arrays["valid"].view(bool))

    def arrays(self, index: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Keypoints, confidence and validity of clip ``index`` as read-only views."""
        a, b = int(self._arrays["offsets"][index]), int(self._arrays["offsets"][index + 1])
        return (self._arrays["keypoints"][a:b], self._arrays["confidence"][a:b],
                self._arrays["valid"][a:b].view(bool))

    def clip(self, index: int) -> PoseSequence:
        """Clip ``index`` as a PoseSequence."""
        info = self.clips[index]
        kp, conf, valid = self.arrays(index)
        return PoseSequence(kp, conf, valid, info.fps, info.frame_size, info.coord_space,
                            self.meta["layout"], dict(info.provenance))

    def split(self, name: str) -> list[int]:
        """Indices of the clips in a split, in store order."""
        return [c.index for c in self.clips if c.split == name]

    def splits(self) -> dict[str, int]:
        """Clip counts per split."""
        counts: dict[str, int] = {}
        for c in self.clips:
            counts[c.split] = counts.get(c.split, 0) + 1
        return counts
