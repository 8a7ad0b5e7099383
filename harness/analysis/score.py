"""``python -m harness score``: score prediction files with a benchmark's metric protocol.

Scoring needs only the benchmark's resolved config (its default protocol and the protocol's
options), never its data, so it works on benchmarks that are not prepared. Each side
(``--ref``, ``--hyp``) is one file in one of these formats (``--format``, or per side
``--ref-format`` / ``--hyp-format``):

- ``json``: one object ``{clip_id: value}``;
- ``jsonl``: one object per line with ``id`` and ``reference``/``prediction`` (or ``text``),
  e.g. a cell's ``predictions/test.jsonl`` given as both ``--ref`` and ``--hyp``;
- ``csv``: a header with ``id`` and ``reference``/``prediction`` (or ``text``);
- ``lines``: plain UTF-8 text, one clip per line; clip ids are the line numbers, and both
  files must then be plain text with the same number of lines;
- ``unisign``: the dumps of Uni-Sign (github ZechengLi19/Uni-Sign, read at commit 2c9028f;
  ``fine_tuning.py``, ``evaluate()``, run with ``--eval`` on one process), which writes
  ``{output_dir}/{dev,test}_tmp_pres.txt`` with lines ``sample: NAME, prediction: TEXT``
  (give it as ``--hyp``) and ``{dev,test}_tmp_refs.txt`` with lines
  ``sample: NAME, ground-truth: TEXT`` (``--ref``). A line is split at its first
  ``sample: `` and its first ``, prediction: `` (``, ground-truth: ``): NAME may hold any
  character but that separator (``/``, ``.``, ``-``, ``:``, ``, ``), TEXT is the rest of
  the line, kept as it is (``, `` and ``: `` included), and may be empty (also when an
  editor trimmed the line to ``..., prediction:``). CSL-Daily's
  texts there are already split into characters by the release (spaces removed, full-width
  ``，``/``？`` of the references replaced, then characters joined by spaces);
- ``ctm``: hypotheses in NIST CTM, lines ``NAME CHANNEL START DURATION WORD [CONFIDENCE]``,
  as the PHOENIX evaluation kit scores them (``evaluation/`` of the PHOENIX-2014 and
  PHOENIX-2014-T releases; ``output-hypothesis-{dev,test}.ctm``, ``out.`` once cleaned,
  e.g. written by VAC_CSLR's ``seq_scripts.py`` ``write2file``: ``NAME 1 0.00 0.01 GLOSS``,
  one line per gloss) and as SLRT writes them (github FangyunWei/SLRT, read at commit 38a4f7b:
  ``CiCo/I3D_feature_extractor/evaluate_seq.py`` and ``evaluate_H2S.py``,
  ``phoenix_make_ctm``, file ``demo.ctm``: ``NAME 1 0.000 0.100 GLOSS``). A clip's
  hypothesis is its words in the order of START (ties in file order), lines of one clip
  need not be adjacent, ``[EMPTY]`` stands for no word, and ``;;`` lines are comments.
  Both writers write no line for a clip with no gloss, so a clip of ``--ref`` that the CTM
  does not name is scored as an empty hypothesis, as the kit's ``mergectmstm.py`` does (the
  report says how many); a name the reference lacks is still an error;
- ``stm``: references in NIST STM, lines ``NAME CHANNEL SPEAKER BEGIN END [<LABEL>] TEXT``,
  the kit's ``phoenix2014-groundtruth-{dev,test}.stm``
  (``NAME 1 signer05 0.0 1.79769e+308 GLOSS ...``); one line per clip, ``;;`` comments.

SLRT's other dumps are pickles, not text: ``TwoStreamNetwork/prediction.py``
``evaluation()`` writes ``results.pkl`` (a ``defaultdict`` of name -> ``gls_hyp``,
``gls_ref``, ``txt_hyp``, ``txt_ref`` and per-stream ``*_gls_hyp``) and
``evaluation_results.pkl``; they are not read here (write them out as JSON first).

``auto`` (the default) detects each side's format from its content: a file whose every
non-empty line has the Uni-Sign shape is ``unisign``, the CTM shape ``ctm``, the STM shape
``stm``; a file where only some lines have one of these shapes is an error (it is never
scored with the prefixes as text: fix it, or name ``lines`` to score whole lines). Otherwise
the suffix decides (``.json``, ``.jsonl``, ``.csv``, ``.ctm``, ``.stm``), and anything else
is ``lines``. A named format is used as named: a Uni-Sign dump given as ``lines`` is scored
as whole lines. The two sides are matched by clip name, in any order.

A value is text (CSLR, SLT) or a label (ISLR); an ISLR hypothesis may also be a ranked list
of labels (a JSON list, best first). Labels are stripped; text goes to the protocol as written
(BLEU and WER ignore spaces at its ends, ``eval.rouge=unisign`` counts them as Uni-Sign did).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import DataError

#: The fields that hold a side's value in JSONL and CSV rows, in order of preference.
FIELDS = {"--ref": ("reference", "text"), "--hyp": ("prediction", "text")}

#: What ``--format`` accepts: ``auto`` or a format of the module docstring.
FORMATS = ("auto", "lines", "json", "jsonl", "csv", "unisign", "ctm", "stm")

#: Formats named by a file's suffix when its content has none of the dump shapes.
SUFFIXES = {".json": "json", ".jsonl": "jsonl", ".csv": "csv", ".ctm": "ctm", ".stm": "stm"}

#: A Uni-Sign line: the first ``sample: ``, then NAME up to the first separator, then TEXT.
_UNISIGN = re.compile(r"sample: (.*?), (prediction|ground-truth):(?: (.*))?")
#: The Uni-Sign separator each side's file holds.
_UNISIGN_KIND = {"--hyp": "prediction", "--ref": "ground-truth"}
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
#: How error messages spell out each dump's line shape.
SHAPES = {"unisign": "Uni-Sign's 'sample: NAME, prediction: TEXT' (or ', ground-truth: ')",
          "ctm": "CTM's 'NAME CHANNEL START DURATION WORD [CONFIDENCE]'",
          "stm": "STM's 'NAME CHANNEL SPEAKER BEGIN END [<LABEL>] TEXT'"}


@dataclass
class Side:
    """One side of the scoring as read from its file: clip id -> value."""

    flag: str
    path: Path
    values: dict[str, Any]
    #: whether the file names its clips (JSON, JSONL, CSV, dumps) or they are line numbers
    keyed: bool
    #: whether a clip the file does not name has an empty value (a CTM of hypotheses)
    absent_is_empty: bool = False
    #: the format it was read in (one of FORMATS but auto)
    format: str = ""

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


def read_side(flag: str, path: Path, fmt: str = "auto") -> Side:
    """Read one side in the format named, or in the one its content or suffix shows."""
    text = read_text(flag, path)
    if fmt == "auto":
        fmt = detect_format(flag, path, text)
    side = _READERS[fmt](flag, path, text)
    side.format = fmt
    return side


def _lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of the non-blank lines, without their line ends."""
    return [(n, line.removesuffix("\r")) for n, line in enumerate(text.split("\n"), start=1)
            if line.strip()]


def _channel(field: str) -> bool:
    return field.isdigit() or (len(field) == 1 and field.isalpha())


def _ctm_line(line: str) -> bool | None:
    """Whether a line has the CTM shape; None for a comment."""
    if line.startswith(";;"):
        return None
    f = line.split()
    return (len(f) in (5, 6) and _channel(f[1]) and all(_NUMBER.fullmatch(x) for x in f[2:4])
            and (len(f) == 5 or _NUMBER.fullmatch(f[5]) is not None))


def _stm_line(line: str) -> bool | None:
    """Whether a line has the STM shape; None for a comment."""
    if line.startswith(";;"):
        return None
    f = line.split()
    return len(f) >= 5 and _channel(f[1]) and all(_NUMBER.fullmatch(x) for x in f[3:5])


_SHAPE_TESTS: dict[str, Callable[[str], bool | None]] = {
    "unisign": lambda line: _UNISIGN.fullmatch(line) is not None,
    "ctm": _ctm_line, "stm": _stm_line}


def detect_format(flag: str, path: Path, text: str) -> str:
    """The format of a side named ``auto``: a dump shape every line has, else the suffix."""
    lines = _lines(text)
    for fmt, test in _SHAPE_TESTS.items():
        verdicts = [(n, test(line)) for n, line in lines]
        counted = [(n, v) for n, v in verdicts if v is not None]
        matching = sum(1 for _, v in counted if v)
        if counted and matching == len(counted):
            return fmt
        if matching:
            other = next(n for n, v in counted if not v)
            raise DataError(f"{flag} {path}: {matching} of {len(counted)} lines have "
                            f"{SHAPES[fmt]} shape but line {other} does not; fix the file, "
                            f"or give {flag}-format lines to score whole lines as text")
    return SUFFIXES.get(path.suffix.lower(), "lines")


def _read_lines(flag: str, path: Path, text: str) -> Side:
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return Side(flag, path, {str(n): line.removesuffix("\r") for n, line in
                             enumerate(lines, start=1)}, keyed=False)


def _read_json(flag: str, path: Path, text: str) -> Side:
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
    return Side(flag, path, {str(k): v for k, v in obj.items()}, keyed=True)


def jsonl_rows(flag: str, path: Path, text: str) -> list[tuple[str, Any]]:
    """(``line N``, object) of each non-blank line of a JSONL text, or a one-line DataError."""
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
    return _some(flag, path, values)


def _some(flag: str, path: Path, values: dict[str, Any]) -> dict[str, Any]:
    if not values:
        raise DataError(f"{flag} {path} holds no clips")
    return values


def _read_jsonl(flag: str, path: Path, text: str) -> Side:
    return Side(flag, path, _keyed_values(flag, path, jsonl_rows(flag, path, text)), keyed=True)


def _read_csv(flag: str, path: Path, text: str) -> Side:
    return Side(flag, path, _keyed_values(flag, path, _csv_rows(flag, path, text)), keyed=True)


def _not_shaped(flag: str, path: Path, n: int, fmt: str) -> DataError:
    return DataError(f"{flag} {path} line {n} does not have {SHAPES[fmt]} shape; fix the "
                     f"line, or name the file's format with {flag}-format")


def _once(flag: str, path: Path, n: int, name: str, values: dict[str, Any]) -> None:
    if name in values:
        raise DataError(f"{flag} {path} line {n}: clip {name!r} appears twice; give each clip "
                        f"once")


def _read_unisign(flag: str, path: Path, text: str) -> Side:
    wanted = _UNISIGN_KIND[flag]
    values: dict[str, Any] = {}
    for n, line in _lines(text):
        match = _UNISIGN.fullmatch(line)
        if match is None:
            raise _not_shaped(flag, path, n, "unisign")
        name, kind, value = match.group(1), match.group(2), match.group(3) or ""
        if kind != wanted:
            takes = {"--hyp": "hypotheses ('prediction:' lines, a *_tmp_pres.txt file)",
                     "--ref": "references ('ground-truth:' lines, a *_tmp_refs.txt file)"}
            raise DataError(f"{flag} {path} line {n} is a Uni-Sign '{kind}:' line, but {flag} "
                            f"takes the {takes[flag]}; check which file goes where")
        if not name:
            raise DataError(f"{flag} {path} line {n} names no clip after 'sample: '")
        _once(flag, path, n, name, values)
        values[name] = value
    return Side(flag, path, _some(flag, path, values), keyed=True)


def _read_ctm(flag: str, path: Path, text: str) -> Side:
    words: dict[str, list[tuple[float, int, str]]] = {}
    for n, line in _lines(text):
        shaped = _ctm_line(line)
        if shaped is None:
            continue
        if not shaped:
            raise _not_shaped(flag, path, n, "ctm")
        name, _, start, _, word = line.split()[:5]
        words.setdefault(name, []).append((float(start), n, word))
    values = {name: " ".join(w for _, _, w in sorted(entries) if w != "[EMPTY]")
              for name, entries in words.items()}
    return Side(flag, path, _some(flag, path, values), keyed=True,
                absent_is_empty=flag == "--hyp")


def _read_stm(flag: str, path: Path, text: str) -> Side:
    values: dict[str, Any] = {}
    for n, line in _lines(text):
        shaped = _stm_line(line)
        if shaped is None:
            continue
        if not shaped:
            raise _not_shaped(flag, path, n, "stm")
        fields = line.split()
        words = fields[5:]
        if words and words[0].startswith("<") and words[0].endswith(">"):
            words = words[1:]
        _once(flag, path, n, fields[0], values)
        values[fields[0]] = " ".join(words)
    return Side(flag, path, _some(flag, path, values), keyed=True)


_READERS: dict[str, Callable[[str, Path, str], Side]] = {
    "lines": _read_lines, "json": _read_json, "jsonl": _read_jsonl, "csv": _read_csv,
    "unisign": _read_unisign, "ctm": _read_ctm, "stm": _read_stm}


def _few(ids: list[str]) -> str:
    shown = ", ".join(repr(i) for i in ids[:5])
    return shown + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")


def align(ref: Side, hyp: Side) -> list[str]:
    """Fail with the differing ids (or line counts) unless both sides cover the same clips;
    give a CTM's unnamed clips empty hypotheses and return notes saying so."""
    if ref.keyed != hyp.keyed:
        keyed, plain = (ref, hyp) if ref.keyed else (hyp, ref)
        raise DataError(f"{keyed.where()} names its clips but {plain.where()} is plain text "
                        f"(clips by line number); give both with clip ids or both as plain text")
    if not ref.keyed:
        if len(ref.values) != len(hyp.values):
            raise DataError(f"{ref.where()} has {len(ref.values)} lines but {hyp.where()} has "
                            f"{len(hyp.values)}; plain-text files are matched by line number, "
                            f"so they need the same number of lines")
        return []
    missing = [c for c in ref.values if c not in hyp.values]
    extra = [c for c in hyp.values if c not in ref.values]
    parts = []
    if missing and not hyp.absent_is_empty:
        parts.append(f"{len(missing)} clip(s) of {ref.where()} have no hypothesis "
                     f"({_few(missing)})")
    if extra:
        parts.append(f"{len(extra)} clip(s) of {hyp.where()} have no reference ({_few(extra)})")
    if parts:
        raise DataError("clip ids differ: " + "; ".join(parts))
    if not missing:
        return []
    hyp.values.update(dict.fromkeys(missing, ""))
    return [f"{len(missing)} clip(s) of {ref.where()} have no line in the CTM {hyp.path} and "
            f"are scored as empty hypotheses ({_few(missing)})"]


def _is_label(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def typed_values(side: Side, task: str) -> dict[str, Any]:
    """The side's values as the task's protocols take them: text as written (its
    protocol decides what spaces mean), a stripped label or ranked labels."""
    ranked = task == "islr" and side.flag == "--hyp"
    wanted = "a label or a list of labels" if ranked else "a label" if task == "islr" else "text"
    out: dict[str, Any] = {}
    for clip, value in side.values.items():
        if _is_label(value) and task != "islr":
            out[clip] = str(value)
        elif _is_label(value):
            out[clip] = [str(value).strip()] if ranked else str(value).strip()
        elif ranked and isinstance(value, list) and all(_is_label(v) for v in value):
            out[clip] = [str(v) for v in value]
        else:
            raise DataError(f"{side.where()}: the value of clip {clip!r} is "
                            f"{json.dumps(value)[:40]}; {task} needs {wanted}")
    return out


def score_files(bench: str, protocol: str | None, ref_path: Path, hyp_path: Path,
                overrides: list[str], ref_format: str = "auto",
                hyp_format: str = "auto") -> dict[str, Any]:
    """Score a hypothesis file against a reference file: a report with every metric, the
    signature it was computed under, the formats read and notes on how clips were matched."""
    from harness.cell.runner import resolve_bench_config
    from harness.core.registry import BENCHMARKS

    cls = BENCHMARKS.get(bench)
    cfg = resolve_bench_config(bench, overrides)
    proto = cls(cfg).metric_protocol(protocol)
    ref = read_side("--ref", ref_path, ref_format)
    hyp = read_side("--hyp", hyp_path, hyp_format)
    notes = align(ref, hyp)
    refs = typed_values(ref, cls.task)
    scores = proto.score(typed_values(hyp, cls.task), refs, cfg.get("eval", {}))
    return {"bench": bench, "task": cls.task, "protocol": proto.name,
            "version": proto.version, "summary": proto.summary, "clips": len(refs),
            "formats": {"ref": ref.format, "hyp": hyp.format}, "notes": notes,
            "metrics": scores.metrics,
            "signatures": {m: scores.signatures[proto.family(m)] for m in scores.metrics}}


def render(report: dict[str, Any], as_json: bool) -> str:
    """The report as JSON or as a text table, one metric per row with its signature."""
    if as_json:
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    width = max(len(m) for m in report["metrics"])
    lines = [f"{report['bench']} ({report['task']}): metric protocol {report['protocol']} "
             f"version {report['version']}, {report['clips']} clips "
             f"(--ref {report['formats']['ref']}, --hyp {report['formats']['hyp']})",
             f"  {report['summary']}", *(f"  note: {n}" for n in report["notes"])]
    lines += [f"  {m:<{width}}  {v:7.2f}  {report['signatures'][m]}"
              for m, v in report["metrics"].items()]
    return "\n".join(lines) + "\n"
