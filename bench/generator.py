"""The load generator process: runs one case against one running server and
prints its result as one JSON line on stdout (progress goes to stderr).

    python -m bench.generator --target bare --url ws://127.0.0.1:PORT/ \\
        --server-pid PID --spec '<CaseSpec JSON>'

Against a cluster, ``--url`` and ``--server-pid`` are given once per node and
``--redis-pid`` names its Redis: connection ``i`` goes to URL ``i mod N``,
and the CPU of every node and of Redis is sampled. ``--stats-url``, once
per node, names a Grover node's ``/stats``: its counters are read at both
ends of the window (:mod:`bench.serverstats`). The runner starts it
pinned to its own core; it is usable by hand too.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
import traceback
from collections.abc import Sequence
from typing import Any

import msgspec
import uvloop

from bench.clients import CLIENT_NAMES, get_client
from bench.payload import make_payload
from bench.procstat import ProcStat
from bench.scenarios import get_scenario
from bench.scenarios.base import CaseContext, Progress
from bench.session import Recorder, Session
from bench.spec import CaseSpec
from bench.targets import EXTRA_TARGET_NAMES, TARGET_NAMES, Dialect, get_dialect


async def run_case(
    spec: CaseSpec,
    target: str,
    url: str | Sequence[str],
    *,
    server_pid: int | Sequence[int] | None,
    redis_pid: int | None = None,
    client_name: str = "picows",
    label: str | None = None,
    stats_urls: Sequence[str] = (),
) -> dict[str, Any]:
    """Run one case; never raises: failures come back as ``ok: false``.

    ``url`` and ``server_pid`` are one server's, or one per cluster node;
    ``redis_pid`` is the cluster's Redis (sampled, never connected to);
    ``stats_urls`` each node's ``/stats`` (Grover), read at both ends of the
    measured window."""
    urls = [url] if isinstance(url, str) else list(url)
    if server_pid is None:
        server_pids: list[int] = []
    elif isinstance(server_pid, int):
        server_pids = [server_pid]
    else:
        server_pids = list(server_pid)
    dialect = get_dialect(target)
    base: dict[str, Any] = {
        "case": spec.name,
        "kind": spec.kind,
        "target": target,
        "client": client_name,
    }
    reason = dialect.unavailable(spec)
    if reason:
        return {**base, "ok": False, "unavailable": reason}
    ctx = CaseContext(
        spec=spec,
        dialect=dialect,
        client=get_client(client_name),
        urls=urls,
        procstat=ProcStat(server_pids, redis_pid),
        progress=Progress(label or f"{spec.name} · {target}"),
        stats_urls=list(stats_urls),
    )
    started = time.monotonic()
    try:
        async with asyncio.timeout(spec.timing.hard_limit()):
            result = await get_scenario(spec.kind)(ctx)
    except Exception as exc:
        ctx.progress.line(f"FAILED: {type(exc).__name__}: {exc}")
        return {
            **base,
            "ok": False,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=6),
        }
    result["elapsed_s"] = round(time.monotonic() - started, 2)
    result["request_bytes"] = _request_size(dialect)
    return {**base, **result}


def _request_size(dialect: Dialect) -> int | None:
    """Size of one request/reply frame as sent, for the record."""
    try:
        return len(dialect.echo(Session(0, dialect, Recorder()), 1, make_payload(0, 0)))
    except Exception:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", choices=TARGET_NAMES + EXTRA_TARGET_NAMES, required=True)
    parser.add_argument(
        "--url", action="append", required=True, help="once per node; connections go round-robin"
    )
    parser.add_argument("--server-pid", type=int, action="append", default=[], help="per node")
    parser.add_argument("--redis-pid", type=int, default=None, help="a cluster's Redis")
    parser.add_argument(
        "--stats-url", action="append", default=[], help="per node: its /stats (Grover)"
    )
    parser.add_argument("--spec", required=True, help="CaseSpec as JSON")
    parser.add_argument("--client", choices=CLIENT_NAMES, default="picows")
    parser.add_argument("--label", default=None)
    args = parser.parse_args(argv)
    if not all(url.startswith("ws://127.0.0.1:") for url in args.url):
        parser.error("the generator only talks to ws://127.0.0.1")
    spec = CaseSpec.from_json(args.spec)
    # Setup objects live for the whole case: move them out of the collector's
    # way so a full collection mid-window does not walk 10k sessions.
    gc.collect()
    result = uvloop.run(_run_frozen(spec, args))
    sys.stdout.write(msgspec.json.encode(result).decode() + "\n")
    sys.stdout.flush()
    return 0


async def _run_frozen(spec: CaseSpec, args: argparse.Namespace) -> dict[str, Any]:
    gc.freeze()
    return await run_case(
        spec,
        args.target,
        args.url,
        server_pid=args.server_pid,
        redis_pid=args.redis_pid,
        client_name=args.client,
        label=args.label,
        stats_urls=args.stats_url,
    )


if __name__ == "__main__":
    sys.exit(main())
