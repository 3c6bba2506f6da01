"""SQLite stores of posts and comments (:mod:`actors.store.social`), with the
counters they move: the author's ``posts_count``, the post's
``comment_count`` and ``like_count``, the parent comment's ``reply_count``.

Every method that writes is ONE write job: the rows, the ``post_tags``
entries and the counters commit together. Counters go down with
``max(count - 1, 0)``, never below zero.
"""

from __future__ import annotations

import heapq
import itertools
import sqlite3
from typing import Final

from actors.store.social import CommentDeletion, CommentRecord, PageKey, PostEdit, PostRecord
from server.storage.sqlite.database import SqliteDatabase
from server.storage.sqlite.rows import (
    COMMENT_COLUMNS,
    POST_COLUMNS,
    conflicts,
    json_list,
    keyset,
    location_values,
    post_row,
    prefixed,
    to_comment,
    to_post,
)

__all__ = [
    "AUTHOR_KEYS_SQL",
    "BY_AUTHORS_RECENT_SQL",
    "BY_AUTHOR_SQL",
    "COMMENTS_SQL",
    "RECENT_WINDOW",
    "SqliteCommentStore",
    "SqlitePostStore",
]

_POST_PLACEHOLDERS: Final = ", ".join("?" for _ in POST_COLUMNS.split(","))
_COMMENT_PLACEHOLDERS: Final = ", ".join("?" for _ in COMMENT_COLUMNS.split(","))

#: One author's page: a backward range of ``posts_author``.
BY_AUTHOR_SQL: Final = (
    f"SELECT {POST_COLUMNS} FROM posts WHERE user_id = :user{{keyset}}"
    " ORDER BY created_at DESC, id DESC LIMIT :limit"
)

#: How many of the newest posts (below the page key) :meth:`SqlitePostStore.by_authors`
#: looks through before it falls back to one range per author. At a few
#: microseconds per index entry this bounds the first step to milliseconds.
RECENT_WINDOW: Final = 4000

#: by_authors, step 1: the :data:`RECENT_WINDOW` newest entries of
#: ``posts_recent`` (which carries ``user_id``, so the filter reads no row),
#: those of the authors (``:authors``, a JSON list) joined to their rows. Only
#: the matches, at most the window, are sorted.
BY_AUTHORS_RECENT_SQL: Final = (
    f"SELECT {prefixed(POST_COLUMNS, 'p')} FROM"
    " (SELECT seq, user_id, created_at, id FROM posts WHERE TRUE{keyset}"
    " ORDER BY created_at DESC, id DESC LIMIT :window) AS r"
    " JOIN posts AS p ON p.seq = r.seq"
    " WHERE r.user_id IN (SELECT value FROM json_each(:authors))"
    " ORDER BY r.created_at DESC, r.id DESC LIMIT :limit"
)
#: Whether step 1 saw every post below the key (fewer than the window).
_RECENT_COUNT_SQL: Final = (
    "SELECT count(*) FROM (SELECT 1 FROM posts WHERE TRUE{keyset}"
    " ORDER BY created_at DESC, id DESC LIMIT :window)"
)
#: by_authors, step 2: one author's newest keys below the page key, from the
#: covering index ``posts_author``; the per-author lists are merged in Python.
AUTHOR_KEYS_SQL: Final = (
    "SELECT created_at, id FROM posts WHERE user_id = :user{keyset}"
    " ORDER BY created_at DESC, id DESC LIMIT :limit"
)


#: A page of top-level comments (``:parent`` NULL) or of one comment's replies.
COMMENTS_SQL: Final = (
    f"SELECT {COMMENT_COLUMNS} FROM comments"
    " WHERE post_id = :post AND parent_comment_id IS :parent{keyset}"
    " ORDER BY created_at, id LIMIT :limit"
)


def _add_tags(conn: sqlite3.Connection, post_id: str, created_at: float, tags: list[str]) -> None:
    conn.executemany(
        "INSERT INTO post_tags (tag, created_at, post_id) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        [(tag, created_at, post_id) for tag in tags],
    )


def _remove_tags(
    conn: sqlite3.Connection, post_id: str, created_at: float, tags: list[str]
) -> None:
    # By the full primary key: post_tags has no index on post_id.
    conn.executemany(
        "DELETE FROM post_tags WHERE tag = ? AND created_at = ? AND post_id = ?",
        [(tag, created_at, post_id) for tag in tags],
    )


class SqlitePostStore:
    """:class:`actors.store.PostStore` on ``posts`` (and ``post_tags``, and
    the comments and likes a delete takes along)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, post: PostRecord) -> None:
        """Insert the post and its tags and add one to the author's
        ``posts_count``; ``Conflict("client_key")`` or ``Conflict("id")``
        and nothing written if taken."""

        def job(conn: sqlite3.Connection) -> None:
            with conflicts():
                conn.execute(
                    f"INSERT INTO posts ({POST_COLUMNS}) VALUES ({_POST_PLACEHOLDERS})",
                    post_row(post),
                )
            _add_tags(conn, post.id, post.created_at, post.tags)
            conn.execute(
                "UPDATE users SET posts_count = posts_count + 1 WHERE id = ?", (post.user_id,)
            )

        await self._db.write(job)

    async def get(self, post_id: str) -> PostRecord | None:
        def job(conn: sqlite3.Connection) -> PostRecord | None:
            row = conn.execute(f"SELECT {POST_COLUMNS} FROM posts WHERE id = ?", (post_id,))
            found = row.fetchone()
            return to_post(found) if found is not None else None

        return await self._db.read(job)

    async def get_many(self, post_ids: list[str]) -> dict[str, PostRecord]:
        """One statement: a seek of the id index per id of the JSON list."""
        if not post_ids:
            return {}

        def job(conn: sqlite3.Connection) -> dict[str, PostRecord]:
            rows = conn.execute(
                f"SELECT {POST_COLUMNS} FROM posts WHERE id IN (SELECT value FROM json_each(?))",
                (json_list(post_ids),),
            ).fetchall()
            return {post.id: post for post in map(to_post, rows)}

        return await self._db.read(job)

    async def get_by_client_key(self, user_id: str, client_key: str) -> PostRecord | None:
        def job(conn: sqlite3.Connection) -> PostRecord | None:
            row = conn.execute(
                f"SELECT {POST_COLUMNS} FROM posts WHERE user_id = ? AND client_key = ?",
                (user_id, client_key),
            ).fetchone()
            return to_post(row) if row is not None else None

        return await self._db.read(job)

    async def edit(self, post_id: str, user_id: str, edit: PostEdit) -> PostRecord | None:
        """Set text, tags, mentions, ``edited_at`` and, with ``set_location``,
        the location (else the stored one stays); ``post_tags`` follows."""

        def job(conn: sqlite3.Connection) -> PostRecord | None:
            row = conn.execute(
                f"SELECT {POST_COLUMNS} FROM posts WHERE id = ? AND user_id = ?",
                (post_id, user_id),
            ).fetchone()
            if row is None:
                return None
            old = to_post(row)
            location = edit.location if edit.set_location else old.location
            rows = conn.execute(
                "UPDATE posts SET text = ?, tags = ?, mentions = ?, latitude = ?, longitude = ?,"
                f" place_name = ?, edited_at = ? WHERE id = ? RETURNING {POST_COLUMNS}",
                (
                    edit.text,
                    json_list(edit.tags),
                    json_list(edit.mentions),
                    *location_values(location),
                    edit.edited_at,
                    post_id,
                ),
            ).fetchall()
            _remove_tags(conn, post_id, old.created_at, [t for t in old.tags if t not in edit.tags])
            _add_tags(conn, post_id, old.created_at, edit.tags)
            return to_post(rows[0])

        return await self._db.write(job)

    async def delete(self, post_id: str, user_id: str) -> PostRecord | None:
        """One job: the likes of the post's comments and of the post, the
        comments, the tags, the post, and one off the author's ``posts_count``."""

        def job(conn: sqlite3.Connection) -> PostRecord | None:
            row = conn.execute(
                f"SELECT {POST_COLUMNS} FROM posts WHERE id = ? AND user_id = ?",
                (post_id, user_id),
            ).fetchone()
            if row is None:
                return None
            post = to_post(row)
            conn.execute(
                "DELETE FROM likes WHERE target_kind = 'comment'"
                " AND target_id IN (SELECT id FROM comments WHERE post_id = ?)",
                (post_id,),
            )
            conn.execute(
                "DELETE FROM likes WHERE target_kind = 'post' AND target_id = ?", (post_id,)
            )
            conn.execute("DELETE FROM comments WHERE post_id = ?", (post_id,))
            _remove_tags(conn, post_id, post.created_at, post.tags)
            conn.execute("DELETE FROM posts WHERE id = ?", (post_id,))
            conn.execute(
                "UPDATE users SET posts_count = max(posts_count - 1, 0) WHERE id = ?", (user_id,)
            )
            return post

        return await self._db.write(job)

    async def by_author(
        self, user_id: str, *, before: PageKey | None, limit: int
    ) -> list[PostRecord]:
        """Newest first by ``(created_at, id)``: :data:`BY_AUTHOR_SQL`."""
        if limit <= 0:
            return []
        clause, args = keyset("created_at, id", before, "<")

        def job(conn: sqlite3.Connection) -> list[PostRecord]:
            rows = conn.execute(
                BY_AUTHOR_SQL.format(keyset=clause), {"user": user_id, "limit": limit, **args}
            ).fetchall()
            return [to_post(row) for row in rows]

        return await self._db.read(job)

    async def by_authors(
        self, user_ids: list[str], *, before: PageKey | None, limit: int
    ) -> list[PostRecord]:
        """Newest first by ``(created_at, id)``, in one read job (one snapshot).

        Step 1 (:data:`BY_AUTHORS_RECENT_SQL`) looks for the page among the
        :data:`RECENT_WINDOW` newest posts below ``before``: enough when the
        authors wrote a good share of the recent posts. When it finds fewer
        than ``limit`` and the window did not reach the oldest post, step 2
        takes each author's ``limit`` newest keys (:data:`AUTHOR_KEYS_SQL`, an
        index range each), merges them and reads the page's rows: bounded
        by ``authors * limit`` index entries however old their posts are.
        """
        authors = list(dict.fromkeys(user_ids))  # a duplicate author would repeat posts
        if limit <= 0 or not authors:
            return []
        clause, key_args = keyset("created_at, id", before, "<")

        def job(conn: sqlite3.Connection) -> list[PostRecord]:
            rows = conn.execute(
                BY_AUTHORS_RECENT_SQL.format(keyset=clause),
                {"authors": json_list(authors), "window": RECENT_WINDOW, "limit": limit} | key_args,
            ).fetchall()
            if len(rows) >= limit:
                return [to_post(row) for row in rows]
            seen = conn.execute(
                _RECENT_COUNT_SQL.format(keyset=clause), {"window": RECENT_WINDOW} | key_args
            ).fetchone()[0]
            if seen < RECENT_WINDOW:  # the window held every post below the key
                return [to_post(row) for row in rows]
            per_author = [
                conn.execute(
                    AUTHOR_KEYS_SQL.format(keyset=clause),
                    {"user": author, "limit": limit} | key_args,
                ).fetchall()
                for author in authors
            ]
            newest = list(
                itertools.islice(
                    heapq.merge(*per_author, key=lambda r: (r[0], r[1]), reverse=True), limit
                )
            )
            found = conn.execute(
                f"SELECT {POST_COLUMNS} FROM posts WHERE id IN (SELECT value FROM json_each(?))",
                (json_list([r[1] for r in newest]),),
            ).fetchall()
            by_id = {post.id: post for post in map(to_post, found)}
            return [by_id[r[1]] for r in newest]

        return await self._db.read(job)


class SqliteCommentStore:
    """:class:`actors.store.CommentStore` on ``comments``. A top-level comment
    has a NULL ``parent_comment_id``; lists select with ``parent_comment_id IS
    ?``, which the ``comments_thread`` index serves for NULL and ids alike."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, comment: CommentRecord) -> int | None:
        """In one job: check the post, and the parent (present, not deleted,
        on the same post); insert; bump the post's ``comment_count`` and the
        parent's ``reply_count``. ``None`` and nothing written when a check
        fails; ``Conflict("client_key")``/``Conflict("id")`` when taken."""
        c = comment

        def job(conn: sqlite3.Connection) -> int | None:
            if conn.execute("SELECT 1 FROM posts WHERE id = ?", (c.post_id,)).fetchone() is None:
                return None
            if c.parent_comment_id is not None:
                parent = conn.execute(
                    "SELECT post_id, deleted FROM comments WHERE id = ?", (c.parent_comment_id,)
                ).fetchone()
                if parent is None or parent["deleted"] or parent["post_id"] != c.post_id:
                    return None
            with conflicts():
                conn.execute(
                    f"INSERT INTO comments ({COMMENT_COLUMNS}) VALUES ({_COMMENT_PLACEHOLDERS})",
                    (
                        c.id,
                        c.post_id,
                        c.user_id,
                        c.parent_comment_id,
                        c.text,
                        c.client_key,
                        c.created_at,
                        c.edited_at,
                        int(c.deleted),
                        c.reply_count,
                        c.like_count,
                        int(c.hidden),
                    ),
                )
            if c.parent_comment_id is not None:
                conn.execute(
                    "UPDATE comments SET reply_count = reply_count + 1 WHERE id = ?",
                    (c.parent_comment_id,),
                )
            rows = conn.execute(
                "UPDATE posts SET comment_count = comment_count + 1 WHERE id = ?"
                " RETURNING comment_count",
                (c.post_id,),
            ).fetchall()
            return int(rows[0][0])

        return await self._db.write(job)

    async def get(self, comment_id: str) -> CommentRecord | None:
        def job(conn: sqlite3.Connection) -> CommentRecord | None:
            row = conn.execute(
                f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id = ?", (comment_id,)
            ).fetchone()
            return to_comment(row) if row is not None else None

        return await self._db.read(job)

    async def get_by_client_key(
        self, post_id: str, user_id: str, client_key: str
    ) -> CommentRecord | None:
        def job(conn: sqlite3.Connection) -> CommentRecord | None:
            row = conn.execute(
                f"SELECT {COMMENT_COLUMNS} FROM comments"
                " WHERE post_id = ? AND user_id = ? AND client_key = ?",
                (post_id, user_id, client_key),
            ).fetchone()
            return to_comment(row) if row is not None else None

        return await self._db.read(job)

    async def edit(self, comment_id: str, text: str, at: float) -> CommentRecord | None:
        def job(conn: sqlite3.Connection) -> CommentRecord | None:
            rows = conn.execute(
                "UPDATE comments SET text = ?, edited_at = ? WHERE id = ? AND deleted = 0"
                f" RETURNING {COMMENT_COLUMNS}",
                (text, at, comment_id),
            ).fetchall()
            return to_comment(rows[0]) if rows else None

        return await self._db.write(job)

    async def delete(self, comment_id: str) -> CommentDeletion | None:
        """In one job. Whether it has replies is read from the rows, not from
        ``reply_count``, so a drifted counter cannot make a reply an orphan.
        A tombstone keeps its likes and ``like_count`` (it stays listed)."""

        def job(conn: sqlite3.Connection) -> CommentDeletion | None:
            row = conn.execute(
                f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id = ? AND deleted = 0",
                (comment_id,),
            ).fetchone()
            if row is None:
                return None
            comment = to_comment(row)
            tombstone = (
                conn.execute(
                    "SELECT 1 FROM comments WHERE parent_comment_id = ? LIMIT 1", (comment_id,)
                ).fetchone()
                is not None
            )
            if tombstone:
                conn.execute(
                    "UPDATE comments SET deleted = 1, text = '' WHERE id = ?", (comment_id,)
                )
            else:
                conn.execute(
                    "DELETE FROM likes WHERE target_kind = 'comment' AND target_id = ?",
                    (comment_id,),
                )
                conn.execute("DELETE FROM comments WHERE id = ?", (comment_id,))
                if comment.parent_comment_id is not None:
                    conn.execute(
                        "UPDATE comments SET reply_count = max(reply_count - 1, 0) WHERE id = ?",
                        (comment.parent_comment_id,),
                    )
            rows = conn.execute(
                "UPDATE posts SET comment_count = max(comment_count - 1, 0) WHERE id = ?"
                " RETURNING comment_count",
                (comment.post_id,),
            ).fetchall()
            return CommentDeletion(
                comment=comment, tombstone=tombstone, comment_count=int(rows[0][0]) if rows else 0
            )

        return await self._db.write(job)

    # Above ``list``: below it, ``list`` in an annotation would name the method.
    async def get_many(self, comment_ids: list[str]) -> dict[str, CommentRecord]:
        if not comment_ids:
            return {}

        def job(conn: sqlite3.Connection) -> dict[str, CommentRecord]:
            rows = conn.execute(
                f"SELECT {COMMENT_COLUMNS} FROM comments"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (json_list(comment_ids),),
            ).fetchall()
            return {comment.id: comment for comment in map(to_comment, rows)}

        return await self._db.read(job)

    async def list(
        self, post_id: str, parent_id: str | None, *, after: PageKey | None, limit: int
    ) -> list[CommentRecord]:
        """Oldest first by ``(created_at, id)``: a forward range of ``comments_thread``."""
        if limit <= 0:
            return []
        clause, args = keyset("created_at, id", after, ">")

        def job(conn: sqlite3.Connection) -> list[CommentRecord]:
            rows = conn.execute(
                COMMENTS_SQL.format(keyset=clause),
                {"post": post_id, "parent": parent_id, "limit": limit, **args},
            ).fetchall()
            return [to_comment(row) for row in rows]

        return await self._db.read(job)
