"""Messaging: conversations (direct and group), their messages, read marks and
typing indicators."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from protocol import limits
from protocol.frames import Event, ObjectId, PositiveSeq, Request, Seq, Url

ClientKey = Annotated[str, Meta(min_length=1, max_length=limits.CLIENT_KEY_MAX)]
MessageText = Annotated[str, Meta(max_length=limits.MESSAGE_TEXT_MAX)]
Title = Annotated[str, Meta(max_length=limits.TITLE_MAX)]
PageLimit = Annotated[int, Meta(ge=1, le=limits.PAGE_LIMIT_MAX)]
UserIds = Annotated[list[ObjectId], Meta(max_length=limits.GROUP_MEMBERS_MAX)]


# --------------------------------------------------------------------- views


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
    ``delete`` of the message at ``target_seq`` (only in ``message.since`` and in
    events; ``message.history`` shows messages as they are now)."""

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
    """A page of a conversation's log. It holds at most ``limit`` entries, and
    fewer when more would make the reply larger than ``MAX_REPLY_BYTES``; ask
    again from the last entry's ``seq`` while ``has_more``."""

    messages: list[MessageView]
    has_more: bool
    """More entries follow (beyond ``limit``, or cut short by the reply budget)."""


class ConversationList(msgspec.Struct, kw_only=True):
    """A page of the caller's conversations: at most ``limit``, fewer when more
    would make the reply larger than ``MAX_REPLY_BYTES``."""

    conversations: list[ConversationSummary]
    next_cursor: str | None
    """Pass as ``cursor`` for the next page; ``None`` on the last page. Opaque:
    send it back exactly as received (its format may change without notice)."""


class Changes(msgspec.Struct, kw_only=True):
    """Conversations that changed: at most ``limit``, fewer when more would make
    the reply larger than ``MAX_REPLY_BYTES``."""

    conversations: list[ConversationSummary]
    cursor: str | None
    """Pass as ``cursor`` next time (and keep it for the next sync): the
    position after the last conversation returned. ``None`` only when there
    has been no change at all yet. Opaque: send it back exactly as received."""
    has_more: bool
    """More changes follow: ask again at once with ``cursor``."""


# ----------------------------------------------------------------- requests


class OpenDirect(Request, tag="conversation.open_direct", kw_only=True):
    """Get or create the direct conversation with ``user_id``: exactly one
    exists per pair, even when both create it at the same moment."""

    user_id: ObjectId

    reply = ConversationView


class CreateGroup(Request, tag="conversation.create_group", kw_only=True):
    """Create a group with the caller as its admin and ``member_ids`` as members
    (at most the server's ``group_max_members`` in all, the caller included;
    more is refused with ``forbidden``)."""

    title: Title
    member_ids: UserIds

    reply = ConversationView


class GetConversation(Request, tag="conversation.get", kw_only=True):
    conversation_id: ObjectId

    reply = ConversationView


class AddMembers(Request, tag="conversation.add_members", kw_only=True):
    """Admins only. Members get ``conversation.updated``. A group that would
    grow past the server's ``group_max_members`` is refused with ``forbidden``
    (the code also used when the caller is not an admin; ``message`` tells
    them apart for humans)."""

    conversation_id: ObjectId
    user_ids: Annotated[list[ObjectId], Meta(min_length=1, max_length=limits.GROUP_MEMBERS_MAX)]

    reply = ConversationView


class RemoveMember(Request, tag="conversation.remove_member", kw_only=True):
    """Admins only."""

    conversation_id: ObjectId
    user_id: ObjectId

    reply = ConversationView


class LeaveConversation(Request, tag="conversation.leave", kw_only=True):
    """Leave a group (direct conversations cannot be left)."""

    conversation_id: ObjectId


class ListConversations(Request, tag="conversation.list", kw_only=True):
    """The caller's conversations, most recent activity first."""

    cursor: Annotated[str, Meta(max_length=128)] | None = None
    """A previous reply's ``next_cursor``, exactly as received (an opaque
    string); omitted for the first page. A malformed one is ``invalid_field``."""
    limit: PageLimit = 20

    reply = ConversationList


class SyncChanges(Request, tag="conversation.sync", kw_only=True):
    """Conversations that changed after ``cursor`` (a previous reply's
    ``cursor``; omitted for all), oldest change first, with their
    ``last_seq``: fetch what is new with ``message.since``. A conversation that
    changes again moves past the cursor and comes again."""

    cursor: Annotated[str, Meta(max_length=128)] | None = None
    """A previous reply's ``cursor``, exactly as received (an opaque string)."""
    limit: PageLimit = 50

    reply = Changes


class SendMessage(Request, tag="message.send", kw_only=True):
    """Send text and/or a medium. ``client_key`` makes retries safe: the
    same key returns the original message. The reply comes once the message is
    durable; members' sessions then get ``message.new``."""

    conversation_id: ObjectId
    client_key: ClientKey
    text: MessageText = ""
    media_id: ObjectId | None = None
    """One of the caller's unused uploads (``POST /v1/media``); the message's
    ``media_url`` is its URL. Another user's or a used one is ``forbidden``."""
    media_url: Url = ""
    """Deprecated (protocol 2 clients before uploads existed): a URL taken
    as it is, not checked. Ignored when ``media_id`` is given; goes with
    protocol version 3."""

    reply = MessageAck


class EditMessage(Request, tag="message.edit", kw_only=True):
    """The sender edits their message; takes a new ``seq`` in the log."""

    conversation_id: ObjectId
    seq: PositiveSeq
    text: Annotated[str, Meta(min_length=1, max_length=limits.MESSAGE_TEXT_MAX)]

    reply = MessageAck


class DeleteMessage(Request, tag="message.delete", kw_only=True):
    """The sender deletes their message (a tombstone stays in the log)."""

    conversation_id: ObjectId
    seq: PositiveSeq

    reply = MessageAck


class History(Request, tag="message.history", kw_only=True):
    """Messages before ``before_seq`` (latest when omitted), newest first. For
    the next page, pass the last message's ``seq`` as ``before_seq``."""

    conversation_id: ObjectId
    before_seq: PositiveSeq | None = None
    limit: PageLimit = 50

    reply = MessageList


class MessagesSince(Request, tag="message.since", kw_only=True):
    """Every log entry (messages, edits, deletes) after ``after_seq``, oldest
    first. For the next page, pass the last entry's ``seq`` as ``after_seq``."""

    conversation_id: ObjectId
    after_seq: Seq
    limit: PageLimit = 100

    reply = MessageList


class MarkRead(Request, tag="conversation.mark_read", kw_only=True):
    """Everything up to ``seq`` is read; other members get ``receipt.read``."""

    conversation_id: ObjectId
    seq: Seq


class Typing(Request, tag="typing.start", kw_only=True):
    """Ephemeral: other members' live sessions get ``typing.started``; nothing is stored."""

    conversation_id: ObjectId


# ------------------------------------------------------------------- events


class MessageNew(Event, tag="message.new", kw_only=True):
    """A new entry in a conversation's log: a message, or an edit or delete
    (``message.kind``).

    Per session and conversation, entries arrive at most once and in ``seq``
    order, and never after a hole: an entry the server's own path lost or
    delayed is read back from the log and shown before the ones after it.
    When that cannot be done the connection closes with 4009 and the client,
    reconnecting, is told to re-sync. The session that sent a message gets
    its ack instead of this event, except for an entry filled in from the
    log (the log does not say which session sent it)."""

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


class TypingEvent(Event, tag="typing.started", kw_only=True):
    conversation_id: str
    user_id: str


REQUESTS: tuple[type[Request], ...] = (
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
)
EVENTS: tuple[type[Event], ...] = (MessageNew, ConversationUpdated, ReadReceipt, TypingEvent)
