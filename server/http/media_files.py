"""``GET /media/{id}/{file}``: the files of the local media storage
(:mod:`server.media_storage.local`), with their content type, a strong
``ETag`` (``"<mtime_ns>-<size>"`` in hex: files are replaced atomically and
never rewritten in place, so it changes whenever the bytes do), ``304`` on
``If-None-Match``, byte ranges (video players need them) and a year of
immutable caching.

Nothing outside the media folder is ever served: the id and the file name
must match strict patterns before a path is built, and the resolved file
must sit exactly at ``<root>/<id[:2]>/<id>/<file>`` (no symlink on the way).
Any other request is a plain 404 that tells nothing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from server.media_storage.local import CONTENT_TYPES, FILE_NAME, MEDIA_ID, media_dir

CACHE_CONTROL = "public, max-age=31536000, immutable"


def resolve(root: Path, media_id: str, file_name: str) -> Path | None:
    """The stored file for ``media_id``/``file_name``, or ``None`` when the
    names are not ours, the file is missing, or any part of its path is a
    symlink or leads outside ``root``. Blocking (stat calls)."""
    if not MEDIA_ID.fullmatch(media_id) or not FILE_NAME.fullmatch(file_name):
        return None
    expected = media_dir(root.resolve(), media_id) / file_name
    try:
        real = expected.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, or a symlink loop
        return None
    if real != expected or not real.is_file():
        return None
    return real


def add_routes(app: web.Application, root: Path) -> None:
    async def media_file(request: web.Request) -> web.StreamResponse:
        """A stored medium's file (``main.webp``, ``thumb.webp``, ``main.mp4``...)."""
        file_name = request.match_info["file"]
        path = await asyncio.to_thread(resolve, root, request.match_info["id"], file_name)
        if path is None:
            raise web.HTTPNotFound()
        return web.FileResponse(
            path,
            headers={
                "Content-Type": CONTENT_TYPES[file_name.rsplit(".", 1)[1]],
                "Cache-Control": CACHE_CONTROL,
                # Browsers must not second-guess the type (a crafted file
                # taken for HTML would run script on our origin).
                "X-Content-Type-Options": "nosniff",
            },
        )

    app.router.add_get("/media/{id}/{file}", media_file)
