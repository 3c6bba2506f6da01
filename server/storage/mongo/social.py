"""MongoDB stores of the social domain (:mod:`actors.store.social`): follows,
likes, the recount of counters, and named keys; posts and comments are in
:mod:`server.storage.mongo.posts`.

Without transactions, every write that changes a count is two steps: the row
(insert or delete), then ``$inc`` on the counted document, done only by the
caller whose row write changed something (an insert that succeeded, a delete
that deleted), so concurrent and repeated calls count exactly once. A crash
between the two steps leaves a counter off by one: :class:`MongoCountStore`
recounts from the rows and repairs it. Decrements never go below 0.
"""

from __future__ import annotations

import contextlib

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from actors.store import StoreError
from actors.store.social import (
    CommentCounts,
    FollowRecord,
    LikeRecord,
    LikeResult,
    PageKey,
    PostCounts,
    UserCounts,
    ViewContext,
)
from server.storage.mongo.accounts import MongoBlockStore, MongoUserStore
from server.storage.mongo.documents import (
    Document,
    follow_document,
    keyset,
    like_document,
    to_document,
    to_follow,
    to_like,
)

__all__ = [
    "MongoCountStore",
    "MongoFollowStore",
    "MongoKeyStore",
    "MongoLikeStore",
    "decrement",
    "decrement_if_positive",
]


def decrement(field: str) -> list[Document]:
    """An update pipeline taking one from ``field``, never below 0 (a missing
    field becomes 0): for ``find_one_and_update``, whose caller needs the new
    value whether or not it was already 0."""
    return [{"$set": {field: {"$max": [0, {"$subtract": [f"${field}", 1]}]}}}]


def decrement_if_positive(doc_id: str, field: str) -> tuple[Document, Document]:
    """The filter and update taking one from ``field`` of document ``doc_id``
    unless it is already 0 (the filter then matches nothing), for
    ``update_one`` or ``UpdateOne``."""
    return {"_id": doc_id, field: {"$gt": 0}}, {"$inc": {field: -1}}


class MongoFollowStore:
    """:class:`actors.store.FollowStore` on ``follows``, with the counts on ``users``."""

    def __init__(
        self, follows: AsyncCollection[Document], users: AsyncCollection[Document]
    ) -> None:
        self._follows = follows
        self._users = users

    async def follow(self, follower_id: str, followee_id: str, at: float) -> bool:
        """Insert the edge, then ``$inc`` both users' counts; a duplicate key
        (the edge exists, or a racing follow made it) is ``False`` and counts
        nothing."""
        edge = FollowRecord(follower_id=follower_id, followee_id=followee_id, created_at=at)
        try:
            await self._follows.insert_one(follow_document(edge))
        except DuplicateKeyError:
            return False
        await self._users.bulk_write(
            [
                UpdateOne({"_id": follower_id}, {"$inc": {"following_count": 1}}),
                UpdateOne({"_id": followee_id}, {"$inc": {"followers_count": 1}}),
            ],
            ordered=False,
        )
        return True

    async def unfollow(self, follower_id: str, followee_id: str) -> bool:
        """Delete the edge, then take one from both counts, only when this
        call's delete removed it."""
        result = await self._follows.delete_one(
            {"follower_id": follower_id, "followee_id": followee_id}
        )
        if result.deleted_count != 1:
            return False
        await self._users.bulk_write(
            [
                UpdateOne(*decrement_if_positive(follower_id, "following_count")),
                UpdateOne(*decrement_if_positive(followee_id, "followers_count")),
            ],
            ordered=False,
        )
        return True

    async def following_among(self, follower_id: str, user_ids: list[str]) -> set[str]:
        if not user_ids:
            return set()
        cursor = self._follows.find(
            {"follower_id": follower_id, "followee_id": {"$in": user_ids}},
            {"followee_id": 1, "_id": 0},
        )
        return {doc["followee_id"] async for doc in cursor}

    async def followers_among(self, followee_id: str, user_ids: list[str]) -> set[str]:
        if not user_ids:
            return set()
        cursor = self._follows.find(
            {"followee_id": followee_id, "follower_id": {"$in": user_ids}},
            {"follower_id": 1, "_id": 0},
        )
        return {doc["follower_id"] async for doc in cursor}

    async def followers(
        self, user_id: str, *, before: PageKey | None, limit: int
    ) -> list[FollowRecord]:
        """Newest first by ``(created_at, follower_id)``, served by
        ``(followee_id, created_at, follower_id)``."""
        return await self._page("followee_id", user_id, "follower_id", before, limit)

    async def following(
        self, user_id: str, *, before: PageKey | None, limit: int
    ) -> list[FollowRecord]:
        """Newest first by ``(created_at, followee_id)``, served by
        ``(follower_id, created_at, followee_id)``."""
        return await self._page("follower_id", user_id, "followee_id", before, limit)

    async def _page(
        self, side: str, user_id: str, other: str, before: PageKey | None, limit: int
    ) -> list[FollowRecord]:
        """Edges whose ``side`` is ``user_id``, newest first by ``(created_at,
        other)``, strictly older than ``before``."""
        if limit <= 0:  # a limit of 0 means "no limit" to MongoDB
            return []
        cursor = (
            self._follows.find({side: user_id, **keyset(before, other, newest_first=True)})
            .sort([("created_at", DESCENDING), (other, DESCENDING)])
            .limit(limit)
        )
        return [to_follow(doc) async for doc in cursor]

    async def following_ids(self, user_id: str, limit: int) -> list[str]:
        """The most recently followed first (the order is free with the
        ``(follower_id, created_at, followee_id)`` index and makes the cut at
        ``limit`` deterministic)."""
        if limit <= 0:
            return []
        cursor = (
            self._follows.find({"follower_id": user_id}, {"followee_id": 1, "_id": 0})
            .sort([("created_at", DESCENDING), ("followee_id", DESCENDING)])
            .limit(limit)
        )
        return [doc["followee_id"] async for doc in cursor]

    async def follower_ids(self, user_id: str, *, after: str | None, limit: int) -> list[str]:
        """Served by ``(followee_id, follower_id)``."""
        if limit <= 0:
            return []
        query: Document = {"followee_id": user_id}
        if after is not None:
            query["follower_id"] = {"$gt": after}
        cursor = (
            self._follows.find(query, {"follower_id": 1, "_id": 0})
            .sort("follower_id", ASCENDING)
            .limit(limit)
        )
        return [doc["follower_id"] async for doc in cursor]


class MongoLikeStore:
    """:class:`actors.store.LikeStore` on ``likes``, with the counts on
    ``posts`` and ``comments``."""

    def __init__(
        self,
        likes: AsyncCollection[Document],
        posts: AsyncCollection[Document],
        comments: AsyncCollection[Document],
    ) -> None:
        self._likes = likes
        self._targets = {"post": posts, "comment": comments}

    def _target_collection(self, target_kind: str) -> AsyncCollection[Document]:
        """The collection of ``target_kind``; ``ValueError`` for a kind the
        port does not know (a caller's bug, not a missing target)."""
        try:
            return self._targets[target_kind]
        except KeyError:
            raise ValueError(f"unknown like target kind {target_kind!r}") from None

    async def like(
        self, user_id: str, target_kind: str, target_id: str, at: float
    ) -> LikeResult | None:
        """Check the target, insert the like, then ``$inc`` the target's
        ``like_count``. A duplicate key is ``changed`` false. If the target
        vanished between the check and the ``$inc`` (a post deleted
        meanwhile), the like just inserted is removed again: ``None``."""
        targets = self._target_collection(target_kind)
        target = await targets.find_one({"_id": target_id}, {"deleted": 1})
        if target is None or target.get("deleted"):
            return None
        like = LikeRecord(
            user_id=user_id, target_kind=target_kind, target_id=target_id, created_at=at
        )
        try:
            await self._likes.insert_one(like_document(like))
        except DuplicateKeyError:
            return await self._unchanged(targets, target_id)
        doc = await targets.find_one_and_update(
            {"_id": target_id},
            {"$inc": {"like_count": 1}},
            {"like_count": 1},
            return_document=ReturnDocument.AFTER,
        )
        if doc is None:
            await self._likes.delete_one(
                {"user_id": user_id, "target_kind": target_kind, "target_id": target_id}
            )
            return None
        return LikeResult(changed=True, like_count=int(doc["like_count"]))

    async def unlike(self, user_id: str, target_kind: str, target_id: str) -> LikeResult | None:
        """Delete the like, then take one from the target's ``like_count``,
        only when this call's delete removed it. A deleted comment's like can
        be removed (its tombstone still exists)."""
        targets = self._target_collection(target_kind)
        if await targets.find_one({"_id": target_id}, {"_id": 1}) is None:
            return None
        result = await self._likes.delete_one(
            {"user_id": user_id, "target_kind": target_kind, "target_id": target_id}
        )
        if result.deleted_count != 1:
            return await self._unchanged(targets, target_id)
        doc = await targets.find_one_and_update(
            {"_id": target_id},
            decrement("like_count"),
            {"like_count": 1},
            return_document=ReturnDocument.AFTER,
        )
        # The target deleted meanwhile: its likes went with it.
        return LikeResult(changed=True, like_count=int(doc["like_count"]) if doc else 0)

    @staticmethod
    async def _unchanged(targets: AsyncCollection[Document], target_id: str) -> LikeResult:
        """Nothing changed: the target's current count (0 if it is gone)."""
        doc = await targets.find_one({"_id": target_id}, {"like_count": 1})
        return LikeResult(changed=False, like_count=int((doc or {}).get("like_count", 0)))

    async def liked_among(self, user_id: str, target_kind: str, target_ids: list[str]) -> set[str]:
        if not target_ids:
            return set()
        cursor = self._likes.find(
            {"user_id": user_id, "target_kind": target_kind, "target_id": {"$in": target_ids}},
            {"target_id": 1, "_id": 0},
        )
        return {doc["target_id"] async for doc in cursor}

    async def liked_posts(
        self, user_id: str, *, before: PageKey | None, limit: int
    ) -> list[LikeRecord]:
        """Served by ``(user_id, target_kind, created_at, target_id)``."""
        if limit <= 0:
            return []
        query: Document = {
            "user_id": user_id,
            "target_kind": "post",
            **keyset(before, "target_id", newest_first=True),
        }
        cursor = (
            self._likes.find(query)
            .sort([("created_at", DESCENDING), ("target_id", DESCENDING)])
            .limit(limit)
        )
        return [to_like(doc) async for doc in cursor]


class MongoCountStore:
    """:class:`actors.store.CountStore`: counts the rows with
    ``count_documents`` and, with ``fix``, ``$set``s them on the counted
    document."""

    def __init__(
        self,
        users: AsyncCollection[Document],
        follows: AsyncCollection[Document],
        posts: AsyncCollection[Document],
        comments: AsyncCollection[Document],
        likes: AsyncCollection[Document],
    ) -> None:
        self._users = users
        self._follows = follows
        self._posts = posts
        self._comments = comments
        self._likes = likes

    async def recount_user(self, user_id: str, *, fix: bool = False) -> UserCounts:
        """The counts from the rows, whether or not the user exists (``fix``
        on a missing user writes nothing)."""
        counts = UserCounts(
            followers_count=await self._follows.count_documents({"followee_id": user_id}),
            following_count=await self._follows.count_documents({"follower_id": user_id}),
            posts_count=await self._posts.count_documents({"user_id": user_id}),
        )
        if fix:
            await self._users.update_one(
                {"_id": user_id}, {"$set": to_document(counts, id_field=None)}
            )
        return counts

    async def recount_post(self, post_id: str, *, fix: bool = False) -> PostCounts | None:
        if await self._posts.find_one({"_id": post_id}, {"_id": 1}) is None:
            return None
        counts = PostCounts(
            like_count=await self._likes.count_documents(
                {"target_kind": "post", "target_id": post_id}
            ),
            comment_count=await self._comments.count_documents(
                {"post_id": post_id, "deleted": {"$ne": True}}
            ),
        )
        if fix:
            await self._posts.update_one(
                {"_id": post_id}, {"$set": to_document(counts, id_field=None)}
            )
        return counts

    async def recount_comment(self, comment_id: str, *, fix: bool = False) -> CommentCounts | None:
        """Replies counted with tombstones (they are listed)."""
        if await self._comments.find_one({"_id": comment_id}, {"_id": 1}) is None:
            return None
        counts = CommentCounts(
            reply_count=await self._comments.count_documents({"parent_comment_id": comment_id}),
            like_count=await self._likes.count_documents(
                {"target_kind": "comment", "target_id": comment_id}
            ),
        )
        if fix:
            await self._comments.update_one(
                {"_id": comment_id}, {"$set": to_document(counts, id_field=None)}
            )
        return counts


class MongoKeyStore:
    """:class:`actors.store.KeyStore` on ``keys`` (``_id`` = name)."""

    def __init__(self, collection: AsyncCollection[Document]) -> None:
        self._keys = collection

    async def get_or_create(self, name: str, candidate: str) -> str:
        """An upsert that sets the value only on insert, then a read: every
        racing caller reads the one value inserted (a losing upsert may fail
        with a duplicate key: the key exists, which is all it needs)."""
        with contextlib.suppress(DuplicateKeyError):
            await self._keys.update_one(
                {"_id": name}, {"$setOnInsert": {"value": candidate}}, upsert=True
            )
        doc = await self._keys.find_one({"_id": name})
        if doc is None:  # nothing in the port deletes keys
            raise StoreError(f"key {name!r} vanished after its upsert")
        return str(doc["value"])


class MongoViewStore:
    """:class:`actors.store.social.ViewStore` by the other stores' queries,
    one after another (MongoDB gives no snapshot across collections without
    a transaction; each answer is as of its own query)."""

    def __init__(
        self,
        users: MongoUserStore,
        blocks: MongoBlockStore,
        follows: MongoFollowStore,
        likes: MongoLikeStore,
    ) -> None:
        self._users = users
        self._blocks = blocks
        self._follows = follows
        self._likes = likes

    async def context(
        self, viewer: str, user_ids: list[str], like_kind: str, item_ids: list[str]
    ) -> ViewContext:
        users = sorted(set(user_ids))
        others = [user_id for user_id in users if user_id != viewer]
        return ViewContext(
            users=await self._users.get_many(users) if users else {},
            blocked=await self._blocks.blocked_among(viewer, others) if others else set(),
            i_follow=await self._follows.following_among(viewer, others) if others else set(),
            follows_me=await self._follows.followers_among(viewer, others) if others else set(),
            liked=await self._likes.liked_among(viewer, like_kind, item_ids) if item_ids else set(),
        )
