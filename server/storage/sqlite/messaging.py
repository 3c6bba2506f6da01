"""SQLite stores of the messaging domain (:mod:`actors.store.messaging`):
conversations with their members, and the message log."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Final

import msgspec

from actors.store.messaging import (
    ConversationRecord,
    ConversationSummaryUpdate,
    MemberRecord,
    MessageRecord,
)
from server.storage.sqlite.database import SqliteDatabase
from server.storage.sqlite.rows import (
    CONVERSATION_COLUMNS,
    MEMBER_COLUMNS,
    MESSAGE_COLUMNS,
    conflicts,
    conversation_and_member,
    prefixed,
    to_conversation,
    to_member,
    to_message,
)

__all__ = [
    "CLIENT_KEY_SQL",
    "HISTORY_SQL",
    "LAST_SEQ_SQL",
    "SINCE_SQL",
    "UNREAD_COUNTS_SQL",
    "SqliteConversationStore",
    "SqliteMessageStore",
]


def _insert_members(conn: sqlite3.Connection, members: Sequence[MemberRecord]) -> None:
    """Insert ``members``, leaving any already present as they are."""
    conn.executemany(
        f"INSERT INTO members ({MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (conversation_id, user_id) DO NOTHING",
        [(m.conversation_id, m.user_id, m.role, m.joined_at, m.read_seq) for m in members],
    )


def _insert_conversation(conn: sqlite3.Connection, c: ConversationRecord, upsert: str) -> int:
    """Insert ``c`` with ``upsert`` (an ``ON CONFLICT`` clause or ``""``)
    appended; return the number of rows inserted (0 or 1)."""
    cursor = conn.execute(
        f"INSERT INTO conversations ({CONVERSATION_COLUMNS})"
        f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) {upsert}",
        (
            c.id,
            c.kind,
            c.title,
            c.created_by,
            c.created_at,
            c.direct_key,
            c.last_seq,
            c.last_activity_at,
            c.last_preview,
            c.last_sender_id,
        ),
    )
    return cursor.rowcount


class SqliteConversationStore:
    """:class:`actors.store.ConversationStore` on ``conversations`` and ``members``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, conversation: ConversationRecord, members: list[MemberRecord]) -> None:
        """Insert the conversation and its members in one transaction;
        ``Conflict("direct_key")`` (or ``Conflict("id")``) and nothing written
        if taken. Duplicate members in ``members`` are stored once."""

        def job(conn: sqlite3.Connection) -> None:
            with conflicts():
                _insert_conversation(conn, conversation, "")
            _insert_members(conn, members)

        await self._db.write(job)

    async def get_or_create_direct(
        self, conversation: ConversationRecord, members: list[MemberRecord]
    ) -> tuple[ConversationRecord, bool]:
        """One write job: ``INSERT ... ON CONFLICT (direct_key) DO NOTHING``,
        then the stored row, then ``members`` (idempotently, re-pointed at the
        stored id) if the insert happened or the stored conversation has no
        members — the same rule as the MongoDB backend, where that repairs a
        creation interrupted between its two writes. Jobs are serialised by the
        writer thread (and by ``BEGIN IMMEDIATE`` across processes), so racing
        callers all get the one row. ``ValueError`` without a ``direct_key``;
        ``Conflict("id")`` if ``conversation.id`` is taken by another
        conversation."""
        key = conversation.direct_key
        if key is None:
            raise ValueError("get_or_create_direct needs a direct_key")

        def job(conn: sqlite3.Connection) -> tuple[ConversationRecord, bool]:
            with conflicts():
                created = _insert_conversation(
                    conn,
                    conversation,
                    "ON CONFLICT (direct_key) WHERE direct_key IS NOT NULL DO NOTHING",
                )
            row = conn.execute(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE direct_key = ?", (key,)
            ).fetchone()
            stored = to_conversation(row)
            if (
                created
                or not conn.execute(
                    "SELECT 1 FROM members WHERE conversation_id = ? LIMIT 1", (stored.id,)
                ).fetchone()
            ):
                _insert_members(
                    conn, [msgspec.structs.replace(m, conversation_id=stored.id) for m in members]
                )
            return stored, bool(created)

        return await self._db.write(job)

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        def job(conn: sqlite3.Connection) -> ConversationRecord | None:
            row = conn.execute(
                f"SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
            return to_conversation(row) if row is not None else None

        return await self._db.read(job)

    async def members(self, conversation_id: str) -> list[MemberRecord]:
        """Current members, ordered by ``joined_at`` then user id."""

        def job(conn: sqlite3.Connection) -> list[MemberRecord]:
            rows = conn.execute(
                f"SELECT {MEMBER_COLUMNS} FROM members WHERE conversation_id = ?"
                " ORDER BY joined_at, user_id",
                (conversation_id,),
            ).fetchall()
            return [to_member(row) for row in rows]

        return await self._db.read(job)

    async def get_member(self, conversation_id: str, user_id: str) -> MemberRecord | None:
        def job(conn: sqlite3.Connection) -> MemberRecord | None:
            row = conn.execute(
                f"SELECT {MEMBER_COLUMNS} FROM members WHERE conversation_id = ? AND user_id = ?",
                (conversation_id, user_id),
            ).fetchone()
            return to_member(row) if row is not None else None

        return await self._db.read(job)

    async def add_members(self, members: list[MemberRecord]) -> None:
        """Insert members; those already present keep their role, ``joined_at``
        and ``read_seq``."""
        if not members:
            return
        await self._db.write(lambda conn: _insert_members(conn, members))

    async def remove_member(
        self, conversation_id: str, user_id: str, *, promote: str | None = None
    ) -> bool:
        """``True`` if the user was a member. With ``promote``, that member's
        role becomes ``"admin"`` in the same write job (one transaction); a
        ``promote`` who is not a member is ignored. ``ValueError`` if
        ``promote`` is ``user_id``."""
        if promote == user_id:
            raise ValueError("cannot promote the member being removed")

        def job(conn: sqlite3.Connection) -> bool:
            if promote is not None:
                conn.execute(
                    "UPDATE members SET role = 'admin' WHERE conversation_id = ? AND user_id = ?",
                    (conversation_id, promote),
                )
            cursor = conn.execute(
                "DELETE FROM members WHERE conversation_id = ? AND user_id = ?",
                (conversation_id, user_id),
            )
            return cursor.rowcount > 0

        return await self._db.write(job)

    async def list_for_user(
        self, user_id: str, *, before: tuple[float, str] | None, limit: int
    ) -> list[tuple[ConversationRecord, MemberRecord]]:
        """The user's conversations ordered by ``(last_activity_at, id)``
        descending, strictly after the ``before`` cursor; at most ``limit``."""
        return await self._page(user_id, before, limit, newest_first=True)

    async def changed_since(
        self, user_id: str, *, after: tuple[float, str] | None, limit: int
    ) -> list[tuple[ConversationRecord, MemberRecord]]:
        """The user's conversations ordered by ``(last_activity_at, id)``
        ascending, strictly after the ``after`` cursor; at most ``limit``."""
        return await self._page(user_id, after, limit, newest_first=False)

    async def _page(
        self, user_id: str, cursor: tuple[float, str] | None, limit: int, *, newest_first: bool
    ) -> list[tuple[ConversationRecord, MemberRecord]]:
        """One page of the user's conversations in ``(last_activity_at, id)``
        order (descending if ``newest_first``), strictly past ``cursor``: the
        id breaks ties, so any number of conversations with one
        ``last_activity_at`` can be paged past. Served by ``members_user_id``
        then a sort of the user's conversations."""
        if limit <= 0:
            return []
        past, order = ("<", "DESC") if newest_first else (">", "ASC")
        where, args = "m.user_id = :user", {"user": user_id, "limit": limit}
        if cursor is not None:
            where += (
                f" AND (c.last_activity_at {past} :at"
                f" OR (c.last_activity_at = :at AND c.id {past} :id))"
            )
            args.update(at=cursor[0], id=cursor[1])

        def job(conn: sqlite3.Connection) -> list[tuple[ConversationRecord, MemberRecord]]:
            rows = conn.execute(
                f"SELECT {prefixed(CONVERSATION_COLUMNS, 'c')},"
                " m.user_id, m.role, m.joined_at, m.read_seq"
                " FROM members AS m JOIN conversations AS c ON c.id = m.conversation_id"
                f" WHERE {where} ORDER BY c.last_activity_at {order}, c.id {order} LIMIT :limit",
                args,
            ).fetchall()
            return [conversation_and_member(row) for row in rows]

        return await self._db.read(job)


#: The message log's hot reads, named so that a test can check they stay
#: served by the primary key ``(conversation_id, seq)`` or the client-key index.
LAST_SEQ_SQL: Final = "SELECT seq FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT 1"
HISTORY_SQL: Final = (
    f"SELECT {MESSAGE_COLUMNS} FROM messages"
    " WHERE conversation_id = ? AND seq < ? AND kind = 'message' ORDER BY seq DESC LIMIT ?"
)
SINCE_SQL: Final = (
    f"SELECT {MESSAGE_COLUMNS} FROM messages"
    " WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?"
)
#: Unread counts of many conversations in one statement: ``:reads`` is a JSON
#: object ``{conversation_id: read_seq}``; each of its entries gets a count by a
#: range scan of the primary key ``(conversation_id, seq)``.
UNREAD_COUNTS_SQL: Final = (
    "SELECT r.key AS conversation_id,"
    " (SELECT count(*) FROM messages WHERE conversation_id = r.key AND seq > r.value"
    " AND kind = 'message' AND deleted = 0 AND sender_id != :user) AS unread"
    " FROM json_each(:reads) AS r"
)
CLIENT_KEY_SQL: Final = (
    f"SELECT {MESSAGE_COLUMNS} FROM messages"
    " WHERE conversation_id = ? AND sender_id = ? AND client_key = ?"
)


class SqliteMessageStore:
    """:class:`actors.store.MessageStore` on ``messages`` (plus ``members`` and
    ``conversations`` for what a batch updates there)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def append(
        self,
        conversation_id: str,
        entries: list[MessageRecord],
        reads: dict[str, int],
        summary: ConversationSummaryUpdate | None,
    ) -> None:
        """The whole batch is ONE write job, so it shares the group-commit
        transaction with other callers' jobs and is all-or-nothing inside its
        savepoint: a uniqueness violation raises ``Conflict("seq")`` or
        ``Conflict("client_key")`` and leaves no trace of the batch.

        In order: insert ``entries``; for each edit (in batch order) set the
        target message's ``text`` and ``edited_at`` (the edit's ``created_at``),
        for each delete mark the target deleted and clear its text and media;
        only rows of kind ``message`` in this conversation are targets, and an
        edit leaves a deleted message as it is. Then ``read_seq =
        max(read_seq, value)`` for the members in ``reads`` (non-members are
        ignored), and the summary: ``last_seq = max(last_seq, summary.last_seq)``,
        ``last_activity_at``, and preview and sender only when
        ``summary.last_preview`` is not ``None``. ``ValueError`` if an entry
        belongs to another conversation."""
        for entry in entries:
            if entry.conversation_id != conversation_id:
                raise ValueError(f"entry {entry.seq} belongs to {entry.conversation_id!r}")
        rows = [
            (
                e.conversation_id,
                e.seq,
                e.id,
                e.kind,
                e.sender_id,
                e.client_key,
                e.text,
                e.media_url,
                e.created_at,
                e.edited_at,
                int(e.deleted),
                e.target_seq,
            )
            for e in entries
        ]

        def job(conn: sqlite3.Connection) -> None:
            with conflicts():
                conn.executemany(
                    f"INSERT INTO messages ({MESSAGE_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            for entry in entries:
                if entry.target_seq is None:
                    continue
                if entry.kind == "edit":
                    conn.execute(
                        "UPDATE messages SET text = ?, edited_at = ?"
                        " WHERE conversation_id = ? AND seq = ? AND kind = 'message'"
                        " AND deleted = 0",
                        (entry.text, entry.created_at, conversation_id, entry.target_seq),
                    )
                elif entry.kind == "delete":
                    conn.execute(
                        "UPDATE messages SET deleted = 1, text = '', media_url = ''"
                        " WHERE conversation_id = ? AND seq = ? AND kind = 'message'",
                        (conversation_id, entry.target_seq),
                    )
            if reads:  # most batches carry none: no statement to run for them
                conn.executemany(
                    "UPDATE members SET read_seq = ?"
                    " WHERE conversation_id = ? AND user_id = ? AND read_seq < ?",
                    [(seq, conversation_id, user_id, seq) for user_id, seq in reads.items()],
                )
            if summary is None:
                return
            if summary.last_preview is None:
                conn.execute(
                    "UPDATE conversations SET last_seq = max(last_seq, ?), last_activity_at = ?"
                    " WHERE id = ?",
                    (summary.last_seq, summary.last_activity_at, conversation_id),
                )
            else:
                conn.execute(
                    "UPDATE conversations SET last_seq = max(last_seq, ?), last_activity_at = ?,"
                    " last_preview = ?, last_sender_id = ? WHERE id = ?",
                    (
                        summary.last_seq,
                        summary.last_activity_at,
                        summary.last_preview,
                        summary.last_sender_id,
                        conversation_id,
                    ),
                )

        await self._db.write(job)

    async def last_seq(self, conversation_id: str) -> int:
        """The highest ``seq`` of the log, 0 when empty (one primary-key seek)."""

        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute(LAST_SEQ_SQL, (conversation_id,)).fetchone()
            return int(row[0]) if row is not None else 0

        return await self._db.read(job)

    async def get(self, conversation_id: str, seq: int) -> MessageRecord | None:
        """The log entry at ``seq``, of any kind."""

        def job(conn: sqlite3.Connection) -> MessageRecord | None:
            row = conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq = ?",
                (conversation_id, seq),
            ).fetchone()
            return to_message(row) if row is not None else None

        return await self._db.read(job)

    async def get_by_client_key(
        self, conversation_id: str, sender_id: str, client_key: str
    ) -> MessageRecord | None:
        def job(conn: sqlite3.Connection) -> MessageRecord | None:
            row = conn.execute(CLIENT_KEY_SQL, (conversation_id, sender_id, client_key)).fetchone()
            return to_message(row) if row is not None else None

        return await self._db.read(job)

    async def history(
        self, conversation_id: str, *, before_seq: int | None, limit: int
    ) -> list[MessageRecord]:
        """Entries of kind ``message`` with ``seq < before_seq`` (all when
        ``None``), newest first, at most ``limit``: a backward scan of the
        primary key."""
        if limit <= 0:
            return []
        bound = before_seq if before_seq is not None else 2**63 - 1

        def job(conn: sqlite3.Connection) -> list[MessageRecord]:
            rows = conn.execute(HISTORY_SQL, (conversation_id, bound, limit)).fetchall()
            return [to_message(row) for row in rows]

        return await self._db.read(job)

    async def since(self, conversation_id: str, after_seq: int, limit: int) -> list[MessageRecord]:
        """Entries of every kind with ``seq > after_seq``, oldest first, at most ``limit``."""
        if limit <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[MessageRecord]:
            rows = conn.execute(SINCE_SQL, (conversation_id, after_seq, limit)).fetchall()
            return [to_message(row) for row in rows]

        return await self._db.read(job)

    async def unread_counts(self, user_id: str, read_seqs: dict[str, int]) -> dict[str, int]:
        """For each conversation of ``read_seqs``: entries of kind ``message``,
        not deleted, with ``seq`` above its read position and a sender other
        than ``user_id``. One statement for the whole dict
        (:data:`UNREAD_COUNTS_SQL`), every id in the result."""
        if not read_seqs:
            return {}
        args = {"user": user_id, "reads": json.dumps(read_seqs)}

        def job(conn: sqlite3.Connection) -> dict[str, int]:
            rows = conn.execute(UNREAD_COUNTS_SQL, args).fetchall()
            return {str(row["conversation_id"]): int(row["unread"]) for row in rows}

        return await self._db.read(job)
