"""The frame layer: the bases every message builds on, the frames the server
sends, and field types shared by more than one domain.

Frames are msgpack maps with a ``type`` key. A client sends *requests*; each
carries an ``id`` and gets exactly one ``reply`` (with typed ``data``) or one
``error`` frame with the same id. The server also pushes ``event`` frames, each
with a per-session ``seq`` that increases by one, so that a reconnecting client
can resume exactly where it stopped.

The requests and events themselves live in :mod:`protocol.messages`, one module
per domain; :mod:`protocol.catalog` gathers them. Constraints (lengths,
patterns, ranges) are declared on the structs and enforced while decoding: a
frame that breaks one never reaches a handler. ``docs/protocol.md`` is
generated from these modules (``python -m protocol.docs``).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec
from msgspec import Meta

from protocol import limits

RequestId = Annotated[int, Meta(ge=0, le=limits.MAX_REQUEST_ID)]
Count = Annotated[int, Meta(ge=0, le=limits.MAX_INT)]
"""A non-negative integer that fits the stores' signed 64-bit integers."""
Seq = Count
"""A position in a log (0: before the first entry)."""
PositiveSeq = Annotated[int, Meta(ge=1, le=limits.MAX_INT)]
"""The ``seq`` of an existing log entry (entries are numbered from 1)."""
ObjectId = Annotated[str, Meta(min_length=1, max_length=limits.SESSION_ID_MAX)]
Url = Annotated[str, Meta(max_length=limits.URL_MAX, pattern=limits.URL_PATTERN)]


class Empty(msgspec.Struct):
    """A reply with no data."""


class Request(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    """Base of every client request. ``id`` must increase strictly on a
    connection (not across a session's connections: a resumed session's new
    connection may start again from 0); the reply or error carries it back.

    Requests are pipelined: up to 64 run concurrently per connection (the
    server stops reading while 64 are in flight) and their replies may come in
    any order; match them by ``id``. Orders that are kept: requests that go to
    one conversation (sends, edits, deletes, read marks) are handled in the
    order they arrived, and so are those that change one user's profile; a
    request that *changes the login* (``auth.register``, ``auth.login``,
    ``auth.logout``, ``auth.logout_all``) waits until every earlier request of
    the connection has been answered, and later ones start only after it has
    been answered, so each request runs entirely as one user (or none). A
    request that needs a login and finds the session logged out by then gets
    ``unauthenticated``."""

    id: RequestId

    reply: ClassVar[type[msgspec.Struct]] = Empty
    """The struct the ``data`` of a successful reply decodes into."""
    before_login: ClassVar[bool] = False
    """Whether the request is allowed on a session that is not logged in."""
    changes_login: ClassVar[bool] = False
    """Whether the request changes who the connection is logged in as; it runs
    alone on its connection (see above)."""


class Event(msgspec.Struct, tag_field="type", kw_only=True):
    """Base of every server-pushed event (carried inside an ``event`` frame)."""


# ------------------------------------------------------------ server frames


class ServerFrame(msgspec.Struct, tag_field="type", kw_only=True):
    """Base of every frame the server sends."""


class ReplyFrame(ServerFrame, tag="reply", kw_only=True):
    id: int
    data: msgspec.Raw
    """The request type's ``reply`` struct, msgpack-encoded."""


class ErrorFrame(ServerFrame, tag="error", kw_only=True):
    id: int | None
    """The failed request's id; ``None`` when the frame had no readable id."""
    code: str
    """An :class:`protocol.errors.ErrorCode` value."""
    message: str
    retry_after: float | None = None
    """Seconds to wait, for ``rate_limited`` and ``overloaded``: rounded up to
    the millisecond, so waiting that long is always enough. Sending the same
    request type again before it has passed counts toward closing the
    connection with 1008; waiting it out never does."""


class EventFrame(ServerFrame, tag="event", kw_only=True):
    seq: int
    """Per-session sequence number, starting at 1 and increasing by one."""
    event: msgspec.Raw
    """One of the event structs, msgpack-encoded."""


AnyServerFrame = ReplyFrame | ErrorFrame | EventFrame
