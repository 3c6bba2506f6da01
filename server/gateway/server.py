"""The websocket server: accepts sockets and runs a :class:`Connection` for each.

Before the upgrade it refuses, with a plain HTTP answer and a log line, what
would hurt the node: too many new connections from one IP (429, a rate),
too many open at once from one IP (429, a cap), and more than the node can
hold open at all (503): that cap stays below the process's open-file limit by
a reserve, so that when connections pile up, health checks, the store, Redis
and logging still get file descriptors.
"""

from __future__ import annotations

import asyncio
import logging
import math
import resource
import sys
import time
from collections import Counter
from http import HTTPStatus

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response as HttpResponse

from protocol import limits
from protocol.errors import CloseCode
from server.context import HandlerTable, Services
from server.gateway.connection import Connection, WriteBatcher, peer_ip
from server.gateway.sessions import SessionRegistry

log = logging.getLogger("grover.gateway")

FD_RESERVE = 128
"""File descriptors kept free of websockets: the listening sockets, the
sidecar and its health checks, SQLite (database, WAL, shared memory), Redis
connections, log files, and the sockets of refused handshakes."""


def connection_cap(configured: int) -> int:
    """How many websockets this node holds open at most: ``configured``, or
    the open-file limit minus :data:`FD_RESERVE` when that is lower or when
    ``configured`` is 0 (at least 1)."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    caps = [configured] if configured > 0 else []
    if soft != resource.RLIM_INFINITY:
        caps.append(soft - FD_RESERVE)
    return max(1, min(caps)) if caps else sys.maxsize


class _Throttled:
    """At most one log line per second per reason: a flood of refused
    connections must not become a flood of log lines (and of disk writes)."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def warning(self, reason: str, **extra: object) -> None:
        now = time.monotonic()
        if now - self._last.get(reason, -math.inf) < 1.0:
            self._suppressed[reason] += 1
            return
        self._last[reason] = now
        suppressed = self._suppressed.pop(reason, 0)
        log.warning(reason, extra={**extra, "suppressed_since_last": suppressed})


class Gateway:
    """Accepts websockets and runs a :class:`Connection` for each."""

    def __init__(
        self, services: Services, sessions: SessionRegistry, handlers: HandlerTable
    ) -> None:
        self.services = services
        self.sessions = sessions
        self.handlers = handlers
        self.connections: set[Connection] = set()
        self.max_connections = connection_cap(services.settings.max_connections)
        self._open = 0
        """Sockets admitted and not yet gone (handshakes included)."""
        self._open_per_ip: Counter[str] = Counter()
        self._refusals = _Throttled()
        self._batcher = WriteBatcher()
        self._server: Server | None = None

    async def start(self) -> None:
        settings = self.services.settings
        if settings.max_connections > self.max_connections:
            log.warning(
                "max_connections %d lowered to %d: the open-file limit minus a reserve of %d",
                settings.max_connections,
                self.max_connections,
                FD_RESERVE,
            )
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
        """Answer before the upgrade: 503 when the node is full, 429 when the
        IP has too many connections open or opens them too fast; otherwise
        count the socket in until it is gone."""
        settings = self.services.settings
        ip = peer_ip(ws)
        if self._open >= self.max_connections:
            self._refusals.warning(
                "connection refused: node full",
                peer=ip,
                open=self._open,
                max_connections=self.max_connections,
            )
            self._count_refusal("full")
            return _refusal(HTTPStatus.SERVICE_UNAVAILABLE, 1, b"server full\n")
        if self._open_per_ip[ip] >= settings.max_connections_per_ip:
            self._refusals.warning(
                "connection refused: too many open from this IP",
                peer=ip,
                open=self._open_per_ip[ip],
            )
            self._count_refusal("per_ip")
            return _refusal(HTTPStatus.TOO_MANY_REQUESTS, 1, b"too many connections\n")
        wait = await self.services.limiter.acquire(f"conn:{ip}", settings.rate_connect)
        if wait > 0:
            self._count_refusal("rate")
            return _refusal(
                HTTPStatus.TOO_MANY_REQUESTS, math.ceil(wait), b"too many connections\n"
            )
        # Counted from here, not from the handler: concurrent handshakes would
        # otherwise all pass the check. Released when the socket is gone,
        # however the handshake or the connection ends.
        self._open += 1
        self._open_per_ip[ip] += 1
        ws.connection_lost_waiter.add_done_callback(lambda _: self._release(ip))
        return None

    def _count_refusal(self, reason: str) -> None:
        metrics = self.services.metrics
        if metrics is not None:
            metrics.connections_refused.inc(reason)
            if reason == "rate":
                metrics.rate_limited.inc("connect")

    def _release(self, ip: str) -> None:
        self._open -= 1
        self._open_per_ip[ip] -= 1
        if self._open_per_ip[ip] <= 0:
            del self._open_per_ip[ip]

    async def _handle(self, ws: ServerConnection) -> None:
        connection = Connection(ws, self.services, self.sessions, self.handlers, self._batcher)
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


def _refusal(status: HTTPStatus, retry_after: int, body: bytes) -> HttpResponse:
    headers = Headers([("Retry-After", str(max(1, retry_after)))])
    return HttpResponse(status, status.phrase, headers, body)
