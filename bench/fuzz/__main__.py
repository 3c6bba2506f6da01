"""The long fuzz run: ``python -m bench.fuzz`` (``make fuzz``).

1. **codec**: ``--codec-frames`` fuzzed frames (default 1,000,000) through
   :func:`protocol.codec.decode_request`, each judged by
   :func:`bench.fuzz.frames.check_decode`.
2. **server**: a fresh ``grover serve`` on a free loopback port (the bench's
   settings: rate limits raised, cheap argon2; abuse strikes at their
   default, so 1008 closes happen) and ``--workers`` sessions firing
   ``--server-frames`` fuzzed frames (default 1,000,000) between them, one at
   a time per session, a third each from sessions with no ``hello`` yet,
   logged out, and logged in (with a direct and a group conversation whose
   ids the fuzzer uses). A session the server closes is replaced by a new
   one. Every answer must be a reply or an ``error`` with an ``ErrorCode``
   (not ``internal``), every close a documented close code. Afterwards a
   fresh connection must get a pong, the process must still run, and its
   log must hold no traceback and no error line.

Bounded by count and by time (``--max-minutes``, default 12; the codec phase
gets at most a third of it). Prints progress, then a summary. Exit status 0
only when nothing failed. The seed (``--seed``) makes the frames
reproducible; a failure is printed with its frame as hex.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import uvloop

from bench.fuzz.frames import FuzzFailure, check_decode, fuzz_frame
from bench.fuzz.values import Context, RandomChooser
from bench.fuzz.wire import MODES, FuzzSession, SetupFailed, Tally, register_peer, still_serves
from bench.procs import CHILDREN, ServerProcess, free_port
from bench.targets.grover import GroverTarget


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -------------------------------------------------------------------- codec


@dataclass
class CodecResult:
    frames: int = 0
    seconds: float = 0.0
    outcomes: Counter[str] = field(default_factory=Counter)
    mutations: Counter[str] = field(default_factory=Counter)
    failure_count: int = 0
    failures: list[str] = field(default_factory=list)


def run_codec(frames: int, seed: int, seconds: float) -> CodecResult:
    result = CodecResult()
    ch = RandomChooser(seed)
    started = time.monotonic()
    deadline = started + seconds
    next_report = started + 10
    for i in range(frames):
        if i % 256 == 0:
            now = time.monotonic()
            if now > deadline:
                _log(f"codec: time limit reached after {i} frames")
                break
            if now >= next_report:
                next_report += 10
                _log(f"codec: {i:,} frames, {i / (now - started):,.0f}/s")
        fuzzed = fuzz_frame(ch)
        result.mutations[fuzzed.mutation] += 1
        try:
            result.outcomes[check_decode(fuzzed)] += 1
        except FuzzFailure as exc:
            result.failure_count += 1
            if len(result.failures) < 20:
                result.failures.append(str(exc))
        result.frames += 1
    result.seconds = time.monotonic() - started
    return result


# ------------------------------------------------------------------- server


@dataclass
class ServerResult:
    tally: Tally
    seconds: float = 0.0
    setup_failures: int = 0
    served_after: bool = False
    alive_after: bool = False
    log_problems: list[str] = field(default_factory=list)
    log_problem_count: int = 0
    log_warnings: dict[str, int] = field(default_factory=dict)


class Budget:
    def __init__(self, total: int) -> None:
        self.left = total

    def take(self) -> bool:
        if self.left <= 0:
            return False
        self.left -= 1
        return True


async def _worker(
    index: int,
    *,
    url: str,
    peer_id: str,
    result: ServerResult,
    budget: Budget,
    seed: int,
    deadline: float,
) -> None:
    ch = RandomChooser(seed * 1_000 + index)
    tally = result.tally
    opened = 0
    while budget.left > 0 and time.monotonic() < deadline:
        mode = MODES[(index + opened) % len(MODES)]
        opened += 1
        session = FuzzSession(url, mode, tally, peer_id=peer_id)
        try:
            try:
                await session.open()
            except (SetupFailed, OSError, TimeoutError) as exc:
                result.setup_failures += 1
                tally.fail(f"could not open a {mode} session: {type(exc).__name__} {exc}")
                await asyncio.sleep(0.2)
                continue
            for _ in range(ch.integer(1, 400)):
                if time.monotonic() > deadline or not budget.take():
                    break
                ctx = Context(
                    request_id=session.take_id(),
                    known_ids=session.known_ids,
                    allow_oversized=ch.integer(0, 499) == 0,
                )
                await session.fire(fuzz_frame(ch, ctx), as_text=ch.integer(0, 199) == 0)
                if session.closed:
                    break
        finally:
            await session.close()


def _scan_log(path: Path, result: ServerResult) -> None:
    """Tracebacks and error lines in the server's log."""
    try:
        lines = path.read_bytes().splitlines()
    except OSError as exc:
        result.log_problems.append(f"log unreadable: {exc}")
        result.log_problem_count += 1
        return
    for line in lines:
        problem = False
        if line.startswith(b"{"):
            try:
                record: Any = msgspec.json.decode(line)
            except msgspec.DecodeError:
                record = {}
            level = str(record.get("level", "")) if isinstance(record, dict) else ""
            problem = level in ("error", "critical") or (
                isinstance(record, dict) and "exc" in record
            )
        elif b"Traceback" in line or b"Error" in line:
            problem = True
        if problem:
            result.log_problem_count += 1
            if len(result.log_problems) < 10:
                result.log_problems.append(line[:600].decode(errors="replace"))


async def run_server(frames: int, workers: int, seed: int, seconds: float) -> ServerResult:
    result = ServerResult(Tally())
    workdir = Path(tempfile.mkdtemp(prefix="grover-fuzz-"))
    port = free_port()
    argv = GroverTarget().node_command(port, free_port(), workdir / "data")
    server = ServerProcess(argv, workdir / "server.log", role="fuzz-server")
    started = time.monotonic()
    keep = False
    try:
        await server.wait_listening(port, 30.0)
        url = f"ws://127.0.0.1:{port}/"
        _log(f"server: grover pid {server.pid} on {url}; log {server.log_path}")
        peer_id = await register_peer(url, result.tally)
        deadline = started + seconds
        budget = Budget(frames)

        async def progress() -> None:
            while True:
                await asyncio.sleep(10)
                t = result.tally
                rate = t.frames / (time.monotonic() - started)
                _log(
                    f"server: {t.frames:,} frames ({rate:,.0f}/s), {t.connections:,} "
                    f"connections, closes {dict(t.closes)}, failures {t.failure_count}"
                )

        reporter = asyncio.create_task(progress())
        try:
            await asyncio.gather(
                *(
                    _worker(
                        i,
                        url=url,
                        peer_id=peer_id,
                        result=result,
                        budget=budget,
                        seed=seed,
                        deadline=deadline,
                    )
                    for i in range(workers)
                )
            )
        finally:
            reporter.cancel()
        result.seconds = time.monotonic() - started
        result.served_after = await still_serves(url, result.tally)
        result.alive_after = server.proc.poll() is None
    finally:
        await server.stop()
        result.log_warnings = dict(server.log_warnings().most_common(10))
        _scan_log(server.log_path, result)
        failed = (
            result.tally.failure_count
            or result.log_problem_count
            or not (result.served_after and result.alive_after)
        )
        if failed:
            keep = True
            _log(f"server: keeping {workdir} for inspection")
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return result


async def _run_server_cancellable(*args: Any) -> ServerResult:
    """:func:`run_server`, cancelled (so its server is stopped) on SIGTERM."""
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await run_server(*args)


# ------------------------------------------------------------------ summary


def summarize(codec: CodecResult | None, server: ServerResult | None, elapsed: float) -> bool:
    ok = True
    print(f"fuzz summary ({elapsed:.0f} s)")
    if codec is not None:
        ok &= codec.failure_count == 0
        print(
            f"  codec:  {codec.frames:,} frames in {codec.seconds:.0f} s "
            f"({codec.frames / max(codec.seconds, 1e-9):,.0f}/s), "
            f"failures {codec.failure_count}"
        )
        print(f"          outcomes {dict(codec.outcomes.most_common())}")
        print(f"          mutations {dict(codec.mutations.most_common())}")
        for text in codec.failures:
            print(f"          FAIL {text}")
    if server is not None:
        t = server.tally
        ok &= t.failure_count == 0 and server.log_problem_count == 0
        ok &= server.served_after and server.alive_after
        codes = sorted(k for k in t.answers if k.startswith("error:"))
        print(
            f"  server: {t.frames:,} frames in {server.seconds:.0f} s "
            f"({t.frames / max(server.seconds, 1e-9):,.0f}/s) over {t.connections:,} "
            f"connections; {t.answers['reply']:,} replies, {t.events:,} events"
        )
        print(f"          distinct error codes ({len(codes)}): {', '.join(codes)}")
        print(f"          answers {dict(t.answers.most_common())}")
        print(f"          closes {dict(sorted(t.closes.items()))}")
        print(
            f"          crashes/undocumented answers {t.failure_count}, "
            f"server log errors/tracebacks {server.log_problem_count}, "
            f"pong afterwards {server.served_after}, process alive {server.alive_after}"
        )
        print(f"          server warnings {server.log_warnings}")
        for text in t.failures + server.log_problems:
            print(f"          FAIL {text}")
    print(f"  outcome: {'OK' if ok else 'FAILED'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.fuzz",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--codec-frames", type=int, default=1_000_000)
    parser.add_argument("--server-frames", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=16, help="concurrent server sessions")
    parser.add_argument("--max-minutes", type=float, default=12.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    started = time.monotonic()
    budget = args.max_minutes * 60
    codec = server = None
    try:
        if args.codec_frames > 0:
            share = budget / 3 if args.server_frames > 0 else budget
            codec = run_codec(args.codec_frames, args.seed, share)
        if args.server_frames > 0:
            left = budget - (time.monotonic() - started)
            server = uvloop.run(
                _run_server_cancellable(args.server_frames, args.workers, args.seed, left)
            )
    finally:
        # Whatever ended the run, no server outlives it.
        with contextlib.suppress(Exception):
            CHILDREN.kill_all()
    return 0 if summarize(codec, server, time.monotonic() - started) else 1


if __name__ == "__main__":
    sys.exit(main())
