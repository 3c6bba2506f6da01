"""Runs a suite: for each round, for each case, each target back to back on a
fresh server side (one server, or a cluster's nodes and Redis) pinned to
core 0, driven by a generator pinned to core 1.

Targets of one case run back to back so that their ratios compare runs made
minutes, not rounds, apart; a run that other processes disturbed (their CPU
during the window above a threshold) is repeated, a bounded number of times.

Nothing outlives the runner: each case stops its processes in ``finally``,
and :func:`run_interruptible` turns SIGTERM and SIGINT into a cancellation
(so those ``finally`` blocks run) followed by a sweep of every process still
registered in :data:`bench.procs.CHILDREN`.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from bench.procs import CHILDREN, pinned, run_to_end, wait_quiet
from bench.spec import CaseSpec
from bench.targets import Deployment, Target

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


class Interrupted(Exception):
    """The run was stopped by a signal (after its processes were stopped)."""

    def __init__(self, signum: int) -> None:
        super().__init__(f"interrupted by {signal.Signals(signum).name}")
        self.signum = signum


async def run_interruptible(
    cases: list[CaseSpec], targets: list[Target], options: RunOptions
) -> SuiteRun:
    """:func:`run_suite`, stopping every process it started when it ends in
    any way: on SIGTERM or SIGINT the suite is cancelled (each case's
    ``finally`` stops its servers and generator) and :class:`Interrupted` is
    raised; a second signal stops waiting for clean exits and kills at once.
    Whatever is still registered afterwards is killed by pid."""
    loop = asyncio.get_running_loop()
    suite = asyncio.current_task()
    assert suite is not None
    received: list[int] = []

    def on_signal(signum: int) -> None:
        if received:
            _log(f"bench: {signal.Signals(signum).name} again: killing every process now")
            CHILDREN.kill_all(grace=0.0)
            return
        received.append(signum)
        _log(f"bench: {signal.Signals(signum).name}: stopping every process it started")
        suite.cancel()

    handled = (signal.SIGTERM, signal.SIGINT)
    for signum in handled:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        return await run_suite(cases, targets, options)
    except asyncio.CancelledError:
        if received:
            raise Interrupted(received[0]) from None
        raise
    finally:
        # The cases' own finally blocks normally leave nothing; this catches
        # what they could not (e.g. a stop cut short by the second signal).
        # Synchronous on purpose: no await here, so no further cancellation
        # can skip the rest of this block.
        left = CHILDREN.kill_all()
        if left:
            _log(f"bench: stopped leftover processes: {', '.join(left)}")
        for signum in handled:
            loop.remove_signal_handler(signum)


async def run_suite(cases: list[CaseSpec], targets: list[Target], options: RunOptions) -> SuiteRun:
    run = SuiteRun(cases, targets, options)
    total = sum(len(cases) for r in range(options.rounds) for t in targets if _in_round(t, r))
    done = 0
    suite_started = time.monotonic()
    for round_index in range(options.rounds):
        for case in cases:
            for target in targets:
                if not _in_round(target, round_index):
                    continue
                done += 1
                elapsed = time.monotonic() - suite_started
                _log(
                    f"[{done}/{total} round {round_index + 1}/{options.rounds}, "
                    f"{elapsed:.0f}s] {case.name} · {target.name}"
                )
                await _run_with_retries(run, round_index, case, target)
    run.finished_at = time.time()
    return run


def _in_round(target: Target, round_index: int) -> bool:
    return target.max_rounds is None or round_index < target.max_rounds


async def _run_with_retries(
    run: SuiteRun, round_index: int, case: CaseSpec, target: Target
) -> None:
    options = run.options
    skipped = target.skip(case)
    resolved = skipped or _resolve_rate(run, round_index, case, target.name)
    for attempt in range(options.max_retries + 1):
        # A case that will not run does not need a quiet machine.
        cpu_before = (
            0.0
            if isinstance(resolved, str)
            else await wait_quiet(options.quiet_threshold_pct, options.quiet_max_wait)
        )
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
    server = f"server {cpu.get('server_pct')}%"
    if cpu.get("redis_pct") is not None:
        nodes = " + ".join(f"{pct}%" for pct in cpu.get("nodes_pct") or [])
        server += f" (nodes {nodes}, redis {cpu['redis_pct']}%)"
    _log(
        f"    => {primary.get('metric')}={primary.get('value')}  {server}"
        f"  generator {cpu.get('generator_pct')}%  other {cpu.get('other_pct')}%"
        f"  bound={result.get('bound')}  errors={result.get('errors_total')}"
    )


async def run_case(case: CaseSpec, target: Target, options: RunOptions) -> dict[str, Any]:
    """One case against one target: a fresh server side, one generator, all
    stopped before returning (also when cancelled)."""
    workdir = Path(tempfile.mkdtemp(prefix=f"grover-bench-{target.name}-"))
    deployment: Deployment | None = None
    result: dict[str, Any] = {}
    seeded: dict[str, Any] | None = None
    try:
        seeded = await target.seed(case, workdir)
        if seeded is not None:
            _log(f"    seeded in {seeded.get('seconds')} s: {seeded}")
        deployment = await target.start(workdir, SERVER_CORE if options.pin else None)
        _log(f"    started {deployment.describe()}")
        result = await _run_generator(case, target, deployment, options)
        if not result.get("ok") and "error" in result:
            result["server_log_tail"] = deployment.log_tail()
    except Exception as exc:
        result = {
            "case": case.name,
            "target": target.name,
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "server_log_tail": deployment.log_tail() if deployment else "",
        }
    finally:
        if deployment is not None:
            for note in await deployment.stop():
                _log(f"    {note}")
            # Read after the stop: shutdown warnings (e.g. leases a node
            # could not release) belong to the case too.
            warnings = deployment.log_warnings()
            if warnings:
                result["server_warnings"] = warnings
                total = sum(warnings.values())
                top = next(iter(warnings))
                _log(f"    server logged {total} warning(s), most often {top!r}")
        shutil.rmtree(workdir, ignore_errors=True)
    if seeded is not None:
        result["seed"] = seeded
    return result


async def _run_generator(
    case: CaseSpec, target: Target, deployment: Deployment, options: RunOptions
) -> dict[str, Any]:
    argv = [
        sys.executable,
        "-m",
        "bench.generator",
        "--target",
        target.name,
        "--spec",
        case.to_json(),
        "--client",
        options.client,
        "--label",
        f"{case.name} · {target.name}",
    ]
    for url, pid in zip(deployment.urls, deployment.node_pids, strict=True):
        argv += ["--url", url, "--server-pid", str(pid)]
    if deployment.redis is not None:
        argv += ["--redis-pid", str(deployment.redis.pid)]
    for url in deployment.stats_urls:
        argv += ["--stats-url", url]
    output = await run_to_end(
        pinned(argv, GENERATOR_CORE if options.pin else None),
        role="generator",
        hard_limit=case.timing.hard_limit() + 15,
    )
    if output is None:
        return {
            "case": case.name,
            "target": target.name,
            "ok": False,
            "error": "generator exceeded its hard time limit and was killed",
        }
    returncode, lines = output
    if returncode != 0 or not lines:
        return {
            "case": case.name,
            "target": target.name,
            "ok": False,
            "error": f"generator exited with {returncode} and no result",
        }
    result: dict[str, Any] = msgspec.json.decode(lines[-1])
    return result
