"""Redis faults a node must ride out with quiet, honest logs: a real
redis-server restarted with its data, which answers ``LOADING`` until it has
read it back, and a real node (a subprocess) with clients talking to it
throughout. Known transient states are warnings without tracebacks; the node
recovers by itself."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from redis.asyncio import Redis
from websockets.exceptions import WebSocketException

from actors.ids import new_id
from protocol.client import Client, ConnectionLost, GroverError
from server.cluster.faults import FaultLog
from tests.conftest import register
from tests.support import GroverProcess, RedisServer, free_port

pytestmark = pytest.mark.slow

FILLER_KEYS = 50_000
KEY_LOAD_DELAY_US = 20
"""Redis's own test knob (a hidden config): microseconds of delay per key
loaded, so that loading lasts seconds however fast the machine."""


async def _attempt(url: str, token: str, conversation_id: str) -> bool:
    """One user's app at one moment: connect, log in, send. True if it all
    worked; refusals and timeouts are expected while Redis loads."""
    client = Client(reconnect=False, request_timeout=3.0)
    try:
        await client.connect(url, token=token)
        await client.request(
            "message.send", conversation_id=conversation_id, client_key=new_id(), text="hi"
        )
        return True
    except (GroverError, ConnectionLost, WebSocketException, OSError, TimeoutError):
        return False  # expected while Redis is loading
    finally:
        await client.close()


async def _readyz(node: GroverProcess) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http,
        http.get(f"http://127.0.0.1:{node.sidecar_port}/readyz") as response,
    ):
        body: dict[str, Any] = await response.json()
        return body


async def test_a_redis_restart_while_it_loads_its_data_logs_no_error(tmp_path: Path) -> None:
    server = RedisServer(tmp_path / "redis")
    server.start("--enable-debug-command", "local")  # DEBUG POPULATE
    node = GroverProcess(
        tmp_path / "data",
        GROVER_NODE_ID="n0",
        GROVER_REDIS_URL=server.url,
        GROVER_CLUSTER_HEARTBEAT="0.2",
        GROVER_NODE_TIMEOUT="1.5",
        GROVER_LEASE_TTL="1.5",
        GROVER_ASK_TIMEOUT="2",
        GROVER_LOG_LEVEL="INFO",
    )
    redis = Redis.from_url(server.url)
    alice = Client(reconnect=False)
    attempts: list[bool] = []
    try:
        await asyncio.to_thread(node.start)
        # Live sessions, actors and leases when Redis goes away.
        await alice.connect(node.url)
        token = (await register(alice)).token
        bob = Client(reconnect=False)
        await bob.connect(node.url)
        bob_id = (await register(bob)).user.id
        await bob.close()
        conversation = await alice.request("conversation.open_direct", user_id=bob_id)
        assert await _attempt(node.url, token, conversation.id)

        await redis.execute_command("DEBUG", "POPULATE", FILLER_KEYS, "filler", 16)
        await redis.save()  # persistence: the restarted Redis loads all of it
        await asyncio.to_thread(server.stop)
        await redis.connection_pool.disconnect()  # not to meet the dead sockets below
        await asyncio.to_thread(
            server.start,
            "--key-load-delay", str(KEY_LOAD_DELAY_US),
            # Answer (LOADING) every 16 KB loaded rather than every 2 MB.
            "--loading-process-events-interval-bytes", "16384",
        )  # fmt: skip
        loading_seen = 0
        while (await redis.info("persistence"))["loading"]:
            loading_seen += 1
            attempts.append(await _attempt(node.url, token, conversation.id))
        assert loading_seen >= 2, "Redis finished loading before the node could meet it"

        deadline = time.monotonic() + 20
        while not await _attempt(node.url, token, conversation.id):
            assert time.monotonic() < deadline, "the node did not serve again"
            await asyncio.sleep(0.2)
        # Its inbox reader may come back a little after the heartbeat.
        while not (await _readyz(node))["cluster"]["healthy"]:
            assert time.monotonic() < deadline, "the node did not report healthy again"
            await asyncio.sleep(0.2)
    finally:
        await alice.close()
        await redis.aclose()
        await asyncio.to_thread(node.stop)
        server.stop()

    output = node.output()
    lines = [orjson.loads(line) for line in output.splitlines() if line.startswith("{")]
    loading = [entry for entry in lines if "loading" in entry["msg"].lower()]
    assert loading, f"the node never met LOADING:\n{output}"
    assert {entry["level"] for entry in loading} <= {"warning", "info"}
    errors = [entry for entry in lines if entry["level"] in ("error", "critical")]
    assert errors == [], errors
    assert "Traceback" not in output
    print(f"\n{len(attempts)} attempts while loading, {sum(attempts)} served; {len(loading)} lines")


async def test_retry_loops_log_a_state_once_and_real_errors_every_time(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """The classification, on errors a real Redis gives: a stream that is
    gone (a known state) and a wrong type (a bug), and on one that cannot be
    reached."""
    redis = Redis.from_url(redis_server.url)
    away = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=0.5)
    errors: list[Exception] = []
    try:
        await redis.set("faults:plain", "x")
        for call in [
            lambda: redis.xreadgroup("g", "c", {"faults:missing": ">"}),  # NOGROUP
            lambda: redis.xreadgroup("g", "c", {"faults:missing": ">"}),
            away.ping,  # unreachable
            away.ping,
            lambda: redis.lpush("faults:plain", "y"),  # WRONGTYPE: not a known state
            lambda: redis.lpush("faults:plain", "y"),
        ]:
            try:
                await call()
            except Exception as exc:
                errors.append(exc)
    finally:
        await redis.aclose()
        await away.aclose()
    assert len(errors) == 6
    faults = FaultLog(logging.getLogger("grover.test"), "loop")
    with caplog.at_level(logging.INFO, logger="grover.test"):
        for exc in errors[:4]:
            faults.failed(exc)
        faults.succeeded()
        for exc in errors[4:]:
            faults.failed(exc)
    lines = [(r.levelname, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert [(level, tb) for level, _, tb in lines] == [
        ("WARNING", False),  # entering "lost a stream"
        ("WARNING", False),  # then "unreachable": a new state, once
        ("INFO", False),  # recovered
        ("ERROR", True),
        ("ERROR", True),
    ]
    assert "recovered after 4 failures" in lines[2][1]
