"""``GET /metrics``: the node's Prometheus metrics in the text format. The
route exists only when the ``metrics`` setting is on (otherwise 404)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry


def add_routes(
    app: web.Application, registry: CollectorRegistry, refresh: Callable[[], Awaitable[None]]
) -> None:
    """``refresh`` reads what collectors cannot read synchronously (Redis's
    stream figures) just before rendering."""

    async def metrics(request: web.Request) -> web.Response:
        await refresh()
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.router.add_get("/metrics", metrics)
