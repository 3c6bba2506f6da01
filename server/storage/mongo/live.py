"""MongoDB stores of live streaming (:mod:`actors.store.live`) on ``streams``,
``stream_chat``, ``stream_bans`` and ``stream_viewers``.

One live stream per host is the unique partial index on ``host_id`` with
``partialFilterExpression: {status: "live"}``: the server refuses the insert
or the replacement that would make a second one (so nothing changes), and
:func:`~server.storage.mongo.indexes.conflicts` names it ``Conflict("live")``.
Duplicates that mean "already there" (a retried chat line, a second ban, a
returning viewer) are caught and answered, never raised.
"""

from __future__ import annotations

from typing import Final

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import BulkWriteError, DuplicateKeyError

from actors.store import Conflict
from actors.store.live import ChatLineRecord, StreamRecord
from actors.store.social import PageKey
from server.storage.mongo.documents import Document, keyset, to_document, to_record
from server.storage.mongo.indexes import conflicts, only_duplicates

__all__ = ["MongoChatStore", "MongoStreamBanStore", "MongoStreamStore"]

#: The live-now order: most viewers first, then id descending.
_LIVE_NOW_SORT: Final = [("viewer_count", DESCENDING), ("_id", DESCENDING)]
_NEWEST_FIRST: Final = [("created_at", DESCENDING), ("_id", DESCENDING)]
_OLDEST_FIRST: Final = [("created_at", ASCENDING), ("_id", ASCENDING)]


def _to_stream(doc: Document) -> StreamRecord:
    return to_record(StreamRecord, doc)


def _to_line(doc: Document) -> ChatLineRecord:
    return to_record(ChatLineRecord, doc)


def _viewers_below(key: PageKey | None) -> Document:
    """The filter of a live-now page strictly past ``key`` (``(viewer_count,
    id)``, descending); the redundant bound gives the planner index bounds,
    as in :func:`~server.storage.mongo.documents.keyset`."""
    if key is None:
        return {}
    count, last_id = key
    return {
        "viewer_count": {"$lte": count},
        "$or": [{"viewer_count": {"$lt": count}}, {"viewer_count": count, "_id": {"$lt": last_id}}],
    }


class MongoStreamStore:
    """:class:`actors.store.live.StreamStore` on ``streams`` (``_id`` = stream
    id) and ``stream_viewers`` (unique on ``(stream_id, user_id)``)."""

    def __init__(
        self, streams: AsyncCollection[Document], viewers: AsyncCollection[Document]
    ) -> None:
        self._streams = streams
        self._viewers = viewers

    async def create(self, stream: StreamRecord) -> None:
        """Insert; ``Conflict("id")`` or ``Conflict("live")``, nothing written.
        A duplicate whose index the error does not name (the stand-in's
        ``_id`` error names no key; a server's does) is ``Conflict("id")``
        when a document with this id exists, else re-raised."""
        doc = to_document(stream)
        try:
            with conflicts("streams"):
                await self._streams.insert_one(doc)
        except DuplicateKeyError as exc:
            if await self._streams.find_one({"_id": stream.id}, {"_id": 1}) is None:
                raise
            raise Conflict("id") from exc

    async def get(self, stream_id: str) -> StreamRecord | None:
        doc = await self._streams.find_one({"_id": stream_id})
        return None if doc is None else _to_stream(doc)

    async def get_many(self, stream_ids: list[str]) -> dict[str, StreamRecord]:
        if not stream_ids:
            return {}
        cursor = self._streams.find({"_id": {"$in": list(set(stream_ids))}})
        return {doc["_id"]: _to_stream(doc) async for doc in cursor}

    async def save(self, stream: StreamRecord) -> None:
        """``replace_one`` without upsert: a save of an id never created
        writes nothing. ``Conflict("live")`` and the document unchanged when
        it would be its host's second live stream."""
        doc = to_document(stream)
        del doc["_id"]
        with conflicts("streams"):
            await self._streams.replace_one({"_id": stream.id}, doc)

    async def live_of_host(self, host_id: str) -> StreamRecord | None:
        """An index seek on host (and status): one document at most."""
        doc = await self._streams.find_one({"host_id": host_id, "status": "live"})
        return None if doc is None else _to_stream(doc)

    async def live_now(self, *, before: PageKey | None, limit: int) -> list[StreamRecord]:
        """A range of ``(status, viewer_count desc, _id desc)``."""
        if limit <= 0:
            return []
        cursor = (
            self._streams.find({"status": "live", **_viewers_below(before)})
            .sort(_LIVE_NOW_SORT)
            .limit(limit)
        )
        return [_to_stream(doc) async for doc in cursor]

    async def scheduled_by_hosts(self, host_ids: list[str], limit: int) -> list[StreamRecord]:
        """Soonest ``scheduled_time`` first (ties by id); a scheduled stream
        without a time comes after every timed one. MongoDB sorts ``null``
        first, so those are a second query, only when the first falls short."""
        if limit <= 0 or not host_ids:
            return []
        hosts = {"status": "scheduled", "host_id": {"$in": list(set(host_ids))}}
        timed = (
            self._streams.find({**hosts, "scheduled_time": {"$type": "number"}})
            .sort([("scheduled_time", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        found = [_to_stream(doc) async for doc in timed]
        if len(found) < limit:
            untimed = (
                self._streams.find({**hosts, "scheduled_time": None})
                .sort([("_id", ASCENDING)])
                .limit(limit - len(found))
            )
            found += [_to_stream(doc) async for doc in untimed]
        return found

    async def by_host(
        self, host_id: str, *, before: PageKey | None, limit: int
    ) -> list[StreamRecord]:
        """A range of ``(host_id, created_at desc, _id desc)``."""
        if limit <= 0:
            return []
        cursor = (
            self._streams.find({"host_id": host_id, **keyset(before, "_id", newest_first=True)})
            .sort(_NEWEST_FIRST)
            .limit(limit)
        )
        return [_to_stream(doc) async for doc in cursor]

    async def add_viewer(self, stream_id: str, user_id: str, at: float) -> bool:
        """Insert the pair; a duplicate key is a returning viewer (``False``,
        and ``at`` stays the first time seen). The stream's ``unique_viewers``
        is the actor's to count and save."""
        try:
            await self._viewers.insert_one({"stream_id": stream_id, "user_id": user_id, "at": at})
        except DuplicateKeyError:
            return False
        return True


class MongoChatStore:
    """:class:`actors.store.live.ChatStore` on ``stream_chat`` (``_id`` = line id)."""

    def __init__(self, chat: AsyncCollection[Document]) -> None:
        self._chat = chat

    async def append(self, lines: list[ChatLineRecord]) -> None:
        """One unordered ``insert_many``: every line is tried, and a line
        refused as a duplicate (its client key, or its id: a retried batch
        whose first attempt was stored) is skipped; any other error raises."""
        if not lines:
            return
        try:
            await self._chat.insert_many([to_document(line) for line in lines], ordered=False)
        except BulkWriteError as exc:
            if not only_duplicates(exc):
                raise

    async def recent(self, stream_id: str, limit: int) -> list[ChatLineRecord]:
        """The newest ``limit`` not deleted, backward on ``(stream_id,
        created_at, _id)``, then reversed."""
        if limit <= 0:
            return []
        cursor = (
            self._chat.find({"stream_id": stream_id, "deleted": {"$ne": True}})
            .sort(_NEWEST_FIRST)
            .limit(limit)
        )
        newest = [_to_line(doc) async for doc in cursor]
        newest.reverse()
        return newest

    async def get(self, line_id: str) -> ChatLineRecord | None:
        doc = await self._chat.find_one({"_id": line_id})
        return None if doc is None else _to_line(doc)

    async def delete(self, line_id: str) -> bool:
        """Set the flag; the text stays (the full log shows what was removed)."""
        result = await self._chat.update_one(
            {"_id": line_id, "deleted": {"$ne": True}}, {"$set": {"deleted": True}}
        )
        return bool(result.modified_count)

    async def page(
        self, stream_id: str, *, after: PageKey | None, limit: int
    ) -> list[ChatLineRecord]:
        """Oldest first, a forward range of ``(stream_id, created_at, _id)``."""
        if limit <= 0:
            return []
        cursor = (
            self._chat.find({"stream_id": stream_id, **keyset(after, "_id", newest_first=False)})
            .sort(_OLDEST_FIRST)
            .limit(limit)
        )
        return [_to_line(doc) async for doc in cursor]


class MongoStreamBanStore:
    """:class:`actors.store.live.StreamBanStore` on ``stream_bans`` (unique on
    ``(stream_id, user_id)``)."""

    def __init__(self, bans: AsyncCollection[Document]) -> None:
        self._bans = bans

    async def ban(self, stream_id: str, user_id: str, at: float) -> bool:
        """A duplicate key is an existing ban (``False``; the first ``at`` stays)."""
        try:
            await self._bans.insert_one({"stream_id": stream_id, "user_id": user_id, "at": at})
        except DuplicateKeyError:
            return False
        return True

    async def is_banned(self, stream_id: str, user_id: str) -> bool:
        found = await self._bans.find_one({"stream_id": stream_id, "user_id": user_id}, {"_id": 1})
        return found is not None
