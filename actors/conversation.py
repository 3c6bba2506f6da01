"""The ConversationActor: one per conversation; owns its log and members.

Hot state: the conversation record, its members with their read positions,
the next ``seq``, recent messages, and recent client keys. The actor is the
only writer of its conversation: it creates it (``OpenDirect``,
``CreateGroup``), so its hot state can never miss a row someone else wrote.

Writes use **group commit**. A send is validated, numbered with the next
``seq`` and queued; the handler returns at once with a future, so the mailbox
keeps moving while a flush task writes the queued entries as one batch. When
the batch is durable the futures resolve (the senders' acks) and the entries
are fanned out, in ``seq`` order, to every member's UserActor. Nothing is
acknowledged or shown before it is committed.

Idempotency: a ``(sender, client_key)`` seen before returns the original
message, from hot state or, after a reactivation, from the store (and then
fans it out again, in case the earlier activation died before it could); the store's
unique index on the key is the last line, and a batch it refuses is
re-numbered without the duplicates (nothing in it was acked yet, so no seq
that anyone saw changes). Once committed, a key is remembered as its ``seq``
alone: the window of recent keys must not keep whole entries (their
recipient lists and futures) alive.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import msgspec

from actors.actor import Actor
from actors.errors import MailboxFull, SystemStopped
from actors.ids import ActorKey, new_id
from actors.message import Teller
from actors.messaging import (
    KIND,
    AddMembers,
    CreateGroup,
    Delete,
    Edit,
    Leave,
    OpenDirect,
    Read,
    RefreshBlocks,
    RemoveMember,
    Send,
    TypingNotice,
    View,
    ack,
    batch_summary,
    direct_conversation_id,
    direct_key,
    message_view,
)
from actors.pending import PendingEntry
from actors.sessions import Delivery, SessionRef
from actors.store import Conflict, Store
from actors.store.messaging import (
    ConversationRecord,
    MemberRecord,
    MessageRecord,
)
from actors.user import PushMany, user_key
from protocol.codec import encode_event_body
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import messaging as m

log = logging.getLogger("grover.actors.conversation")

MAX_BATCH = 256
RECENT_KEYS = 4096
RECENT_MESSAGES = 1024
TELL_RETRIES = 3
"""Tries again (50, 100, 200 ms later) to reach a member whose mailbox is full."""


class ConversationActor(Actor):
    kind = KIND

    def __init__(
        self, key: ActorKey, store: Store, teller: Teller, *, max_members: int = 100
    ) -> None:
        super().__init__(key)
        self._store = store
        self._teller = teller
        self._max_members = max_members
        self.conversation: ConversationRecord | None = None
        self.members: dict[str, MemberRecord] = {}
        self.next_seq = 1
        self.durable_seq = 0
        self._blocked = False
        self._keys: OrderedDict[tuple[str, str], PendingEntry | int] = OrderedDict()
        """Recent ``(sender, client_key)``: the entry while its batch is being
        written, then only its ``seq``."""
        self._loaded_seq = 0
        """The log's end at activation: a key with a seq up to here was stored
        by an earlier activation (see :meth:`_redeliver`)."""
        self._recent: OrderedDict[int, MessageRecord] = OrderedDict()
        self._redelivered: set[int] = set()
        self._pending: list[PendingEntry] = []
        self._pending_reads: dict[str, tuple[int, SessionRef | None]] = {}
        self._read_waiters: list[tuple[str, int, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._numbering_known = True
        """False after a failed batch: the log's end must be re-read from the
        store (another activation, e.g. on another node, may have written)."""

    # ------------------------------------------------------------ lifecycle

    async def activate(self) -> None:
        store = self._store
        self.conversation = await store.conversations.get(self.key.id)
        if self.conversation is None:
            return
        self.members = {r.user_id: r for r in await store.conversations.members(self.key.id)}
        self.durable_seq = await store.messages.last_seq(self.key.id)
        self.next_seq = self.durable_seq + 1
        self._loaded_seq = self.durable_seq
        # Retries come soon after the original: recent keys cover nearly all,
        # and the store's unique index covers the rest.
        recent = await store.messages.since(
            self.key.id, max(0, self.durable_seq - RECENT_MESSAGES), RECENT_MESSAGES
        )
        for record in recent:
            self._remember(record)
        await self._load_blocks()

    async def _load_blocks(self) -> None:
        conversation = self.conversation
        if conversation is None or conversation.kind != "direct" or len(self.members) != 2:
            self._blocked = False
            return
        a, b = list(self.members)
        blocks = self._store.blocks
        self._blocked = await blocks.is_blocked(a, b) or await blocks.is_blocked(b, a)

    def can_passivate(self) -> bool:
        return self._flusher is None and not self._pending and not self._pending_reads

    def exists(self) -> bool:
        # Requests naming an unknown id must not leave an activation behind;
        # OpenDirect and CreateGroup set ``conversation`` before they return.
        return self.conversation is not None

    async def passivate(self) -> None:
        while self._flusher is not None:
            await asyncio.shield(self._flusher)

    async def abandon(self) -> None:
        # Entries already numbered may be acked by the running flush; the
        # replacement must number after them.
        await self.passivate()

    # ------------------------------------------------------------- dispatch

    async def receive(self, message: object) -> object:
        match message:
            case Send():
                return await self._send(message)
            case Edit():
                return await self._edit(message)
            case Delete():
                return await self._delete(message)
            case Read():
                return self._read(message)
            case TypingNotice(user_id=user_id):
                self._require_member(user_id)
                self._require_unblocked("send typing notices")
                body = encode_event_body(
                    m.TypingEvent(conversation_id=self.key.id, user_id=user_id)
                )
                self._push([uid for uid in self.members if uid != user_id], [Delivery(body)])
                return None
            case View(user_id=user_id):
                self._require_member(user_id)
                return self.view()
            case OpenDirect():
                return await self._open_direct(message)
            case CreateGroup():
                return await self._create_group(message)
            case AddMembers():
                return await self._add_members(message)
            case RemoveMember(by=by, user_id=user_id):
                self._require_admin(by)
                return await self._remove(user_id)
            case Leave(user_id=user_id):
                self._require_member(user_id)
                await self._remove(user_id)
                return None
            case RefreshBlocks():
                await self._load_blocks()
                return None
        raise TypeError(f"ConversationActor cannot handle {type(message).__name__}")

    # --------------------------------------------------------------- guards

    def _require_conversation(self) -> ConversationRecord:
        if self.conversation is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such conversation")
        return self.conversation

    def _require_member(self, user_id: str) -> MemberRecord:
        self._require_conversation()
        member = self.members.get(user_id)
        if member is None:
            # Same answer as a missing conversation: membership is not public.
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such conversation")
        return member

    def _require_admin(self, user_id: str) -> None:
        conversation = self._require_conversation()
        if self._require_member(user_id).role != "admin" or conversation.kind != "group":
            raise ProtocolError(ErrorCode.FORBIDDEN, "only group admins may do that")

    def _require_unblocked(self, action: str) -> None:
        """A block between the two members of a direct conversation freezes it
        for both: nothing reaches the other side (docs/decisions.md, Blocks).
        Checked after membership, so a stranger still learns nothing."""
        if self._blocked:
            raise ProtocolError(ErrorCode.FORBIDDEN, f"blocked: you cannot {action} here")

    async def _require_users(self, user_ids: Iterable[str]) -> None:
        for uid in user_ids:
            if await self._store.users.get(uid) is None:
                raise ProtocolError(ErrorCode.NOT_FOUND, f"no such user {uid}")

    # -------------------------------------------------------------- creation

    async def _open_direct(self, msg: OpenDirect) -> m.ConversationView:
        if self.conversation is None:
            if direct_conversation_id(msg.user_id, msg.other_id) != self.key.id:
                raise ValueError(f"{self.key} is not the direct conversation of that pair")
            await self._require_users([msg.other_id])
            blocks = self._store.blocks
            if await blocks.is_blocked(msg.user_id, msg.other_id) or await blocks.is_blocked(
                msg.other_id, msg.user_id
            ):
                # Creating it would announce it to the other side: contact.
                raise ProtocolError(ErrorCode.FORBIDDEN, "blocked: you cannot message this user")
            now = time.time()
            record = ConversationRecord(
                id=self.key.id,
                kind="direct",
                created_by=msg.user_id,
                created_at=now,
                direct_key=direct_key(msg.user_id, msg.other_id),
                last_activity_at=now,
            )
            members = [
                MemberRecord(conversation_id=self.key.id, user_id=uid, joined_at=now)
                for uid in sorted((msg.user_id, msg.other_id))
            ]
            _, created = await self._store.conversations.get_or_create_direct(record, members)
            await self.activate()
            if created:
                self._announce(msg.origin)
        self._require_member(msg.user_id)
        return self.view()

    async def _create_group(self, msg: CreateGroup) -> m.ConversationView:
        if self.conversation is not None:
            raise ValueError(f"{self.key} exists already")
        others = [uid for uid in dict.fromkeys(msg.member_ids) if uid != msg.by]
        if len(others) + 1 > self._max_members:
            raise ProtocolError(
                ErrorCode.FORBIDDEN, f"a group has at most {self._max_members} members"
            )
        await self._require_users(others)
        now = time.time()
        record = ConversationRecord(
            id=self.key.id,
            kind="group",
            title=msg.title,
            created_by=msg.by,
            created_at=now,
            last_activity_at=now,
        )
        members = [
            MemberRecord(conversation_id=self.key.id, user_id=uid, role=role, joined_at=now)
            for uid, role in [(msg.by, "admin"), *((uid, "member") for uid in others)]
        ]
        await self._store.conversations.create(record, members)
        await self.activate()
        self._announce(msg.origin)
        return self.view()

    def _announce(self, origin: SessionRef | None) -> None:
        """Just created: every member's sessions but ``origin`` learn of it."""
        body = encode_event_body(m.ConversationUpdated(conversation=self.view()))
        self._push(list(self.members), [Delivery(body, origin)])

    # ---------------------------------------------------------------- sends

    def ask_now(self, message: object) -> object:
        # Every chat message is a Send: no mailbox hop when hot state suffices.
        if type(message) is not Send:
            return NotImplemented
        return self._send_now(message) or NotImplemented

    async def _send(self, msg: Send) -> asyncio.Future[m.MessageAck]:
        future = self._send_now(msg)
        if future is not None:
            return future
        # What hot state does not know: the log's end after a failed batch,
        # or a retried key whose message left the recent window.
        await self._ensure_numbering()
        hit = self._keys.get((msg.sender_id, msg.client_key))
        if isinstance(hit, int) and hit not in self._recent:
            record = await self._store.messages.get(self.key.id, hit)
            if record is None:  # cannot happen: the log is append-only
                raise ValueError(f"{self.key}: committed seq {hit} is missing")
            return self._committed_hit(record, msg.origin)
        future = self._send_now(msg)
        assert future is not None
        return future

    def _send_now(self, msg: Send) -> asyncio.Future[m.MessageAck] | None:
        """The send, from hot state; ``None`` when it needs the store first.

        A key seen before returns the original message: while its batch is
        written (the entry), or committed and recent. A key older than what
        activation loaded is caught by the store's unique index when the
        batch is written (:meth:`_drop_duplicates`): looking it up here would
        cost every send a read, awaited inside the actor."""
        self._require_member(msg.sender_id)
        if not self._numbering_known:
            return None
        if not msg.text and not msg.media_url:
            raise ProtocolError(ErrorCode.INVALID_FIELD, "a message needs text or media_url")
        hit = self._keys.get((msg.sender_id, msg.client_key))
        if isinstance(hit, PendingEntry):
            return hit.wait(duplicate=True)
        if hit is not None:
            recent = self._recent.get(hit)
            return None if recent is None else self._committed_hit(recent, msg.origin)
        if self._blocked:
            raise ProtocolError(ErrorCode.FORBIDDEN, "blocked: you cannot message this user")
        record = MessageRecord(
            conversation_id=self.key.id,
            seq=0,
            id=new_id(),
            sender_id=msg.sender_id,
            client_key=msg.client_key,
            text=msg.text,
            media_url=msg.media_url,
            created_at=time.time(),
        )
        entry = self._append(record, msg.origin)
        self._keys[(msg.sender_id, msg.client_key)] = entry
        self._trim(self._keys, RECENT_KEYS)
        return entry.wait(duplicate=False)

    def _committed_hit(
        self, record: MessageRecord, origin: SessionRef | None
    ) -> asyncio.Future[m.MessageAck]:
        if record.seq <= self._loaded_seq:
            self._redeliver(record, origin)
        future: asyncio.Future[m.MessageAck] = asyncio.get_running_loop().create_future()
        future.set_result(ack(record, duplicate=True))
        return future

    def _redeliver(self, record: MessageRecord, origin: SessionRef | None) -> None:
        """A retry found a message that an earlier activation stored. That
        activation may have died between its commit and its fan-out (its
        node was killed), and the retry says its sender never saw the ack:
        fan it out again, once per activation. Members who had it already
        drop the copy by (conversation, seq)."""
        if record.seq in self._redelivered:
            return
        if len(self._redelivered) >= RECENT_KEYS:
            self._redelivered.clear()
        self._redelivered.add(record.seq)
        body = encode_event_body(m.MessageNew(message=message_view(record)))
        self._push(list(self.members), [Delivery(body, origin, self.key.id, record.seq)])

    async def _edit(self, msg: Edit) -> asyncio.Future[m.MessageAck]:
        target = await self._own_message(msg.sender_id, msg.seq)
        now = time.time()
        record = MessageRecord(
            conversation_id=self.key.id,
            seq=0,
            id=new_id(),
            kind="edit",
            sender_id=msg.sender_id,
            text=msg.text,
            created_at=now,
            target_seq=target.seq,
        )
        self._recent[target.seq] = msgspec.structs.replace(target, text=msg.text, edited_at=now)
        return self._append(record, msg.origin).wait(duplicate=False)

    async def _delete(self, msg: Delete) -> asyncio.Future[m.MessageAck]:
        target = await self._own_message(msg.sender_id, msg.seq)
        record = MessageRecord(
            conversation_id=self.key.id,
            seq=0,
            id=new_id(),
            kind="delete",
            sender_id=msg.sender_id,
            created_at=time.time(),
            target_seq=target.seq,
        )
        self._recent[target.seq] = msgspec.structs.replace(
            target, text="", media_url="", deleted=True
        )
        return self._append(record, msg.origin).wait(duplicate=False)

    async def _own_message(self, user_id: str, seq: int) -> MessageRecord:
        self._require_member(user_id)
        self._require_unblocked("change messages")
        await self._ensure_numbering()
        target = self._recent.get(seq)
        if target is None and seq <= self.durable_seq:
            target = await self._store.messages.get(self.key.id, seq)
        if target is None or target.kind != "message" or target.deleted:
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such message")
        if target.sender_id != user_id:
            raise ProtocolError(ErrorCode.FORBIDDEN, "only the sender may change a message")
        return target

    def _append(self, record: MessageRecord, origin: SessionRef | None) -> PendingEntry:
        record.seq = self.next_seq
        self.next_seq += 1
        entry = PendingEntry(record, list(self.members), origin)
        if record.kind == "message":
            self._recent[record.seq] = record
            self._trim(self._recent, RECENT_MESSAGES)
        self._pending.append(entry)
        self._schedule_flush()
        return entry

    def _read(self, msg: Read) -> asyncio.Future[None]:
        member = self._require_member(msg.user_id)
        # Refused rather than kept silent: a read mark that others never
        # learn of would need a second kind of receipt; see docs/decisions.md.
        self._require_unblocked("mark messages read")
        seq = min(msg.seq, self.durable_seq)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if seq <= member.read_seq:
            future.set_result(None)
            return future
        member.read_seq = seq
        self._pending_reads[msg.user_id] = (seq, msg.origin)
        self._schedule_flush()
        # Resolved by the flush that carries it (or a later one).
        self._read_waiters.append((msg.user_id, seq, future))
        return future

    # ---------------------------------------------------------- group commit

    def _schedule_flush(self) -> None:
        if self._flusher is None:
            self._flusher = asyncio.get_running_loop().create_task(self._flush())

    async def _flush(self) -> None:
        try:
            while self._pending or self._pending_reads:
                batch = self._pending[:MAX_BATCH]
                del self._pending[:MAX_BATCH]
                reads = self._pending_reads
                self._pending_reads = {}
                waiters = list(self._read_waiters)
                self._read_waiters.clear()
                try:
                    await self._store.messages.append(
                        self.key.id,
                        [e.record for e in batch],
                        {uid: seq for uid, (seq, _) in reads.items()},
                        batch_summary([e.record for e in batch]),
                    )
                except Conflict as exc:
                    if exc.field != "client_key":
                        raise
                    await self._drop_duplicates(batch, reads, waiters)
                    continue
                self._committed(batch, reads, waiters)
        except Exception:
            log.exception("batch write failed", extra={"actor": str(self.key)})
            self._fail_all(batch, waiters)
        finally:
            self._flusher = None

    def _committed(
        self,
        batch: list[PendingEntry],
        reads: dict[str, tuple[int, SessionRef | None]],
        waiters: list[tuple[str, int, asyncio.Future[None]]],
    ) -> None:
        """The batch is durable: ack, then fan out in seq order."""
        per_user: dict[str, list[Delivery]] = {}
        for entry in batch:
            record = entry.record
            self.durable_seq = record.seq
            entry.resolve(ack(record, duplicate=False))
            if record.client_key is not None:
                key = (record.sender_id, record.client_key)
                if self._keys.get(key) is entry:
                    self._keys[key] = record.seq  # drop the entry, keep what dedup needs
            body = encode_event_body(m.MessageNew(message=message_view(record)))
            delivery = Delivery(body, entry.origin, self.key.id, record.seq)
            for uid in entry.recipients:
                per_user.setdefault(uid, []).append(delivery)
        for uid, (seq, origin) in reads.items():
            body = encode_event_body(
                m.ReadReceipt(conversation_id=self.key.id, user_id=uid, seq=seq)
            )
            for member in self.members:
                per_user.setdefault(member, []).append(Delivery(body, origin))
        for user_id, items in per_user.items():
            self._tell_user(user_id, items)
        for _, _, future in waiters:
            if not future.done():
                future.set_result(None)

    async def _drop_duplicates(
        self,
        batch: list[PendingEntry],
        reads: dict[str, tuple[int, SessionRef | None]],
        waiters: list[tuple[str, int, asyncio.Future[None]]],
    ) -> None:
        """The unique index refused a key that hot state did not know (another
        activation wrote it). Resolve those entries to the stored original and
        re-number everything not yet committed."""
        keep: list[PendingEntry] = []
        for entry in batch:
            record = entry.record
            stored = None
            if record.client_key is not None:
                stored = await self._store.messages.get_by_client_key(
                    self.key.id, record.sender_id, record.client_key
                )
            if stored is not None:
                entry.resolve(ack(stored, duplicate=True))
                self._redeliver(stored, entry.origin)
                self._keys[(record.sender_id, record.client_key or "")] = stored.seq
                self._recent.pop(record.seq, None)
            else:
                keep.append(entry)
        queue = keep + self._pending
        self.durable_seq = await self._store.messages.last_seq(self.key.id)
        self.next_seq = self.durable_seq + 1
        for entry in queue:
            self._recent.pop(entry.record.seq, None)
            entry.record.seq = self.next_seq
            self.next_seq += 1
            if entry.record.kind == "message":
                self._recent[entry.record.seq] = entry.record
        self._pending = queue
        self._pending_reads = {**reads, **self._pending_reads}
        self._read_waiters.extend(waiters)

    def _fail_all(
        self, batch: list[PendingEntry], waiters: list[tuple[str, int, asyncio.Future[None]]]
    ) -> None:
        """A batch could not be written: nothing in it or after it was acked,
        so fail them all (clients retry with their keys) and restart numbering
        after the last durable seq."""
        error = ProtocolError(ErrorCode.INTERNAL, "could not store the message; retry")
        for entry in [*batch, *self._pending]:
            entry.fail(error)
            key = (entry.record.sender_id, entry.record.client_key or "")
            if self._keys.get(key) is entry:
                del self._keys[key]
            self._recent.pop(entry.record.seq, None)
        for _, _, future in [*waiters, *self._read_waiters]:
            if not future.done():
                future.set_exception(error)
        self._pending = []
        self._pending_reads = {}
        self._read_waiters.clear()
        self._numbering_known = False

    async def _ensure_numbering(self) -> None:
        if not self._numbering_known:
            self.durable_seq = await self._store.messages.last_seq(self.key.id)
            self.next_seq = self.durable_seq + 1
            self._numbering_known = True

    # ------------------------------------------------------------- members

    async def _add_members(self, msg: AddMembers) -> m.ConversationView:
        self._require_admin(msg.by)
        new_ids = [uid for uid in dict.fromkeys(msg.user_ids) if uid not in self.members]
        if len(self.members) + len(new_ids) > self._max_members:
            raise ProtocolError(
                ErrorCode.FORBIDDEN, f"a group has at most {self._max_members} members"
            )
        await self._require_users(new_ids)
        now = time.time()
        records = [
            MemberRecord(conversation_id=self.key.id, user_id=uid, joined_at=now, read_seq=0)
            for uid in new_ids
        ]
        await self._store.conversations.add_members(records)
        for record in records:
            self.members[record.user_id] = record
        view = self.view()
        body = encode_event_body(m.ConversationUpdated(conversation=view))
        self._push(list(self.members), [Delivery(body)])
        return view

    async def _remove(self, user_id: str) -> m.ConversationView:
        conversation = self._require_conversation()
        if conversation.kind != "group":
            raise ProtocolError(ErrorCode.FORBIDDEN, "direct conversations have fixed members")
        removed = self.members.get(user_id)
        if removed is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, "not a member")
        # A group keeps an admin: when its last one goes, the longest-standing
        # member becomes one, in the same write as the removal.
        rest = [r for r in self.members.values() if r.user_id != user_id]
        heir = None
        if removed.role == "admin" and rest and not any(r.role == "admin" for r in rest):
            heir = min(rest, key=lambda r: (r.joined_at, r.user_id))
        await self._store.conversations.remove_member(
            self.key.id, user_id, promote=heir.user_id if heir else None
        )
        del self.members[user_id]
        if heir is not None:
            heir.role = "admin"
        view = self.view()
        updated = encode_event_body(m.ConversationUpdated(conversation=view))
        self._push(list(self.members), [Delivery(updated)])
        gone = encode_event_body(m.ConversationUpdated(conversation=view, removed=True))
        self._push([user_id], [Delivery(gone)])
        return view

    def view(self) -> m.ConversationView:
        fields = msgspec.structs.asdict(self._require_conversation())
        fields.update(
            members=[msgspec.structs.asdict(r) for r in self.members.values()],
            last_seq=self.durable_seq,
        )
        return msgspec.convert(fields, m.ConversationView)

    # ------------------------------------------------------------- delivery

    def _push(self, user_ids: Iterable[str], items: list[Delivery]) -> None:
        for user_id in user_ids:
            self._tell_user(user_id, items)

    def _tell_user(self, user_id: str, items: list[Delivery], attempt: int = 0) -> None:
        try:
            self._teller.tell(user_key(user_id), PushMany(items))
        except MailboxFull:
            if attempt < TELL_RETRIES:
                # Later entries may overtake these: sessions put them back in
                # order (and drop what a repair from the log already showed).
                asyncio.get_running_loop().call_later(
                    0.05 * 2**attempt, self._tell_user, user_id, items, attempt + 1
                )
                return
            # Each session fills the hole from the log when the conversation's
            # next entry reaches it; a reconnect re-syncs.
            log.warning("user mailbox full; live delivery skipped", extra={"user": user_id})
        except SystemStopped:
            # A final flush while this node shuts down: its sessions are gone
            # (clients re-sync), and a failed tell must not skip the others.
            log.info("node stopping; live delivery skipped", extra={"user": user_id})

    @staticmethod
    def _trim(cache: OrderedDict[Any, Any], size: int) -> None:
        while len(cache) > size:
            cache.popitem(last=False)

    def _remember(self, record: MessageRecord) -> None:
        if record.kind == "message":
            self._recent[record.seq] = record
            if record.client_key is not None:
                self._keys[(record.sender_id, record.client_key)] = record.seq
