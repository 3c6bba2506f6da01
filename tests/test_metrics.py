"""``GET /metrics``: after a scripted load on a real node (SDK clients over
real sockets), the counters moved by exactly what was done, histograms have
counts, and levels are what is open now; with ``metrics`` off the route is
404 and nothing is counted; slow requests and store operations are logged
with their shape and never their values; the Grafana dashboard asks only for
metrics a node exports."""

from __future__ import annotations

import json
import logging
import re
import socket
from pathlib import Path

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import connect as ws_connect

from protocol.client import Client, GroverError
from protocol.errors import CloseCode
from server.app import Grover
from server.config import RateRule
from server.observability.logs import JsonFormatter
from server.observability.timing import _TimedPort
from tests.conftest import StartGrover, register, ws_url
from tests.support import RedisServer
from tests.test_gateway import _flood_until_slow, closed_with, raw_hello, wait_for

DASHBOARD = Path(__file__).resolve().parent.parent / "deploy" / "grafana" / "grover.json"
ALERTS = DASHBOARD.parent.parent / "prometheus" / "alerts.yml"
SECRET_TEXT = "the-cat-sleeps-at-noon"
PASSWORD = "correct horse battery"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


async def fetch(node: Grover, path: str = "/metrics") -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
        http.get(f"http://127.0.0.1:{node.sidecar_port}{path}") as response,
    ):
        return response.status, await response.text()


def parse(text: str) -> Samples:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(node: Grover) -> Samples:
    status, text = await fetch(node)
    assert status == 200, text
    return parse(text)


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def matching(samples: Samples, name: str, **labels: str) -> dict[frozenset[tuple[str, str]], float]:
    """Samples of ``name`` whose labels include ``labels``."""
    want = set(labels.items())
    return {lab: v for (n, lab), v in samples.items() if n == name and want <= lab}


async def direct(client: Client, other_id: str) -> str:
    view = await client.request("conversation.open_direct", user_id=other_id)
    return str(view.id)


async def send(client: Client, conversation_id: str, key: str, text: str) -> None:
    await client.request("message.send", conversation_id=conversation_id, client_key=key, text=text)


async def post_webhook(node: Grover) -> int:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http,
        http.post(
            f"http://127.0.0.1:{node.sidecar_port}/v1/webhooks/paypal", data=b"{}"
        ) as response,
    ):
        return response.status


# ------------------------------------------------------------ scripted load

SENDS = 5


async def test_counters_move_by_exactly_what_was_done(start_grover: StartGrover) -> None:
    node = await start_grover()
    before = await scrape(node)
    alice, bob = Client(), Client()
    await alice.connect(ws_url(node))
    await bob.connect(ws_url(node))
    try:
        await register(alice, password=PASSWORD)
        bob_auth = await register(bob)
        conversation = await direct(alice, bob_auth.user.id)
        for i in range(SENDS):
            await send(alice, conversation, f"k{i}", f"{SECRET_TEXT} {i}")
        with pytest.raises(GroverError) as refused:
            await send(alice, "no-such-conversation", "kx", "hello")
        code = str(refused.value.code)
        assert await post_webhook(node) == 503  # payments are not configured

        after = await scrape(node)

        def delta(name: str, **labels: str) -> float:
            return value(after, name, **labels) - value(before, name, **labels)

        # Requests by type and outcome, exactly; one latency per request.
        assert delta("grover_requests_total", type="message.send", outcome="ok") == SENDS
        assert delta("grover_requests_total", type="message.send", outcome=code) == 1
        assert delta("grover_requests_total", type="auth.register", outcome="ok") == 2
        assert delta("grover_requests_total", type="conversation.open_direct", outcome="ok") == 1
        assert delta("grover_request_duration_seconds_count", type="message.send") == SENDS + 1
        assert delta("grover_request_duration_seconds_sum", type="message.send") > 0
        assert delta("grover_errors_total", code=code) == 1
        # Frames in: two hellos, two sign-ups, one open, the sends, the refused one.
        assert delta("grover_frames_received_total") == 2 + 2 + 1 + SENDS + 1
        assert delta("grover_received_bytes_total") > SENDS * len(SECRET_TEXT)
        # Out: a reply per request, plus the events pushed to both users.
        assert delta("grover_frames_sent_total") >= 2 + 2 + 1 + SENDS + 1 + SENDS
        assert delta("grover_sent_bytes_total") > SENDS * len(SECRET_TEXT)
        # Levels: what is open now.
        assert value(after, "grover_connections", node="test-node") == 2
        assert value(after, "grover_sessions", node="test-node") == 2
        assert value(after, "grover_outbox_frames") == 0
        live = matching(after, "grover_actors_live")
        assert live[frozenset({("kind", "user")})] == 2
        assert live[frozenset({("kind", "conversation")})] == 1
        assert delta("grover_actor_activations_total", kind="user") == 2
        # The refused send activated the absent conversation's actor, which ended.
        assert delta("grover_actor_activations_total", kind="conversation") == 2
        assert delta("grover_actor_passivations_total", kind="conversation") == 1
        assert delta("grover_actor_handler_duration_seconds_count", kind="conversation") >= 1
        assert value(after, "grover_actor_mailbox_high_water") >= 1
        # The store: latencies for the operations that ran, on SQLite.
        store_counts = {
            dict(lab)["operation"]: v
            for lab, v in matching(
                after, "grover_store_operation_duration_seconds_count", backend="sqlite"
            ).items()
        }
        assert store_counts.get("users.create", 0) >= 2, store_counts
        assert any(op.startswith("messages.") for op in store_counts), store_counts
        assert delta("grover_sqlite_commit_batch_size_count") >= 1
        # The webhook refusal.
        assert (
            delta("grover_webhook_events_total", event_type="unknown", result="not_configured") == 1
        )
        assert delta("grover_slow_consumer_closes_total") == 0
        # A close: counted by code, and the level drops.
        await bob.close()
        await wait_for(lambda: len(node.gateway.connections) == 1)
        closed = await scrape(node)
        assert value(closed, "grover_connection_closes_total", code="1000") == 1
        assert value(closed, "grover_connections", node="test-node") == 1
    finally:
        await alice.close()
        await bob.close()


async def test_request_rate_limit_refusals_are_counted(start_grover: StartGrover) -> None:
    node = await start_grover(rate_request=RateRule(0.01, 2))
    client = Client()
    await client.connect(ws_url(node))
    try:
        await register(client)
        refused = 0
        for _ in range(4):
            try:
                await client.request("ping")
            except GroverError as exc:
                assert exc.code == "rate_limited"
                refused += 1
        samples = await scrape(node)
        assert refused >= 1
        assert value(samples, "grover_rate_limited_total", scope="request") == refused
        assert value(samples, "grover_errors_total", code="rate_limited") == refused
    finally:
        await client.close()


async def test_a_slow_consumer_close_is_counted(start_grover: StartGrover) -> None:
    node = await start_grover(outbox_size=8, rate_request=RateRule(100_000, 100_000))
    writer = Client()
    await writer.connect(ws_url(node))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", node.gateway.port))
    # A second session of the writer's user that reads nothing after its welcome.
    slow = await ws_connect(
        ws_url(node), sock=sock, max_queue=1, compression=None, max_size=None, ping_interval=None
    )
    try:
        auth = await register(writer)
        welcome = await raw_hello(slow, token=auth.token)
        await _flood_until_slow(node, writer, welcome.session_id)
        assert await closed_with(slow) == CloseCode.SLOW_CONSUMER
        await wait_for(lambda: len(node.gateway.connections) == 1)
        samples = await scrape(node)
        assert value(samples, "grover_slow_consumer_closes_total") == 1
        assert value(samples, "grover_connection_closes_total", code="4008") == 1
    finally:
        slow.transport.abort()
        await writer.close()


# ---------------------------------------------------------------- switched off


async def test_metrics_off_is_404_and_counts_nothing(start_grover: StartGrover) -> None:
    node = await start_grover(metrics=False)
    client = Client()
    await client.connect(ws_url(node))
    try:
        await register(client)
        await client.request("ping")
        status, _ = await fetch(node)
        assert status == 404
        assert node.metrics is None and node.services.metrics is None
        assert node.actors.observer is None
        # No timing proxies, no wrapped handlers: nothing on the hot path.
        assert not isinstance(node.store.users, _TimedPort)
        assert all(not hasattr(h, "__wrapped__") for h in node.gateway.handlers.values())
        assert (await fetch(node, "/healthz"))[0] == 200
    finally:
        await client.close()


# ------------------------------------------------------------ slow operations


async def test_slow_operations_are_logged_with_their_shape_not_their_values(
    start_grover: StartGrover, caplog: pytest.LogCaptureFixture
) -> None:
    node = await start_grover(slow_request_ms=0.0, slow_store_ms=0.0)
    alice, bob = Client(), Client()
    await alice.connect(ws_url(node))
    await bob.connect(ws_url(node))
    try:
        with caplog.at_level(logging.WARNING, logger="grover.slow"):
            await register(alice, password=PASSWORD)
            bob_auth = await register(bob)
            conversation = await direct(alice, bob_auth.user.id)
            await send(alice, conversation, "k1", SECRET_TEXT)
        records = [r for r in caplog.records if r.name == "grover.slow"]
        lines = [json.loads(JsonFormatter().format(r)) for r in records]
        requests = [line["slow"] for line in lines if "request_type" in line["slow"]]
        stores = [line["slow"] for line in lines if "operation" in line["slow"]]
        sent = [r for r in requests if r["request_type"] == "message.send"]
        assert len(sent) == 1
        assert sent[0]["outcome"] == "ok"
        assert sent[0]["duration_ms"] >= 0
        assert sent[0]["shape"]["text"] == f"str[{len(SECRET_TEXT)}]"
        registered = [r for r in requests if r["request_type"] == "auth.register"]
        assert registered and registered[0]["shape"]["password"] == f"str[{len(PASSWORD)}]"
        assert any(s["operation"] == "users.create" and s["backend"] == "sqlite" for s in stores)
        assert any(s["operation"].startswith("messages.") for s in stores)
        assert all(line["logger"] == "grover.slow" for line in lines)
        text = "\n".join(JsonFormatter().format(r) for r in records)
        assert SECRET_TEXT not in text
        # Throttled per timing point: two sign-ups within a second, one line.
        assert (
            len(registered) == 1
            and len([s for s in stores if s["operation"] == "users.create"]) == 1
        )
        assert PASSWORD not in text
        assert "example.com" not in text  # no email either
    finally:
        await alice.close()
        await bob.close()


async def test_fast_operations_are_not_logged(
    start_grover: StartGrover, caplog: pytest.LogCaptureFixture
) -> None:
    node = await start_grover(slow_request_ms=60_000.0, slow_store_ms=60_000.0)
    client = Client()
    await client.connect(ws_url(node))
    try:
        with caplog.at_level(logging.WARNING, logger="grover.slow"):
            await register(client)
            await client.request("ping")
        assert not [r for r in caplog.records if r.name == "grover.slow"]
    finally:
        await client.close()


# --------------------------------------------------------------------- cluster


async def test_cluster_metrics_under_redis(
    start_grover: StartGrover, redis_server: RedisServer
) -> None:
    node = await start_grover(redis_url=redis_server.url, node_id="metrics-a")
    client = Client()
    await client.connect(ws_url(node))
    try:
        await register(client)
        await client.request("ping")
        samples = await scrape(node)
        trips = matching(samples, "grover_cluster_redis_round_trips_total")
        by_part = {dict(lab)["part"]: v for lab, v in trips.items()}
        assert by_part["heartbeat"] >= 1
        assert by_part["transport_read"] >= 1
        assert by_part["limiter"] >= 1  # the hello's and the requests' rate limits
        assert by_part["lease"] >= 1  # the user's actor took its lease
        assert value(samples, "grover_cluster_leases_held") >= 1
        assert value(samples, "grover_cluster_stream_pending", node="metrics-a") == 0
        assert ("grover_cluster_stream_lag", frozenset({("node", "metrics-a")})) in samples
        assert value(samples, "grover_cluster_healthy") == 1
        assert value(samples, "grover_cluster_lease_losses_total", why="lost") == 0
    finally:
        await client.close()


# --------------------------------------------------------------------- Grafana


async def test_the_dashboard_asks_only_for_exported_metrics(
    start_grover: StartGrover, redis_server: RedisServer
) -> None:
    node = await start_grover(redis_url=redis_server.url, node_id="metrics-g")
    _, text = await fetch(node)
    exported = {sample_name for sample_name, _ in parse(text)}
    # A family with no sample yet (no request of any type so far) is still
    # declared: the names its samples will have.
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}
    for family, kind in re.findall(r"^# TYPE (\S+) (\S+)", text, re.MULTILINE):
        base = family.removesuffix("_total")
        exported |= {base + suffix for suffix in suffixes.get(kind, ("",))}
    dashboard = json.loads(DASHBOARD.read_text())
    exprs = [
        target["expr"]
        for panel in dashboard["panels"]
        for target in panel.get("targets", [])
        if "expr" in target
    ]
    assert len(exprs) >= 10
    used = {name for expr in exprs for name in re.findall(r"\bgrover_[a-z0-9_]+", expr)}
    assert used, exprs
    assert used <= exported, sorted(used - exported)
    # The alert rules of deploy/prometheus/ too (the runbook explains each).
    alerts = ALERTS.read_text()
    alerted = set(re.findall(r"\bgrover_[a-z0-9_]+", alerts)) - {"grover_ws"}  # HAProxy's proxy
    assert "grover_ready" in alerted
    assert alerted <= exported, sorted(alerted - exported)
    titles = " ".join(panel["title"].lower() for panel in dashboard["panels"])
    for topic in ("connections", "latency", "errors", "actors", "store", "cluster", "webhook"):
        assert topic in titles, topic
