"""``python -m bench.profile CASE``: where a Grover server spends its CPU
under one bench case.

It runs the case once (``python -m bench --only CASE --rounds 1``, the
server pinned as in a real run), and while the measured window runs it

* samples the server's threads' CPU time (``/proc``, through psutil): the
  event loop's thread against the SQLite writer's, in percent of a core;
* attaches ``py-spy record`` (non-blocking, all threads) to the server, or to
  the first node of ``grover-cluster``, and folds the samples into parts of
  Grover (gateway, actors, store, websockets, the event loop...) by the
  innermost frame that belongs to one.

Samples are wall-clock per thread, so a thread waiting for the GIL or for
``fsync`` still counts; the per-thread CPU is what the kernel charged. Every
row of the experiments table in ``bench/README.md`` was read this way.
``--raw FILE`` keeps py-spy's folded stacks (for a flame graph).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import NamedTuple

import psutil

from bench.procs import CHILDREN, REPO_ROOT, child_env

PARTS: tuple[tuple[str, Callable[[str], bool]], ...] = (
    ("websockets (frames, handshake)", lambda f: "websockets/" in f),
    ("picows (frames)", lambda f: "picows" in f),
    ("redis-py", lambda f: "redis/" in f),
    ("cluster transport", lambda f: "server/cluster/" in f),
    ("codec (msgpack)", lambda f: "protocol/codec" in f),
    ("sessions and ordering", lambda f: "gateway/ordering" in f or "gateway/sessions" in f),
    ("gateway connections", lambda f: "server/gateway/" in f),
    ("handlers", lambda f: "server/handlers" in f),
    ("conversation actor", lambda f: "actors/conversation" in f or "actors/messaging" in f),
    ("user actor", lambda f: "actors/user" in f),
    ("actor runtime", lambda f: "actors/runtime" in f),
    ("store (loop side)", lambda f: "server/storage" in f),
    ("event loop and asyncio", lambda f: "asyncio/" in f or "uvloop" in f),
)
"""Matched against a sample's frames from the innermost outward; the first
part that claims a frame takes the sample."""

WRITER_THREAD = "sqlite-writer"


_THREAD = re.compile(r"thread \((\d+)\): (.*)")


def fold(lines: Iterable[str]) -> tuple[int, collections.Counter[str], dict[int, str]]:
    """py-spy's raw (folded) lines → (samples, samples per part, thread names
    by native id). A sample of the SQLite writer thread is the writer's,
    whatever it runs."""
    parts: collections.Counter[str] = collections.Counter()
    names: dict[int, str] = {}
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        total += int(count)
        thread = _THREAD.match(frames[0])
        if thread is not None:
            names[int(thread[1])] = thread[2]
        if WRITER_THREAD in frames[0]:
            parts["SQLite writer thread"] += int(count)
            continue
        part = next(
            (name for frame in reversed(frames[1:]) for name, owns in PARTS if owns(frame)),
            "other",
        )
        parts[part] += int(count)
    return total, parts, names


def _thread_cpu(proc: psutil.Process) -> dict[int, float]:
    with contextlib.suppress(psutil.Error):
        return {t.id: t.user_time + t.system_time for t in proc.threads()}
    return {}


def _server(bench: psutil.Process, target: str) -> psutil.Process | None:
    """The server (or the first node) among the bench run's descendants."""
    marker = "--node-id" if target == "grover-cluster" else "server.cli"
    with contextlib.suppress(psutil.Error):
        for child in bench.children(recursive=True):
            with contextlib.suppress(psutil.Error):
                args = child.cmdline()
                if "server.cli" in args and marker in args and "n2" not in args:
                    return child
    return None


async def _wait_for_window(stream: asyncio.StreamReader, log: list[str], limit: float) -> bool:
    """Relay the bench's progress until the measured window has begun."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            line = await asyncio.wait_for(stream.readline(), deadline - time.monotonic())
        except TimeoutError:
            return False
        if not line:
            return False
        text = line.decode(errors="replace").rstrip()
        log.append(text)
        if "] t+ 1." in text:  # the runner's first progress line of the window
            return True
    return False


class Window(NamedTuple):
    server_pid: int
    seconds: float
    before: dict[int, float]
    """CPU seconds per thread id at the start."""
    after: dict[int, float]


async def sample(args: argparse.Namespace, py_spy: str, out: Path, raw: Path) -> Window | str:
    """Run the case and sample its server; the window, or what went wrong."""
    argv = [
        sys.executable, "-m", "bench", "--only", args.case, "--targets", args.target,
        "--rounds", "1", "--warmup", "2", "--window", str(args.seconds + 4),
        "--suite", args.suite, "--out-dir", str(out), "--name", "profile",
    ]  # fmt: skip
    bench = await asyncio.create_subprocess_exec(
        *argv,
        cwd=REPO_ROOT,
        env=child_env(),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    CHILDREN.add(bench.pid, "bench")
    log: list[str] = []
    try:
        assert bench.stderr is not None
        if not await _wait_for_window(bench.stderr, log, limit=120):
            return "the case never reached its window:\n" + "\n".join(log[-20:])
        server = _server(psutil.Process(bench.pid), args.target)
        if server is None:
            return "no server process found"
        before, started = _thread_cpu(server), time.monotonic()
        spy = await asyncio.create_subprocess_exec(
            py_spy, "record", "--pid", str(server.pid), "--duration", str(args.seconds),
            "--rate", "250", "--nonblocking", "--threads", "--format", "raw",
            "-o", str(raw),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        CHILDREN.add(spy.pid, "py-spy")
        _, spy_err = await asyncio.wait_for(spy.communicate(), args.seconds + 30)
        CHILDREN.discard(spy.pid)
        after, elapsed = _thread_cpu(server), time.monotonic() - started
        await asyncio.wait_for(bench.communicate(), args.seconds + 60)
        if spy.returncode != 0:
            return "py-spy failed: " + spy_err.decode(errors="replace")
        return Window(server.pid, elapsed, before, after)
    finally:
        CHILDREN.kill_all()


def report(args: argparse.Namespace, window: Window, raw: Path) -> None:
    total, parts, names = fold(raw.read_text().splitlines())
    print(f"{args.case} · {args.target}: server pid {window.server_pid}, {window.seconds:.1f} s")
    print("CPU per thread (% of a core):")
    spent = {tid: cpu - window.before.get(tid, 0.0) for tid, cpu in window.after.items()}
    for tid, cpu in sorted(spent.items(), key=lambda item: -item[1]):
        share = 100 * cpu / window.seconds
        if share >= 0.5:
            print(f"  {share:5.1f}%  {names.get(tid, f'thread {tid}')}")
    print(f"py-spy samples by part ({total} samples, wall-clock per thread):")
    for name, count in parts.most_common():
        print(f"  {100 * count / max(total, 1):5.1f}%  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("case", help="a case of the suite (python -m bench --list)")
    parser.add_argument(
        "--target", choices=("grover", "grover-picows", "grover-cluster"), default="grover"
    )
    parser.add_argument("--suite", default="standard")
    parser.add_argument("--seconds", type=int, default=10, help="sampled seconds (bounded)")
    parser.add_argument("--raw", help="keep py-spy's folded stacks in this file")
    args = parser.parse_args(argv)
    args.seconds = max(1, min(args.seconds, 60))
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        print("py-spy is not installed (pip install -e '.[bench]')", file=sys.stderr)
        return 2
    out = Path(tempfile.mkdtemp(prefix="grover-profile-"))
    raw = Path(args.raw) if args.raw else out / "stacks.txt"
    window = asyncio.run(sample(args, py_spy, out, raw))
    if isinstance(window, str):
        print(window, file=sys.stderr)
        return 1
    report(args, window, raw)
    return 0


if __name__ == "__main__":
    sys.exit(main())
