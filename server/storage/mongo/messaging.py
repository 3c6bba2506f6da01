"""MongoDB stores of the messaging domain (:mod:`actors.store.messaging`):
conversations with their members, and the message log.

Without transactions, writes that span documents are ordered so that a crash
midway leaves something the next reader tolerates, and a failure the caller is
told about leaves nothing: see :meth:`MongoMessageStore.append` and
:meth:`MongoConversationStore.get_or_create_direct`.
"""

from __future__ import annotations

import logging

import msgspec
from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from actors.store import Conflict, StoreError
from actors.store.messaging import (
    ConversationRecord,
    ConversationSummaryUpdate,
    MemberRecord,
    MessageRecord,
)
from server.storage.mongo.documents import (
    Document,
    conversation_document,
    is_string,
    member_document,
    message_document,
    to_conversation,
    to_member,
    to_message,
)
from server.storage.mongo.indexes import conflict_of, conflicts, only_duplicates

__all__ = ["MongoConversationStore", "MongoMessageStore"]

log = logging.getLogger(__name__)


class MongoConversationStore:
    """:class:`actors.store.ConversationStore` on ``conversations`` and ``members``."""

    def __init__(
        self, conversations: AsyncCollection[Document], members: AsyncCollection[Document]
    ) -> None:
        self._conversations = conversations
        self._members = members

    async def _insert_members(self, members: list[MemberRecord]) -> None:
        """Insert ``members`` unordered; those already present (duplicate key)
        are left as they are, any other error is raised."""
        if not members:
            return
        try:
            await self._members.insert_many([member_document(m) for m in members], ordered=False)
        except BulkWriteError as exc:
            if not only_duplicates(exc):
                raise

    async def create(self, conversation: ConversationRecord, members: list[MemberRecord]) -> None:
        """Insert the conversation, then its members. ``Conflict("direct_key")``
        (or ``Conflict("id")``) and nothing written if taken. Two writes, no
        transaction: a crash between them leaves a conversation without
        members, which nobody can see in their lists."""
        with conflicts("conversations"):
            await self._conversations.insert_one(conversation_document(conversation))
        await self._insert_members(members)

    async def get_or_create_direct(
        self, conversation: ConversationRecord, members: list[MemberRecord]
    ) -> tuple[ConversationRecord, bool]:
        """An upsert on ``direct_key`` whose ``$setOnInsert`` is the whole
        document: the unique index lets exactly one racing caller insert. A
        caller whose upsert loses with a duplicate-key error reads the winner's
        document. ``members`` are inserted (idempotently) by the creator, and
        also by any caller that finds the conversation without members: that
        repairs a creation interrupted between its two writes and means that
        no caller returns before the members exist. ``ValueError`` without a
        ``direct_key``; ``Conflict("id")`` if ``conversation.id`` is taken by
        another conversation."""
        key = conversation.direct_key
        if key is None:
            raise ValueError("get_or_create_direct needs a direct_key")
        document = conversation_document(conversation)
        created = False
        try:
            result = await self._conversations.update_one(
                {"direct_key": is_string(key)}, {"$setOnInsert": document}, upsert=True
            )
            created = result.upserted_id is not None
        except DuplicateKeyError as exc:
            # Another caller inserted between our match and our insert (a real
            # server retries that itself, but may not always), or our _id is
            # taken: the collection has no other unique index, so if no
            # document has our direct_key, it was the _id.
            if await self._conversations.find_one({"direct_key": is_string(key)}) is None:
                raise Conflict("id") from exc
        doc = await self._conversations.find_one({"direct_key": is_string(key)})
        if doc is None:  # deleted in between: nothing in the port deletes conversations
            raise StoreError(f"direct conversation {key!r} vanished while being created")
        stored = to_conversation(doc)
        if created or not await self._members.count_documents(
            {"conversation_id": stored.id}, limit=1
        ):
            await self._insert_members(
                [msgspec.structs.replace(m, conversation_id=stored.id) for m in members]
            )
        return stored, created

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        doc = await self._conversations.find_one({"_id": conversation_id})
        return to_conversation(doc) if doc is not None else None

    async def members(self, conversation_id: str) -> list[MemberRecord]:
        """Current members, ordered by ``joined_at`` then user id."""
        cursor = self._members.find({"conversation_id": conversation_id}).sort(
            [("joined_at", ASCENDING), ("user_id", ASCENDING)]
        )
        return [to_member(doc) async for doc in cursor]

    async def get_member(self, conversation_id: str, user_id: str) -> MemberRecord | None:
        doc = await self._members.find_one({"conversation_id": conversation_id, "user_id": user_id})
        return to_member(doc) if doc is not None else None

    async def add_members(self, members: list[MemberRecord]) -> None:
        """Insert members; those already present keep their role, ``joined_at``
        and ``read_seq``."""
        await self._insert_members(members)

    async def remove_member(
        self, conversation_id: str, user_id: str, *, promote: str | None = None
    ) -> bool:
        """``True`` if the user was a member. With ``promote``, that member's
        role becomes ``"admin"`` first, then the user is removed: two writes
        without a transaction, ordered so that a crash between them leaves one
        admin too many, never none, and a retry completes it. A ``promote`` who
        is not a member is ignored. ``ValueError`` if ``promote`` is
        ``user_id``."""
        if promote == user_id:
            raise ValueError("cannot promote the member being removed")
        if promote is not None:
            await self._members.update_one(
                {"conversation_id": conversation_id, "user_id": promote},
                {"$set": {"role": "admin"}},
            )
        result = await self._members.delete_one(
            {"conversation_id": conversation_id, "user_id": user_id}
        )
        return result.deleted_count > 0

    async def list_for_user(
        self, user_id: str, *, before: tuple[float, str] | None, limit: int
    ) -> list[tuple[ConversationRecord, MemberRecord]]:
        """The user's conversations ordered by ``(last_activity_at, _id)``
        descending, strictly after the ``before`` cursor; at most ``limit``."""
        return await self._page(user_id, before, limit, newest_first=True)

    async def changed_since(
        self, user_id: str, *, after: tuple[float, str] | None, limit: int
    ) -> list[tuple[ConversationRecord, MemberRecord]]:
        """The user's conversations ordered by ``(last_activity_at, _id)``
        ascending, strictly after the ``after`` cursor; at most ``limit``."""
        return await self._page(user_id, after, limit, newest_first=False)

    async def _page(
        self, user_id: str, cursor: tuple[float, str] | None, limit: int, *, newest_first: bool
    ) -> list[tuple[ConversationRecord, MemberRecord]]:
        """One page of the user's conversations in ``(last_activity_at, _id)``
        order (descending if ``newest_first``), strictly past ``cursor``: the
        id breaks ties, so any number of conversations with one
        ``last_activity_at`` can be paged past.

        Two queries, no ``$lookup``: the user's memberships (served by
        ``user_id_1``), then their conversations by ``_id`` with the cursor,
        sorted. Each page costs one read of all the user's memberships,
        bounded by how many conversations one user is in."""
        if limit <= 0:
            return []
        memberships = {
            doc["conversation_id"]: to_member(doc)
            async for doc in self._members.find({"user_id": user_id})
        }
        if not memberships:
            return []
        past, direction = ("$lt", DESCENDING) if newest_first else ("$gt", ASCENDING)
        query: Document = {"_id": {"$in": list(memberships)}}
        if cursor is not None:
            at, last_id = cursor
            query["$or"] = [
                {"last_activity_at": {past: at}},
                {"last_activity_at": at, "_id": {past: last_id}},
            ]
        found = (
            self._conversations.find(query)
            .sort([("last_activity_at", direction), ("_id", direction)])
            .limit(limit)
        )
        return [(to_conversation(doc), memberships[doc["_id"]]) async for doc in found]


class MongoMessageStore:
    """:class:`actors.store.MessageStore` on ``messages`` (plus ``members`` and
    ``conversations`` for what a batch updates there)."""

    def __init__(
        self,
        messages: AsyncCollection[Document],
        members: AsyncCollection[Document],
        conversations: AsyncCollection[Document],
    ) -> None:
        self._messages = messages
        self._members = members
        self._conversations = conversations

    async def append(
        self,
        conversation_id: str,
        entries: list[MessageRecord],
        reads: dict[str, int],
        summary: ConversationSummaryUpdate | None,
    ) -> None:
        """Four steps, in this order, without a transaction:

        1. insert ``entries`` with one ordered ``insert_many``. If that fails
           (``Conflict("client_key")``/``Conflict("seq")`` for a duplicate key,
           or any other error), the entries of this batch that did get in
           before the failure are deleted again — matched by this
           conversation, the batch's seqs AND the batch's ids, so that another
           writer's entry with one of those seqs is never touched — before the
           error is raised: a failed batch leaves nothing (readers may glimpse
           its entries in the meantime);
        2. apply edits and deletes to their targets, in batch order (only
           entries of kind ``message`` are targets; an edit leaves a deleted
           message as it is);
        3. ``$max`` the members' ``read_seq`` to the values in ``reads``
           (non-members are ignored);
        4. write the summary: ``$max`` on ``last_seq``, ``$set`` of
           ``last_activity_at``, and of preview and sender only when
           ``summary.last_preview`` is not ``None``.

        A crash after step 1 leaves the entries stored with some of steps 2 to 4
        undone: a stale summary (harmless: :meth:`last_seq` reads the log),
        possibly a read position not raised, and possibly an edit or delete in
        the log whose target row still shows the old text.
        ``ValueError`` if an entry belongs to another conversation."""
        for entry in entries:
            if entry.conversation_id != conversation_id:
                raise ValueError(f"entry {entry.seq} belongs to {entry.conversation_id!r}")
        if entries:
            await self._insert_entries(conversation_id, entries)
        changes = []
        for entry in entries:
            if entry.target_seq is None:
                continue
            target = {
                "conversation_id": conversation_id,
                "seq": entry.target_seq,
                "kind": "message",
            }
            if entry.kind == "edit":
                changes.append(
                    UpdateOne(
                        {**target, "deleted": {"$nin": [True]}},
                        {"$set": {"text": entry.text, "edited_at": entry.created_at}},
                    )
                )
            elif entry.kind == "delete":
                changes.append(
                    UpdateOne(target, {"$set": {"deleted": True, "text": "", "media_url": ""}})
                )
        if changes:
            await self._messages.bulk_write(changes, ordered=True)
        if reads:
            await self._members.bulk_write(
                [
                    UpdateOne(
                        {"conversation_id": conversation_id, "user_id": user_id},
                        {"$max": {"read_seq": seq}},
                    )
                    for user_id, seq in reads.items()
                ],
                ordered=False,
            )
        if summary is not None:
            fields: Document = {"last_activity_at": summary.last_activity_at}
            if summary.last_preview is not None:
                fields["last_preview"] = summary.last_preview
                fields["last_sender_id"] = summary.last_sender_id
            await self._conversations.update_one(
                {"_id": conversation_id},
                {"$max": {"last_seq": summary.last_seq}, "$set": fields},
            )

    async def _insert_entries(self, conversation_id: str, entries: list[MessageRecord]) -> None:
        """Step 1 of :meth:`append`: all of ``entries`` or none of them."""
        try:
            await self._messages.insert_many([message_document(e) for e in entries], ordered=True)
        except PyMongoError as exc:
            try:
                await self._messages.delete_many(
                    {
                        "conversation_id": conversation_id,
                        "seq": {"$in": [e.seq for e in entries]},
                        "id": {"$in": [e.id for e in entries]},
                    }
                )
            except PyMongoError:
                log.exception("mongo: could not remove the partial batch of %s", conversation_id)
            conflict = conflict_of(exc, "messages")
            if conflict is None:
                raise
            raise conflict from exc

    async def last_seq(self, conversation_id: str) -> int:
        """The highest ``seq`` in the log (0 when empty), from the unique
        ``(conversation_id, seq)`` index, never from the summary."""
        doc = await self._messages.find_one(
            {"conversation_id": conversation_id},
            {"seq": 1},
            sort=[("seq", DESCENDING)],
        )
        return int(doc["seq"]) if doc is not None else 0

    async def get(self, conversation_id: str, seq: int) -> MessageRecord | None:
        """The log entry at ``seq``, of any kind."""
        doc = await self._messages.find_one({"conversation_id": conversation_id, "seq": seq})
        return to_message(doc) if doc is not None else None

    async def get_by_client_key(
        self, conversation_id: str, sender_id: str, client_key: str
    ) -> MessageRecord | None:
        doc = await self._messages.find_one(
            {
                "conversation_id": conversation_id,
                "sender_id": sender_id,
                "client_key": is_string(client_key),
            }
        )
        return to_message(doc) if doc is not None else None

    async def history(
        self, conversation_id: str, *, before_seq: int | None, limit: int
    ) -> list[MessageRecord]:
        """Entries of kind ``message`` with ``seq < before_seq`` (all when
        ``None``), newest first, at most ``limit``."""
        if limit <= 0:
            return []
        query: Document = {"conversation_id": conversation_id, "kind": "message"}
        if before_seq is not None:
            query["seq"] = {"$lt": before_seq}
        cursor = self._messages.find(query).sort("seq", DESCENDING).limit(limit)
        return [to_message(doc) async for doc in cursor]

    async def since(self, conversation_id: str, after_seq: int, limit: int) -> list[MessageRecord]:
        """Entries of every kind with ``seq > after_seq``, oldest first, at most ``limit``."""
        if limit <= 0:
            return []
        cursor = (
            self._messages.find({"conversation_id": conversation_id, "seq": {"$gt": after_seq}})
            .sort("seq", ASCENDING)
            .limit(limit)
        )
        return [to_message(doc) async for doc in cursor]

    async def unread_counts(self, user_id: str, read_seqs: dict[str, int]) -> dict[str, int]:
        """For each conversation of ``read_seqs``: entries of kind ``message``,
        not deleted, with ``seq`` above its read position and a sender other
        than ``user_id``. One ``aggregate`` for the whole dict: ``$match`` on an
        ``$or`` of per-conversation ``seq`` ranges (each served by the
        ``(conversation_id, seq)`` index), then ``$group`` by conversation;
        every id is in the result. (``{$nin: [x]}`` means ``{$ne: x}``; it is
        kept as the former one-conversation count wrote it, for the stand-in.)"""
        if not read_seqs:
            return {}
        pipeline: list[Document] = [
            {
                "$match": {
                    "$or": [
                        {"conversation_id": conversation_id, "seq": {"$gt": read_seq}}
                        for conversation_id, read_seq in read_seqs.items()
                    ],
                    "kind": "message",
                    "deleted": {"$nin": [True]},
                    "sender_id": {"$nin": [user_id]},
                }
            },
            {"$group": {"_id": "$conversation_id", "unread": {"$sum": 1}}},
        ]
        counts = dict.fromkeys(read_seqs, 0)
        async for doc in await self._messages.aggregate(pipeline):
            counts[doc["_id"]] = int(doc["unread"])
        return counts
