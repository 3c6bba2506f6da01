"""Passwords and bearer tokens.

Passwords are hashed with argon2id in a worker thread (tens of milliseconds of
CPU that must not stall the event loop). Tokens are 256 random bits from
``secrets``; only their SHA-256 is stored, so a leaked database holds no usable
token.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time

import argon2

from actors.store import Store
from actors.store.accounts import AuthSessionRecord
from protocol.errors import ErrorCode, ProtocolError


class Passwords:
    def __init__(self, *, time_cost: int, memory_kib: int) -> None:
        self._hasher = argon2.PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, type=argon2.Type.ID
        )
        # Verifying against this when the account does not exist costs the
        # same as a real check, so response time does not reveal usernames.
        self._decoy = self._hasher.hash(secrets.token_hex(16))

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        return await asyncio.to_thread(self._verify, password_hash, password)

    def _verify(self, password_hash: str | None, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash or self._decoy, password) and (
                password_hash is not None
            )
        except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
            return False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Tokens:
    """Issues, resolves and revokes login tokens."""

    def __init__(self, store: Store, ttl: float) -> None:
        self._store = store
        self._ttl = ttl

    async def issue(self, user_id: str) -> tuple[str, AuthSessionRecord]:
        token = secrets.token_urlsafe(32)
        now = time.time()
        record = AuthSessionRecord(
            token_hash=hash_token(token),
            user_id=user_id,
            created_at=now,
            expires_at=now + self._ttl,
        )
        await self._store.auth_sessions.create(record)
        return token, record

    async def resolve(self, token: str) -> AuthSessionRecord:
        """The live session behind ``token``; raises ``invalid_token`` or
        ``token_expired``."""
        record = await self._store.auth_sessions.get(hash_token(token))
        if record is None:
            raise ProtocolError(ErrorCode.INVALID_TOKEN, "unknown or revoked token")
        if record.expires_at <= time.time():
            raise ProtocolError(ErrorCode.TOKEN_EXPIRED, "token expired; log in again")
        return record

    async def revoke(self, token_hash: str) -> None:
        await self._store.auth_sessions.delete(token_hash)

    async def revoke_all(self, user_id: str) -> int:
        return await self._store.auth_sessions.delete_for_user(user_id)
