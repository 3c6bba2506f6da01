"""Development live tokens, issued when no Agora credentials are configured,
so that streaming works end to end on a laptop (``make run``) without an
Agora project. No RTC service accepts them: a client seeing
``development=True`` shows the stream without joining Agora.

A token is ``dev:<claims>.<signature>``: ``claims`` is the URL-safe base64
(unpadded) of a JSON object ``{"v": 1, "channel", "account", "role", "iat",
"exp"}`` (Unix seconds), ``signature`` the URL-safe base64 of
HMAC-SHA256(key, ``"dev:" + claims``). The key is random per issuer (per
process) unless one is given: a token proves which node issued it and that
nobody edited it, nothing more, and it does not verify on another node or
after a restart (nothing needs it to; tokens are only checked in tests).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import hashlib
import hmac
import math
import secrets
import time
from collections.abc import Callable

import orjson

from actors.ports import LIVE_ROLES, LiveRole, LiveToken, LiveTokenError

PREFIX = "dev:"

MAX_TTL = 24 * 3600
MAX_NAME_BYTES = 255


@dataclasses.dataclass(frozen=True)
class DevClaims:
    """What a verified development token says."""

    channel: str
    account: str
    role: LiveRole
    issued_at: int
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DevTokenIssuer:
    """Issues and verifies development tokens (``development=True``)."""

    name = "dev"

    def __init__(self, key: bytes | None = None, *, clock: Callable[[], float] = time.time) -> None:
        self._key = key if key is not None else secrets.token_bytes(32)
        self._clock = clock

    def __repr__(self) -> str:
        return "DevTokenIssuer()"

    def _sign(self, claims: str) -> str:
        return _b64(hmac.new(self._key, (PREFIX + claims).encode(), hashlib.sha256).digest())

    def issue(self, channel: str, account: str, role: LiveRole, ttl: float) -> LiveToken:
        """See :meth:`actors.ports.LiveTokenIssuer.issue`: the same checks of
        role and ttl as the Agora issuer, and a non-empty channel and account
        of at most 255 bytes each (no Agora rules on characters: nothing
        here reaches Agora)."""
        if role not in LIVE_ROLES:
            raise LiveTokenError(f"unknown role {role!r}: publisher or subscriber")
        for what, value in (("channel name", channel), ("account", account)):
            if not isinstance(value, str) or not value:
                raise LiveTokenError(f"the {what} must be a non-empty string")
            if len(value.encode()) > MAX_NAME_BYTES:
                raise LiveTokenError(f"the {what} is longer than {MAX_NAME_BYTES} bytes")
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl):
            raise LiveTokenError(f"ttl must be a finite number of seconds, not {ttl!r}")
        if not 1 <= ttl <= MAX_TTL:
            raise LiveTokenError(f"ttl must be between 1 and {MAX_TTL} seconds, not {ttl:g}")
        issued_at = int(self._clock())
        expires_at = issued_at + math.ceil(ttl)
        claims = _b64(
            orjson.dumps(
                {
                    "v": 1,
                    "channel": channel,
                    "account": account,
                    "role": role,
                    "iat": issued_at,
                    "exp": expires_at,
                }
            )
        )
        return LiveToken(
            token=f"{PREFIX}{claims}.{self._sign(claims)}",
            app_id="",
            channel=channel,
            account=account,
            role=role,
            expires_at=float(expires_at),
            development=True,
        )

    def verify(self, token: str) -> DevClaims:
        """The claims of a token this issuer (or one with the same key)
        signed. Raises :class:`LiveTokenError` when it is not a development
        token, was altered or signed with another key. Expiry is not checked
        here: compare ``expires_at`` with the clock."""
        if not isinstance(token, str) or not token.startswith(PREFIX):
            raise LiveTokenError("not a development token")
        claims, dot, signature = token[len(PREFIX) :].partition(".")
        if not dot or not hmac.compare_digest(self._sign(claims), signature):
            raise LiveTokenError("the development token's signature does not match")
        try:
            body = orjson.loads(_unb64(claims))
            role = body["role"]
            if body["v"] != 1 or role not in LIVE_ROLES:
                raise ValueError(role)
            return DevClaims(
                str(body["channel"]), str(body["account"]), role, int(body["iat"]), int(body["exp"])
            )
        except (binascii.Error, ValueError, KeyError, TypeError):
            # Signed by us but unreadable: only a key shared with other code.
            raise LiveTokenError("the development token's claims do not decode") from None
