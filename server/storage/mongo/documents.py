"""Between MongoDB documents and the port's records.

Document shapes (``_id`` is our id string where the record has one):

* ``users``: the :class:`~actors.store.accounts.UserRecord` fields with ``id``
  as ``_id``, plus ``display_name_key`` (:func:`~actors.store.search.search_key`
  of the display name), kept so that prefix search is an index-served,
  case-sensitive anchored regex and answers exactly like the SQLite backend.
* ``auth_sessions``: ``{_id: token_hash, user_id, created_at, expires_at}``.
  The token hash *is* the ``_id``, so the built-in unique ``_id`` index is the
  unique token-hash index. ``expires_at`` stays a float (UNIX seconds) as the
  port says; there is no TTL index (it needs a BSON date), expired sessions are
  removed by ``MongoAuthSessionStore.delete_expired``.
* ``conversations``: the :class:`~actors.store.messaging.ConversationRecord`
  fields with ``id`` as ``_id``; ``direct_key`` is ``null`` for groups (left
  out of its partial unique index).
* ``members``: the :class:`~actors.store.messaging.MemberRecord` fields, unique
  on ``(conversation_id, user_id)``; ``_id`` is the server's ObjectId.
* ``messages``: the :class:`~actors.store.messaging.MessageRecord` fields
  (``id`` included) with a server ObjectId ``_id``.
* ``blocks``: ``{user_id, blocked_id, created_at}``, unique on the pair.
* ``posts``: the :class:`~actors.store.social.PostRecord` fields with ``id``
  as ``_id``, except ``location``: a GeoJSON point ``{type: "Point",
  coordinates: [longitude, latitude]}`` (what the ``2dsphere`` index reads)
  with ``place_name`` beside it as a top-level field; both are absent when
  the post has no location (a 2dsphere index skips such documents).
  ``client_key`` is ``null`` when none (left out of its partial unique index).
* ``comments``: the :class:`~actors.store.social.CommentRecord` fields with
  ``id`` as ``_id``; ``parent_comment_id`` is ``null`` on a top-level comment.
* ``follows``: ``{follower_id, followee_id, created_at}``, unique on the pair,
  with a server ObjectId ``_id``.
* ``likes``: ``{user_id, target_kind, target_id, created_at}``, unique on
  ``(user_id, target_kind, target_id)``, with a server ObjectId ``_id``.
* ``keys``: ``{_id: name, value}``.
* ``media``: the :class:`~actors.store.media.MediaRecord` fields with ``id``
  as ``_id``; ``attached_to`` is stored as ``null`` while unattached (the
  sweep's index range).
* ``streams``: the :class:`~actors.store.live.StreamRecord` fields with ``id``
  as ``_id`` (lists as arrays); a unique partial index on ``host_id`` over
  ``status: "live"`` documents keeps one live stream per host.
* ``stream_chat``: the :class:`~actors.store.live.ChatLineRecord` fields with
  ``id`` as ``_id``; ``client_key`` is ``null`` when none (left out of its
  partial unique index on ``(stream_id, user_id, client_key)``).
* ``stream_chat`` lines of a paid tip also carry ``tip_amount``,
  ``tip_currency`` and ``tip_order_id`` (``null`` on other lines).
* ``products``, ``orders``, ``payouts``, ``payment_events``: the records of
  :mod:`actors.store.market` with ``id`` as ``_id`` and nested structs as
  sub-documents (an order's ``history``); while a multi-step write is
  unfinished, an order or payout has a ``pending`` field, and a product
  ``holds`` (stock taken for an order not yet inserted) and ``released``
  (tokens of stock given back): see :mod:`server.storage.mongo.market`.
* ``ledger``: a :class:`~actors.store.market.LedgerTransaction` with ``id``
  as ``_id``, its postings embedded, plus ``state`` and ``stored_at``;
  ``ledger_balances``: ``{_id: "<currency>:<account>", account, currency,
  balance, txs}`` (see :mod:`server.storage.mongo.ledger`).
* ``stream_bans`` and ``stream_viewers``: ``{stream_id, user_id, at}``, unique
  on the pair, with a server ObjectId ``_id``.

Counters (``followers_count``, ``following_count``, ``posts_count`` on users;
``like_count``, ``comment_count`` on posts; ``reply_count``, ``like_count`` on
comments) are fields of the counted document, changed with ``$inc`` by the
social stores after the row they count (see :mod:`actors.store.social`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from actors.store.accounts import AuthSessionRecord, UserRecord
from actors.store.messaging import ConversationRecord, MemberRecord, MessageRecord
from actors.store.search import search_key
from actors.store.social import (
    CommentRecord,
    FollowRecord,
    GeoPoint,
    LikeRecord,
    PageKey,
    PostRecord,
)

Document = dict[str, Any]

_RecordT = TypeVar("_RecordT", bound=msgspec.Struct)


def to_document(record: msgspec.Struct, *, id_field: str | None = "id") -> Document:
    """The record's fields as a document; ``id_field`` (if any) becomes ``_id``."""
    doc = msgspec.structs.asdict(record)
    if id_field is not None:
        doc["_id"] = doc.pop(id_field)
    return doc


def to_record(
    cls: type[_RecordT], doc: Mapping[str, Any], *, id_field: str | None = "id"
) -> _RecordT:
    """The record ``cls`` from a document: ``_id`` becomes ``id_field`` (when
    ``None``, the ``_id`` is the server's and is dropped); keys the record does
    not have (``display_name_key``, a text score) are ignored, missing ones
    take the record's defaults."""
    fields = dict(doc)
    _id = fields.pop("_id", None)
    if id_field is not None:
        fields[id_field] = _id
    return msgspec.convert(fields, cls, strict=False)


def user_document(user: UserRecord) -> Document:
    return {**to_document(user), "display_name_key": search_key(user.display_name)}


def to_user(doc: Mapping[str, Any]) -> UserRecord:
    return to_record(UserRecord, doc)


def session_document(session: AuthSessionRecord) -> Document:
    return to_document(session, id_field="token_hash")


def to_session(doc: Mapping[str, Any]) -> AuthSessionRecord:
    return to_record(AuthSessionRecord, doc, id_field="token_hash")


def conversation_document(conversation: ConversationRecord) -> Document:
    return to_document(conversation)


def to_conversation(doc: Mapping[str, Any]) -> ConversationRecord:
    return to_record(ConversationRecord, doc)


def member_document(member: MemberRecord) -> Document:
    return to_document(member, id_field=None)


def to_member(doc: Mapping[str, Any]) -> MemberRecord:
    return to_record(MemberRecord, doc, id_field=None)


def message_document(message: MessageRecord) -> Document:
    return to_document(message, id_field=None)


def to_message(doc: Mapping[str, Any]) -> MessageRecord:
    return to_record(MessageRecord, doc, id_field=None)


def is_string(value: str) -> Document:
    """An equality filter on a field with a ``{$type: "string"}`` partial index.
    The ``$type`` term repeats the index's filter so that the planner can
    prove the index covers the query and use it."""
    return {"$eq": value, "$type": "string"}


def location_fields(location: GeoPoint | None) -> Document:
    """The ``location`` and ``place_name`` fields of a post document; empty for
    no location (the fields are then absent)."""
    if location is None:
        return {}
    return {
        "location": {"type": "Point", "coordinates": [location.longitude, location.latitude]},
        "place_name": location.place_name,
    }


def post_document(post: PostRecord) -> Document:
    doc = to_document(post)
    del doc["location"]
    return {**doc, **location_fields(post.location)}


def to_post(doc: Mapping[str, Any]) -> PostRecord:
    fields = dict(doc)
    point = fields.pop("location", None)
    place_name = fields.pop("place_name", None)
    if point is not None:
        longitude, latitude = point["coordinates"]
        fields["location"] = {
            "latitude": latitude,
            "longitude": longitude,
            "place_name": place_name or "",
        }
    return to_record(PostRecord, fields)


def comment_document(comment: CommentRecord) -> Document:
    return to_document(comment)


def to_comment(doc: Mapping[str, Any]) -> CommentRecord:
    return to_record(CommentRecord, doc)


def follow_document(follow: FollowRecord) -> Document:
    return to_document(follow, id_field=None)


def to_follow(doc: Mapping[str, Any]) -> FollowRecord:
    return to_record(FollowRecord, doc, id_field=None)


def like_document(like: LikeRecord) -> Document:
    return to_document(like, id_field=None)


def to_like(doc: Mapping[str, Any]) -> LikeRecord:
    return to_record(LikeRecord, doc, id_field=None)


def keyset(key: PageKey | None, id_field: str, *, newest_first: bool) -> Document:
    """The filter of a keyset page strictly past ``key`` in ``(created_at,
    id_field)`` order, descending when ``newest_first`` (sort the query the
    same way); empty for the first page. The ``$or`` says it exactly; the
    redundant range on ``created_at`` beside it gives the planner index
    bounds (an ``$or`` alone may not)."""
    if key is None:
        return {}
    at, last_id = key
    past, up_to = ("$lt", "$lte") if newest_first else ("$gt", "$gte")
    return {
        "created_at": {up_to: at},
        "$or": [{"created_at": {past: at}}, {"created_at": at, id_field: {past: last_id}}],
    }
