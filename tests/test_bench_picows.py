"""The bare relay on picows (``--targets bare-picows``): the same frames and
rooms as the websockets relay, through the same generator."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bench.generator import run_case
from bench.procs import ServerProcess, free_port
from bench.spec import CaseSpec, Timing
from bench.targets import TARGET_NAMES, get_target

pytestmark = pytest.mark.slow

TIMING = Timing(warmup=0.2, window=0.6, drain=1.0, connect_timeout=10.0, per_conn_timeout=5.0)


async def test_the_picows_relay_echoes_fans_out_and_relays_chat(tmp_path: Path) -> None:
    assert "bare-picows" not in TARGET_NAMES  # only when asked: not in make bench
    target = get_target("bare-picows")
    port = free_port()
    server = ServerProcess(target.command(port, Path()), tmp_path / "server.log")
    try:
        await server.wait_listening(port, 15.0)
        url = target.url(port)
        cases = [
            CaseSpec("echo_8", "echo", "echo", {"conns": 8, "inflight": 2}, TIMING),
            CaseSpec("fanout_20", "fanout", "fanout", {"subscribers": 20, "inflight": 2}, TIMING),
            CaseSpec("chat_direct_4", "chat_direct", "chat", {"pairs": 4, "inflight": 1}, TIMING),
        ]
        for spec in cases:
            async with asyncio.timeout(20):
                result = await run_case(spec, "bare-picows", url, server_pid=server.pid)
            assert result["ok"] and result["errors_total"] == 0, result
            primary = result["metrics"].get("deliveries_per_s") or result["metrics"]["acks_per_s"]
            assert primary > 100, result["metrics"]
    finally:
        await server.stop()


async def test_grover_on_picows_runs_the_chat_cases_and_skips_the_social_ones(
    tmp_path: Path,
) -> None:
    assert "grover-picows" in TARGET_NAMES  # compared in make bench
    target = get_target("grover-picows")
    social = CaseSpec("post_fanout_10", "post_fanout", "social", {"followers": 10}, TIMING)
    assert target.skip(social) is not None
    deployment = await target.start(tmp_path, None)
    try:
        url = deployment.urls[0]
        cases = [
            CaseSpec("echo_8", "echo", "echo", {"conns": 8, "inflight": 2}, TIMING),
            CaseSpec("chat_direct_4", "chat_direct", "chat", {"pairs": 4, "inflight": 1}, TIMING),
        ]
        for spec in cases:
            async with asyncio.timeout(30):
                result = await run_case(
                    spec, "grover-picows", url, server_pid=deployment.node_pids[0]
                )
            assert result["ok"] and result["errors_total"] == 0, result
            assert result["metrics"]["acks_per_s"] > 100, result["metrics"]
    finally:
        await deployment.stop()
