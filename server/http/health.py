"""``/healthz`` and ``/readyz``: what a load balancer and an orchestrator ask;
``/stats``: the node's counters since start, for operators and the bench."""

from __future__ import annotations

from typing import Any, Protocol

from aiohttp import web


class NodeState(Protocol):
    """What the health routes read of the node."""

    @property
    def node_id(self) -> str: ...

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Whether the node is ready, and the facts that decided it."""

    def stats(self) -> dict[str, Any]:
        """Counters since start (JSON-able): connections, sessions, the
        store's writes, and in a cluster the Redis traffic."""


def add_routes(app: web.Application, state: NodeState) -> None:
    async def healthz(request: web.Request) -> web.Response:
        """Alive: the event loop answers."""
        return web.json_response({"status": "ok", "node": state.node_id})

    async def readyz(request: web.Request) -> web.Response:
        """Ready: accepting websockets, the store answers, and (in a cluster)
        the last heartbeat and inbox read reached Redis. ``cluster`` shows
        this node's view of the membership."""
        ready, facts = await state.readiness()
        body = {"status": "ready" if ready else "not ready", **facts}
        return web.json_response(body, status=200 if ready else 503)

    async def stats(request: web.Request) -> web.Response:
        """Counters since the node started; a reader takes differences
        between two reads (fields: ``docs/deployment.md``, "Health")."""
        return web.json_response(state.stats())

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/stats", stats)
