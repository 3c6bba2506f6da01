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
from redis.asyncio import Redis

from actors.ids import new_id
from actors.sessions import Delivery
from protocol.client import Client
from protocol.messages import messaging
from server.app import Grover
from server.cluster.ratelimit import RedisRateLimiter
from server.cluster.transport import GROUP, StreamTransport, inbox
from server.config import RateRule
from server.gateway.ordering import LogEntry
from server.gateway.sessions import SessionRegistry
from tests.conftest import Connect, register
from tests.support import GroverProcess, RedisServer, free_port
from tests.test_cluster import Rig

MESSAGES = 20
BURST = 40

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

        # A burst, all sends in flight at once: what crosses in one flush
        # shares one stream entry per node (a BATCH), every part is handled
        # once and in order, and the entry is acknowledged after its last
        # part (_quiet: every entry read was acknowledged, no more).
        burst = await asyncio.gather(
            *(
                alice.request(
                    "message.send", conversation_id=conv.id, client_key=new_id(), text=f"b{i}"
                )
                for i in range(BURST)
            )
        )
        seqs = sorted(ack.seq for ack in burst)
        shown = [(await _next_message(bob)).seq for _ in range(BURST)]
        assert shown == seqs
        settled = await _quiet(rig.nodes)
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
        # An entry carries at least one envelope or push.
        assert m["entries_sent"] <= m["envelopes_sent"] + m["pushes_sent"], moved
        assert m["bytes_sent"] >= 10 * m["entries_sent"], moved
        assert m["flush_errors"] == m["dropped"] == 0, moved
    assert sum(m["entries_received"] for m in moved) >= MESSAGES, moved
    # Which of the users' and the conversation's actors share a node decides
    # what crosses (pushes, PushMany tells, asks and replies): at least one
    # part per entry, and at most one entry per flush and destination.
    for m in (_moved(b, a) for b, a in zip(after, settled, strict=True)):
        assert m["entries_sent"] <= m["envelopes_sent"] + m["pushes_sent"], m
        assert m["entries_sent"] <= m["flushes"], m
    round_trips = sum(m["flushes"] + m["reads"] + m["limiter_calls"] for m in moved)
    print(f"per message: {round_trips / MESSAGES:.1f} Redis round trips, {moved}")
    total = after[0]["cluster"]
    assert total["redis_round_trips"] >= (
        total["transport"]["flushes"] + total["transport"]["reads"] + total["limiter_calls"]
    )


class _Outlet:
    """The socket side of a session: what reached it, in order."""

    def __init__(self) -> None:
        self.seen: list[bytes | tuple[int, str]] = []

    def send(self, frame: bytes) -> None:
        self.seen.append(frame)

    def close_soon(self, code: int, reason: str) -> None:
        self.seen.append((code, reason))


async def _no_log(stream: str, after: int, limit: int) -> list[LogEntry]:
    return []


async def test_one_flush_to_a_node_is_one_entry_acknowledged_after_its_last_part(
    redis_server: RedisServer,
) -> None:
    """Pushes and a close queued for one node in one turn travel as one
    BATCH entry, are handled in the order queued, and the entry is
    acknowledged once, after all of them."""
    redis = Redis.from_url(redis_server.url)
    prefix = new_id()
    sender_node, receiver_node = f"a{prefix}", f"b{prefix}"
    options: dict[str, Any] = dict(
        maxlen=1000,
        is_live=lambda node: True,
        owner=lambda key: sender_node,
        node_timeout=5.0,
        retry_for=5.0,
        ask_timeout=5.0,
        settle=0.1,
    )
    sender = StreamTransport(redis, sender_node, **options)
    receiver = StreamTransport(redis, receiver_node, **options)
    sessions = SessionRegistry(
        receiver_node, buffer_size=10, resume_ttl=60, on_expire=lambda s: None, read_log=_no_log
    )
    receiver.bind(None, sessions)  # type: ignore[arg-type]
    session = sessions.create()
    session.log_in("u1", None)
    outlet = _Outlet()
    sessions.attach(session, outlet)
    try:
        await receiver.start()
        sender.push(receiver_node, session.id, Delivery(b"\x01"))
        sender.push(receiver_node, session.id, Delivery(b"\x02"))
        sender.close_session(receiver_node, session.id, 4000, "bye")
        for _ in range(100):
            if len(outlet.seen) == 3 and receiver.stats.acks_sent:
                break
            await asyncio.sleep(0.05)
        assert [type(item) for item in outlet.seen] == [bytes, bytes, tuple]
        assert outlet.seen[2] == (4000, "bye")
        assert sender.stats.entries_sent == 1
        assert (sender.stats.envelopes_sent, sender.stats.pushes_sent) == (1, 2)
        assert receiver.stats.entries_received == 1
        assert receiver.stats.acks_sent == 1
        pending = await redis.xpending(inbox(receiver_node), GROUP)
        assert pending["pending"] == 0
    finally:
        await receiver.stop()
        await sender.stop()
        await sessions.stop()
        await redis.aclose()


async def test_rate_limit_calls_of_one_turn_share_one_round_trip(redis_server: RedisServer) -> None:
    """A turn's requests go to Redis as one script over their buckets, and
    the buckets still count each call, in call order."""
    redis = Redis.from_url(redis_server.url)
    try:
        limiter = RedisRateLimiter(redis, prefix=f"test:{free_port()}:")
        rule = RateRule(1, 10)
        waits = await asyncio.gather(*(limiter.acquire("same", rule) for _ in range(30)))
        assert limiter.calls == 1
        assert waits[:10] == [0.0] * 10
        assert all(w > 0 for w in waits[10:])  # refused: nothing was taken
        others = await asyncio.gather(*(limiter.acquire(f"k{i}", rule) for i in range(600)))
        assert others == [0.0] * 600
        assert limiter.calls == 1 + 3  # 600 buckets: three script calls of at most 256
        await limiter.refund("same", rule)
        assert await limiter.acquire("same", rule) == 0.0  # the refunded token
        assert await limiter.acquire("same", rule) > 0
        assert not limiter.degraded
    finally:
        await redis.aclose()
