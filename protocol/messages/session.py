"""Session: the handshake that opens every connection, and the keepalive."""

from __future__ import annotations

from typing import Annotated

import msgspec
from msgspec import Meta

from protocol import limits
from protocol.frames import Count, Event, ObjectId, Request, Seq
from protocol.messages.accounts import Me

Token = Annotated[str, Meta(min_length=1, max_length=limits.TOKEN_MAX)]


class Welcome(msgspec.Struct, kw_only=True):
    """Reply to ``hello``.

    ``resumed`` is true when the session named in ``hello.resume`` was taken
    over (which needs ``hello.token`` to be a valid token of that session's
    user): the events the client missed follow this reply, in order. ``resync``
    is true when it asked to resume but the server would not or could not: the
    session is unknown, expired or was never logged in, the ``hello`` carried
    no token or another user's, or the buffer moved past ``last_seq``. The
    client then got a new session and must re-sync its state with cursors.
    """

    version: int
    session_id: str
    heartbeat_interval: float
    resumed: bool
    resync: bool
    user: Me | None
    server_time: float


class Pong(msgspec.Struct, kw_only=True):
    server_time: float


class Resume(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    """The session a reconnecting client asks to take over. Honoured only when
    the same ``hello`` carries a valid ``token`` of the user that session was
    logged in as; a session id alone resumes nothing (``resync``)."""

    session_id: ObjectId
    last_seq: Seq
    """The highest event ``seq`` the client has processed."""


class Hello(Request, tag="hello", kw_only=True):
    """First request of every connection. Offers protocol versions; may log in
    with a token and may ask to resume an earlier session, which works only
    together with a token of the same user."""

    versions: Annotated[list[Count], Meta(min_length=1, max_length=limits.VERSIONS_MAX)]
    token: Token | None = None
    resume: Resume | None = None
    client: Annotated[str, Meta(max_length=limits.CLIENT_NAME_MAX)] | None = None

    reply = Welcome
    before_login = True


class Ping(Request, tag="ping", kw_only=True):
    """Round trip to the server; also an application-level keepalive."""

    reply = Pong
    before_login = True


REQUESTS: tuple[type[Request], ...] = (Hello, Ping)
EVENTS: tuple[type[Event], ...] = ()
