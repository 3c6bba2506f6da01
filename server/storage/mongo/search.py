"""MongoDB store of post search (:class:`actors.store.search.PostSearchStore`):
``$text`` on the posts' text index, the ``{tags, created_at}`` index by tag,
``$geoNear`` on the ``2dsphere`` index, and the ``tags`` collection
(``{_id: tag, post_count}``) for autocomplete, whose counts
:func:`move_tag_counts` keeps as :class:`~server.storage.mongo.posts.MongoPostStore`
writes posts.

Engine queries are built only from :func:`~actors.store.search.query_words`
(bare words joined by spaces: with no quote and no leading ``-`` left,
``$text`` sees neither phrases nor negations) and ``re.escape``-d prefixes.
"""

from __future__ import annotations

import re
from typing import Final

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection

from actors.store.search import (
    BEST_WINDOW,
    EARTH_RADIUS_KM,
    TAG_SCAN_MAX,
    PostHit,
    TagCount,
    haversine_km,
    normalise_tag,
    query_words,
)
from actors.store.social import PageKey, PostRecord
from server.storage.mongo.documents import Document, keyset, to_post

__all__ = ["MONGO_EARTH_RADIUS_KM", "MongoPostSearchStore", "move_tag_counts"]

#: The sphere MongoDB measures GeoJSON distances on (its ``$geoNear`` radius,
#: in metres, is scaled by this against the contract's
#: :data:`~actors.store.search.EARTH_RADIUS_KM`, so both backends draw the
#: same circle).
MONGO_EARTH_RADIUS_KM: Final = 6378.1


async def move_tag_counts(
    tags: AsyncCollection[Document], added: list[str], removed: list[str]
) -> None:
    """Add one to the count of each tag of ``added`` (creating it), take one
    from each of ``removed``, then drop the tags left at zero. Called by the
    post store after the post write that changed the tags, by that caller
    only, so counts are exact under concurrency (as for the other counters,
    a crash between the two steps can leave one off by one)."""
    writes = [UpdateOne({"_id": t}, {"$inc": {"post_count": 1}}, upsert=True) for t in added]
    writes += [UpdateOne({"_id": t}, {"$inc": {"post_count": -1}}) for t in removed]
    if not writes:
        return
    await tags.bulk_write(writes, ordered=False)
    if removed:
        await tags.delete_many({"_id": {"$in": removed}, "post_count": {"$lte": 0}})


class MongoPostSearchStore:
    """:class:`actors.store.search.PostSearchStore` on ``posts`` and ``tags``."""

    def __init__(self, posts: AsyncCollection[Document], tags: AsyncCollection[Document]) -> None:
        self._posts = posts
        self._tags = tags

    async def text_newest(
        self, query: str, *, before: PageKey | None, limit: int
    ) -> list[PostRecord]:
        words = query_words(query)
        if not words or limit <= 0:
            return []
        cursor = (
            self._posts.find(
                {"$text": {"$search": " ".join(words)}, **keyset(before, "_id", newest_first=True)}
            )
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [to_post(doc) async for doc in cursor]

    async def text_best(self, query: str, *, offset: int, limit: int) -> list[PostRecord]:
        words = query_words(query)
        if not words or limit <= 0:
            return []
        # The most recent BEST_WINDOW matches (ids are time-ordered), then by score.
        pipeline: list[Document] = [
            {"$match": {"$text": {"$search": " ".join(words)}}},
            {"$sort": {"_id": -1}},
            {"$limit": BEST_WINDOW},
            {"$addFields": {"score": {"$meta": "textScore"}}},
            {"$sort": {"score": -1, "_id": -1}},
            {"$skip": max(offset, 0)},
            {"$limit": limit},
        ]
        cursor = await self._posts.aggregate(pipeline)
        return [to_post(doc) async for doc in cursor]

    async def by_tag(self, tag: str, *, before: PageKey | None, limit: int) -> list[PostRecord]:
        if limit <= 0:
            return []
        cursor = (
            self._posts.find(
                {"tags": normalise_tag(tag), **keyset(before, "_id", newest_first=True)}
            )
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [to_post(doc) async for doc in cursor]

    async def tag_prefix(self, prefix: str, limit: int) -> list[TagCount]:
        """An anchored, escaped regex on ``_id`` (an index range), the first
        :data:`TAG_SCAN_MAX` in tag order, ranked here by count."""
        low = normalise_tag(prefix)
        if not low or limit <= 0:
            return []
        cursor = (
            self._tags.find({"_id": {"$regex": "^" + re.escape(low)}, "post_count": {"$gt": 0}})
            .sort("_id", ASCENDING)
            .limit(TAG_SCAN_MAX)
        )
        found = [TagCount(tag=doc["_id"], post_count=doc["post_count"]) async for doc in cursor]
        found.sort(key=lambda t: (-t.post_count, t.tag))
        return found[:limit]

    async def near(
        self, latitude: float, longitude: float, radius_km: float, *, offset: int, limit: int
    ) -> list[PostHit]:
        """``$geoNear`` (spherical, on the ``2dsphere`` index), nearest first,
        ``$skip`` / ``$limit``. The reported distance is the contract's
        :func:`~actors.store.search.haversine_km`, the same as on SQLite."""
        if limit <= 0:
            return []
        pipeline: list[Document] = [
            {
                "$geoNear": {
                    "near": {"type": "Point", "coordinates": [longitude, latitude]},
                    "distanceField": "distance_m",
                    "maxDistance": radius_km * 1000 * MONGO_EARTH_RADIUS_KM / EARTH_RADIUS_KM,
                    "spherical": True,
                    "key": "location",
                }
            },
            {"$skip": max(offset, 0)},
            {"$limit": limit},
        ]
        hits = []
        async for doc in await self._posts.aggregate(pipeline):
            post = to_post(doc)
            assert post.location is not None  # $geoNear only finds located posts
            distance = haversine_km(
                latitude, longitude, post.location.latitude, post.location.longitude
            )
            hits.append(PostHit(post=post, distance_km=distance))
        return hits
