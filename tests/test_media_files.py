"""The local media storage and ``GET /media/{id}/{file}``: real files, a real
aiohttp server on 127.0.0.1, and raw HTTP for the traversal attempts (a
client library would normalise them away before sending)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from multidict import CIMultiDict

from actors.ports import MediaFile, MediaStorageError, StoredMedia
from server.http import media_files
from server.media_storage.local import LocalMediaStorage
from tests.conftest import StartGrover

ID = "0123456789abcdef01234567"
OTHER = "fedcba9876543210fedcba98"


def media_file(tmp: Path, variant: str, ext: str, data: bytes, content_type: str) -> MediaFile:
    path = tmp / f"upload-{variant}.{ext}"
    path.write_bytes(data)
    return MediaFile(variant=variant, path=path, content_type=content_type, extension=ext)


def image_files(tmp: Path, tag: bytes = b"1") -> list[MediaFile]:
    return [
        media_file(tmp, "main", "webp", b"RIFF-main-" + tag, "image/webp"),
        media_file(tmp, "thumb", "webp", b"RIFF-thumb-" + tag, "image/webp"),
    ]


# -- storage --------------------------------------------------------------------


async def test_save_lays_out_files_and_urls(tmp_path: Path) -> None:
    root = tmp_path / "media"
    storage = LocalMediaStorage(root, "http://cdn.example/")
    stored = await storage.save(ID, "image", image_files(tmp_path))
    folder = root / ID[:2] / ID
    assert stored == StoredMedia(
        url=f"http://cdn.example/media/{ID}/main.webp",
        thumbnail_url=f"http://cdn.example/media/{ID}/thumb.webp",
        storage_key=ID,
    )
    assert sorted(p.name for p in folder.iterdir()) == ["main.webp", "thumb.webp"]
    assert (folder / "main.webp").read_bytes() == b"RIFF-main-1"
    assert (folder / "main.webp").stat().st_mode & 0o777 == 0o644
    # The caller's temporary files are left for the caller to remove.
    assert (tmp_path / "upload-main.webp").exists()


async def test_save_again_replaces_and_delete_is_idempotent(tmp_path: Path) -> None:
    root = tmp_path / "media"
    storage = LocalMediaStorage(root, lambda: "http://127.0.0.1:1234")
    await storage.save(ID, "image", image_files(tmp_path))
    # A retried upload that turned out to be an animated GIF: the WEBP main goes.
    gif = media_file(tmp_path, "main", "gif", b"GIF89a...", "image/gif")
    stored = await storage.save(ID, "image", [gif, image_files(tmp_path, b"2")[1]])
    folder = root / ID[:2] / ID
    assert sorted(p.name for p in folder.iterdir()) == ["main.gif", "thumb.webp"]
    assert (folder / "thumb.webp").read_bytes() == b"RIFF-thumb-2"
    assert stored.url == f"http://127.0.0.1:1234/media/{ID}/main.gif"
    video = await storage.save(OTHER, "video", [media_file(tmp_path, "main", "mp4", b"v", "")])
    assert video.thumbnail_url is None

    await storage.delete(stored)
    assert not folder.exists()
    await storage.delete(stored)  # already gone: not an error
    assert (root / OTHER[:2] / OTHER / "main.mp4").exists()  # others untouched


@pytest.mark.parametrize(
    "media_id",
    ["../../etc", "0123456789ABCDEF01234567", "0123456789abcdef0123456", "/" + ID[1:], ID + "0"],
)
async def test_bad_ids_refused_before_touching_disk(tmp_path: Path, media_id: str) -> None:
    root = tmp_path / "media"
    storage = LocalMediaStorage(root, "http://x")
    with pytest.raises(ValueError):
        await storage.save(media_id, "image", image_files(tmp_path))
    with pytest.raises(ValueError):
        await storage.delete(StoredMedia(url="", thumbnail_url=None, storage_key=media_id))
    assert not root.exists()


@pytest.mark.parametrize(
    ("variant", "ext"),
    [("main", "exe"), ("../main", "webp"), ("main", "webp/../../x"), ("x", "png")],
)
async def test_bad_file_names_refused(tmp_path: Path, variant: str, ext: str) -> None:
    root = tmp_path / "media"
    bad = MediaFile(variant=variant, path=tmp_path / "f", content_type="", extension=ext)
    with pytest.raises(ValueError):
        await LocalMediaStorage(root, "http://x").save(ID, "image", [bad])
    assert not root.exists()


async def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    root = tmp_path / "media"
    files = image_files(tmp_path)
    files[1].path.unlink()  # the thumbnail vanished: the copy fails half way
    with pytest.raises(MediaStorageError):
        await LocalMediaStorage(root, "http://x").save(ID, "image", files)
    assert not (root / ID[:2] / ID).exists()
    assert not [p for p in root.rglob("*") if p.is_file()]  # no temporary file either


# -- serving ----------------------------------------------------------------------


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[TestServer, Path]]:
    """A sidecar app with the media route on 127.0.0.1, its folder filled
    with an image (WEBP, thumbnail), a GIF and two videos; a secret beside
    the folder that must never be served."""
    root = tmp_path / "media"
    storage = LocalMediaStorage(root, "http://x")
    await storage.save(ID, "image", image_files(tmp_path))
    await storage.save(OTHER, "video", [media_file(tmp_path, "main", "mp4", b"m" * 5000, "")])
    gif_id, mov_id = "a" * 24, "b" * 24
    await storage.save(gif_id, "image", [media_file(tmp_path, "main", "gif", b"GIF89a", "")])
    await storage.save(mov_id, "video", [media_file(tmp_path, "main", "mov", b"qt", "")])
    (tmp_path / "secret.txt").write_text("SECRET")
    app = web.Application()
    media_files.add_routes(app, root)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    yield server, root
    await server.close()


async def get(server: TestServer, path: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{server.port}{path}", headers=headers) as r,
    ):
        return r.status, CIMultiDict(r.headers), await r.read()


async def raw_get(port: int, target: str) -> tuple[int, bytes]:
    """Send ``target`` exactly as written (no client-side normalisation)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    reply = await reader.read()
    writer.close()
    await writer.wait_closed()
    status = int(reply.split(b" ", 2)[1])
    return status, reply


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        (f"/media/{ID}/main.webp", "image/webp", b"RIFF-main-1"),
        (f"/media/{ID}/thumb.webp", "image/webp", b"RIFF-thumb-1"),
        (f"/media/{OTHER}/main.mp4", "video/mp4", b"m" * 5000),
        (f"/media/{'a' * 24}/main.gif", "image/gif", b"GIF89a"),
        (f"/media/{'b' * 24}/main.mov", "video/quicktime", b"qt"),
    ],
)
async def test_serves_with_type_etag_and_cache_headers(
    served: tuple[TestServer, Path], path: str, content_type: str, body: bytes
) -> None:
    server, _ = served
    status, headers, data = await get(server, path)
    assert (status, data) == (200, body)
    assert headers["Content-Type"] == content_type
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert headers["X-Content-Type-Options"] == "nosniff"
    etag = headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")  # strong
    status, headers, data = await get(server, path, **{"If-None-Match": etag})
    assert (status, data) == (304, b"")
    assert headers["ETag"] == etag
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
    status, _, _ = await get(server, path, **{"If-None-Match": '"other"'})
    assert status == 200


async def test_etag_changes_when_the_file_is_replaced(
    served: tuple[TestServer, Path], tmp_path: Path
) -> None:
    server, root = served
    _, first, _ = await get(server, f"/media/{ID}/main.webp")
    await LocalMediaStorage(root, "http://x").save(ID, "image", image_files(tmp_path, b"22"))
    status, second, data = await get(server, f"/media/{ID}/main.webp")
    assert (status, data) == (200, b"RIFF-main-22")
    assert second["ETag"] != first["ETag"]


async def test_byte_ranges_for_video_players(served: tuple[TestServer, Path]) -> None:
    server, _ = served
    status, headers, data = await get(server, f"/media/{OTHER}/main.mp4", Range="bytes=0-99")
    assert (status, len(data)) == (206, 100)
    assert headers["Content-Range"] == "bytes 0-99/5000"


async def test_not_found(served: tuple[TestServer, Path]) -> None:
    server, root = served
    (root / ID[:2] / ID / ".main.webp.abc.tmp").write_bytes(b"half")
    for path in [
        f"/media/{ID}/main.png",  # not stored
        f"/media/{ID}/main.exe",
        f"/media/{ID}/.main.webp.abc.tmp",
        f"/media/{ID}/MAIN.webp",
        f"/media/{ID.upper()}/main.webp",
        f"/media/{ID[:-1]}/main.webp",
        f"/media/{'c' * 24}/main.webp",  # no such medium
        f"/media/{ID}",
        f"/media/{ID}/main.webp/x",
        "/media/",
    ]:
        status, _, data = await get(server, path)
        assert status == 404, path
        assert b"RIFF" not in data


@pytest.mark.parametrize(
    "target",
    [
        "/media/../secret.txt",
        f"/media/{ID}/../../../secret.txt",
        f"/media/{ID}/..%2f..%2f..%2fsecret.txt",
        f"/media/{ID}/%2e%2e/%2e%2e/%2e%2e/secret.txt",
        "/media/%2e%2e/%2e%2e/secret.txt",
        f"/media/{ID}/%2e%2e%2f%2e%2e%2f%2e%2e%2fsecret.txt",
        f"/media/{ID}/..%5c..%5c..%5csecret.txt",
        f"/media/{ID}//etc/passwd",
        "/media//etc/passwd/x",
        f"/media/{ID}/%2fetc%2fpasswd",
        f"/media/{ID}/main.webp%00.txt",
        f"/media/{ID}/main.webp%2f..%2f..%2f..%2f..%2fsecret.txt",
        "/media/%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2f/secret.txt",
    ],
)
async def test_traversal_attempts(served: tuple[TestServer, Path], target: str) -> None:
    server, _ = served
    status, reply = await raw_get(server.port or 0, target)
    assert status in (400, 404), (target, status)
    assert b"SECRET" not in reply
    assert b"root:" not in reply


async def test_symlinks_are_not_followed(served: tuple[TestServer, Path], tmp_path: Path) -> None:
    server, root = served
    # A file that is a link to outside the folder...
    linked = root / "cc" / ("c" * 24)
    linked.mkdir(parents=True)
    os.symlink(tmp_path / "secret.txt", linked / "main.webp")
    # ... and a medium folder that is a link to another place.
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "main.webp").write_text("SECRET")
    (root / "dd").mkdir()
    os.symlink(outside, root / "dd" / ("d" * 24))
    for media_id in ("c" * 24, "d" * 24):
        status, _, data = await get(server, f"/media/{media_id}/main.webp")
        assert status == 404 and b"SECRET" not in data


# -- in the node --------------------------------------------------------------------


async def test_grover_serves_what_its_storage_saved(
    start_grover: StartGrover, tmp_path: Path
) -> None:
    grover = await start_grover()
    stored = await grover.media_storage.save(ID, "image", image_files(tmp_path))
    assert stored.url == f"http://127.0.0.1:{grover.sidecar_port}/media/{ID}/main.webp"
    async with aiohttp.ClientSession() as session:
        async with session.get(stored.url) as r:
            assert (r.status, r.headers["Content-Type"]) == (200, "image/webp")
            assert await r.read() == b"RIFF-main-1"
        assert stored.thumbnail_url is not None
        async with session.get(stored.thumbnail_url) as r:
            assert r.status == 200
    assert (grover.settings.data_dir / "media" / ID[:2] / ID / "main.webp").exists()
    await grover.media_storage.delete(stored)
    async with aiohttp.ClientSession() as session, session.get(stored.url) as r:
        assert r.status == 404


async def test_media_public_url_setting(start_grover: StartGrover, tmp_path: Path) -> None:
    grover = await start_grover(media_public_url="https://media.example.com")
    stored = await grover.media_storage.save(ID, "image", image_files(tmp_path))
    assert stored.url == f"https://media.example.com/media/{ID}/main.webp"
