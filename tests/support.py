"""Helpers for tests that need real processes: a redis-server and Grover nodes
started as subprocesses, each on a free loopback port and stopped by pid."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

FAST_HASH_ENV = {
    "GROVER_ARGON2_TIME_COST": "1",
    "GROVER_ARGON2_MEMORY_KIB": "1024",
    "GROVER_RATE_REGISTER": "1000/1000",
}
"""argon2id at its cheapest: tests hash many passwords and are not the
place to pay for production-strength hashing (nor to be limited in how many
accounts they sign up from 127.0.0.1)."""

QUICK_STOP_ENV = {"GROVER_DRAIN_SECONDS": "0"}
"""No drain before a stop (nothing checks readiness in front of these nodes)
unless a test asks for one, as the rolling restart does."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout}s")


class RedisServer:
    """A private redis-server: loopback, free port, no persistence unless asked."""

    def __init__(self, workdir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise RuntimeError("redis-server is not installed (make test installs it)")
        self.port = free_port()
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self._binary = binary
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, *options: str) -> None:
        """Start it; ``options`` are more ``redis-server`` arguments, after (so
        overriding) the defaults, e.g. ``"--appendonly", "yes"``. Without
        persistence options a restart starts empty; with them (or after a
        ``SAVE``) it loads its data from the same ``workdir``."""
        self.proc = subprocess.Popen(
            [
                self._binary,
                "--port", str(self.port),
                "--bind", "127.0.0.1",
                "--save", "",
                "--appendonly", "no",
                "--dir", str(self.workdir),
                *options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        wait_port(self.port)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


class GroverProcess:
    """``grover serve`` in a subprocess, with its output in a log file."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.sidecar_port = free_port()
        self.env = {**os.environ, **FAST_HASH_ENV, **QUICK_STOP_ENV, **env}
        self.log_path = data_dir / f"grover-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 20.0) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # The log is appended across restarts: look only at this run's part.
        offset = len(self.output())
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable, "-m", "server.cli", "serve",
                    "--port", str(self.port),
                    "--sidecar-port", str(self.sidecar_port),
                    "--data-dir", str(self.data_dir),
                ],
                cwd=REPO,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"grover exited early:\n{self.output()}")
            if re.search(r"websocket: ws://", self.output()[offset:]):
                return
            time.sleep(0.05)
        raise TimeoutError(f"grover did not start:\n{self.output()}")

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, as in a crash."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM and wait: the graceful path. Returns the exit code."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return int(self.proc.returncode)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.terminate()
