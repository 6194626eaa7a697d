"""What the JSON file says about the machine a run was made on."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

from benchmarks.setup import HAS_ORJSON

__all__ = ["busy_warning", "load", "machine"]

_DISTRIBUTIONS = (
    "authhygiene",
    "structlog",
    "pyjwt",
    "orjson",
    "starlette",
    "werkzeug",
    "uvicorn",
    "gunicorn",
    "flask",
    "prometheus-client",
    "matplotlib",
)


def _git_commit() -> str | None:
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() or None if done.returncode == 0 else None


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _usable_cpus() -> int | None:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "python": sys.version,
        "implementation": platform.python_implementation(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": _usable_cpus(),
        "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "versions": {d: _version(d) for d in _DISTRIBUTIONS},
        # authhygiene encodes problem bodies with orjson when it is installed,
        # and the suite's structlog logger renders with it too.
        "orjson_used": HAS_ORJSON,
        "suite_logger": (
            "structlog BytesLogger + JSONRenderer(orjson.dumps)"
            if HAS_ORJSON
            else "structlog PrintLogger + JSONRenderer(json.dumps)"
        ),
        "git_commit": _git_commit(),
    }


def load() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def busy_warning(before: float | None, after: float | None) -> str | None:
    """Other processes competing for the CPUs widen every spread; say so next
    to the numbers rather than leave the reader to guess."""
    cpus = _usable_cpus()
    if before is None or after is None or not cpus:
        return None
    # Our own run adds ~1 to the load average; more than half the CPUs busy
    # besides us means the rounds were contended.
    others = max(before, after - 1)
    if others <= cpus / 2:
        return None
    return (
        f"NOTE: the machine was busy (1-min load average {before:.2f} before, {after:.2f} "
        f"after, {cpus} CPUs): ratios are noisier than usual; rerun on a quiet machine."
    )
