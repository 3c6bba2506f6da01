"""The gateway over real sockets: handshake, bad input, backpressure, shutdown,
rate limits. Every bad input gets its typed error or documented close code,
changes nothing in the store, and leaves everyone else served."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from actors.store.accounts import AuthSessionRecord
from protocol import codec, limits
from protocol.client import Client, GroverError
from protocol.errors import CloseCode, ErrorCode
from protocol.frames import ErrorFrame, EventFrame, ReplyFrame
from protocol.messages import accounts
from protocol.messages import session as wire_session
from protocol.version import PROTOCOL_VERSION
from server.app import Grover
from server.auth import hash_token
from server.config import RateRule
from server.gateway import connection as gateway_connection
from server.gateway.connection import Connection
from server.storage.sqlite import SqliteStore
from tests.conftest import Connect, StartGrover, make_settings, register, ws_url

# ------------------------------------------------------------------ helpers

Snapshot = dict[str, list[str]]
RawConnect = Callable[..., Awaitable[ClientConnection]]


async def snapshot(grover: Grover) -> Snapshot:
    """Every row of every table of the node's SQLite store, for "nothing
    changed" checks."""
    store = grover.store
    assert isinstance(store, SqliteStore)

    def job(conn: sqlite3.Connection) -> Snapshot:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            table: sorted(repr(tuple(row)) for row in conn.execute(f'SELECT * FROM "{table}"'))
            for table in tables
        }

    return await store.db.read(job)


def next_id(client: Client) -> int:
    """A fresh request id for a raw frame sent through ``client``."""
    return client._take_id()


def frame(**fields: Any) -> bytes:
    return msgspec.msgpack.encode(fields)


async def assert_served(*clients: Client) -> None:
    """Each client still gets replies."""
    for client in clients:
        assert (await client.request("ping")).server_time > 0


@pytest.fixture
async def raw_connect(grover: Grover) -> AsyncIterator[RawConnect]:
    """Bare websockets clients (no SDK) to ``grover`` or another node."""
    opened: list[ClientConnection] = []

    async def make(node: Grover | None = None, **options: Any) -> ClientConnection:
        options = {"compression": None, "max_size": None, "ping_interval": None, **options}
        ws = await ws_connect(ws_url(node or grover), **options)
        opened.append(ws)
        return ws

    yield make
    for ws in opened:
        ws.transport.abort()


async def assert_refused_for_this_ip(node: Grover, raw_connect: RawConnect) -> None:
    """The next websocket from this IP is refused: before the upgrade with
    HTTP 429 and a ``Retry-After`` (websockets), or right after it with close
    1013 and the wait in the reason (picows, whose upgrade cannot wait)."""
    if node.settings.transport == "picows":
        ws = await raw_connect(node)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(ws.recv(), 5)
        assert ws.close_code == CloseCode.TRY_AGAIN_LATER
        assert ws.close_reason is not None and "retry after" in ws.close_reason
        return
    with pytest.raises(InvalidStatus) as refused:
        await raw_connect(node)
    response = refused.value.response
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1


async def recv_frame(ws: ClientConnection, timeout: float = 5.0) -> Any:
    async with asyncio.timeout(timeout):
        return codec.decode_server_frame(await ws.recv(decode=False))


async def raw_hello(
    ws: ClientConnection,
    request_id: int = 1,
    *,
    token: str | None = None,
    resume: wire_session.Resume | None = None,
    versions: tuple[int, ...] = (PROTOCOL_VERSION,),
) -> wire_session.Welcome:
    hello = wire_session.Hello(id=request_id, versions=list(versions), token=token, resume=resume)
    await ws.send(codec.encode_request(hello))
    reply = await recv_frame(ws)
    assert isinstance(reply, ReplyFrame), reply
    assert reply.id == request_id
    welcome: wire_session.Welcome = msgspec.msgpack.decode(reply.data, type=wire_session.Welcome)
    return welcome


async def closed_with(ws: ClientConnection, timeout: float = 5.0) -> int | None:
    """Read (and drop) frames until the server closes; the close code."""
    async with asyncio.timeout(timeout):
        try:
            while True:
                await ws.recv()
        except ConnectionClosed:
            pass
    return ws.close_code


async def wait_for(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.01)


def connection_of(grover: Grover, session_id: str) -> Connection | None:
    for connection in grover.gateway.connections:
        if connection.session is not None and connection.session.id == session_id:
            return connection
    return None


# ----------------------------------------------------------------- handshake


async def test_hello_gives_a_session_and_logs_in_with_a_token(connect: Connect) -> None:
    anonymous = await connect()
    welcome = anonymous.welcome
    assert welcome is not None
    assert welcome.version == PROTOCOL_VERSION and welcome.user is None
    assert welcome.session_id and welcome.heartbeat_interval > 0
    assert not welcome.resumed and not welcome.resync

    auth = await register(anonymous)
    again = await connect(token=auth.token)
    assert again.welcome is not None and again.welcome.user is not None
    assert again.welcome.user.id == auth.user.id
    assert again.welcome.session_id != welcome.session_id


async def test_version_negotiation_picks_the_highest_common(
    grover: Grover, raw_connect: RawConnect
) -> None:
    ws = await raw_connect()
    welcome = await raw_hello(ws, versions=(99, PROTOCOL_VERSION, 1, 0))
    assert welcome.version == PROTOCOL_VERSION


# Version 1 (the names before the `<entity>.<action>` rule) is no longer spoken.
@pytest.mark.parametrize("versions", [[98, 99], [1]], ids=["unknown", "retired"])
async def test_no_common_version_is_refused_then_closed_4002(
    grover: Grover, raw_connect: RawConnect, connect: Connect, versions: list[int]
) -> None:
    other = await connect()
    before = await snapshot(grover)
    ws = await raw_connect()
    await ws.send(codec.encode_request(wire_session.Hello(id=7, versions=versions)))
    error = await recv_frame(ws)
    assert isinstance(error, ErrorFrame)
    assert (error.id, error.code) == (7, ErrorCode.UNSUPPORTED_VERSION)
    assert await closed_with(ws) == CloseCode.UNSUPPORTED_VERSION
    assert await snapshot(grover) == before
    await assert_served(other)


async def test_no_hello_in_time_closes_4001(
    start_grover: StartGrover, raw_connect: RawConnect
) -> None:
    node = await start_grover(hello_timeout=0.3)
    ws = await raw_connect(node)
    started = time.monotonic()
    assert await closed_with(ws) == CloseCode.HELLO_TIMEOUT
    assert 0.25 < time.monotonic() - started < 3
    # The node is fine: a prompt client is served.
    prompt = await raw_connect(node)
    await raw_hello(prompt)


async def test_request_before_hello_is_refused_then_hello_works(
    grover: Grover, raw_connect: RawConnect, connect: Connect
) -> None:
    other = await connect()
    before = await snapshot(grover)
    ws = await raw_connect()
    await ws.send(codec.encode_request(wire_session.Ping(id=1)))
    error = await recv_frame(ws)
    assert isinstance(error, ErrorFrame)
    assert (error.id, error.code) == (1, ErrorCode.HELLO_REQUIRED)
    register_first = frame(
        type="auth.register", id=2, username="early", email="e@example.com", password="x" * 8
    )
    await ws.send(register_first)
    error = await recv_frame(ws)
    assert (error.id, error.code) == (2, ErrorCode.HELLO_REQUIRED)
    assert await snapshot(grover) == before
    welcome = await raw_hello(ws, request_id=3)
    assert welcome.user is None
    await assert_served(other)


async def test_second_hello_is_refused(connect: Connect) -> None:
    client = await connect()
    request_id = next_id(client)
    await client.send_raw(
        codec.encode_request(wire_session.Hello(id=request_id, versions=[PROTOCOL_VERSION]))
    )
    error = await client.recv_error()
    assert (error.id, error.code) == (request_id, ErrorCode.ALREADY_GREETED)
    await assert_served(client)


async def test_wrong_token_is_refused_and_changes_nothing(grover: Grover, connect: Connect) -> None:
    other = await connect()
    await register(other)
    before = await snapshot(grover)
    sessions = len(grover.sessions)
    for token in ("not-a-token", "A" * limits.TOKEN_MAX):
        with pytest.raises(GroverError) as refused:
            await connect(token=token)
        assert refused.value.code == ErrorCode.INVALID_TOKEN
    assert await snapshot(grover) == before
    assert len(grover.sessions) == sessions
    await assert_served(other)


async def test_expired_token_is_refused(grover: Grover, connect: Connect) -> None:
    other = await connect()
    auth = await register(other)
    token = "expired-token-for-the-test"
    now = time.time()
    await grover.store.auth_sessions.create(
        AuthSessionRecord(
            token_hash=hash_token(token),
            user_id=auth.user.id,
            created_at=now - 8 * 86400,
            expires_at=now - 86400,
        )
    )
    before = await snapshot(grover)
    with pytest.raises(GroverError) as refused:
        await connect(token=token)
    assert refused.value.code == ErrorCode.TOKEN_EXPIRED
    assert await snapshot(grover) == before
    await assert_served(other)


async def test_an_oversized_token_in_hello_is_an_invalid_field(
    raw_connect: RawConnect,
) -> None:
    ws = await raw_connect()
    await ws.send(
        frame(type="hello", id=1, versions=[PROTOCOL_VERSION], token="A" * (limits.TOKEN_MAX + 1))
    )
    error = await recv_frame(ws)
    assert (error.id, error.code) == (1, ErrorCode.INVALID_FIELD)
    await raw_hello(ws, request_id=2)


# ---------------------------------------------------------------- bad input


async def test_reused_or_lower_request_id_is_refused(grover: Grover, connect: Connect) -> None:
    client = await connect()
    other = await connect()
    await register(client)
    before = await snapshot(grover)
    last = next_id(client)
    await client.send_raw(
        codec.encode_request(wire_session.Ping(id=last))
    )  # accepted: ids now > last
    for reused in (last, last - 1, 0):
        update = frame(type="profile.update", id=reused, bio="should not be written")
        await client.send_raw(update)
        error = await client.recv_error()
        assert (error.id, error.code) == (reused, ErrorCode.DUPLICATE_REQUEST_ID)
    assert await snapshot(grover) == before
    await assert_served(client, other)


BAD_FRAMES: dict[str, tuple[bytes | str, ErrorCode, bool]] = {
    # name: (what is sent, the error code, whether the error carries the id 41)
    "garbage bytes": (b"\xc1\xff\x00garbage", ErrorCode.BAD_FRAME, False),
    "empty frame": (b"", ErrorCode.BAD_FRAME, False),
    "text frame": ('{"type": "ping", "id": 41}', ErrorCode.BAD_FRAME, False),
    "msgpack list": (msgspec.msgpack.encode(["ping", 41]), ErrorCode.BAD_FRAME, False),
    "msgpack int": (msgspec.msgpack.encode(41), ErrorCode.BAD_FRAME, False),
    "msgpack string": (msgspec.msgpack.encode("ping"), ErrorCode.BAD_FRAME, False),
    "truncated map": (frame(type="ping", id=41)[:-3], ErrorCode.BAD_FRAME, False),
    "no type": (frame(id=41), ErrorCode.UNKNOWN_TYPE, True),
    "unknown type": (frame(type="posts.delete_all", id=41), ErrorCode.UNKNOWN_TYPE, True),
    "type not a string": (frame(type=7, id=41), ErrorCode.UNKNOWN_TYPE, True),
    "server frame type": (frame(type="reply", id=41, data=b""), ErrorCode.UNKNOWN_TYPE, True),
    "missing id": (frame(type="ping"), ErrorCode.INVALID_FIELD, False),
    "negative id": (frame(type="ping", id=-1), ErrorCode.INVALID_FIELD, False),
    "id not an int": (frame(type="ping", id="41"), ErrorCode.INVALID_FIELD, False),
    "id too big": (frame(type="ping", id=2**53), ErrorCode.INVALID_FIELD, False),
    "missing field": (frame(type="profile.get", id=41), ErrorCode.INVALID_FIELD, True),
    "extra field": (
        frame(type="profile.update", id=41, bio="hi", is_admin=True),
        ErrorCode.INVALID_FIELD,
        True,
    ),
    "wrong field type": (
        frame(type="profile.update", id=41, bio=["hi"]),
        ErrorCode.INVALID_FIELD,
        True,
    ),
    "oversized string": (
        frame(type="profile.update", id=41, bio="x" * (limits.BIO_MAX + 1)),
        ErrorCode.INVALID_FIELD,
        True,
    ),
    "bad url": (
        frame(type="profile.update", id=41, avatar_url="javascript:alert(1)"),
        ErrorCode.INVALID_FIELD,
        True,
    ),
    "out of range": (
        frame(type="user.search", id=41, query="a", limit=limits.SEARCH_LIMIT_MAX + 1),
        ErrorCode.INVALID_FIELD,
        True,
    ),
    "oversized list": (
        frame(type="hello", id=41, versions=[PROTOCOL_VERSION] * (limits.VERSIONS_MAX + 1)),
        ErrorCode.INVALID_FIELD,
        True,
    ),
}


@pytest.mark.parametrize("name", list(BAD_FRAMES))
async def test_bad_frame_gets_a_typed_error_and_changes_nothing(
    name: str, grover: Grover, connect: Connect
) -> None:
    sent, code, carries_id = BAD_FRAMES[name]
    client = await connect()
    other = await connect()
    await register(client)
    before = await snapshot(grover)
    client._next_id = 40  # the frames above use id 41
    await client.send_raw(sent)
    error = await client.recv_error()
    assert error.code == code, error
    assert error.id == (41 if carries_id else None)
    assert error.message
    assert await snapshot(grover) == before
    await assert_served(client, other)


async def test_frame_over_the_limit_closes_1009(grover: Grover, connect: Connect) -> None:
    client = await connect(reconnect=False)
    other = await connect()
    await register(client)
    # A frame of exactly the limit is read (and refused as not msgpack).
    await client.send_raw(b"\xc1" * limits.MAX_FRAME_BYTES)
    assert (await client.recv_error()).code == ErrorCode.BAD_FRAME
    before = await snapshot(grover)
    await client.send_raw(b"\xc1" * (limits.MAX_FRAME_BYTES + 1))
    await wait_for(lambda: client.close_code is not None)
    assert client.close_code == CloseCode.MESSAGE_TOO_BIG
    assert await snapshot(grover) == before
    await assert_served(other)


async def test_requests_before_login_are_refused(grover: Grover, connect: Connect) -> None:
    client = await connect()
    other = await connect()
    before = await snapshot(grover)
    refused: list[tuple[str, dict[str, Any]]] = [
        ("profile.update", {"bio": "anonymous"}),
        ("profile.get", {"user_id": "someone"}),
        ("user.search", {"query": "a"}),
        ("auth.logout", {}),
        ("auth.logout_all", {}),
    ]
    for request_type, fields in refused:
        with pytest.raises(GroverError) as error:
            await client.request(request_type, **fields)
        assert error.value.code == ErrorCode.UNAUTHENTICATED, request_type
    assert await snapshot(grover) == before
    # These are not bad input: many of them do not end the connection.
    for _ in range(30):
        with pytest.raises(GroverError):
            await client.request("user.search", query="a")
    await assert_served(client, other)


async def test_sustained_bad_input_closes_1008(grover: Grover, connect: Connect) -> None:
    abuser = await connect(reconnect=False)
    other = await connect()
    await register(other)
    before = await snapshot(grover)
    burst = int(grover.settings.abuse_strikes.burst)
    for _ in range(burst + 5):
        try:
            await abuser.send_raw(b"\xc1 not msgpack")
        except ConnectionClosed:
            break
    await wait_for(lambda: abuser.close_code is not None)
    assert abuser.close_code == CloseCode.POLICY_VIOLATION
    # The errors before the close were delivered.
    assert (await abuser.recv_error()).code == ErrorCode.BAD_FRAME
    assert await snapshot(grover) == before
    await assert_served(other)


async def test_nothing_sent_after_the_abuse_limit_is_executed(
    grover: Grover, connect: Connect, raw_connect: RawConnect
) -> None:
    owner = await connect()
    auth = await register(owner)
    ws = await raw_connect()
    welcome = await raw_hello(ws, token=auth.token)
    before = await snapshot(grover)
    burst = int(grover.settings.abuse_strikes.burst)
    # The valid request arrives right after the frame that used up the
    # strikes: the connection is closing by then and must not execute it.
    update = frame(type="profile.update", id=2, bio="written by an abuser")
    for _ in range(burst + 1):
        await ws.send(b"\xc1")
    await ws.send(update)
    assert await closed_with(ws) == CloseCode.POLICY_VIOLATION
    await wait_for(lambda: connection_of(grover, welcome.session_id) is None)
    assert await snapshot(grover) == before
    await assert_served(owner)


async def test_a_few_bad_frames_spread_out_are_forgiven(
    start_grover: StartGrover, raw_connect: RawConnect
) -> None:
    node = await start_grover(abuse_strikes=RateRule(50, 3))
    ws = await raw_connect(node)
    await raw_hello(ws)
    for _ in range(10):
        await ws.send(b"\xc1")
        assert (await recv_frame(ws)).code == ErrorCode.BAD_FRAME
        await asyncio.sleep(0.03)
    await ws.send(codec.encode_request(wire_session.Ping(id=2)))
    assert isinstance(await recv_frame(ws), ReplyFrame)


# ----------------------------------------------------------- rate limiting


async def test_connections_per_ip_over_the_limit_get_http_429(
    start_grover: StartGrover, raw_connect: RawConnect
) -> None:
    node = await start_grover(rate_connect=RateRule(0.5, 3))
    for _ in range(3):
        await raw_connect(node)
    await assert_refused_for_this_ip(node, raw_connect)
    assert len(node.gateway.connections) == 3


async def test_requests_per_user_and_type_over_the_limit_are_rate_limited(
    start_grover: StartGrover,
) -> None:
    node = await start_grover(rate_request=RateRule(10, 3))
    client = Client()
    other = Client()
    try:
        await client.connect(ws_url(node))
        await other.connect(ws_url(node))
        await register(client)
        await register(other)
        for _ in range(3):
            await client.request("ping")
        with pytest.raises(GroverError) as limited:
            await client.request("ping")
        assert limited.value.code == ErrorCode.RATE_LIMITED
        assert limited.value.retry_after is not None and 0 < limited.value.retry_after <= 0.1
        # Another type, and another user, have their own buckets.
        await client.request("user.search", query="u")
        await other.request("ping")
        await asyncio.sleep(limited.value.retry_after)
        await client.request("ping")
    finally:
        await client.close()
        await other.close()


async def test_sustained_rate_limit_violations_close_1008(start_grover: StartGrover) -> None:
    node = await start_grover(rate_request=RateRule(1, 1), abuse_strikes=RateRule(1, 5))
    client = Client(reconnect=False)
    await client.connect(ws_url(node))
    try:
        await register(client)
        codes = []
        for _ in range(10):
            try:
                await client.request("user.search", query="x")
            except GroverError as exc:
                codes.append(exc.code)
            except Exception:
                break
        assert ErrorCode.RATE_LIMITED in codes
        await wait_for(lambda: client.close_code is not None)
        assert client.close_code == CloseCode.POLICY_VIOLATION
    finally:
        await client.close()


# ---------------------------------------------------------- backpressure


async def _flood_until_slow(
    node: Grover, writer: Client, session_id: str, on_batch: Callable[[], None] | None = None
) -> int:
    """Update the writer's profile (big events) until the node marks the
    session ``session_id``, which reads nothing, as a slow consumer."""
    padding = "p" * limits.BIO_MAX
    url = "https://example.com/" + "a" * 2000
    sent = 0
    while sent < 5000:
        connection = connection_of(node, session_id)
        if connection is None or connection.closing:
            return sent
        # Sixty at a time: the group commit writes them as a few batches.
        await asyncio.gather(
            *(
                writer.request("profile.update", bio=padding, avatar_url=url, display_name=str(i))
                for i in range(sent, sent + 60)
            )
        )
        sent += 60
    raise AssertionError(f"not closed as a slow consumer after {sent} events")


async def _never_reading(
    node: Grover, raw_connect: RawConnect, token: str
) -> tuple[ClientConnection, wire_session.Welcome]:
    """A session that stops reading after the welcome: a small kernel receive
    buffer and a one-frame client queue, so the server's writes back up soon."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", node.gateway.port))
    slow = await raw_connect(node, sock=sock, max_queue=1)
    return slow, await raw_hello(slow, token=token)


async def test_at_most_max_inflight_requests_run_at_once_and_the_rest_wait(
    start_grover: StartGrover, raw_connect: RawConnect
) -> None:
    """Reading stops while ``max_inflight`` handlers run; every request is
    still answered, in the order their handlers finish. The handler is a
    stand-in for a slow one (a ping that waits for the test), not a mock of
    the gateway: what is checked is how many the gateway runs at once."""
    node = await start_grover(max_inflight=2)
    release = asyncio.Event()
    running = 0
    most = 0

    async def slow_ping(services: Any, caller: Any, req: wire_session.Ping) -> Any:
        nonlocal running, most
        running += 1
        most = max(most, running)
        await release.wait()
        running -= 1
        return wire_session.Pong(server_time=time.time())

    node.gateway.handlers = {**node.gateway.handlers, wire_session.Ping: slow_ping}
    ws = await raw_connect(node)
    await raw_hello(ws)
    for request_id in range(2, 8):
        await ws.send(codec.encode_request(wire_session.Ping(id=request_id)))
    await wait_for(lambda: running == 2)
    await asyncio.sleep(0.2)  # the other four stay unread while two run
    assert running == 2
    release.set()
    replies = [await recv_frame(ws) for _ in range(6)]
    assert sorted(r.id for r in replies) == list(range(2, 8))
    assert all(isinstance(r, ReplyFrame) for r in replies)
    assert most == 2


async def test_slow_consumer_is_closed_4008_and_others_are_not_delayed(
    start_grover: StartGrover, raw_connect: RawConnect
) -> None:
    node = await start_grover(outbox_size=8, rate_request=RateRule(100_000, 100_000))
    writer = Client()
    watcher = Client()
    await writer.connect(ws_url(node))
    await watcher.connect(ws_url(node))
    try:
        auth = await register(writer)
        await register(watcher)
        # A second session of the same user.
        slow, welcome = await _never_reading(node, raw_connect, auth.token)

        latencies: list[float] = []
        flooding = True

        async def watch() -> None:
            while flooding:
                started = time.monotonic()
                await watcher.request("ping")
                latencies.append(time.monotonic() - started)
                await asyncio.sleep(0.01)

        watching = asyncio.create_task(watch())
        try:
            await _flood_until_slow(node, writer, welcome.session_id)
        finally:
            flooding = False
            await watching
        # Reading now delivers what the kernel held, then the close frame.
        assert await closed_with(slow) == CloseCode.SLOW_CONSUMER
        assert len(latencies) > 5 and max(latencies) < 0.5, latencies
        # The writer and the node are fine, and the session can be resumed.
        await assert_served(writer, watcher)
        again = await raw_connect(node)
        resumed = await raw_hello(
            again,
            token=auth.token,
            resume=wire_session.Resume(session_id=welcome.session_id, last_seq=0),
        )
        assert resumed.resync  # it missed more than the resume buffer holds
    finally:
        await writer.close()
        await watcher.close()


async def test_a_consumer_that_reads_nothing_more_is_cut_off(
    start_grover: StartGrover, raw_connect: RawConnect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even the close frame cannot be written to it: the server gives up on
    the closing handshake and aborts the TCP connection."""
    monkeypatch.setattr(gateway_connection, "FLUSH_TIMEOUT", 0.3)
    node = await start_grover(outbox_size=8, rate_request=RateRule(100_000, 100_000))
    writer = Client()
    await writer.connect(ws_url(node))
    try:
        auth = await register(writer)
        _, welcome = await _never_reading(node, raw_connect, auth.token)
        await _flood_until_slow(node, writer, welcome.session_id)
        await wait_for(lambda: connection_of(node, welcome.session_id) is None, timeout=3)
        session = node.sessions.get(welcome.session_id)
        assert session is not None and session.connection is None  # detached, resumable
        await assert_served(writer)
    finally:
        await writer.close()


# ----------------------------------------------------------------- shutdown


async def test_graceful_shutdown_drains_outboxes_and_closes_1001(tmp_path: Path) -> None:
    node = Grover(make_settings(tmp_path, shutdown_grace=5.0))
    await node.start()
    stopped = False
    client = Client(reconnect=False)
    try:
        await client.connect(ws_url(node))
        auth = await register(client)
        reader = await _raw_logged_in(node, auth.token)
        session_id = reader[1].session_id
        # Queue large events at once, while the reader is idle, until the
        # socket buffers are full and the outbox holds some (kernels take
        # several MB on loopback), so that it does when stop() begins.
        session = node.sessions.get(session_id)
        connection = connection_of(node, session_id)
        assert session is not None and connection is not None
        count = 0
        while len(connection.outbox) < 20 and count < 500:
            count += 1
            user = auth.user
            user.display_name = f"n{count}"
            user.bio = "x" * 20_000
            session.emit(codec.encode_event_body(accounts.ProfileUpdated(user=user)))
        assert len(connection.outbox) >= 20
        ws = reader[0]
        seqs: list[int] = []

        async def read_all() -> None:
            try:
                while True:
                    event = codec.decode_server_frame(await ws.recv(decode=False))
                    assert isinstance(event, EventFrame)
                    seqs.append(event.seq)
            except ConnectionClosed:
                pass

        reading = asyncio.create_task(read_all())
        started = time.monotonic()
        await node.stop()
        stopped = True
        assert time.monotonic() - started < 1.5
        await reading
        assert seqs == list(range(1, count + 1))
        assert ws.close_code == CloseCode.GOING_AWAY
        await wait_for(lambda: client.close_code is not None)
        assert client.close_code == CloseCode.GOING_AWAY
        ws.transport.abort()
    finally:
        await client.close()
        if not stopped:
            await node.stop()


async def _raw_logged_in(node: Grover, token: str) -> tuple[ClientConnection, wire_session.Welcome]:
    ws = await ws_connect(ws_url(node), compression=None, max_size=None, ping_interval=None)
    return ws, await raw_hello(ws, token=token)
