"""Resumable sessions.

A :class:`Session` outlives the socket it started on: it numbers the events
pushed to it (``seq``), keeps the last ``resume_buffer`` of them, and while no
connection is attached it keeps buffering. Entries of conversations' logs are
put in order on the way in (:mod:`server.gateway.ordering`). A client that reconnects within
``resume_ttl`` with its session id and last seq gets exactly what it missed;
otherwise it is told to re-sync.

The :class:`SessionRegistry` is this node's table of sessions and implements
the UserActor's :class:`actors.user.SessionSink` port for them.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Protocol

from actors.sessions import Delivery, SessionRef
from protocol.codec import encode_event_frame
from protocol.errors import CloseCode
from server.gateway.ordering import MAX_STREAMS, LogReader, Orderer

log = logging.getLogger("grover.sessions")


class Outlet(Protocol):
    """The live connection a session writes to."""

    def send(self, frame: bytes) -> None: ...

    def close_soon(self, code: int, reason: str) -> None: ...


class Session:
    __slots__ = (
        "attached_at",
        "buffer",
        "buffer_size",
        "closed",
        "connection",
        "detached_at",
        "id",
        "live_streams",
        "ref",
        "seq",
        "streams",
        "token_hash",
        "user_id",
        "waiting",
        "watching",
    )

    def __init__(self, session_id: str, node: str, buffer_size: int) -> None:
        self.id = session_id
        self.ref = SessionRef(node, session_id)
        self.user_id: str | None = None
        self.token_hash: str | None = None
        self.seq = 0
        self.buffer_size = buffer_size
        self.buffer: deque[bytes] | tuple[()] = ()
        """Encoded event *bodies*, the newest (``buffer[-1]``) with seq
        ``self.seq``; frames are made from them when sent or replayed. A
        body is the one object every recipient of an event shares (a live
        chat tick to 5,000 viewers is one body, not 5,000 frames held for
        resume). Made
        with the first event: an anonymous session never has one."""
        self.connection: Outlet | None = None
        self.detached_at: float | None = time.monotonic()
        self.attached_at = time.time()
        """Wall time the user logged in on this session (see :mod:`~server.gateway.ordering`)."""
        self.streams: OrderedDict[str, int] = OrderedDict()
        """The last seq shown of each conversation's log, in the order first met."""
        self.waiting: deque[Delivery] | None = None
        """Events that came while the log is read to fill a gap (``None``: no repair)."""
        self.closed = False
        """Ended: nothing is shown any more."""
        self.watching: set[str] | None = None
        """Posts watched (``post.watch``); made on the first watch."""
        self.live_streams: set[str] | None = None
        """Live streams joined or hosted (``stream.join``, ``stream.start``)."""

    def log_in(self, user_id: str, token_hash: str | None) -> None:
        self.user_id, self.token_hash = user_id, token_hash
        self.attached_at = time.time()
        self.streams.clear()
        self.waiting = None

    def log_out(self) -> None:
        """Forget the user, and the events buffered for them, so that no later
        resume or login on this session sees them."""
        self.user_id = self.token_hash = None
        self.buffer = ()
        self.streams.clear()
        self.waiting = None

    def place(self, stream: str, seq: int) -> None:
        self.streams[stream] = seq
        if len(self.streams) > MAX_STREAMS:
            self.streams.popitem(last=False)

    def emit(self, body: bytes) -> None:
        """Number an encoded event, keep it for resume, and send it if connected."""
        if self.user_id is None:
            return  # logged out: what an actor still sends is the old account's
        self.seq += 1
        buffer = self.buffer
        if not isinstance(buffer, deque):
            buffer = self.buffer = deque(maxlen=self.buffer_size)
        buffer.append(body)
        if self.connection is not None:
            self.connection.send(encode_event_frame(self.seq, body))

    def missed_since(self, last_seq: int) -> list[bytes] | None:
        """Frames with seq greater than ``last_seq``, in order, or ``None``
        when the buffer no longer holds all of them (or ``last_seq`` is ahead
        of this session, which a genuine client never sends)."""
        if last_seq > self.seq:
            return None
        count = self.seq - last_seq
        if count > len(self.buffer):
            return None
        return self.frames(count)

    def frames(self, count: int | None = None) -> list[bytes]:
        """The last ``count`` buffered events (all when ``None``) as frames,
        oldest first, each with its seq."""
        bodies = list(self.buffer)
        if count is not None:
            bodies = bodies[len(bodies) - count :] if count else []
        first = self.seq - len(bodies) + 1
        return [encode_event_frame(first + i, body) for i, body in enumerate(bodies)]


class SessionRegistry:
    """This node's sessions, by id."""

    def __init__(
        self,
        node: str,
        *,
        buffer_size: int,
        resume_ttl: float,
        on_expire: Callable[[Session], None],
        read_log: LogReader,
    ) -> None:
        self.node = node
        self.orderer: Orderer[Session] = Orderer(read_log, self.resync)
        self._buffer_size = buffer_size
        self._resume_ttl = resume_ttl
        self._on_expire = on_expire
        self._sessions: dict[str, Session] = {}
        self._sweeper: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._sessions)

    def create(self) -> Session:
        session = Session(secrets.token_hex(16), self.node, self._buffer_size)
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str) -> Session | None:
        return self._sessions.get(session_id)

    def attach(self, session: Session, connection: Outlet) -> None:
        session.connection = connection
        session.detached_at = None

    def detach(self, session: Session, connection: Outlet) -> None:
        """The connection went away; a logged-in session stays resumable for a
        while. An anonymous one ends now: nothing is pushed to it and nobody
        may resume it, so keeping it would only hold memory."""
        if session.connection is connection:
            session.connection = None
            session.detached_at = time.monotonic()
            if session.user_id is None:
                self.end(session)

    def end(self, session: Session) -> None:
        """Forget a session for good (expired, replaced by a resync, or closed)."""
        session.closed = True
        session.waiting = None
        if self._sessions.pop(session.id, None) is not None:
            self._on_expire(session)

    def end_all(self, code: int, reason: str) -> int:
        """End every session and close its connection with ``code`` (the
        node rejoined a cluster that took it for dead: events for these
        sessions may have been lost). Their users' actors are told, as on
        expiry. Returns how many sessions ended."""
        sessions = list(self._sessions.values())
        for session in sessions:
            if session.connection is not None:
                session.connection.close_soon(code, reason)
            self.end(session)
        return len(sessions)

    # ------------------------------------------------------ SessionSink port

    def push(self, ref: SessionRef, delivery: Delivery) -> None:
        session = self._sessions.get(ref.session_id)
        if session is not None:
            self.orderer.deliver(session, delivery)

    def close(self, ref: SessionRef, code: int, reason: str) -> None:
        session = self._sessions.get(ref.session_id)
        if session is None:
            return
        if session.connection is not None:
            session.connection.close_soon(code, reason)
        session.user_id = None
        self.end(session)

    def resync(self, session: Session, reason: str) -> None:
        """Events of the session were lost for good: end it, so that the
        client's reconnect is told to re-sync rather than resume a session
        with a hole."""
        log.warning("session must re-sync: %s", reason, extra={"session": session.id})
        if session.connection is not None:
            session.connection.close_soon(CloseCode.RESYNC, "events were lost; reconnect")
        self.end(session)

    # ---------------------------------------------------------------- expiry

    def start(self) -> None:
        self._sweeper = asyncio.get_running_loop().create_task(self._sweep())

    async def stop(self) -> None:
        if self._sweeper is not None:
            self._sweeper.cancel()
        await self.orderer.stop()

    def expire(self, now: float | None = None) -> int:
        """End sessions detached for longer than the resume TTL."""
        now = time.monotonic() if now is None else now
        expired = [
            s
            for s in self._sessions.values()
            if s.detached_at is not None and now - s.detached_at >= self._resume_ttl
        ]
        for session in expired:
            self.end(session)
        return len(expired)

    async def _sweep(self) -> None:
        interval = max(min(self._resume_ttl / 4, 30.0), 0.05)
        while True:
            await asyncio.sleep(interval)
            try:
                self.expire()
            except Exception:
                log.exception("session sweep failed")
