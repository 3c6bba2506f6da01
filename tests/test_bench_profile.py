"""``python -m bench.profile``: a real case, a real server, a real py-spy."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from bench.procs import REPO_ROOT
from bench.profile import fold


def test_fold_gives_each_sample_to_the_innermost_part_and_the_writer_its_own() -> None:
    lines = [
        "thread (11): MainThread;run (asyncio/runners.py:1);"
        "on_frame (server/gateway/connection.py:9);_send (actors/conversation.py:3) 5",
        "thread (11): MainThread;run (asyncio/runners.py:1) 3",
        "thread (12): sqlite-writer;job (server/storage/sqlite/messaging.py:320) 2",
        "garbage",
    ]
    total, parts, names = fold(lines)
    assert total == 10
    assert parts == {
        "conversation actor": 5,
        "event loop and asyncio": 3,
        "SQLite writer thread": 2,
    }
    assert names == {11: "MainThread", 12: "sqlite-writer"}


@pytest.mark.slow
def test_profile_of_a_quick_case_names_threads_and_parts() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bench.profile", "chat_direct_10", "--suite", "quick",
         "--seconds", "2"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "CPU per thread" in out and "MainThread" in out, out
    shares = [float(x) for x in re.findall(r"^\s+([\d.]+)%\s+\S", out, re.M)]
    assert shares and sum(shares) > 1.0, out
    assert "gateway connections" in out or "event loop and asyncio" in out, out
