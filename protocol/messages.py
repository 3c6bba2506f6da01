"""The message catalog: every frame of the protocol as a msgspec struct.

Frames are msgpack maps with a ``type`` key. A client sends *requests*; each
carries an ``id`` and gets exactly one ``reply`` (with typed ``data``) or one
``error`` frame with the same id. The server also pushes ``event`` frames, each
with a per-session ``seq`` that increases by one, so that a reconnecting client
can resume exactly where it stopped.

Constraints (lengths, patterns, ranges) are declared here and enforced while
decoding: a frame that breaks one never reaches a handler. ``docs/protocol.md``
is generated from this module (``python -m protocol.docs``).
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec
from msgspec import Meta

from protocol import limits

RequestId = Annotated[int, Meta(ge=0, le=limits.MAX_REQUEST_ID)]
Seq = Annotated[int, Meta(ge=0)]
Username = Annotated[
    str,
    Meta(
        min_length=limits.USERNAME_MIN,
        max_length=limits.USERNAME_MAX,
        pattern=limits.USERNAME_PATTERN,
    ),
]
Email = Annotated[str, Meta(max_length=limits.EMAIL_MAX, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")]
Password = Annotated[str, Meta(min_length=limits.PASSWORD_MIN, max_length=limits.PASSWORD_MAX)]
DisplayName = Annotated[str, Meta(max_length=limits.DISPLAY_NAME_MAX)]
Bio = Annotated[str, Meta(max_length=limits.BIO_MAX)]
Url = Annotated[str, Meta(max_length=limits.URL_MAX, pattern=r"^(https?://\S+)?$")]
Token = Annotated[str, Meta(min_length=1, max_length=limits.TOKEN_MAX)]
ObjectId = Annotated[str, Meta(min_length=1, max_length=limits.SESSION_ID_MAX)]


# --------------------------------------------------------------------- views


class UserProfile(msgspec.Struct, kw_only=True):
    """What anyone may see of a user."""

    id: str
    username: str
    display_name: str
    bio: str
    avatar_url: str
    created_at: float


class Me(UserProfile, kw_only=True):
    """What a user sees of themself."""

    email: str


# ------------------------------------------------------------------ replies


class Empty(msgspec.Struct):
    """A reply with no data."""


class Welcome(msgspec.Struct, kw_only=True):
    """Reply to ``hello``.

    ``resumed`` is true when the session named in ``hello.resume`` was taken
    over: the events the client missed follow this reply, in order. ``resync``
    is true when it asked to resume but the server could not cover the gap (the
    session expired or its buffer moved past ``last_seq``): the client got a new
    session and must re-sync its state with cursors.
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


class AuthOk(msgspec.Struct, kw_only=True):
    """A bearer token for ``hello.token`` and the account it belongs to."""

    token: str
    expires_at: float
    user: Me


class Revoked(msgspec.Struct, kw_only=True):
    sessions: int


class UserList(msgspec.Struct, kw_only=True):
    users: list[UserProfile]


# ----------------------------------------------------------------- requests


class Request(msgspec.Struct, tag_field="type", forbid_unknown_fields=True, kw_only=True):
    """Base of every client request. ``id`` must increase strictly within a
    session; the reply or error carries it back."""

    id: RequestId

    reply: ClassVar[type[msgspec.Struct]] = Empty
    """The struct the ``data`` of a successful reply decodes into."""
    before_login: ClassVar[bool] = False
    """Whether the request is allowed on a session that is not logged in."""


class Resume(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    session_id: ObjectId
    last_seq: Seq
    """The highest event ``seq`` the client has processed."""


class Hello(Request, tag="hello", kw_only=True):
    """First request of every connection. Offers protocol versions; may log in
    with a token and may ask to resume an earlier session."""

    versions: Annotated[list[int], Meta(min_length=1, max_length=limits.VERSIONS_MAX)]
    token: Token | None = None
    resume: Resume | None = None
    client: Annotated[str, Meta(max_length=limits.CLIENT_NAME_MAX)] | None = None

    reply = Welcome
    before_login = True


class Ping(Request, tag="ping", kw_only=True):
    """Round trip to the server; also an application-level keepalive."""

    reply = Pong
    before_login = True


class Register(Request, tag="auth.register", kw_only=True):
    """Create an account and log this session in. The username is stored
    lower-case and is unique case-insensitively, as is the email."""

    username: Username
    email: Email
    password: Password
    display_name: DisplayName = ""

    reply = AuthOk
    before_login = True


class Login(Request, tag="auth.login", kw_only=True):
    """Log this session in by username or email. Unknown user and wrong
    password give the same ``invalid_credentials`` error; failures are
    rate-limited per account and per IP."""

    login: Annotated[str, Meta(min_length=1, max_length=limits.EMAIL_MAX)]
    password: Annotated[str, Meta(min_length=1, max_length=limits.PASSWORD_MAX)]

    reply = AuthOk
    before_login = True


class Logout(Request, tag="auth.logout", kw_only=True):
    """Revoke this session's token; the connection stays open, logged out."""


class LogoutAll(Request, tag="auth.logout_all", kw_only=True):
    """Revoke every token of the account; other live sessions are closed
    with 4003 and this one stays open, logged out."""

    reply = Revoked


class GetProfile(Request, tag="profile.get", kw_only=True):
    user_id: ObjectId

    reply = UserProfile


class UpdateProfile(Request, tag="profile.update", kw_only=True):
    """Change the fields given; the user's other sessions get ``profile.updated``."""

    display_name: DisplayName | None = None
    bio: Bio | None = None
    avatar_url: Url | None = None

    reply = Me


class SearchUsers(Request, tag="users.search", kw_only=True):
    """``prefix`` matches the start of username or display name; ``text`` is
    full-text search over both."""

    query: Annotated[str, Meta(min_length=1, max_length=limits.SEARCH_QUERY_MAX)]
    mode: Literal["prefix", "text"] = "prefix"
    limit: Annotated[int, Meta(ge=1, le=limits.SEARCH_LIMIT_MAX)] = 20

    reply = UserList


REQUEST_TYPES: tuple[type[Request], ...] = (
    Hello,
    Ping,
    Register,
    Login,
    Logout,
    LogoutAll,
    GetProfile,
    UpdateProfile,
    SearchUsers,
)

AnyRequest = (
    Hello | Ping | Register | Login | Logout | LogoutAll | GetProfile | UpdateProfile | SearchUsers
)


# ------------------------------------------------------------------- events


class Event(msgspec.Struct, tag_field="type", kw_only=True):
    """Base of every server-pushed event (carried inside an ``event`` frame)."""


class ProfileUpdated(Event, tag="profile.updated", kw_only=True):
    """The user's own profile changed (from any of their sessions)."""

    user: Me


EVENT_TYPES: tuple[type[Event], ...] = (ProfileUpdated,)

AnyEvent = ProfileUpdated


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
    """Seconds to wait, for ``rate_limited`` and ``overloaded``."""


class EventFrame(ServerFrame, tag="event", kw_only=True):
    seq: int
    """Per-session sequence number, starting at 1 and increasing by one."""
    event: msgspec.Raw
    """One of the event structs, msgpack-encoded."""


AnyServerFrame = ReplyFrame | ErrorFrame | EventFrame

REQUESTS_BY_TYPE: dict[str, type[Request]] = {
    str(cls.__struct_config__.tag): cls for cls in REQUEST_TYPES
}
