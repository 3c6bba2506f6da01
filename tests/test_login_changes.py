"""A connection belongs to one user at a time: requests that change its login
(``auth.register``, ``auth.login``, ``auth.logout``, ``auth.logout_all``) run
alone on it, pipelined behind or ahead of anything, over real sockets."""

from __future__ import annotations

from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection

from actors.user import ListSessions, user_key
from protocol import codec
from protocol.errors import ErrorCode
from protocol.frames import ErrorFrame, EventFrame, ReplyFrame
from protocol.messages import accounts
from server.app import Grover
from tests.conftest import Connect, register
from tests.test_gateway import RawConnect, frame, raw_connect, raw_hello, recv_frame

__all__ = ["raw_connect"]  # the fixture, used by the tests below

PASSWORD = "correct horse"


async def answers(ws: ClientConnection, ids: set[int]) -> tuple[dict[int, Any], list[EventFrame]]:
    """Read until every request in ``ids`` is answered: the answers by id, and
    the events that came meanwhile."""
    got: dict[int, Any] = {}
    events: list[EventFrame] = []
    while not ids <= got.keys():
        received = await recv_frame(ws)
        if isinstance(received, EventFrame):
            events.append(received)
        else:
            assert received.id is not None, received
            got[received.id] = received
    return got, events


async def events_before_pong(ws: ClientConnection, request_id: int) -> list[EventFrame]:
    """Send a ping and read up to its reply: everything pushed to this
    connection before the ping was answered has arrived by then (one socket,
    frames in order)."""
    await ws.send(frame(type="ping", id=request_id))
    _, events = await answers(ws, {request_id})
    return events


async def sessions_of(grover: Grover, user_id: str) -> list[str]:
    refs = await grover.actors.ask(user_key(user_id), ListSessions())
    return [ref.session_id for ref in refs]


async def test_two_pipelined_logins_one_succeeds_the_other_is_forbidden(
    grover: Grover, connect: Connect, raw_connect: RawConnect
) -> None:
    owners = [await connect(), await connect()]
    ada, bob = [await register(owner) for owner in owners]
    ws = await raw_connect()
    welcome = await raw_hello(ws)
    await ws.send(frame(type="auth.login", id=2, login=ada.user.username, password=PASSWORD))
    await ws.send(frame(type="auth.login", id=3, login=bob.user.username, password=PASSWORD))
    got, _ = await answers(ws, {2, 3})
    assert isinstance(got[2], ReplyFrame)
    assert isinstance(got[3], ErrorFrame) and got[3].code == ErrorCode.FORBIDDEN
    # Only the first account knows this session.
    assert welcome.session_id in await sessions_of(grover, ada.user.id)
    assert welcome.session_id not in await sessions_of(grover, bob.user.id)


async def test_after_logout_no_event_of_either_account_reaches_the_connection(
    grover: Grover, connect: Connect, raw_connect: RawConnect
) -> None:
    devices = [await connect(), await connect()]
    ada, bob = [await register(device) for device in devices]
    ws = await raw_connect()
    welcome = await raw_hello(ws)
    # Pipelined: login, another login, logout, without waiting in between.
    await ws.send(frame(type="auth.login", id=2, login=ada.user.username, password=PASSWORD))
    await ws.send(frame(type="auth.login", id=3, login=bob.user.username, password=PASSWORD))
    await ws.send(frame(type="auth.logout", id=4))
    got, _ = await answers(ws, {2, 3, 4})
    assert isinstance(got[4], ReplyFrame)

    # Both accounts change their profile from their other device; the
    # updates are pushed to every session the user's actor knows.
    for device in devices:
        await device.request("profile.update", bio="pushed to my sessions")
    assert await events_before_pong(ws, 5) == []
    for user in (ada, bob):
        assert welcome.session_id not in await sessions_of(grover, user.user.id)


async def test_requests_pipelined_behind_logout_are_unauthenticated(
    grover: Grover, connect: Connect, raw_connect: RawConnect
) -> None:
    owner = await connect()
    auth = await register(owner)
    ws = await raw_connect()
    await raw_hello(ws, token=auth.token)
    behind: dict[int, dict[str, Any]] = {
        4: {"type": "profile.update", "bio": "after logout"},
        5: {"type": "conversation.list"},
        6: {"type": "user.search", "query": "a"},
        7: {"type": "conversation.open_direct", "user_id": auth.user.id + "x"},
        8: {"type": "auth.logout_all"},
    }
    # One request ahead of the logout: it runs as the user, before it.
    await ws.send(frame(type="profile.update", id=2, bio="before logout"))
    await ws.send(frame(type="auth.logout", id=3))
    for request_id, fields in behind.items():
        await ws.send(frame(id=request_id, **fields))
    got, _ = await answers(ws, {2, 3, *behind})
    ahead = got[2]
    assert isinstance(ahead, ReplyFrame)
    me = msgspec.msgpack.decode(ahead.data, type=accounts.Me)
    assert me.bio == "before logout"
    assert isinstance(got[3], ReplyFrame)
    for request_id in behind:
        refused = got[request_id]
        assert isinstance(refused, ErrorFrame), (request_id, refused)
        assert refused.code == ErrorCode.UNAUTHENTICATED, (request_id, refused)
    user = await grover.store.users.get(auth.user.id)
    assert user is not None and user.bio == "before logout"


async def test_a_login_behind_a_logout_runs_as_the_new_user(
    connect: Connect, raw_connect: RawConnect
) -> None:
    devices = [await connect(), await connect()]
    ada, bob = [await register(device) for device in devices]
    ws = await raw_connect()
    await raw_hello(ws, token=ada.token)
    await ws.send(frame(type="auth.logout", id=2))
    await ws.send(frame(type="auth.login", id=3, login=bob.user.username, password=PASSWORD))
    await ws.send(frame(type="profile.update", id=4, bio="written by bob"))
    got, _ = await answers(ws, {2, 3, 4})
    assert isinstance(got[3], ReplyFrame), got[3]
    updated = got[4]
    assert isinstance(updated, ReplyFrame), updated
    assert msgspec.msgpack.decode(updated.data, type=accounts.Me).id == bob.user.id
    # Ada's events no longer come here; Bob's do.
    await devices[0].request("profile.update", bio="ada again")
    await devices[1].request("profile.update", bio="bob again")
    events = await events_before_pong(ws, 5)
    bodies = [codec.decode_event(e.event) for e in events]
    assert [type(b) for b in bodies] == [accounts.ProfileUpdated]
    assert isinstance(bodies[0], accounts.ProfileUpdated) and bodies[0].user.id == bob.user.id
