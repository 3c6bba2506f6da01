"""Handlers of the messaging domain: conversations, messages, receipts, typing.

Everything that changes a conversation, creating it included, goes through its
ConversationActor; reads of durable history and of conversation lists go to
the store after a membership check. Sends, edits, deletes and read marks reply
only once durable: the actor answers with a future that its batch commit
resolves (a deferred reply, which ``ask`` awaits outside the actor), so its
mailbox keeps moving meanwhile.
"""

from __future__ import annotations

import msgspec

from actors.ids import new_id
from actors.messaging import (
    AddMembers,
    CreateGroup,
    Delete,
    Edit,
    Leave,
    OpenDirect,
    Read,
    RemoveMember,
    Send,
    TypingNotice,
    View,
    conversation_key,
    direct_conversation_id,
    message_view,
)
from actors.store.messaging import ConversationRecord, MemberRecord
from protocol.errors import ErrorCode, ProtocolError
from protocol.frames import Empty
from protocol.messages import messaging as m
from server.context import Caller, Handler, Services
from server.handlers import attachments
from server.handlers.pages import fit
from server.ratelimit import retry_after

# ---------------------------------------------------------- conversations


async def open_direct(services: Services, caller: Caller, req: m.OpenDirect) -> m.ConversationView:
    me = caller.user()
    if req.user_id == me:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "a direct conversation needs another user")
    key = conversation_key(direct_conversation_id(me, req.user_id))
    return await services.actors.ask(
        key, OpenDirect(user_id=me, other_id=req.user_id, origin=caller.ref)
    )


async def create_group(
    services: Services, caller: Caller, req: m.CreateGroup
) -> m.ConversationView:
    message = CreateGroup(
        by=caller.user(), title=req.title, member_ids=list(req.member_ids), origin=caller.ref
    )
    return await services.actors.ask(conversation_key(new_id()), message)


async def get_conversation(
    services: Services, caller: Caller, req: m.GetConversation
) -> m.ConversationView:
    key = conversation_key(req.conversation_id)
    return await services.actors.ask(key, View(user_id=caller.user()))


async def add_members(services: Services, caller: Caller, req: m.AddMembers) -> m.ConversationView:
    message = AddMembers(by=caller.user(), user_ids=list(req.user_ids))
    return await services.actors.ask(conversation_key(req.conversation_id), message)


async def remove_member(
    services: Services, caller: Caller, req: m.RemoveMember
) -> m.ConversationView:
    message = RemoveMember(by=caller.user(), user_id=req.user_id)
    return await services.actors.ask(conversation_key(req.conversation_id), message)


async def leave(services: Services, caller: Caller, req: m.LeaveConversation) -> Empty:
    await services.actors.ask(conversation_key(req.conversation_id), Leave(user_id=caller.user()))
    return Empty()


def encode_cursor(record: ConversationRecord) -> str:
    """The position of a conversation in activity order, ``"<time>|<id>"``:
    the id breaks ties, so pages never stall on equal times."""
    return f"{record.last_activity_at!r}|{record.id}"


def decode_cursor(cursor: str) -> tuple[float, str]:
    stamp, _, conversation_id = cursor.partition("|")
    try:
        return float(stamp), conversation_id
    except ValueError:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "malformed cursor") from None


async def _summaries(
    services: Services, user_id: str, rows: list[tuple[ConversationRecord, MemberRecord]]
) -> list[m.ConversationSummary]:
    unread = await services.store.messages.unread_counts(
        user_id, {record.id: member.read_seq for record, member in rows}
    )
    summaries = []
    for record, member in rows:
        fields = msgspec.structs.asdict(record)
        fields.update(read_seq=member.read_seq, unread=unread[record.id])
        summaries.append(msgspec.convert(fields, m.ConversationSummary))
    return summaries


async def list_conversations(
    services: Services, caller: Caller, req: m.ListConversations
) -> m.ConversationList:
    me = caller.user()
    before = decode_cursor(req.cursor) if req.cursor else None
    rows = await services.store.conversations.list_for_user(me, before=before, limit=req.limit + 1)
    page = rows[: req.limit]
    summaries, cut = fit(await _summaries(services, me, page))
    last = page[len(summaries) - 1][0] if summaries else None
    more = cut or len(rows) > req.limit
    next_cursor = encode_cursor(last) if more and last is not None else None
    return m.ConversationList(conversations=summaries, next_cursor=next_cursor)


async def sync_changes(services: Services, caller: Caller, req: m.SyncChanges) -> m.Changes:
    me = caller.user()
    after = decode_cursor(req.cursor) if req.cursor else None
    rows = await services.store.conversations.changed_since(me, after=after, limit=req.limit + 1)
    page = rows[: req.limit]
    summaries, cut = fit(await _summaries(services, me, page))
    cursor = encode_cursor(page[len(summaries) - 1][0]) if summaries else req.cursor
    return m.Changes(conversations=summaries, cursor=cursor, has_more=cut or len(rows) > req.limit)


# --------------------------------------------------------------- messages


async def send_message(services: Services, caller: Caller, req: m.SendMessage) -> m.MessageAck:
    """With a ``media_id``, the medium is attached to this send attempt first
    and released again if the send is refused."""
    me, media_url, target = caller.user(), req.media_url, None
    if req.media_id is not None:
        target = attachments.message_target(req.conversation_id, me, req.client_key)
        [medium] = await attachments.attach(services, me, [req.media_id], target)
        media_url = medium.url
    message = Send(
        sender_id=me,
        client_key=req.client_key,
        text=req.text,
        media_url=media_url,
        origin=caller.ref,
    )
    try:
        return await services.actors.ask(conversation_key(req.conversation_id), message)
    except Exception:
        if target is not None:
            await attachments.release(services, target)
        raise


async def edit_message(services: Services, caller: Caller, req: m.EditMessage) -> m.MessageAck:
    message = Edit(sender_id=caller.user(), seq=req.seq, text=req.text, origin=caller.ref)
    return await services.actors.ask(conversation_key(req.conversation_id), message)


async def delete_message(services: Services, caller: Caller, req: m.DeleteMessage) -> m.MessageAck:
    message = Delete(sender_id=caller.user(), seq=req.seq, origin=caller.ref)
    return await services.actors.ask(conversation_key(req.conversation_id), message)


async def _require_member(services: Services, caller: Caller, conversation_id: str) -> None:
    member = await services.store.conversations.get_member(conversation_id, caller.user())
    if member is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such conversation")


async def history(services: Services, caller: Caller, req: m.History) -> m.MessageList:
    await _require_member(services, caller, req.conversation_id)
    rows = await services.store.messages.history(
        req.conversation_id, before_seq=req.before_seq, limit=req.limit + 1
    )
    views, cut = fit([message_view(r) for r in rows[: req.limit]])
    return m.MessageList(messages=views, has_more=cut or len(rows) > req.limit)


async def messages_since(services: Services, caller: Caller, req: m.MessagesSince) -> m.MessageList:
    await _require_member(services, caller, req.conversation_id)
    rows = await services.store.messages.since(req.conversation_id, req.after_seq, req.limit + 1)
    views, cut = fit([message_view(r) for r in rows[: req.limit]])
    return m.MessageList(messages=views, has_more=cut or len(rows) > req.limit)


async def mark_read(services: Services, caller: Caller, req: m.MarkRead) -> Empty:
    message = Read(user_id=caller.user(), seq=req.seq, origin=caller.ref)
    await services.actors.ask(conversation_key(req.conversation_id), message)
    return Empty()


async def typing(services: Services, caller: Caller, req: m.Typing) -> Empty:
    me = caller.user()
    wait = await services.limiter.acquire(
        f"typing:{me}:{req.conversation_id}", services.settings.rate_typing
    )
    if wait > 0:
        raise ProtocolError(
            ErrorCode.RATE_LIMITED, "typing notices too often", retry_after=retry_after(wait)
        )
    await services.actors.ask(conversation_key(req.conversation_id), TypingNotice(user_id=me))
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
}
