"""MLflow tracking of cells: one run per cell key, continued when a cell resumes.

The default store is a sqlite file under the output folder. Its schema and the experiment
are created once, under a file lock, before any run is written (parallel first use of a
fresh sqlite file corrupts it). ``MLFLOW_TRACKING_URI`` or ``--tracking-uri`` point at a
shared ``mlflow server`` instead.

A store the harness creates holds one experiment: MLflow's "Default" (id 0, whose
artifacts would go to ``./mlruns/0`` of whichever process made the store) becomes the
harness's, with the artifacts under the output folder.

A cell's run carries MLflow's own tags (``mlflow.source.name``, ``mlflow.source.git.commit``)
and the harness's under one prefix (``harness.cell_key``, ``harness.status``, ...), its
config as params, its training curves and final metrics, its files as artifacts, and the
prepared store it read as a dataset input (name, version, fingerprint as the digest).
"""

from __future__ import annotations

import logging
import os
import random
import time
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.io import faults
from harness.io.locks import file_lock

EXPERIMENT = "harness"
CELL_KEY_TAG = "harness.cell_key"
#: ``mlflow.source.name`` of every cell's run: the harness command that runs one cell.
SOURCE_NAME = "harness run"
_PARAM_LIMIT = 6000


def default_uri(out: Path) -> str:
    """The tracking URI to use: $MLFLOW_TRACKING_URI, else a sqlite file under ``out``."""
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(out / 'mlflow.db').resolve()}"


def open_client(uri: str) -> Any:
    """An MlflowClient on ``uri``, or one line saying the store cannot be opened."""
    from mlflow.tracking import MlflowClient
    from sqlalchemy.exc import SQLAlchemyError

    try:
        return MlflowClient(uri)
    except SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0][:200]
        raise UserError(f"MLflow tracking store {uri} cannot be opened ({first}); move the "
                        "file away to start a new store, or pass another --tracking-uri"
                        ) from None


def schema_template() -> Path:
    """Where a freshly migrated, empty sqlite store of this MLflow version is kept.

    Migrating a new store's schema takes MLflow about 4 s; a copy of one it migrated before
    (same MLflow version, so the same schema revision) takes milliseconds. The folder is
    ``$HARNESS_CACHE``, else ``$XDG_CACHE_HOME/harness``, else ``~/.cache/harness``.
    """
    import mlflow

    root = os.environ.get("HARNESS_CACHE") or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "harness"
    return Path(root) / f"mlflow-{mlflow.__version__}-empty.db"


def _create_sqlite_store(db: Path, experiment: str, artifact_root: Path | None) -> None:
    """Create a migrated sqlite store at ``db`` through a temporary file renamed last: a copy
    of the schema template when there is one, else migrated by MLflow (and then kept as the
    template). Its one experiment, MLflow's "Default", is renamed ``experiment``, with its
    artifacts under ``artifact_root`` (default: ``./mlruns/0``, as MLflow would put them)."""
    import shutil
    import sqlite3

    tmp = db.with_name(f".{db.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    template = schema_template()
    try:
        if template.is_file():
            shutil.copyfile(template, tmp)
        else:
            client = open_client(f"sqlite:///{tmp}")
            client._tracking_client.store.engine.dispose()  # all connections closed first
            _keep_template(tmp, template)
        location = (artifact_root.resolve().as_uri() if artifact_root
                    else str(Path.cwd() / "mlruns" / "0"))
        with sqlite3.connect(tmp) as con:
            con.execute("UPDATE experiments SET name = ?, artifact_location = ? WHERE "
                        "experiment_id = 0", (experiment, location))
        con.close()
        faults.point("store.create")
        os.replace(tmp, db)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _keep_template(store: Path, template: Path) -> None:
    """Copy a just-migrated store to ``template`` atomically (best effort)."""
    import shutil

    part = template.with_name(f".{template.name}.tmp-{os.getpid()}")
    try:
        template.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(store, part)
        os.replace(part, template)
    except OSError:  # an unwritable cache only costs the next store its migration time
        part.unlink(missing_ok=True)


def quiet_loggers() -> None:
    """MLflow and alembic log warnings only (call after importing mlflow)."""
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)


class Tracker:
    """A thin wrapper over ``MlflowClient`` for the runner."""

    def __init__(self, uri: str, experiment: str = EXPERIMENT,
                 artifact_root: Path | None = None) -> None:
        from mlflow.tracking import MlflowClient

        quiet_loggers()  # after the import: mlflow sets its loggers up when imported

        self.uri = uri
        self.run_id: str | None = None
        if uri.startswith("sqlite:///"):
            # Opening a new sqlite store creates and migrates its schema: two processes doing
            # that at once fail ("duplicate column"), so the first one in does it alone, and
            # in a temporary file renamed into place, so a kill leaves no half-made store.
            db = Path(uri[len("sqlite:///"):])
            with file_lock(db.with_name(db.name + ".lock")):
                if not db.exists():
                    _create_sqlite_store(db, experiment, artifact_root)
                self.client = open_client(uri)
                self.experiment_id = self._ensure_experiment(experiment, artifact_root)
        else:
            self.client = MlflowClient(uri)
            self.experiment_id = self._ensure_experiment(experiment, artifact_root)

    def _ensure_experiment(self, name: str, artifact_root: Path | None) -> str:
        from mlflow.exceptions import MlflowException

        def get_or_create() -> str:
            exp = self.client.get_experiment_by_name(name)
            if exp is not None:
                return exp.experiment_id
            location = artifact_root.resolve().as_uri() if artifact_root else None
            try:
                return self.client.create_experiment(name, artifact_location=location)
            except MlflowException:  # another process created it first
                exp = self.client.get_experiment_by_name(name)
                if exp is None:
                    raise
                return exp.experiment_id

        try:
            if self.uri.startswith("sqlite:///"):
                return get_or_create()  # under the store's file lock (see __init__)
            return _retry(get_or_create)
        except MlflowException as exc:
            raise UserError(f"MLflow tracking store {self.uri} is unusable: "
                            f"{str(exc).splitlines()[0]}") from None

    def _runs_of(self, cell_key: str) -> list[Any]:
        return self.client.search_runs(
            [self.experiment_id], filter_string=f"tags.`{CELL_KEY_TAG}` = '{cell_key}'",
            max_results=5, order_by=["attributes.start_time ASC"])

    def forget(self, cell_key: str) -> None:
        """Delete the runs of a cell (before a forced rerun starts a new one)."""
        for run in self._runs_of(cell_key):
            self.client.delete_run(run.info.run_id)

    def _do(self, fn: Any) -> Any:
        """Call ``fn()``; on a server, retry it while the store reports a transient failure."""
        return _retry_transient(fn) if self.uri.startswith(("http://", "https://")) else fn()

    def start(self, cell_key: str, run_name: str, tags: dict[str, str]) -> str:
        """Continue the run of ``cell_key`` if there is one, else create it; returns its id.
        (A retried attempt looks again first, so a run the server made before a failed
        response is continued, not duplicated.)"""

        def attempt() -> str:
            runs = self._runs_of(cell_key)
            if runs:
                self.run_id = runs[0].info.run_id
                self.client.update_run(self.run_id, status="RUNNING")
            else:
                run = self.client.create_run(self.experiment_id, run_name=run_name,
                                             tags={CELL_KEY_TAG: cell_key, **tags})
                self.run_id = run.info.run_id
            return self.run_id

        return self._do(attempt)

    def log_params(self, params: dict[str, Any]) -> None:
        """Log flattened params not yet on the run (a resumed run keeps its first values)."""
        from mlflow.entities import Param

        have = self._do(lambda: self.client.get_run(self.run_id).data.params)
        todo = [Param(k, str(v)[:_PARAM_LIMIT]) for k, v in sorted(params.items())
                if k not in have]
        for i in range(0, len(todo), 100):
            self._do(lambda i=i: self.client.log_batch(self.run_id, params=todo[i:i + 100]))

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Log numeric metrics at a step."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(k, float(v), now, step or 0) for k, v in sorted(metrics.items())]
        for i in range(0, len(batch), 500):
            self._do(lambda i=i: self.client.log_batch(self.run_id, metrics=batch[i:i + 500]))

    def set_tags(self, tags: dict[str, str]) -> None:
        """Set run tags."""
        from mlflow.entities import RunTag

        batch = [RunTag(k, str(v)) for k, v in tags.items()]
        self._do(lambda: self.client.log_batch(self.run_id, tags=batch))

    def log_dataset(self, name: str, version: str, fingerprint: str, path: Path,
                    counts: dict[str, int], context: str) -> None:
        """Log a prepared store as the run's dataset input: an ``mlflow.data`` MetaDataset
        named ``name`` whose digest is the store's fingerprint, its version and clip counts
        as the profile, ``context`` (the stage that reads it) as ``mlflow.data.context``.
        MLflow keeps one input per dataset and run, so a resumed cell adds none."""
        import json

        from mlflow.data import get_dataset_source_from_json
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.entities import Dataset, DatasetInput, InputTag

        source = get_dataset_source_from_json(json.dumps({"uri": str(path.resolve())}), "local")
        meta = MetaDataset(source, name=name, digest=fingerprint).to_dict()
        dataset = Dataset(**meta, profile=json.dumps({"version": version, "clips": counts}))
        entry = DatasetInput(dataset, tags=[InputTag("mlflow.data.context", context)])
        self._do(lambda: self.client.log_inputs(self.run_id, datasets=[entry]))

    def log_artifacts(self, folder: Path, artifact_path: str | None = None) -> None:
        """Upload the files of a folder as run artifacts."""
        self._do(lambda: self.client.log_artifacts(self.run_id, str(folder), artifact_path))

    def log_artifact(self, path: Path) -> None:
        """Upload one file as a run artifact."""
        self._do(lambda: self.client.log_artifact(self.run_id, str(path)))

    def finish(self, status: str = "FINISHED") -> None:
        """Mark the run FINISHED, FAILED or KILLED."""
        if self.run_id is not None:
            self._do(lambda: self.client.set_terminated(self.run_id, status=status))


class NoTracker:
    """The tracker of a data-parallel cell's ranks other than 0: rank 0 alone records."""

    run_id = "(rank 0 records the run)"

    def start(self, cell_key: str, run_name: str, tags: dict[str, str]) -> str:
        """Nothing to start; returns a label instead of a run id."""
        return self.run_id

    def forget(self, cell_key: str) -> None:
        """Nothing to forget."""

    def log_params(self, params: dict[str, Any]) -> None:
        """Nothing logged."""

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        """Nothing logged."""

    def log_dataset(self, name: str, version: str, fingerprint: str, path: Path,
                    counts: dict[str, int], context: str) -> None:
        """Nothing logged."""

    def finish(self, status: str = "FINISHED") -> None:
        """Nothing to finish."""


def _retry(fn: Any, attempts: int = 5) -> Any:
    delay = 0.5
    for i in range(attempts):
        try:
            return fn()
        except Exception:
            if i == attempts - 1:
                raise
            time.sleep(delay)
            delay *= 2
    return None


#: What a tracking server under load answers before it recovers (its database pool or
#: sqlite lock timing out, the connection dropped): worth retrying, unlike a bad request.
_TRANSIENT = ("QueuePool limit", "database is locked", "timed out", "Max retries exceeded",
              "Connection aborted", "Connection refused", "Remote end closed")


def _retry_transient(fn: Any, attempts: int = 8) -> Any:
    """``fn()``, retried with exponential backoff and jitter (0.5 s doubling, at most ~1 min
    in all) while it fails with a transient tracking-server error."""
    from mlflow.exceptions import MlflowException

    delay = 0.5
    for i in range(attempts):
        try:
            return fn()
        except (MlflowException, OSError) as exc:
            if i == attempts - 1 or not any(t in str(exc) for t in _TRANSIENT):
                raise
            time.sleep(delay * (1 + random.random()))
            delay = min(delay * 2, 16.0)
    return None


def flatten(cfg: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten a nested config into dotted keys."""
    out: dict[str, Any] = {}
    for k, v in cfg.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict) and v:
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out
