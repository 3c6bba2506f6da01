"""``POST /v1/media``: an upload over the sidecar, authenticated with the same
bearer token as the websocket's hello.

The body (raw, or ``multipart/form-data`` with one file part) is streamed to
a private folder under ``<data_dir>/tmp/`` and never held whole in memory:
bytes are counted as they arrive and the read stops at the cap (413). The
type is sniffed from the first bytes, never taken from a name or a header,
and decides the cap (images have a smaller one) before the rest is read.
Images are decoded and re-encoded in a worker thread; videos are stored as
uploaded. The folder is removed on every path out, success or error, so no
partial file is ever left behind.

Errors are JSON ``{"error": {"code", "message"}}`` with the stable codes of
:class:`UploadError` below; 429 answers carry ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import pathlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator
from typing import Any, BinaryIO, Final

import orjson
from aiohttp import BodyPartReader, web

from actors.errors import ActorError
from actors.ids import new_id
from actors.moderation import refuse_if_suspended
from actors.ports import MediaFile, MediaStorage, MediaStorageError, StoredMedia
from actors.store.media import MediaRecord
from actors.user import GetUser, user_key
from protocol.errors import ErrorCode, ProtocolError
from server.context import Services
from server.media.processing import (
    UNSUPPORTED,
    MediaRejected,
    Sniffed,
    probe_video,
    process_image,
    sniff,
)

__all__ = ["QUOTA_WINDOW", "MediaUploads", "UploadError", "add_routes"]

log = logging.getLogger("grover.media")

#: Read size of the body: large enough to keep the per-chunk overhead low,
#: small enough that memory per upload stays bounded.
CHUNK: Final = 64 * 1024
#: Received bytes are gathered up to this much, then written in a worker
#: thread (a disk write can block; the event loop must not).
WRITE_BATCH: Final = 1024 * 1024
#: Bytes the sniffer needs before it can tell a type (``filetype`` reads 8 KiB
#: at most); a shorter body is sniffed once complete.
SNIFF_BYTES: Final = 8192
#: The daily byte quota's sliding window.
QUOTA_WINDOW: Final = 24 * 3600.0
#: What a 429 for the quota advises: the window slides, so part of it frees
#: up within the hour unless every byte was uploaded in the last one.
QUOTA_RETRY_AFTER: Final = 3600


class UploadError(Exception):
    """An upload refused with ``status`` and a stable ``code``:

    ``unauthenticated`` 401, ``suspended`` 403, ``empty_body`` and
    ``bad_multipart`` 400, ``too_large`` 413, ``unsupported_type`` 415,
    ``invalid_media`` 422 (truncated, undecodable, a decompression bomb),
    ``rate_limited`` and ``quota_exceeded`` 429, ``storage_unavailable`` 503,
    ``unavailable`` 503 (the user's actor could not be reached).
    """

    def __init__(
        self, status: int, code: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.retry_after = retry_after

    def response(self) -> web.Response:
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(max(1, math.ceil(self.retry_after)))
        return json_response(
            {"error": {"code": self.code, "message": self.message}}, self.status, headers
        )


def json_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
    )


def media_view(record: MediaRecord) -> dict[str, Any]:
    """The reply's fields of a record."""
    return {
        "id": record.id,
        "kind": record.kind,
        "mime": record.mime,
        "size": record.size,
        "width": record.width,
        "height": record.height,
        "duration": record.duration,
        "blurhash": record.blurhash,
        "url": record.url,
        "thumbnail_url": record.thumbnail_url,
        "created_at": record.created_at,
    }


def bearer_token(request: web.Request) -> str:
    """The token of ``Authorization: Bearer <token>``; 401 without one."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise UploadError(401, "unauthenticated", "send Authorization: Bearer <token>")
    return token.strip()


class _Spool:
    """The body on its way to disk: counts bytes, batches writes into a
    worker thread, and knows the cap in force (which sniffing may lower)."""

    def __init__(self, path: pathlib.Path, cap: int, quota_left: int) -> None:
        self.path = path
        self.cap = cap
        self.quota_left = quota_left
        self.size = 0
        self._pending = bytearray()
        self._file: BinaryIO = path.open("wb")

    def add(self, chunk: bytes) -> None:
        """Count ``chunk``; refuse it past the cap (413) or the quota (429)."""
        self.size += len(chunk)
        if self.size > self.cap:
            raise UploadError(413, "too_large", f"the body is over {self.cap} bytes")
        if self.size > self.quota_left:
            raise UploadError(
                429,
                "quota_exceeded",
                "this upload would pass your daily upload quota",
                retry_after=QUOTA_RETRY_AFTER,
            )
        self._pending += chunk

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def flush(self) -> None:
        if self._pending:
            data, self._pending = bytes(self._pending), bytearray()
            await asyncio.to_thread(self._write, data)

    def _write(self, data: bytes) -> None:
        self._file.write(data)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


async def _body_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The uploaded bytes: the first file part of a multipart body, else the
    raw body. A part's file name is never used (no path from the client
    reaches the disk)."""
    if request.content_type.startswith("multipart/"):
        try:
            reader = await request.multipart()
            part = await reader.next()
            while part is not None and not (
                isinstance(part, BodyPartReader)
                and (part.filename is not None or part.name == "file")
            ):
                if isinstance(part, BodyPartReader):
                    await part.release()  # a text field: drained, not kept
                part = await reader.next()
        except (ValueError, AssertionError) as exc:
            raise UploadError(400, "bad_multipart", f"malformed multipart body: {exc}") from None
        if part is None:
            raise UploadError(400, "bad_multipart", "no file part in the multipart body")
        assert isinstance(part, BodyPartReader)
        while chunk := await part.read_chunk(CHUNK):
            yield chunk
        return
    async for chunk in request.content.iter_chunked(CHUNK):
        yield chunk


class MediaUploads:
    """The upload route of one node: its services, media storage and temp folder."""

    def __init__(self, services: Services, storage: MediaStorage, tmp_dir: pathlib.Path) -> None:
        self.services = services
        self.storage = storage
        self.tmp_dir = tmp_dir
        # Images are processed one per spare core at most: more worker
        # threads than cores take the event loop's core from it (on 2 cores
        # the upload bench's worst ping was 30 ms with the default thread
        # pool, 9 ms with this bound, at half the uploads/s: bench/README.md).
        workers = services.settings.media_workers or max(1, (os.cpu_count() or 2) - 1)
        self._processing = asyncio.Semaphore(workers)

    async def handle(self, request: web.Request) -> web.Response:
        try:
            record = await self._upload(request)
        except UploadError as exc:
            return exc.response()
        return json_response(media_view(record), 201)

    async def _authenticate(self, request: web.Request) -> str:
        """The uploader's user id, checked the way hello checks a token."""
        token = bearer_token(request)
        services = self.services
        try:
            auth = await services.tokens.resolve(token)
            user = await services.actors.ask(user_key(auth.user_id), GetUser())
            refuse_if_suspended(user)
        except ProtocolError as exc:
            if exc.code is ErrorCode.SUSPENDED:
                raise UploadError(403, "suspended", exc.message) from None
            raise UploadError(401, "unauthenticated", exc.message) from None
        except ActorError:
            raise UploadError(503, "unavailable", "try again shortly", retry_after=1) from None
        return auth.user_id

    async def _admit(self, user_id: str) -> int:
        """The per-user rate, then the daily quota: the bytes still allowed."""
        settings = self.services.settings
        wait = await self.services.limiter.acquire(f"upload:{user_id}", settings.upload_rate)
        if wait > 0:
            raise UploadError(429, "rate_limited", "too many uploads", retry_after=wait)
        used = await self.services.store.media.uploaded_bytes_since(
            user_id, time.time() - QUOTA_WINDOW
        )
        left = settings.upload_daily_bytes - used
        if left <= 0:
            raise UploadError(
                429,
                "quota_exceeded",
                "daily upload quota used up",
                retry_after=QUOTA_RETRY_AFTER,
            )
        return left

    async def _upload(self, request: web.Request) -> MediaRecord:
        user_id = await self._authenticate(request)
        quota_left = await self._admit(user_id)
        settings = self.services.settings
        declared = request.content_length
        if declared is not None and declared > settings.media_max_bytes:
            # Refused before a byte is read; aiohttp's lingering close then
            # discards the rest so that the client can read this answer.
            raise UploadError(
                413, "too_large", f"the body is over {settings.media_max_bytes} bytes"
            )
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        workdir = pathlib.Path(
            await asyncio.to_thread(tempfile.mkdtemp, prefix="upload-", dir=self.tmp_dir)
        )
        try:
            return await self._receive_and_store(request, user_id, workdir, quota_left)
        finally:
            await asyncio.to_thread(shutil.rmtree, workdir, True)

    async def _receive_and_store(
        self, request: web.Request, user_id: str, workdir: pathlib.Path, quota_left: int
    ) -> MediaRecord:
        settings = self.services.settings
        spool = _Spool(workdir / "upload", settings.media_max_bytes, quota_left)
        sniffed: Sniffed | None = None
        try:
            async for chunk in _body_chunks(request):
                spool.add(chunk)
                if sniffed is None and spool.size >= SNIFF_BYTES:
                    await spool.flush()
                    sniffed = await self._sniff(spool)
                elif spool.pending >= WRITE_BATCH:
                    await spool.flush()
            await spool.flush()
        finally:
            spool.close()
        if spool.size == 0:
            raise UploadError(400, "empty_body", "the body is empty")
        if sniffed is None:
            sniffed = await self._sniff(spool)
        try:
            files, extra = await self._process(sniffed, spool.path, workdir)
        except MediaRejected as exc:
            if exc.reason == UNSUPPORTED:
                raise UploadError(415, "unsupported_type", str(exc)) from None
            raise UploadError(422, "invalid_media", str(exc)) from None
        return await self._store(
            media_id=new_id(),
            user_id=user_id,
            kind=sniffed.kind,
            files=files,
            extra=extra,
            received=spool.size,
        )

    async def _sniff(self, spool: _Spool) -> Sniffed:
        """The kind (``image``/``video``) from the first bytes; 415 for a type
        off the allow-list. An image's smaller cap applies from here on."""
        sniffed = await asyncio.to_thread(sniff, spool.path)
        if sniffed is None:
            raise UploadError(415, "unsupported_type", "not an allowed image or video type")
        if sniffed.kind == "image":
            spool.cap = min(spool.cap, self.services.settings.media_image_max_bytes)
            if spool.size > spool.cap:
                raise UploadError(413, "too_large", f"an image is at most {spool.cap} bytes")
        return sniffed

    async def _process(
        self, sniffed: Sniffed, path: pathlib.Path, workdir: pathlib.Path
    ) -> tuple[list[MediaFile], dict[str, Any]]:
        """The files to store (the main one first) and the record's measured
        fields; raises :class:`MediaRejected`."""
        if sniffed.kind == "image":
            async with self._processing:
                image = await asyncio.to_thread(process_image, path, workdir)
            return image.files, {
                "width": image.width,
                "height": image.height,
                "blurhash": image.blurhash,
            }
        video = await asyncio.to_thread(probe_video, path)
        main = MediaFile(
            variant="main", path=path, content_type=sniffed.mime, extension=sniffed.extension
        )
        return [main], {"width": video.width, "height": video.height, "duration": video.duration}

    async def _store(
        self,
        *,
        media_id: str,
        user_id: str,
        kind: str,
        files: list[MediaFile],
        extra: dict[str, Any],
        received: int,
    ) -> MediaRecord:
        """Save the files, then the record; a record that cannot be written
        takes its files with it."""
        main = next(f for f in files if f.variant == "main")
        # Measured before saving: the storage may move the file.
        size = await asyncio.to_thread(lambda: main.path.stat().st_size)
        try:
            stored: StoredMedia = await self.storage.save(media_id, kind, files)
        except MediaStorageError as exc:
            log.warning("media storage refused an upload: %s", exc)
            raise UploadError(503, "storage_unavailable", "media storage unavailable") from None
        record = MediaRecord(
            id=media_id,
            owner_id=user_id,
            kind=kind,
            mime=main.content_type,
            size=size,
            url=stored.url,
            thumbnail_url=stored.thumbnail_url,
            storage_key=stored.storage_key,
            uploaded_bytes=received,
            created_at=time.time(),
            **extra,
        )
        try:
            await self.services.store.media.create(record)
        except BaseException:
            await asyncio.shield(self.storage.delete(stored))
            raise
        return record


def add_routes(app: web.Application, uploads: MediaUploads) -> None:
    app.router.add_post("/v1/media", uploads.handle)
