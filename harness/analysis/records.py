"""Finished cells as records, read from result files or from an MLflow tracking store.

A record is what the runner wrote for one finished cell: its ``result.json``, the resolved
config from ``config.json``, and where the rest of the cell's files are (the predictions that
paired comparisons re-score). Two sources give the same records:

- result files: every ``cells/<bench>/<method>/<key>/result.json`` under a folder that
  validates (``harness.cell.results.problems``); failed, killed and half-written cells have none;
- MLflow: the runs of an experiment whose status is FINISHED and whose ``harness.status``
  tag is ``finished``, read from the artifacts the runner logged with them (the same
  ``result.json`` and ``config.json``, and ``predictions/``). Artifacts on a local path are
  read in place; others are downloaded into a temporary folder.

``parse_filters`` / ``matches`` select records by ``KEY=VALUE`` or ``KEY!=VALUE``, where KEY
is a result field (``method``, ``bench``, ``task``, ``seed``, ``preset``, ``cell_key``,
``config_hash``) or a dotted config key (``data.train_fraction``, ``bench.subset``).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from harness.cell.results import RESULT_FILE, problems
from harness.cell.tracking import EXPERIMENT, flatten
from harness.errors import UserError

RESULT_KEYS = ("method", "bench", "task", "seed", "preset", "cell_key", "config_hash")


@dataclass
class Record:
    """One finished cell: its result, its resolved config and where its files are."""

    result: dict[str, Any]
    config: dict[str, Any]
    folder: Path | None = None  # holds result.json, config.json and predictions/
    url: str | None = None  # a web link to the MLflow run, where the store has one
    flat: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.flat:
            self.flat = flatten(self.config)

    def predictions(self, split: str = "test") -> Path | None:
        """The cell's predictions file of ``split``, if it is where the record says."""
        if self.folder is None:
            return None
        rel = self.result.get("files", {}).get(f"predictions_{split}",
                                               f"predictions/{split}.jsonl")
        path = self.folder / rel
        return path if path.is_file() else None


def from_results(folder: Path) -> list[Record]:
    """The valid finished cells under ``folder`` (sorted by path)."""
    if not folder.is_dir():
        raise UserError(f"--results {folder} is not a folder")
    found = []
    for path in sorted(folder.glob(f"cells/*/*/*/{RESULT_FILE}")):
        record = _read(path.parent)
        if record is not None:
            found.append(record)
    return found


def _read(folder: Path, url: str | None = None) -> Record | None:
    """The record of a cell folder (or a run's artifact folder), None unless it is finished."""
    try:
        result = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))["config"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if problems(result) or not isinstance(config, dict):
        return None
    return Record(result, config, folder, url)


def from_mlflow(uri: str, experiment: str = EXPERIMENT) -> list[Record]:
    """The finished runs of ``experiment`` in the tracking store at ``uri``: read straight
    from a sqlite store's tables when they are there (importing MLflow and opening its
    store costs seconds), else through ``MlflowClient``."""
    if uri.startswith("sqlite:///"):
        db = Path(uri[len("sqlite:///"):])
        if not db.is_file():  # the client would create an empty store there
            raise UserError(f"--tracking-uri {uri}: there is no MLflow store at {db}; check "
                            "the path, or use --files-only to read the result files alone")
        found = _from_sqlite(db, experiment)
        if found is not None:
            return found
    return from_mlflow_client(uri, experiment)


_SQL = """SELECT r.run_uuid, r.artifact_uri FROM runs r
JOIN experiments e ON e.experiment_id = r.experiment_id
JOIN tags t ON t.run_uuid = r.run_uuid AND t.key = 'harness.status' AND t.value = 'finished'
WHERE e.name = ? AND r.status = 'FINISHED' AND r.lifecycle_stage = 'active'
ORDER BY r.start_time"""


def _from_sqlite(db: Path, experiment: str) -> list[Record] | None:
    """The finished runs from MLflow's sqlite tables, read-only; None when the file is not
    such a store (the client then opens it, or says what is wrong)."""
    import sqlite3

    if not db.is_file():
        return None
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            if con.execute("SELECT 1 FROM experiments WHERE name = ?",
                           (experiment,)).fetchone() is None:
                return None
            rows = con.execute(_SQL, (experiment,)).fetchall()
        finally:
            con.close()
    except sqlite3.Error:
        return None
    found = []
    for _, artifact_uri in rows:
        parsed = urlparse(artifact_uri)
        if parsed.scheme not in ("", "file"):
            return None  # artifacts elsewhere: the client downloads them
        record = _read(Path(unquote(parsed.path)))
        if record is not None:
            found.append(record)
    return _sorted(found)


def _sorted(records: list[Record]) -> list[Record]:
    return sorted(records, key=lambda r: (r.result["bench"], r.result["method"],
                                          r.result["cell_key"]))


def from_mlflow_client(uri: str, experiment: str) -> list[Record]:
    """The finished runs through ``MlflowClient`` (any store; web links for a server)."""
    from mlflow.exceptions import MlflowException

    from harness.cell.tracking import open_client, quiet_loggers

    try:
        quiet_loggers()
        client = open_client(uri)
        exp = client.get_experiment_by_name(experiment)
        if exp is None:
            raise UserError(f"--tracking-uri {uri}: no experiment {experiment!r} there; "
                            "check the URI (cells log to 'harness' by default)")
        runs, token = [], None
        while True:
            page = client.search_runs(
                [exp.experiment_id], max_results=1000, page_token=token,
                filter_string="attributes.status = 'FINISHED' and "
                              "tags.`harness.status` = 'finished'",
                order_by=["attributes.start_time ASC"])
            runs += list(page)
            token = page.token
            if not token:
                break
    except MlflowException as exc:
        raise UserError(f"--tracking-uri {uri}: the store cannot be read: "
                        f"{str(exc).splitlines()[0]}") from None
    web = uri.startswith(("http://", "https://"))
    found = []
    for run in runs:
        url = (f"{uri.rstrip('/')}/#/experiments/{exp.experiment_id}/runs/{run.info.run_id}"
               if web else None)
        record = _read(_artifacts(client, run), url)
        if record is not None:
            found.append(record)
    return _sorted(found)


def _artifacts(client: Any, run: Any) -> Path:
    """A local folder with the run's result.json, config.json and predictions/."""
    parsed = urlparse(run.info.artifact_uri)
    if parsed.scheme in ("", "file"):
        return Path(unquote(parsed.path))
    from mlflow.exceptions import MlflowException

    dest = Path(tempfile.mkdtemp(prefix=f"harness-run-{run.info.run_id[:8]}-"))
    for name in (RESULT_FILE, "config.json", "predictions"):
        try:
            client.download_artifacts(run.info.run_id, name, str(dest))
        except (MlflowException, OSError):  # missing: the record is skipped, or has no
            continue                        # predictions (no paired comparison)
    return dest


def parse_filters(items: list[str]) -> list[tuple[str, bool, str]]:
    """``KEY=VALUE`` / ``KEY!=VALUE`` -> (key, equal, value)."""
    out = []
    for item in items:
        key, neq, value = item.partition("!=") if "!=" in item else item.partition("=")
        if not neq or not key.strip():
            raise UserError(f"--filter {item!r}: expected KEY=VALUE or KEY!=VALUE, e.g. "
                            "method=sigma or data.train_fraction!=1.0")
        out.append((key.strip(), neq == "=", value.strip()))
    return out


def _text(value: Any) -> str:
    return json.dumps(value) if isinstance(value, (bool, type(None))) else str(value)


def lookup(record: Record, key: str) -> tuple[bool, Any]:
    """(found, value) of a result field or dotted config key."""
    if key in RESULT_KEYS:
        return True, record.result[key]
    if key in record.flat:
        return True, record.flat[key]
    return False, None


def select(records: list[Record], filters: list[tuple[str, bool, str]]) -> list[Record]:
    """The records that pass every filter; a key that no record has is an error."""
    for key, _, _ in filters:
        if records and not any(lookup(r, key)[0] for r in records):
            raise UserError(f"--filter {key}: no finished cell has this key; use a result "
                            f"field ({', '.join(RESULT_KEYS)}) or a dotted config key")
    kept = []
    for record in records:
        ok = True
        for key, equal, value in filters:
            found, actual = lookup(record, key)
            if (found and _text(actual) == value) != equal:
                ok = False
                break
        if ok:
            kept.append(record)
    return kept
