"""Ports to outside services the domain needs, beside the storage ports of
:mod:`actors.store`: Protocols only. Their implementations live in ``server/``
by service (``server/media_storage/local.py`` and ``cloudinary.py`` for
:class:`MediaStorage`; ``server/live_tokens/agora.py`` and ``dev.py`` for
:class:`LiveTokenIssuer`), and :mod:`server.wiring` picks one from the settings.
"""

from __future__ import annotations

import pathlib
from typing import Literal, Protocol

import msgspec


class MediaFile(msgspec.Struct, kw_only=True):
    """One file of a processed upload, on local disk (a temporary file the
    storage may move or read; it is removed by the caller afterwards)."""

    variant: str
    """``"main"`` (the processed image, or the video as uploaded) or
    ``"thumb"`` (an image's 320 px thumbnail)."""
    path: pathlib.Path
    content_type: str
    """``image/webp``, ``image/jpeg``, ``image/gif``, ``video/mp4``, ``video/quicktime``..."""
    extension: str
    """Without the dot: ``webp``, ``jpg``, ``gif``, ``mp4``, ``mov``..."""


class StoredMedia(msgspec.Struct, kw_only=True):
    """Where a medium lives once stored: its public URLs and the key its
    storage needs to delete it (opaque to everyone else)."""

    url: str
    thumbnail_url: str | None
    """``None`` for videos (no thumbnail is made: no transcoding)."""
    storage_key: str


class MediaStorage(Protocol):
    """Where uploaded media are kept and served from: a local folder (the
    default) or Cloudinary. Implementations never block the event loop."""

    name: str
    """``"local"`` or ``"cloudinary"``."""

    async def save(self, media_id: str, kind: str, files: list[MediaFile]) -> StoredMedia:
        """Store the files of medium ``media_id`` (``kind`` is ``"image"`` or
        ``"video"``). Idempotent: saving the same id again replaces it (a
        retried upload). Raises ``MediaStorageError`` when the service
        refuses or cannot be reached, leaving nothing behind."""

    async def delete(self, stored: StoredMedia) -> None:
        """Remove a stored medium (all its files); a medium already gone is
        not an error."""


class MediaStorageError(Exception):
    """The storage could not take or remove a medium."""


LiveRole = Literal["publisher", "subscriber"]
"""A publisher (the stream's host) may send audio, video and data; a
subscriber (a viewer) may only join and receive."""

LIVE_ROLES: tuple[LiveRole, ...] = ("publisher", "subscriber")


class LiveToken(msgspec.Struct, kw_only=True, frozen=True):
    """A token letting one account join one live-video channel, as the
    client passes it to its RTC SDK (Agora's ``join``)."""

    token: str
    app_id: str
    """The RTC project the token is for: clients need it beside the token to
    join. Empty for development tokens."""
    channel: str
    account: str
    """The Grover user id the token is bound to (Agora's *user account*, a
    string, rather than a numeric uid: see docs/decisions.md)."""
    role: LiveRole
    expires_at: float
    """Unix seconds after which the token, and every privilege in it, no
    longer lets the client join or publish: renew it before then."""
    development: bool
    """``True`` for tokens of the development issuer, which no RTC service
    accepts (no Agora credentials are configured)."""


class LiveTokenIssuer(Protocol):
    """Issues RTC tokens for live streams: Agora's AccessToken2 when
    credentials are configured, development tokens otherwise. Pure CPU work
    (microseconds), so synchronous."""

    name: str
    """``"agora"`` or ``"dev"``."""

    def issue(self, channel: str, account: str, role: LiveRole, ttl: float) -> LiveToken:
        """A token for ``account`` in ``channel`` with ``role``'s privileges,
        valid for ``ttl`` seconds from now. Raises :class:`LiveTokenError` for
        input the service would refuse (a bad channel name or account, an
        unknown role, a ttl out of range), never returning an empty or broken
        token."""


class LiveTokenError(ValueError):
    """A token could not be issued, or a token string does not decode or
    verify. Messages never quote an app certificate or signing key."""
