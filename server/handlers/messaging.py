"""Handlers for conversations, messages, receipts, typing and blocks.

Everything that changes a conversation goes through its ConversationActor;
reads of durable history go to the store after a membership check. Sends,
edits, deletes and read marks reply only once durable: the actor answers with
a future that its batch commit resolves (a deferred reply, which ``ask``
awaits outside the actor), so its mailbox keeps moving meanwhile.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec

from actors.conversation import (
    Ack,
    AddMembers,
    Announce,
    Delete,
    Edit,
    Leave,
    Read,
    RefreshBlocks,
    RemoveMember,
    Send,
    TypingNotice,
    View,
    conversation_key,
    direct_conversation_id,
    direct_key,
    message_view,
)
from actors.ids import new_id
from actors.store.messaging import ConversationRecord, MemberRecord, MessageRecord
from protocol.errors import ErrorCode, ProtocolError
from protocol.frames import Empty
from protocol.messages import accounts
from protocol.messages import messaging as m
from server.gateway import Connection, Handler
from server.session import Session


def _logged_in(conn: Connection) -> tuple[Session, str]:
    """The connection's session and its user (the gateway checks login before
    any of these handlers runs)."""
    session = conn.session
    assert session is not None and session.user_id is not None, "login is checked by the gateway"
    return session, session.user_id


def _user_id(conn: Connection) -> str:
    return _logged_in(conn)[1]


async def _ask(conn: Connection, conversation_id: str, message: Any) -> Any:
    return await conn.app.actors.ask(conversation_key(conversation_id), message)


def _ack(ack: Ack) -> m.MessageAck:
    record: MessageRecord = ack.record
    return m.MessageAck(
        conversation_id=record.conversation_id,
        id=record.id,
        seq=record.seq,
        created_at=record.created_at,
        duplicate=ack.duplicate,
    )


# ---------------------------------------------------------- conversations


async def open_direct(conn: Connection, req: m.OpenDirect) -> m.ConversationView:
    session, me = _logged_in(conn)
    if req.user_id == me:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "a direct conversation needs another user")
    if await conn.app.store.users.get(req.user_id) is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such user")
    now = time.time()
    conversation_id = direct_conversation_id(me, req.user_id)
    record = ConversationRecord(
        id=conversation_id,
        kind="direct",
        created_by=me,
        created_at=now,
        direct_key=direct_key(me, req.user_id),
        last_activity_at=now,
    )
    members = [
        MemberRecord(conversation_id=conversation_id, user_id=uid, role="member", joined_at=now)
        for uid in sorted((me, req.user_id))
    ]
    _, created = await conn.app.store.conversations.get_or_create_direct(record, members)
    if created:
        view: m.ConversationView = await _ask(
            conn, conversation_id, Announce(user_id=me, origin=session.ref)
        )
        return view
    existing: m.ConversationView = await _ask(conn, conversation_id, View(user_id=me))
    return existing


async def create_group(conn: Connection, req: m.CreateGroup) -> m.ConversationView:
    session, me = _logged_in(conn)
    app = conn.app
    others = [uid for uid in dict.fromkeys(req.member_ids) if uid != me]
    if len(others) + 1 > app.settings.group_max_members:
        raise ProtocolError(
            ErrorCode.FORBIDDEN, f"a group has at most {app.settings.group_max_members} members"
        )
    for uid in others:
        if await app.store.users.get(uid) is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, f"no such user {uid}")
    now = time.time()
    conversation_id = new_id()
    record = ConversationRecord(
        id=conversation_id,
        kind="group",
        title=req.title,
        created_by=me,
        created_at=now,
        last_activity_at=now,
    )
    members = [
        MemberRecord(conversation_id=conversation_id, user_id=me, role="admin", joined_at=now)
    ] + [
        MemberRecord(conversation_id=conversation_id, user_id=uid, role="member", joined_at=now)
        for uid in others
    ]
    await app.store.conversations.create(record, members)
    view: m.ConversationView = await _ask(
        conn, conversation_id, Announce(user_id=me, origin=session.ref)
    )
    return view


async def get_conversation(conn: Connection, req: m.GetConversation) -> m.ConversationView:
    view: m.ConversationView = await _ask(conn, req.conversation_id, View(user_id=_user_id(conn)))
    return view


async def add_members(conn: Connection, req: m.AddMembers) -> m.ConversationView:
    view: m.ConversationView = await _ask(
        conn, req.conversation_id, AddMembers(by=_user_id(conn), user_ids=list(req.user_ids))
    )
    return view


async def remove_member(conn: Connection, req: m.RemoveMember) -> m.ConversationView:
    view: m.ConversationView = await _ask(
        conn, req.conversation_id, RemoveMember(by=_user_id(conn), user_id=req.user_id)
    )
    return view


async def leave(conn: Connection, req: m.LeaveConversation) -> Empty:
    await _ask(conn, req.conversation_id, Leave(user_id=_user_id(conn)))
    return Empty()


def _encode_cursor(record: ConversationRecord) -> str:
    return f"{record.last_activity_at!r}|{record.id}"


def _decode_cursor(cursor: str) -> tuple[float, str]:
    stamp, _, conversation_id = cursor.partition("|")
    try:
        return float(stamp), conversation_id
    except ValueError:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "malformed cursor") from None


async def _summaries(
    conn: Connection, rows: list[tuple[ConversationRecord, MemberRecord]]
) -> list[m.ConversationSummary]:
    messages = conn.app.store.messages
    summaries = []
    for record, member in rows:
        unread = await messages.unread_count(record.id, member.user_id, member.read_seq)
        fields = msgspec.structs.asdict(record)
        fields.update(read_seq=member.read_seq, unread=unread)
        summaries.append(msgspec.convert(fields, m.ConversationSummary))
    return summaries


async def list_conversations(conn: Connection, req: m.ListConversations) -> m.ConversationList:
    before = _decode_cursor(req.cursor) if req.cursor else None
    rows = await conn.app.store.conversations.list_for_user(
        _user_id(conn), before=before, limit=req.limit + 1
    )
    page = rows[: req.limit]
    next_cursor = _encode_cursor(page[-1][0]) if len(rows) > req.limit else None
    return m.ConversationList(conversations=await _summaries(conn, page), next_cursor=next_cursor)


async def sync_changes(conn: Connection, req: m.SyncChanges) -> m.Changes:
    rows = await conn.app.store.conversations.changed_since(
        _user_id(conn), req.since, req.limit + 1
    )
    page = rows[: req.limit]
    cursor = page[-1][0].last_activity_at if page else req.since
    return m.Changes(
        conversations=await _summaries(conn, page), cursor=cursor, has_more=len(rows) > req.limit
    )


# --------------------------------------------------------------- messages


async def send_message(conn: Connection, req: m.SendMessage) -> m.MessageAck:
    session, me = _logged_in(conn)
    message = Send(
        sender_id=me,
        client_key=req.client_key,
        text=req.text,
        media_url=req.media_url,
        origin=session.ref,
    )
    return _ack(await _ask(conn, req.conversation_id, message))


async def edit_message(conn: Connection, req: m.EditMessage) -> m.MessageAck:
    session, me = _logged_in(conn)
    message = Edit(sender_id=me, seq=req.seq, text=req.text, origin=session.ref)
    return _ack(await _ask(conn, req.conversation_id, message))


async def delete_message(conn: Connection, req: m.DeleteMessage) -> m.MessageAck:
    session, me = _logged_in(conn)
    message = Delete(sender_id=me, seq=req.seq, origin=session.ref)
    return _ack(await _ask(conn, req.conversation_id, message))


async def _require_member(conn: Connection, conversation_id: str) -> MemberRecord:
    member = await conn.app.store.conversations.get_member(conversation_id, _user_id(conn))
    if member is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such conversation")
    return member


async def history(conn: Connection, req: m.History) -> m.MessageList:
    await _require_member(conn, req.conversation_id)
    rows = await conn.app.store.messages.history(
        req.conversation_id, before_seq=req.before_seq, limit=req.limit + 1
    )
    return m.MessageList(
        messages=[message_view(r) for r in rows[: req.limit]], has_more=len(rows) > req.limit
    )


async def messages_since(conn: Connection, req: m.MessagesSince) -> m.MessageList:
    await _require_member(conn, req.conversation_id)
    rows = await conn.app.store.messages.since(req.conversation_id, req.after_seq, req.limit + 1)
    return m.MessageList(
        messages=[message_view(r) for r in rows[: req.limit]], has_more=len(rows) > req.limit
    )


async def mark_read(conn: Connection, req: m.MarkRead) -> Empty:
    session, me = _logged_in(conn)
    await _ask(conn, req.conversation_id, Read(user_id=me, seq=req.seq, origin=session.ref))
    return Empty()


async def typing(conn: Connection, req: m.Typing) -> Empty:
    me = _user_id(conn)
    wait = await conn.app.limiter.acquire(
        f"typing:{me}:{req.conversation_id}", conn.app.settings.rate_typing
    )
    if wait > 0:
        raise ProtocolError(
            ErrorCode.RATE_LIMITED, "typing notices too often", retry_after=round(wait, 3)
        )
    await _ask(conn, req.conversation_id, TypingNotice(user_id=me))
    return Empty()


# ----------------------------------------------------------------- blocks


async def block_user(conn: Connection, req: accounts.BlockUser) -> Empty:
    me = _user_id(conn)
    if req.user_id == me:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "you cannot block yourself")
    await conn.app.store.blocks.block(me, req.user_id, time.time())
    await _ask(conn, direct_conversation_id(me, req.user_id), RefreshBlocks())
    return Empty()


async def unblock_user(conn: Connection, req: accounts.UnblockUser) -> Empty:
    me = _user_id(conn)
    await conn.app.store.blocks.unblock(me, req.user_id)
    await _ask(conn, direct_conversation_id(me, req.user_id), RefreshBlocks())
    return Empty()


HANDLERS: dict[type, Handler] = {
    m.OpenDirect: open_direct,
    m.CreateGroup: create_group,
    m.GetConversation: get_conversation,
    m.AddMembers: add_members,
    m.RemoveMember: remove_member,
    m.LeaveConversation: leave,
    m.ListConversations: list_conversations,
    m.SyncChanges: sync_changes,
    m.SendMessage: send_message,
    m.EditMessage: edit_message,
    m.DeleteMessage: delete_message,
    m.History: history,
    m.MessagesSince: messages_since,
    m.MarkRead: mark_read,
    m.Typing: typing,
    accounts.BlockUser: block_user,
    accounts.UnblockUser: unblock_user,
}
