"""SQLite stores of the social domain (:mod:`actors.store.social`) other than
posts and comments (``posts.py``): follow edges, likes, the recount of
counters, and shared keys.

Every method that writes is ONE write job, so a row and the counters it
moves commit together (or not at all); a counter is decremented with
``max(count - 1, 0)`` so that it never goes below zero, even on a row
written before the counters existed.
"""

from __future__ import annotations

import sqlite3
from typing import Final

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
from server.storage.sqlite.accounts import BLOCKED_AMONG_SQL, USERS_BY_ID_SQL
from server.storage.sqlite.database import SqliteDatabase
from server.storage.sqlite.rows import (
    FOLLOW_COLUMNS,
    LIKE_COLUMNS,
    json_list,
    keyset,
    to_follow,
    to_like,
    to_user,
)

__all__ = [
    "LIKE_TARGET_TABLES",
    "SqliteCountStore",
    "SqliteFollowStore",
    "SqliteKeyStore",
    "SqliteLikeStore",
    "SqliteViewStore",
]

# --------------------------------------------------------------------------- follows

#: Which of a JSON list of ids the user follows / are followed by the user
#: (a primary-key, or ``follows_followee``, seek per id).
FOLLOWING_AMONG_SQL: Final = (
    "SELECT followee_id FROM follows WHERE follower_id = ?"
    " AND followee_id IN (SELECT value FROM json_each(?))"
)
FOLLOWERS_AMONG_SQL: Final = (
    "SELECT follower_id FROM follows WHERE followee_id = ?"
    " AND follower_id IN (SELECT value FROM json_each(?))"
)

#: Followers / following pages: ``(created_at, other id)`` descending, a
#: backward range of ``follows_followers_page`` / ``follows_following_page``.
FOLLOWERS_SQL: Final = (
    f"SELECT {FOLLOW_COLUMNS} FROM follows WHERE followee_id = :user{{keyset}}"
    " ORDER BY created_at DESC, follower_id DESC LIMIT :limit"
)
FOLLOWING_SQL: Final = (
    f"SELECT {FOLLOW_COLUMNS} FROM follows WHERE follower_id = :user{{keyset}}"
    " ORDER BY created_at DESC, followee_id DESC LIMIT :limit"
)
#: Fan-out batches: a range of ``follows_followee`` in follower-id order.
FOLLOWER_IDS_SQL: Final = (
    "SELECT follower_id FROM follows WHERE followee_id = ? AND follower_id > ?"
    " ORDER BY follower_id LIMIT ?"
)


class SqliteFollowStore:
    """:class:`actors.store.FollowStore` on ``follows`` and the users' counters."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def follow(self, follower_id: str, followee_id: str, at: float) -> bool:
        """Insert the edge and, only if it is new, bump both counters."""

        def job(conn: sqlite3.Connection) -> bool:
            inserted = conn.execute(
                f"INSERT INTO follows ({FOLLOW_COLUMNS}) VALUES (?, ?, ?)"
                " ON CONFLICT (follower_id, followee_id) DO NOTHING",
                (follower_id, followee_id, at),
            ).rowcount
            if not inserted:
                return False
            conn.execute(
                "UPDATE users SET following_count = following_count + 1 WHERE id = ?",
                (follower_id,),
            )
            conn.execute(
                "UPDATE users SET followers_count = followers_count + 1 WHERE id = ?",
                (followee_id,),
            )
            return True

        return await self._db.write(job)

    async def unfollow(self, follower_id: str, followee_id: str) -> bool:
        """Delete the edge and, only if there was one, lower both counters."""

        def job(conn: sqlite3.Connection) -> bool:
            deleted = conn.execute(
                "DELETE FROM follows WHERE follower_id = ? AND followee_id = ?",
                (follower_id, followee_id),
            ).rowcount
            if not deleted:
                return False
            conn.execute(
                "UPDATE users SET following_count = max(following_count - 1, 0) WHERE id = ?",
                (follower_id,),
            )
            conn.execute(
                "UPDATE users SET followers_count = max(followers_count - 1, 0) WHERE id = ?",
                (followee_id,),
            )
            return True

        return await self._db.write(job)

    async def following_among(self, follower_id: str, user_ids: list[str]) -> set[str]:
        """A primary-key seek per id of ``user_ids``, in one statement."""
        if not user_ids:
            return set()

        def job(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute(FOLLOWING_AMONG_SQL, (follower_id, json_list(user_ids))).fetchall()
            return {str(row[0]) for row in rows}

        return await self._db.read(job)

    async def followers_among(self, followee_id: str, user_ids: list[str]) -> set[str]:
        """A ``follows_followee`` seek per id of ``user_ids``, in one statement."""
        if not user_ids:
            return set()

        def job(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute(FOLLOWERS_AMONG_SQL, (followee_id, json_list(user_ids))).fetchall()
            return {str(row[0]) for row in rows}

        return await self._db.read(job)

    async def followers(
        self, user_id: str, *, before: PageKey | None, limit: int
    ) -> list[FollowRecord]:
        """Newest first; ties on ``created_at`` broken by follower id, descending."""
        return await self._page(FOLLOWERS_SQL, "created_at, follower_id", user_id, before, limit)

    async def following(
        self, user_id: str, *, before: PageKey | None, limit: int
    ) -> list[FollowRecord]:
        """Newest first; ties on ``created_at`` broken by followee id, descending."""
        return await self._page(FOLLOWING_SQL, "created_at, followee_id", user_id, before, limit)

    async def _page(
        self, sql: str, key_columns: str, user_id: str, before: PageKey | None, limit: int
    ) -> list[FollowRecord]:
        if limit <= 0:
            return []
        clause, args = keyset(key_columns, before, "<")

        def job(conn: sqlite3.Connection) -> list[FollowRecord]:
            rows = conn.execute(
                sql.format(keyset=clause), {"user": user_id, "limit": limit, **args}
            ).fetchall()
            return [to_follow(row) for row in rows]

        return await self._db.read(job)

    async def following_ids(self, user_id: str, limit: int) -> list[str]:
        """A range of the primary key (so in followee-id order, not promised)."""
        if limit <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(
                "SELECT followee_id FROM follows WHERE follower_id = ? LIMIT ?", (user_id, limit)
            ).fetchall()
            return [str(row[0]) for row in rows]

        return await self._db.read(job)

    async def follower_ids(self, user_id: str, *, after: str | None, limit: int) -> list[str]:
        """:data:`FOLLOWER_IDS_SQL`; no ``after`` starts above ``""``, below
        every id (ids are never empty)."""
        if limit <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[str]:
            rows = conn.execute(FOLLOWER_IDS_SQL, (user_id, after or "", limit)).fetchall()
            return [str(row[0]) for row in rows]

        return await self._db.read(job)


# --------------------------------------------------------------------------- likes

#: The table of each kind of like target (constants: table names never come
#: from input).
LIKE_TARGET_TABLES: Final = {"post": "posts", "comment": "comments"}
#: Which of a JSON list of targets the user likes: a primary-key seek each.
LIKED_AMONG_SQL: Final = (
    "SELECT target_id FROM likes WHERE user_id = ? AND target_kind = ?"
    " AND target_id IN (SELECT value FROM json_each(?))"
)

LIKED_POSTS_SQL: Final = (
    f"SELECT {LIKE_COLUMNS} FROM likes WHERE user_id = :user AND target_kind = 'post'{{keyset}}"
    " ORDER BY created_at DESC, target_id DESC LIMIT :limit"
)


def _target_table(target_kind: str) -> str:
    table = LIKE_TARGET_TABLES.get(target_kind)
    if table is None:
        raise ValueError(f"unknown like target kind {target_kind!r}")
    return table


def _target_state(conn: sqlite3.Connection, table: str, target_id: str) -> sqlite3.Row | None:
    """The target's ``like_count`` and ``deleted`` (always 0 for a post), or
    ``None`` if there is no such target."""
    deleted = "deleted" if table == "comments" else "0 AS deleted"
    row: sqlite3.Row | None = conn.execute(
        f"SELECT like_count, {deleted} FROM {table} WHERE id = ?", (target_id,)
    ).fetchone()
    return row


class SqliteLikeStore:
    """:class:`actors.store.LikeStore` on ``likes`` and the targets' ``like_count``.

    ``target_kind`` is ``"post"`` or ``"comment"``; any other is a
    ``ValueError`` (a bug of the caller, not a missing target)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def like(
        self, user_id: str, target_kind: str, target_id: str, at: float
    ) -> LikeResult | None:
        """In one job: check the target (exists, not a deleted comment),
        insert the like, and bump the count only if the like is new."""
        table = _target_table(target_kind)

        def job(conn: sqlite3.Connection) -> LikeResult | None:
            target = _target_state(conn, table, target_id)
            if target is None or target["deleted"]:
                return None
            inserted = conn.execute(
                f"INSERT INTO likes ({LIKE_COLUMNS}) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (user_id, target_kind, target_id) DO NOTHING",
                (user_id, target_kind, target_id, at),
            ).rowcount
            if not inserted:
                return LikeResult(changed=False, like_count=int(target["like_count"]))
            rows = conn.execute(
                f"UPDATE {table} SET like_count = like_count + 1 WHERE id = ? RETURNING like_count",
                (target_id,),
            ).fetchall()
            return LikeResult(changed=True, like_count=int(rows[0][0]))

        return await self._db.write(job)

    async def unlike(self, user_id: str, target_kind: str, target_id: str) -> LikeResult | None:
        """In one job: delete the like and lower the count only if it existed.
        A tombstoned comment still exists, so its likes can be withdrawn."""
        table = _target_table(target_kind)

        def job(conn: sqlite3.Connection) -> LikeResult | None:
            target = _target_state(conn, table, target_id)
            if target is None:
                return None
            deleted = conn.execute(
                "DELETE FROM likes WHERE user_id = ? AND target_kind = ? AND target_id = ?",
                (user_id, target_kind, target_id),
            ).rowcount
            if not deleted:
                return LikeResult(changed=False, like_count=int(target["like_count"]))
            rows = conn.execute(
                f"UPDATE {table} SET like_count = max(like_count - 1, 0) WHERE id = ?"
                " RETURNING like_count",
                (target_id,),
            ).fetchall()
            return LikeResult(changed=True, like_count=int(rows[0][0]))

        return await self._db.write(job)

    async def liked_among(self, user_id: str, target_kind: str, target_ids: list[str]) -> set[str]:
        """A primary-key seek per id of ``target_ids``, in one statement."""
        if not target_ids:
            return set()

        def job(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute(
                LIKED_AMONG_SQL, (user_id, target_kind, json_list(target_ids))
            ).fetchall()
            return {str(row[0]) for row in rows}

        return await self._db.read(job)

    async def liked_posts(
        self, user_id: str, *, before: PageKey | None, limit: int
    ) -> list[LikeRecord]:
        """A backward range of ``likes_recent``: ``(created_at, target_id)`` descending."""
        if limit <= 0:
            return []
        clause, args = keyset("created_at, target_id", before, "<")

        def job(conn: sqlite3.Connection) -> list[LikeRecord]:
            rows = conn.execute(
                LIKED_POSTS_SQL.format(keyset=clause), {"user": user_id, "limit": limit, **args}
            ).fetchall()
            return [to_like(row) for row in rows]

        return await self._db.read(job)


# --------------------------------------------------------------------------- counts

_USER_COUNTS_SQL: Final = (
    "SELECT (SELECT count(*) FROM follows WHERE followee_id = :id) AS followers_count,"
    " (SELECT count(*) FROM follows WHERE follower_id = :id) AS following_count,"
    " (SELECT count(*) FROM posts WHERE user_id = :id) AS posts_count"
)
_POST_COUNTS_SQL: Final = (
    "SELECT (SELECT count(*) FROM likes WHERE target_kind = 'post' AND target_id = :id)"
    " AS like_count,"
    " (SELECT count(*) FROM comments WHERE post_id = :id AND deleted = 0) AS comment_count"
    " FROM posts WHERE id = :id"
)
_COMMENT_COUNTS_SQL: Final = (
    "SELECT (SELECT count(*) FROM comments WHERE parent_comment_id = :id) AS reply_count,"
    " (SELECT count(*) FROM likes WHERE target_kind = 'comment' AND target_id = :id)"
    " AS like_count"
    " FROM comments WHERE id = :id"
)


class SqliteCountStore:
    """:class:`actors.store.CountStore`: counts by index range scans. Without
    ``fix`` a read job; with ``fix`` the count and the repair are one write
    job, so no write can slip between them."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def recount_user(self, user_id: str, *, fix: bool = False) -> UserCounts:
        """The counts (zero for a user with no rows, existing or not)."""

        def job(conn: sqlite3.Connection) -> UserCounts:
            row = conn.execute(_USER_COUNTS_SQL, {"id": user_id}).fetchone()
            counts = UserCounts(
                followers_count=row["followers_count"],
                following_count=row["following_count"],
                posts_count=row["posts_count"],
            )
            if fix:
                conn.execute(
                    "UPDATE users SET followers_count = ?, following_count = ?, posts_count = ?"
                    " WHERE id = ?",
                    (counts.followers_count, counts.following_count, counts.posts_count, user_id),
                )
            return counts

        return await (self._db.write(job) if fix else self._db.read(job))

    async def recount_post(self, post_id: str, *, fix: bool = False) -> PostCounts | None:
        def job(conn: sqlite3.Connection) -> PostCounts | None:
            row = conn.execute(_POST_COUNTS_SQL, {"id": post_id}).fetchone()
            if row is None:
                return None
            counts = PostCounts(like_count=row["like_count"], comment_count=row["comment_count"])
            if fix:
                conn.execute(
                    "UPDATE posts SET like_count = ?, comment_count = ? WHERE id = ?",
                    (counts.like_count, counts.comment_count, post_id),
                )
            return counts

        return await (self._db.write(job) if fix else self._db.read(job))

    async def recount_comment(self, comment_id: str, *, fix: bool = False) -> CommentCounts | None:
        def job(conn: sqlite3.Connection) -> CommentCounts | None:
            row = conn.execute(_COMMENT_COUNTS_SQL, {"id": comment_id}).fetchone()
            if row is None:
                return None
            counts = CommentCounts(reply_count=row["reply_count"], like_count=row["like_count"])
            if fix:
                conn.execute(
                    "UPDATE comments SET reply_count = ?, like_count = ? WHERE id = ?",
                    (counts.reply_count, counts.like_count, comment_id),
                )
            return counts

        return await (self._db.write(job) if fix else self._db.read(job))


# --------------------------------------------------------------------------- keys


class SqliteKeyStore:
    """:class:`actors.store.KeyStore` on ``keys``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def get_or_create(self, name: str, candidate: str) -> str:
        """``INSERT ... ON CONFLICT DO NOTHING`` then the stored value, in one
        write job: jobs (and, by ``BEGIN IMMEDIATE``, processes) are
        serialised, so the first insert wins for everyone."""

        def job(conn: sqlite3.Connection) -> str:
            conn.execute(
                "INSERT INTO keys (name, value) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
                (name, candidate),
            )
            return str(conn.execute("SELECT value FROM keys WHERE name = ?", (name,)).fetchone()[0])

        return await self._db.write(job)


class SqliteViewStore:
    """:class:`actors.store.social.ViewStore`: the five lookups of a page's
    views as one read job, so one hand-off to a reader thread instead of
    five (a feed page made six, and the hand-offs were most of its cost)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def context(
        self, viewer: str, user_ids: list[str], like_kind: str, item_ids: list[str]
    ) -> ViewContext:
        users = json_list(sorted(set(user_ids)))
        others = json_list(sorted(set(user_ids) - {viewer}))
        items = json_list(item_ids)

        def ids(rows: list[sqlite3.Row]) -> set[str]:
            return {str(row[0]) for row in rows}

        def job(conn: sqlite3.Connection) -> ViewContext:
            found = conn.execute(USERS_BY_ID_SQL, (users,)).fetchall()
            return ViewContext(
                users={user.id: user for user in map(to_user, found)},
                blocked=ids(
                    conn.execute(BLOCKED_AMONG_SQL, {"me": viewer, "others": others}).fetchall()
                ),
                i_follow=ids(conn.execute(FOLLOWING_AMONG_SQL, (viewer, others)).fetchall()),
                follows_me=ids(conn.execute(FOLLOWERS_AMONG_SQL, (viewer, others)).fetchall()),
                liked=ids(conn.execute(LIKED_AMONG_SQL, (viewer, like_kind, items)).fetchall()),
            )

        return await self._db.read(job)
