"""A fake Cloudinary Upload API on 127.0.0.1 (a free port) for the tests of
``server/media_storage/cloudinary.py``.

It does what Cloudinary does with the requests our client makes, and checks
them as strictly: ``POST /v1_1/<cloud>/<image|video>/upload`` (multipart)
and ``.../destroy``; every request's signature is recomputed here from the
form fields received (written independently of the client's signer: every
field but ``file``, ``cloud_name``, ``resource_type``, ``api_key`` and
``signature``, empty ones dropped, sorted, ``k=v`` joined by ``&`` with ``&``
in values as ``%26``, the secret appended, hex SHA-1/SHA-256). An unknown
``api_key``, a missing or wrong signature, a missing or stale timestamp
(over an hour old) are refused with 401/400 and Cloudinary's
``{"error": {"message": ...}}``.

What it received is kept (:attr:`FakeCloudinary.assets`,
:attr:`FakeCloudinary.requests`), and it can be told to answer the next
requests with an error (:meth:`fail_next`) or to hang (:meth:`hang_next`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import hmac
import struct
import time
from typing import Any

import aiohttp
from aiohttp import web

STALE_AFTER = 3600.0


@dataclasses.dataclass
class Asset:
    resource_type: str
    public_id: str
    data: bytes
    filename: str
    content_type: str
    version: int
    format: str


@dataclasses.dataclass
class Received:
    """One request as it arrived (the file's bytes left out)."""

    action: str
    resource_type: str
    fields: dict[str, str]
    status: int = 0


def _expected_signature(fields: dict[str, str], secret: str, algorithm: str) -> str:
    excluded = {"file", "cloud_name", "resource_type", "api_key", "signature"}
    pairs = []
    for name in sorted(fields):
        if name in excluded or fields[name] == "":
            continue
        pairs.append(name + "=" + fields[name].replace("&", "%26"))
    digest = hashlib.sha256 if algorithm == "sha256" else hashlib.sha1
    return digest(("&".join(pairs) + secret).encode()).hexdigest()


def _png_size(data: bytes) -> tuple[int, int]:
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        width, height = struct.unpack(">II", data[16:24])
        return int(width), int(height)
    return 0, 0


def _error(status: int, message: str) -> web.Response:
    return web.json_response({"error": {"message": message}}, status=status)


class FakeCloudinary:
    def __init__(
        self,
        cloud_name: str = "grover-test",
        api_key: str = "614335564976464",
        api_secret: str = "fake-secret-Zq8xVb3",
        *,
        algorithm: str = "sha1",
    ) -> None:
        self.cloud_name = cloud_name
        self.api_key = api_key
        self.api_secret = api_secret
        self.algorithm = algorithm
        self.assets: dict[tuple[str, str], Asset] = {}
        self.requests: list[Received] = []
        self.now = time.time
        self._failures: list[int] = []
        self._hangs = 0
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0

    # ------------------------------------------------------------- control

    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status`` (before any check)."""
        self._failures.extend([status] * count)

    def hang_next(self, count: int) -> None:
        """Never answer the next ``count`` requests (until :meth:`stop`)."""
        self._hangs += count

    def url(self, *, api_secret: str | None = None, api_key: str | None = None) -> str:
        """A ``CLOUDINARY_URL`` for this server (optionally with wrong credentials)."""
        key = self.api_key if api_key is None else api_key
        secret = self.api_secret if api_secret is None else api_secret
        return (
            f"cloudinary://{key}:{secret}@{self.cloud_name}"
            f"?upload_prefix=http://127.0.0.1:{self.port}"
        )

    async def start(self) -> FakeCloudinary:
        app = web.Application(client_max_size=100 * 1024 * 1024)
        app.router.add_post("/v1_1/{cloud}/{resource_type}/{action}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # ------------------------------------------------------------- serving

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        action = request.match_info["action"]
        resource_type = request.match_info["resource_type"]
        received = Received(action, resource_type, {})
        self.requests.append(received)
        if self._hangs:
            self._hangs -= 1
            await self._release.wait()
        if self._failures:
            received.status = self._failures.pop(0)
            return _error(received.status, "General Error (injected)")
        file_data, filename, content_type = await self._read_form(request, received.fields)
        response = self._answer(request, received, file_data, filename, content_type)
        received.status = response.status
        return response

    async def _read_form(
        self, request: web.Request, fields: dict[str, str]
    ) -> tuple[bytes | None, str, str]:
        if not request.content_type.startswith("multipart/"):
            for name, value in (await request.post()).items():
                fields[name] = str(value)
            return None, "", ""
        data: bytes | None = None
        filename = content_type = ""
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            assert isinstance(part, aiohttp.BodyPartReader)
            if part.name == "file":
                data = await part.read()
                filename = part.filename or ""
                content_type = part.headers.get("Content-Type", "")
            elif part.name:
                fields[part.name] = await part.text()
        return data, filename, content_type

    def _answer(
        self,
        request: web.Request,
        received: Received,
        data: bytes | None,
        filename: str,
        content_type: str,
    ) -> web.Response:
        fields = received.fields
        if request.match_info["cloud"] != self.cloud_name:
            return _error(404, f"Invalid cloud_name {request.match_info['cloud']}")
        if received.resource_type not in ("image", "video", "raw", "auto"):
            return _error(404, "Invalid resource type")
        if "api_key" not in fields:
            return _error(400, "Must supply api_key")
        if fields["api_key"] != self.api_key:
            return _error(401, f"Unknown API key {fields['api_key']}")
        if not fields.get("timestamp", "").isdigit():
            return _error(400, "Missing required parameter - timestamp")
        if int(fields["timestamp"]) < self.now() - STALE_AFTER:
            return _error(400, f"Stale request - reported time is {fields['timestamp']}")
        if "signature" not in fields:
            return _error(400, "Missing required parameter - signature")
        expected = _expected_signature(fields, self.api_secret, self.algorithm)
        if not hmac.compare_digest(expected, fields["signature"]):
            return _error(401, f"Invalid Signature {fields['signature']}.")
        if received.action == "upload":
            return self._upload(received, data, filename, content_type)
        if received.action == "destroy":
            return self._destroy(received)
        return _error(404, f"Unknown action {received.action}")

    def _upload(
        self, received: Received, data: bytes | None, filename: str, content_type: str
    ) -> web.Response:
        if data is None:
            return _error(400, "Missing required parameter - file")
        if received.resource_type not in ("image", "video"):
            return _error(400, "the fake takes images and videos only")
        public_id = received.fields.get("public_id") or hashlib.sha1(data).hexdigest()[:20]
        key = (received.resource_type, public_id)
        existing = self.assets.get(key)
        if existing is not None and received.fields.get("overwrite") not in ("true", "1"):
            return web.json_response(self._reply(existing) | {"existing": True})
        version = int(self.now())
        if existing is not None and version <= existing.version:
            version = existing.version + 1
        fmt = filename.rpartition(".")[2].lower() if "." in filename else "bin"
        asset = Asset(received.resource_type, public_id, data, filename, content_type, version, fmt)
        self.assets[key] = asset
        return web.json_response(self._reply(asset))

    def _reply(self, asset: Asset) -> dict[str, Any]:
        width, height = _png_size(asset.data) if asset.resource_type == "image" else (0, 0)
        signed = f"public_id={asset.public_id}&version={asset.version}"
        path = f"{asset.resource_type}/upload/v{asset.version}/{asset.public_id}.{asset.format}"
        return {
            "public_id": asset.public_id,
            "version": asset.version,
            "signature": hashlib.sha1((signed + self.api_secret).encode()).hexdigest(),
            "width": width,
            "height": height,
            "format": asset.format,
            "resource_type": asset.resource_type,
            "type": "upload",
            "bytes": len(asset.data),
            "url": f"http://res.cloudinary.com/{self.cloud_name}/{path}",
            "secure_url": f"https://res.cloudinary.com/{self.cloud_name}/{path}",
        }

    def _destroy(self, received: Received) -> web.Response:
        public_id = received.fields.get("public_id", "")
        if not public_id:
            return _error(400, "Missing required parameter - public_id")
        gone = self.assets.pop((received.resource_type, public_id), None)
        return web.json_response({"result": "ok" if gone is not None else "not found"})
