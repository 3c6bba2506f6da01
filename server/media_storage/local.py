"""Media in a local folder (the default storage): ``<root>/<id[:2]>/<id>/
<variant>.<ext>``, served by the sidecar's ``GET /media/{id}/{file}``
(:mod:`server.http.media_files`).

Every path is built from a validated id, variant and extension, so nothing
a client sends can name a file outside ``root``. Disk work runs in a worker
thread (``asyncio.to_thread``): the event loop never waits on a copy.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from actors.ports import MediaFile, MediaStorageError, StoredMedia

MEDIA_ID = re.compile(r"[0-9a-f]{24}")
"""Our ids: 24 lowercase hex characters (``fullmatch`` only)."""

FILE_NAME = re.compile(r"(main|thumb)\.(webp|jpg|png|gif|avif|mp4|mov)")
"""The only file names stored and served (``fullmatch`` only)."""

CONTENT_TYPES: dict[str, str] = {
    "webp": "image/webp",
    "jpg": "image/jpeg",
    "png": "image/png",
    "gif": "image/gif",
    "avif": "image/avif",
    "mp4": "video/mp4",
    "mov": "video/quicktime",
}
"""Extension → ``Content-Type`` served; the extension is chosen at save from
the sniffed or processed type, never from the client."""


def media_dir(root: Path, media_id: str) -> Path:
    """The folder of medium ``media_id``. Raises ``ValueError`` for anything
    but one of our ids, before any path is built from it."""
    if not MEDIA_ID.fullmatch(media_id):
        raise ValueError(f"not a media id: {media_id!r}")
    return root / media_id[:2] / media_id


class LocalMediaStorage:
    """:class:`~actors.ports.MediaStorage` in a folder. ``base_url`` is the
    sidecar's public URL (no trailing slash needed), or a function giving it
    (the sidecar's port is known only once it is bound)."""

    name = "local"

    def __init__(self, root: Path, base_url: str | Callable[[], str]) -> None:
        self.root = root
        self._base_url = base_url

    @property
    def base_url(self) -> str:
        url = self._base_url() if callable(self._base_url) else self._base_url
        return url.rstrip("/")

    def url(self, media_id: str, file_name: str) -> str:
        return f"{self.base_url}/media/{media_id}/{file_name}"

    async def save(self, media_id: str, kind: str, files: list[MediaFile]) -> StoredMedia:
        """Copy ``files`` into the medium's folder, each atomically (a
        temporary file in the same folder, then ``os.replace``): a reader
        sees the old file or the new one, never half of one. Saving an id
        again replaces its files and removes the ones not saved this time.
        On failure the folder is removed. Raises ``ValueError`` for a bad id
        or file name (before touching the disk), ``MediaStorageError`` for
        a failed write."""
        folder = media_dir(self.root, media_id)
        names: dict[str, str] = {}
        for file in files:
            name = f"{file.variant}.{file.extension}"
            if not FILE_NAME.fullmatch(name) or file.variant in names:
                raise ValueError(f"bad or repeated media file name: {name!r}")
            names[file.variant] = name
        if "main" not in names:
            raise ValueError("a medium needs a main file")
        try:
            await asyncio.to_thread(_write_all, folder, [(f.path, names[f.variant]) for f in files])
        except OSError as exc:
            raise MediaStorageError(f"local media write failed: {exc}") from exc
        thumb = names.get("thumb")
        return StoredMedia(
            url=self.url(media_id, names["main"]),
            thumbnail_url=self.url(media_id, thumb) if thumb else None,
            storage_key=media_id,
        )

    async def delete(self, stored: StoredMedia) -> None:
        """Remove the medium's folder. A folder already gone is not an error. Raises
        ``ValueError`` for a key that is not one of our ids."""
        folder = media_dir(self.root, stored.storage_key)
        try:
            await asyncio.to_thread(_remove, folder)
        except OSError as exc:
            raise MediaStorageError(f"local media delete failed: {exc}") from exc


def _write_all(folder: Path, files: list[tuple[Path, str]]) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for src, name in files:
            _write_atomic(src, folder / name)
        keep = {name for _, name in files}
        for stale in folder.iterdir():  # a retried save with other types
            if stale.name not in keep:
                stale.unlink(missing_ok=True)
    except BaseException:
        _remove(folder)
        raise


def _write_atomic(src: Path, dest: Path) -> None:
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out, src.open("rb") as f:
            shutil.copyfileobj(f, out, 1024 * 1024)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; the files are public anyway
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _remove(folder: Path) -> None:
    # The <id[:2]> parent stays: at most 256 of them, and removing it would
    # race a concurrent save of a sibling creating it.
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(folder)
