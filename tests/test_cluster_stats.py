"""``GET /stats``: a node's counters since start. On one node: connections,
sessions and the SQLite writer's group commit. In a cluster (a private
redis-server and two nodes as subprocesses), also what crossing nodes costs
in Redis traffic, which the bench divides by acked messages; here the
counters must move together with the messages that crossed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from actors.ids import new_id
from protocol.client import Client
from protocol.messages import messaging
from server.app import Grover
from tests.conftest import Connect, register
from tests.support import GroverProcess
from tests.test_cluster import Rig

MESSAGES = 20

TRANSPORT_KEYS = {
    "flushes",
    "flush_errors",
    "entries_sent",
    "envelopes_sent",
    "pushes_sent",
    "acks_sent",
    "bytes_sent",
    "reads",
    "entries_received",
    "reclaimed",
    "dropped",
}


async def _stats(sidecar_port: int) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=3)) as http,
        http.get(f"http://127.0.0.1:{sidecar_port}/stats") as response,
    ):
        assert response.status == 200
        body: dict[str, Any] = await response.json()
        return body


async def _next_message(client: Client) -> messaging.MessageView:
    """The next ``message.new`` (other events, such as the conversation's
    creation, are skipped)."""
    for _ in range(10):
        event = await client.next_event(timeout=10)
        if isinstance(event, messaging.MessageNew):
            return event.message
    raise AssertionError("no message.new among the next 10 events")


async def test_stats_on_a_single_node(connect: Connect, grover: Grover) -> None:
    alice, bob = await connect(), await connect()
    await register(alice)
    bob_id = (await register(bob)).user.id
    conv = await alice.request("conversation.open_direct", user_id=bob_id)
    before = await _stats(grover.sidecar_port)
    for i in range(3):
        await alice.request("message.send", conversation_id=conv.id, client_key=f"k{i}", text="hi")
    after = await _stats(grover.sidecar_port)

    assert after["node"] == grover.node_id
    assert after["connections"] == after["sessions"] == 2
    assert after["uptime_s"] >= before["uptime_s"] > 0
    assert after["cluster"] is None
    assert after["store"]["backend"] == "sqlite"
    writes, earlier = after["store"]["writes"], before["store"]["writes"]
    assert set(writes) == {"batches", "jobs", "failed_jobs", "largest_batch"}
    # Each acked message was committed: at least one job each, in batches.
    assert writes["jobs"] - earlier["jobs"] >= 3
    assert 1 <= writes["batches"] - earlier["batches"] <= writes["jobs"] - earlier["jobs"]


def _moved(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    """The transport counters and limiter calls of one node between two reads."""
    moved = {
        k: after["cluster"]["transport"][k] - before["cluster"]["transport"][k]
        for k in after["cluster"]["transport"]
    }
    moved["limiter_calls"] = after["cluster"]["limiter_calls"] - before["cluster"]["limiter_calls"]
    return moved


async def _quiet(nodes: list[GroverProcess]) -> list[dict[str, Any]]:
    """Read every node's /stats once nothing is in flight: every entry sent
    has been read (two nodes: each one's entries go to the other), and every
    entry a node read has been acknowledged. Bounded."""
    views: list[dict[str, Any]] = []
    for _ in range(100):
        views = [await _stats(node.sidecar_port) for node in nodes]
        transports = [v["cluster"]["transport"] for v in views]
        sent = sum(t["entries_sent"] for t in transports)
        received = sum(t["entries_received"] for t in transports)
        if sent == received and all(t["acks_sent"] == t["entries_received"] for t in transports):
            return views
        await asyncio.sleep(0.1)
    raise AssertionError(f"the transports never settled: {views}")


@pytest.mark.slow
async def test_cluster_counters_follow_the_messages_that_cross(tmp_path: Path) -> None:
    rig = Rig(tmp_path, count=2)
    try:
        await rig.start()
        home, away = rig.nodes
        alice, bob = Client(request_timeout=15), Client(request_timeout=15)
        await alice.connect(home.url)
        await bob.connect(away.url)
        await register(alice)
        bob_id = (await register(bob)).user.id
        conv = await alice.request("conversation.open_direct", user_id=bob_id)
        # Warm up: both users' actors and the conversation's are active.
        await alice.request("message.send", conversation_id=conv.id, client_key=new_id(), text="0")
        await _next_message(bob)

        before = await _quiet(rig.nodes)
        for i in range(MESSAGES):
            await alice.request(
                "message.send", conversation_id=conv.id, client_key=new_id(), text=str(i)
            )
            # One message at a time, delivered before the next is sent: no
            # entry can carry two messages.
            assert (await _next_message(bob)).text == str(i)
        after = await _quiet(rig.nodes)
        await alice.close()
        await bob.close()
    finally:
        await rig.stop()

    for view in after:
        assert view["cluster"]["transport"].keys() == TRANSPORT_KEYS
        assert view["store"]["backend"] == "sqlite"
        assert view["connections"] == view["sessions"] == 1
    moved = [_moved(b, a) for b, a in zip(before, after, strict=True)]
    # Alice and Bob sit on different nodes: every message crossed at least once.
    assert sum(m["entries_sent"] for m in moved) >= MESSAGES, moved
    # Every request of Alice's (a send) took one call to the shared limiter.
    assert moved[0]["limiter_calls"] >= MESSAGES, moved
    for m in moved:
        # A node that received entries read them (where the actors live
        # decides which node receives: possibly only one)...
        assert m["entries_received"] == 0 or m["reads"] >= 1, moved
        assert m["entries_sent"] + m["acks_sent"] == 0 or m["flushes"] >= 1, moved
        # ...and a flush is one pipeline with at least one XADD or XACK.
        assert m["flushes"] <= m["entries_sent"] + m["acks_sent"], moved
        # An entry is an envelope or a batch of at least one push.
        assert m["envelopes_sent"] <= m["entries_sent"], moved
        assert m["entries_sent"] - m["envelopes_sent"] <= m["pushes_sent"], moved
        assert m["bytes_sent"] >= 10 * m["entries_sent"], moved
        assert m["flush_errors"] == m["dropped"] == 0, moved
    assert sum(m["entries_received"] for m in moved) >= MESSAGES, moved
    round_trips = sum(m["flushes"] + m["reads"] + m["limiter_calls"] for m in moved)
    print(f"per message: {round_trips / MESSAGES:.1f} Redis round trips, {moved}")
    total = after[0]["cluster"]
    assert total["redis_round_trips"] >= (
        total["transport"]["flushes"] + total["transport"]["reads"] + total["limiter_calls"]
    )
