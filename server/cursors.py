"""Page cursors: a store's keyset position, signed and bound to its list.

A cursor is ``base64url(msgpack([created_at, id]) + tag)``, where ``tag`` is
the first 12 bytes of an HMAC-SHA256 over the list's *scope* (say
``followers:<user id>``) and the payload. A client can neither forge a
position nor carry a cursor from one list to another: both fail the tag and
are refused with ``invalid_field``, before any store is read. The key is
shared by every node of a deployment through the store
(:class:`~actors.store.social.KeyStore`), so a client that reconnects to
another node keeps paging.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from typing import Final

import msgspec

from actors.store.social import KeyStore, PageKey
from protocol.errors import ErrorCode, ProtocolError

KEY_NAME: Final = "cursor-hmac-v1"
TAG_BYTES: Final = 12

_position = msgspec.msgpack.Decoder(tuple[float, str])
_encoder = msgspec.msgpack.Encoder()


class Cursors:
    """Signs and checks cursors; the key is read from the store on first use."""

    def __init__(self, keys: KeyStore) -> None:
        self._keys = keys
        self._key: bytes | None = None

    async def _secret(self) -> bytes:
        if self._key is None:
            value = await self._keys.get_or_create(KEY_NAME, secrets.token_hex(32))
            self._key = bytes.fromhex(value)
        return self._key

    async def encode(self, scope: str, position: PageKey) -> str:
        payload = _encoder.encode(position)
        tag = self._tag(await self._secret(), scope, payload)
        return base64.urlsafe_b64encode(payload + tag).decode().rstrip("=")

    async def decode(self, scope: str, cursor: str | None) -> PageKey | None:
        """The position of a cursor of the list ``scope``; ``None`` for no
        cursor (the first page). ``invalid_field`` for anything else."""
        if cursor is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        except (binascii.Error, ValueError):
            raise _refused() from None
        payload, tag = raw[:-TAG_BYTES], raw[-TAG_BYTES:]
        expected = self._tag(await self._secret(), scope, payload)
        if len(raw) <= TAG_BYTES or not hmac.compare_digest(tag, expected):
            raise _refused()
        try:
            created_at, item_id = _position.decode(payload)
        except msgspec.DecodeError:
            raise _refused() from None
        return created_at, item_id

    @staticmethod
    def _tag(key: bytes, scope: str, payload: bytes) -> bytes:
        message = scope.encode() + b"\0" + payload
        return hmac.new(key, message, hashlib.sha256).digest()[:TAG_BYTES]


def _refused() -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_FIELD, "cursor is not valid for this list")
