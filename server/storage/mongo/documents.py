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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

import msgspec

from actors.store.accounts import AuthSessionRecord, UserRecord
from actors.store.messaging import ConversationRecord, MemberRecord, MessageRecord
from actors.store.search import search_key

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
