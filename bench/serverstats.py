"""A Grover node's own counters (``GET /stats`` on its sidecar) read at the
start and at the end of the measured window, and what they cost per acked
message: for a cluster, the Redis round trips, stream entries and bytes
each message took (issue 17); for any Grover, the SQLite transactions.

Each read is taken right after the window's CPU and recorder mark (the
load keeps running meanwhile), so both ends lag their mark by about one
sidecar round trip and the counted interval is the window's length.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import aiohttp

READ_TIMEOUT = 5.0
"""A saturated node answers its sidecar late, but within this."""

Counters = dict[str, float]
"""One node's /stats, numbers only, keys joined with dots
(``cluster.transport.flushes``)."""

PER_MESSAGE: dict[str, tuple[str, ...]] = {
    # Redis round trips on the hot path: pipelines sent, inbox reads, and
    # the shared rate limiter's call of every request.
    "redis_round_trips": (
        "cluster.transport.flushes",
        "cluster.transport.reads",
        "cluster.limiter_calls",
    ),
    "flushes": ("cluster.transport.flushes",),
    "reads": ("cluster.transport.reads",),
    "limiter_calls": ("cluster.limiter_calls",),
    # Everything the node counted, heartbeats, leases and the directory too.
    "all_redis_round_trips": ("cluster.redis_round_trips",),
    "entries": ("cluster.transport.entries_sent",),
    "envelopes": ("cluster.transport.envelopes_sent",),
    "pushes": ("cluster.transport.pushes_sent",),
    "xacks": ("cluster.transport.acks_sent",),
    "bytes": ("cluster.transport.bytes_sent",),
    "write_batches": ("store.writes.batches",),
    "write_jobs": ("store.writes.jobs",),
}
"""Figure -> the counters (summed over nodes) it adds up, per acked message."""

GAUGES = {
    "uptime_s",
    "connections",
    "sessions",
    "store.writes.largest_batch",
    "fanout.max_seconds",
}
"""Values of the moment, not counters: no difference is taken of them."""


def stats_url(sidecar_port: int) -> str:
    return f"http://127.0.0.1:{sidecar_port}/stats"


def flatten(value: Any, prefix: str = "") -> Counters:
    """The numeric leaves of a /stats body (booleans and strings left out)."""
    flat: Counters = {}
    if isinstance(value, dict):
        for key, item in value.items():
            flat.update(flatten(item, f"{prefix}{key}."))
    elif isinstance(value, int | float) and not isinstance(value, bool):
        flat[prefix.rstrip(".")] = value
    return flat


async def read_all(urls: Sequence[str]) -> list[Counters] | str:
    """Every node's counters, in node order, or why they could not be read
    (the case goes on without them)."""
    timeout = aiohttp.ClientTimeout(total=READ_TIMEOUT)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:

            async def one(url: str) -> Counters:
                async with http.get(url) as response:
                    response.raise_for_status()
                    return flatten(await response.json())

            return list(await asyncio.gather(*(one(url) for url in urls)))
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return f"{type(exc).__name__}: {exc}"


def window_cost(
    first: list[Counters] | str, last: list[Counters] | str, messages: int
) -> dict[str, Any]:
    """What the counters moved by over the window, per node, and the
    figures of :data:`PER_MESSAGE` divided by ``messages`` (acked sends or
    requests in the window). A figure whose counters a node lacks (no
    cluster, MongoDB) is left out."""
    if isinstance(first, str) or isinstance(last, str):
        return {"error": first if isinstance(first, str) else last}
    deltas = [
        {key: value - before.get(key, 0) for key, value in after.items() if key not in GAUGES}
        for before, after in zip(first, last, strict=True)
    ]
    per_message: dict[str, float] = {}
    for figure, keys in PER_MESSAGE.items():
        if messages > 0 and all(key in delta for delta in deltas for key in keys):
            total = sum(delta[key] for delta in deltas for key in keys)
            per_message[figure] = round(total / messages, 3)
    return {"messages": messages, "per_message": per_message, "nodes": deltas}
