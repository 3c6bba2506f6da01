"""Connect storm: how long N connections take to open (websocket and protocol
handshake), and how much server memory each idle one holds."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from bench.procstat import bound_by, cpu_between
from bench.scenarios.base import CaseContext, close_sessions, connect_summary, open_sessions
from bench.session import Recorder


async def run(ctx: CaseContext) -> dict[str, Any]:
    conns = int(ctx.param("conns", 1000))
    rate = float(ctx.param("rate", 0.0))
    settle = float(ctx.param("settle", 1.0))
    recorder = Recorder()
    # The server's resting footprint, before the first connection.
    rss_before = ctx.procstat.server_rss()
    cpu_first = ctx.procstat.sample()
    opened = await open_sessions(ctx, conns, recorder, rate=rate)
    cpu_last = ctx.procstat.sample()
    ctx.progress.line(
        f"{len(opened.sessions)}/{conns} open in {opened.seconds:.2f}s, settling {settle:.1f}s"
    )
    # Let the server finish per-connection work (timers, buffers) before weighing it.
    await asyncio.sleep(settle)
    rss_after = ctx.procstat.server_rss()
    idle_errors = sum(recorder.errors.values())
    await close_sessions(opened.sessions, [recorder])
    count = len(opened.sessions)
    per_conn = (rss_after - rss_before) / count if count else None
    cpu: dict[str, Any] = cpu_between(cpu_first, cpu_last)
    rate_done = count / opened.seconds if opened.seconds > 0 else None
    ctx.progress.line(
        f"{rate_done or 0:.0f} conn/s, server RSS +{(per_conn or 0) / 1024:.1f} KB per connection"
    )
    errors = dict(recorder.errors)
    return {
        "ok": count == conns,
        "connect": connect_summary(opened),
        "metrics": {
            "conns_per_s": round(rate_done, 1) if rate_done else None,
            "time_to_n_s": round(opened.seconds, 3),
            "rss_before_bytes": rss_before,
            "rss_after_bytes": rss_after,
            "rss_per_conn_bytes": round(per_conn) if per_conn is not None else None,
            "ack": opened.connect_hist.summary(),
        },
        "primary": {"metric": "conns_per_s", "value": round(rate_done, 1) if rate_done else None},
        "cpu": cpu,
        "bound": bound_by(float(cpu["server_pct"]), float(cpu["generator_pct"])),
        "errors": errors,
        "errors_total": idle_errors + (conns - count if count < conns else 0),
        "measured_at": time.time(),
    }
