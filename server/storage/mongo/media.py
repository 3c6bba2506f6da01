"""MongoDB store of uploaded media (:mod:`actors.store.media`) on the
``media`` collection (``_id`` = media id, ``attached_to`` ``null`` while
unattached).

There are no transactions, so :meth:`MongoMediaStore.attach` is a check, a
guarded update and a compensation: each document's update is itself guarded
(only an unattached medium of the owner moves), and when a concurrent attach
took one of them between the check and the update, the media this call moved
are put back, so the call still changes nothing when it answers ``False``.
"""

from __future__ import annotations

from pymongo import ASCENDING
from pymongo.asynchronous.collection import AsyncCollection

from actors.store.media import MediaRecord
from server.storage.mongo.documents import Document, to_document, to_record
from server.storage.mongo.indexes import conflicts

__all__ = ["MongoMediaStore"]


def _to_media(doc: Document) -> MediaRecord:
    return to_record(MediaRecord, doc)


class MongoMediaStore:
    """:class:`actors.store.media.MediaStore` on one collection."""

    def __init__(self, media: AsyncCollection[Document]) -> None:
        self._media = media

    async def create(self, record: MediaRecord) -> None:
        """Insert; ``Conflict("id")`` for a taken id."""
        with conflicts("media"):
            await self._media.insert_one(to_document(record))

    async def get(self, media_id: str) -> MediaRecord | None:
        doc = await self._media.find_one({"_id": media_id})
        return None if doc is None else _to_media(doc)

    async def get_many(self, media_ids: list[str]) -> dict[str, MediaRecord]:
        if not media_ids:
            return {}
        cursor = self._media.find({"_id": {"$in": list(set(media_ids))}})
        return {doc["_id"]: _to_media(doc) async for doc in cursor}

    async def attach(self, media_ids: list[str], owner_id: str, target: str) -> bool:
        """All or none; see the module docstring for the compensation."""
        wanted = sorted(set(media_ids))
        if not wanted:
            return True
        free: list[str] = []
        found = 0
        async for doc in self._media.find(
            {"_id": {"$in": wanted}, "owner_id": owner_id, "attached_to": {"$in": [None, target]}},
            {"attached_to": 1},
        ):
            found += 1
            # One already on ``target`` is a retry: nothing to do for it.
            if doc.get("attached_to") is None:
                free.append(doc["_id"])
        if found != len(wanted):
            return False
        if not free:
            return True
        result = await self._media.update_many(
            {"_id": {"$in": free}, "owner_id": owner_id, "attached_to": None},
            {"$set": {"attached_to": target}},
        )
        if result.modified_count == len(free):
            return True
        # A concurrent attach won one of them: undo ours, all or none.
        await self._media.update_many(
            {"_id": {"$in": free}, "attached_to": target}, {"$set": {"attached_to": None}}
        )
        return False

    async def release(self, target: str) -> int:
        result = await self._media.update_many(
            {"attached_to": target}, {"$set": {"attached_to": None}}
        )
        return int(result.modified_count)

    async def unattached_before(self, before: float, limit: int) -> list[MediaRecord]:
        """A range of the ``(attached_to, created_at, _id)`` index."""
        cursor = (
            self._media.find({"attached_to": None, "created_at": {"$lt": before}})
            .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [_to_media(doc) async for doc in cursor]

    async def delete(self, media_id: str) -> bool:
        result = await self._media.delete_one({"_id": media_id})
        return bool(result.deleted_count)

    async def uploaded_bytes_since(self, owner_id: str, since: float) -> int:
        """A ``$group`` sum over a range of the ``(owner_id, created_at)`` index."""
        cursor = await self._media.aggregate(
            [
                {"$match": {"owner_id": owner_id, "created_at": {"$gte": since}}},
                {"$group": {"_id": None, "total": {"$sum": "$uploaded_bytes"}}},
            ]
        )
        async for row in cursor:
            return int(row["total"])
        return 0
