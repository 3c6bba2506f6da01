"""The messaging domain's rules and the ConversationActor's interface: the
messages it takes (typed by their replies), how a direct conversation's id
derives from its pair, and the views and previews made from records. Pure:
no I/O, no state.
"""

from __future__ import annotations

import hashlib

import msgspec

from actors.ids import ActorKey
from actors.message import Ask, Message
from actors.sessions import SessionRef
from actors.store.messaging import ConversationSummaryUpdate, MessageRecord
from protocol.messages import messaging as m

KIND = "conversation"
PREVIEW_CHARS = 80


def conversation_key(conversation_id: str) -> ActorKey:
    return ActorKey(KIND, conversation_id)


def direct_key(a: str, b: str) -> str:
    """The unique key of the direct conversation between two users."""
    low, high = sorted((a, b))
    return f"{low}:{high}"


def direct_conversation_id(a: str, b: str) -> str:
    """The id of the direct conversation between two users, derived from the
    pair: two users creating it at once create the same id, and a block can
    reach the conversation's actor without a lookup."""
    return hashlib.sha256(direct_key(a, b).encode()).hexdigest()[:24]


# ---------------------------------------------------------------- messages


class Send(Ask[m.MessageAck], frozen=True):
    sender_id: str
    client_key: str
    text: str
    media_url: str
    origin: SessionRef | None = None


class Edit(Ask[m.MessageAck], frozen=True):
    sender_id: str
    seq: int
    text: str
    origin: SessionRef | None = None


class Delete(Ask[m.MessageAck], frozen=True):
    sender_id: str
    seq: int
    origin: SessionRef | None = None


class Read(Ask[None], frozen=True):
    user_id: str
    seq: int
    origin: SessionRef | None = None


class TypingNotice(Ask[None], frozen=True):
    user_id: str


class View(Ask[m.ConversationView], frozen=True):
    """The conversation as ``user_id`` (a member) sees it."""

    user_id: str


class OpenDirect(Ask[m.ConversationView], frozen=True):
    """Get or create the direct conversation of ``user_id`` and ``other_id``
    (sent to the actor of their derived id). On creation every member's
    sessions but ``origin`` get ``conversation.updated``."""

    user_id: str
    other_id: str
    origin: SessionRef | None = None


class CreateGroup(Ask[m.ConversationView], frozen=True):
    """Create the group this actor's id names, ``by`` its admin."""

    by: str
    title: str
    member_ids: list[str]
    origin: SessionRef | None = None


class AddMembers(Ask[m.ConversationView], frozen=True):
    by: str
    user_ids: list[str]


class RemoveMember(Ask[m.ConversationView], frozen=True):
    by: str
    user_id: str


class Leave(Ask[None], frozen=True):
    user_id: str


class RefreshBlocks(Ask[None], frozen=True):
    """Block state between the two members of a direct conversation changed."""


MESSAGES: tuple[type[Message], ...] = (
    Send,
    Edit,
    Delete,
    Read,
    TypingNotice,
    View,
    OpenDirect,
    CreateGroup,
    AddMembers,
    RemoveMember,
    Leave,
    RefreshBlocks,
)
"""Every message a ConversationActor takes (the cluster's wire registry is built from it)."""


# ------------------------------------------------------------------ views


def message_view(record: MessageRecord) -> m.MessageView:
    return msgspec.convert(record, m.MessageView, from_attributes=True)


def ack(record: MessageRecord, *, duplicate: bool) -> m.MessageAck:
    return m.MessageAck(
        conversation_id=record.conversation_id,
        id=record.id,
        seq=record.seq,
        created_at=record.created_at,
        duplicate=duplicate,
    )


def preview(record: MessageRecord) -> str:
    if record.text:
        return record.text[:PREVIEW_CHARS]
    return "[media]" if record.media_url else ""


def batch_summary(batch: list[MessageRecord]) -> ConversationSummaryUpdate | None:
    """What a committed batch of log entries changes in its conversation's
    summary (``None`` for an empty batch): the last seq and activity, and the
    preview and sender of its last message, if it has one."""
    if not batch:
        return None
    last = batch[-1]
    messages = [r for r in batch if r.kind == "message"]
    return ConversationSummaryUpdate(
        last_seq=last.seq,
        last_activity_at=last.created_at,
        last_preview=preview(messages[-1]) if messages else None,
        last_sender_id=messages[-1].sender_id if messages else None,
    )
