"""Ports to outside services the domain needs, beside the storage ports of
:mod:`actors.store`: Protocols only. Their implementations live in ``server/``
by service (``server/media_storage/local.py`` and ``cloudinary.py`` for
:class:`MediaStorage`), and :mod:`server.wiring` picks one from the settings.
"""

from __future__ import annotations

import pathlib
from typing import Protocol

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
