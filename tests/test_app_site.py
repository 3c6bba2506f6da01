"""The web app on the sidecar (server/http/app_files.py): its config, its
files, the single-page fallback, and that it never shadows another route or
reads outside its folder."""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from server.app import Grover
from tests.conftest import StartGrover

BUNDLE = "_expo/static/js/web/entry-abc123.js"


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    root = tmp_path / "dist"
    (root / BUNDLE).parent.mkdir(parents=True)
    (root / "index.html").write_text("<!doctype html><title>Grover</title>")
    (root / BUNDLE).write_text("console.log('grover')")
    (tmp_path / "secret.txt").write_text("not for the web")
    return root


def sidecar(grover: Grover) -> str:
    return f"http://127.0.0.1:{grover.sidecar_port}"


async def get(url: str, **headers: str) -> tuple[int, str, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.get(url, headers=headers) as r:
        return r.status, await r.text(), dict(r.headers)


async def test_config_names_the_gateway(start_grover: StartGrover) -> None:
    grover = await start_grover()
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sidecar(grover)}/app/config.json") as r,
    ):
        assert r.status == 200
        config = await r.json()
        # An app in development (another port) may read it.
        assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert config == {
        "gateway_url": f"ws://127.0.0.1:{grover.gateway.port}/",
        "sidecar_url": sidecar(grover),
        "payments": False,
        "live_video": False,
        "checkout_return_url": "grover://paypal/return",
    }


async def test_config_uses_the_host_the_app_was_loaded_from(start_grover: StartGrover) -> None:
    """A phone on the LAN asked the sidecar by its address: the gateway is there too."""
    grover = await start_grover()
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sidecar(grover)}/app/config.json", headers={"Host": "192.0.2.7:8080"}) as r,
    ):
        config = await r.json()
    assert config["gateway_url"] == f"ws://192.0.2.7:{grover.gateway.port}/"
    assert config["sidecar_url"] == "http://192.0.2.7:8080"


async def test_public_url_wins(start_grover: StartGrover) -> None:
    grover = await start_grover(public_url="wss://grover.example.com/ws")
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{sidecar(grover)}/app/config.json") as r,
    ):
        assert (await r.json())["gateway_url"] == "wss://grover.example.com/ws"


async def test_serves_the_export_with_a_single_page_fallback(
    start_grover: StartGrover, app_dir: Path
) -> None:
    grover = await start_grover(app_dir=str(app_dir))
    base = sidecar(grover)
    status, body, headers = await get(f"{base}/")
    assert (status, body) == (200, "<!doctype html><title>Grover</title>")
    assert headers["Cache-Control"] == "no-cache"
    status, body, headers = await get(f"{base}/{BUNDLE}")
    assert (status, body) == (200, "console.log('grover')")
    assert "immutable" in headers["Cache-Control"]
    # A route of the app's router is no file: the page, and the router takes it.
    for path in ("/post/abc", "/user/@anna", "/paypal/return?token=X&PayerID=Y"):
        status, body, _ = await get(base + path)
        assert (status, body) == (200, "<!doctype html><title>Grover</title>"), path


async def test_other_routes_are_not_shadowed(start_grover: StartGrover, app_dir: Path) -> None:
    grover = await start_grover(app_dir=str(app_dir))
    status, body, _ = await get(f"{sidecar(grover)}/healthz")
    assert status == 200 and "Grover" not in body
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{sidecar(grover)}/v1/media", data=b"x") as r,
    ):
        assert r.status == 401  # the uploads route answered, not the app


async def test_never_reads_outside_the_folder(start_grover: StartGrover, app_dir: Path) -> None:
    grover = await start_grover(app_dir=str(app_dir))
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/_expo/../../secret.txt"):
        status, body, _ = await get(sidecar(grover) + path)
        assert "not for the web" not in body, path
        assert status in (200, 404), path


async def test_without_the_app(start_grover: StartGrover) -> None:
    grover = await start_grover()
    status, _, _ = await get(f"{sidecar(grover)}/")
    assert status == 404


async def test_export_missing_says_how_to_build_it(
    start_grover: StartGrover, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    grover = await start_grover(app_dir=str(empty))
    status, body, _ = await get(f"{sidecar(grover)}/feed")
    assert status == 404 and "make app" in body
