"""Label files: clip id -> split, gloss, text, signer and frame range.

Readable formats (each registered in ``harness.core.registry.LABEL_FORMATS``; ``read_labels``
detects which when not told):

- ``unisign``: Uni-Sign's gzip-pickled dicts ``{clip: {name, gloss, text, video_path}}``, one
  file per split named by its suffix (``labels.train``, ``labels-2000.dev``, ...); a folder
  means every such file in it. The id is the video file's stem (it names the pose file);
  ``gloss`` is a list of glosses or ``''`` (Uni-Sign's WLASL files keep the sign's word in
  ``text``, the adapter decides what is the class).
- ``wlasl``: ``WLASL_v0.3.json``, a list of ``{gloss, instances: [{video_id, split,
  signer_id, frame_start, frame_end, fps, ...}]}``. ``subset=N`` keeps the first N glosses
  in the file's order: that is how the official ``nslt_N.json`` splits are made (their class
  index is the gloss's position in the file). Frames are 1-based and inclusive in the file;
  the record's range is 0-based and half-open, open-ended where ``frame_end`` is -1.
- ``phoenix2014t`` / ``phoenix2014``: the corpus CSVs, ``|``-separated with a header
  (``name|video|start|end|speaker|orth|translation``, ``id|folder|signer|annotation``); the
  split is the file name's ``train``/``dev``/``test`` part; -1 start/end means the whole
  video. Text is kept exactly as in the file (no normalisation).
- ``pyskl``: the ``split`` dict and each annotation's ``label`` (as a string) and
  ``total_frames`` of a pyskl annotation pickle.

Split names are the harness's: ``val`` becomes ``dev``.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

from benchmarks.formats._common import canonical_id
from benchmarks.formats.detect import peek_pickle
from benchmarks.formats.pyskl import load as load_pyskl
from harness.core.registry import LABEL_FORMATS
from harness.errors import DataError, UserError
from harness.io.safe_pickle import load_pickle

SPLITS = {"train": "train", "val": "dev", "dev": "dev", "test": "test"}
PHOENIX_COLUMNS = {
    "phoenix2014t": ("name", "video", "start", "end", "speaker", "orth", "translation"),
    "phoenix2014": ("id", "folder", "signer", "annotation"),
}
_UNISIGN_FIELDS = ("name", "gloss", "text", "video_path")


@dataclass(frozen=True)
class LabelRecord:
    """What a label file says about one clip; ``frame_range`` is [start, end) in the video."""

    id: str
    split: str
    gloss: str = ""
    text: str = ""
    signer: str = ""
    frame_range: tuple[int, int | None] | None = None
    fps: float | None = None
    source: str = ""

    @property
    def n_frames(self) -> int | None:
        """Number of frames the labels imply, or None where they do not say."""
        if self.frame_range is None or self.frame_range[1] is None:
            return None
        return self.frame_range[1] - self.frame_range[0]

    def to_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data."""
        data = asdict(self)
        data["frame_range"] = list(self.frame_range) if self.frame_range else None
        return data


class LabelFormat:
    """A label file format, registered in ``harness.core.registry.LABEL_FORMATS`` here."""

    name: ClassVar[str]  # set by LABEL_FORMATS.register
    #: where it stands where formats are listed
    rank: ClassVar[int]
    #: whether ``subset=N`` (the first N glosses of the file) applies
    subsets: ClassVar[bool] = False

    def read(self, path: Path, subset: int | None) -> dict[str, LabelRecord]:
        """Label records by clip id from a file or folder of this format."""
        raise NotImplementedError


def normalise_split(name: str) -> str:
    """The harness's name for a split (``val`` -> ``dev``); unknown names stay as they are."""
    return SPLITS.get(str(name).strip().lower(), str(name).strip())


def read_labels(path: str | Path, format: str | None = None, *,
                subset: int | None = None) -> dict[str, LabelRecord]:
    """Label records by clip id from a label file or folder (format detected if not given)."""
    path = Path(path)
    if not path.exists():
        raise UserError(f"label path {path} does not exist")
    fmt = format or detect_label_format(path)
    reader = LABEL_FORMATS.get(fmt)()
    if subset is not None and not reader.subsets:
        takes = [name for name, cls in LABEL_FORMATS.entries().items() if cls.subsets]
        raise UserError(f"a gloss subset applies to {' and '.join(takes)} labels, not to "
                        f"{fmt}")
    return reader.read(path, subset)


def detect_label_format(path: str | Path) -> str:
    """The label format of a file or folder, or a DataError naming the readable ones."""
    path = Path(path)
    if path.is_dir():
        csvs = sorted(path.glob("*.corpus.csv"))
        if csvs:
            return _phoenix_variant(csvs[0])
        if _unisign_files(path):
            return "unisign"
        raise _undetected(path, "no *.corpus.csv or labels.{train,dev,test} files in it")
    if path.suffix.lower() == ".json":
        return "wlasl"
    if path.suffix.lower() == ".csv":
        return _phoenix_variant(path)
    kind, first_key, after = peek_pickle(path)
    if kind == "dict" and first_key in ("split", "annotations"):
        return "pyskl"
    if kind == "dict" and after is not None and after[0] == "dict" and after[1] in _UNISIGN_FIELDS:
        return "unisign"
    raise _undetected(path, f"a {kind} that is neither a Uni-Sign label dict nor a pyskl "
                             f"annotation pickle")


def _undetected(path: Path, reason: str) -> DataError:
    return DataError(f"{path}: cannot tell the label format ({reason}); readable label files: "
                    f"Uni-Sign labels.{{train,dev,test}}, WLASL_v0.3.json, Phoenix "
                    f"*.corpus.csv, pyskl annotation pickles")


def _add(records: dict[str, LabelRecord], record: LabelRecord) -> None:
    other = records.setdefault(record.id, record)
    if other is not record:
        raise DataError(f"{record.source}: clip {record.id!r} is labelled twice (also in "
                        f"{other.source}, split {other.split}); label ids must be unique")


# -- Uni-Sign ---------------------------------------------------------------------------------
def _unisign_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir()
                  if p.is_file() and p.suffix.lstrip(".").lower() in SPLITS)


def read_unisign_labels(path: str | Path) -> dict[str, LabelRecord]:
    """Records from Uni-Sign label files (a file, or every labels*.{train,dev,test} in a folder)."""
    path = Path(path)
    files = _unisign_files(path) if path.is_dir() else [path]
    if not files:
        raise DataError(f"{path}: no Uni-Sign label files (labels.train, labels.dev, "
                        f"labels.test) in it")
    splits: dict[str, Path] = {}
    records: dict[str, LabelRecord] = {}
    for file in files:
        split = normalise_split(file.suffix.lstrip("."))
        if split not in SPLITS.values():
            raise DataError(f"{file}: a Uni-Sign label file is named by its split "
                            f"(labels.train, labels.dev, labels.test)")
        if split in splits:
            raise DataError(f"{path}: two label files for split {split} ({splits[split].name}, "
                            f"{file.name}); pass one file or a folder with one set")
        splits[split] = file
        data = load_pickle(file)
        if not isinstance(data, dict):
            raise DataError(f"{file}: not a Uni-Sign label file (expected a dict of clip -> "
                            f"{{name, gloss, text, video_path}})")
        for key, entry in data.items():
            if not isinstance(entry, dict):
                raise DataError(f"{file}: entry {key!r} is a {type(entry).__name__}, expected a "
                                f"dict with {', '.join(_UNISIGN_FIELDS)}")
            gloss = entry.get("gloss", "")
            gloss = " ".join(map(str, gloss)) if isinstance(gloss, (list, tuple)) else str(gloss)
            video = entry.get("video_path") or entry.get("name") or key
            _add(records, LabelRecord(canonical_id(str(video)), split, gloss,
                                      str(entry.get("text", "")), source=str(file)))
    return records


@LABEL_FORMATS.register("unisign")
class UniSignLabels(LabelFormat):
    """Uni-Sign's gzip-pickled label dicts, one file per split."""

    rank = 0

    def read(self, path: Path, subset: int | None) -> dict[str, LabelRecord]:
        """Records from Uni-Sign label files."""
        return read_unisign_labels(path)


# -- WLASL ------------------------------------------------------------------------------------
def read_wlasl(path: str | Path, subset: int | None = None) -> dict[str, LabelRecord]:
    """Records from ``WLASL_v0.3.json``; ``subset`` keeps the first N glosses (WLASL-N)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: not a readable WLASL JSON file ({type(exc).__name__}: "
                        f"{str(exc)[:120]})") from None
    if not isinstance(data, list) or not all(isinstance(e, dict) and "gloss" in e
                                             and isinstance(e.get("instances"), list)
                                             for e in data):
        raise DataError(f"{path}: not a WLASL file (expected a list of {{gloss, instances}})")
    if subset is not None:
        if not 0 < subset <= len(data):
            raise UserError(f"WLASL subset {subset} is not within the file's {len(data)} "
                            f"glosses")
        data = data[:subset]
    records: dict[str, LabelRecord] = {}
    for entry in data:
        for inst in entry["instances"]:
            try:
                start, end = int(inst.get("frame_start", 1)) - 1, int(inst.get("frame_end", -1))
                record = LabelRecord(
                    canonical_id(str(inst["video_id"])), normalise_split(inst["split"]),
                    str(entry["gloss"]), signer=str(inst.get("signer_id", "")),
                    frame_range=(start, end if end - 1 > 0 else None),
                    fps=float(inst["fps"]) if inst.get("fps") else None, source=str(path))
            except (KeyError, TypeError, ValueError) as exc:
                raise DataError(f"{path}: instance of gloss {entry['gloss']!r} is malformed "
                                f"({type(exc).__name__}: {exc})") from None
            _add(records, record)
    return records


@LABEL_FORMATS.register("wlasl")
class WlaslLabels(LabelFormat):
    """``WLASL_v0.3.json``; a subset keeps the first N glosses."""

    rank = 1
    subsets = True

    def read(self, path: Path, subset: int | None) -> dict[str, LabelRecord]:
        """Records from the WLASL JSON (of the first ``subset`` glosses)."""
        return read_wlasl(path, subset)


# -- Phoenix ----------------------------------------------------------------------------------
def _header(file: Path) -> tuple[str, ...]:
    try:
        with open(file, encoding="utf-8") as fh:
            return tuple(c.strip() for c in fh.readline().split("|"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{file}: not a readable UTF-8 CSV ({type(exc).__name__})") from None


def _phoenix_variant(file: Path) -> str:
    header = _header(file)
    for fmt, columns in PHOENIX_COLUMNS.items():
        if header == columns:
            return fmt
    raise _undetected(file, f"CSV header {'|'.join(header)!r} is not Phoenix-2014-T's "
                             f"{'|'.join(PHOENIX_COLUMNS['phoenix2014t'])!r} or Phoenix-2014's "
                             f"{'|'.join(PHOENIX_COLUMNS['phoenix2014'])!r}")


def _split_of_name(file: Path) -> str | None:
    parts = [p.lower() for p in file.name.split(".")]
    found = [p for p in parts if p in ("train", "dev", "test")]
    return found[0] if len(found) == 1 else None


def read_phoenix(path: str | Path, variant: str) -> dict[str, LabelRecord]:
    """Records from Phoenix corpus CSVs (a file, or every *.corpus.csv named by a split)."""
    path = Path(path)
    if path.is_dir():
        files = [f for f in sorted(path.glob("*.corpus.csv")) if _split_of_name(f)]
        if not files:
            raise DataError(f"{path}: no Phoenix corpus CSVs named by a split "
                            f"(*.train.corpus.csv, *.dev.corpus.csv, *.test.corpus.csv) in it")
    else:
        files = [path]
    columns = PHOENIX_COLUMNS[variant]
    records: dict[str, LabelRecord] = {}
    for file in files:
        split = _split_of_name(file)
        if split is None:
            raise DataError(f"{file}: the split is not in the file name (expected "
                            f"...train..., ...dev... or ...test... .corpus.csv)")
        if _header(file) != columns:
            raise DataError(f"{file}: header is not {'|'.join(columns)!r} ({variant})")
        with open(file, encoding="utf-8", newline="") as fh:
            rows = csv.reader(fh, delimiter="|", quoting=csv.QUOTE_NONE)
            next(rows)
            for line, row in enumerate(rows, start=2):
                if not row:
                    continue
                if len(row) != len(columns):
                    raise DataError(f"{file}:{line}: {len(row)} fields, expected "
                                    f"{len(columns)} ({'|'.join(columns)})")
                _add(records, _phoenix_record(dict(zip(columns, row, strict=True)), split,
                                              file, line))
    return records


def _phoenix_record(row: dict[str, str], split: str, file: Path, line: int) -> LabelRecord:
    if "orth" in row:  # Phoenix-2014-T
        try:
            start, end = int(row["start"]), int(row["end"])
        except ValueError:
            raise DataError(f"{file}:{line}: start/end are not integers") from None
        frame_range = (start, end) if start >= 0 and end >= 0 else None
        return LabelRecord(canonical_id(row["name"]), split, row["orth"].strip(),
                           row["translation"].strip(), row["speaker"].strip(), frame_range,
                           source=str(file))
    return LabelRecord(canonical_id(row["id"]), split, row["annotation"].strip(),
                       signer=row["signer"].strip(), source=str(file))


class PhoenixLabels(LabelFormat):
    """A Phoenix release's corpus CSVs (the registered name is the variant)."""

    def read(self, path: Path, subset: int | None) -> dict[str, LabelRecord]:
        """Records from the release's corpus CSVs."""
        return read_phoenix(path, self.name)


@LABEL_FORMATS.register("phoenix2014t")
class Phoenix2014TLabels(PhoenixLabels):
    """PHOENIX-2014-T's corpus CSVs."""

    rank = 2


@LABEL_FORMATS.register("phoenix2014")
class Phoenix2014Labels(PhoenixLabels):
    """Phoenix-2014's corpus CSVs."""

    rank = 3


# -- pyskl ------------------------------------------------------------------------------------
def read_pyskl_labels(path: str | Path) -> dict[str, LabelRecord]:
    """Records from a pyskl annotation pickle: split, label (as a string) and frame count."""
    file, data = load_pyskl(path)
    split_of: dict[str, str] = {}
    for split, names in data.get("split", {}).items():
        for name in names:
            clip_id = canonical_id(str(name))
            other = split_of.setdefault(clip_id, normalise_split(split))
            if other != normalise_split(split):
                raise DataError(f"{file}: clip {clip_id!r} is in splits {other} and {split}")
    records: dict[str, LabelRecord] = {}
    for ann in data["annotations"]:
        if not isinstance(ann, dict) or "frame_dir" not in ann:
            raise DataError(f"{file}: an annotation has no frame_dir")
        clip_id = canonical_id(str(ann["frame_dir"]))
        total = ann.get("total_frames")
        _add(records, LabelRecord(clip_id, split_of.get(clip_id, ""), str(ann.get("label", "")),
                                  frame_range=(0, int(total)) if total is not None else None,
                                  source=str(file)))
    return records


@LABEL_FORMATS.register("pyskl")
class PysklLabels(LabelFormat):
    """The labels inside a pyskl annotation pickle."""

    rank = 4

    def read(self, path: Path, subset: int | None) -> dict[str, LabelRecord]:
        """Records from a pyskl annotation pickle."""
        return read_pyskl_labels(path)
