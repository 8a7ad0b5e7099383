"""Re-run a finished cell from what it recorded and compare the numbers.

``python -m harness reproduce RESULT_JSON|RUN_ID [--tolerance T] [--out DIR]`` reads the
cell's ``result.json`` and ``config.json`` (beside the result, or the run's MLflow
artifacts), rebuilds the exact resolved config (the method's preset today plus the overrides
that turn it into the recorded config; the config hash must come out equal), runs the cell
with the recorded seed into a fresh output folder, and prints every recorded metric beside
the reproduced one. It warns when the code (git commit or uncommitted diff) or the data
fingerprint differ from the recording; the metrics agree when every difference is within
the tolerance (0 by default: identical, which is what the CPU gives).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import DataError, UserError
from harness.io.json_files import read_json

_MISSING = object()


@dataclass
class Comparison:
    """Recorded against reproduced metrics of one cell."""

    rows: list[tuple[str, str, float, float]]  # split, metric, recorded, reproduced
    warnings: list[str]
    tolerance: float
    path: Path

    @property
    def agree(self) -> bool:
        """Whether every reproduced metric is within the tolerance of the recorded one."""
        return all(abs(a - b) <= self.tolerance for _, _, a, b in self.rows)


def load_recording(target: str, tracking_uri: str | None = None
                   ) -> tuple[dict[str, Any], dict[str, Any]]:
    """(result, config.json) of a result file, or of an MLflow run id."""
    path = Path(target)
    if path.is_dir():
        path = path / "result.json"
    if path.suffix == ".json" or path.exists():
        if not path.is_file():
            raise UserError(f"{path} does not exist; give a cell's result.json or an MLflow "
                            f"run id")
        folder = path.parent
        files = path, folder / "config.json"
    else:
        files = _download(target, tracking_uri)
    result, config = (read_json(f, missing=f"{f} is missing: the cell's recording is "
                                f"incomplete", damaged=f"{f} is not valid JSON ({{error}}); "
                                f"the cell's recording is damaged") for f in files)
    from harness.cell.results import problems

    bad = problems(result)
    if bad:
        raise DataError(f"{files[0]} is not a finished result ({bad[0]}): nothing to "
                        f"reproduce")
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise DataError(f"{files[1]} holds no resolved config (expected {{\"config\": {{...}}}} "
                        f"as a cell writes it): the cell's recording is incomplete")
    return result, config


def _download(run_id: str, tracking_uri: str | None) -> tuple[Path, Path]:
    from mlflow.artifacts import download_artifacts
    from mlflow.exceptions import MlflowException

    from harness.cell.tracking import default_uri, open_client

    uri = tracking_uri or default_uri(Path("outputs"))
    db = Path(uri[len("sqlite:///"):]) if uri.startswith("sqlite:///") else None
    if db is not None and not db.is_file():  # opening it would create an empty store
        raise UserError(f"{run_id!r} is neither a result file nor a run id: there is no "
                        f"MLflow store at {db}; give a cell's result.json, or the store "
                        f"with --tracking-uri")
    open_client(uri)  # a store that cannot be opened is one line
    dest = Path(tempfile.mkdtemp(prefix="harness-reproduce-"))
    try:
        return tuple(Path(download_artifacts(run_id=run_id, artifact_path=name,
                                             tracking_uri=uri, dst_path=str(dest)))
                     for name in ("result.json", "config.json"))  # type: ignore[return-value]
    except MlflowException as exc:
        raise UserError(f"{run_id!r} is neither a result file nor a run with a recorded "
                        f"result in {uri}: {str(exc).splitlines()[0]}") from None


def overrides_for(method: str, bench: str, preset: str, recorded: dict[str, Any]
                  ) -> list[str]:
    """``--set`` overrides that turn today's resolved config into ``recorded``."""
    from harness.cell.runner import resolve_config
    from harness.cell.tracking import flatten
    from harness.core.config import config_hash

    now = flatten(resolve_config(method, bench, preset, []))
    then = flatten(recorded)
    gone = sorted(k for k in now if k not in then and not any(
        j.startswith(k + ".") for j in then))
    if gone:
        raise UserError(f"the recorded config has no {', '.join(gone)}, which the {method} "
                        f"preset {preset} now has: this code cannot rebuild that config")
    out = [f"{'+' if now.get(k, _MISSING) is _MISSING else ''}{k}={v!r}"
           for k, v in sorted(then.items()) if now.get(k, _MISSING) != v]
    rebuilt = resolve_config(method, bench, preset, out)
    if config_hash(rebuilt) != config_hash(recorded):
        raise UserError("the recorded config cannot be rebuilt with this code (its hash "
                        "differs after applying every recorded value)")
    return out


def reproduce(target: str, *, tolerance: float = 0.0, out: Path | None = None,
              tracking_uri: str | None = None, data_root: Path | None = None,
              threads: int | None = None) -> Comparison:
    """Re-run the recorded cell into ``out`` (a fresh folder) and compare its metrics."""
    from harness.cell.runner import RunOptions, run_cell
    from harness.io.provenance import code_version

    if not tolerance >= 0:  # NaN too
        raise UserError(f"--tolerance {tolerance}: expected a number >= 0")
    result, config = load_recording(target, tracking_uri)
    cfg = config["config"]
    overrides = overrides_for(result["method"], result["bench"], result["preset"], cfg)
    out = out or Path(tempfile.mkdtemp(prefix="harness-reproduce-out-"))
    if (out / "cells").exists():
        raise UserError(f"--out {out} already holds cells; give a fresh folder")
    warnings = []
    code = code_version()
    then = result["code"]
    if (code["git_sha"], code["diff_sha256"]) != (then.get("git_sha"), then.get("diff_sha256")):
        warnings.append(f"code differs: recorded {then.get('git_sha')}"
                        f"{' + diff ' + str(then['diff_sha256']) if then.get('dirty') else ''}"
                        f", now {code['git_sha']}"
                        f"{' + diff ' + str(code['diff_sha256']) if code['dirty'] else ''}")
    outcome = run_cell(RunOptions(method=result["method"], bench=result["bench"],
                                  seed=result["seed"], preset=result["preset"],
                                  overrides=overrides, out=out, data_root=data_root,
                                  threads=threads, quiet=True,
                                  tracking_uri=f"sqlite:///{(out / 'mlflow.db').resolve()}"))
    now = outcome.result
    if now["benchmark"]["fingerprint"] != result["benchmark"]["fingerprint"]:
        warnings.append(f"data differs: recorded fingerprint "
                        f"{result['benchmark']['fingerprint']}, now "
                        f"{now['benchmark']['fingerprint']}")
    rows = [(split, name, float(value), float(now["metrics"].get(split, {}).get(name, "nan")))
            for split, values in sorted(result["metrics"].items())
            for name, value in sorted(values.items())]
    return Comparison(rows, warnings, tolerance, outcome.path)


def report(c: Comparison) -> str:
    """The comparison as aligned text lines."""
    lines = [f"warning: {w}" for w in c.warnings]
    lines.append(f"{'split':6} {'metric':10} {'recorded':>10} {'reproduced':>10} {'diff':>9}")
    for split, name, a, b in c.rows:
        lines.append(f"{split:6} {name:10} {a:10.4f} {b:10.4f} {b - a:+9.4f}")
    verdict = "agree" if c.agree else "DIFFER"
    lines.append(f"{verdict} (tolerance {c.tolerance:g}); reproduced cell: {c.path}")
    return "\n".join(lines) + "\n"
