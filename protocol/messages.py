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


class ConversationView(msgspec.Struct, kw_only=True):
    id: str
    kind: Literal["direct", "group"]
    title: str
    created_by: str
    created_at: float
    members: list[MemberView]
    last_seq: int


class MemberView(msgspec.Struct, kw_only=True):
    user_id: str
    role: Literal["admin", "member"]
    read_seq: int


class MessageView(msgspec.Struct, kw_only=True):
    """An entry of a conversation's log. ``kind`` is ``message``, or ``edit`` /
    ``delete`` of the message at ``target_seq`` (only in ``msg.since`` and in
    events; ``msg.history`` shows messages as they are now)."""

    conversation_id: str
    seq: int
    id: str
    kind: Literal["message", "edit", "delete"]
    sender_id: str
    text: str
    media_url: str
    created_at: float
    edited_at: float | None
    deleted: bool
    target_seq: int | None
    client_key: str | None


class ConversationSummary(msgspec.Struct, kw_only=True):
    """A row of a conversation list."""

    id: str
    kind: Literal["direct", "group"]
    title: str
    last_seq: int
    last_activity_at: float
    last_preview: str
    last_sender_id: str | None
    read_seq: int
    unread: int


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


class MessageAck(msgspec.Struct, kw_only=True):
    """The message (or edit/delete) is durable. ``duplicate`` is true when the
    ``client_key`` had been used before: the original is returned, nothing new
    was stored or delivered."""

    conversation_id: str
    id: str
    seq: int
    created_at: float
    duplicate: bool


class MessageList(msgspec.Struct, kw_only=True):
    messages: list[MessageView]
    has_more: bool


class ConversationList(msgspec.Struct, kw_only=True):
    conversations: list[ConversationSummary]
    next_cursor: str | None
    """Pass as ``cursor`` for the next page; ``None`` on the last page."""


class Changes(msgspec.Struct, kw_only=True):
    conversations: list[ConversationSummary]
    cursor: str | None
    """Pass as ``cursor`` next time (and keep it for the next sync): the
    position after the last conversation returned. ``None`` only when there
    has been no change at all yet."""
    has_more: bool


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


ClientKey = Annotated[str, Meta(min_length=1, max_length=limits.CLIENT_KEY_MAX)]
MessageText = Annotated[str, Meta(max_length=limits.MESSAGE_TEXT_MAX)]
Title = Annotated[str, Meta(max_length=limits.TITLE_MAX)]
PageLimit = Annotated[int, Meta(ge=1, le=limits.PAGE_LIMIT_MAX)]
UserIds = Annotated[list[ObjectId], Meta(max_length=limits.GROUP_MEMBERS_MAX)]


class OpenDirect(Request, tag="conv.direct", kw_only=True):
    """Get or create the direct conversation with ``user_id``: exactly one
    exists per pair, even when both create it at the same moment."""

    user_id: ObjectId

    reply = ConversationView


class CreateGroup(Request, tag="conv.create_group", kw_only=True):
    """Create a group with the caller as its admin and ``member_ids`` as members
    (at most the server's ``group_max_members`` in all)."""

    title: Title
    member_ids: UserIds

    reply = ConversationView


class GetConversation(Request, tag="conv.get", kw_only=True):
    conversation_id: ObjectId

    reply = ConversationView


class AddMembers(Request, tag="conv.add_members", kw_only=True):
    """Admins only. Members get ``conversation.updated``."""

    conversation_id: ObjectId
    user_ids: Annotated[list[ObjectId], Meta(min_length=1, max_length=limits.GROUP_MEMBERS_MAX)]

    reply = ConversationView


class RemoveMember(Request, tag="conv.remove_member", kw_only=True):
    """Admins only."""

    conversation_id: ObjectId
    user_id: ObjectId

    reply = ConversationView


class LeaveConversation(Request, tag="conv.leave", kw_only=True):
    """Leave a group (direct conversations cannot be left)."""

    conversation_id: ObjectId


class ListConversations(Request, tag="conv.list", kw_only=True):
    """The caller's conversations, most recent activity first."""

    cursor: Annotated[str, Meta(max_length=128)] | None = None
    limit: PageLimit = 20

    reply = ConversationList


class SyncChanges(Request, tag="sync.changes", kw_only=True):
    """Conversations that changed after ``cursor`` (a previous reply's
    ``cursor``; omitted for all), oldest change first, with their
    ``last_seq``: fetch what is new with ``msg.since``. A conversation that
    changes again moves past the cursor and comes again."""

    cursor: Annotated[str, Meta(max_length=128)] | None = None
    limit: PageLimit = 50

    reply = Changes


class SendMessage(Request, tag="msg.send", kw_only=True):
    """Send text and/or a media URL. ``client_key`` makes retries safe: the
    same key returns the original message. The reply comes once the message is
    durable; members' sessions then get ``message.new``."""

    conversation_id: ObjectId
    client_key: ClientKey
    text: MessageText = ""
    media_url: Url = ""

    reply = MessageAck


class EditMessage(Request, tag="msg.edit", kw_only=True):
    """The sender edits their message; takes a new ``seq`` in the log."""

    conversation_id: ObjectId
    seq: Annotated[int, Meta(ge=1)]
    text: Annotated[str, Meta(min_length=1, max_length=limits.MESSAGE_TEXT_MAX)]

    reply = MessageAck


class DeleteMessage(Request, tag="msg.delete", kw_only=True):
    """The sender deletes their message (a tombstone stays in the log)."""

    conversation_id: ObjectId
    seq: Annotated[int, Meta(ge=1)]

    reply = MessageAck


class History(Request, tag="msg.history", kw_only=True):
    """Messages before ``before_seq`` (latest when omitted), newest first."""

    conversation_id: ObjectId
    before_seq: Annotated[int, Meta(ge=1)] | None = None
    limit: PageLimit = 50

    reply = MessageList


class MessagesSince(Request, tag="msg.since", kw_only=True):
    """Every log entry (messages, edits, deletes) after ``after_seq``, oldest first."""

    conversation_id: ObjectId
    after_seq: Annotated[int, Meta(ge=0)]
    limit: PageLimit = 100

    reply = MessageList


class MarkRead(Request, tag="msg.read", kw_only=True):
    """Everything up to ``seq`` is read; other members get ``receipt.read``."""

    conversation_id: ObjectId
    seq: Annotated[int, Meta(ge=0)]


class Typing(Request, tag="typing", kw_only=True):
    """Ephemeral: other members' live sessions get ``typing``; nothing is stored."""

    conversation_id: ObjectId


class BlockUser(Request, tag="user.block", kw_only=True):
    """Stop direct messages from ``user_id``."""

    user_id: ObjectId


class UnblockUser(Request, tag="user.unblock", kw_only=True):
    user_id: ObjectId


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
    OpenDirect,
    CreateGroup,
    GetConversation,
    AddMembers,
    RemoveMember,
    LeaveConversation,
    ListConversations,
    SyncChanges,
    SendMessage,
    EditMessage,
    DeleteMessage,
    History,
    MessagesSince,
    MarkRead,
    Typing,
    BlockUser,
    UnblockUser,
)

AnyRequest = (
    Hello
    | Ping
    | Register
    | Login
    | Logout
    | LogoutAll
    | GetProfile
    | UpdateProfile
    | SearchUsers
    | OpenDirect
    | CreateGroup
    | GetConversation
    | AddMembers
    | RemoveMember
    | LeaveConversation
    | ListConversations
    | SyncChanges
    | SendMessage
    | EditMessage
    | DeleteMessage
    | History
    | MessagesSince
    | MarkRead
    | Typing
    | BlockUser
    | UnblockUser
)


# ------------------------------------------------------------------- events


class Event(msgspec.Struct, tag_field="type", kw_only=True):
    """Base of every server-pushed event (carried inside an ``event`` frame)."""


class ProfileUpdated(Event, tag="profile.updated", kw_only=True):
    """The user's own profile changed (from any of their sessions)."""

    user: Me


class MessageNew(Event, tag="message.new", kw_only=True):
    """A new entry in a conversation's log: a message, or an edit or delete
    (``message.kind``). Per conversation these arrive in ``seq`` order."""

    message: MessageView


class ConversationUpdated(Event, tag="conversation.updated", kw_only=True):
    """Created, members added or removed, or the caller was removed
    (``removed`` true: the conversation is no longer theirs)."""

    conversation: ConversationView
    removed: bool = False


class ReadReceipt(Event, tag="receipt.read", kw_only=True):
    conversation_id: str
    user_id: str
    seq: int


class TypingEvent(Event, tag="typing", kw_only=True):
    conversation_id: str
    user_id: str


EVENT_TYPES: tuple[type[Event], ...] = (
    ProfileUpdated,
    MessageNew,
    ConversationUpdated,
    ReadReceipt,
    TypingEvent,
)

AnyEvent = ProfileUpdated | MessageNew | ConversationUpdated | ReadReceipt | TypingEvent


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
