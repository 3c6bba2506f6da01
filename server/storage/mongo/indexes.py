"""MongoDB indexes: every index of the schema, their creation, and the one
mapping of a duplicate-key error to the :class:`~actors.store.Conflict` of
the port (a uniqueness rule is an index, so its port field is named here).

The in-process stand-in (``pymongo_async_mock``) accepts text and 2dsphere
index specifications (it records them without implementing them), so index
creation needs no special case for it; what it cannot do is *query* them
(``$text``, ``$near``), and the contract suites skip those checks there.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any, Final

from pymongo import ASCENDING, DESCENDING, GEOSPHERE, TEXT
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from actors.store import Conflict
from server.storage.mongo.documents import Document

__all__ = ["CONFLICT_FIELDS", "INDEXES", "conflict_of", "conflicts", "create_indexes"]

#: Every index, per collection: ``(keys, options)``. Names are MongoDB's
#: defaults, so re-running ``create_index`` with the same spec is a no-op.
INDEXES: Final[Mapping[str, tuple[tuple[list[tuple[str, Any]], dict[str, Any]], ...]]] = {
    "users": (
        ([("username", ASCENDING)], {"unique": True}),
        ([("email", ASCENDING)], {"unique": True}),
        ([("display_name_key", ASCENDING)], {}),
        # Names are not English prose: no stemming, no stop words.
        ([("username", TEXT), ("display_name", TEXT)], {"default_language": "none"}),
        # Suggested accounts: the most followed first.
        ([("followers_count", DESCENDING), ("_id", DESCENDING)], {}),
    ),
    "auth_sessions": (
        ([("user_id", ASCENDING)], {}),
        ([("expires_at", ASCENDING)], {}),
    ),
    "posts": (
        ([("user_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], {}),
        ([("created_at", DESCENDING), ("_id", DESCENDING)], {}),
        ([("tags", ASCENDING), ("created_at", DESCENDING)], {}),
        ([("location", GEOSPHERE)], {}),
        ([("text", TEXT)], {}),
        (
            [("user_id", ASCENDING), ("client_key", ASCENDING)],
            {"unique": True, "partialFilterExpression": {"client_key": {"$type": "string"}}},
        ),
    ),
    "comments": (
        (
            [
                ("post_id", ASCENDING),
                ("parent_comment_id", ASCENDING),
                ("created_at", ASCENDING),
                ("_id", ASCENDING),
            ],
            {},
        ),
        ([("parent_comment_id", ASCENDING)], {}),
        (
            [("post_id", ASCENDING), ("user_id", ASCENDING), ("client_key", ASCENDING)],
            {"unique": True, "partialFilterExpression": {"client_key": {"$type": "string"}}},
        ),
    ),
    "likes": (
        (
            [("user_id", ASCENDING), ("target_kind", ASCENDING), ("target_id", ASCENDING)],
            {"unique": True},
        ),
        ([("target_kind", ASCENDING), ("target_id", ASCENDING)], {}),
        (
            [
                ("user_id", ASCENDING),
                ("target_kind", ASCENDING),
                ("created_at", DESCENDING),
                ("target_id", DESCENDING),
            ],
            {},
        ),
    ),
    "follows": (
        ([("follower_id", ASCENDING), ("followee_id", ASCENDING)], {"unique": True}),
        ([("followee_id", ASCENDING), ("created_at", DESCENDING), ("follower_id", DESCENDING)], {}),
        ([("follower_id", ASCENDING), ("created_at", DESCENDING), ("followee_id", DESCENDING)], {}),
        ([("followee_id", ASCENDING), ("follower_id", ASCENDING)], {}),
    ),
    # One direct conversation per pair; groups have ``direct_key: null``,
    # which the partial filter leaves out of the index.
    "conversations": (
        (
            [("direct_key", ASCENDING)],
            {"unique": True, "partialFilterExpression": {"direct_key": {"$type": "string"}}},
        ),
    ),
    "members": (
        ([("conversation_id", ASCENDING), ("user_id", ASCENDING)], {"unique": True}),
        ([("user_id", ASCENDING)], {}),
    ),
    "messages": (
        ([("conversation_id", ASCENDING), ("created_at", DESCENDING)], {}),
        ([("conversation_id", ASCENDING), ("seq", ASCENDING)], {"unique": True}),
        (
            [("conversation_id", ASCENDING), ("sender_id", ASCENDING), ("client_key", ASCENDING)],
            {"unique": True, "partialFilterExpression": {"client_key": {"$type": "string"}}},
        ),
    ),
    "blocks": (([("user_id", ASCENDING), ("blocked_id", ASCENDING)], {"unique": True}),),
    # Moderation: a report's ``_id`` is ``<target key>|<reporter id>`` (the
    # deduplication); cases' ``_id`` is the target key.
    "reports": (
        ([("target_key", ASCENDING), ("open", ASCENDING), ("created_at", DESCENDING)], {}),
    ),
    "report_cases": (([("first_at", ASCENDING), ("_id", ASCENDING)], {}),),
    "audit_log": (([("created_at", DESCENDING), ("_id", DESCENDING)], {}),),
    # Trending tags: a tag's rows of the window, and each hour's leaders.
    "tag_trends": (
        ([("tag", ASCENDING), ("bucket", ASCENDING)], {"unique": True}),
        ([("bucket", ASCENDING), ("score", DESCENDING)], {}),
    ),
    "notifications": (
        ([("recipient_id", ASCENDING), ("updated_at", DESCENDING), ("_id", DESCENDING)], {}),
        (
            [
                ("recipient_id", ASCENDING),
                ("group_key", ASCENDING),
                ("read", ASCENDING),
                ("updated_at", DESCENDING),
            ],
            {},
        ),
    ),
    # One row per actor of a group: joining twice is a duplicate, not a second count.
    "notification_actors": (
        ([("notification_id", ASCENDING), ("actor_id", ASCENDING)], {"unique": True}),
        ([("notification_id", ASCENDING), ("at", DESCENDING)], {}),
    ),
    "media": (
        # release(target) is a prefix of it; the sweep reads its
        # ``attached_to: null`` range, oldest first.
        ([("attached_to", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)], {}),
        # The daily quota: one owner's recent uploads.
        ([("owner_id", ASCENDING), ("created_at", ASCENDING)], {}),
    ),
    # Live streaming. One live stream per host: the rule itself (a second
    # live document is a duplicate key, the port's Conflict("live")), and
    # live_of_host's seek.
    "streams": (
        (
            [("host_id", ASCENDING)],
            {"unique": True, "partialFilterExpression": {"status": "live"}},
        ),
        # Live now: most viewers first, a range of one status.
        ([("status", ASCENDING), ("viewer_count", DESCENDING), ("_id", DESCENDING)], {}),
        ([("host_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], {}),
        # Upcoming streams of the followed hosts: one range per host.
        ([("status", ASCENDING), ("host_id", ASCENDING), ("scheduled_time", ASCENDING)], {}),
    ),
    "stream_chat": (
        ([("stream_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)], {}),
        # A retried send: the same client key of the same user in the same stream.
        (
            [("stream_id", ASCENDING), ("user_id", ASCENDING), ("client_key", ASCENDING)],
            {"unique": True, "partialFilterExpression": {"client_key": {"$type": "string"}}},
        ),
    ),
    "stream_bans": (([("stream_id", ASCENDING), ("user_id", ASCENDING)], {"unique": True}),),
    # Every viewer a stream ever had, first seen ``at``: its unique viewers.
    "stream_viewers": (([("stream_id", ASCENDING), ("user_id", ASCENDING)], {"unique": True}),),
    # ``tags`` ({_id: tag, post_count}) needs none: autocomplete is a range of ``_id``.
    # The marketplace. A retried create (the same client key) is answered
    # with the stored record, never a Conflict: not in CONFLICT_FIELDS.
    "products": (
        ([("seller_id", ASCENDING), ("client_key", ASCENDING)], {"unique": True}),
        ([("seller_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], {}),
        ([("title", TEXT), ("description", TEXT)], {}),
        # Repair: reservations whose order may never have been inserted.
        ([("holds.at", ASCENDING)], {"sparse": True}),
        # Repair: tokens of stock given back, left by a crash before their pull.
        ([("released", ASCENDING)], {"sparse": True}),
    ),
    "orders": (
        ([("buyer_id", ASCENDING), ("client_key", ASCENDING)], {"unique": True}),
        (
            [("paypal_order_id", ASCENDING)],
            {"partialFilterExpression": {"paypal_order_id": {"$type": "string"}}},
        ),
        (
            [("capture_id", ASCENDING)],
            {"partialFilterExpression": {"capture_id": {"$type": "string"}}},
        ),
        ([("buyer_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], {}),
        ([("seller_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], {}),
        # The sweeps: unpaid orders by deadline, paid ones by release time.
        ([("state", ASCENDING), ("expires_at", ASCENDING), ("_id", ASCENDING)], {}),
        (
            [("release_at", ASCENDING), ("_id", ASCENDING)],
            {"partialFilterExpression": {"release_at": {"$type": "number"}}},
        ),
        # Repair: orders whose writes were left unfinished.
        ([("pending.since", ASCENDING)], {"sparse": True}),
    ),
    # ``ledger``: ``_id`` is the transaction id (its idempotency key).
    "ledger": (([("state", ASCENDING), ("stored_at", ASCENDING)], {}),),
    # ``ledger_balances``: ``_id`` is ``<currency>:<account>``.
    "ledger_balances": (([("account", ASCENDING), ("currency", ASCENDING)], {}),),
    "payouts": (
        ([("seller_id", ASCENDING), ("client_key", ASCENDING)], {"unique": True}),
        (
            [("paypal_batch_id", ASCENDING)],
            {"partialFilterExpression": {"paypal_batch_id": {"$type": "string"}}},
        ),
        ([("seller_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], {}),
        ([("status", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)], {}),
        ([("pending.since", ASCENDING)], {"sparse": True}),
    ),
    "payment_events": (
        ([("applied_at", ASCENDING), ("received_at", ASCENDING), ("_id", ASCENDING)], {}),
    ),
}


async def create_indexes(db: AsyncDatabase[Document]) -> None:
    """Create every index of :data:`INDEXES` (``create_index`` with an existing
    spec is a no-op). ``keys`` needs none: its ``_id`` is the name."""
    for name, specs in INDEXES.items():
        collection = db[name]
        for keys, options in specs:
            await collection.create_index(keys, **options)


# --------------------------------------------------------------------------- conflicts

#: Per collection, every unique index a port write can violate (its key
#: fields, in index order; ``_id`` is MongoDB's own unique index) and the field
#: the port's :class:`Conflict` names. ``members``, ``blocks``, ``follows``,
#: ``likes``, ``keys``, ``stream_chat``, ``stream_bans`` and ``stream_viewers``
#: are absent: their writes treat a duplicate as "already there", never as a
#: conflict.
CONFLICT_FIELDS: Final[Mapping[str, Mapping[tuple[str, ...], str]]] = {
    "users": {("_id",): "id", ("username",): "username", ("email",): "email"},
    "auth_sessions": {("_id",): "token_hash"},
    "conversations": {("_id",): "id", ("direct_key",): "direct_key"},
    "messages": {
        ("conversation_id", "seq"): "seq",
        ("conversation_id", "sender_id", "client_key"): "client_key",
    },
    "posts": {("_id",): "id", ("user_id", "client_key"): "client_key"},
    "comments": {("_id",): "id", ("post_id", "user_id", "client_key"): "client_key"},
    "media": {("_id",): "id"},
    # ``host_id`` is the partial index of live streams only.
    "streams": {("_id",): "id", ("host_id",): "live"},
}

#: Server error codes of a duplicate key.
_DUPLICATE_CODES: Final = (11000, 11001)
#: A key name in an error message: ``name:`` (a real server's ``dup key: {
#: conversation_id: …, seq: … }``) or ``'name':`` (the stand-in's dict repr).
_KEY_NAME_RE: Final = re.compile(r"['\"]?(\w+)['\"]?\s*:")


def _duplicate_errors(exc: PyMongoError) -> list[Mapping[str, Any]]:
    """The duplicate-key error documents of ``exc``: one per failed write of a
    bulk write, or the one of a single write (its message as ``errmsg``)."""
    if isinstance(exc, BulkWriteError):
        errors = (exc.details or {}).get("writeErrors") or []
        return [error for error in errors if error.get("code") in _DUPLICATE_CODES]
    if isinstance(exc, DuplicateKeyError):
        return [{**(exc.details or {}), "errmsg": str(exc)}]
    return []


def _index_field(error: Mapping[str, Any], fields: Mapping[tuple[str, ...], str]) -> str | None:
    """The port field of the index one duplicate-key error is about.

    From ``keyPattern`` when the error has one (servers ≥ 4.2 and the stand-in
    send it). Otherwise from the key names in the message, which may contain
    more names than the index's (user text in a key value, such as a client
    key ``"seq: 1"``): the widest index whose keys all appear wins, since a
    narrower index's message never carries the keys of a wider one; two
    candidates of the same width are ambiguous. With no name to go on, a
    collection with a single unique index needs none. ``None`` when the index
    cannot be told: the caller re-raises rather than guess.
    """
    pattern = error.get("keyPattern")
    if isinstance(pattern, Mapping) and pattern:
        return fields.get(tuple(str(key) for key in pattern))
    names = set(_KEY_NAME_RE.findall(str(error.get("errmsg", ""))))
    candidates = sorted((keys for keys in fields if names.issuperset(keys)), key=len)
    if candidates:
        if len(candidates) > 1 and len(candidates[-1]) == len(candidates[-2]):
            return None
        return fields[candidates[-1]]
    if len(fields) == 1:
        return next(iter(fields.values()))
    return None


def conflict_of(exc: PyMongoError, collection: str) -> Conflict | None:
    """The :class:`Conflict` a write error on ``collection`` means, by
    :data:`CONFLICT_FIELDS` (the first duplicate-key error that names a
    listed index); ``None`` for any other error or an index that cannot be
    told."""
    fields = CONFLICT_FIELDS.get(collection, {})
    for error in _duplicate_errors(exc):
        field = _index_field(error, fields)
        if field is not None:
            return Conflict(field)
    return None


@contextlib.contextmanager
def conflicts(collection: str) -> Iterator[None]:
    """Around a write to ``collection``: turn a duplicate-key error into its
    :class:`Conflict` (chained to it); any other error passes unchanged."""
    try:
        yield
    except (DuplicateKeyError, BulkWriteError) as exc:
        conflict = conflict_of(exc, collection)
        if conflict is None:
            raise
        raise conflict from exc


def only_duplicates(exc: BulkWriteError) -> bool:
    """Whether every error of an unordered bulk write is a duplicate key (the
    writes that failed found their document already there)."""
    details = exc.details or {}
    errors = details.get("writeErrors") or []
    return not details.get("writeConcernErrors") and all(
        error.get("code") in _DUPLICATE_CODES for error in errors
    )
