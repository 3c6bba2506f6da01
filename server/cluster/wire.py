"""How actor messages, replies and session pushes cross nodes.

Every entry of a node's inbox stream holds one :class:`Envelope`, msgpack
encoded. An actor message travels as ``(qualified type name, msgpack bytes)``
and is decoded against :data:`MESSAGE_TYPES`, built from the actor modules'
``MESSAGES`` lists: only known types cross, so a stream entry can never make
a node instantiate anything else. A reply names no type: the asker decodes it
as the reply type its message declares (``Ask[R]``).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

import msgspec

from actors import live, messaging, social, user
from actors.message import Message, reply_type
from actors.sessions import Delivery


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
    BATCH = 5
    """Several of the above for one node, from one flush: ``body`` is a
    msgpack array of encoded envelopes, handled in order; the stream entry
    is acknowledged once every one of them is."""


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
    delivery: Delivery


class SessionClose(msgspec.Struct, array_like=True):
    session_id: str
    code: int
    reason: str


def build_registry(*message_lists: Iterable[type[Message]]) -> dict[str, type[Message]]:
    """Map each message type's qualified name (``actors.user.GetUser``) to it.
    Two types under one name would make a node decode one as the other, so a
    collision raises ``ValueError`` (at import, i.e. at startup)."""
    registry: dict[str, type[Message]] = {}
    for messages in message_lists:
        for cls in messages:
            name = qualified_name(cls)
            if name in registry and registry[name] is not cls:
                raise ValueError(f"two actor message types are named {name}")
            registry[name] = cls
    return registry


def qualified_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


MESSAGE_TYPES: dict[str, type[Message]] = build_registry(
    user.MESSAGES, messaging.MESSAGES, social.MESSAGES, live.MESSAGES
)
"""Every actor message that may cross nodes, from the actor modules' own lists."""

_encoder = msgspec.msgpack.Encoder()
_envelope_decoder = msgspec.msgpack.Decoder(Envelope)
_pushes_decoder = msgspec.msgpack.Decoder(list[SessionPush])
_close_decoder = msgspec.msgpack.Decoder(SessionClose)


def encode(obj: Any) -> bytes:
    return _encoder.encode(obj)


_batch_decoder = msgspec.msgpack.Decoder(list[bytes])


def decode_batch(data: bytes) -> list[bytes]:
    parts: list[bytes] = _batch_decoder.decode(data)
    return parts


def decode_envelope(data: bytes) -> Envelope:
    envelope: Envelope = _envelope_decoder.decode(data)
    return envelope


def encode_message(message: Message) -> tuple[str, bytes]:
    name = qualified_name(type(message))
    if MESSAGE_TYPES.get(name) is not type(message):
        raise TypeError(f"{name} cannot cross nodes: add it to its actor module's MESSAGES")
    return name, _encoder.encode(message)


def decode_message(name: str, body: bytes) -> Message:
    cls = MESSAGE_TYPES.get(name)
    if cls is None:
        raise ValueError(f"unknown actor message type {name!r}")
    message: Message = msgspec.msgpack.decode(body, type=cls)
    return message


def encode_reply(value: Any) -> bytes:
    return _encoder.encode(value)


def decode_reply(asked: type[Message], body: bytes) -> Any:
    """Decode the answer to an ``asked`` message as the type it declares
    (``Ask[R]``): the reply itself names no type, so it can only ever decode
    into what the asker expects."""
    return msgspec.msgpack.decode(body, type=reply_type(asked))


def decode_pushes(body: bytes) -> list[SessionPush]:
    pushes: list[SessionPush] = _pushes_decoder.decode(body)
    return pushes


def decode_close(body: bytes) -> SessionClose:
    close: SessionClose = _close_decoder.decode(body)
    return close
