"""Starting, pinning, waiting for and stopping the processes of a case.

Every wait is bounded; every process is stopped by its own pid (and any
child it left behind, by that child's pid)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
HAS_TASKSET = shutil.which("taskset") is not None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pinned(argv: list[str], core: int | None) -> list[str]:
    """Prefix ``argv`` with ``taskset -c core`` (taskset execs, so the pid we
    get is the pinned program's own)."""
    if core is None or not HAS_TASKSET:
        return argv
    if core >= (os.cpu_count() or 1):
        return argv
    return ["taskset", "-c", str(core), *argv]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # Children import bench/, protocol/ and server/ from this checkout.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ServerProcess:
    """A target server started for one case."""

    def __init__(self, argv: list[str], log_path: Path) -> None:
        self.argv = argv
        self.log_path = log_path
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    async def wait_listening(self, port: int, timeout: float) -> None:
        """Poll until the port accepts a TCP connection or the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}: {self.log_tail()}")
            try:
                _reader, writer = await asyncio.wait_for(
                    asyncio.open_connection("127.0.0.1", port), timeout=1.0
                )
            except (OSError, TimeoutError):
                await asyncio.sleep(0.05)
                continue
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
            return
        raise TimeoutError(
            f"server not listening on {port} after {timeout:.0f}s: {self.log_tail()}"
        )

    async def stop(self, grace: float = 5.0) -> int | None:
        """SIGTERM, wait up to ``grace``, then SIGKILL; same for leftover children."""
        children: list[psutil.Process] = []
        with contextlib.suppress(psutil.Error):
            children = psutil.Process(self.pid).children(recursive=True)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.to_thread(self.proc.wait, grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait, 5.0)
        for child in children:
            with contextlib.suppress(psutil.Error):
                if child.is_running():
                    child.kill()
        self._log.close()
        return self.proc.returncode

    def log_tail(self, limit: int = 1500) -> str:
        if not self._log.closed:
            self._log.flush()
        try:
            return self.log_path.read_bytes()[-limit:].decode(errors="replace")
        except OSError:
            return ""


async def wait_quiet(threshold_pct: float, max_wait: float, sample: float = 0.5) -> float:
    """Wait (bounded) until the whole machine's CPU use drops below
    ``threshold_pct``; return the last reading (percent of all cores)."""
    if threshold_pct >= 100:
        return 0.0
    psutil.cpu_percent(None)
    reading = 100.0
    for _ in range(max(1, int(max_wait / sample))):
        await asyncio.sleep(sample)
        reading = float(psutil.cpu_percent(None))
        if reading < threshold_pct:
            break
    return reading
