"""SQLite stores of discovery (:mod:`actors.store.discovery`): trending tags
on ``tag_trends`` and suggested accounts on ``follows`` and ``users``
(schema version 6)."""

from __future__ import annotations

import sqlite3
from typing import Final

from actors.store.accounts import UserRecord
from actors.store.discovery import WINDOW_BUCKETS, PopularKey, TagBucket, bucket_of
from actors.store.social import FollowRecord
from server.storage.sqlite.database import SqliteDatabase
from server.storage.sqlite.rows import (
    FOLLOW_COLUMNS,
    USER_COLUMNS,
    json_list,
    keyset,
    to_follow,
    to_user,
)

__all__ = ["SqliteSuggestionStore", "SqliteTrendStore"]

_ADD_SQL: Final = (
    "INSERT INTO tag_trends (tag, bucket, score, posts) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (tag, bucket) DO UPDATE"
    " SET score = score + excluded.score, posts = posts + excluded.posts"
)
#: A change with a negative part: never below 0, and no row created.
_TAKE_SQL: Final = (
    "UPDATE tag_trends SET score = max(score + ?, 0), posts = max(posts + ?, 0)"
    " WHERE tag = ? AND bucket = ?"
)
#: One hour's leaders: a range of ``tag_trends_top``.
_BUCKET_TOP_SQL: Final = "SELECT tag FROM tag_trends WHERE bucket = ? ORDER BY score DESC LIMIT ?"
#: The candidates' rows of the window: a primary-key range per tag.
_ROWS_SQL: Final = (
    "SELECT tag, bucket, score, posts FROM tag_trends"
    " WHERE tag IN (SELECT value FROM json_each(?)) AND bucket BETWEEN ? AND ?"
)


class SqliteTrendStore:
    """:class:`actors.store.discovery.TrendStore` on ``tag_trends``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        self._pruned_for = -1
        """The newest bucket whose bump pruned (pruning is needed once an hour)."""

    async def bump(self, tags: list[str], at: float, weight: float, posts: int = 0) -> None:
        """One write job: the rows' change and, in a bucket this store has
        not pruned for yet, the prune of the rows older than the window."""
        if not tags:
            return
        bucket = bucket_of(at)
        prune = bucket > self._pruned_for

        def job(conn: sqlite3.Connection) -> None:
            if weight >= 0 and posts >= 0:
                conn.executemany(_ADD_SQL, [(tag, bucket, weight, posts) for tag in tags])
            else:
                conn.executemany(_TAKE_SQL, [(weight, posts, tag, bucket) for tag in tags])
            if prune:
                conn.execute(
                    "DELETE FROM tag_trends WHERE bucket < ?", (bucket - WINDOW_BUCKETS + 1,)
                )

        await self._db.write(job)
        if prune:
            self._pruned_for = max(self._pruned_for, bucket)

    async def top(self, since: float, *, per_bucket: int) -> list[TagBucket]:
        """One read job: :data:`WINDOW_BUCKETS` bounded index ranges for the
        candidates, then their rows by primary key."""
        first = bucket_of(since)
        last = first + WINDOW_BUCKETS - 1

        def job(conn: sqlite3.Connection) -> list[TagBucket]:
            candidates: set[str] = set()
            for bucket in range(first, last + 1):
                rows = conn.execute(_BUCKET_TOP_SQL, (bucket, per_bucket)).fetchall()
                candidates.update(str(row[0]) for row in rows)
            if not candidates:
                return []
            found = conn.execute(_ROWS_SQL, (json_list(sorted(candidates)), first, last))
            return [
                TagBucket(tag=row[0], bucket=row[1], score=row[2], posts=row[3]) for row in found
            ]

        return await self._db.read(job)

    async def prune(self, before: float) -> int:
        def job(conn: sqlite3.Connection) -> int:
            return conn.execute(
                "DELETE FROM tag_trends WHERE bucket < ?", (bucket_of(before),)
            ).rowcount

        return await self._db.write(job)


_SAMPLE_SQL: Final = (
    "SELECT followee_id FROM follows WHERE follower_id = ?"
    " ORDER BY created_at DESC, followee_id DESC LIMIT ?"
)
_FOLLOWS_OF_SQL: Final = (
    f"SELECT {FOLLOW_COLUMNS} FROM follows WHERE follower_id = ?"
    " ORDER BY created_at DESC, followee_id DESC LIMIT ?"
)
_FOLLOWED_AMONG_SQL: Final = (
    "SELECT followee_id FROM follows WHERE follower_id = ?"
    " AND followee_id IN (SELECT value FROM json_each(?))"
)
#: The most followed: a range of ``users_popular``.
_POPULAR_SQL: Final = (
    f"SELECT {USER_COLUMNS} FROM users WHERE followers_count > 0{{keyset}}"
    " ORDER BY followers_count DESC, id DESC LIMIT :limit"
)


class SqliteSuggestionStore:
    """:class:`actors.store.discovery.SuggestionStore` on ``follows`` and ``users``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def followed_by_followees(
        self, user_id: str, *, followees: int, per_followee: int
    ) -> list[FollowRecord]:
        """One read job: the sample (a range of ``follows_following_page``),
        one bounded range of it per sampled followee, and one statement for
        which candidates the caller follows."""
        if followees <= 0 or per_followee <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[FollowRecord]:
            sample = [row[0] for row in conn.execute(_SAMPLE_SQL, (user_id, followees))]
            edges = [
                to_follow(row)
                for followee in sample
                for row in conn.execute(_FOLLOWS_OF_SQL, (followee, per_followee))
            ]
            others = sorted({e.followee_id for e in edges} - {user_id})
            followed = {
                str(row[0])
                for row in conn.execute(_FOLLOWED_AMONG_SQL, (user_id, json_list(others)))
            }
            return [e for e in edges if e.followee_id != user_id and e.followee_id not in followed]

        return await self._db.read(job)

    async def popular(self, *, before: PopularKey | None, limit: int) -> list[UserRecord]:
        if limit <= 0:
            return []
        clause, args = keyset("followers_count, id", before, "<")

        def job(conn: sqlite3.Connection) -> list[UserRecord]:
            rows = conn.execute(_POPULAR_SQL.format(keyset=clause), {"limit": limit, **args})
            return [to_user(row) for row in rows]

        return await self._db.read(job)
