"""SQLite store of uploaded media (:mod:`actors.store.media`) on the
``media`` table (migration 8).

``attach`` checks and updates in ONE write job, so "all or none" is a
transaction: either every row moves to the target or none does.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from actors.store.media import MediaRecord
from server.storage.sqlite.database import SqliteDatabase
from server.storage.sqlite.rows import conflicts, json_list, record

__all__ = ["MEDIA_COLUMNS", "SqliteMediaStore"]

MEDIA_COLUMNS: Final = ", ".join(MediaRecord.__struct_fields__)
_PLACEHOLDERS: Final = ", ".join("?" for _ in MediaRecord.__struct_fields__)

#: The rows of a JSON list of ids (one primary-key seek each).
_IN_IDS: Final = "id IN (SELECT value FROM json_each(?))"


def _to_media(row: sqlite3.Row) -> MediaRecord:
    return record(MediaRecord, row)


class SqliteMediaStore:
    """:class:`actors.store.media.MediaStore` on ``media``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, media: MediaRecord) -> None:
        """Insert; ``Conflict("id")`` for a taken id."""
        values = tuple(getattr(media, name) for name in MediaRecord.__struct_fields__)

        def job(conn: sqlite3.Connection) -> None:
            with conflicts():
                conn.execute(
                    f"INSERT INTO media ({MEDIA_COLUMNS}) VALUES ({_PLACEHOLDERS})", values
                )

        await self._db.write(job)

    async def get(self, media_id: str) -> MediaRecord | None:
        def job(conn: sqlite3.Connection) -> MediaRecord | None:
            row = conn.execute(
                f"SELECT {MEDIA_COLUMNS} FROM media WHERE id = ?", (media_id,)
            ).fetchone()
            return None if row is None else _to_media(row)

        return await self._db.read(job)

    async def get_many(self, media_ids: list[str]) -> dict[str, MediaRecord]:
        """The records among ``media_ids`` that exist, by id."""
        if not media_ids:
            return {}

        def job(conn: sqlite3.Connection) -> dict[str, MediaRecord]:
            rows = conn.execute(
                f"SELECT {MEDIA_COLUMNS} FROM media WHERE {_IN_IDS}", (json_list(media_ids),)
            ).fetchall()
            return {row["id"]: _to_media(row) for row in rows}

        return await self._db.read(job)

    async def attach(self, media_ids: list[str], owner_id: str, target: str) -> bool:
        """Count the rows that may move (owned by ``owner_id``, unattached or
        already on ``target``); only if that is every distinct id, move them,
        in the same transaction. An empty list attaches nothing and succeeds."""
        wanted = sorted(set(media_ids))
        if not wanted:
            return True
        ids = json_list(wanted)

        def job(conn: sqlite3.Connection) -> bool:
            movable = conn.execute(
                f"SELECT count(*) FROM media WHERE {_IN_IDS} AND owner_id = ?"
                " AND (attached_to IS NULL OR attached_to = ?)",
                (ids, owner_id, target),
            ).fetchone()[0]
            if movable != len(wanted):
                return False
            conn.execute(
                f"UPDATE media SET attached_to = ? WHERE {_IN_IDS} AND attached_to IS NULL",
                (target, ids),
            )
            return True

        return await self._db.write(job)

    async def release(self, target: str) -> int:
        """A range of ``media_attached``, set back to NULL."""

        def job(conn: sqlite3.Connection) -> int:
            return int(
                conn.execute(
                    "UPDATE media SET attached_to = NULL WHERE attached_to = ?", (target,)
                ).rowcount
            )

        return await self._db.write(job)

    async def unattached_before(self, before: float, limit: int) -> list[MediaRecord]:
        """A range of the partial index ``media_unattached``, oldest first."""

        def job(conn: sqlite3.Connection) -> list[MediaRecord]:
            rows = conn.execute(
                f"SELECT {MEDIA_COLUMNS} FROM media WHERE attached_to IS NULL"
                " AND created_at < ? ORDER BY created_at, id LIMIT ?",
                (before, limit),
            ).fetchall()
            return [_to_media(row) for row in rows]

        return await self._db.read(job)

    async def delete(self, media_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            return bool(conn.execute("DELETE FROM media WHERE id = ?", (media_id,)).rowcount)

        return await self._db.write(job)

    async def uploaded_bytes_since(self, owner_id: str, since: float) -> int:
        """A sum over a range of ``media_owner_recent`` (covering)."""

        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT coalesce(sum(uploaded_bytes), 0) FROM media"
                " WHERE owner_id = ? AND created_at >= ?",
                (owner_id, since),
            ).fetchone()
            return int(row[0])

        return await self._db.read(job)
