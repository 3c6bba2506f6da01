"""The HTTP sidecar (aiohttp), in the same process as the gateway: one module
per route area (``health.py`` now; uploads, PayPal webhooks and metrics join
it as ``media.py``, ``paypal.py``, ``metrics.py``)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from server.http import health, media_files


def make_app(state: health.NodeState, *, media_root: Path | None = None) -> web.Application:
    """The sidecar's routes; ``media_root`` (the local media storage's
    folder) adds ``GET /media/{id}/{file}``."""
    app = web.Application()
    health.add_routes(app, state)
    if media_root is not None:
        media_files.add_routes(app, media_root)
    return app
