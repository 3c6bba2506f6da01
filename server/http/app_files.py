"""The web app on the sidecar: ``GET /app/config.json`` (where the gateway
is, for an app served from here or pointed here) and, with ``app_dir`` set
(``make run`` sets it to ``frontend/dist``), the app's web export at ``/``.

The export is a single-page app: a path that is no file gets ``index.html``
and the app's router takes it from there. Files are only ever read from
inside ``app_dir``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

__all__ = ["AppSite", "add_routes"]


@dataclasses.dataclass(frozen=True)
class AppSite:
    root: Path | None
    """The web export's folder, or None to serve only the config."""
    gateway_port: Callable[[], int]
    public_url: str
    """The gateway's ``ws://`` URL when set (a proxy in front); otherwise the
    host the page was asked from, on the gateway's port."""
    payments: bool
    live_video: bool
    checkout_return_url: str
    """Where PayPal sends the buyer back (the native app opens its session on it)."""

    def config(self, request: web.Request) -> dict[str, object]:
        host = request.url.host or "127.0.0.1"
        if ":" in host:
            host = f"[{host}]"
        gateway = self.public_url or f"ws://{host}:{self.gateway_port()}/"
        return {
            "gateway_url": gateway,
            "sidecar_url": f"{request.scheme}://{request.host}",
            "payments": self.payments,
            "live_video": self.live_video,
            "checkout_return_url": self.checkout_return_url,
        }


def add_routes(app: web.Application, site: AppSite) -> None:
    async def config(request: web.Request) -> web.Response:
        # Any origin may read it: an app in development runs on its own port.
        return web.json_response(site.config(request), headers={"Access-Control-Allow-Origin": "*"})

    app.router.add_get("/app/config.json", config)
    root = site.root
    if root is None:
        return
    root = root.resolve()
    index = root / "index.html"

    async def page(request: web.Request) -> web.StreamResponse:
        wanted = (root / request.match_info["path"]).resolve()
        if wanted.is_relative_to(root) and wanted.is_file():
            # Hashed bundles never change under their name; pages may.
            cached = "/_expo/" in request.path or "/assets/" in request.path
            policy = "public, max-age=31536000, immutable" if cached else "no-cache"
            return web.FileResponse(wanted, headers={"Cache-Control": policy})
        if not index.is_file():
            raise web.HTTPNotFound(text="the web app is not built: run `make app`")
        return web.FileResponse(index, headers={"Cache-Control": "no-cache"})

    # Registered last by make_app, so every other route is matched first.
    app.router.add_get("/{path:.*}", page)
