"""``python -m harness score``: score prediction files with a benchmark's metric protocol.

Scoring needs only the benchmark's resolved config (its default protocol and the protocol's
options), never its data, so it works on benchmarks that are not prepared. Each side
(``--ref``, ``--hyp``) is one file, read by its suffix:

- ``.json``: one object ``{clip_id: value}``;
- ``.jsonl``: one object per line with ``id`` and ``reference``/``prediction`` (or ``text``),
  e.g. a cell's ``predictions/test.jsonl`` given as both ``--ref`` and ``--hyp``;
- ``.csv``: a header with ``id`` and ``reference``/``prediction`` (or ``text``);
- anything else: plain UTF-8 text, one clip per line; clip ids are the line numbers, and
  both files must then be plain text with the same number of lines.

A value is text (CSLR, SLT) or a label (ISLR); an ISLR hypothesis may also be a ranked list
of labels (a JSON list, best first).
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import DataError

#: The fields that hold a side's value in JSONL and CSV rows, in order of preference.
FIELDS = {"--ref": ("reference", "text"), "--hyp": ("prediction", "text")}


@dataclass
class Side:
    """One side of the scoring as read from its file: clip id -> value."""

    flag: str
    path: Path
    values: dict[str, Any]
    #: whether the file names its clips (JSON, JSONL, CSV) or they are line numbers
    keyed: bool

    def where(self) -> str:
        """How error messages name this side."""
        return f"{self.flag} {self.path}"


def read_text(flag: str, path: Path) -> str:
    """The UTF-8 text of a prediction or reference file, or a one-line DataError."""
    if not path.exists():
        raise DataError(f"{flag} {path} does not exist")
    if path.is_dir():
        raise DataError(f"{flag} {path} is a folder; give the file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {flag} {path}: {exc.strerror or exc}") from None
    if not data.strip():
        raise DataError(f"{flag} {path} is empty")
    try:
        return data.decode("utf-8").removeprefix("\ufeff")
    except UnicodeDecodeError as exc:
        raise DataError(f"{flag} {path} is not UTF-8 text (byte 0x{data[exc.start]:02x} at "
                        f"offset {exc.start}); save it as UTF-8") from None


def read_side(flag: str, path: Path) -> Side:
    """Read one side in the form its suffix names."""
    text = read_text(flag, path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return Side(flag, path, _read_json(flag, path, text), keyed=True)
    if suffix in (".jsonl", ".csv"):
        read = jsonl_rows if suffix == ".jsonl" else _csv_rows
        rows = read(flag, path, text)
        return Side(flag, path, _keyed_values(flag, path, rows), keyed=True)
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return Side(flag, path, {str(n): line.removesuffix("\r") for n, line in
                             enumerate(lines, start=1)}, keyed=False)


def _read_json(flag: str, path: Path, text: str) -> dict[str, Any]:
    twice: list[str] = []

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        keys = [k for k, _ in pairs]
        twice.extend(k for i, k in enumerate(keys) if k in keys[:i])
        return dict(pairs)

    try:
        obj = json.loads(text, object_pairs_hook=unique)
    except json.JSONDecodeError as exc:
        raise DataError(f"{flag} {path} is not valid JSON (line {exc.lineno}: {exc.msg})"
                        ) from None
    if twice:
        raise DataError(f"{flag} {path}: clip id {twice[0]!r} appears twice; give each clip "
                        f"once")
    if not isinstance(obj, dict) or not obj:
        raise DataError(f"{flag} {path} must hold one JSON object {{clip_id: value}} with at "
                        f"least one clip")
    return {str(k): v for k, v in obj.items()}


def jsonl_rows(flag: str, path: Path, text: str) -> list[tuple[str, Any]]:
    rows = []
    for n, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{flag} {path} line {n} is not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{flag} {path} line {n} is not a JSON object")
        rows.append((f"line {n}", row))
    return rows


def _csv_rows(flag: str, path: Path, text: str) -> list[tuple[str, Any]]:
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        return [(f"line {reader.line_num}", row) for row in reader]
    except csv.Error as exc:
        raise DataError(f"{flag} {path} line {reader.line_num} is not valid CSV ({exc})"
                        ) from None


def _keyed_values(flag: str, path: Path, rows: list[tuple[str, Any]]) -> dict[str, Any]:
    """clip id -> value of JSONL or CSV rows, taking the first of the side's fields."""
    fields = FIELDS[flag]
    values: dict[str, Any] = {}
    for where, row in rows:
        if row.get("id") in (None, ""):
            raise DataError(f"{flag} {path} {where} has no id")
        field = next((f for f in fields if f in row), None)
        if field is None:
            raise DataError(f"{flag} {path} {where} has no {' or '.join(fields)} field")
        clip = str(row["id"])
        if clip in values:
            raise DataError(f"{flag} {path} {where}: clip id {clip!r} appears twice")
        values[clip] = row[field]
    if not values:
        raise DataError(f"{flag} {path} holds no clips")
    return values


def _few(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:5])
    return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


def check_aligned(ref: Side, hyp: Side) -> None:
    """Fail with the differing ids (or line counts) unless both sides cover the same clips."""
    if ref.keyed != hyp.keyed:
        keyed, plain = (ref, hyp) if ref.keyed else (hyp, ref)
        raise DataError(f"{keyed.where()} names its clips but {plain.where()} is plain text "
                        f"(clips by line number); give both with clip ids or both as plain text")
    if not ref.keyed:
        if len(ref.values) != len(hyp.values):
            raise DataError(f"{ref.where()} has {len(ref.values)} lines but {hyp.where()} has "
                            f"{len(hyp.values)}; plain-text files are matched by line number, "
                            f"so they need the same number of lines")
        return
    missing = [c for c in ref.values if c not in hyp.values]
    extra = [c for c in hyp.values if c not in ref.values]
    parts = []
    if missing:
        parts.append(f"{len(missing)} clip(s) of {ref.where()} have no hypothesis "
                     f"({_few(missing)})")
    if extra:
        parts.append(f"{len(extra)} clip(s) of {hyp.where()} have no reference ({_few(extra)})")
    if parts:
        raise DataError("clip ids differ: " + "; ".join(parts))


def _is_label(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def typed_values(side: Side, task: str) -> dict[str, Any]:
    """The side's values as the task's protocols take them: text, a label or ranked labels."""
    ranked = task == "islr" and side.flag == "--hyp"
    wanted = "a label or a list of labels" if ranked else "a label" if task == "islr" else "text"
    out: dict[str, Any] = {}
    for clip, value in side.values.items():
        if _is_label(value):
            out[clip] = [str(value).strip()] if ranked else str(value).strip()
        elif ranked and isinstance(value, list) and all(_is_label(v) for v in value):
            out[clip] = [str(v) for v in value]
        else:
            raise DataError(f"{side.where()}: the value of clip {clip!r} is "
                            f"{json.dumps(value)[:40]}; {task} needs {wanted}")
    return out


def score_files(bench: str, protocol: str | None, ref_path: Path, hyp_path: Path,
                overrides: list[str]) -> dict[str, Any]:
    """Score a hypothesis file against a reference file: a report with every metric and the
    signature it was computed under."""
    from harness.registry import BENCHMARKS
    from harness.runner import resolve_bench_config

    cls = BENCHMARKS.get(bench)
    cfg = resolve_bench_config(bench, overrides)
    proto = cls(cfg).metric_protocol(protocol)
    ref, hyp = read_side("--ref", ref_path), read_side("--hyp", hyp_path)
    check_aligned(ref, hyp)
    refs = typed_values(ref, cls.task)
    scores = proto.score(typed_values(hyp, cls.task), refs, cfg.get("eval", {}))
    return {"bench": bench, "task": cls.task, "protocol": proto.name,
            "version": proto.version, "summary": proto.summary, "clips": len(refs),
            "metrics": scores.metrics,
            "signatures": {m: scores.signatures[proto.family(m)] for m in scores.metrics}}


def render(report: dict[str, Any], as_json: bool) -> str:
    """The report as JSON or as a text table, one metric per row with its signature."""
    if as_json:
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    width = max(len(m) for m in report["metrics"])
    lines = [f"{report['bench']} ({report['task']}): metric protocol {report['protocol']} "
             f"version {report['version']}, {report['clips']} clips",
             f"  {report['summary']}"]
    lines += [f"  {m:<{width}}  {v:7.2f}  {report['signatures'][m]}"
              for m, v in report["metrics"].items()]
    return "\n".join(lines) + "\n"
