"""The HTTP sidecar (aiohttp), in the same process as the gateway: one module
per route area: ``health.py``, ``media.py`` (uploads), ``media_files.py``
(serving local media), ``paypal.py`` (PayPal's webhooks), ``metrics.py``
(Prometheus), ``app_files.py`` (the web app and its config), ``access.py``
(access lines, unhandled errors)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web
from prometheus_client.registry import CollectorRegistry

from server.context import Services
from server.http import access, app_files, health, media, media_files, metrics, paypal


def make_app(
    state: health.NodeState,
    *,
    media_root: Path | None = None,
    uploads: media.MediaUploads | None = None,
    webhooks: tuple[Services, Callable[[], None]] | None = None,
    prometheus: tuple[CollectorRegistry, Callable[[], Awaitable[None]]] | None = None,
    app_site: app_files.AppSite | None = None,
) -> web.Application:
    """The sidecar's routes; ``media_root`` (the local media storage's
        folder) adds ``GET /media/{id}/{file}``, ``uploads`` ``POST /v1/media``,
        ``webhooks`` (the services and what to call when an event is stored)
        ``POST /v1/webhooks/paypal``, ``prometheus`` (a registry and what to
        refresh before rendering it) ``GET /metrics``, ``app_site`` the web app
    (last: its pages take every path no other route took)."""
    app = web.Application(middlewares=[access.errors])
    health.add_routes(app, state)
    if media_root is not None:
        media_files.add_routes(app, media_root)
    if uploads is not None:
        media.add_routes(app, uploads)
    if webhooks is not None:
        paypal.add_routes(app, *webhooks)
    if prometheus is not None:
        metrics.add_routes(app, *prometheus)
    if app_site is not None:
        app_files.add_routes(app, app_site)
    return app
