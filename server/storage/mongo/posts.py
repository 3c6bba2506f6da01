"""MongoDB stores of posts and comments (:mod:`actors.store.social`), with the
counters they keep on users, posts and comments.

As in :mod:`server.storage.mongo.social`: the row first, then its counters,
only by the caller whose write changed the row. Checks that a write depends on
(the post exists, the parent is not deleted) are reads before the insert; a
target deleted between the check and the counter's ``$inc`` is found by that
``$inc`` matching nothing, and the row just inserted is removed again.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from typing import Final

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from actors.store import Conflict
from actors.store.social import (
    CommentDeletion,
    CommentRecord,
    PageKey,
    PostEdit,
    PostRecord,
)
from server.storage.mongo.documents import (
    Document,
    comment_document,
    is_string,
    keyset,
    location_fields,
    post_document,
    to_comment,
    to_post,
)
from server.storage.mongo.indexes import conflicts
from server.storage.mongo.search import move_tag_counts
from server.storage.mongo.social import decrement, decrement_if_positive

__all__ = ["MongoCommentStore", "MongoPostStore"]

#: ``$in`` values per feed query: up to 200 (the planner's
#: ``internalQueryMaxScansToExplode``) the server merges one index range per
#: author in sort order instead of sorting their posts in memory.
AUTHORS_PER_QUERY: Final = 200

#: A comment that is not a tombstone (``$ne`` also matches a missing field).
NOT_DELETED: Final[Document] = {"deleted": {"$ne": True}}


async def _insert(collection: AsyncCollection[Document], name: str, doc: Document) -> None:
    """Insert ``doc`` into ``collection`` (called ``name``) under
    :func:`conflicts`. A duplicate key whose index cannot be told from the
    error (the stand-in's error for ``_id`` names no key; a server's does) is
    ``Conflict("id")`` when a document with this ``_id`` exists, else re-raised."""
    try:
        with conflicts(name):
            await collection.insert_one(doc)
    except DuplicateKeyError as exc:
        if await collection.find_one({"_id": doc["_id"]}, {"_id": 1}) is None:
            raise
        raise Conflict("id") from exc


class MongoPostStore:
    """:class:`actors.store.PostStore` on ``posts``; ``posts_count`` on
    ``users``; a delete also clears ``comments`` and ``likes``; the tags'
    ``post_count`` in ``tags`` follows every write (:func:`move_tag_counts`)."""

    def __init__(
        self,
        posts: AsyncCollection[Document],
        users: AsyncCollection[Document],
        comments: AsyncCollection[Document],
        likes: AsyncCollection[Document],
        tags: AsyncCollection[Document],
    ) -> None:
        self._posts = posts
        self._users = users
        self._comments = comments
        self._likes = likes
        self._tags = tags

    async def create(self, post: PostRecord) -> None:
        """Insert, then ``$inc`` the author's ``posts_count`` and the tags'
        counts. ``Conflict("client_key")`` or ``Conflict("id")``: nothing written."""
        await _insert(self._posts, "posts", post_document(post))
        await self._users.update_one({"_id": post.user_id}, {"$inc": {"posts_count": 1}})
        await move_tag_counts(self._tags, post.tags, [])

    async def get(self, post_id: str) -> PostRecord | None:
        doc = await self._posts.find_one({"_id": post_id})
        return to_post(doc) if doc is not None else None

    async def get_many(self, post_ids: list[str]) -> dict[str, PostRecord]:
        if not post_ids:
            return {}
        return {
            doc["_id"]: to_post(doc) async for doc in self._posts.find({"_id": {"$in": post_ids}})
        }

    async def get_by_client_key(self, user_id: str, client_key: str) -> PostRecord | None:
        doc = await self._posts.find_one({"user_id": user_id, "client_key": is_string(client_key)})
        return to_post(doc) if doc is not None else None

    async def edit(self, post_id: str, user_id: str, edit: PostEdit) -> PostRecord | None:
        """One ``find_one_and_update`` filtered on the author. Removing the
        location ``$unset``s both of its fields."""
        update: Document = {
            "$set": {
                "text": edit.text,
                "tags": edit.tags,
                "mentions": edit.mentions,
                "edited_at": edit.edited_at,
            }
        }
        if edit.set_location:
            if edit.location is None:
                update["$unset"] = {"location": "", "place_name": ""}
            else:
                update["$set"].update(location_fields(edit.location))
        # The document BEFORE the update, atomically: its tags are what this
        # edit replaced, even when two edits race, so the tag counts move by
        # exactly this edit's difference. The result is that plus the update.
        before = await self._posts.find_one_and_update(
            {"_id": post_id, "user_id": user_id}, update, return_document=ReturnDocument.BEFORE
        )
        if before is None:
            return None
        after = {**before, **update["$set"]}
        for field in update.get("$unset", {}):
            after.pop(field, None)
        old_tags = list(before.get("tags", []))
        await move_tag_counts(
            self._tags,
            [t for t in edit.tags if t not in old_tags],
            [t for t in old_tags if t not in edit.tags],
        )
        return to_post(after)

    async def delete(self, post_id: str, user_id: str) -> PostRecord | None:
        """Delete the post (the commit point: from then on it is gone for
        every reader and only this caller goes on), then the likes of its
        comments, its comments, its own likes, and take one from the author's
        ``posts_count``. A crash after the first step leaves orphan rows that
        nobody lists (their post is gone) and a count that
        :class:`~server.storage.mongo.social.MongoCountStore` repairs."""
        doc = await self._posts.find_one_and_delete({"_id": post_id, "user_id": user_id})
        if doc is None:
            return None
        comment_ids = [
            c["_id"] async for c in self._comments.find({"post_id": post_id}, {"_id": 1})
        ]
        if comment_ids:
            await self._likes.delete_many(
                {"target_kind": "comment", "target_id": {"$in": comment_ids}}
            )
        await self._comments.delete_many({"post_id": post_id})
        await self._likes.delete_many({"target_kind": "post", "target_id": post_id})
        await self._users.update_one(*decrement_if_positive(user_id, "posts_count"))
        await move_tag_counts(self._tags, [], list(doc.get("tags", [])))
        return to_post(doc)

    async def by_author(
        self, user_id: str, *, before: PageKey | None, limit: int
    ) -> list[PostRecord]:
        """Served by ``(user_id, created_at, _id)``."""
        return await self._page({"user_id": user_id}, before, limit)

    async def by_authors(
        self, user_ids: list[str], *, before: PageKey | None, limit: int
    ) -> list[PostRecord]:
        """``user_id: {$in: …}`` with the keyset, sorted newest first, one
        query per :data:`AUTHORS_PER_QUERY` authors, merged here. In each
        query the server walks one ``(user_id, created_at, _id)`` index range
        per author and merges them (SORT_MERGE), reading about ``limit``
        entries in all, however many posts the authors (or the others) wrote;
        past that many ``$in`` values it would no longer merge but sort every
        post of the authors in memory."""
        if not user_ids or limit <= 0:
            return []
        authors = list(dict.fromkeys(user_ids))
        pages = await asyncio.gather(
            *(
                self._page({"user_id": {"$in": authors[i : i + AUTHORS_PER_QUERY]}}, before, limit)
                for i in range(0, len(authors), AUTHORS_PER_QUERY)
            )
        )
        newest = heapq.merge(*pages, key=lambda post: (post.created_at, post.id), reverse=True)
        return list(itertools.islice(newest, limit))

    async def _page(self, query: Document, before: PageKey | None, limit: int) -> list[PostRecord]:
        if limit <= 0:  # a limit of 0 means "no limit" to MongoDB
            return []
        cursor = (
            self._posts.find({**query, **keyset(before, "_id", newest_first=True)})
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [to_post(doc) async for doc in cursor]


class MongoCommentStore:
    """:class:`actors.store.CommentStore` on ``comments``; ``comment_count`` on
    ``posts``; a delete also clears the comment's ``likes``."""

    def __init__(
        self,
        comments: AsyncCollection[Document],
        posts: AsyncCollection[Document],
        likes: AsyncCollection[Document],
    ) -> None:
        self._comments = comments
        self._posts = posts
        self._likes = likes

    async def create(self, comment: CommentRecord) -> int | None:
        """Check the post and (for a reply) the parent, insert, then ``$inc``
        the parent's ``reply_count`` and the post's ``comment_count``, whose
        new value is returned. If the parent or the post is gone by the time
        of its ``$inc`` (deleted after the check), the comment is removed
        again and the answer is ``None``: nothing stays written. (A parent
        deleted as a tombstone meanwhile keeps the reply: it is listed under
        the tombstone.)"""
        if await self._posts.find_one({"_id": comment.post_id}, {"_id": 1}) is None:
            return None
        parent_id = comment.parent_comment_id
        if parent_id is not None:
            parent = await self._comments.find_one(
                {"_id": parent_id, "post_id": comment.post_id, **NOT_DELETED}, {"_id": 1}
            )
            if parent is None:
                return None
        await _insert(self._comments, "comments", comment_document(comment))
        if parent_id is not None:
            result = await self._comments.update_one(
                {"_id": parent_id}, {"$inc": {"reply_count": 1}}
            )
            if result.matched_count != 1:
                await self._comments.delete_one({"_id": comment.id})
                return None
        post = await self._posts.find_one_and_update(
            {"_id": comment.post_id},
            {"$inc": {"comment_count": 1}},
            {"comment_count": 1},
            return_document=ReturnDocument.AFTER,
        )
        if post is None:
            await self._comments.delete_one({"_id": comment.id})
            return None
        return int(post["comment_count"])

    async def get(self, comment_id: str) -> CommentRecord | None:
        doc = await self._comments.find_one({"_id": comment_id})
        return to_comment(doc) if doc is not None else None

    # Declared before ``list``, whose name would shadow the type below it.
    async def get_many(self, comment_ids: list[str]) -> dict[str, CommentRecord]:
        if not comment_ids:
            return {}
        cursor = self._comments.find({"_id": {"$in": comment_ids}})
        return {doc["_id"]: to_comment(doc) async for doc in cursor}

    async def get_by_client_key(
        self, post_id: str, user_id: str, client_key: str
    ) -> CommentRecord | None:
        doc = await self._comments.find_one(
            {"post_id": post_id, "user_id": user_id, "client_key": is_string(client_key)}
        )
        return to_comment(doc) if doc is not None else None

    async def edit(self, comment_id: str, text: str, at: float) -> CommentRecord | None:
        doc = await self._comments.find_one_and_update(
            {"_id": comment_id, **NOT_DELETED},
            {"$set": {"text": text, "edited_at": at}},
            return_document=ReturnDocument.AFTER,
        )
        return to_comment(doc) if doc is not None else None

    async def delete(self, comment_id: str) -> CommentDeletion | None:
        """With replies: ``$set`` the tombstone (``deleted``, empty text),
        filtered on not deleted. Without: ``delete_one`` filtered on not
        deleted, then its likes and one off the parent's ``reply_count``.
        Either way, only the caller whose write matched takes one off the
        post's ``comment_count``, so concurrent deletes count once.

        A reply inserted between the check for replies and the row's delete
        would be left under a missing parent (its creator's check of the
        parent came first); nothing lists it."""
        doc = await self._comments.find_one({"_id": comment_id, **NOT_DELETED})
        if doc is None:
            return None
        comment = to_comment(doc)
        has_replies = (
            await self._comments.find_one({"parent_comment_id": comment_id}, {"_id": 1}) is not None
        )
        if has_replies:
            result = await self._comments.update_one(
                {"_id": comment_id, **NOT_DELETED}, {"$set": {"deleted": True, "text": ""}}
            )
            if result.matched_count != 1:
                return None
        else:
            removed = await self._comments.delete_one({"_id": comment_id, **NOT_DELETED})
            if removed.deleted_count != 1:
                return None
            await self._likes.delete_many({"target_kind": "comment", "target_id": comment_id})
            if comment.parent_comment_id is not None:
                await self._comments.update_one(
                    *decrement_if_positive(comment.parent_comment_id, "reply_count")
                )
        post = await self._posts.find_one_and_update(
            {"_id": comment.post_id},
            decrement("comment_count"),
            {"comment_count": 1},
            return_document=ReturnDocument.AFTER,
        )
        return CommentDeletion(
            comment=comment,
            tombstone=has_replies,
            comment_count=int(post["comment_count"]) if post is not None else 0,
        )

    async def list(
        self, post_id: str, parent_id: str | None, *, after: PageKey | None, limit: int
    ) -> list[CommentRecord]:
        """Oldest first by ``(created_at, _id)``, served by ``(post_id,
        parent_comment_id, created_at, _id)`` (``parent_comment_id: null`` for
        the top level)."""
        if limit <= 0:
            return []
        query: Document = {
            "post_id": post_id,
            "parent_comment_id": parent_id,
            **keyset(after, "_id", newest_first=False),
        }
        cursor = (
            self._comments.find(query)
            .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [to_comment(doc) async for doc in cursor]
