"""Cloudinary as a :class:`~actors.ports.MediaStorage`: our own small aiohttp
client for the Upload API (signed ``upload`` and ``destroy``) and delivery
URLs. No SDK: Cloudinary's Python SDK is synchronous and would block the
event loop.

- **Signing** (Cloudinary's "authentication signatures"): every parameter
  except ``file``, ``cloud_name``, ``resource_type`` and ``api_key`` (and the
  signature itself), empty ones left out, sorted by name, ``k=v`` joined with
  ``&`` (an ``&`` inside a value written ``%26``, as the SDK's signature
  version 2 does), the API secret appended, hex SHA-1 (or SHA-256 when the
  account is set so and the URL says ``signature_algorithm=sha256``).
- **Idempotent**: our media id is the ``public_id`` and uploads say
  ``overwrite=true``, so a retried save replaces the asset, never adds one.
- **Retries** with exponential backoff on 5xx, timeouts and network errors,
  never on 4xx (a refusal does not get better by asking again).
- **Secrets** never reach a log line, an exception or a ``repr``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import logging
import random
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

from actors.ports import MediaFile, MediaStorageError, StoredMedia

__all__ = ["CloudinaryConfig", "CloudinaryMediaStorage", "api_sign", "thumbnail_url"]

log = logging.getLogger(__name__)

DEFAULT_UPLOAD_PREFIX = "https://api.cloudinary.com"
DELIVERY_PREFIX = "https://res.cloudinary.com"
THUMBNAIL_TRANSFORMATION = "c_limit,w_320"
"""Scale down (never up) to at most 320 px wide, like the local thumbnail."""

_UNSIGNED = frozenset({"file", "cloud_name", "resource_type", "api_key", "signature"})
_ALGORITHMS = ("sha1", "sha256")
_RESOURCE_TYPES = ("image", "video")
_PUBLIC_ID = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}")
"""Our media ids as public ids: no folders (``/``), nothing to escape."""
_GONE = ("ok", "not found")


def api_sign(params: Mapping[str, str], api_secret: str, algorithm: str = "sha1") -> str:
    """The signature of an Upload API request with these parameters."""
    payload = "&".join(
        f"{key}={value.replace('&', '%26')}"
        for key, value in sorted(params.items())
        if key not in _UNSIGNED and value != ""
    )
    return hashlib.new(algorithm, (payload + api_secret).encode()).hexdigest()


@dataclasses.dataclass(frozen=True)
class CloudinaryConfig:
    """The account: ``cloudinary://<api_key>:<api_secret>@<cloud_name>``
    (``CLOUDINARY_URL``'s standard form), with the optional query parameters
    ``upload_prefix`` (default ``https://api.cloudinary.com``; tests point it
    at a local fake) and ``signature_algorithm`` (``sha1`` or ``sha256``).
    The key and secret are left out of ``repr`` and ``str``."""

    cloud_name: str
    api_key: str = dataclasses.field(repr=False)
    api_secret: str = dataclasses.field(repr=False)
    upload_prefix: str = DEFAULT_UPLOAD_PREFIX
    signature_algorithm: str = "sha1"

    @classmethod
    def parse(cls, url: str) -> CloudinaryConfig:
        """Raises ``ValueError`` saying what is wrong, never quoting the URL
        (it holds the secret)."""
        shape = "expected cloudinary://<api_key>:<api_secret>@<cloud_name>"
        try:
            parts = urllib.parse.urlsplit(url.strip())
        except ValueError:
            raise ValueError(f"CLOUDINARY_URL does not parse: {shape}") from None
        _, at, cloud = parts.netloc.rpartition("@")
        key, colon, secret = parts.netloc[: -len(cloud) - 1].partition(":") if at else ("", "", "")
        if parts.scheme != "cloudinary" or not (key and colon and secret and cloud):
            raise ValueError(f"CLOUDINARY_URL: {shape}")
        if parts.path not in ("", "/") or parts.fragment:
            raise ValueError(f"CLOUDINARY_URL: {shape}")
        if not re.fullmatch(r"[A-Za-z0-9_-]+", cloud):
            raise ValueError("CLOUDINARY_URL: the cloud name has characters it cannot have")
        query = dict(urllib.parse.parse_qsl(parts.query))
        prefix = query.get("upload_prefix", DEFAULT_UPLOAD_PREFIX).rstrip("/")
        prefix_parts = urllib.parse.urlsplit(prefix)
        if prefix_parts.scheme not in ("http", "https") or not prefix_parts.netloc:
            raise ValueError("CLOUDINARY_URL: upload_prefix must be an http(s) URL")
        algorithm = query.get("signature_algorithm", "sha1").lower()
        if algorithm not in _ALGORITHMS:
            raise ValueError("CLOUDINARY_URL: signature_algorithm must be sha1 or sha256")
        return cls(
            cloud_name=cloud,
            api_key=urllib.parse.unquote(key),
            api_secret=urllib.parse.unquote(secret),
            upload_prefix=prefix,
            signature_algorithm=algorithm,
        )

    def __str__(self) -> str:
        return f"cloudinary://***:***@{self.cloud_name}?upload_prefix={self.upload_prefix}"

    def api_url(self, resource_type: str, action: str) -> str:
        return f"{self.upload_prefix}/v1_1/{self.cloud_name}/{resource_type}/{action}"


def thumbnail_url(cloud_name: str, version: int, public_id: str, fmt: str) -> str:
    """The delivery URL of an image scaled to the thumbnail's size."""
    return (
        f"{DELIVERY_PREFIX}/{cloud_name}/image/upload/{THUMBNAIL_TRANSFORMATION}"
        f"/v{version}/{public_id}.{fmt}"
    )


class _Retryable(Exception):
    """An attempt that may succeed if made again (5xx, timeout, network)."""


class CloudinaryMediaStorage:
    """Media kept on Cloudinary. One ``aiohttp.ClientSession`` (made on first
    use, inside the event loop), closed by :meth:`close`."""

    name = "cloudinary"

    def __init__(
        self,
        config: CloudinaryConfig,
        *,
        timeout: float = 120.0,
        attempts: int = 3,
        backoff: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.config = config
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10.0))
        self._attempts = attempts
        self._backoff = backoff
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None

    def __repr__(self) -> str:
        return f"CloudinaryMediaStorage({self.config!r})"

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------ the port

    async def save(self, media_id: str, kind: str, files: list[MediaFile]) -> StoredMedia:
        """Upload the ``main`` file (Cloudinary derives the thumbnail from it
        by URL, so ``thumb`` is not sent), streamed from disk."""
        if kind not in _RESOURCE_TYPES:
            raise ValueError(f"kind must be image or video, not {kind!r}")
        _check_public_id(media_id)
        main = next((f for f in files if f.variant == "main"), None)
        if main is None:
            raise ValueError("no main file to store")
        params = {"public_id": media_id, "overwrite": "true"}
        try:
            reply = await self._call(kind, "upload", params, main)
        except _Retryable as exc:
            # A timed-out upload may still have landed: remove it so that a
            # failed save leaves nothing behind (best effort; same public id).
            await self._forget(kind, media_id)
            raise MediaStorageError(f"cloudinary upload failed: {exc}") from None
        try:
            version = int(reply["version"])
            secure_url = str(reply["secure_url"])
            public_id = str(reply["public_id"])
            fmt = str(reply.get("format") or main.extension)
        except (KeyError, TypeError, ValueError):
            raise MediaStorageError("cloudinary upload: unexpected reply") from None
        thumb = thumbnail_url(self.config.cloud_name, version, public_id, fmt)
        return StoredMedia(
            url=secure_url,
            thumbnail_url=thumb if kind == "image" else None,
            storage_key=f"{kind}/{public_id}",
        )

    async def delete(self, stored: StoredMedia) -> None:
        """Destroy the asset and invalidate CDN copies; "not found" is done."""
        kind, _, public_id = stored.storage_key.partition("/")
        if kind not in _RESOURCE_TYPES:
            raise MediaStorageError("cloudinary delete: not a cloudinary storage key")
        _check_public_id(public_id)
        params = {"public_id": public_id, "invalidate": "true"}
        try:
            reply = await self._call(kind, "destroy", params, None)
        except _Retryable as exc:
            raise MediaStorageError(f"cloudinary delete failed: {exc}") from None
        if reply.get("result") not in _GONE:
            raise MediaStorageError(f"cloudinary delete: result {reply.get('result')!r}")

    # ------------------------------------------------------------ requests

    async def _forget(self, kind: str, public_id: str) -> None:
        try:
            params = {"public_id": public_id, "invalidate": "true"}
            await self._call(kind, "destroy", params, None, attempts=1)
        except (_Retryable, MediaStorageError):
            log.warning("cloudinary: could not remove a failed upload %s/%s", kind, public_id)

    async def _call(
        self,
        kind: str,
        action: str,
        params: dict[str, str],
        file: MediaFile | None,
        *,
        attempts: int | None = None,
    ) -> dict[str, Any]:
        """POST a signed request, retried on 5xx/timeouts/network errors.
        Raises ``MediaStorageError`` on a 4xx (at once) and ``_Retryable``
        once the attempts are spent."""
        url = self.config.api_url(kind, action)
        attempts = attempts or self._attempts
        for attempt in range(1, attempts + 1):
            try:
                return await self._attempt(url, action, params, file)
            except _Retryable as exc:
                if attempt == attempts:
                    raise _Retryable(f"{exc} (after {attempt} attempts)") from None
                delay = self._backoff * 2 ** (attempt - 1) * (0.5 + random.random())
                log.info("cloudinary %s: %s; retry %d in %.2fs", action, exc, attempt, delay)
                await asyncio.sleep(delay)
        raise AssertionError("unreachable")

    async def _attempt(
        self, url: str, action: str, params: dict[str, str], file: MediaFile | None
    ) -> dict[str, Any]:
        signed = {**params, "timestamp": str(int(self._clock()))}
        signed["signature"] = api_sign(
            signed, self.config.api_secret, self.config.signature_algorithm
        )
        signed["api_key"] = self.config.api_key
        form = aiohttp.FormData()
        for key, value in signed.items():
            form.add_field(key, value)
        stream = None
        try:
            if file is not None:
                # aiohttp reads a file object in chunks (in a thread): a 50 MB
                # video is streamed, never held whole in memory.
                stream = await asyncio.to_thread(file.path.open, "rb")
                form.add_field(
                    "file",
                    stream,
                    filename=f"{params['public_id']}.{file.extension}",
                    content_type=file.content_type,
                )
            session = self._session_now()
            async with session.post(url, data=form, timeout=self._timeout) as response:
                status = response.status
                body = await _json(response)
        except TimeoutError:
            raise _Retryable("timed out") from None
        except OSError as exc:
            if file is not None and stream is None:
                raise MediaStorageError(f"cloudinary {action}: cannot read the file") from exc
            raise _Retryable(f"network error ({type(exc).__name__})") from None
        except aiohttp.ClientError as exc:
            raise _Retryable(f"network error ({type(exc).__name__})") from None
        finally:
            if stream is not None:
                stream.close()
        if status >= 500:
            raise _Retryable(f"HTTP {status}")
        if status != 200 or body is None:
            message = self._message(body)
            raise MediaStorageError(f"cloudinary {action} refused: HTTP {status}: {message}")
        return body

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(raise_for_status=False)
        return self._session

    def _message(self, body: dict[str, Any] | None) -> str:
        """Cloudinary's ``{"error": {"message": ...}}``, shortened, with
        anything that looks like our credentials blanked out."""
        error = (body or {}).get("error")
        message = str(error.get("message", "")) if isinstance(error, dict) else ""
        for secret in (self.config.api_secret, self.config.api_key):
            message = message.replace(secret, "***")
        return message[:300] or "no message"


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any] | None:
    try:
        body = await response.json(content_type=None)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _check_public_id(public_id: str) -> None:
    if not _PUBLIC_ID.fullmatch(public_id) or ".." in public_id:
        raise ValueError("not a valid media id for a cloudinary public id")
