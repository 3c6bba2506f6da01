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
from typing import TYPE_CHECKING

from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request as HttpRequest
from websockets.http11 import Response as HttpResponse

from protocol import limits
from protocol.errors import CloseCode
from server.context import HandlerTable, Services
from server.gateway.connection import Connection, WriteBatcher
from server.gateway.sessions import SessionRegistry
from server.gateway.transport import Socket
from server.gateway.transport.websockets_socket import WebsocketsSocket, peer_ip

if TYPE_CHECKING:
    from server.gateway.transport.picows_socket import PicowsSocket

log = logging.getLogger("grover.gateway")

MAX_QUEUE = 64
"""Messages read from a socket and not yet handled above which reading stops."""

HANDSHAKE_TIMEOUT = 10.0
"""Seconds from TCP accept to a complete websocket upgrade."""

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
        self._server: Server | asyncio.Server | None = None
        self._admissions: set[asyncio.Task[None]] = set()
        """picows sockets being admitted and served (their tasks, held here)."""

    async def start(self) -> None:
        settings = self.services.settings
        if settings.max_connections > self.max_connections:
            log.warning(
                "max_connections %d lowered to %d: the open-file limit minus a reserve of %d",
                settings.max_connections,
                self.max_connections,
                FD_RESERVE,
            )
        if settings.transport == "picows":
            self._server = await self._serve_picows()
            return
        self._server = await serve(
            self._handle,
            settings.host,
            settings.port,
            compression=None,
            max_size=limits.MAX_FRAME_BYTES,
            max_queue=MAX_QUEUE,
            open_timeout=HANDSHAKE_TIMEOUT,
            ping_interval=settings.heartbeat_interval,
            ping_timeout=settings.heartbeat_interval,
            close_timeout=2,
            process_request=self._admit,
        )

    async def _serve_picows(self) -> asyncio.Server:
        # Imported here: a node on the default transport never loads picows
        # (~20 ms of every start: `python -X importtime -c "import server.app"`).
        from picows import (  # noqa: PLC0415 (only on this transport)
            WSListener,
            WSUpgradeRequest,
            WSUpgradeResponse,
            WSUpgradeResponseWithListener,
            ws_create_server,
        )

        from server.gateway.transport.picows_socket import (  # noqa: PLC0415
            PicowsLog,
            PicowsSocket,
        )

        def upgrade(request: WSUpgradeRequest) -> WSUpgradeResponseWithListener | WSListener:
            """picows' upgrade callback: synchronous and without the peer's
            address, so only the node-wide cap can answer here (HTTP 503);
            the per-IP checks run once the socket is open (:meth:`_admit_picows`)."""
            if self._open >= self.max_connections:
                self._refuse_full("unknown")
                response = WSUpgradeResponse.create_error_response(
                    HTTPStatus.SERVICE_UNAVAILABLE, b"server full\n", {"Retry-After": "1"}
                )
                return WSUpgradeResponseWithListener(response, None)
            return PicowsSocket(self._open_picows, MAX_QUEUE)

        settings = self.services.settings
        # picows logs every accepted connection at INFO; the gateway logs its
        # own line per connection, with the session.
        picows_log = logging.getLogger("grover.picows")
        picows_log.setLevel(logging.WARNING)
        server: asyncio.Server = await ws_create_server(
            upgrade,
            settings.host,
            settings.port,
            websocket_handshake_timeout=HANDSHAKE_TIMEOUT,
            logger_name=PicowsLog(picows_log),
            enable_auto_ping=True,
            auto_ping_idle_timeout=settings.heartbeat_interval,
            auto_ping_reply_timeout=settings.heartbeat_interval,
            max_frame_size=limits.MAX_FRAME_BYTES,
            # Grows when more data comes at once; 16 KiB (picows' default)
            # per idle connection would be most of its memory.
            read_buffer_init_size=1024,
            backlog=4096,
        )
        return server

    def _open_picows(self, socket: PicowsSocket) -> None:
        # picows calls this in the same callback as the upgrade function
        # (when the request proved a valid upgrade): counted before any other
        # handshake can pass the check. Released when the task ends.
        self._open += 1
        task = asyncio.get_running_loop().create_task(self._admit_picows(socket))
        self._admissions.add(task)
        task.add_done_callback(self._admissions.discard)

    async def _admit_picows(self, socket: PicowsSocket) -> None:
        ip = socket.peer
        self._open_per_ip[ip] += 1
        try:
            refusal = await self._refusal(ip, counted=True)
            if refusal is not None:
                _, retry, body = refusal
                reason = f"{body.decode().strip()}; retry after {retry} s"
                try:
                    async with asyncio.timeout(2):
                        await socket.close(CloseCode.TRY_AGAIN_LATER, reason)
                except TimeoutError:
                    socket.abort()
                return
            connection = self._connection(socket)
            try:
                await connection.serve()
            finally:
                self.connections.discard(connection)
        finally:
            self._release(ip)

    @property
    def port(self) -> int:
        assert self._server is not None
        sockets = list(self._server.sockets)
        return int(sockets[0].getsockname()[1])

    async def _admit(self, ws: ServerConnection, request: HttpRequest) -> HttpResponse | None:
        """Answer before the upgrade: 503 when the node is full, 429 when the
        IP has too many connections open or opens them too fast; otherwise
        count the socket in until it is gone."""
        ip = peer_ip(ws)
        if self._open >= self.max_connections:
            self._refuse_full(ip)
            return _refusal(HTTPStatus.SERVICE_UNAVAILABLE, 1, b"server full\n")
        refusal = await self._refusal(ip, counted=False)
        if refusal is not None:
            return _refusal(*refusal)
        # Counted from here, not from the handler: concurrent handshakes would
        # otherwise all pass the check. Released when the socket is gone,
        # however the handshake or the connection ends.
        self._open += 1
        self._open_per_ip[ip] += 1
        ws.connection_lost_waiter.add_done_callback(lambda _: self._release(ip))
        return None

    def _refuse_full(self, ip: str) -> None:
        self._refusals.warning(
            "connection refused: node full",
            peer=ip,
            open=self._open,
            max_connections=self.max_connections,
        )
        self._count_refusal("full")

    async def _refusal(self, ip: str, *, counted: bool) -> tuple[HTTPStatus, int, bytes] | None:
        """Why a new socket from ``ip`` is refused (status, seconds to retry
        after, body), or None. ``counted``: the socket is among the IP's
        open ones already (picows counts it when it opens)."""
        settings = self.services.settings
        already = 1 if counted else 0
        if self._open_per_ip[ip] - already >= settings.max_connections_per_ip:
            self._refusals.warning(
                "connection refused: too many open from this IP",
                peer=ip,
                open=self._open_per_ip[ip] - already,
            )
            self._count_refusal("per_ip")
            return HTTPStatus.TOO_MANY_REQUESTS, 1, b"too many connections\n"
        wait = await self.services.limiter.acquire(f"conn:{ip}", settings.rate_connect)
        if wait > 0:
            self._count_refusal("rate")
            return HTTPStatus.TOO_MANY_REQUESTS, math.ceil(wait), b"too many connections\n"
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
        # No coroutine in between: an idle connection keeps this frame alive,
        # and each one is memory per connection.
        connection = self._connection(WebsocketsSocket(ws))
        try:
            await connection.serve()
        finally:
            self.connections.discard(connection)

    def _connection(self, socket: Socket) -> Connection:
        connection = Connection(socket, self.services, self.sessions, self.handlers, self._batcher)
        self.connections.add(connection)
        return connection

    async def stop(self, grace: float) -> None:
        """Stop accepting, let outboxes drain (bounded), then close with 1001."""
        if self._server is None:
            return
        if isinstance(self._server, Server):
            self._server.close(close_connections=False)
        else:
            self._server.close()
        connections = list(self.connections)
        if connections:
            await asyncio.gather(*(c.drain(grace) for c in connections))
            for connection in connections:
                connection.close_soon(CloseCode.GOING_AWAY, "server shutting down")
        await self._server.wait_closed()


def _refusal(status: HTTPStatus, retry_after: int, body: bytes) -> HttpResponse:
    headers = Headers([("Retry-After", str(max(1, retry_after)))])
    return HttpResponse(status, status.phrase, headers, body)
