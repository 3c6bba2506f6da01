"""Request/reply: N connections each keep K requests in flight (closed loop,
peak throughput) or share a fixed request rate (open loop, latency at a
chosen load). Baselines echo the ~200-byte payload; Grover answers ``ping``."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.scenarios.base import (
    CaseContext,
    close_sessions,
    connect_summary,
    echo_action,
    load_result,
    open_sessions,
    pace,
    require_all,
    run_load,
)
from bench.session import Recorder


async def run(ctx: CaseContext) -> dict[str, Any]:
    conns = int(ctx.param("conns", 100))
    inflight = int(ctx.param("inflight", 1))
    rate = float(ctx.param("rate", 0.0))
    recorder = Recorder()
    opened = await open_sessions(ctx, conns, recorder)
    require_all(ctx, opened, conns)
    sessions = opened.sessions
    action = echo_action(ctx)
    for session in sessions:
        session.action = action
        session.closed_loop = rate <= 0

    def start() -> list[asyncio.Task[None]]:
        if rate <= 0:
            for session in sessions:
                for _ in range(inflight):
                    session.fire()
            return []
        until = time.monotonic() + ctx.timing.warmup + ctx.timing.window + 1
        return [asyncio.create_task(pace(sessions, rate, recorder, inflight, until))]

    load = await run_load(
        ctx, {"echo": recorder}, start, lambda: not any(s.pending for s in sessions)
    )
    result = load_result(
        ctx,
        load,
        {"echo": recorder},
        primary="acks_per_s" if rate <= 0 else "work_per_server_core",
        extra={"connect": connect_summary(opened), "offered_rate": rate or None},
    )
    await close_sessions(sessions, [recorder])
    return result
