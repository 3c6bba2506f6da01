"""What the results were measured on."""

from __future__ import annotations

import contextlib
import os
import platform
import resource
import shutil
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import psutil

from bench.procs import HAS_TASKSET, REPO_ROOT

_PACKAGES = (
    "websockets",
    "uvloop",
    "msgspec",
    "msgpack",
    "picows",
    "aiofastnet",
    "python-socketio",
    "python-engineio",
    "uvicorn",
    "psutil",
    "matplotlib",
)


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def _git(*args: str) -> str | None:
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            ["git", *args],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
        if out.returncode == 0:
            return out.stdout
    return None


def _git_commit() -> str | None:
    out = _git("rev-parse", "HEAD")
    return out.strip() if out else None


def _git_dirty() -> list[str] | None:
    """Paths with uncommitted changes: the servers run from this working
    tree, so the results measured these edits, not only the commit."""
    out = _git("status", "--porcelain", "--untracked-files=no")
    return None if out is None else [line[3:] for line in out.splitlines() if line]


def _redis_version() -> str | None:
    binary = shutil.which("redis-server")
    if binary is None:
        return None
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        out = subprocess.run(
            [binary, "--version"], capture_output=True, text=True, timeout=5, check=False
        )
        return out.stdout.strip() or None
    return None


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def machine_info() -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return {
        "cpu_model": _cpu_model(),
        "logical_cores": os.cpu_count(),
        "physical_cores": psutil.cpu_count(logical=False),
        "memory_bytes": psutil.virtual_memory().total,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "python_impl": platform.python_implementation(),
        "packages": package_versions(),
        "nofile_limit": [soft, hard],
        "taskset": HAS_TASKSET,
        "loadavg_at_start": list(os.getloadavg()),
        "git_commit": _git_commit(),
        "git_dirty": _git_dirty(),
        "redis_server": _redis_version(),
    }
