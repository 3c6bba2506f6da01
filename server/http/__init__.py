"""The HTTP sidecar (aiohttp), in the same process as the gateway: one module
per route area (``health.py`` now; uploads, PayPal webhooks and metrics join
it as ``media.py``, ``paypal.py``, ``metrics.py``)."""

from __future__ import annotations

from aiohttp import web

from server.http import health


def make_app(state: health.NodeState) -> web.Application:
    app = web.Application()
    health.add_routes(app, state)
    return app
