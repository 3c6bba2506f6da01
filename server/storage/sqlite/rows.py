"""Between SQLite rows and the port's records: column lists, row → record
converters, and the one mapping of a uniqueness violation to a
:class:`~actors.store.Conflict`.
"""

from __future__ import annotations

import contextlib
import functools
import re
import sqlite3
from collections.abc import Iterator, Mapping
from typing import Final, TypeVar

import msgspec

from actors.store import Conflict
from actors.store.accounts import AuthSessionRecord, UserRecord
from actors.store.messaging import ConversationRecord, MemberRecord, MessageRecord

USER_COLUMNS: Final = (
    "id, username, email, password_hash, display_name, bio, avatar_url, created_at"
)
SESSION_COLUMNS: Final = "token_hash, user_id, created_at, expires_at"
CONVERSATION_COLUMNS: Final = (
    "id, kind, title, created_by, created_at, direct_key,"
    " last_seq, last_activity_at, last_preview, last_sender_id"
)
MEMBER_COLUMNS: Final = "conversation_id, user_id, role, joined_at, read_seq"
MESSAGE_COLUMNS: Final = (
    "conversation_id, seq, id, kind, sender_id, client_key, text, media_url,"
    " created_at, edited_at, deleted, target_seq"
)


def prefixed(columns: str, alias: str) -> str:
    """``"a, b"`` → ``"x.a, x.b"`` for a join."""
    return ", ".join(f"{alias}.{column.strip()}" for column in columns.split(","))


_RecordT = TypeVar("_RecordT", bound=msgspec.Struct)


def record(cls: type[_RecordT], row: sqlite3.Row) -> _RecordT:
    """The record ``cls`` from the row's columns of the same names (extra
    columns are ignored; SQLite's 0/1 become bools)."""
    return msgspec.convert({name: row[name] for name in cls.__struct_fields__}, cls, strict=False)


to_user = functools.partial(record, UserRecord)
to_session = functools.partial(record, AuthSessionRecord)
to_conversation = functools.partial(record, ConversationRecord)
to_member = functools.partial(record, MemberRecord)
to_message = functools.partial(record, MessageRecord)


def conversation_and_member(row: sqlite3.Row) -> tuple[ConversationRecord, MemberRecord]:
    """A row of ``SELECT c.<conversation columns>, m.role, m.joined_at,
    m.read_seq, m.user_id`` (``m.conversation_id`` is ``c.id``)."""
    return to_conversation(row), MemberRecord(
        conversation_id=row["id"],
        user_id=row["user_id"],
        role=row["role"],
        joined_at=row["joined_at"],
        read_seq=row["read_seq"],
    )


# --------------------------------------------------------------------------- conflicts

#: Every unique index (or primary key) a port write can violate, as SQLite
#: names its columns in the error (``table.column``, in index order), and the
#: field the port's :class:`Conflict` names. A violation of an index missing
#: here is not a conflict of the contract: its error is re-raised as it is.
CONFLICT_FIELDS: Final[Mapping[tuple[str, ...], str]] = {
    ("users.id",): "id",
    ("users.username",): "username",
    ("users.email",): "email",
    ("auth_sessions.token_hash",): "token_hash",
    ("conversations.id",): "id",
    ("conversations.direct_key",): "direct_key",
    ("messages.conversation_id", "messages.seq"): "seq",
    ("messages.conversation_id", "messages.sender_id", "messages.client_key"): "client_key",
}

_UNIQUE_RE: Final = re.compile(r"UNIQUE constraint failed: ([\w.]+(?:, [\w.]+)*)")


def conflict_of(exc: sqlite3.IntegrityError) -> Conflict | None:
    """The :class:`Conflict` a unique-constraint error means, by
    :data:`CONFLICT_FIELDS`; ``None`` for any other integrity error (NOT NULL,
    CHECK, a unique index the table does not list)."""
    match = _UNIQUE_RE.search(str(exc))
    if match is None:
        return None
    field = CONFLICT_FIELDS.get(tuple(match.group(1).split(", ")))
    return Conflict(field) if field is not None else None


@contextlib.contextmanager
def conflicts() -> Iterator[None]:
    """Inside a write job: turn a uniqueness violation of the block into its
    :class:`Conflict` (chained to the ``IntegrityError``); any other error
    passes unchanged. The job's savepoint then rolls back everything it did."""
    try:
        yield
    except sqlite3.IntegrityError as exc:
        conflict = conflict_of(exc)
        if conflict is None:
            raise
        raise conflict from exc
