"""SQLite store of notifications (:mod:`actors.store.notifications`): grouped
rows in ``notifications``, one row per actor of a group in
``notification_actors``, mute settings in ``notification_settings``. Every
write is one job, so a group's count and its actor rows change together."""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Final

from actors.store.notifications import SHOWN_ACTORS, NewNotification, NotificationRecord
from actors.store.social import PageKey
from server.storage.sqlite.database import SqliteDatabase
from server.storage.sqlite.rows import conflicts, json_list, keyset

__all__ = ["SqliteNotificationStore"]

COLUMNS: Final = (
    "id, recipient_id, kind, group_key, actor_count, post_id, comment_id, text, read,"
    " created_at, updated_at"
)

_OPEN_GROUP: Final = (
    "SELECT id FROM notifications WHERE recipient_id = ? AND group_key = ? AND read = 0"
    " AND updated_at >= ? ORDER BY updated_at DESC LIMIT 1"
)
_GROUP_OF_ACTOR: Final = (
    "SELECT n.id, n.actor_count FROM notifications AS n"
    " JOIN notification_actors AS a ON a.notification_id = n.id"
    " WHERE n.recipient_id = ? AND n.group_key = ? AND n.read = 0 AND a.actor_id = ?"
    " ORDER BY n.updated_at DESC LIMIT 1"
)


def _records(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[NotificationRecord]:
    """Rows with their newest actors (one query for the whole page)."""
    ids = [row["id"] for row in rows]
    actors: dict[str, list[str]] = {i: [] for i in ids}
    if ids:
        found = conn.execute(
            "SELECT notification_id, actor_id FROM notification_actors"
            " WHERE notification_id IN (SELECT value FROM json_each(?))"
            " ORDER BY notification_id, at DESC, actor_id",
            (json_list(ids),),
        ).fetchall()
        for notification_id, actor_id in found:
            shown = actors[notification_id]
            if len(shown) < SHOWN_ACTORS:
                shown.append(actor_id)
    return [
        NotificationRecord(
            id=row["id"],
            recipient_id=row["recipient_id"],
            kind=row["kind"],
            group_key=row["group_key"],
            actor_ids=actors[row["id"]],
            actor_count=row["actor_count"],
            post_id=row["post_id"],
            comment_id=row["comment_id"],
            text=row["text"],
            read=bool(row["read"]),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
        for row in rows
    ]


def _one(conn: sqlite3.Connection, notification_id: str) -> NotificationRecord:
    rows = conn.execute(
        f"SELECT {COLUMNS} FROM notifications WHERE id = ?", (notification_id,)
    ).fetchall()
    return _records(conn, rows)[0]


def _unread(conn: sqlite3.Connection, recipient_id: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM notifications WHERE recipient_id = ? AND read = 0", (recipient_id,)
    ).fetchone()
    return int(row[0])


class SqliteNotificationStore:
    """:class:`actors.store.NotificationStore` on the notification tables."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def add(self, new: NewNotification, *, window: float) -> NotificationRecord | None:
        """One job: find the open group, join it or open one."""

        def job(conn: sqlite3.Connection) -> NotificationRecord | None:
            found = conn.execute(
                _OPEN_GROUP, (new.recipient_id, new.group_key, new.at - window)
            ).fetchone()
            if found is not None:
                notification_id = found[0]
                joined = conn.execute(
                    "INSERT INTO notification_actors (notification_id, actor_id, at)"
                    " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    (notification_id, new.actor_id, new.at),
                ).rowcount
                if not joined:
                    return None
                conn.execute(
                    "UPDATE notifications SET actor_count = actor_count + 1,"
                    " updated_at = max(updated_at, ?), text = ?,"
                    " comment_id = coalesce(?, comment_id) WHERE id = ?",
                    (new.at, new.text, new.comment_id, notification_id),
                )
                return _one(conn, notification_id)
            with conflicts():
                conn.execute(
                    f"INSERT INTO notifications ({COLUMNS})"
                    " VALUES (?, ?, ?, ?, 1, ?, ?, ?, 0, ?, ?)",
                    (
                        new.id,
                        new.recipient_id,
                        new.kind,
                        new.group_key,
                        new.post_id,
                        new.comment_id,
                        new.text,
                        new.at,
                        new.at,
                    ),
                )
            conn.execute(
                "INSERT INTO notification_actors (notification_id, actor_id, at) VALUES (?, ?, ?)",
                (new.id, new.actor_id, new.at),
            )
            return _one(conn, new.id)

        return await self._db.write(job)

    async def remove(
        self, recipient_id: str, group_key: str, actor_id: str
    ) -> tuple[str, NotificationRecord | None] | None:
        def job(conn: sqlite3.Connection) -> tuple[str, NotificationRecord | None] | None:
            found = conn.execute(_GROUP_OF_ACTOR, (recipient_id, group_key, actor_id)).fetchone()
            if found is None:
                return None
            notification_id, count = found[0], int(found[1])
            conn.execute(
                "DELETE FROM notification_actors WHERE notification_id = ? AND actor_id = ?",
                (notification_id, actor_id),
            )
            if count <= 1:
                conn.execute("DELETE FROM notifications WHERE id = ?", (notification_id,))
                return notification_id, None
            conn.execute(
                "UPDATE notifications SET actor_count = actor_count - 1 WHERE id = ?",
                (notification_id,),
            )
            return notification_id, _one(conn, notification_id)

        return await self._db.write(job)

    async def page(
        self, recipient_id: str, *, before: PageKey | None, limit: int
    ) -> list[NotificationRecord]:
        clause, key_args = keyset("updated_at, id", before, "<")

        def job(conn: sqlite3.Connection) -> list[NotificationRecord]:
            rows = conn.execute(
                f"SELECT {COLUMNS} FROM notifications WHERE recipient_id = :recipient{clause}"
                " ORDER BY updated_at DESC, id DESC LIMIT :limit",
                {"recipient": recipient_id, "limit": limit} | key_args,
            ).fetchall()
            return _records(conn, rows)

        return await self._db.read(job)

    async def mark_read(
        self,
        recipient_id: str,
        *,
        ids: list[str] | None = None,
        up_to: PageKey | None = None,
    ) -> int:
        where = "recipient_id = :recipient AND read = 0"
        args: dict[str, Any] = {"recipient": recipient_id}
        if ids is not None:
            where += " AND id IN (SELECT value FROM json_each(:ids))"
            args["ids"] = json_list(ids)
        elif up_to is not None:
            where += " AND (updated_at, id) <= (:at, :id)"
            args |= {"at": up_to[0], "id": up_to[1]}

        def job(conn: sqlite3.Connection) -> int:
            conn.execute(f"UPDATE notifications SET read = 1 WHERE {where}", args)
            return _unread(conn, recipient_id)

        return await self._db.write(job)

    async def unread_count(self, recipient_id: str) -> int:
        return await self._db.read(lambda conn: _unread(conn, recipient_id))

    async def muted(self, user_id: str) -> list[str]:
        def job(conn: sqlite3.Connection) -> list[str]:
            row = conn.execute(
                "SELECT muted FROM notification_settings WHERE user_id = ?", (user_id,)
            ).fetchone()
            return list(json.loads(row[0])) if row is not None else []

        return await self._db.read(job)

    async def set_muted(self, user_id: str, kinds: list[str]) -> None:
        muted = json.dumps(sorted(set(kinds)))

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO notification_settings (user_id, muted) VALUES (?, ?)"
                " ON CONFLICT (user_id) DO UPDATE SET muted = excluded.muted",
                (user_id, muted),
            )

        await self._db.write(job)
