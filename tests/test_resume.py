"""Resumable sessions: a reconnecting client gets exactly the events it missed,
in order, then the live stream; when the server cannot cover the gap it says
so. Raw websockets show the protocol; the SDK shows the transparent reconnect."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from actors.sessions import Delivery, SessionRef
from actors.user import ListSessions, user_key
from protocol import codec
from protocol.client import Client, ConnectionLost, GroverError, Resync
from protocol.errors import ErrorCode
from protocol.frames import EventFrame, ReplyFrame
from protocol.messages import accounts
from protocol.messages import session as wire_session
from server.app import Grover
from server.gateway.ordering import LogEntry
from server.gateway.sessions import SessionRegistry
from tests.conftest import Connect, StartGrover, register, ws_url
from tests.test_gateway import RawConnect, raw_connect, raw_hello, recv_frame, wait_for

__all__ = ["raw_connect"]  # the fixture, used by the tests below


async def recv_event(ws: Any) -> tuple[int, accounts.ProfileUpdated]:
    frame = await recv_frame(ws)
    assert isinstance(frame, EventFrame), frame
    event = codec.decode_event(frame.event)
    assert isinstance(event, accounts.ProfileUpdated)
    return frame.seq, event


async def no_frame(ws: Any, wait: float = 0.1) -> bool:
    """Nothing arrives within ``wait`` seconds."""
    try:
        async with asyncio.timeout(wait):
            await ws.recv()
    except TimeoutError:
        return True
    return False


async def updates(client: Client, *names: str) -> None:
    for name in names:
        await client.request("profile.update", display_name=name)


async def test_resume_replays_exactly_the_missed_events_then_live_ones(
    grover: Grover, connect: Connect, raw_connect: RawConnect
) -> None:
    writer = await connect()
    auth = await register(writer)
    ws = await raw_connect()
    welcome = await raw_hello(ws, token=auth.token)
    await updates(writer, "one", "two")
    assert [await recv_event(ws) for _ in range(2)] == [
        (1, accounts.ProfileUpdated(user=_me(auth, "one"))),
        (2, accounts.ProfileUpdated(user=_me(auth, "two"))),
    ]
    # The connection drops (no close handshake), and more happens meanwhile.
    ws.transport.abort()
    await updates(writer, "three", "four", "five")

    again = await raw_connect()
    resumed = await raw_hello(
        again,
        token=auth.token,
        resume=wire_session.Resume(session_id=welcome.session_id, last_seq=2),
    )
    assert resumed.resumed and not resumed.resync
    assert resumed.session_id == welcome.session_id
    replayed = [await recv_event(again) for _ in range(3)]
    assert [(seq, e.user.display_name) for seq, e in replayed] == [
        (3, "three"),
        (4, "four"),
        (5, "five"),
    ]
    assert await no_frame(again)
    await updates(writer, "six")
    seq, event = await recv_event(again)
    assert (seq, event.user.display_name) == (6, "six")


async def test_resume_from_an_older_seq_inside_the_buffer(
    grover: Grover, connect: Connect, raw_connect: RawConnect
) -> None:
    """A client that processed less than it received gets everything after
    what it processed, even events that were delivered before."""
    writer = await connect()
    auth = await register(writer)
    ws = await raw_connect()
    welcome = await raw_hello(ws, token=auth.token)
    await updates(writer, "a", "b", "c")
    for _ in range(3):
        await recv_event(ws)
    await ws.close()

    again = await raw_connect()
    resumed = await raw_hello(
        again,
        token=auth.token,
        resume=wire_session.Resume(session_id=welcome.session_id, last_seq=1),
    )
    assert resumed.resumed
    assert [(await recv_event(again))[0] for _ in range(2)] == [2, 3]
    assert await no_frame(again)


async def test_resume_takes_over_a_socket_that_is_still_open(
    grover: Grover, connect: Connect, raw_connect: RawConnect
) -> None:
    writer = await connect()
    auth = await register(writer)
    old = await raw_connect()
    welcome = await raw_hello(old, token=auth.token)
    new = await raw_connect()
    resumed = await raw_hello(
        new, token=auth.token, resume=wire_session.Resume(session_id=welcome.session_id, last_seq=0)
    )
    assert resumed.resumed
    await updates(writer, "x")
    assert (await recv_event(new))[0] == 1
    # The old socket is closed and gets nothing more.
    try:
        while True:
            await old.recv()
    except Exception:
        pass
    assert old.close_code == 1000


async def test_gap_beyond_the_buffer_means_resync(
    start_grover: StartGrover, raw_connect: RawConnect
) -> None:
    node = await start_grover(resume_buffer=3)
    writer = Client()
    await writer.connect(ws_url(node))
    try:
        auth = await register(writer)
        ws = await raw_connect(node)
        welcome = await raw_hello(ws, token=auth.token)
        await updates(writer, "1")
        await recv_event(ws)
        ws.transport.abort()
        await updates(writer, "2", "3", "4", "5")  # seq 2..5; the buffer keeps 3..5

        again = await raw_connect(node)
        reply = await raw_hello(
            again,
            token=auth.token,
            resume=wire_session.Resume(session_id=welcome.session_id, last_seq=1),
        )
        assert reply.resync and not reply.resumed
        assert reply.session_id != welcome.session_id
        assert await no_frame(again)
        # The new session numbers its own events from 1.
        await updates(writer, "6")
        seq, event = await recv_event(again)
        assert (seq, event.user.display_name) == (1, "6")
        # The old session is gone, so asking again also resyncs.
        third = await raw_connect(node)
        retry = await raw_hello(
            third,
            token=auth.token,
            resume=wire_session.Resume(session_id=welcome.session_id, last_seq=2),
        )
        assert retry.resync
    finally:
        await writer.close()


async def test_gap_exactly_the_buffer_size_is_still_covered(
    start_grover: StartGrover, raw_connect: RawConnect
) -> None:
    node = await start_grover(resume_buffer=3)
    writer = Client()
    await writer.connect(ws_url(node))
    try:
        auth = await register(writer)
        ws = await raw_connect(node)
        welcome = await raw_hello(ws, token=auth.token)
        ws.transport.abort()
        await updates(writer, "1", "2", "3")
        again = await raw_connect(node)
        reply = await raw_hello(
            again,
            token=auth.token,
            resume=wire_session.Resume(session_id=welcome.session_id, last_seq=0),
        )
        assert reply.resumed
        assert [(await recv_event(again))[0] for _ in range(3)] == [1, 2, 3]
    finally:
        await writer.close()


async def test_resume_with_a_seq_from_the_future_means_resync(
    grover: Grover, connect: Connect, raw_connect: RawConnect
) -> None:
    writer = await connect()
    auth = await register(writer)
    ws = await raw_connect()
    welcome = await raw_hello(ws, token=auth.token)
    ws.transport.abort()
    again = await raw_connect()
    reply = await raw_hello(
        again,
        token=auth.token,
        resume=wire_session.Resume(session_id=welcome.session_id, last_seq=99),
    )
    assert reply.resync and not reply.resumed


async def test_expired_session_means_resync(
    start_grover: StartGrover, raw_connect: RawConnect
) -> None:
    node = await start_grover(resume_ttl=0.2)
    writer = Client()
    await writer.connect(ws_url(node))
    try:
        auth = await register(writer)
        ws = await raw_connect(node)
        welcome = await raw_hello(ws, token=auth.token)
        await ws.close()
        await wait_for(lambda: node.sessions.get(welcome.session_id) is None, timeout=3)
        # The user's actor forgot it too.
        refs = await node.actors.ask(user_key(auth.user.id), ListSessions())
        assert welcome.session_id not in [ref.session_id for ref in refs]
        again = await raw_connect(node)
        reply = await raw_hello(
            again,
            token=auth.token,
            resume=wire_session.Resume(session_id=welcome.session_id, last_seq=0),
        )
        assert reply.resync and not reply.resumed
    finally:
        await writer.close()


async def test_resume_with_another_users_token_leaks_nothing(
    grover: Grover, connect: Connect, raw_connect: RawConnect
) -> None:
    owner = await connect()
    owner_auth = await register(owner)
    intruder = await connect()
    intruder_auth = await register(intruder)
    ws = await raw_connect()
    victim = await raw_hello(ws, token=owner_auth.token)
    ws.transport.abort()
    await updates(owner, "secret one", "secret two")

    for token in (intruder_auth.token, None):
        attempt = await raw_connect()
        reply = await raw_hello(
            attempt,
            token=token,
            resume=wire_session.Resume(session_id=victim.session_id, last_seq=0),
        )
        assert reply.resync and not reply.resumed
        assert reply.session_id != victim.session_id
        assert await no_frame(attempt)
        await attempt.close()

    # The owner can still resume and gets both events.
    mine = await raw_connect()
    reply = await raw_hello(
        mine,
        token=owner_auth.token,
        resume=wire_session.Resume(session_id=victim.session_id, last_seq=0),
    )
    assert reply.resumed
    names = [(await recv_event(mine))[1].user.display_name for _ in range(2)]
    assert names == ["secret one", "secret two"]


async def test_a_resumed_session_is_logged_in_with_the_token_it_resumed_with(
    grover: Grover, connect: Connect, raw_connect: RawConnect
) -> None:
    """Logging out after resuming with a newer token of the same account
    revokes that token, the one this connection holds."""
    device = await connect()
    auth = await register(device)
    ws = await raw_connect()
    first = await raw_hello(ws, token=auth.token)
    ws.transport.abort()
    other = await connect()
    newer = await other.request("auth.login", login=auth.user.username, password="correct horse")

    again = await raw_connect()
    reply = await raw_hello(
        again,
        token=newer.token,
        resume=wire_session.Resume(session_id=first.session_id, last_seq=0),
    )
    assert reply.resumed
    await again.send(msgspec.msgpack.encode({"type": "auth.logout", "id": 2}))
    assert isinstance(await recv_frame(again), ReplyFrame)
    with pytest.raises(GroverError) as refused:
        await Client(reconnect=False).connect(ws_url(grover), token=newer.token)
    assert refused.value.code == ErrorCode.INVALID_TOKEN
    # The first login is another token and stays valid.
    assert (await connect(token=auth.token)).welcome is not None


async def test_sdk_reconnects_and_resumes_transparently(grover: Grover, connect: Connect) -> None:
    writer = await connect()
    auth = await register(writer)
    client = await connect(token=auth.token)
    session_id = client.session_id
    await updates(writer, "before")
    assert (await client.next_event()).user.display_name == "before"  # type: ignore[union-attr]

    await client.drop()
    await updates(writer, "during 1", "during 2")
    # A request waits for the reconnect, then goes through.
    assert (await client.request("ping")).server_time > 0
    await updates(writer, "after")
    names = []
    for _ in range(3):
        event = await client.next_event()
        assert isinstance(event, accounts.ProfileUpdated), event
        names.append(event.user.display_name)
    assert names == ["during 1", "during 2", "after"]
    assert client.session_id == session_id
    assert client.welcome is not None and client.welcome.resumed
    assert client.last_seq == 4
    assert client.pending_events() == 0


async def test_sdk_yields_resync_when_the_gap_is_too_old(
    start_grover: StartGrover,
) -> None:
    node = await start_grover(resume_buffer=2)
    writer, client = Client(), Client()
    try:
        await writer.connect(ws_url(node))
        auth = await register(writer)
        await client.connect(ws_url(node), token=auth.token)
        old_session = client.session_id
        assert old_session is not None
        session = node.sessions.get(old_session)
        assert session is not None
        await client.drop()
        # Before the client can reconnect (nothing awaits here), five events
        # reach the session: its buffer keeps the last two.
        for i in range(5):
            node.sessions.push(
                session.ref,
                Delivery(
                    msgspec.msgpack.encode(accounts.ProfileUpdated(user=_me(auth, f"lost {i}")))
                ),
            )
        event = await client.next_event()
        assert isinstance(event, Resync)
        assert client.session_id != old_session
        assert client.welcome is not None and client.welcome.resync
        # Live events continue on the new session, numbered from 1.
        await updates(writer, "fresh")
        event = await client.next_event()
        assert isinstance(event, accounts.ProfileUpdated) and event.user.display_name == "fresh"
        assert client.last_seq == 1
    finally:
        await writer.close()
        await client.close()


async def test_the_users_actor_knows_every_live_session(grover: Grover, connect: Connect) -> None:
    first = await connect()
    auth = await register(first)
    second = await connect(token=auth.token)
    third = await connect(token=auth.token)
    stranger = await connect()
    await register(stranger)

    def ids(refs: list[SessionRef]) -> set[str]:
        assert all(ref.node == grover.settings.node for ref in refs)
        return {ref.session_id for ref in refs}

    key = user_key(auth.user.id)
    clients = (first, second, third)
    assert ids(await grover.actors.ask(key, ListSessions())) == {c.session_id for c in clients}
    await third.request("auth.logout")
    assert ids(await grover.actors.ask(key, ListSessions())) == {
        first.session_id,
        second.session_id,
    }
    # A login on an anonymous session adds it.
    await third.request("auth.login", login=auth.user.username, password="correct horse")
    assert len(await grover.actors.ask(key, ListSessions())) == 3


def _me(auth: Any, display_name: str) -> Any:
    user = msgspec.structs.replace(auth.user, display_name=display_name)
    return user


async def test_sdk_request_on_a_closed_client_fails_at_once(connect: Connect) -> None:
    client = await connect(reconnect=False)
    for _ in range(30):
        await client.send_raw(b"\xc1")
    await wait_for(lambda: client.close_code is not None)
    async with asyncio.timeout(1):
        with pytest.raises(ConnectionLost) as lost:
            await client.request("ping")
    assert lost.value.code == 1008


async def test_sdk_request_times_out_while_it_cannot_reconnect(start_grover: StartGrover) -> None:
    node = await start_grover()
    client = Client(request_timeout=0.3, max_backoff=0.1)
    await client.connect(ws_url(node))
    try:
        await node.stop()  # the fixture's second stop() is harmless
        await wait_for(lambda: client.close_code is not None)
        async with asyncio.timeout(2):
            with pytest.raises(TimeoutError):
                await client.request("ping")
    finally:
        await client.close()


async def test_only_logged_in_sessions_outlive_their_socket(
    grover: Grover, connect: Connect
) -> None:
    """Nothing is ever pushed to an anonymous session and nobody may resume
    it, so it ends with its socket instead of lingering for the resume TTL."""
    before = len(grover.sessions)
    anonymous = await connect(reconnect=False)
    member = await connect(reconnect=False)
    await register(member)
    assert len(grover.sessions) == before + 2
    await anonymous.close()
    await member.close()
    await wait_for(lambda: len(grover.sessions) == before + 1)
    assert grover.sessions.get(member.session_id or "") is not None
    assert grover.sessions.get(anonymous.session_id or "") is None


async def _no_log(conversation_id: str, after_seq: int, limit: int) -> list[LogEntry]:
    return []


def _me_user(name: str = "ada") -> accounts.Me:
    return accounts.Me(
        id="u", username=name, display_name="", bio="", avatar_url="", created_at=0.0, email=""
    )


def test_sessions_keep_one_shared_body_per_event_and_frame_it_on_replay() -> None:
    """What many sessions receive (a live chat tick, a post) is held once:
    each resume buffer keeps the shared body, and a replay frames it with
    the session's own seq."""
    registry = SessionRegistry(
        "n", buffer_size=8, resume_ttl=60.0, on_expire=lambda s: None, read_log=_no_log
    )
    sessions = [registry.create() for _ in range(3)]
    for session in sessions:
        session.log_in("u", None)
    sessions[0].emit(codec.encode_event_body(accounts.ProfileUpdated(user=_me_user())))
    body = codec.encode_event_body(accounts.ProfileUpdated(user=_me_user("shared")))
    for session in sessions:
        registry.push(session.ref, Delivery(body))
    assert all(session.buffer[-1] is body for session in sessions)
    replayed = sessions[0].missed_since(1)
    assert replayed is not None and len(replayed) == 1
    frame = msgspec.msgpack.decode(replayed[0], type=EventFrame)
    assert frame.seq == 2 and bytes(frame.event) == body
    assert [msgspec.msgpack.decode(f, type=EventFrame).seq for f in sessions[0].frames()] == [1, 2]
