"""SQLite stores of the moderation domain (:mod:`actors.store.moderation`):
reports and their cases, the admin actions, the audit log.

Every method that writes is ONE write job: a report, its case and an
automatic hide commit together; an admin action, the reports it closes and
its audit entry likewise.
"""

from __future__ import annotations

import sqlite3
from typing import Final

from actors.store.accounts import UserRecord
from actors.store.moderation import (
    ActionResult,
    AuditRecord,
    CaseRecord,
    ReportOutcome,
    ReportRecord,
    Target,
)
from actors.store.social import PageKey
from server.storage.sqlite.database import SqliteDatabase
from server.storage.sqlite.rows import USER_COLUMNS, conflicts, keyset, to_user

__all__ = ["SqliteAuditStore", "SqliteModerationStore", "SqliteReportStore"]

#: The table of each kind that can be hidden; names come from here, never from input.
_CONTENT_TABLES: Final = {"post": "posts", "comment": "comments"}

_REPORT_COLUMNS: Final = (
    "id, reporter_id, target_kind, target_id, target_seq, reason, text, created_at, open"
)
_AUDIT_COLUMNS: Final = (
    "id, admin_id, action, target_kind, target_id, target_seq, reason, created_at"
)


def _target(row: sqlite3.Row) -> Target:
    return Target(kind=row["target_kind"], id=row["target_id"], seq=row["target_seq"])


def _report(row: sqlite3.Row) -> ReportRecord:
    return ReportRecord(
        id=row["id"],
        reporter_id=row["reporter_id"],
        target=_target(row),
        reason=row["reason"],
        text=row["text"],
        created_at=row["created_at"],
        open=bool(row["open"]),
    )


def _audit(row: sqlite3.Row) -> AuditRecord:
    return AuditRecord(
        id=row["id"],
        admin_id=row["admin_id"],
        action=row["action"],
        target=_target(row),
        reason=row["reason"],
        created_at=row["created_at"],
    )


def _append_audit(conn: sqlite3.Connection, entry: AuditRecord) -> None:
    t = entry.target
    with conflicts():
        conn.execute(
            f"INSERT INTO audit_log ({_AUDIT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                entry.id,
                entry.admin_id,
                entry.action,
                t.kind,
                t.id,
                t.seq,
                entry.reason,
                entry.created_at,
            ),
        )


def _close_reports(conn: sqlite3.Connection, target: Target) -> int:
    """Close the target's open reports and drop its case; how many closed."""
    closed = conn.execute(
        "UPDATE reports SET open = 0 WHERE target_key = ? AND open = 1", (target.key,)
    ).rowcount
    conn.execute("DELETE FROM report_cases WHERE target_key = ?", (target.key,))
    return int(closed)


class SqliteReportStore:
    """:class:`actors.store.moderation.ReportStore` on ``reports`` and ``report_cases``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, report: ReportRecord, *, hide_at: int) -> ReportOutcome:
        """One job: the report (``ON CONFLICT DO NOTHING`` on the primary key
        ``(target_key, reporter_id)``), its case, and the hide with its
        ``auto_hide`` entry when the count reaches ``hide_at``."""
        t = report.target

        def job(conn: sqlite3.Connection) -> ReportOutcome:
            with conflicts():  # the report's id; a repeat is DO NOTHING below
                inserted = conn.execute(
                    "INSERT INTO reports (target_key, reporter_id, id, target_kind, target_id,"
                    " target_seq, reason, text, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT (target_key, reporter_id) DO NOTHING",
                    (
                        t.key,
                        report.reporter_id,
                        report.id,
                        t.kind,
                        t.id,
                        t.seq,
                        report.reason,
                        report.text,
                        report.created_at,
                    ),
                ).rowcount
            if not inserted:
                row = conn.execute(
                    "SELECT open_count FROM report_cases WHERE target_key = ?", (t.key,)
                ).fetchone()
                return ReportOutcome(created=False, open_count=row[0] if row else 0, hidden=False)
            rows = conn.execute(
                "INSERT INTO report_cases (target_key, target_kind, target_id, target_seq,"
                " open_count, first_at, last_at) VALUES (?, ?, ?, ?, 1, ?, ?)"
                " ON CONFLICT (target_key) DO UPDATE SET open_count = open_count + 1,"
                " last_at = max(last_at, excluded.last_at) RETURNING open_count",
                (t.key, t.kind, t.id, t.seq, report.created_at, report.created_at),
            ).fetchall()
            count = int(rows[0][0])
            hidden = False
            table = _CONTENT_TABLES.get(t.kind)
            if table is not None and count >= hide_at:
                hidden = (
                    conn.execute(
                        f"UPDATE {table} SET hidden = 1 WHERE id = ? AND hidden = 0", (t.id,)
                    ).rowcount
                    > 0
                )
                if hidden:
                    _append_audit(
                        conn,
                        AuditRecord(
                            id=f"auto-{report.id}",
                            admin_id=None,
                            action="auto_hide",
                            target=t,
                            reason=f"{count} reports",
                            created_at=report.created_at,
                        ),
                    )
            return ReportOutcome(created=True, open_count=count, hidden=hidden)

        return await self._db.write(job)

    async def cases(self, *, after: PageKey | None, limit: int) -> list[CaseRecord]:
        """A forward range of ``report_cases_queue``."""
        if limit <= 0:
            return []
        clause, args = keyset("first_at, target_key", after, ">")

        def job(conn: sqlite3.Connection) -> list[CaseRecord]:
            rows = conn.execute(
                "SELECT target_kind, target_id, target_seq, open_count, first_at, last_at"
                f" FROM report_cases WHERE TRUE{clause}"
                " ORDER BY first_at, target_key LIMIT :limit",
                {"limit": limit, **args},
            ).fetchall()
            return [
                CaseRecord(
                    target=_target(row),
                    open_count=row["open_count"],
                    first_at=row["first_at"],
                    last_at=row["last_at"],
                )
                for row in rows
            ]

        return await self._db.read(job)

    async def open_reports(self, keys: list[str], per_target: int) -> list[ReportRecord]:
        """One read job (one snapshot): a ``reports_open`` range per key."""
        if not keys or per_target <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[ReportRecord]:
            return [
                _report(row)
                for key in dict.fromkeys(keys)
                for row in conn.execute(
                    f"SELECT {_REPORT_COLUMNS} FROM reports WHERE target_key = ? AND open = 1"
                    " ORDER BY created_at DESC LIMIT ?",
                    (key, per_target),
                ).fetchall()
            ]

        return await self._db.read(job)

    async def for_target(self, target: Target) -> list[ReportRecord]:
        def job(conn: sqlite3.Connection) -> list[ReportRecord]:
            rows = conn.execute(
                f"SELECT {_REPORT_COLUMNS} FROM reports WHERE target_key = ?"
                " ORDER BY created_at, id",
                (target.key,),
            ).fetchall()
            return [_report(row) for row in rows]

        return await self._db.read(job)


class SqliteModerationStore:
    """:class:`actors.store.moderation.ModerationStore`: each action one job."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def set_hidden(
        self, target: Target, hidden: bool, audit: AuditRecord
    ) -> ActionResult | None:
        table = _CONTENT_TABLES[target.kind]

        def job(conn: sqlite3.Connection) -> ActionResult | None:
            if conn.execute(f"SELECT 1 FROM {table} WHERE id = ?", (target.id,)).fetchone() is None:
                return None
            changed = (
                conn.execute(
                    f"UPDATE {table} SET hidden = ? WHERE id = ? AND hidden = ?",
                    (int(hidden), target.id, int(not hidden)),
                ).rowcount
                > 0
            )
            return _finish(conn, target, changed, audit)

        return await self._db.write(job)

    async def set_suspended(
        self, user_id: str, suspended: bool, audit: AuditRecord
    ) -> ActionResult | None:
        target = Target(kind="user", id=user_id)

        def job(conn: sqlite3.Connection) -> ActionResult | None:
            if conn.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is None:
                return None
            changed = (
                conn.execute(
                    "UPDATE users SET suspended = ? WHERE id = ? AND suspended = ?",
                    (int(suspended), user_id, int(not suspended)),
                ).rowcount
                > 0
            )
            # Lifting a suspension leaves reports alone: any filed since are
            # new complaints.
            return _finish(conn, target, changed, audit, close=suspended)

        return await self._db.write(job)

    async def dismiss(self, target: Target, audit: AuditRecord) -> ActionResult:
        def job(conn: sqlite3.Connection) -> ActionResult:
            result = _finish(conn, target, False, audit)
            result.changed = result.reports_closed > 0
            return result

        return await self._db.write(job)

    async def set_role(self, username: str, role: str) -> UserRecord | None:
        def job(conn: sqlite3.Connection) -> UserRecord | None:
            rows = conn.execute(
                f"UPDATE users SET role = ? WHERE username = ? RETURNING {USER_COLUMNS}",
                (role, username),
            ).fetchall()
            return to_user(rows[0]) if rows else None

        return await self._db.write(job)


def _finish(
    conn: sqlite3.Connection, target: Target, changed: bool, audit: AuditRecord, close: bool = True
) -> ActionResult:
    """Close the reports (when ``close``) and log the action if it did anything."""
    closed = _close_reports(conn, target) if close else 0
    if changed or closed:
        _append_audit(conn, audit)
    return ActionResult(changed=changed, reports_closed=closed)


class SqliteAuditStore:
    """:class:`actors.store.moderation.AuditStore` on ``audit_log``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def list(self, *, before: PageKey | None, limit: int) -> list[AuditRecord]:
        """A backward range of ``audit_log_recent``."""
        if limit <= 0:
            return []
        clause, args = keyset("created_at, id", before, "<")

        def job(conn: sqlite3.Connection) -> list[AuditRecord]:
            rows = conn.execute(
                f"SELECT {_AUDIT_COLUMNS} FROM audit_log WHERE TRUE{clause}"
                " ORDER BY created_at DESC, id DESC LIMIT :limit",
                {"limit": limit, **args},
            ).fetchall()
            return [_audit(row) for row in rows]

        return await self._db.read(job)
