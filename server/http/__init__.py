"""The HTTP sidecar (aiohttp), in the same process as the gateway: one module
per route area: ``health.py``, ``media.py`` (uploads); PayPal webhooks and
metrics join it as ``paypal.py``, ``metrics.py``."""

from __future__ import annotations

from aiohttp import web

from server.http import health, media


def make_app(state: health.NodeState, uploads: media.MediaUploads | None = None) -> web.Application:
    """The sidecar's routes; uploads only when given (a node always gives them)."""
    app = web.Application()
    health.add_routes(app, state)
    if uploads is not None:
        media.add_routes(app, uploads)
    return app
