"""Starting, pinning, waiting for and stopping the processes of a case.

Every wait is bounded; every process is stopped by its own pid (and any
child it left behind, by that child's pid). Every process the runner starts
is entered in :data:`CHILDREN` until it has been stopped, so that an
interrupted or failing run can stop whatever is still running
(:meth:`ChildRegistry.kill_all`)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import NamedTuple

import msgspec
import psutil

REPO_ROOT = Path(__file__).resolve().parent.parent
_ID = re.compile(r"\b[0-9a-f]{12,}\b")
"""Actor, user and conversation ids inside log messages (hex, 12+ digits)."""
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


class ChildRegistry:
    """The processes this runner started and has not stopped yet, by pid.

    A ``psutil.Process`` is kept for each, created while the child is known
    to be alive: psutil compares its creation time before signalling, so a
    pid the kernel has since handed to an unrelated process is never hit.
    """

    def __init__(self) -> None:
        self._procs: dict[int, tuple[str, psutil.Process]] = {}

    def add(self, pid: int, role: str) -> None:
        with contextlib.suppress(psutil.Error):
            self._procs[pid] = (role, psutil.Process(pid))

    def discard(self, pid: int) -> None:
        self._procs.pop(pid, None)

    def roles(self) -> dict[int, str]:
        return {pid: role for pid, (role, _) in self._procs.items()}

    def kill_all(self, grace: float = 3.0) -> list[str]:
        """SIGTERM every registered process and its descendants (collected
        first: a parent that exits re-parents them), wait up to ``grace``
        seconds, then SIGKILL whatever is left and wait (bounded) again.
        Synchronous, so it also works with no event loop running. Returns
        ``"role pid"`` of the registered processes that were still running."""
        targets: list[psutil.Process] = []
        running: list[str] = []
        for pid, (role, proc) in list(self._procs.items()):
            with contextlib.suppress(psutil.Error):
                if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                    running.append(f"{role} {pid}")
                targets += proc.children(recursive=True)
            targets.append(proc)
        self._procs.clear()
        for proc in targets:
            with contextlib.suppress(psutil.Error):
                proc.terminate()
        # wait_procs reaps our own children (waitpid), so none is left a zombie.
        _gone, alive = psutil.wait_procs(targets, timeout=grace)
        for proc in alive:
            with contextlib.suppress(psutil.Error):
                proc.kill()
        psutil.wait_procs(alive, timeout=5.0)
        return running


CHILDREN = ChildRegistry()
"""Every server, generator and Redis this process has started and not stopped."""


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    # Children import bench/, protocol/ and server/ from this checkout.
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return env


class ChildOutput(NamedTuple):
    returncode: int | None
    lines: list[str]
    """Its standard output, line by line."""


async def run_to_end(argv: list[str], *, role: str, hard_limit: float) -> ChildOutput | None:
    """Run a child (a load generator) to its end: its stderr relayed as it
    comes, its stdout kept. ``None`` when it ran past ``hard_limit`` seconds;
    it is killed then, and also if this is cancelled (a signal), so that it
    never outlives the caller."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=REPO_ROOT,
        env=child_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    CHILDREN.add(proc.pid, role)
    assert proc.stdout is not None and proc.stderr is not None

    async def relay(stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            sys.stderr.write(line.decode(errors="replace"))
            sys.stderr.flush()

    relay_task = asyncio.create_task(relay(proc.stderr))
    try:
        async with asyncio.timeout(hard_limit):
            stdout = await proc.stdout.read()
            await proc.wait()
            await relay_task
    except TimeoutError:
        return None
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 5.0)
        relay_task.cancel()
        CHILDREN.discard(proc.pid)
    return ChildOutput(proc.returncode, stdout.decode(errors="replace").strip().splitlines())


class ServerProcess:
    """A server-side process started for one case (a target's server, one
    node of a cluster, or its Redis), registered in :data:`CHILDREN` until
    :meth:`stop` has run."""

    def __init__(self, argv: list[str], log_path: Path, role: str = "server") -> None:
        self.argv = argv
        self.log_path = log_path
        self.role = role
        self._log = log_path.open("wb")
        self.proc = subprocess.Popen(
            argv,
            cwd=REPO_ROOT,
            env=child_env(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        CHILDREN.add(self.proc.pid, role)

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
        CHILDREN.discard(self.pid)
        self._log.close()
        return self.proc.returncode

    def log_tail(self, limit: int = 1500) -> str:
        if not self._log.closed:
            self._log.flush()
        try:
            return self.log_path.read_bytes()[-limit:].decode(errors="replace")
        except OSError:
            return ""

    def log_warnings(self, limit_bytes: int = 20_000_000) -> Counter[str]:
        """``"level: message"`` -> count, over the JSON log lines (Grover's
        format) at warning level or above; other lines are ignored. Ids in a
        message become ``<id>`` and messages are cut to their first line and
        120 characters, so that one kind of event counts as one entry, not
        one per actor."""
        counts: Counter[str] = Counter()
        try:
            with self.log_path.open("rb") as log:
                data = log.read(limit_bytes)
        except OSError:
            return counts
        for line in data.splitlines():
            if not line.startswith(b"{"):
                continue
            try:
                record = msgspec.json.decode(line)
            except msgspec.DecodeError:
                continue
            level = str(record.get("level", "")).lower() if isinstance(record, dict) else ""
            if level in ("warning", "error", "critical"):
                first_line = str(record.get("msg", "")).partition("\n")[0]
                text = _ID.sub("<id>", first_line)[:120]
                counts[f"{level}: {text}"] += 1
        return counts


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
