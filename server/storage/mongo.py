"""MongoDB backend of the storage ports (:mod:`actors.store`), on PyMongo's
native async API (``pymongo.AsyncMongoClient``; Motor is deprecated).

Document shapes (``_id`` is always our id string):

* ``users``: ``{_id, username, email, password_hash, display_name,
  display_name_key, bio, avatar_url, created_at}``; ``display_name_key`` is
  ``display_name.lower()``, kept so that prefix search is an index-served,
  case-sensitive anchored regex and answers exactly like the SQLite backend.
* ``auth_sessions``: ``{_id: token_hash, user_id, created_at, expires_at}``.
  The token hash *is* the ``_id``, so the built-in unique ``_id`` index is the
  unique token-hash index. ``expires_at`` stays a float (UNIX seconds) as the
  port says; there is no TTL index (it needs a BSON date), expired sessions are
  removed by :meth:`MongoAuthSessionStore.delete_expired`.

:meth:`MongoStore.open` creates every index of the seed's schema, including
those of aggregates whose stores come later (posts, messages), idempotently.

Tests run this module against a real server when one is configured, otherwise
against ``pymongo_async_mock`` (mongomock). That stand-in accepts text and
2dsphere index specifications (it records them without implementing them), so
index creation needs no special case for it; what it cannot do is *query*
them (``$text``, ``$near``), and the contract suite skips those checks there.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Final

from pymongo import ASCENDING, DESCENDING, GEOSPHERE, TEXT, AsyncMongoClient, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError, PyMongoError

from actors.store import (
    AuthSessionRecord,
    AuthSessionStore,
    Conflict,
    ProfileUpdate,
    StoreError,
    UserRecord,
    UserStore,
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
    "messages": (([("conversation_id", ASCENDING), ("created_at", DESCENDING)], {}),),
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


class MongoStore:
    """:class:`actors.store.Store` on one MongoDB database.

    Built from a connection ``url`` (the store creates the client on
    :meth:`open` and closes it on :meth:`close`) or from an existing ``client``
    (the caller keeps ownership and closes it; this is how tests inject the
    in-process stand-in).
    """

    users: UserStore
    auth_sessions: AuthSessionStore

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
