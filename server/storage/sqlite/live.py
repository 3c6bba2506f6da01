"""SQLite stores of live streaming (:mod:`actors.store.live`) on ``streams``,
``stream_chat``, ``stream_bans`` and ``stream_viewers`` (migration 9; the
chat's tip columns: migration 10).

One live stream per host is the partial unique index ``streams_one_live``
(``host_id WHERE status = 'live'``): a create or save that would make a
second one fails inside its write job, which rolls back, and the violation
is ``Conflict("live")`` by :data:`~server.storage.sqlite.rows.CONFLICT_FIELDS`.
Duplicates that mean "already there" (a retried chat line, a second ban, a
returning viewer) are ``ON CONFLICT DO NOTHING`` and reported by rowcount.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final

import msgspec

from actors.store.live import ChatLineRecord, StreamRecord
from actors.store.social import PageKey
from server.storage.sqlite.database import SqliteDatabase
from server.storage.sqlite.rows import conflicts, json_list, keyset, record

__all__ = [
    "CHAT_COLUMNS",
    "STREAM_COLUMNS",
    "SqliteChatStore",
    "SqliteStreamBanStore",
    "SqliteStreamStore",
]

STREAM_COLUMNS: Final = ", ".join(StreamRecord.__struct_fields__)
_STREAM_PLACEHOLDERS: Final = ", ".join("?" for _ in StreamRecord.__struct_fields__)
#: ``save``'s assignments: every column but the id.
_STREAM_ASSIGNMENTS: Final = ", ".join(
    f"{name} = ?" for name in StreamRecord.__struct_fields__ if name != "id"
)
#: The list fields, stored as JSON text.
_LIST_FIELDS: Final = ("tags", "moderators")

CHAT_COLUMNS: Final = ", ".join(ChatLineRecord.__struct_fields__)
_CHAT_PLACEHOLDERS: Final = ", ".join("?" for _ in ChatLineRecord.__struct_fields__)

_strings = msgspec.json.Decoder(list[str])

#: Live now: a backward range of ``streams_live_now``.
LIVE_NOW_SQL: Final = (
    f"SELECT {STREAM_COLUMNS} FROM streams WHERE status = 'live'{{keyset}}"
    " ORDER BY viewer_count DESC, id DESC LIMIT :limit"
)
#: A host's streams: a backward range of ``streams_by_host``.
BY_HOST_SQL: Final = (
    f"SELECT {STREAM_COLUMNS} FROM streams WHERE host_id = :host{{keyset}}"
    " ORDER BY created_at DESC, id DESC LIMIT :limit"
)
#: Scheduled streams of a JSON list of hosts: a ``streams_scheduled`` range per
#: host, merged and sorted (soonest first; a stream with no time comes last).
SCHEDULED_SQL: Final = (
    f"SELECT {STREAM_COLUMNS} FROM streams WHERE status = 'scheduled'"
    " AND host_id IN (SELECT value FROM json_each(:hosts))"
    " ORDER BY scheduled_time IS NULL, scheduled_time, id LIMIT :limit"
)
#: A stream's newest lines that are not deleted (a backward range of
#: ``stream_chat_log``), then put oldest first.
RECENT_CHAT_SQL: Final = (
    f"SELECT {CHAT_COLUMNS} FROM (SELECT {CHAT_COLUMNS} FROM stream_chat"
    " WHERE stream_id = ? AND deleted = 0 ORDER BY created_at DESC, id DESC LIMIT ?)"
    " ORDER BY created_at, id"
)
#: The full log, oldest first: a forward range of ``stream_chat_log``.
CHAT_PAGE_SQL: Final = (
    f"SELECT {CHAT_COLUMNS} FROM stream_chat WHERE stream_id = :stream{{keyset}}"
    " ORDER BY created_at, id LIMIT :limit"
)


def _stream_values(stream: StreamRecord) -> list[Any]:
    """The values of :data:`STREAM_COLUMNS`, in that order (lists as JSON)."""
    return [
        json_list(value) if name in _LIST_FIELDS else value
        for name, value in zip(
            StreamRecord.__struct_fields__, msgspec.structs.astuple(stream), strict=True
        )
    ]


def _to_stream(row: sqlite3.Row) -> StreamRecord:
    fields = {name: row[name] for name in StreamRecord.__struct_fields__}
    for name in _LIST_FIELDS:
        fields[name] = _strings.decode(fields[name])
    return msgspec.convert(fields, StreamRecord, strict=False)


def _to_line(row: sqlite3.Row) -> ChatLineRecord:
    return record(ChatLineRecord, row)


class SqliteStreamStore:
    """:class:`actors.store.live.StreamStore` on ``streams`` and ``stream_viewers``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, stream: StreamRecord) -> None:
        """Insert; ``Conflict("id")`` or ``Conflict("live")`` and nothing written."""
        values = _stream_values(stream)

        def job(conn: sqlite3.Connection) -> None:
            with conflicts():
                conn.execute(
                    f"INSERT INTO streams ({STREAM_COLUMNS}) VALUES ({_STREAM_PLACEHOLDERS})",
                    values,
                )

        await self._db.write(job)

    async def get(self, stream_id: str) -> StreamRecord | None:
        def job(conn: sqlite3.Connection) -> StreamRecord | None:
            row = conn.execute(
                f"SELECT {STREAM_COLUMNS} FROM streams WHERE id = ?", (stream_id,)
            ).fetchone()
            return None if row is None else _to_stream(row)

        return await self._db.read(job)

    async def get_many(self, stream_ids: list[str]) -> dict[str, StreamRecord]:
        """One statement: a primary-key seek per id of the JSON list."""
        if not stream_ids:
            return {}

        def job(conn: sqlite3.Connection) -> dict[str, StreamRecord]:
            rows = conn.execute(
                f"SELECT {STREAM_COLUMNS} FROM streams"
                " WHERE id IN (SELECT value FROM json_each(?))",
                (json_list(stream_ids),),
            ).fetchall()
            return {stream.id: stream for stream in map(_to_stream, rows)}

        return await self._db.read(job)

    async def save(self, stream: StreamRecord) -> None:
        """Overwrite every column of the row with the record's id; a save of
        an id that was never created writes nothing (``create`` makes rows).
        ``Conflict("live")`` and the row unchanged when it would be its
        host's second live stream."""
        values = [*_stream_values(stream)[1:], stream.id]

        def job(conn: sqlite3.Connection) -> None:
            with conflicts():
                conn.execute(f"UPDATE streams SET {_STREAM_ASSIGNMENTS} WHERE id = ?", values)

        await self._db.write(job)

    async def live_of_host(self, host_id: str) -> StreamRecord | None:
        """An index seek on status and host: one row at most."""

        def job(conn: sqlite3.Connection) -> StreamRecord | None:
            row = conn.execute(
                f"SELECT {STREAM_COLUMNS} FROM streams WHERE host_id = ? AND status = 'live'",
                (host_id,),
            ).fetchone()
            return None if row is None else _to_stream(row)

        return await self._db.read(job)

    async def live_now(self, *, before: PageKey | None, limit: int) -> list[StreamRecord]:
        """Most viewers first, ties by id descending: :data:`LIVE_NOW_SQL`."""
        return await self._page(LIVE_NOW_SQL, "viewer_count, id", {}, before, limit)

    async def scheduled_by_hosts(self, host_ids: list[str], limit: int) -> list[StreamRecord]:
        """Soonest ``scheduled_time`` first (ties by id); a scheduled stream
        without a time comes after every timed one."""
        if limit <= 0 or not host_ids:
            return []

        def job(conn: sqlite3.Connection) -> list[StreamRecord]:
            rows = conn.execute(
                SCHEDULED_SQL, {"hosts": json_list(list(set(host_ids))), "limit": limit}
            ).fetchall()
            return [_to_stream(row) for row in rows]

        return await self._db.read(job)

    async def by_host(
        self, host_id: str, *, before: PageKey | None, limit: int
    ) -> list[StreamRecord]:
        """Newest first by ``(created_at, id)``: :data:`BY_HOST_SQL`."""
        return await self._page(BY_HOST_SQL, "created_at, id", {"host": host_id}, before, limit)

    async def _page(
        self,
        sql: str,
        key_columns: str,
        args: dict[str, Any],
        before: PageKey | None,
        limit: int,
    ) -> list[StreamRecord]:
        if limit <= 0:
            return []
        clause, key_args = keyset(key_columns, before, "<")

        def job(conn: sqlite3.Connection) -> list[StreamRecord]:
            rows = conn.execute(
                sql.format(keyset=clause), {**args, "limit": limit, **key_args}
            ).fetchall()
            return [_to_stream(row) for row in rows]

        return await self._db.read(job)

    async def add_viewer(self, stream_id: str, user_id: str, at: float) -> bool:
        """Insert the pair if new (``at`` stays the first time seen). The
        stream's ``unique_viewers`` is the actor's to count and save."""

        def job(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "INSERT INTO stream_viewers (stream_id, user_id, at) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (stream_id, user_id, at),
                ).rowcount
            )

        return await self._db.write(job)


class SqliteChatStore:
    """:class:`actors.store.live.ChatStore` on ``stream_chat``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def append(self, lines: list[ChatLineRecord]) -> None:
        """One write job for the batch. A line whose client key (or id) is
        already stored is skipped: a retried send, or a retried batch whose
        first attempt committed."""
        if not lines:
            return
        values = [
            [int(v) if isinstance(v, bool) else v for v in msgspec.structs.astuple(line)]
            for line in lines
        ]

        def job(conn: sqlite3.Connection) -> None:
            conn.executemany(
                f"INSERT INTO stream_chat ({CHAT_COLUMNS}) VALUES ({_CHAT_PLACEHOLDERS})"
                " ON CONFLICT DO NOTHING",
                values,
            )

        await self._db.write(job)

    async def recent(self, stream_id: str, limit: int) -> list[ChatLineRecord]:
        """:data:`RECENT_CHAT_SQL`."""
        if limit <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[ChatLineRecord]:
            rows = conn.execute(RECENT_CHAT_SQL, (stream_id, limit)).fetchall()
            return [_to_line(row) for row in rows]

        return await self._db.read(job)

    async def get(self, line_id: str) -> ChatLineRecord | None:
        def job(conn: sqlite3.Connection) -> ChatLineRecord | None:
            row = conn.execute(
                f"SELECT {CHAT_COLUMNS} FROM stream_chat WHERE id = ?", (line_id,)
            ).fetchone()
            return None if row is None else _to_line(row)

        return await self._db.read(job)

    async def delete(self, line_id: str) -> bool:
        """Set the flag; the text stays (the full log shows what was removed)."""

        def job(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "UPDATE stream_chat SET deleted = 1 WHERE id = ? AND deleted = 0", (line_id,)
                ).rowcount
            )

        return await self._db.write(job)

    async def page(
        self, stream_id: str, *, after: PageKey | None, limit: int
    ) -> list[ChatLineRecord]:
        """Oldest first by ``(created_at, id)``: :data:`CHAT_PAGE_SQL`."""
        if limit <= 0:
            return []
        clause, key_args = keyset("created_at, id", after, ">")

        def job(conn: sqlite3.Connection) -> list[ChatLineRecord]:
            rows = conn.execute(
                CHAT_PAGE_SQL.format(keyset=clause),
                {"stream": stream_id, "limit": limit, **key_args},
            ).fetchall()
            return [_to_line(row) for row in rows]

        return await self._db.read(job)


class SqliteStreamBanStore:
    """:class:`actors.store.live.StreamBanStore` on ``stream_bans``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def ban(self, stream_id: str, user_id: str, at: float) -> bool:
        """Insert the pair if new (a second ban keeps the first ``at``)."""

        def job(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    "INSERT INTO stream_bans (stream_id, user_id, at) VALUES (?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (stream_id, user_id, at),
                ).rowcount
            )

        return await self._db.write(job)

    async def is_banned(self, stream_id: str, user_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM stream_bans WHERE stream_id = ? AND user_id = ?",
                (stream_id, user_id),
            ).fetchone()
            return row is not None

        return await self._db.read(job)
