"""How actor messages, replies and session pushes cross nodes.

Every entry of a node's inbox stream holds one :class:`Envelope`, msgpack
encoded. Actor messages and replies travel as ``(type name, msgpack bytes)``
and are decoded against the registries below: only known types cross, so a
stream entry can never make a node instantiate anything else.
"""

from __future__ import annotations

import enum
from typing import Any

import msgspec

from actors import conversation as conv
from actors import user
from actors.sessions import SessionRef
from actors.store.accounts import UserRecord
from protocol.messages import messaging


class Op(enum.IntEnum):
    TELL = 0
    """Deliver ``body`` to actor ``(kind, id)`` on the receiving node; no answer."""
    ASK = 1
    """Like TELL, and answer the sender with a REPLY carrying ``corr``."""
    REPLY = 2
    """The answer to the sender's ASK ``corr``: a value or an ``error``."""
    PUSH = 3
    """Event frames for sessions held by the receiving node."""
    CLOSE = 4
    """Close a session held by the receiving node."""


class RemoteError(msgspec.Struct, array_like=True):
    kind: str
    """``protocol`` (``code`` is an ErrorCode), or a runtime error class name."""
    code: str
    message: str
    retry_after: float | None = None


class Envelope(msgspec.Struct, array_like=True, omit_defaults=True):
    op: int
    src: str
    """The sending node; replies go to its inbox."""
    corr: int = 0
    kind: str = ""
    id: str = ""
    type: str = ""
    body: bytes = b""
    error: RemoteError | None = None
    hops: int = 0
    """How often the message was re-routed (ownership moved meanwhile)."""


class SessionPush(msgspec.Struct, array_like=True):
    session_id: str
    body: bytes


class SessionClose(msgspec.Struct, array_like=True):
    session_id: str
    code: int
    reason: str


MESSAGE_TYPES: dict[str, type[msgspec.Struct]] = {
    cls.__name__: cls
    for cls in (
        user.Attach,
        user.Detach,
        user.PushMany,
        user.UpdateProfile,
        user.GetUser,
        user.CloseSessions,
        user.ListSessions,
        conv.Send,
        conv.Edit,
        conv.Delete,
        conv.Read,
        conv.TypingNotice,
        conv.View,
        conv.Announce,
        conv.AddMembers,
        conv.RemoveMember,
        conv.Leave,
        conv.RefreshBlocks,
    )
}

REPLY_TYPES: dict[str, Any] = {
    "none": None,
    "UserRecord": UserRecord,
    "ConversationView": messaging.ConversationView,
    "Ack": conv.Ack,
    "sessions": list[SessionRef],
}

_encoder = msgspec.msgpack.Encoder()
_envelope_decoder = msgspec.msgpack.Decoder(Envelope)
_pushes_decoder = msgspec.msgpack.Decoder(list[SessionPush])
_close_decoder = msgspec.msgpack.Decoder(SessionClose)


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


def decode_envelope(data: bytes) -> Envelope:
    envelope: Envelope = _envelope_decoder.decode(data)
    return envelope


def encode_message(message: Any) -> tuple[str, bytes]:
    name = type(message).__name__
    if name not in MESSAGE_TYPES:
        raise TypeError(f"{name} cannot cross nodes: add it to MESSAGE_TYPES")
    return name, _encoder.encode(message)


def decode_message(name: str, body: bytes) -> Any:
    cls = MESSAGE_TYPES.get(name)
    if cls is None:
        raise ValueError(f"unknown actor message type {name!r}")
    return msgspec.msgpack.decode(body, type=cls)


def encode_reply(value: Any) -> tuple[str, bytes]:
    if value is None:
        return "none", b""
    if isinstance(value, list):
        return "sessions", _encoder.encode(value)
    name = type(value).__name__
    if name not in REPLY_TYPES:
        raise TypeError(f"{name} cannot cross nodes: add it to REPLY_TYPES")
    return name, _encoder.encode(value)


def decode_reply(name: str, body: bytes) -> Any:
    if name not in REPLY_TYPES:
        raise ValueError(f"unknown reply type {name!r}")
    cls = REPLY_TYPES[name]
    return None if cls is None else msgspec.msgpack.decode(body, type=cls)


def decode_pushes(body: bytes) -> list[SessionPush]:
    pushes: list[SessionPush] = _pushes_decoder.decode(body)
    return pushes


def decode_close(body: bytes) -> SessionClose:
    close: SessionClose = _close_decoder.decode(body)
    return close
