"""MongoDB backend of the storage ports (:mod:`actors.store`), on PyMongo's
native async API (``pymongo.AsyncMongoClient``; Motor is deprecated).

Document shapes (``_id`` is always our id string):

* ``users``: ``{_id, username, email, password_hash, display_name,
  display_name_key, bio, avatar_url, created_at}``; ``display_name_key`` is
  ``display_name.lower()``, kept so that prefix search is an index-served,
  case-sensitive anchored regex and answers exactly like the SQLite backend.
* ``conversations``: ``{_id, kind, title, created_by, created_at, direct_key,
  last_seq, last_activity_at, last_preview, last_sender_id}``; ``direct_key``
  is ``null`` for groups (left out of its partial unique index).
* ``members``: ``{conversation_id, user_id, role, joined_at, read_seq}``,
  unique on ``(conversation_id, user_id)``; ``_id`` is the server's ObjectId.
* ``messages``: the :class:`~actors.store.MessageRecord` fields (``id``
  included) with a server ObjectId ``_id``; unique on ``(conversation_id,
  seq)`` and, where ``client_key`` is a string, on ``(conversation_id,
  sender_id, client_key)``.
* ``blocks``: ``{user_id, blocked_id, created_at}``, unique on the pair.
* ``auth_sessions``: ``{_id: token_hash, user_id, created_at, expires_at}``.
  The token hash *is* the ``_id``, so the built-in unique ``_id`` index is the
  unique token-hash index. ``expires_at`` stays a float (UNIX seconds) as the
  port says; there is no TTL index (it needs a BSON date), expired sessions are
  removed by :meth:`MongoAuthSessionStore.delete_expired`.

:meth:`MongoStore.open` creates every index of the seed's schema, including
those of aggregates whose stores come later (posts), idempotently.

Without transactions, writes that span documents are ordered so that a crash
midway leaves something the next reader tolerates, and a failure the caller is
told about leaves nothing: see :meth:`MongoMessageStore.append` and
:meth:`MongoConversationStore.get_or_create_direct`.

Tests run this module against a real server when one is configured, otherwise
against ``pymongo_async_mock`` (mongomock). That stand-in accepts text and
2dsphere index specifications (it records them without implementing them), so
index creation needs no special case for it; what it cannot do is *query*
them (``$text``, ``$near``), and the contract suite skips those checks there.
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Mapping
from typing import Any, Final

import msgspec
from pymongo import (
    ASCENDING,
    DESCENDING,
    GEOSPHERE,
    TEXT,
    AsyncMongoClient,
    ReturnDocument,
    UpdateOne,
)
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from actors.store import Conflict, StoreError
from actors.store.accounts import (
    AuthSessionRecord,
    AuthSessionStore,
    BlockStore,
    ProfileUpdate,
    UserRecord,
    UserStore,
)
from actors.store.messaging import (
    ConversationRecord,
    ConversationStore,
    ConversationSummaryUpdate,
    MemberRecord,
    MessageRecord,
    MessageStore,
)

__all__ = ["INDEXES", "MongoStore"]

log = logging.getLogger(__name__)

Document = dict[str, Any]

#: Every index, per collection: ``(keys, options)``. Names are MongoDB's
#: defaults, so re-running ``create_index`` with the same spec is a no-op.
INDEXES: Final[Mapping[str, tuple[tuple[list[tuple[str, Any]], dict[str, Any]], ...]]] = {
    "users": (
        ([("username", ASCENDING)], {"unique": True}),
        ([("email", ASCENDING)], {"unique": True}),
        ([("display_name_key", ASCENDING)], {}),
        # Names are not English prose: no stemming, no stop words.
        ([("username", TEXT), ("display_name", TEXT)], {"default_language": "none"}),
    ),
    "auth_sessions": (
        ([("user_id", ASCENDING)], {}),
        ([("expires_at", ASCENDING)], {}),
    ),
    "posts": (
        ([("user_id", ASCENDING), ("created_at", DESCENDING)], {}),
        ([("content", TEXT)], {}),
        ([("location", GEOSPHERE)], {}),
    ),
    # One direct conversation per pair; groups have ``direct_key: null``,
    # which the partial filter leaves out of the index.
    "conversations": (
        (
            [("direct_key", ASCENDING)],
            {"unique": True, "partialFilterExpression": {"direct_key": {"$type": "string"}}},
        ),
    ),
    "members": (
        ([("conversation_id", ASCENDING), ("user_id", ASCENDING)], {"unique": True}),
        ([("user_id", ASCENDING)], {}),
    ),
    "messages": (
        ([("conversation_id", ASCENDING), ("created_at", DESCENDING)], {}),
        ([("conversation_id", ASCENDING), ("seq", ASCENDING)], {"unique": True}),
        (
            [("conversation_id", ASCENDING), ("sender_id", ASCENDING), ("client_key", ASCENDING)],
            {"unique": True, "partialFilterExpression": {"client_key": {"$type": "string"}}},
        ),
    ),
    "blocks": (([("user_id", ASCENDING), ("blocked_id", ASCENDING)], {"unique": True}),),
}

_WORD_RE: Final = re.compile(r"\w+")
#: Terms of a text query beyond this many are ignored (bounds the query's cost).
MAX_QUERY_TERMS: Final = 16
_DUP_KEY_RE: Final = re.compile(r"dup key: \{ ?\"?([\w.]+)\"?\s*:")


def _conflict(exc: DuplicateKeyError, fields: Mapping[str, str]) -> Conflict:
    """Map a duplicate-key error to the :class:`Conflict` of the port.

    ``fields`` maps a document key to the field name the port uses (``_id`` →
    ``"id"``). The key comes from ``details["keyPattern"]`` (servers ≥ 4.2 and
    the stand-in send it), else from the ``dup key: { … }`` part of the message;
    a collection with a single unique index needs neither. Re-raises ``exc``
    when the key cannot be told, rather than guess.
    """
    key: str | None = None
    details = exc.details or {}
    pattern = details.get("keyPattern")
    if isinstance(pattern, Mapping) and pattern:
        key = str(next(iter(pattern)))
    else:
        match = _DUP_KEY_RE.search(str(exc))
        if match:
            key = match.group(1)
        elif len(fields) == 1:
            key = next(iter(fields))
    if key is None or key not in fields:
        raise exc
    return Conflict(fields[key])


def _user_document(user: UserRecord) -> Document:
    return {
        "_id": user.id,
        "username": user.username,
        "email": user.email,
        "password_hash": user.password_hash,
        "display_name": user.display_name,
        "display_name_key": user.display_name.lower(),
        "bio": user.bio,
        "avatar_url": user.avatar_url,
        "created_at": user.created_at,
    }


def _user(doc: Mapping[str, Any]) -> UserRecord:
    return UserRecord(
        id=doc["_id"],
        username=doc["username"],
        email=doc["email"],
        password_hash=doc["password_hash"],
        display_name=doc.get("display_name", ""),
        bio=doc.get("bio", ""),
        avatar_url=doc.get("avatar_url", ""),
        created_at=doc["created_at"],
    )


def _session(doc: Mapping[str, Any]) -> AuthSessionRecord:
    return AuthSessionRecord(
        token_hash=doc["_id"],
        user_id=doc["user_id"],
        created_at=doc["created_at"],
        expires_at=doc["expires_at"],
    )


class MongoUserStore:
    """:class:`actors.store.UserStore` on the ``users`` collection."""

    _FIELDS: Final = {"_id": "id", "username": "username", "email": "email"}

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._users = collection

    async def create(self, user: UserRecord) -> None:
        """Insert; ``Conflict("username"|"email"|"id")`` if taken, nothing written
        (a single-document insert is atomic)."""
        try:
            await self._users.insert_one(_user_document(user))
        except DuplicateKeyError as exc:
            raise _conflict(exc, self._FIELDS) from exc

    async def get(self, user_id: str) -> UserRecord | None:
        doc = await self._users.find_one({"_id": user_id})
        return _user(doc) if doc is not None else None

    async def get_by_username(self, username: str) -> UserRecord | None:
        """Exact match on the stored (lower-case) username."""
        doc = await self._users.find_one({"username": username})
        return _user(doc) if doc is not None else None

    async def get_by_email(self, email: str) -> UserRecord | None:
        """Exact match on the stored (lower-case) email."""
        doc = await self._users.find_one({"email": email})
        return _user(doc) if doc is not None else None

    async def update_profile(self, user_id: str, update: ProfileUpdate) -> UserRecord | None:
        """``$set`` the non-``None`` fields atomically; return the document after
        the update, ``None`` if no such user."""
        fields: Document = {}
        if update.display_name is not None:
            fields["display_name"] = update.display_name
            fields["display_name_key"] = update.display_name.lower()
        if update.bio is not None:
            fields["bio"] = update.bio
        if update.avatar_url is not None:
            fields["avatar_url"] = update.avatar_url
        if not fields:
            return await self.get(user_id)
        doc = await self._users.find_one_and_update(
            {"_id": user_id}, {"$set": fields}, return_document=ReturnDocument.AFTER
        )
        return _user(doc) if doc is not None else None

    async def search_prefix(self, prefix: str, limit: int) -> list[UserRecord]:
        """Users whose username or display name starts with ``prefix`` compared
        lower-case, ordered by username, at most ``limit``. The prefix is
        ``re.escape``-d, so every character is literal; both fields are stored
        lower-case, so the anchored regexes are case-sensitive and index-served."""
        if limit <= 0:
            return []
        pattern = "^" + re.escape(prefix.lower())
        cursor = (
            self._users.find(
                {
                    "$or": [
                        {"username": {"$regex": pattern}},
                        {"display_name_key": {"$regex": pattern}},
                    ]
                }
            )
            .sort("username", ASCENDING)
            .limit(limit)
        )
        return [_user(doc) async for doc in cursor]

    async def search_text(self, query: str, limit: int) -> list[UserRecord]:
        """``$text`` search for any word of ``query`` (phrase and negation syntax
        are neutralised by passing bare words), best ``textScore`` first, ties by
        username; at most ``limit``. No words: no results."""
        words = _WORD_RE.findall(query)[:MAX_QUERY_TERMS]
        if not words or limit <= 0:
            return []
        score = {"$meta": "textScore"}
        cursor = (
            self._users.find({"$text": {"$search": " ".join(words)}}, {"score": score})
            .sort([("score", score), ("username", ASCENDING)])
            .limit(limit)
        )
        return [_user(doc) async for doc in cursor]


class MongoAuthSessionStore:
    """:class:`actors.store.AuthSessionStore` on ``auth_sessions`` (``_id`` = token hash)."""

    _FIELDS: Final = {"_id": "token_hash"}

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._sessions = collection

    async def create(self, session: AuthSessionRecord) -> None:
        """Insert; ``Conflict("token_hash")`` if that hash exists, nothing written."""
        try:
            await self._sessions.insert_one(
                {
                    "_id": session.token_hash,
                    "user_id": session.user_id,
                    "created_at": session.created_at,
                    "expires_at": session.expires_at,
                }
            )
        except DuplicateKeyError as exc:
            raise _conflict(exc, self._FIELDS) from exc

    async def get(self, token_hash: str) -> AuthSessionRecord | None:
        doc = await self._sessions.find_one({"_id": token_hash})
        return _session(doc) if doc is not None else None

    async def delete(self, token_hash: str) -> bool:
        result = await self._sessions.delete_one({"_id": token_hash})
        return result.deleted_count > 0

    async def delete_for_user(self, user_id: str) -> int:
        result = await self._sessions.delete_many({"user_id": user_id})
        return result.deleted_count

    async def delete_expired(self, now: float) -> int:
        """Remove sessions with ``expires_at <= now``; return how many."""
        result = await self._sessions.delete_many({"expires_at": {"$lte": now}})
        return result.deleted_count


# ------------------------------------------------------------------ messaging


def _conversation_document(c: ConversationRecord) -> Document:
    return {
        "_id": c.id,
        "kind": c.kind,
        "title": c.title,
        "created_by": c.created_by,
        "created_at": c.created_at,
        "direct_key": c.direct_key,
        "last_seq": c.last_seq,
        "last_activity_at": c.last_activity_at,
        "last_preview": c.last_preview,
        "last_sender_id": c.last_sender_id,
    }


def _conversation(doc: Mapping[str, Any]) -> ConversationRecord:
    return ConversationRecord(
        id=doc["_id"],
        kind=doc["kind"],
        title=doc.get("title", ""),
        created_by=doc["created_by"],
        created_at=doc["created_at"],
        direct_key=doc.get("direct_key"),
        last_seq=doc.get("last_seq", 0),
        last_activity_at=doc["last_activity_at"],
        last_preview=doc.get("last_preview", ""),
        last_sender_id=doc.get("last_sender_id"),
    )


def _member_document(m: MemberRecord) -> Document:
    return {
        "conversation_id": m.conversation_id,
        "user_id": m.user_id,
        "role": m.role,
        "joined_at": m.joined_at,
        "read_seq": m.read_seq,
    }


def _member(doc: Mapping[str, Any]) -> MemberRecord:
    return MemberRecord(
        conversation_id=doc["conversation_id"],
        user_id=doc["user_id"],
        role=doc.get("role", "member"),
        joined_at=doc["joined_at"],
        read_seq=doc.get("read_seq", 0),
    )


def _message_document(m: MessageRecord) -> Document:
    return {
        "conversation_id": m.conversation_id,
        "seq": m.seq,
        "id": m.id,
        "kind": m.kind,
        "sender_id": m.sender_id,
        "client_key": m.client_key,
        "text": m.text,
        "media_url": m.media_url,
        "created_at": m.created_at,
        "edited_at": m.edited_at,
        "deleted": m.deleted,
        "target_seq": m.target_seq,
    }


def _message(doc: Mapping[str, Any]) -> MessageRecord:
    return MessageRecord(
        conversation_id=doc["conversation_id"],
        seq=doc["seq"],
        id=doc["id"],
        kind=doc.get("kind", "message"),
        sender_id=doc["sender_id"],
        client_key=doc.get("client_key"),
        text=doc.get("text", ""),
        media_url=doc.get("media_url", ""),
        created_at=doc["created_at"],
        edited_at=doc.get("edited_at"),
        deleted=bool(doc.get("deleted", False)),
        target_seq=doc.get("target_seq"),
    )


def _is_string(value: str) -> Document:
    """An equality filter on a field with a ``{$type: "string"}`` partial index.
    The ``$type`` term repeats the index's filter so that the planner can
    prove the index covers the query and use it."""
    return {"$eq": value, "$type": "string"}


_KEY_NAME_RE: Final = re.compile(r"['\"]?(\w+)['\"]?\s*:")


def _duplicate_key_names(error: Mapping[str, Any]) -> set[str]:
    """The fields of the unique index a write error (an item of a
    ``BulkWriteError``'s ``writeErrors``) is about: from its ``keyPattern``
    when the server sends one, else every ``name:`` in its message (a real
    server's ``index: … dup key: { conversation_id: …, seq: … }``, or the
    stand-in's ``{'keyPattern': {…}}``)."""
    pattern = error.get("keyPattern")
    if isinstance(pattern, Mapping) and pattern:
        return {str(key) for key in pattern}
    return set(_KEY_NAME_RE.findall(str(error.get("errmsg", ""))))


def _message_conflict(exc: BulkWriteError) -> Conflict | None:
    """``Conflict("client_key")`` or ``Conflict("seq")`` for the first
    duplicate-key error of an insert into ``messages``; ``None`` otherwise.
    ``client_key`` is tested first: only that index's message contains a
    client key, i.e. user text that might look like ``seq:``."""
    errors = (exc.details or {}).get("writeErrors") or []
    for error in errors:
        if error.get("code") not in (11000, 11001):
            continue
        names = _duplicate_key_names(error)
        if "client_key" in names:
            return Conflict("client_key")
        if "seq" in names:
            return Conflict("seq")
    return None


def _only_duplicates(exc: BulkWriteError) -> bool:
    """Whether every error of an unordered bulk write is a duplicate key."""
    details = exc.details or {}
    errors = details.get("writeErrors") or []
    return not details.get("writeConcernErrors") and all(
        error.get("code") in (11000, 11001) for error in errors
    )


class MongoConversationStore:
    """:class:`actors.store.ConversationStore` on ``conversations`` and ``members``."""

    _FIELDS: Final = {"_id": "id", "direct_key": "direct_key"}

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
            await self._members.insert_many([_member_document(m) for m in members], ordered=False)
        except BulkWriteError as exc:
            if not _only_duplicates(exc):
                raise

    async def create(self, conversation: ConversationRecord, members: list[MemberRecord]) -> None:
        """Insert the conversation, then its members. ``Conflict("direct_key")``
        (or ``Conflict("id")``) and nothing written if taken. Two writes, no
        transaction: a crash between them leaves a conversation without
        members, which nobody can see in their lists."""
        try:
            await self._conversations.insert_one(_conversation_document(conversation))
        except DuplicateKeyError as exc:
            raise _conflict(exc, self._FIELDS) from exc
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
        document = _conversation_document(conversation)
        created = False
        try:
            result = await self._conversations.update_one(
                {"direct_key": _is_string(key)}, {"$setOnInsert": document}, upsert=True
            )
            created = result.upserted_id is not None
        except DuplicateKeyError as exc:
            # Another caller inserted between our match and our insert (a real
            # server retries that itself, but may not always), or our _id is
            # taken: the collection has no other unique index, so if no
            # document has our direct_key, it was the _id.
            if await self._conversations.find_one({"direct_key": _is_string(key)}) is None:
                raise Conflict("id") from exc
        doc = await self._conversations.find_one({"direct_key": _is_string(key)})
        if doc is None:  # deleted in between: nothing in the port deletes conversations
            raise StoreError(f"direct conversation {key!r} vanished while being created")
        stored = _conversation(doc)
        if created or not await self._members.count_documents(
            {"conversation_id": stored.id}, limit=1
        ):
            await self._insert_members(
                [msgspec.structs.replace(m, conversation_id=stored.id) for m in members]
            )
        return stored, created

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        doc = await self._conversations.find_one({"_id": conversation_id})
        return _conversation(doc) if doc is not None else None

    async def members(self, conversation_id: str) -> list[MemberRecord]:
        """Current members, ordered by ``joined_at`` then user id."""
        cursor = self._members.find({"conversation_id": conversation_id}).sort(
            [("joined_at", ASCENDING), ("user_id", ASCENDING)]
        )
        return [_member(doc) async for doc in cursor]

    async def get_member(self, conversation_id: str, user_id: str) -> MemberRecord | None:
        doc = await self._members.find_one({"conversation_id": conversation_id, "user_id": user_id})
        return _member(doc) if doc is not None else None

    async def add_members(self, members: list[MemberRecord]) -> None:
        """Insert members; those already present keep their role, ``joined_at``
        and ``read_seq``."""
        await self._insert_members(members)

    async def remove_member(self, conversation_id: str, user_id: str) -> bool:
        """``True`` if the user was a member."""
        result = await self._members.delete_one(
            {"conversation_id": conversation_id, "user_id": user_id}
        )
        return result.deleted_count > 0

    async def set_title(self, conversation_id: str, title: str) -> None:
        """Set the title; no-op for an unknown conversation."""
        await self._conversations.update_one({"_id": conversation_id}, {"$set": {"title": title}})

    async def _memberships(self, user_id: str) -> dict[str, MemberRecord]:
        """The user's member records by conversation id (served by ``user_id_1``)."""
        return {
            doc["conversation_id"]: _member(doc)
            async for doc in self._members.find({"user_id": user_id})
        }

    async def list_for_user(
        self, user_id: str, *, before: tuple[float, str] | None, limit: int
    ) -> list[tuple[ConversationRecord, MemberRecord]]:
        """The user's conversations ordered by ``(last_activity_at, _id)``
        descending, strictly after the ``before`` cursor; at most ``limit``.

        Two queries, no ``$lookup``: the user's memberships, then their
        conversations by ``_id`` with the cursor, sorted. Each page costs one
        read of all the user's memberships, bounded by how many conversations
        one user is in."""
        if limit <= 0:
            return []
        memberships = await self._memberships(user_id)
        if not memberships:
            return []
        query: Document = {"_id": {"$in": list(memberships)}}
        if before is not None:
            at, last_id = before
            query["$or"] = [
                {"last_activity_at": {"$lt": at}},
                {"last_activity_at": at, "_id": {"$lt": last_id}},
            ]
        cursor = (
            self._conversations.find(query)
            .sort([("last_activity_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [(_conversation(doc), memberships[doc["_id"]]) async for doc in cursor]

    async def changed_since(
        self, user_id: str, since: float, limit: int
    ) -> list[tuple[ConversationRecord, MemberRecord]]:
        """The user's conversations with ``last_activity_at >= since`` ordered
        by ``(last_activity_at, _id)`` ascending; at most ``limit``."""
        if limit <= 0:
            return []
        memberships = await self._memberships(user_id)
        if not memberships:
            return []
        cursor = (
            self._conversations.find(
                {"_id": {"$in": list(memberships)}, "last_activity_at": {"$gte": since}}
            )
            .sort([("last_activity_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [(_conversation(doc), memberships[doc["_id"]]) async for doc in cursor]


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
            await self._messages.insert_many([_message_document(e) for e in entries], ordered=True)
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
            conflict = _message_conflict(exc) if isinstance(exc, BulkWriteError) else None
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
        return _message(doc) if doc is not None else None

    async def get_by_client_key(
        self, conversation_id: str, sender_id: str, client_key: str
    ) -> MessageRecord | None:
        doc = await self._messages.find_one(
            {
                "conversation_id": conversation_id,
                "sender_id": sender_id,
                "client_key": _is_string(client_key),
            }
        )
        return _message(doc) if doc is not None else None

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
        return [_message(doc) async for doc in cursor]

    async def since(self, conversation_id: str, after_seq: int, limit: int) -> list[MessageRecord]:
        """Entries of every kind with ``seq > after_seq``, oldest first, at most ``limit``."""
        if limit <= 0:
            return []
        cursor = (
            self._messages.find({"conversation_id": conversation_id, "seq": {"$gt": after_seq}})
            .sort("seq", ASCENDING)
            .limit(limit)
        )
        return [_message(doc) async for doc in cursor]

    async def unread_count(self, conversation_id: str, user_id: str, read_seq: int) -> int:
        """Entries of kind ``message``, not deleted, with ``seq > read_seq`` and
        a sender other than ``user_id`` (``$nin`` rather than ``$ne``: see the
        dependency notes on stand-ins)."""
        return await self._messages.count_documents(
            {
                "conversation_id": conversation_id,
                "seq": {"$gt": read_seq},
                "kind": "message",
                "deleted": {"$nin": [True]},
                "sender_id": {"$nin": [user_id]},
            }
        )


class MongoBlockStore:
    """:class:`actors.store.BlockStore` on ``blocks``."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._blocks = collection

    async def block(self, user_id: str, blocked_id: str, at: float) -> None:
        """Upsert the block; blocking again keeps the first ``at`` (a racing
        upsert's duplicate-key error means the block exists: also a no-op)."""
        with contextlib.suppress(DuplicateKeyError):
            await self._blocks.update_one(
                {"user_id": user_id, "blocked_id": blocked_id},
                {"$setOnInsert": {"created_at": at}},
                upsert=True,
            )

    async def unblock(self, user_id: str, blocked_id: str) -> None:
        """Remove the block; no-op if there is none."""
        await self._blocks.delete_one({"user_id": user_id, "blocked_id": blocked_id})

    async def is_blocked(self, user_id: str, blocked_id: str) -> bool:
        doc = await self._blocks.find_one(
            {"user_id": user_id, "blocked_id": blocked_id}, {"_id": 1}
        )
        return doc is not None


class MongoStore:
    """:class:`actors.store.Store` on one MongoDB database.

    Built from a connection ``url`` (the store creates the client on
    :meth:`open` and closes it on :meth:`close`) or from an existing ``client``
    (the caller keeps ownership and closes it; this is how tests inject the
    in-process stand-in).
    """

    users: UserStore
    auth_sessions: AuthSessionStore
    conversations: ConversationStore
    messages: MessageStore
    blocks: BlockStore

    def __init__(
        self,
        url: str | None = None,
        *,
        client: AsyncMongoClient[Document] | None = None,
        db_name: str = "grover",
    ) -> None:
        if client is None:
            if url is None:
                raise ValueError("give a url or a client")
            # Connects lazily, on the first operation.
            client = AsyncMongoClient(url, tz_aware=True)
            self._owns_client = True
        elif url is not None:
            raise ValueError("give a url or a client, not both")
        else:
            self._owns_client = False
        self._client = client
        self._opened = False
        self._closed = False
        self.db: AsyncDatabase[Document] = client[db_name]
        self.users = MongoUserStore(self.db["users"])
        self.auth_sessions = MongoAuthSessionStore(self.db["auth_sessions"])
        self.conversations = MongoConversationStore(self.db["conversations"], self.db["members"])
        self.messages = MongoMessageStore(
            self.db["messages"], self.db["members"], self.db["conversations"]
        )
        self.blocks = MongoBlockStore(self.db["blocks"])

    async def open(self) -> None:
        """Create every index in :data:`INDEXES` (``create_index`` with an
        existing spec is a no-op). Idempotent on an open store; a closed store
        cannot be reopened (make a new one)."""
        if self._closed:
            raise StoreError("store was closed; make a new MongoStore")
        if self._opened:
            return
        for name, specs in INDEXES.items():
            collection = self.db[name]
            for keys, options in specs:
                await collection.create_index(keys, **options)
        self._opened = True
        log.info("mongo %s: indexes ensured", self.db.name)

    async def close(self) -> None:
        """Close the client if this store created it (an injected client stays
        open: its owner closes it); :meth:`ping` answers ``False`` from now on.
        Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self._client.close()

    async def ping(self) -> bool:
        """``True`` if the server answers ``ping``; ``False`` once closed."""
        if self._closed:
            return False
        try:
            reply = await self._client.admin.command("ping")
        except PyMongoError:
            return False
        return bool(reply.get("ok"))
