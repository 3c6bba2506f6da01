"""Cloudinary media storage against a local fake Cloudinary that checks every
request's signature (tests/fake_cloudinary.py); never the real service."""

from __future__ import annotations

import asyncio
import hashlib
import os
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from actors.ports import MediaFile, MediaStorageError, StoredMedia
from server.config import Settings, env_name, from_argv
from server.media_storage.cloudinary import (
    CloudinaryConfig,
    CloudinaryMediaStorage,
    api_sign,
)
from server.wiring import make_media_storage
from tests.fake_cloudinary import FakeCloudinary

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x07\xd0\x00\x00\x03\xe8\x08\x02\x00\x00\x00"
    + bytes(range(256)) * 64
)
"""A PNG header saying 2000 x 1000, and bytes of every value after it."""


@pytest.fixture
async def fake() -> AsyncIterator[FakeCloudinary]:
    server = await FakeCloudinary().start()
    yield server
    await server.stop()


def _storage(url: str, **options: float) -> CloudinaryMediaStorage:
    options = {"timeout": 2.0, "attempts": 3, "backoff": 0.01, **options}
    return CloudinaryMediaStorage(
        CloudinaryConfig.parse(url),
        timeout=options["timeout"],
        attempts=int(options["attempts"]),
        backoff=options["backoff"],
    )


@pytest.fixture
async def storage(fake: FakeCloudinary) -> AsyncIterator[CloudinaryMediaStorage]:
    store = _storage(fake.url())
    yield store
    await store.close()


def _file(tmp_path: Path, data: bytes, variant: str = "main", ext: str = "png") -> MediaFile:
    path = tmp_path / f"{variant}.{ext}"
    path.write_bytes(data)
    types = {"png": "image/png", "webp": "image/webp", "mp4": "video/mp4"}
    return MediaFile(variant=variant, path=path, content_type=types[ext], extension=ext)


# ------------------------------------------------------------------ saving


async def test_save_image_uploads_main_signed_with_our_id(
    fake: FakeCloudinary, storage: CloudinaryMediaStorage, tmp_path: Path
) -> None:
    files = [_file(tmp_path, PNG), _file(tmp_path, b"thumb bytes", "thumb", "webp")]
    stored = await storage.save("m_01HZX4", "image", files)

    asset = fake.assets["image", "m_01HZX4"]
    assert asset.data == PNG  # bytes intact
    assert asset.content_type == "image/png"
    assert [r.status for r in fake.requests] == [200]  # one request: signature accepted
    fields = fake.requests[0].fields
    assert fields["public_id"] == "m_01HZX4" and fields["overwrite"] == "true"
    assert fields["api_key"] == fake.api_key and fake.api_secret not in fields.values()
    assert (
        stored.url
        == f"https://res.cloudinary.com/grover-test/image/upload/v{asset.version}/m_01HZX4.png"
    )
    assert stored.thumbnail_url == (
        f"https://res.cloudinary.com/grover-test/image/upload/c_limit,w_320/v{asset.version}/m_01HZX4.png"
    )
    assert stored.storage_key == "image/m_01HZX4"
    assert storage.name == "cloudinary"


async def test_save_video_streams_a_large_file_and_has_no_thumbnail(
    fake: FakeCloudinary, storage: CloudinaryMediaStorage, tmp_path: Path
) -> None:
    video = os.urandom(3 * 1024 * 1024 + 17)
    stored = await storage.save("v-1", "video", [_file(tmp_path, video, ext="mp4")])
    asset = fake.assets["video", "v-1"]
    assert hashlib.sha256(asset.data).digest() == hashlib.sha256(video).digest()
    assert asset.content_type == "video/mp4"
    assert stored.thumbnail_url is None
    assert stored.storage_key == "video/v-1"
    assert "/video/upload/" in stored.url


async def test_saving_the_same_id_again_replaces_never_duplicates(
    fake: FakeCloudinary, storage: CloudinaryMediaStorage, tmp_path: Path
) -> None:
    await storage.save("same", "image", [_file(tmp_path, b"first")])
    second = await storage.save("same", "image", [_file(tmp_path, b"second")])
    assert list(fake.assets) == [("image", "same")]
    assert fake.assets["image", "same"].data == b"second"
    assert f"/v{fake.assets['image', 'same'].version}/" in second.url


async def test_retries_5xx_then_succeeds(
    fake: FakeCloudinary, storage: CloudinaryMediaStorage, tmp_path: Path
) -> None:
    fake.fail_next(2, 500)
    await storage.save("retry", "image", [_file(tmp_path, PNG)])
    assert [r.status for r in fake.requests] == [500, 500, 200]
    assert fake.assets["image", "retry"].data == PNG  # the file re-sent whole each time
    assert len(fake.assets) == 1


async def test_gives_up_after_the_attempts_and_says_so(
    fake: FakeCloudinary, storage: CloudinaryMediaStorage, tmp_path: Path
) -> None:
    fake.fail_next(3, 503)
    with pytest.raises(MediaStorageError, match="HTTP 503"):
        await storage.save("down", "image", [_file(tmp_path, PNG)])
    # Three attempts, then a best-effort destroy so nothing is left behind.
    assert [(r.action, r.status) for r in fake.requests] == [
        ("upload", 503),
        ("upload", 503),
        ("upload", 503),
        ("destroy", 200),
    ]
    assert fake.assets == {}


async def test_4xx_is_not_retried(
    fake: FakeCloudinary, storage: CloudinaryMediaStorage, tmp_path: Path
) -> None:
    fake.fail_next(1, 400)
    with pytest.raises(MediaStorageError, match="HTTP 400"):
        await storage.save("bad", "image", [_file(tmp_path, PNG)])
    assert [r.status for r in fake.requests] == [400]


async def test_a_hanging_service_times_out(fake: FakeCloudinary, tmp_path: Path) -> None:
    store = _storage(fake.url(), timeout=0.3, attempts=2)
    fake.hang_next(2)
    started = time.monotonic()
    try:
        with pytest.raises(MediaStorageError, match="timed out"):
            await store.save("slow", "image", [_file(tmp_path, PNG)])
    finally:
        await store.close()
    assert time.monotonic() - started < 2.0
    assert [r.action for r in fake.requests] == ["upload", "upload", "destroy"]


async def test_unreachable_service_is_a_storage_error(tmp_path: Path) -> None:
    url = f"cloudinary://k:s3cret@c?upload_prefix=http://127.0.0.1:{_closed_port()}"
    store = _storage(url, attempts=2)
    try:
        with pytest.raises(MediaStorageError, match="network error") as caught:
            await store.save("x", "image", [_file(tmp_path, PNG)])
    finally:
        await store.close()
    assert "s3cret" not in str(caught.value)


def _closed_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize(
    ("change", "status"),
    [({"api_secret": "wrong-secret-value"}, 401), ({"api_key": "999"}, 401)],
)
async def test_bad_credentials_are_refused_without_leaking_the_secret(
    fake: FakeCloudinary, tmp_path: Path, change: dict[str, str], status: int
) -> None:
    store = _storage(fake.url(**change))
    try:
        with pytest.raises(MediaStorageError) as caught:
            await store.save("sig", "image", [_file(tmp_path, PNG)])
    finally:
        await store.close()
    text = f"{caught.value!s} {caught.value!r} {caught.value.__cause__!r}"
    assert f"HTTP {status}" in text
    assert "wrong-secret-value" not in text and fake.api_secret not in text
    assert [r.status for r in fake.requests] == [status]  # not retried
    assert fake.assets == {}


async def test_the_fake_refuses_stale_and_unsigned_requests(fake: FakeCloudinary) -> None:
    url = f"http://127.0.0.1:{fake.port}/v1_1/{fake.cloud_name}/image/destroy"
    stale = {"public_id": "x", "timestamp": str(int(time.time()) - 3700)}
    stale |= {"signature": api_sign(stale, fake.api_secret), "api_key": fake.api_key}
    unsigned = {"public_id": "x", "timestamp": str(int(time.time())), "api_key": fake.api_key}
    async with aiohttp.ClientSession() as session:
        for form, message in [(stale, "Stale request"), (unsigned, "signature")]:
            async with session.post(url, data=form) as response:
                assert response.status == 400
                assert message in (await response.json())["error"]["message"]


async def test_sha256_accounts(tmp_path: Path) -> None:
    fake = await FakeCloudinary(algorithm="sha256").start()
    store = _storage(fake.url() + "&signature_algorithm=sha256")
    try:
        await store.save("s256", "image", [_file(tmp_path, PNG)])
        assert len(fake.requests[0].fields["signature"]) == 64
    finally:
        await store.close()
        await fake.stop()


# ---------------------------------------------------------------- deleting


async def test_delete_destroys_and_invalidates(
    fake: FakeCloudinary, storage: CloudinaryMediaStorage, tmp_path: Path
) -> None:
    stored = await storage.save("gone", "video", [_file(tmp_path, b"mp4", ext="mp4")])
    await storage.delete(stored)
    assert fake.assets == {}
    destroy = fake.requests[-1]
    assert (destroy.action, destroy.resource_type, destroy.status) == ("destroy", "video", 200)
    assert destroy.fields["public_id"] == "gone" and destroy.fields["invalidate"] == "true"


async def test_deleting_a_missing_medium_is_fine(
    fake: FakeCloudinary, storage: CloudinaryMediaStorage
) -> None:
    await storage.delete(StoredMedia(url="u", thumbnail_url=None, storage_key="image/never"))
    assert fake.requests[-1].status == 200


async def test_delete_retries_5xx(fake: FakeCloudinary, storage: CloudinaryMediaStorage) -> None:
    fake.fail_next(1, 502)
    await storage.delete(StoredMedia(url="u", thumbnail_url=None, storage_key="image/a"))
    assert [r.status for r in fake.requests] == [502, 200]


async def test_refuses_ids_that_are_not_plain(
    storage: CloudinaryMediaStorage, tmp_path: Path
) -> None:
    for media_id in ("../x", "a/b", "", "x y", "..", "a?b"):
        with pytest.raises(ValueError):
            await storage.save(media_id, "image", [_file(tmp_path, PNG)])
    with pytest.raises(MediaStorageError):
        await storage.delete(StoredMedia(url="u", thumbnail_url=None, storage_key="raw/x"))


# ----------------------------------------------------------------- signing


def test_signature_follows_the_documented_rule() -> None:
    params = {"public_id": "a&b", "timestamp": "1315060510", "overwrite": "true", "tags": ""}
    payload = "overwrite=true&public_id=a%26b&timestamp=1315060510abcd"
    assert api_sign(params | {"api_key": "k", "file": "f"}, "abcd") == (
        hashlib.sha1(payload.encode()).hexdigest()
    )


def test_signature_matches_the_cloudinary_sdk() -> None:
    utils = pytest.importorskip("cloudinary.utils")
    params = {
        "public_id": "m_01HZX4&x=1",
        "timestamp": str(int(time.time())),
        "overwrite": "true",
        "invalidate": "true",
        "folder": "",
    }
    for algorithm in ("sha1", "sha256"):
        reference = utils.api_sign_request(dict(params), "s3cr3t", algorithm)
        assert api_sign(params, "s3cr3t", algorithm) == reference


# ------------------------------------------------------------ configuration


def test_config_parses_the_standard_url() -> None:
    config = CloudinaryConfig.parse("cloudinary://123456:abc-DEF_ghi@my-cloud")
    assert (config.cloud_name, config.api_key, config.api_secret) == (
        "my-cloud",
        "123456",
        "abc-DEF_ghi",
    )
    assert config.upload_prefix == "https://api.cloudinary.com"
    assert config.signature_algorithm == "sha1"
    local = CloudinaryConfig.parse("cloudinary://k:s@c?upload_prefix=http://127.0.0.1:9999/")
    assert local.api_url("video", "upload") == "http://127.0.0.1:9999/v1_1/c/video/upload"


def test_config_never_shows_the_credentials() -> None:
    config = CloudinaryConfig.parse("cloudinary://123456:TopSecret@my-cloud")
    storage = CloudinaryMediaStorage(config)
    for text in (repr(config), str(config), repr(storage)):
        assert "TopSecret" not in text and "123456" not in text
        assert "my-cloud" in text


@pytest.mark.parametrize(
    "url",
    [
        "https://123456:TopSecret@my-cloud",
        "cloudinary://123456@my-cloud",
        "cloudinary://:TopSecret@my-cloud",
        "cloudinary://123456:TopSecret@",
        "cloudinary://123456:TopSecret@bad/cloud",
        "cloudinary://123456:TopSecret@c?upload_prefix=ftp://x",
        "cloudinary://123456:TopSecret@c?signature_algorithm=md5",
    ],
)
def test_bad_urls_are_refused_without_quoting_them(url: str) -> None:
    with pytest.raises(ValueError) as caught:
        CloudinaryConfig.parse(url)
    assert "TopSecret" not in str(caught.value)


async def test_setting_is_read_from_CLOUDINARY_URL_and_wired(fake: FakeCloudinary) -> None:
    assert env_name("cloudinary_url") == "CLOUDINARY_URL"
    settings = from_argv([], {"CLOUDINARY_URL": fake.url()})
    assert settings.cloudinary_url == fake.url()
    assert fake.api_secret not in repr(settings)
    storage = make_media_storage(settings)
    assert isinstance(storage, CloudinaryMediaStorage)
    assert storage.config.upload_prefix == f"http://127.0.0.1:{fake.port}"
    assert Settings().cloudinary_url is None
    with pytest.raises(ValueError) as caught:
        make_media_storage(Settings(cloudinary_url="cloudinary://k:TopSecret@"))
    assert "TopSecret" not in str(caught.value)


async def test_close_is_idempotent_and_the_session_is_shared(
    fake: FakeCloudinary, tmp_path: Path
) -> None:
    store = _storage(fake.url())
    await asyncio.gather(*(store.save(f"p{i}", "image", [_file(tmp_path, PNG)]) for i in range(3)))
    assert len(fake.assets) == 3
    session = store._session
    assert session is not None
    await store.close()
    await store.close()
    assert session.closed
