"""``POST /v1/media`` over a real in-process node: real sockets, real files,
a real token from ``auth.register``. Every bad input of issue 12 that the
endpoint owns gets its status, changes nothing and leaves no file behind."""

from __future__ import annotations

import asyncio
import io
import struct
import time
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import pytest
from PIL import Image

from protocol.client import Client
from server.app import Grover
from server.config import RateRule
from tests.conftest import StartGrover, register, ws_url
from tests.fake_cloudinary import FakeCloudinary

MB = 1024 * 1024


# --------------------------------------------------------------------------- helpers


def jpeg_bytes(width: int = 640, height: int = 480) -> bytes:
    """A photo-like JPEG (noise compresses badly, like a photo)."""
    image = Image.effect_noise((width, height), 64).convert("RGB")
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def png_bytes(width: int = 200, height: int = 100) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def bomb_png() -> bytes:
    """A tiny PNG whose header claims 50,000 x 50,000 pixels."""
    header = struct.pack(">IIBBBBB", 50_000, 50_000, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + _png_chunk(b"IEND", b"")
    )


#: The first box of an MP4: what the sniffer reads as ``video/mp4``.
MP4_HEAD = struct.pack(">I", 24) + b"ftypisom" + b"\x00\x00\x02\x00" + b"isomiso2"


def mp4_bytes() -> bytes:
    """A minimal movie: ftyp, then a moov with an mvhd of 2 s (timescale 1000)."""
    mvhd = b"\x00" * 4 + struct.pack(">IIII", 0, 0, 1000, 2000) + b"\x00" * 80
    moov = struct.pack(">I", 8 + 8 + len(mvhd)) + b"moov" + struct.pack(">I", 8 + len(mvhd))
    return MP4_HEAD + moov + b"mvhd" + mvhd


async def login(grover: Grover) -> tuple[Client, str]:
    client = Client()
    await client.connect(ws_url(grover))
    reply = await register(client)
    return client, str(reply.token)


def url(grover: Grover, path: str = "/v1/media") -> str:
    return f"http://127.0.0.1:{grover.sidecar_port}{path}"


async def upload(
    grover: Grover,
    token: str | None,
    body: Any,
    *,
    headers: dict[str, str] | None = None,
    timeout: float = 30.0,
) -> tuple[int, dict[str, Any], Any]:
    """POST ``body`` (bytes, an async generator, or ``FormData``); returns
    status, JSON reply and the response headers."""
    sent = dict(headers or {})
    if token is not None:
        sent["Authorization"] = f"Bearer {token}"
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as http,
        http.post(url(grover), data=body, headers=sent) as response,
    ):
        return response.status, await response.json(), response.headers


def found(root: Path, pattern: str) -> list[Path]:
    return list(root.rglob(pattern))


def tmp_files(grover: Grover) -> list[Path]:
    tmp = grover.settings.data_dir / "tmp"
    return list(tmp.rglob("*")) if tmp.exists() else []


FAKES: dict[int, FakeCloudinary] = {}
"""The fake Cloudinary behind a node started with it, by ``id(grover)``."""


@pytest.fixture(params=["local", "cloudinary"])
async def node(
    request: pytest.FixtureRequest, start_grover: StartGrover
) -> AsyncIterator[tuple[Grover, str]]:
    """A node storing media in its folder, or in a fake Cloudinary on
    127.0.0.1 that checks every request's signature."""
    fake = await FakeCloudinary().start() if request.param == "cloudinary" else None
    settings = {"cloudinary_url": fake.url()} if fake is not None else {}
    grover = await start_grover(**settings)
    assert grover.media_storage.name == request.param
    if fake is not None:
        FAKES[id(grover)] = fake
    client, token = await login(grover)
    try:
        yield grover, token
    finally:
        await client.close()
        if fake is not None:
            del FAKES[id(grover)]
            await fake.stop()


async def fetch(grover: Grover, link: str) -> tuple[int, str | None, bytes]:
    """What a client gets at a medium's URL: from the sidecar for the local
    storage; for Cloudinary (whose delivery host is not reachable here) what
    the fake holds under the URL's public id (a transformation, such as the
    thumbnail's, is Cloudinary's to render: its type is not checked)."""
    fake = FAKES.get(id(grover))
    if fake is None:
        async with aiohttp.ClientSession() as http, http.get(link) as served:
            return served.status, served.content_type, await served.read()
    resource_type = "video" if "/video/upload/" in link else "image"
    public_id = link.rsplit("/", 1)[1].rsplit(".", 1)[0]
    asset = fake.assets.get((resource_type, public_id))
    if asset is None:
        return 404, None, b""
    transformed = "/upload/c_" in link
    return 200, None if transformed else f"{resource_type}/{asset.format}", asset.data


# --------------------------------------------------------------------------- accepted


async def test_jpeg_upload_replies_with_the_record_and_is_served(
    node: tuple[Grover, str],
) -> None:
    grover, token = node
    body = jpeg_bytes(3000, 1000)
    status, reply, _ = await upload(grover, token, body)
    assert status == 201, reply
    assert reply["kind"] == "image" and reply["mime"].startswith("image/")
    assert (reply["width"], reply["height"]) == (2048, 683)  # resized to 2048 px at most
    assert reply["blurhash"] and reply["duration"] is None
    assert reply["url"] and reply["thumbnail_url"]
    assert set(reply) == {
        "id",
        "kind",
        "mime",
        "size",
        "width",
        "height",
        "duration",
        "blurhash",
        "url",
        "thumbnail_url",
        "created_at",
    }
    record = await grover.store.media.get(reply["id"])
    assert record is not None and record.attached_to is None
    assert record.uploaded_bytes == len(body) and record.size == reply["size"]
    assert tmp_files(grover) == []
    for link, mime in ((reply["url"], reply["mime"]), (reply["thumbnail_url"], None)):
        status, content_type, data = await fetch(grover, link)
        assert status == 200
        if mime is not None:
            assert content_type == mime and len(data) == reply["size"]


async def test_png_named_jpg_is_taken_as_png_from_multipart(node: tuple[Grover, str]) -> None:
    grover, token = node
    form = aiohttp.FormData()
    form.add_field("caption", "not a file")
    form.add_field("file", png_bytes(), filename="photo.jpg", content_type="image/jpeg")
    status, reply, _ = await upload(grover, token, form)
    assert status == 201, reply
    assert (reply["kind"], reply["width"], reply["height"]) == ("image", 200, 100)


async def test_video_is_stored_as_uploaded(node: tuple[Grover, str]) -> None:
    grover, token = node
    body = mp4_bytes()
    status, reply, _ = await upload(grover, token, body)
    assert status == 201, reply
    assert (reply["kind"], reply["mime"], reply["size"]) == ("video", "video/mp4", len(body))
    assert reply["duration"] == 2.0 and reply["thumbnail_url"] is None


# --------------------------------------------------------------------------- refused


async def test_no_token_or_a_revoked_one_is_401(start_grover: StartGrover) -> None:
    grover = await start_grover()
    body = jpeg_bytes()
    status, reply, _ = await upload(grover, None, body)
    assert (status, reply["error"]["code"]) == (401, "unauthenticated")
    status, _, _ = await upload(grover, "made-up", body)
    assert status == 401
    client, token = await login(grover)
    await client.request("auth.logout")
    await client.close()
    status, reply, _ = await upload(grover, token, body)
    assert (status, reply["error"]["code"]) == (401, "unauthenticated")
    assert tmp_files(grover) == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (b"<!doctype html><html><script>alert(1)</script></html>" * 300, 415, "unsupported_type"),
        (b"\x7fELF\x02\x01\x01\x00" + b"\x00" * 9000, 415, "unsupported_type"),
        (b"", 400, "empty_body"),
        (bomb_png(), 422, "invalid_media"),
    ],
    ids=["html", "executable", "empty", "bomb"],
)
async def test_bad_bodies_are_refused_and_leave_nothing(
    node: tuple[Grover, str], body: bytes, status: int, code: str
) -> None:
    grover, token = node
    form = aiohttp.FormData()
    form.add_field("file", body, filename="photo.jpg", content_type="image/jpeg")
    for data in (body, form):
        got, reply, _ = await upload(grover, token, data)
        assert (got, reply["error"]["code"]) == (status, code), reply
    assert tmp_files(grover) == []
    assert await grover.store.media.uploaded_bytes_since("x", 0) == 0


async def test_truncated_jpeg_is_refused(node: tuple[Grover, str]) -> None:
    grover, token = node
    whole = jpeg_bytes()
    status, reply, _ = await upload(grover, token, whole[: len(whole) // 2])
    assert 400 <= status < 500 and reply["error"]["code"] == "invalid_media"
    assert tmp_files(grover) == []


async def test_path_traversal_in_names_does_nothing_harmful(
    node: tuple[Grover, str], tmp_path: Path
) -> None:
    grover, token = node
    form = aiohttp.FormData()
    form.add_field("file", png_bytes(), filename="../../../../escaped.png")
    status, reply, _ = await upload(grover, token, form)
    assert status == 201, reply
    assert ".." not in reply["url"] and "escaped" not in reply["url"]
    assert not found(tmp_path, "escaped*")
    # An id in the path is not a route of the upload: nothing is written.
    async with (
        aiohttp.ClientSession() as http,
        http.post(url(grover, "/v1/media/..%2F..%2Fx"), data=b"x") as response,
    ):
        assert response.status in (404, 405)


# --------------------------------------------------------------------------- too large


async def _body(total: int, chunk: int, pause: float, head: bytes) -> AsyncIterator[bytes]:
    """``total`` bytes after ``head``, one reused buffer (the client holds
    no copy of the body either)."""
    yield head
    block = b"\x00" * chunk
    sent = len(head)
    while sent < total:
        yield block
        sent += chunk
        if pause:
            await asyncio.sleep(pause)


async def _peak_rss_during(work: Any) -> tuple[Any, int]:
    """Run ``work``; the growth of this process's RSS over it, sampled every 5 ms."""
    process = psutil.Process()
    base = peak = process.memory_info().rss
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, process.memory_info().rss)
            await asyncio.sleep(0.005)

    sampler = asyncio.create_task(sample())
    try:
        result = await work
    finally:
        done.set()
        await sampler
    return result, peak - base


@pytest.mark.parametrize(("chunk", "pause"), [(MB, 0.0), (256 * 1024, 0.002)], ids=["fast", "slow"])
async def test_51_mb_body_is_413_without_holding_it(
    node: tuple[Grover, str], chunk: int, pause: float
) -> None:
    grover, token = node
    started = time.monotonic()
    (status, reply, _), growth = await _peak_rss_during(
        upload(grover, token, _body(51 * MB, chunk, pause, MP4_HEAD), timeout=60)
    )
    assert (status, reply["error"]["code"]) == (413, "too_large")
    assert growth < 20 * MB, f"RSS grew by {growth / MB:.1f} MB"
    assert time.monotonic() - started < 60
    assert tmp_files(grover) == []


async def test_declared_length_over_the_cap_is_413_at_once(node: tuple[Grover, str]) -> None:
    grover, token = node
    status, reply, _ = await upload(
        grover, token, b"x" * 1024, headers={"Content-Length": str(51 * MB)}, timeout=20
    )
    assert (status, reply["error"]["code"]) == (413, "too_large")


async def test_image_over_its_smaller_cap_is_413(node: tuple[Grover, str]) -> None:
    grover, token = node
    head = jpeg_bytes(64, 64)[:4096]
    status, reply, _ = await upload(grover, token, _body(11 * MB, 256 * 1024, 0.0, head))
    assert (status, reply["error"]["code"]) == (413, "too_large")
    assert tmp_files(grover) == []


# --------------------------------------------------------------------------- limits


async def test_upload_rate_is_429_with_retry_after(start_grover: StartGrover) -> None:
    grover = await start_grover(upload_rate=RateRule(0.01, 2))
    client, token = await login(grover)
    body = png_bytes()
    for _ in range(2):
        assert (await upload(grover, token, body))[0] == 201
    status, reply, headers = await upload(grover, token, body)
    assert (status, reply["error"]["code"]) == (429, "rate_limited")
    assert int(headers["Retry-After"]) >= 1
    await client.close()


async def test_daily_quota_is_429_with_retry_after(start_grover: StartGrover) -> None:
    body = jpeg_bytes()
    grover = await start_grover(upload_daily_bytes=len(body) + len(body) // 2)
    client, token = await login(grover)
    assert (await upload(grover, token, body))[0] == 201
    # Over the quota midway through the body: refused while reading.
    status, reply, headers = await upload(grover, token, body)
    assert (status, reply["error"]["code"]) == (429, "quota_exceeded")
    assert int(headers["Retry-After"]) >= 1
    assert tmp_files(grover) == []
    # A small one still fits; then the quota is used up before reading.
    assert (await upload(grover, token, png_bytes(20, 20)))[0] == 201
    await client.close()
    small = png_bytes(20, 20)
    grover = await start_grover(upload_daily_bytes=len(small))
    client, token = await login(grover)
    assert (await upload(grover, token, small))[0] == 201
    status, reply, headers = await upload(grover, token, small)
    assert (status, reply["error"]["code"]) == (429, "quota_exceeded")
    assert "Retry-After" in headers
    await client.close()


# --------------------------------------------------------------------------- sweep


async def test_sweep_removes_old_unattached_media_only(node: tuple[Grover, str]) -> None:
    grover, token = node
    replies = [(await upload(grover, token, png_bytes()))[1] for _ in range(3)]
    urls = {reply["id"]: reply["url"] for reply in replies}
    kept, attached, swept = (reply["id"] for reply in replies)
    record = await grover.store.media.get(attached)
    assert record is not None
    assert await grover.store.media.attach([attached], record.owner_id, "post:p1")
    # Not yet old enough: nothing goes.
    assert await grover.sweep_media_once() == 0
    # Make one old: pretend a day and a bit passed for the others too, but
    # only unattached media older than the cutoff go.
    later = time.time() + grover.settings.media_unattached_ttl + 1
    assert await grover.sweep_media_once(now=later) == 2
    assert await grover.store.media.get(attached) is not None
    assert await grover.store.media.get(kept) is None
    assert await grover.store.media.get(swept) is None
    for media_id, status in ((kept, 404), (swept, 404), (attached, 200)):
        assert (await fetch(grover, urls[media_id]))[0] == status
