"""Records as the domain would build them, for the store suites."""

from __future__ import annotations

from actors.ids import new_id
from actors.store import Store
from actors.store.accounts import AuthSessionRecord, UserRecord
from actors.store.live import ChatLineRecord, StreamRecord
from actors.store.messaging import (
    ConversationRecord,
    ConversationSummaryUpdate,
    MemberRecord,
    MessageRecord,
)
from actors.store.social import CommentRecord, GeoPoint, PostRecord


def make_user(username: str, *, email: str | None = None, display_name: str = "") -> UserRecord:
    """A user as the domain would build it: username and email lower-cased."""
    return UserRecord(
        id=new_id(),
        username=username.lower(),
        email=(email or f"{username}@example.com").lower(),
        password_hash="argon2id$fake",
        display_name=display_name,
        created_at=1_700_000_000.5,
    )


def usernames(users: list[UserRecord]) -> list[str]:
    return [user.username for user in users]


def make_session(user_id: str, *, expires_at: float = 2_000_000_000.0) -> AuthSessionRecord:
    return AuthSessionRecord(
        token_hash=new_id() + new_id(),
        user_id=user_id,
        created_at=1_700_000_000.0,
        expires_at=expires_at,
    )


T0 = 1_700_000_000.0


def pair_key(a: str, b: str) -> str:
    low, high = sorted((a, b))
    return f"{low}:{high}"


def make_conversation(
    creator: str,
    *,
    kind: str = "group",
    direct_key: str | None = None,
    at: float = T0,
    title: str = "",
) -> ConversationRecord:
    return ConversationRecord(
        id=new_id(),
        kind=kind,
        title=title,
        created_by=creator,
        created_at=at,
        direct_key=direct_key,
        last_activity_at=at,
    )


def make_member(
    conversation_id: str, user_id: str, *, role: str = "member", joined_at: float = T0
) -> MemberRecord:
    return MemberRecord(
        conversation_id=conversation_id, user_id=user_id, role=role, joined_at=joined_at
    )


def make_entry(
    conversation_id: str,
    seq: int,
    sender: str,
    *,
    kind: str = "message",
    text: str = "",
    media_url: str = "",
    client_key: str | None = None,
    target_seq: int | None = None,
) -> MessageRecord:
    return MessageRecord(
        conversation_id=conversation_id,
        seq=seq,
        id=new_id(),
        kind=kind,
        sender_id=sender,
        client_key=client_key,
        text=text,
        media_url=media_url,
        created_at=T0 + seq,
        target_seq=target_seq,
    )


def summary_of(entries: list[MessageRecord]) -> ConversationSummaryUpdate:
    """What the ConversationActor writes for a batch: the last entry's seq and
    time, and the last message's preview and sender (``None`` if none)."""
    messages = [e for e in entries if e.kind == "message"]
    return ConversationSummaryUpdate(
        last_seq=entries[-1].seq,
        last_activity_at=entries[-1].created_at,
        last_preview=messages[-1].text if messages else None,
        last_sender_id=messages[-1].sender_id if messages else None,
    )


async def new_group(store: Store, *users: str, at: float = T0) -> ConversationRecord:
    conversation = make_conversation(users[0], at=at)
    await store.conversations.create(
        conversation, [make_member(conversation.id, u, joined_at=at) for u in users]
    )
    return conversation


def seqs(entries: list[MessageRecord]) -> list[int]:
    return [entry.seq for entry in entries]


def make_post(
    user_id: str,
    *,
    at: float = T0,
    text: str = "",
    client_key: str | None = None,
    tags: list[str] | None = None,
    location: GeoPoint | None = None,
) -> PostRecord:
    return PostRecord(
        id=new_id(),
        user_id=user_id,
        text=text,
        tags=tags or [],
        location=location,
        client_key=client_key,
        created_at=at,
    )


def make_comment(
    post_id: str,
    user_id: str,
    *,
    parent: str | None = None,
    at: float = T0,
    text: str = "hi",
    client_key: str | None = None,
) -> CommentRecord:
    return CommentRecord(
        id=new_id(),
        post_id=post_id,
        user_id=user_id,
        parent_comment_id=parent,
        text=text,
        client_key=client_key,
        created_at=at,
    )


def make_stream(
    host: str,
    *,
    status: str = "scheduled",
    at: float = T0,
    scheduled_time: float | None = None,
    viewer_count: int = 0,
) -> StreamRecord:
    """A stream as the stream handlers would build it (channel from the id)."""
    stream_id = new_id()
    return StreamRecord(
        id=stream_id,
        host_id=host,
        title=f"{host} live",
        tags=["music", "late night"],
        moderators=["mod1"],
        status=status,
        channel=f"stream_{stream_id}",
        scheduled_time=scheduled_time,
        start_time=at if status != "scheduled" else None,
        viewer_count=viewer_count,
        created_at=at,
    )


def make_line(
    stream_id: str,
    user: str = "u1",
    *,
    at: float = T0,
    text: str = "hi",
    client_key: str | None = None,
) -> ChatLineRecord:
    return ChatLineRecord(
        id=new_id(),
        stream_id=stream_id,
        user_id=user,
        text=text,
        client_key=client_key,
        created_at=at,
    )
