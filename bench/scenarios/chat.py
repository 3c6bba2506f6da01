"""Chat: 1:1 (pairs of connections, each its own room or direct conversation)
and group (rooms of S members). Every member sends, keeping K messages in
flight (closed loop) or at a fixed rate each; each message reaches the other
members. Reports messages/s (acked sends), deliveries/s, ack latency and
end-to-end delivery latency."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.scenarios.base import (
    CaseContext,
    close_sessions,
    connect_summary,
    delivery_check,
    join_rooms,
    load_result,
    open_sessions,
    pace,
    publish_action,
    require_all,
    run_load,
)
from bench.session import Recorder


def _shape(ctx: CaseContext) -> tuple[int, int]:
    if ctx.spec.kind == "chat_direct":
        return int(ctx.param("pairs", 100)), 2
    return int(ctx.param("groups", 10)), int(ctx.param("size", 10))


async def run(ctx: CaseContext) -> dict[str, Any]:
    groups, size = _shape(ctx)
    inflight = int(ctx.param("inflight", 1))
    rate_each = float(ctx.param("rate", 0.0))
    recorder = Recorder()
    total = groups * size
    opened = await open_sessions(ctx, total, recorder)
    require_all(ctx, opened, total)
    sessions = opened.sessions
    await ctx.dialect.prepare(sessions, ctx.timing.per_conn_timeout)
    members = [sessions[g * size : (g + 1) * size] for g in range(groups)]
    rooms = await join_rooms(ctx, members, "d" if size == 2 else "g")
    for room, group in zip(rooms, members, strict=True):
        action = publish_action(ctx, room)
        for session in group:
            session.action = action
            session.closed_loop = rate_each <= 0

    def start() -> list[asyncio.Task[None]]:
        if rate_each <= 0:
            for session in sessions:
                for _ in range(inflight):
                    session.fire()
            return []
        until = time.monotonic() + ctx.timing.warmup + ctx.timing.window + 1
        return [asyncio.create_task(pace(sessions, rate_each * total, recorder, inflight, until))]

    def settled() -> bool:
        return recorder.deliveries >= recorder.acks * (size - 1) and not any(
            s.pending for s in sessions
        )

    load = await run_load(ctx, {"chat": recorder}, start, settled)
    check = delivery_check(recorder.acks * (size - 1), recorder.deliveries, sessions, recorder)
    result = load_result(
        ctx,
        load,
        {"chat": recorder},
        primary="acks_per_s" if rate_each <= 0 else "work_per_server_core",
        extra={
            "connect": connect_summary(opened),
            "offered_rate": rate_each * total or None,
            **check,
        },
    )
    await close_sessions(sessions, [recorder])
    return result
