"""MongoDB stores of the accounts domain (:mod:`actors.store.accounts`): users
(with prefix and ``$text`` search), login sessions, blocks."""

from __future__ import annotations

import contextlib
import re

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from actors.store.accounts import AuthSessionRecord, ProfileUpdate, UserRecord
from actors.store.search import query_words, search_key
from server.storage.mongo.documents import (
    Document,
    session_document,
    to_session,
    to_user,
    user_document,
)
from server.storage.mongo.indexes import conflicts

__all__ = ["MongoAuthSessionStore", "MongoBlockStore", "MongoUserStore"]


class MongoUserStore:
    """:class:`actors.store.UserStore` on the ``users`` collection."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._users = collection

    async def create(self, user: UserRecord) -> None:
        """Insert; ``Conflict("username"|"email"|"id")`` if taken, nothing written
        (a single-document insert is atomic)."""
        with conflicts("users"):
            await self._users.insert_one(user_document(user))

    async def get(self, user_id: str) -> UserRecord | None:
        doc = await self._users.find_one({"_id": user_id})
        return to_user(doc) if doc is not None else None

    async def get_many(self, user_ids: list[str]) -> dict[str, UserRecord]:
        if not user_ids:
            return {}
        cursor = self._users.find({"_id": {"$in": user_ids}})
        return {doc["_id"]: to_user(doc) async for doc in cursor}

    async def get_many_by_username(self, usernames: list[str]) -> dict[str, UserRecord]:
        """Exact matches on the stored (lower-case) usernames, by the unique
        ``username`` index."""
        if not usernames:
            return {}
        cursor = self._users.find({"username": {"$in": usernames}})
        return {doc["username"]: to_user(doc) async for doc in cursor}

    async def get_by_username(self, username: str) -> UserRecord | None:
        """Exact match on the stored (lower-case) username."""
        doc = await self._users.find_one({"username": username})
        return to_user(doc) if doc is not None else None

    async def get_by_email(self, email: str) -> UserRecord | None:
        """Exact match on the stored (lower-case) email."""
        doc = await self._users.find_one({"email": email})
        return to_user(doc) if doc is not None else None

    async def update_profile(self, user_id: str, update: ProfileUpdate) -> UserRecord | None:
        """``$set`` the non-``None`` fields atomically; return the document after
        the update, ``None`` if no such user."""
        fields: Document = update.changes()
        if update.display_name is not None:
            fields["display_name_key"] = search_key(update.display_name)
        if not fields:
            return await self.get(user_id)
        doc = await self._users.find_one_and_update(
            {"_id": user_id}, {"$set": fields}, return_document=ReturnDocument.AFTER
        )
        return to_user(doc) if doc is not None else None

    async def search_prefix(self, prefix: str, limit: int) -> list[UserRecord]:
        """Users whose username or display name starts with ``prefix`` compared
        lower-case, ordered by username, at most ``limit``. The prefix is
        ``re.escape``-d, so every character is literal; both fields are stored
        lower-case, so the anchored regexes are case-sensitive and index-served."""
        if limit <= 0:
            return []
        pattern = "^" + re.escape(search_key(prefix))
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
        return [to_user(doc) async for doc in cursor]

    async def search_text(self, query: str, limit: int) -> list[UserRecord]:
        """``$text`` search for any word of ``query``
        (:func:`~actors.store.search.query_words`), best ``textScore`` first,
        ties by username; at most ``limit``. No words: no results. The words
        are passed bare, space-separated: with no quote or leading ``-`` in
        them, ``$text`` sees neither phrases nor negations."""
        words = query_words(query)
        if not words or limit <= 0:
            return []
        score = {"$meta": "textScore"}
        cursor = (
            self._users.find({"$text": {"$search": " ".join(words)}}, {"score": score})
            .sort([("score", score), ("username", ASCENDING)])
            .limit(limit)
        )
        return [to_user(doc) async for doc in cursor]


class MongoAuthSessionStore:
    """:class:`actors.store.AuthSessionStore` on ``auth_sessions`` (``_id`` = token hash)."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._sessions = collection

    async def create(self, session: AuthSessionRecord) -> None:
        """Insert; ``Conflict("token_hash")`` if that hash exists, nothing written."""
        with conflicts("auth_sessions"):
            await self._sessions.insert_one(session_document(session))

    async def get(self, token_hash: str) -> AuthSessionRecord | None:
        doc = await self._sessions.find_one({"_id": token_hash})
        return to_session(doc) if doc is not None else None

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

    async def blocked_among(self, user_id: str, others: list[str]) -> set[str]:
        """One ``find`` with an ``$or`` of both directions, each served by the
        unique ``(user_id, blocked_id)`` index (the second by its prefix on
        each ``user_id`` of ``others``)."""
        if not others:
            return set()
        cursor = self._blocks.find(
            {
                "$or": [
                    {"user_id": user_id, "blocked_id": {"$in": others}},
                    {"user_id": {"$in": others}, "blocked_id": user_id},
                ]
            },
            {"user_id": 1, "blocked_id": 1, "_id": 0},
        )
        return {
            doc["blocked_id"] if doc["user_id"] == user_id else doc["user_id"]
            async for doc in cursor
        }
