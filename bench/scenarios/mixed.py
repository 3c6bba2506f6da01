"""A realistic blend at a fixed offered load, all at once on one server:

- most connections are an audience: idle, in live rooms of at most
  ``live_room_size`` whose host posts a few times a second;
- some pairs chat 1:1 and some small groups chat;
- some connections do request/reply (pings, lookups).

Every rate is per sending connection and multiplied by ``load``. Since the
load is fixed, targets are compared on latency and on work done per server
core rather than on throughput.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from bench.scenarios.base import (
    CaseContext,
    close_sessions,
    connect_summary,
    delivery_check,
    echo_action,
    join_rooms,
    load_result,
    open_sessions,
    pace,
    publish_action,
    require_all,
    run_load,
)
from bench.session import Recorder, Session

ROLES = ("echo", "direct", "group", "live")


def plan(conns: int, params: dict[str, Any]) -> dict[str, int]:
    """How many connections play each role."""
    group_size = int(params.get("group_size", 10))
    echo = int(conns * float(params.get("echo_share", 0.10)))
    pairs = int(conns * float(params.get("direct_share", 0.20))) // 2
    groups = int(conns * float(params.get("group_share", 0.20))) // group_size
    audience = conns - echo - pairs * 2 - groups * group_size
    live_rooms = max(1, math.ceil(audience / int(params.get("live_room_size", 200))))
    live_size = audience // live_rooms
    if live_size < 2:
        raise ValueError("mixed: shares leave fewer than 2 connections per live room")
    return {
        "echo": echo,
        "pairs": pairs,
        "groups": groups,
        "group_size": group_size,
        "live_rooms": live_rooms,
        "live_size": live_size,
        "idle": audience - live_rooms * live_size,
    }


async def run(ctx: CaseContext) -> dict[str, Any]:
    conns = int(ctx.param("conns", 1000))
    load_factor = float(ctx.param("load", 1.0))
    shape = plan(conns, ctx.spec.params)
    size = shape["group_size"]
    recs = {name: Recorder() for name in ROLES}
    counts = {
        "echo": shape["echo"],
        "direct": shape["pairs"] * 2,
        "group": shape["groups"] * size,
        "live": shape["live_rooms"] * shape["live_size"] + shape["idle"],
    }
    roles = [role for role in ROLES for _ in range(counts[role])]
    opened = await open_sessions(ctx, conns, [recs[role] for role in roles])
    require_all(ctx, opened, conns)
    by_role: dict[str, list[Session]] = {name: [] for name in ROLES}
    for session, role in zip(opened.sessions, roles, strict=True):
        by_role[role].append(session)
    await ctx.dialect.prepare(opened.sessions, ctx.timing.per_conn_timeout)

    def chunks(sessions: list[Session], n: int, count: int) -> list[list[Session]]:
        return [sessions[i * n : (i + 1) * n] for i in range(count)]

    pairs = chunks(by_role["direct"], 2, shape["pairs"])
    groups = chunks(by_role["group"], size, shape["groups"])
    audiences = chunks(by_role["live"], shape["live_size"], shape["live_rooms"])
    for session in by_role["echo"]:
        session.action = echo_action(ctx)
    hosts: list[Session] = []
    for prefix, members in (("d", pairs), ("g", groups), ("live", audiences)):
        for room, group in zip(await join_rooms(ctx, members, prefix), members, strict=True):
            # In a live room only the host (first member) posts.
            for session in group[:1] if prefix == "live" else group:
                session.action = publish_action(ctx, room)
            if prefix == "live":
                hosts.append(group[0])

    senders = {
        "echo": by_role["echo"],
        "direct": by_role["direct"],
        "group": by_role["group"],
        "live": hosts,
    }
    per_sender = {
        "echo": float(ctx.param("echo_rate", 2.0)),
        "direct": float(ctx.param("direct_rate", 1.0)),
        "group": float(ctx.param("group_rate", 0.5)),
        "live": float(ctx.param("live_rate", 5.0)),
    }
    rates = {role: per_sender[role] * len(senders[role]) * load_factor for role in ROLES}
    receivers = {"echo": 0, "direct": 1, "group": size - 1, "live": shape["live_size"] - 1}

    def start() -> list[asyncio.Task[None]]:
        until = time.monotonic() + ctx.timing.warmup + ctx.timing.window + 1
        return [
            asyncio.create_task(pace(senders[role], rates[role], recs[role], 32, until))
            for role in ROLES
        ]

    def expected() -> int:
        return sum(recs[r].acks * receivers[r] for r in ROLES)

    def delivered() -> int:
        return sum(recs[r].deliveries for r in ROLES)

    def settled() -> bool:
        return delivered() >= expected() and not any(s.pending for s in opened.sessions)

    load = await run_load(ctx, recs, start, settled)
    check = delivery_check(expected(), delivered(), opened.sessions, recs["live"])
    result = load_result(
        ctx,
        load,
        recs,
        primary="work_per_server_core",
        extra={
            "connect": connect_summary(opened),
            "shape": shape,
            "offered_rates": rates,
            **check,
        },
    )
    await close_sessions(opened.sessions, list(recs.values()))
    return result
