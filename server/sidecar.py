"""The HTTP sidecar (aiohttp): health and readiness now; uploads and PayPal
webhooks join it later. It runs in the same process as the gateway."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from server.app import Grover


def make_app(grover: Grover) -> web.Application:
    async def healthz(request: web.Request) -> web.Response:
        """Alive: the event loop answers."""
        return web.json_response({"status": "ok", "node": grover.settings.node})

    async def readyz(request: web.Request) -> web.Response:
        """Ready: accepting websockets, the store answers, and (in a cluster)
        the last heartbeat and inbox read reached Redis. ``cluster`` shows
        this node's view of the membership."""
        store_ok = await grover.store.ping()
        cluster = grover.cluster.status() if grover.cluster is not None else None
        ready = grover.accepting and store_ok and (cluster is None or cluster["healthy"])
        body = {
            "status": "ready" if ready else "not ready",
            "accepting": grover.accepting,
            "store": store_ok,
            "connections": len(grover.gateway.connections),
            "sessions": len(grover.sessions),
            "cluster": cluster,
        }
        return web.json_response(body, status=200 if ready else 503)

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    return app
