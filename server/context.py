"""What a request handler is given: the node's services and the caller.

Handlers never see the socket. A handler is ``async (services, caller,
request) -> reply``: :class:`Services` are the ports of this node (built once,
in :mod:`server.wiring`), :class:`Caller` is who sent the request (their
session, user and address) and the only way to change who that is (login,
logout). So a handler can be run, and tested, with a session and no socket.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import msgspec

from actors.errors import ActorError
from actors.live import Leave, stream_key
from actors.ports import LiveTokenIssuer, PaymentGateway
from actors.runtime import ActorSystem
from actors.sessions import SessionRef
from actors.social import Unwatch, post_key
from actors.store import Store
from actors.user import Attach, Detach, user_key
from protocol.errors import ErrorCode, ProtocolError
from server.auth import Passwords, Tokens
from server.config import Settings
from server.cursors import Cursors
from server.fanout import FanOut
from server.gateway.sessions import Session
from server.observability import logs
from server.observability.metrics import Metrics
from server.ratelimit import RateLimiter

log = logging.getLogger("grover.gateway")


@dataclass(frozen=True, slots=True)
class Services:
    """The ports of one node that handlers may use."""

    settings: Settings
    store: Store
    actors: ActorSystem
    tokens: Tokens
    passwords: Passwords
    limiter: RateLimiter
    cursors: Cursors
    fanout: FanOut
    live_tokens: LiveTokenIssuer
    payments: PaymentGateway
    metrics: Metrics | None = None
    """The node's metrics; ``None`` with the ``metrics`` setting off."""


class Caller:
    """The sender of a request: a session (resumable, so it may outlive the
    socket), and the peer's address for per-IP limits."""

    __slots__ = ("actors", "peer", "session")

    def __init__(self, session: Session, peer: str, actors: ActorSystem) -> None:
        self.session = session
        self.peer = peer
        self.actors = actors

    @property
    def ref(self) -> SessionRef:
        return self.session.ref

    @property
    def user_id(self) -> str | None:
        return self.session.user_id

    def user(self) -> str:
        """The logged-in user's id, or ``unauthenticated``. The gateway checks
        the login before a handler starts, but a session can still be logged
        out under a running request (``auth.logout_all`` from another device
        ends it), and that is the client's situation, not a server bug."""
        user_id = self.session.user_id
        if user_id is None:
            raise ProtocolError(ErrorCode.UNAUTHENTICATED, "not logged in")
        return user_id

    async def login(self, user_id: str, token_hash: str) -> None:
        """Log the session in and tell the user's actor where it is."""
        session = self.session
        session.log_in(user_id, token_hash)
        logs.user_id_var.set(user_id)
        await self.actors.ask(user_key(user_id), Attach(session.ref))
        log.info("logged in")

    async def logout(self) -> None:
        """Log the session out; its buffered events are forgotten so that no
        later resume sees them, and none of the account's events reaches it
        once this returns."""
        session = self.session
        user_id = session.user_id
        forget_watches(self.actors, session)
        forget_streams(self.actors, session)
        session.log_out()
        logs.user_id_var.set(None)
        if user_id is not None:
            log.info("logged out")
            key = user_key(user_id)
            try:
                # The actor handles its mailbox in order: once it answers, every
                # push it made before has reached the session (a logged-out
                # session drops them), so a later login here starts clean.
                await self.actors.ask(key, Detach(session.ref))
            except ActorError:
                # The session is logged out either way and drops the account's
                # events; the actor forgets it when the session ends.
                log.warning("logout could not reach the user's actor", exc_info=True)


def session_ended(actors: ActorSystem, session: Session) -> None:
    """A session ended for good (expired, closed, replaced): its watches stop,
    it leaves the live streams it joined, and its user's actor forgets it."""
    forget_watches(actors, session)
    forget_streams(actors, session)
    if session.user_id is not None:
        try:
            actors.tell(user_key(session.user_id), Detach(session.ref))
        except ActorError:
            log.warning("could not tell a user's actor that a session ended", exc_info=True)


def forget_watches(actors: ActorSystem, session: Session) -> None:
    """Stop the session's ``post.watch``es (logout, or the session ended)."""
    watching, session.watching = session.watching, None
    for post_id in watching or ():
        try:
            actors.tell(post_key(post_id), Unwatch(session.ref))
        except ActorError:
            log.warning("could not tell a post's actor that a watcher left", exc_info=True)


def forget_streams(actors: ActorSystem, session: Session) -> None:
    """Leave the live streams the session joined or hosted (logout, or the
    session ended: a dropped socket leaves once its session expires, the
    ``resume_ttl`` grace, so a quick reconnect keeps its place)."""
    joined, session.live_streams = session.live_streams, None
    for stream_id in joined or ():
        try:
            actors.tell(stream_key(stream_id), Leave(session.ref))
        except ActorError:
            log.warning("could not tell a stream's actor that a viewer left", exc_info=True)


Handler = Callable[[Services, Caller, Any], Awaitable[msgspec.Struct]]
"""``async (services, caller, request) -> reply``; refusals are raised as
:class:`protocol.errors.ProtocolError`."""

HandlerTable = Mapping[type, Handler]


def merge_handlers(*tables: HandlerTable) -> dict[type, Handler]:
    """One table from the domains' tables; a request type handled twice is a
    bug that must not be settled by import order, so it raises ``ValueError``."""
    merged: dict[type, Handler] = {}
    for table in tables:
        for request_type, handler in table.items():
            if request_type in merged:
                raise ValueError(f"{request_type.__name__} has two handlers")
            merged[request_type] = handler
    return merged
