"""MongoDB stores of discovery (:mod:`actors.store.discovery`).

``tag_trends`` documents are ``{tag, bucket, score, posts}`` with a server
ObjectId ``_id``, unique on ``(tag, bucket)``; a bump is one upsert per tag
(an upsert that races another on the unique index is retried by the server,
so concurrent bumps all count). Suggestions read ``follows`` and ``users``
through their indexes, ``users`` by ``(followers_count, _id)``.
"""

from __future__ import annotations

import asyncio

from pymongo import DESCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from actors.store.accounts import UserRecord
from actors.store.discovery import WINDOW_BUCKETS, PopularKey, TagBucket, bucket_of
from actors.store.social import FollowRecord
from server.storage.mongo.documents import Document, to_follow, to_user

__all__ = ["MongoSuggestionStore", "MongoTrendStore"]


def _never_below_zero(field: str, change: float) -> Document:
    return {"$max": [0, {"$add": [f"${field}", change]}]}


class MongoTrendStore:
    """:class:`actors.store.discovery.TrendStore` on ``tag_trends``."""

    def __init__(self, trends: AsyncCollection[Document]) -> None:
        self._trends = trends
        self._pruned_for = -1
        """The newest bucket whose bump pruned (pruning is needed once an hour)."""

    async def bump(self, tags: list[str], at: float, weight: float, posts: int = 0) -> None:
        """One unordered bulk write: an ``$inc`` upsert per tag, or for a
        change with a negative part an update pipeline that stops at 0 and
        creates nothing; then, once per bucket, the prune."""
        if not tags:
            return
        bucket = bucket_of(at)
        if weight >= 0 and posts >= 0:
            writes = [
                UpdateOne(
                    {"tag": tag, "bucket": bucket},
                    {"$inc": {"score": weight, "posts": posts}},
                    upsert=True,
                )
                for tag in tags
            ]
        else:
            take = [
                {
                    "$set": {
                        "score": _never_below_zero("score", weight),
                        "posts": _never_below_zero("posts", posts),
                    }
                }
            ]
            writes = [UpdateOne({"tag": tag, "bucket": bucket}, take) for tag in tags]
        await self._trends.bulk_write(writes, ordered=False)
        if bucket > self._pruned_for:
            await self._trends.delete_many({"bucket": {"$lt": bucket - WINDOW_BUCKETS + 1}})
            self._pruned_for = max(self._pruned_for, bucket)

    async def top(self, since: float, *, per_bucket: int) -> list[TagBucket]:
        """The buckets' leaders by ``(bucket, score)``, the hours queried at
        once; then the candidates' rows by ``(tag, bucket)``."""
        first = bucket_of(since)
        last = first + WINDOW_BUCKETS - 1

        async def leaders(bucket: int) -> list[str]:
            cursor = (
                self._trends.find({"bucket": bucket}, {"tag": 1, "_id": 0})
                .sort("score", DESCENDING)
                .limit(per_bucket)
            )
            return [doc["tag"] async for doc in cursor]

        found = await asyncio.gather(*(leaders(b) for b in range(first, last + 1)))
        candidates = sorted({tag for tags in found for tag in tags})
        if not candidates:
            return []
        cursor = self._trends.find(
            {"tag": {"$in": candidates}, "bucket": {"$gte": first, "$lte": last}}, {"_id": 0}
        )
        return [
            TagBucket(
                tag=doc["tag"],
                bucket=int(doc["bucket"]),
                score=float(doc["score"]),
                posts=int(doc["posts"]),
            )
            async for doc in cursor
        ]

    async def prune(self, before: float) -> int:
        result = await self._trends.delete_many({"bucket": {"$lt": bucket_of(before)}})
        return result.deleted_count


class MongoSuggestionStore:
    """:class:`actors.store.discovery.SuggestionStore` on ``follows`` and ``users``."""

    def __init__(
        self, follows: AsyncCollection[Document], users: AsyncCollection[Document]
    ) -> None:
        self._follows = follows
        self._users = users

    async def followed_by_followees(
        self, user_id: str, *, followees: int, per_followee: int
    ) -> list[FollowRecord]:
        """The sample and each sampled followee's follows are ranges of
        ``(follower_id, created_at, followee_id)``, the latter queried at
        once; which candidates the caller follows is one ``$in``."""
        if followees <= 0 or per_followee <= 0:
            return []
        newest = [("created_at", DESCENDING), ("followee_id", DESCENDING)]

        async def follows_of(follower: str, limit: int) -> list[FollowRecord]:
            cursor = (
                self._follows.find({"follower_id": follower}, {"_id": 0}).sort(newest).limit(limit)
            )
            return [to_follow(doc) async for doc in cursor]

        sample = [f.followee_id for f in await follows_of(user_id, followees)]
        found = await asyncio.gather(*(follows_of(f, per_followee) for f in sample))
        edges = [edge for edges in found for edge in edges]
        others = sorted({e.followee_id for e in edges} - {user_id})
        cursor = self._follows.find(
            {"follower_id": user_id, "followee_id": {"$in": others}}, {"followee_id": 1, "_id": 0}
        )
        followed = {doc["followee_id"] async for doc in cursor}
        return [e for e in edges if e.followee_id != user_id and e.followee_id not in followed]

    async def popular(self, *, before: PopularKey | None, limit: int) -> list[UserRecord]:
        """A range of ``(followers_count, _id)``, descending; the ``$or`` says
        the keyset exactly, the range beside it gives the index bounds."""
        if limit <= 0:
            return []
        query: Document = {"followers_count": {"$gt": 0}}
        if before is not None:
            count, last_id = before
            query = {
                "followers_count": {"$gt": 0, "$lte": count},
                "$or": [
                    {"followers_count": {"$lt": count}},
                    {"followers_count": count, "_id": {"$lt": last_id}},
                ],
            }
        cursor = (
            self._users.find(query)
            .sort([("followers_count", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [to_user(doc) async for doc in cursor]
