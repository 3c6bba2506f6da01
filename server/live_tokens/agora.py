"""Agora RTC tokens in the AccessToken2 format (version ``007``), built and
verified here from the format, with no Agora SDK (see docs/decisions.md).

A token is ``"007"`` followed by the standard base64 of the zlib-compressed
bytes ``signature + content``. All integers are little-endian; a *string*
is a ``uint16`` length and that many bytes; a *map* is a ``uint16`` count
and that many ``uint16`` key / ``uint32`` value pairs, keys ascending.

- ``signature``: a string holding HMAC-SHA256(``signing key``, ``content``).
- ``content``: app id (string), issue ts (``uint32``, Unix seconds), expire
  (``uint32``, seconds *after* issue ts), salt (``uint32``), the number of
  services (``uint16``), then each service: its type (``uint16``), its
  privileges (a map privilege → seconds after issue ts), then its fields.
  The RTC service (type 1) has two string fields: the channel name and the
  user account (empty: any user; a numeric uid is sent as its decimal text).
- ``signing key``: HMAC-SHA256 keyed with ``uint32(issue ts)`` over the app
  certificate's text, then HMAC-SHA256 keyed with ``uint32(salt)`` over that.

Every input is checked before a token is built (Agora's own builder returns
``''`` on a malformed app id or certificate): :class:`LiveTokenError` says
what is wrong and never quotes the certificate.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import enum
import hashlib
import hmac
import math
import re
import secrets
import struct
import time
import zlib
from collections.abc import Callable, Mapping

from actors.ports import LIVE_ROLES, LiveRole, LiveToken, LiveTokenError

VERSION = "007"

SERVICE_RTC = 1


class RtcPrivilege(enum.IntEnum):
    """Privileges of the RTC service, each with its own expiry in a token."""

    JOIN_CHANNEL = 1
    PUBLISH_AUDIO = 2
    PUBLISH_VIDEO = 3
    PUBLISH_DATA = 4


ROLE_PRIVILEGES: dict[LiveRole, tuple[RtcPrivilege, ...]] = {
    "publisher": tuple(RtcPrivilege),
    "subscriber": (RtcPrivilege.JOIN_CHANNEL,),
}
"""What each role may do. A subscriber's missing publish privileges are
enforced by Agora only where co-host authentication is enabled for the
project; everywhere else the client role set at join decides."""

MAX_TTL = 24 * 3600
"""Agora honours a privilege for at most 24 hours; a longer token is a
mistake (ours are renewed every few minutes)."""

HEX32 = re.compile(r"[0-9a-fA-F]{32}")
"""An app id or app certificate (``fullmatch`` only)."""

NAME = re.compile(r"[a-zA-Z0-9 !#$%&()+\-:;<=.>?@\[\]^_{}|~,]+")
"""Characters Agora allows in channel names and user accounts
(``fullmatch`` only)."""

MAX_CHANNEL_BYTES = 64
MAX_ACCOUNT_BYTES = 255

_SERVICE_STRINGS: dict[int, int] = {1: 2, 2: 1, 3: 2, 4: 0, 5: 1}
"""Service type → how many string fields follow its privileges, for the
services the decoder can step over: RTC (channel, account), RTM (user),
media streaming (channel, account), FPA (none), chat (user)."""


def check_credential(value: str, what: str) -> bytes:
    """``value`` as bytes if it is 32 hex characters, else
    :class:`LiveTokenError` naming ``what`` (never quoting the value)."""
    if not isinstance(value, str) or not HEX32.fullmatch(value):
        raise LiveTokenError(f"the Agora {what} must be 32 hexadecimal characters")
    return value.encode("ascii")


def _check_name(value: str, what: str, max_bytes: int) -> bytes:
    if not isinstance(value, str) or not value:
        raise LiveTokenError(f"the {what} must be a non-empty string")
    if not NAME.fullmatch(value):
        raise LiveTokenError(f"the {what} {value[:80]!r} has characters Agora does not allow")
    encoded = value.encode("ascii")  # NAME is ASCII only
    if len(encoded) > max_bytes:
        raise LiveTokenError(f"the {what} is {len(encoded)} bytes, more than {max_bytes}")
    return encoded


def _check_uint32(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise LiveTokenError(f"{what} must be an integer from 0 to 2**32-1, not {value!r}")
    return value


def _u16(value: int) -> bytes:
    return struct.pack("<H", value)


def _u32(value: int) -> bytes:
    return struct.pack("<I", value)


def _string(value: bytes) -> bytes:
    return _u16(len(value)) + value


def signing_key(app_certificate: bytes, issue_ts: int, salt: int) -> bytes:
    """The key a token's content is signed with: bound to the certificate,
    the issue time and the salt, so no two tokens share one."""
    key = hmac.new(_u32(issue_ts), app_certificate, hashlib.sha256).digest()
    return hmac.new(_u32(salt), key, hashlib.sha256).digest()


def build_rtc_token(
    *,
    app_id: str,
    app_certificate: str,
    channel: str,
    account: str,
    privileges: Mapping[int, int],
    expire: int,
    issue_ts: int,
    salt: int,
) -> str:
    """A ``007`` token with one RTC service. ``expire`` and each privilege's
    value are seconds after ``issue_ts``. Checks every input and raises
    :class:`LiveTokenError`; the same inputs always give the same token."""
    app_id_bytes = check_credential(app_id, "app id")
    certificate = check_credential(app_certificate, "app certificate")
    channel_bytes = _check_name(channel, "channel name", MAX_CHANNEL_BYTES)
    account_bytes = _check_name(account, "account", MAX_ACCOUNT_BYTES)
    for what, value in (("issue_ts", issue_ts), ("salt", salt), ("expire", expire)):
        _check_uint32(value, what)
    if not privileges:
        raise LiveTokenError("a token needs at least one privilege")
    packed_privileges = [_u16(len(privileges))]
    for privilege in sorted(privileges):  # Agora's decoders expect keys ascending
        if not 0 <= privilege < 2**16:
            raise LiveTokenError(f"privilege {privilege!r} out of range")
        seconds = _check_uint32(privileges[privilege], f"privilege {privilege}'s expiry")
        packed_privileges.append(_u16(privilege) + _u32(seconds))
    content = b"".join(
        [
            _string(app_id_bytes),
            _u32(issue_ts),
            _u32(expire),
            _u32(salt),
            _u16(1),  # one service
            _u16(SERVICE_RTC),
            *packed_privileges,
            _string(channel_bytes),
            _string(account_bytes),
        ]
    )
    signature = hmac.new(signing_key(certificate, issue_ts, salt), content, hashlib.sha256)
    # zlib's default level, as Agora's builders use: the same inputs then
    # give Agora's token byte for byte (the known vector in the tests).
    packed = zlib.compress(_string(signature.digest()) + content)
    return VERSION + base64.b64encode(packed).decode("ascii")


@dataclasses.dataclass(frozen=True)
class ParsedService:
    """One service of a decoded token."""

    kind: int
    """1: RTC, 2: RTM, 3: media streaming, 4: FPA, 5: chat."""
    privileges: dict[int, int]
    """Privilege → seconds after the token's issue ts."""
    fields: tuple[bytes, ...]
    """The service's string fields (RTC: channel name, user account)."""


@dataclasses.dataclass(frozen=True)
class ParsedToken:
    """A decoded ``007`` token. :func:`parse_token` returns one only after
    the signature checked out with the app certificate."""

    app_id: str
    issue_ts: int
    expire: int
    """Seconds after ``issue_ts`` the whole token is valid for."""
    salt: int
    services: dict[int, ParsedService]
    signature: bytes
    verified: bool

    @property
    def expires_at(self) -> int:
        """Unix seconds when the token lapses."""
        return self.issue_ts + self.expire

    @property
    def rtc(self) -> ParsedService:
        """The RTC service; :class:`LiveTokenError` when the token has none."""
        try:
            return self.services[SERVICE_RTC]
        except KeyError:
            raise LiveTokenError("the token has no RTC service") from None

    @property
    def channel(self) -> str:
        return self.rtc.fields[0].decode("utf-8", "replace")

    @property
    def account(self) -> str:
        """The user account, or a numeric uid's decimal text; ``""``: any user."""
        return self.rtc.fields[1].decode("utf-8", "replace")

    def privilege_expires_at(self, privilege: int) -> int | None:
        """Unix seconds when an RTC privilege lapses, ``None`` if not granted."""
        seconds = self.rtc.privileges.get(privilege)
        return None if seconds is None else self.issue_ts + seconds


class _Reader:
    """Reads the format's integers and strings, raising
    :class:`LiveTokenError` rather than ``struct.error`` at a short buffer."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, size: int) -> bytes:
        end = self.offset + size
        if end > len(self.data):
            raise LiveTokenError("the token is truncated")
        chunk = self.data[self.offset : end]
        self.offset = end
        return chunk

    def u16(self) -> int:
        value: int = struct.unpack("<H", self.take(2))[0]
        return value

    def u32(self) -> int:
        value: int = struct.unpack("<I", self.take(4))[0]
        return value

    def string(self) -> bytes:
        return self.take(self.u16())


def _unpack(token: str) -> tuple[bytes, bytes]:
    """``(signature, content)`` of a token string."""
    if not isinstance(token, str) or not token.startswith(VERSION):
        raise LiveTokenError(f"not a version {VERSION} token")
    try:
        packed = base64.b64decode(token[len(VERSION) :], validate=True)
        raw = zlib.decompress(packed)
    except (binascii.Error, ValueError, zlib.error):
        raise LiveTokenError("the token does not decode (base64 and zlib)") from None
    reader = _Reader(raw)
    signature = reader.string()
    return signature, raw[reader.offset :]


def decode_token(token: str) -> ParsedToken:
    """Decode a ``007`` token *without* checking its signature
    (``verified=False``): for looking at a token whose certificate one does
    not have. Raises :class:`LiveTokenError` when it does not decode."""
    signature, content = _unpack(token)
    return _parse_content(content, signature, verified=False)


def parse_token(token: str, app_certificate: str) -> ParsedToken:
    """Decode a ``007`` token and check its signature with
    ``app_certificate``. Raises :class:`LiveTokenError` when it does not
    decode, or was not signed with that certificate, or was altered."""
    certificate = check_credential(app_certificate, "app certificate")
    signature, content = _unpack(token)
    reader = _Reader(content)
    reader.string()  # app id
    issue_ts, _expire, salt = reader.u32(), reader.u32(), reader.u32()
    expected = hmac.new(signing_key(certificate, issue_ts, salt), content, hashlib.sha256)
    if not hmac.compare_digest(expected.digest(), signature):
        raise LiveTokenError("the token's signature does not match the app certificate")
    return _parse_content(content, signature, verified=True)


def _parse_content(content: bytes, signature: bytes, *, verified: bool) -> ParsedToken:
    reader = _Reader(content)
    app_id = reader.string().decode("ascii", "replace")
    issue_ts, expire, salt = reader.u32(), reader.u32(), reader.u32()
    services: dict[int, ParsedService] = {}
    for _ in range(reader.u16()):
        kind = reader.u16()
        if kind not in _SERVICE_STRINGS:
            raise LiveTokenError(f"the token has a service of type {kind} we cannot decode")
        privileges = {reader.u16(): reader.u32() for _ in range(reader.u16())}
        fields = tuple(reader.string() for _ in range(_SERVICE_STRINGS[kind]))
        services[kind] = ParsedService(kind, privileges, fields)
    if reader.offset != len(content):
        raise LiveTokenError("the token has bytes after its last service")
    return ParsedToken(app_id, issue_ts, expire, salt, services, signature, verified)


class AgoraTokenIssuer:
    """Issues Agora RTC tokens bound to a user account: a publisher may join
    and publish audio, video and data; a subscriber may only join. The token
    and all its privileges lapse ``ttl`` seconds after issue.

    Raises :class:`LiveTokenError` at construction for a malformed app id or
    certificate (so a node stops at start, not at the first stream)."""

    name = "agora"

    def __init__(
        self, app_id: str, app_certificate: str, *, clock: Callable[[], float] = time.time
    ) -> None:
        check_credential(app_id, "app id")
        check_credential(app_certificate, "app certificate")
        self.app_id = app_id
        self._certificate = app_certificate
        self._clock = clock

    def __repr__(self) -> str:
        return f"AgoraTokenIssuer(app_id={self.app_id!r})"

    def issue(
        self,
        channel: str,
        account: str,
        role: LiveRole,
        ttl: float,
        *,
        issue_ts: int | None = None,
        salt: int | None = None,
    ) -> LiveToken:
        """See :meth:`actors.ports.LiveTokenIssuer.issue`. ``ttl`` is rounded
        up to whole seconds (the format's unit), 1 s to 24 h. ``issue_ts``
        and ``salt`` are for tests reproducing a known token; by default the
        clock's second and a random salt."""
        if role not in LIVE_ROLES:
            raise LiveTokenError(f"unknown role {role!r}: publisher or subscriber")
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not math.isfinite(ttl):
            raise LiveTokenError(f"ttl must be a finite number of seconds, not {ttl!r}")
        if not 1 <= ttl <= MAX_TTL:
            raise LiveTokenError(f"ttl must be between 1 and {MAX_TTL} seconds, not {ttl:g}")
        expire = math.ceil(ttl)
        if issue_ts is None:
            issue_ts = int(self._clock())
        if salt is None:
            salt = secrets.randbelow(2**32 - 1) + 1
        token = build_rtc_token(
            app_id=self.app_id,
            app_certificate=self._certificate,
            channel=channel,
            account=account,
            privileges=dict.fromkeys(ROLE_PRIVILEGES[role], expire),
            expire=expire,
            issue_ts=issue_ts,
            salt=salt,
        )
        return LiveToken(
            token=token,
            app_id=self.app_id,
            channel=channel,
            account=account,
            role=role,
            expires_at=float(issue_ts + expire),
            development=False,
        )
