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

from actors.runtime import ActorSystem
from actors.sessions import SessionRef
from actors.store import Store
from actors.user import Attach, Detach, user_key
from server.auth import Passwords, Tokens
from server.config import Settings
from server.gateway.sessions import Session
from server.observability import logs
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
        """The logged-in user's id. The gateway refuses a request that needs
        a login before its handler runs, so a handler may rely on it."""
        user_id = self.session.user_id
        if user_id is None:
            raise AssertionError("login is checked by the gateway before this handler runs")
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
        later resume sees them."""
        session = self.session
        if session.user_id is not None:
            log.info("logged out")
            self.actors.tell(user_key(session.user_id), Detach(session.ref))
        session.log_out()
        logs.user_id_var.set(None)


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
