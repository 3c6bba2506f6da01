"""Runs a suite: for each round, for each case, each target back to back on a
fresh server pinned to core 0, driven by a generator pinned to core 1.

Targets of one case run back to back so that their ratios compare runs made
minutes, not rounds, apart; a run that other processes disturbed (their CPU
during the window above a threshold) is repeated, a bounded number of times.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from bench.procs import REPO_ROOT, ServerProcess, child_env, free_port, pinned, wait_quiet
from bench.spec import CaseSpec
from bench.targets import Target

SERVER_CORE = 0
GENERATOR_CORE = 1


@dataclass
class RunOptions:
    rounds: int = 3
    client: str = "picows"
    pin: bool = True
    quiet_threshold_pct: float = 25.0
    """Whole-machine CPU (percent of all cores) below which a case may start."""
    quiet_max_wait: float = 5.0
    disturbed_pct: float = 25.0
    """Other processes' CPU (percent of one core) during a window that marks it disturbed."""
    max_retries: int = 1


@dataclass
class RunRecord:
    round: int
    case: str
    target: str
    attempt: int
    loadavg_before: list[float]
    cpu_before_pct: float
    started_at: float
    result: dict[str, Any]
    disturbed: bool = False


@dataclass
class SuiteRun:
    cases: list[CaseSpec]
    targets: list[Target]
    options: RunOptions
    records: list[RunRecord] = field(default_factory=list)
    started_at: float = field(default_factory=time.time)
    finished_at: float | None = None

    def final(self, round_index: int, case: str, target: str) -> RunRecord | None:
        """The last attempt of a (round, case, target)."""
        found = None
        for record in self.records:
            if (record.round, record.case, record.target) == (round_index, case, target):
                found = record
        return found


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


async def run_suite(cases: list[CaseSpec], targets: list[Target], options: RunOptions) -> SuiteRun:
    run = SuiteRun(cases, targets, options)
    total = options.rounds * len(cases) * len(targets)
    done = 0
    suite_started = time.monotonic()
    for round_index in range(options.rounds):
        for case in cases:
            for target in targets:
                done += 1
                elapsed = time.monotonic() - suite_started
                _log(
                    f"[{done}/{total} round {round_index + 1}/{options.rounds}, "
                    f"{elapsed:.0f}s] {case.name} · {target.name}"
                )
                await _run_with_retries(run, round_index, case, target)
    run.finished_at = time.time()
    return run


async def _run_with_retries(
    run: SuiteRun, round_index: int, case: CaseSpec, target: Target
) -> None:
    options = run.options
    resolved = _resolve_rate(run, round_index, case, target.name)
    for attempt in range(options.max_retries + 1):
        cpu_before = await wait_quiet(options.quiet_threshold_pct, options.quiet_max_wait)
        record = RunRecord(
            round=round_index,
            case=case.name,
            target=target.name,
            attempt=attempt,
            loadavg_before=[round(x, 2) for x in os.getloadavg()],
            cpu_before_pct=round(cpu_before, 1),
            started_at=time.time(),
            result={},
        )
        if isinstance(resolved, str):
            record.result = {
                "case": case.name,
                "target": target.name,
                "ok": False,
                "unavailable": resolved,
            }
        else:
            record.result = await run_case(resolved, target, options)
        other = (record.result.get("cpu") or {}).get("other_pct")
        record.disturbed = other is not None and other > options.disturbed_pct
        run.records.append(record)
        _summarize(record)
        if not record.disturbed:
            return
        if attempt < options.max_retries:
            _log(f"    disturbed (other processes used {other:.0f}% of a core): repeating")


def _resolve_rate(run: SuiteRun, round_index: int, case: CaseSpec, target: str) -> CaseSpec | str:
    """Turn ``rate_of``/``rate_fraction`` into a rate from this round's peak of
    the named case on the same target."""
    reference = case.params.get("rate_of")
    if reference is None:
        return case
    record = run.final(round_index, str(reference), target)
    peak = None
    if record is not None and record.result.get("ok"):
        peak = record.result.get("metrics", {}).get("acks_per_s")
    if not peak:
        why = "did not run" if record is None else record.result.get("unavailable") or "failed"
        return f"not available: reference case {reference} {why}"
    fraction = float(case.params.get("rate_fraction", 0.5))
    return case.with_params(rate=round(peak * fraction, 1))


def _summarize(record: RunRecord) -> None:
    result = record.result
    if result.get("unavailable"):
        _log(f"    {result['unavailable']}")
        return
    if not result.get("ok") and result.get("error"):
        _log(f"    FAILED: {result['error']}")
        return
    primary = result.get("primary", {})
    cpu = result.get("cpu", {})
    _log(
        f"    => {primary.get('metric')}={primary.get('value')}  server {cpu.get('server_pct')}%"
        f"  generator {cpu.get('generator_pct')}%  other {cpu.get('other_pct')}%"
        f"  bound={result.get('bound')}  errors={result.get('errors_total')}"
    )


async def run_case(case: CaseSpec, target: Target, options: RunOptions) -> dict[str, Any]:
    """One case against one target: fresh server, one generator, both stopped."""
    workdir = Path(tempfile.mkdtemp(prefix=f"grover-bench-{target.name}-"))
    port = free_port()
    server: ServerProcess | None = None
    try:
        server = ServerProcess(
            pinned(target.command(port, workdir / "data"), SERVER_CORE if options.pin else None),
            workdir / "server.log",
        )
        await server.wait_listening(port, target.startup_timeout())
        result = await _run_generator(case, target, port, server.pid, options)
        if not result.get("ok") and "error" in result:
            result["server_log_tail"] = server.log_tail()
        return result
    except Exception as exc:
        return {
            "case": case.name,
            "target": target.name,
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "server_log_tail": server.log_tail() if server else "",
        }
    finally:
        if server is not None:
            code = await server.stop()
            if code not in (0, None, -15):
                _log(f"    server exited with {code}")
        shutil.rmtree(workdir, ignore_errors=True)


async def _run_generator(
    case: CaseSpec, target: Target, port: int, server_pid: int, options: RunOptions
) -> dict[str, Any]:
    argv = pinned(
        [
            sys.executable,
            "-m",
            "bench.generator",
            "--target",
            target.name,
            "--url",
            target.url(port),
            "--server-pid",
            str(server_pid),
            "--spec",
            case.to_json(),
            "--client",
            options.client,
            "--label",
            f"{case.name} · {target.name}",
        ],
        GENERATOR_CORE if options.pin else None,
    )
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=REPO_ROOT,
        env=child_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None

    async def relay(stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            sys.stderr.write(line.decode(errors="replace"))
            sys.stderr.flush()

    relay_task = asyncio.create_task(relay(proc.stderr))
    try:
        async with asyncio.timeout(case.timing.hard_limit() + 15):
            stdout = await proc.stdout.read()
            await proc.wait()
            await relay_task
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        relay_task.cancel()
        return {
            "case": case.name,
            "target": target.name,
            "ok": False,
            "error": "generator exceeded its hard time limit and was killed",
        }
    lines = stdout.decode(errors="replace").strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {
            "case": case.name,
            "target": target.name,
            "ok": False,
            "error": f"generator exited with {proc.returncode} and no result",
        }
    result: dict[str, Any] = msgspec.json.decode(lines[-1])
    return result
