"""Session ports: how actors reach a user's live sessions, wherever they are.

A session lives on the node that holds its socket. The UserActor records
where each of its user's sessions is (:class:`SessionDirectory`) and hands
events to a :class:`SessionSink`, which pushes to a session on this node or
forwards to the node that holds it. The memory twins are here; the Redis
twins are in :mod:`server.cluster.sessions`, and this node's sink is the
gateway's :class:`server.gateway.sessions.SessionRegistry`.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol

import msgspec


class SessionRef(NamedTuple):
    """A session and the node holding its socket."""

    node: str
    session_id: str


class Delivery(msgspec.Struct, array_like=True, frozen=True):
    """An encoded event on its way to a user's sessions.

    An entry of a conversation's log names its place in that log: ``stream``
    (the conversation id) and ``seq``. A session shows the entries of each
    stream once and in ``seq`` order, filling a gap from the log before it
    shows what follows (see :mod:`server.gateway.sessions`). Other events
    (receipts, typing, updates) have no stream and pass as they come.

    ``origin`` is the session that caused the event: it already has the
    answer (an ack), so it gets no frame; for an entry it is still told the
    position, with an empty ``body``, so that its order stays whole."""

    body: bytes
    origin: SessionRef | None = None
    stream: str | None = None
    seq: int = 0


class SessionSink(Protocol):
    """Where the UserActor hands events for a session."""

    def push(self, ref: SessionRef, delivery: Delivery) -> bool | None:
        """Queue an event for the session; the session assigns its event
        ``seq``. Unknown sessions are ignored (they ended meanwhile). ``False``
        means the session can never be reached again (its node is gone) and
        the caller should forget it."""

    def close(self, ref: SessionRef, code: int, reason: str) -> None:
        """Close the session's connection and forget the session."""


class SessionDirectory(Protocol):
    """Where a user's sessions are recorded outside the actor, so that a
    UserActor can passivate or move to another node without losing them.
    In-process (:class:`MemorySessionDirectory`) on one node, Redis in a
    cluster."""

    async def load(self, user_id: str) -> set[SessionRef]: ...

    async def add(self, user_id: str, ref: SessionRef) -> None: ...

    async def remove(self, user_id: str, ref: SessionRef) -> None: ...

    async def online(self, user_ids: list[str]) -> set[str]:
        """The users of ``user_ids`` with at least one session (one round
        trip): whom a post's fan-out reaches live."""


class MemorySessionDirectory:
    def __init__(self) -> None:
        self._sessions: dict[str, set[SessionRef]] = {}

    async def load(self, user_id: str) -> set[SessionRef]:
        return set(self._sessions.get(user_id, ()))

    async def add(self, user_id: str, ref: SessionRef) -> None:
        self._sessions.setdefault(user_id, set()).add(ref)

    async def remove(self, user_id: str, ref: SessionRef) -> None:
        refs = self._sessions.get(user_id)
        if refs is not None:
            refs.discard(ref)
            if not refs:
                del self._sessions[user_id]

    async def online(self, user_ids: list[str]) -> set[str]:
        sessions = self._sessions
        return {user_id for user_id in user_ids if user_id in sessions}
