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
from typing import Any, Final, TypeVar

import msgspec

from actors.store import Conflict
from actors.store.accounts import AuthSessionRecord, UserRecord
from actors.store.messaging import ConversationRecord, MemberRecord, MessageRecord
from actors.store.social import CommentRecord, FollowRecord, GeoPoint, LikeRecord, PostRecord

USER_COLUMNS: Final = (
    "id, username, email, password_hash, display_name, bio, avatar_url, created_at,"
    " followers_count, following_count, posts_count, role, suspended"
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
FOLLOW_COLUMNS: Final = "follower_id, followee_id, created_at"
#: Every column of ``posts`` but ``seq``, in the order of :func:`post_row`.
POST_COLUMNS: Final = (
    "id, user_id, text, media_urls, media_types, media_blurhashes, tags, mentions, latitude,"
    " longitude, place_name, visibility, client_key, like_count, comment_count, created_at,"
    " edited_at, hidden"
)
COMMENT_COLUMNS: Final = (
    "id, post_id, user_id, parent_comment_id, text, client_key, created_at, edited_at,"
    " deleted, reply_count, like_count, hidden"
)
LIKE_COLUMNS: Final = "user_id, target_kind, target_id, created_at"


def prefixed(columns: str, alias: str) -> str:
    """``"a, b"`` → ``"x.a, x.b"`` for a join."""
    return ", ".join(f"{alias}.{column.strip()}" for column in columns.split(","))


def keyset(columns: str, key: tuple[float, str] | None, past: str) -> tuple[str, dict[str, Any]]:
    """The ``WHERE`` term of a keyset page and its named arguments:
    ``" AND (<columns>) < (:key_at, :key_id)"`` (``past`` is ``"<"`` for a
    newest-first list, ``">"`` for oldest-first), or nothing without a key.
    ``columns`` is a constant such as ``"created_at, id"``; the row-value
    comparison is a range of a ``(..., created_at, id)`` index."""
    if key is None:
        return "", {}
    return f" AND ({columns}) {past} (:key_at, :key_id)", {"key_at": key[0], "key_id": key[1]}


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
to_follow = functools.partial(record, FollowRecord)
to_comment = functools.partial(record, CommentRecord)
to_like = functools.partial(record, LikeRecord)

_strings = msgspec.json.Decoder(list[str])


def to_post(row: sqlite3.Row) -> PostRecord:
    """A row of ``SELECT <POST_COLUMNS>``: JSON lists decoded, the three
    location columns (all NULL without one) made a :class:`GeoPoint`."""
    latitude = row["latitude"]
    return PostRecord(
        id=row["id"],
        user_id=row["user_id"],
        text=row["text"],
        media_urls=_strings.decode(row["media_urls"]),
        media_types=_strings.decode(row["media_types"]),
        media_blurhashes=_strings.decode(row["media_blurhashes"]),
        tags=_strings.decode(row["tags"]),
        mentions=_strings.decode(row["mentions"]),
        location=None
        if latitude is None
        else GeoPoint(latitude=latitude, longitude=row["longitude"], place_name=row["place_name"]),
        visibility=row["visibility"],
        client_key=row["client_key"],
        like_count=row["like_count"],
        comment_count=row["comment_count"],
        created_at=row["created_at"],
        edited_at=row["edited_at"],
        hidden=bool(row["hidden"]),
    )


def json_list(values: list[str]) -> str:
    """A list column's text: a JSON array."""
    return msgspec.json.encode(values).decode()


def location_values(location: GeoPoint | None) -> tuple[float | None, float | None, str | None]:
    """``(latitude, longitude, place_name)`` for the location columns."""
    if location is None:
        return None, None, None
    return location.latitude, location.longitude, location.place_name


def post_row(post: PostRecord) -> tuple[Any, ...]:
    """The values of :data:`POST_COLUMNS` for ``post``, in that order."""
    return (
        post.id,
        post.user_id,
        post.text,
        json_list(post.media_urls),
        json_list(post.media_types),
        json_list(post.media_blurhashes),
        json_list(post.tags),
        json_list(post.mentions),
        *location_values(post.location),
        post.visibility,
        post.client_key,
        post.like_count,
        post.comment_count,
        post.created_at,
        post.edited_at,
        int(post.hidden),
    )


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
    ("posts.id",): "id",
    ("posts.user_id", "posts.client_key"): "client_key",
    ("comments.id",): "id",
    ("comments.post_id", "comments.user_id", "comments.client_key"): "client_key",
    ("reports.id",): "id",
    ("audit_log.id",): "id",
    ("notifications.id",): "id",
    ("media.id",): "id",
    ("streams.id",): "id",
    ("products.id",): "id",
    ("orders.id",): "id",
    ("payouts.id",): "id",
    # The partial index ``streams_one_live``: a host's second live stream.
    ("streams.host_id",): "live",
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
