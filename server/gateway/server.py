"""The websocket server: accepts sockets and runs a :class:`Connection` for each."""

from __future__ import annotations

import asyncio
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response as HttpResponse

from protocol import limits
from protocol.errors import CloseCode
from server.context import HandlerTable, Services
from server.gateway.connection import Connection, peer_ip
from server.gateway.sessions import SessionRegistry


class Gateway:
    """Accepts websockets and runs a :class:`Connection` for each."""

    def __init__(
        self, services: Services, sessions: SessionRegistry, handlers: HandlerTable
    ) -> None:
        self.services = services
        self.sessions = sessions
        self.handlers = handlers
        self.connections: set[Connection] = set()
        self._server: Server | None = None

    async def start(self) -> None:
        settings = self.services.settings
        self._server = await serve(
            self._handle,
            settings.host,
            settings.port,
            compression=None,
            max_size=limits.MAX_FRAME_BYTES,
            max_queue=64,
            ping_interval=settings.heartbeat_interval,
            ping_timeout=settings.heartbeat_interval,
            close_timeout=2,
            process_request=self._admit,
        )

    @property
    def port(self) -> int:
        assert self._server is not None
        sockets = list(self._server.sockets)
        return int(sockets[0].getsockname()[1])

    async def _admit(self, ws: ServerConnection, request: HttpRequest) -> HttpResponse | None:
        """Per-IP token bucket for new connections, answered before the upgrade."""
        wait = await self.services.limiter.acquire(
            f"conn:{peer_ip(ws)}", self.services.settings.rate_connect
        )
        if wait <= 0:
            return None
        headers = Headers([("Retry-After", str(max(1, round(wait))))])
        return HttpResponse(
            HTTPStatus.TOO_MANY_REQUESTS, "Too Many Requests", headers, b"too many connections\n"
        )

    async def _handle(self, ws: ServerConnection) -> None:
        connection = Connection(ws, self.services, self.sessions, self.handlers)
        self.connections.add(connection)
        try:
            await connection.serve()
        finally:
            self.connections.discard(connection)

    async def stop(self, grace: float) -> None:
        """Stop accepting, let outboxes drain (bounded), then close with 1001."""
        if self._server is None:
            return
        self._server.close(close_connections=False)
        connections = list(self.connections)
        if connections:
            await asyncio.gather(*(c.drain(grace) for c in connections))
            for connection in connections:
                connection.close_soon(CloseCode.GOING_AWAY, "server shutting down")
        await self._server.wait_closed()
