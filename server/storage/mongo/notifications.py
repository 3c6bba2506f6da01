"""MongoDB store of notifications (:mod:`actors.store.notifications`).

Collections: ``notifications`` (one document per group, ``_id`` = its id),
``notification_actors`` (``{notification_id, actor_id, at}``, unique on the
pair) and ``notification_settings`` (``_id`` = user id, ``muted``). There are
no transactions: each method is a short ordered sequence, safe because one
writer (the recipient's UserActor) calls them. The actor row goes first, so
a crash midway leaves a count one lower than its actor rows, never a count
for an actor that is not there.
"""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from actors.store.notifications import SHOWN_ACTORS, NewNotification, NotificationRecord
from actors.store.social import PageKey
from server.storage.mongo.documents import Document

__all__ = ["MongoNotificationStore"]


def _older(key: PageKey, *, inclusive: bool) -> Document:
    """Rows before ``key`` in ``(updated_at, _id)`` order (and ``key`` itself
    when ``inclusive``); the ``updated_at`` range gives the planner bounds."""
    at, last_id = key
    return {
        "updated_at": {"$lte": at},
        "$or": [
            {"updated_at": {"$lt": at}},
            {"updated_at": at, "_id": {"$lte" if inclusive else "$lt": last_id}},
        ],
    }


class MongoNotificationStore:
    def __init__(
        self,
        notifications: AsyncCollection[Document],
        actors: AsyncCollection[Document],
        settings: AsyncCollection[Document],
    ) -> None:
        self._notifications = notifications
        self._actors = actors
        self._settings = settings

    async def _records(self, docs: list[Document]) -> list[NotificationRecord]:
        ids = [doc["_id"] for doc in docs]
        shown: dict[str, list[str]] = {i: [] for i in ids}
        if ids:
            cursor = self._actors.find({"notification_id": {"$in": ids}}).sort(
                [("notification_id", ASCENDING), ("at", DESCENDING), ("actor_id", ASCENDING)]
            )
            async for row in cursor:
                names = shown[row["notification_id"]]
                if len(names) < SHOWN_ACTORS:
                    names.append(row["actor_id"])
        return [
            NotificationRecord(
                id=doc["_id"],
                recipient_id=doc["recipient_id"],
                kind=doc["kind"],
                group_key=doc["group_key"],
                actor_ids=shown[doc["_id"]],
                actor_count=doc["actor_count"],
                post_id=doc.get("post_id"),
                comment_id=doc.get("comment_id"),
                text=doc.get("text", ""),
                read=bool(doc.get("read")),
                created_at=doc["created_at"],
                updated_at=doc["updated_at"],
            )
            for doc in docs
        ]

    async def _one(self, notification_id: str) -> NotificationRecord | None:
        doc = await self._notifications.find_one({"_id": notification_id})
        return (await self._records([doc]))[0] if doc is not None else None

    async def add(self, new: NewNotification, *, window: float) -> NotificationRecord | None:
        group = await self._notifications.find_one(
            {
                "recipient_id": new.recipient_id,
                "group_key": new.group_key,
                "read": False,
                "updated_at": {"$gte": new.at - window},
            },
            sort=[("updated_at", DESCENDING)],
        )
        notification_id = group["_id"] if group is not None else new.id
        try:
            await self._actors.insert_one(
                {"notification_id": notification_id, "actor_id": new.actor_id, "at": new.at}
            )
        except DuplicateKeyError:
            return None
        if group is None:
            await self._notifications.insert_one(
                {
                    "_id": new.id,
                    "recipient_id": new.recipient_id,
                    "kind": new.kind,
                    "group_key": new.group_key,
                    "actor_count": 1,
                    "post_id": new.post_id,
                    "comment_id": new.comment_id,
                    "text": new.text,
                    "read": False,
                    "created_at": new.at,
                    "updated_at": new.at,
                }
            )
            return await self._one(new.id)
        changes: dict[str, Any] = {"text": new.text}
        if new.comment_id is not None:
            changes["comment_id"] = new.comment_id
        await self._notifications.find_one_and_update(
            {"_id": notification_id},
            {"$inc": {"actor_count": 1}, "$max": {"updated_at": new.at}, "$set": changes},
            return_document=ReturnDocument.AFTER,
        )
        return await self._one(notification_id)

    async def remove(
        self, recipient_id: str, group_key: str, actor_id: str
    ) -> tuple[str, NotificationRecord | None] | None:
        groups = self._notifications.find(
            {"recipient_id": recipient_id, "group_key": group_key, "read": False}
        ).sort("updated_at", DESCENDING)
        async for group in groups:
            removed = await self._actors.delete_one(
                {"notification_id": group["_id"], "actor_id": actor_id}
            )
            if removed.deleted_count != 1:
                continue
            if group["actor_count"] <= 1:
                await self._notifications.delete_one({"_id": group["_id"]})
                return group["_id"], None
            await self._notifications.update_one(
                {"_id": group["_id"]}, {"$inc": {"actor_count": -1}}
            )
            return group["_id"], await self._one(group["_id"])
        return None

    async def page(
        self, recipient_id: str, *, before: PageKey | None, limit: int
    ) -> list[NotificationRecord]:
        query: Document = {"recipient_id": recipient_id}
        if before is not None:
            query |= _older(before, inclusive=False)
        cursor = (
            self._notifications.find(query)
            .sort([("updated_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return await self._records([doc async for doc in cursor])

    async def mark_read(
        self,
        recipient_id: str,
        *,
        ids: list[str] | None = None,
        up_to: PageKey | None = None,
    ) -> int:
        query: Document = {"recipient_id": recipient_id, "read": False}
        if ids is not None:
            query["_id"] = {"$in": ids}
        elif up_to is not None:
            query |= _older(up_to, inclusive=True)
        await self._notifications.update_many(query, {"$set": {"read": True}})
        return await self.unread_count(recipient_id)

    async def unread_count(self, recipient_id: str) -> int:
        return await self._notifications.count_documents(
            {"recipient_id": recipient_id, "read": False}
        )

    async def muted(self, user_id: str) -> list[str]:
        doc = await self._settings.find_one({"_id": user_id})
        return list(doc.get("muted", [])) if doc is not None else []

    async def set_muted(self, user_id: str, kinds: list[str]) -> None:
        await self._settings.update_one(
            {"_id": user_id}, {"$set": {"muted": sorted(set(kinds))}}, upsert=True
        )
