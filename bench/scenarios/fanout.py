"""Fan-out (live-stream style): one publisher, M subscribers of one room.
Closed loop (publisher keeps K publishes in flight: peak deliveries/s) or a
fixed publish rate (delivery latency and server CPU at that load)."""

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


async def run(ctx: CaseContext) -> dict[str, Any]:
    subscribers = int(ctx.param("subscribers", 1000))
    inflight = int(ctx.param("inflight", 4))
    rate = float(ctx.param("rate", 0.0))
    publisher_rec = Recorder()
    subscriber_rec = Recorder()
    recorders = {"publisher": publisher_rec, "subscribers": subscriber_rec}
    opened = await open_sessions(
        ctx, subscribers + 1, [publisher_rec] + [subscriber_rec] * subscribers
    )
    require_all(ctx, opened, subscribers + 1)
    publisher, *receivers = opened.sessions
    await ctx.dialect.prepare(opened.sessions, ctx.timing.per_conn_timeout)
    # The publisher is a member too (Grover only lets members post); it is
    # never delivered its own message.
    (room,) = await join_rooms(ctx, [[publisher, *receivers]], "live")
    publisher.action = publish_action(ctx, room)
    publisher.closed_loop = rate <= 0

    def start() -> list[asyncio.Task[None]]:
        if rate <= 0:
            for _ in range(inflight):
                publisher.fire()
            return []
        until = time.monotonic() + ctx.timing.warmup + ctx.timing.window + 1
        return [asyncio.create_task(pace([publisher], rate, publisher_rec, inflight, until))]

    def settled() -> bool:
        return not publisher.pending and subscriber_rec.deliveries >= publisher_rec.acks * len(
            receivers
        )

    load = await run_load(ctx, recorders, start, settled)
    check = delivery_check(
        publisher_rec.acks * len(receivers), subscriber_rec.deliveries, [publisher], subscriber_rec
    )
    result = load_result(
        ctx,
        load,
        recorders,
        primary="deliveries_per_s" if rate <= 0 else "work_per_server_core",
        extra={
            "connect": connect_summary(opened),
            "offered_rate": rate or None,
            **check,
        },
    )
    await close_sessions(opened.sessions, list(recorders.values()))
    return result
