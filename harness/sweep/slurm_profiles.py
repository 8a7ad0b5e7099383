"""Slurm cluster profiles: YAML files that say how jobs are submitted to one cluster."""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml

from harness.errors import ConfigError, UserError

PROFILES_DIR = Path(__file__).resolve().parents[2] / "slurm" / "profiles"

# Profile key -> (accepted types, submitit AutoExecutor.update_parameters key).
_KEYS: dict[str, tuple[tuple[type, ...], str]] = {
    "partition": ((str,), "slurm_partition"),
    "nodes": ((int,), "nodes"),
    "tasks_per_node": ((int,), "tasks_per_node"),
    "cpus_per_task": ((int,), "cpus_per_task"),
    "gpus_per_node": ((int,), "gpus_per_node"),
    "mem_gb": ((int, float), "mem_gb"),
    "timeout_min": ((int,), "timeout_min"),
    "constraint": ((str,), "slurm_constraint"),
    "qos": ((str,), "slurm_qos"),
    "account": ((str,), "slurm_account"),
    "array_parallelism": ((int,), "slurm_array_parallelism"),
    "signal_delay_s": ((int,), "slurm_signal_delay_s"),
    "setup": ((list,), "slurm_setup"),
}
_MAY_BE_ZERO = {"gpus_per_node", "signal_delay_s"}


def profile_names() -> list[str]:
    """Names of the profiles shipped in slurm/profiles/."""
    return sorted(p.stem for p in PROFILES_DIR.glob("*.yaml"))


def _resolve(name_or_path: str | Path) -> Path:
    text = str(name_or_path)
    if "/" in text or text.endswith((".yaml", ".yml")):
        path = Path(text)
        if not path.is_file():
            raise UserError(f"no Slurm profile file {text}; give an existing .yaml file or one "
                            f"of the profile names {', '.join(profile_names())}")
        return path
    path = PROFILES_DIR / f"{text}.yaml"
    if not path.is_file():
        close = difflib.get_close_matches(text, profile_names(), n=1)
        hint = f"did you mean {close[0]}? " if close else ""
        raise UserError(f"unknown Slurm profile {text!r}; {hint}profiles in {PROFILES_DIR}: "
                        f"{', '.join(profile_names())} (or give a path to a .yaml file)")
    return path


def _check(path: Path, key: str, value: Any) -> None:
    types, _ = _KEYS[key]
    if key == "setup":
        ok = isinstance(value, list) and all(isinstance(line, str) for line in value)
        want = "a list of shell lines"
    elif types == (str,):
        ok, want = isinstance(value, str), "a string"
    elif types == (int,):
        least = 0 if key in _MAY_BE_ZERO else 1
        ok = isinstance(value, int) and not isinstance(value, bool) and value >= least
        want = f"an integer >= {least}"
    else:
        ok = isinstance(value, types) and not isinstance(value, bool) and value > 0
        want = "a number > 0"
    if not ok:
        raise ConfigError(f"{path}: {key} must be {want}, got {value!r}")


def load_profile(name_or_path: str | Path) -> dict[str, Any]:
    """The checked keys of a cluster profile, given by name (slurm/profiles/) or by path."""
    path = _resolve(name_or_path)
    try:
        profile = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); save it as UTF-8"
                          ) from None
    except yaml.YAMLError as err:
        where = getattr(err, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{path}: not valid YAML{line}; fix the file") from None
    if profile is None:
        profile = {}
    if not isinstance(profile, dict):
        raise ConfigError(f"{path}: a Slurm profile is a mapping of keys to values, "
                          f"got {type(profile).__name__}")
    unknown = sorted(str(k) for k in profile if k not in _KEYS)
    if unknown:
        raise ConfigError(f"{path}: unknown key {', '.join(unknown)}; "
                          f"known keys: {', '.join(_KEYS)}")
    for key, value in profile.items():
        _check(path, key, value)
    return profile


def executor_parameters(profile: dict[str, Any]) -> dict[str, Any]:
    """The profile as keyword arguments of submitit's ``AutoExecutor.update_parameters``."""
    params = {_KEYS[key][1]: value for key, value in profile.items()}
    if params.get("gpus_per_node") == 0:
        # sbatch --gpus-per-node=0 is an error on clusters without GPUs: leave it out.
        del params["gpus_per_node"]
    return params
