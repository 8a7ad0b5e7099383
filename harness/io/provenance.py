"""Where a number came from: code version, environment and scheduler context."""

from __future__ import annotations

import hashlib
import os
import platform
import socket
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

SOURCE_ROOT = Path(__file__).resolve().parents[2]


def _git(*args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(SOURCE_ROOT), *args], capture_output=True,
                             timeout=20, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.decode("utf-8", "replace")


def code_version() -> dict[str, Any]:
    """Git commit, dirty flag and a hash of the uncommitted diff of the harness source."""
    sha = _git("rev-parse", "HEAD")
    if sha is None:
        return {"git_sha": None, "dirty": None, "diff_sha256": None,
                "package_version": _pkg_version("slu-harness")}
    status = _git("status", "--porcelain", "--untracked-files=no") or ""
    diff = _git("diff", "HEAD", "--binary") or ""
    dirty = bool(status.strip())
    return {
        "git_sha": sha.strip(),
        "dirty": dirty,
        "diff_sha256": hashlib.sha256(diff.encode()).hexdigest()[:16] if dirty else None,
        "package_version": _pkg_version("slu-harness"),
    }


def _pkg_version(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def environment(device: str) -> dict[str, Any]:
    """Python, library versions, device and host facts."""
    import torch

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "device": device,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "argv": sys.argv,
    }
    for pkg in ("numpy", "transformers", "sacrebleu", "jiwer", "mlflow"):
        env[pkg] = _pkg_version(pkg)
    if device.startswith("cuda") and torch.cuda.is_available():
        env["gpu"] = torch.cuda.get_device_name(0)
    return env


def slurm_context() -> dict[str, str] | None:
    """Slurm job and array ids when running under Slurm."""
    keys = ("SLURM_JOB_ID", "SLURM_ARRAY_JOB_ID", "SLURM_ARRAY_TASK_ID", "SLURM_RESTART_COUNT",
            "SLURM_JOB_PARTITION", "SLURM_NODELIST")
    ctx = {k.lower(): os.environ[k] for k in keys if k in os.environ}
    return ctx or None
