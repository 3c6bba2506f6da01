"""SQLite stores of the accounts domain (:mod:`actors.store.accounts`): users
(with prefix and full-text search), login sessions, blocks."""

from __future__ import annotations

import sqlite3
from typing import Final

from actors.store.accounts import AuthSessionRecord, ProfileUpdate, UserRecord
from actors.store.search import query_words, search_key
from server.storage.sqlite.database import SqliteDatabase
from server.storage.sqlite.rows import (
    SESSION_COLUMNS,
    USER_COLUMNS,
    conflicts,
    json_list,
    prefixed,
    to_session,
    to_user,
)

__all__ = [
    "SqliteAuthSessionStore",
    "SqliteBlockStore",
    "SqliteUserStore",
    "fts_query",
    "prefix_upper_bound",
]


#: The users of a JSON list of ids: a primary-key seek per id.
USERS_BY_ID_SQL: Final = (
    f"SELECT {USER_COLUMNS} FROM users WHERE id IN (SELECT value FROM json_each(?))"
)
#: Which of ``:others`` (a JSON list) have a block with ``:me``, either way.
BLOCKED_AMONG_SQL: Final = (
    "SELECT value FROM json_each(:others) AS o WHERE EXISTS"
    " (SELECT 1 FROM blocks WHERE user_id = :me AND blocked_id = o.value)"
    " OR EXISTS (SELECT 1 FROM blocks WHERE user_id = o.value AND blocked_id = :me)"
)


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``
    in code-point order, which is SQLite's BINARY order for UTF-8 text; ``None``
    if there is none (empty prefix, or only U+10FFFF characters).

    ``prefix <= s < bound`` holds exactly for the strings ``s`` starting with
    ``prefix``: a range an index can serve, with no wildcard to escape (unlike
    ``LIKE``, where ``%`` and ``_`` in the prefix would be patterns).
    """
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be stored; skip over them
            code = 0xE000
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression for free text: its words
    (:func:`~actors.store.search.query_words`), each quoted, OR-ed together
    like MongoDB's ``$text``; ``None`` if the text has no words. A word has no
    ``"`` in it, so quoting makes every FTS5 operator in user input inert."""
    words = query_words(text)
    if not words:
        return None
    return " OR ".join(f'"{word}"' for word in words)


class SqliteUserStore:
    """:class:`actors.store.UserStore` on the ``users`` table."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, user: UserRecord) -> None:
        """Insert; ``Conflict("username"|"email"|"id")`` if taken, nothing written."""

        def job(conn: sqlite3.Connection) -> None:
            with conflicts():
                conn.execute(
                    "INSERT INTO users (id, username, email, password_hash, display_name,"
                    " display_name_key, bio, avatar_url, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        user.id,
                        user.username,
                        user.email,
                        user.password_hash,
                        user.display_name,
                        search_key(user.display_name),
                        user.bio,
                        user.avatar_url,
                        user.created_at,
                    ),
                )

        await self._db.write(job)

    async def _one(self, where: str, value: str) -> UserRecord | None:
        def job(conn: sqlite3.Connection) -> UserRecord | None:
            row = conn.execute(f"SELECT {USER_COLUMNS} FROM users WHERE {where} = ?", (value,))
            found = row.fetchone()
            return to_user(found) if found is not None else None

        return await self._db.read(job)

    async def get(self, user_id: str) -> UserRecord | None:
        return await self._one("id", user_id)

    async def get_many(self, user_ids: list[str]) -> dict[str, UserRecord]:
        """The users among ``user_ids``, by id: one statement, a primary-key
        seek per id of the JSON list."""
        if not user_ids:
            return {}

        def job(conn: sqlite3.Connection) -> dict[str, UserRecord]:
            rows = conn.execute(USERS_BY_ID_SQL, (json_list(user_ids),)).fetchall()
            return {user.id: user for user in map(to_user, rows)}

        return await self._db.read(job)

    async def get_many_by_username(self, usernames: list[str]) -> dict[str, UserRecord]:
        """The users with these stored (lower-case) usernames, by username, in
        one statement; no case folding here (the caller lower-cases)."""
        if not usernames:
            return {}

        def job(conn: sqlite3.Connection) -> dict[str, UserRecord]:
            rows = conn.execute(
                f"SELECT {USER_COLUMNS} FROM users"
                " WHERE username IN (SELECT value FROM json_each(?))",
                (json_list(usernames),),
            ).fetchall()
            return {user.username: user for user in map(to_user, rows)}

        return await self._db.read(job)

    async def get_by_username(self, username: str) -> UserRecord | None:
        """Exact match on the stored (lower-case) username."""
        return await self._one("username", username)

    async def get_by_email(self, email: str) -> UserRecord | None:
        """Exact match on the stored (lower-case) email."""
        return await self._one("email", email)

    async def update_profile(self, user_id: str, update: ProfileUpdate) -> UserRecord | None:
        """Set the non-``None`` fields (and the derived ``display_name_key``) in
        one statement; return the record as committed, ``None`` if no such user."""
        assignments = update.changes()
        if update.display_name is not None:
            assignments["display_name_key"] = search_key(update.display_name)

        def job(conn: sqlite3.Connection) -> UserRecord | None:
            if assignments:
                # Column names come from ProfileUpdate.changes(), never from input.
                sets = ", ".join(f"{column} = ?" for column in assignments)
                rows = conn.execute(
                    f"UPDATE users SET {sets} WHERE id = ? RETURNING {USER_COLUMNS}",
                    (*assignments.values(), user_id),
                ).fetchall()  # fetchall: a RETURNING statement must finish before RELEASE
            else:
                rows = conn.execute(
                    f"SELECT {USER_COLUMNS} FROM users WHERE id = ?", (user_id,)
                ).fetchall()
            return to_user(rows[0]) if rows else None

        return await self._db.write(job)

    async def search_prefix(self, prefix: str, limit: int) -> list[UserRecord]:
        """Users whose username or display name starts with ``prefix`` compared
        lower-case (Unicode-aware), ordered by username, at most ``limit``.
        Every character of ``prefix`` is literal (``%``, ``_`` included)."""
        if limit <= 0:
            return []
        low = search_key(prefix)
        high = prefix_upper_bound(low)

        def job(conn: sqlite3.Connection) -> list[UserRecord]:
            if high is None:  # empty prefix: everyone
                where, args = "username >= :low OR display_name_key >= :low", {"low": low}
            else:
                where = (
                    "(username >= :low AND username < :high)"
                    " OR (display_name_key >= :low AND display_name_key < :high)"
                )
                args = {"low": low, "high": high}
            rows = conn.execute(
                f"SELECT {USER_COLUMNS} FROM users WHERE {where} ORDER BY username LIMIT :limit",
                {**args, "limit": limit},
            ).fetchall()
            return [to_user(row) for row in rows]

        return await self._db.read(job)

    async def search_text(self, query: str, limit: int) -> list[UserRecord]:
        """Users matching any word of ``query`` in username or display name
        (FTS5, case- and diacritic-insensitive, whole words), best bm25 rank
        first, ties by username; at most ``limit``. No words: no results."""
        match = fts_query(query)
        if match is None or limit <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[UserRecord]:
            rows = conn.execute(
                f"SELECT {prefixed(USER_COLUMNS, 'u')}"
                " FROM users_fts JOIN users AS u ON u.seq = users_fts.rowid"
                " WHERE users_fts MATCH ? ORDER BY bm25(users_fts), u.username LIMIT ?",
                (match, limit),
            ).fetchall()
            return [to_user(row) for row in rows]

        return await self._db.read(job)


class SqliteAuthSessionStore:
    """:class:`actors.store.AuthSessionStore` on the ``auth_sessions`` table."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, session: AuthSessionRecord) -> None:
        """Insert; ``Conflict("token_hash")`` if that hash exists, nothing written."""

        def job(conn: sqlite3.Connection) -> None:
            with conflicts():
                conn.execute(
                    f"INSERT INTO auth_sessions ({SESSION_COLUMNS}) VALUES (?, ?, ?, ?)",
                    (session.token_hash, session.user_id, session.created_at, session.expires_at),
                )

        await self._db.write(job)

    async def get(self, token_hash: str) -> AuthSessionRecord | None:
        def job(conn: sqlite3.Connection) -> AuthSessionRecord | None:
            row = conn.execute(
                f"SELECT {SESSION_COLUMNS} FROM auth_sessions WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
            return to_session(row) if row is not None else None

        return await self._db.read(job)

    async def delete(self, token_hash: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM auth_sessions WHERE token_hash = ?", (token_hash,))
            return cursor.rowcount > 0

        return await self._db.write(job)

    async def delete_for_user(self, user_id: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM auth_sessions WHERE user_id = ?", (user_id,)).rowcount

        return await self._db.write(job)

    async def delete_expired(self, now: float) -> int:
        """Remove sessions with ``expires_at <= now``; return how many."""

        def job(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM auth_sessions WHERE expires_at <= ?", (now,)).rowcount

        return await self._db.write(job)


class SqliteBlockStore:
    """:class:`actors.store.BlockStore` on ``blocks``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def block(self, user_id: str, blocked_id: str, at: float) -> None:
        """Record the block; blocking again keeps the first ``at``."""

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO blocks (user_id, blocked_id, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id, blocked_id) DO NOTHING",
                (user_id, blocked_id, at),
            )

        await self._db.write(job)

    async def unblock(self, user_id: str, blocked_id: str) -> None:
        """Remove the block; no-op if there is none."""

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?", (user_id, blocked_id)
            )

        await self._db.write(job)

    async def is_blocked(self, user_id: str, blocked_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM blocks WHERE user_id = ? AND blocked_id = ?", (user_id, blocked_id)
            ).fetchone()
            return row is not None

        return await self._db.read(job)

    async def blocked_among(self, user_id: str, others: list[str]) -> set[str]:
        """The ids of ``others`` that ``user_id`` blocked or that blocked
        ``user_id``: one statement, two primary-key seeks per id."""
        if not others:
            return set()

        def job(conn: sqlite3.Connection) -> set[str]:
            rows = conn.execute(
                BLOCKED_AMONG_SQL, {"me": user_id, "others": json_list(others)}
            ).fetchall()
            return {str(row[0]) for row in rows}

        return await self._db.read(job)
