"""Structured logs: the JSON lines of a request name its request id, session,
user, node and actor, across the gateway's task and the actors' tasks; each
node's lines name that node even with several nodes in one process; the
sidecar writes access lines without tokens or query strings."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Iterator
from typing import Any

import aiohttp
import pytest

from actors.ids import ActorKey
from actors.logctx import RequestInfo, node_var, request_var
from protocol.client import Client
from server.app import Grover
from server.observability import logs
from server.observability.logs import JsonFormatter
from tests.conftest import StartGrover, register, ws_url
from tests.test_media_upload import jpeg_bytes, login, upload


class Lines(logging.Handler):
    """Every record formatted as the node's stderr would get it, parsed back."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.raw: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith("grover"):
            self.raw.append(self.format(record))

    @property
    def entries(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.raw]


@pytest.fixture
def lines() -> Iterator[Lines]:
    handler = Lines()
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield handler
    root.removeHandler(handler)
    root.setLevel(level)


async def signed_up(grover: Grover) -> tuple[Client, Any]:
    client = Client()
    await client.connect(ws_url(grover))
    return client, await register(client)


async def test_a_requests_lines_carry_its_request_session_user_node_and_actor(
    start_grover: StartGrover, lines: Lines
) -> None:
    grover = await start_grover(node_id="logs-a", actor_idle_timeout=0.05)
    alice, auth = await signed_up(grover)
    bob, bob_auth = await signed_up(grover)
    group = await alice.request(
        "conversation.create_group", title="g", member_ids=[bob_auth.user.id]
    )
    # Idle, the conversation's actor passivates; the send activates it again
    # and it handles the send from its mailbox, in its own task.
    key = ActorKey("conversation", group.id)
    async with asyncio.timeout(5):
        while grover.actors.is_active(key):  # noqa: ASYNC110 (no event to wait on)
            await asyncio.sleep(0.02)
    lines.raw.clear()
    await alice.request("message.send", conversation_id=group.id, client_key="k", text="hi")
    await bob.request("conversation.list")
    sends = [e for e in lines.entries if e.get("request_type") == "message.send"]
    assert len(sends) >= 2
    # A request id is the client's, per connection: with the session, unique.
    assert len({e["request"] for e in sends}) == 1
    assert {e["session"] for e in sends} == {alice.session_id}
    assert {e["user"] for e in sends} == {auth.user.id}
    assert {e["node"] for e in sends} == {"logs-a"}
    assert all(e.get("actor") for e in sends)
    assert f"conversation:{group.id}" in {e["actor"] for e in sends}
    assert {"grover.gateway", "grover.actors"} <= {e["logger"] for e in sends}
    in_actor = [e for e in sends if e["logger"] == "grover.actors"]
    assert f"conversation:{group.id}" in {e["actor"] for e in in_actor}
    done = [e for e in sends if e["msg"] == "request done"]
    assert len(done) == 1 and done[0]["logger"] == "grover.gateway"
    assert done[0]["actor"] == f"conversation:{group.id}"
    # Bob's request is another one, with his own ids.
    lists = [e for e in lines.entries if e.get("request_type") == "conversation.list"]
    assert {e["user"] for e in lists} == {bob_auth.user.id}
    await alice.close()
    await bob.close()


async def test_each_node_names_itself_and_the_caller_keeps_its_context(
    start_grover: StartGrover, lines: Lines
) -> None:
    one = await start_grover(node_id="logs-one")
    two = await start_grover(node_id="logs-two")
    assert node_var.get() is None and request_var.get() is None
    first, _ = await signed_up(one)
    second, _ = await signed_up(two)
    by_request = [e for e in lines.entries if e.get("request_type") == "auth.register"]
    nodes = {e["session"]: e["node"] for e in by_request}
    assert nodes == {first.session_id: "logs-one", second.session_id: "logs-two"}
    assert all(e["node"] for e in lines.entries if e["logger"] == "grover.gateway")
    await first.close()
    await second.close()


async def test_access_lines_for_the_sidecar_never_carry_tokens(
    start_grover: StartGrover, lines: Lines
) -> None:
    grover = await start_grover(node_id="logs-c")
    base = f"http://127.0.0.1:{grover.sidecar_port}"
    async with (
        aiohttp.ClientSession() as http,
        http.get(f"{base}/healthz?token=query-secret-123") as response,
    ):
        assert response.status == 200
        body = await response.read()
    client, token = await login(grover)
    status, _, _ = await upload(grover, token, jpeg_bytes())
    assert status == 201
    access = [e for e in lines.entries if e["logger"] == "grover.access"]
    health = next(e for e in access if e["path"] == "/healthz")
    assert health["method"] == "GET" and health["status"] == 200
    assert health["bytes"] > len(body) and health["duration_ms"] >= 0  # headers count
    assert health["peer"] == "127.0.0.1" and health["node"] == "logs-c"
    posted = next(e for e in access if e["path"] == "/v1/media")
    assert posted["method"] == "POST" and posted["status"] == 201
    for line in lines.raw:
        assert "query-secret-123" not in line and token not in line
    await client.close()


def test_marketplace_fields_reach_the_line() -> None:
    record = logging.LogRecord("grover.market", logging.INFO, __file__, 1, "paid", None, None)
    for name, value in {
        "order_id": "o1",
        "payout_id": "p1",
        "event_id": "e1",
        "event_type": "PAYMENT.CAPTURE.COMPLETED",
        "secret_thing": "dropped",
    }.items():
        setattr(record, name, value)
    entry = json.loads(JsonFormatter().format(record))
    assert entry["order_id"] == "o1" and entry["payout_id"] == "p1"
    assert entry["event_id"] == "e1" and entry["event_type"] == "PAYMENT.CAPTURE.COMPLETED"
    assert "secret_thing" not in entry


async def test_a_background_task_started_by_a_request_drops_its_context() -> None:
    """The fan-out worker starts in the first post's request task: its lines
    must not name that request forever after."""

    async def worker() -> dict[str, Any]:
        logs.background_task("fanout")
        record = logging.LogRecord("grover.fanout", logging.INFO, __file__, 1, "x", None, None)
        parsed: dict[str, Any] = json.loads(JsonFormatter().format(record))
        return parsed

    async def request() -> dict[str, Any]:
        request_var.set(RequestInfo(7, "post.create", "s1", "u1"))
        logs.session_id_var.set("s1")
        return await asyncio.get_running_loop().create_task(worker())

    entry = await asyncio.get_running_loop().create_task(request())
    assert entry["task"] == "fanout"
    assert not {"request", "session", "user"} & set(entry)
