"""Storage port of uploaded media: one record per upload, owned by its
uploader, attached to at most one thing (a post, a message, an avatar)."""

from __future__ import annotations

from typing import Protocol

import msgspec


class MediaRecord(msgspec.Struct, kw_only=True):
    id: str
    owner_id: str
    kind: str
    """``"image"`` or ``"video"``."""
    mime: str
    """The stored file's type (``image/webp`` after processing; a video's as uploaded)."""
    size: int
    """Bytes stored (the processed main file)."""
    width: int | None = None
    height: int | None = None
    duration: float | None = None
    """Seconds, for a video whose container says so."""
    blurhash: str | None = None
    url: str
    thumbnail_url: str | None = None
    storage_key: str
    """What the :class:`~actors.ports.MediaStorage` needs to delete it."""
    uploaded_bytes: int
    """Bytes received (what the daily quota counts)."""
    attached_to: str | None = None
    """``"post:<id>"``, ``"message:<conversation id>"``, ``"avatar:<user id>"``;
    ``None`` while unattached (swept after a day)."""
    created_at: float


class MediaStore(Protocol):
    async def create(self, record: MediaRecord) -> None:
        """Insert; ``Conflict("id")`` for a taken id."""

    async def get(self, media_id: str) -> MediaRecord | None: ...

    async def get_many(self, media_ids: list[str]) -> dict[str, MediaRecord]: ...

    async def attach(self, media_ids: list[str], owner_id: str, target: str) -> bool:
        """Attach every one of ``media_ids`` to ``target``, all or none: only
        when each exists, belongs to ``owner_id`` and is unattached or
        already attached to ``target`` (a retry). ``False`` (nothing
        changed) otherwise."""

    async def release(self, target: str) -> int:
        """Detach every medium attached to ``target`` (a deleted post, a
        replaced avatar): they become unattached and the sweep removes them.
        Returns how many."""

    async def unattached_before(self, before: float, limit: int) -> list[MediaRecord]:
        """Unattached media created before ``before``, oldest first: the sweep's work."""

    async def delete(self, media_id: str) -> bool:
        """Remove the record; ``True`` if it existed."""

    async def uploaded_bytes_since(self, owner_id: str, since: float) -> int:
        """Bytes the owner uploaded since ``since`` (deleted media included
        while their records exist): the daily quota."""
