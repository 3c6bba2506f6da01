"""Assembles one Grover node: store, actors, sessions, gateway and sidecar."""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from aiohttp import web

from actors.conversation import KIND as CONVERSATION_KIND
from actors.conversation import ConversationActor
from actors.runtime import ActorKey, ActorSystem
from actors.sessions import MemorySessionDirectory, SessionDirectory, SessionSink
from actors.user import KIND as USER_KIND
from actors.user import Detach, UserActor, user_key
from server import gcwatch
from server.auth import Passwords, Tokens
from server.cluster import Cluster
from server.config import Settings
from server.gateway import Gateway
from server.handlers import HANDLERS
from server.ratelimit import MemoryRateLimiter, RateLimiter
from server.session import Session, SessionRegistry
from server.sidecar import make_app
from server.storage import SQLITE_FILE_NAME, make_store

log = logging.getLogger("grover.app")

TOKEN_PURGE_INTERVAL = 3600.0


class Grover:
    """One node. ``await start()``, then ``await stop()`` (graceful)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.store = make_store(
            data_dir=settings.data_dir, mongo_url=settings.mongo_url, mongo_db=settings.mongo_db
        )
        self.passwords = Passwords(
            time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
        )
        self.tokens = Tokens(self.store, settings.token_ttl)
        self.sessions = SessionRegistry(
            settings.node,
            buffer_size=settings.resume_buffer,
            resume_ttl=settings.resume_ttl,
            on_expire=self._session_ended,
        )
        # One node is its own cluster; with Redis the same ports get shared
        # implementations (placement, sessions, rate limits).
        self.cluster = Cluster(settings, self.sessions) if settings.redis_url else None
        self.limiter: RateLimiter
        self.session_sink: SessionSink
        self.session_directory: SessionDirectory
        if self.cluster is None:
            self.limiter = MemoryRateLimiter()
            self.session_sink = self.sessions
            self.session_directory = MemorySessionDirectory()
        else:
            self.limiter = self.cluster.limiter
            self.session_sink = self.cluster.sink
            self.session_directory = self.cluster.directory
        self.actors = ActorSystem(
            {USER_KIND: self._user_actor, CONVERSATION_KIND: self._conversation_actor},
            placement=self.cluster.placement if self.cluster else None,
            mailbox_size=settings.mailbox_size,
            idle_timeout=settings.actor_idle_timeout,
            ask_timeout=settings.ask_timeout,
        )
        if self.cluster is not None:
            self.cluster.bind(self.actors)
        self.gateway = Gateway(self, HANDLERS)
        self.accepting = False
        self._purger: asyncio.Task[None] | None = None
        self._sidecar: web.AppRunner | None = None
        self.sidecar_port = settings.sidecar_port

    def _user_actor(self, key: ActorKey) -> UserActor:
        return UserActor(key, self.store, self.session_sink, self.session_directory)

    def _conversation_actor(self, key: ActorKey) -> ConversationActor:
        return ConversationActor(
            key, self.store, self.actors, max_members=self.settings.group_max_members
        )

    def _session_ended(self, session: Session) -> None:
        if session.user_id is not None:
            self.actors.tell(user_key(session.user_id), Detach(session.ref))

    async def start(self) -> None:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        if self.cluster is not None:
            await self.cluster.start()
        self.sessions.start()
        self._purger = asyncio.get_running_loop().create_task(self._purge_expired_tokens())
        await self.gateway.start()
        runner = web.AppRunner(make_app(self), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.sidecar_port)
        await site.start()
        self._sidecar = runner
        # With port 0 (tests) the OS picks; read back what it chose.
        self.sidecar_port = int(runner.addresses[0][1])
        self.accepting = True
        log.info(
            "grover ready",
            extra={"node": self.settings.node},
        )

    async def _purge_expired_tokens(self) -> None:
        """Expired login rows are refused at hello anyway; this keeps the table
        from growing without end."""
        while True:
            try:
                removed = await self.store.auth_sessions.delete_expired(time.time())
                if removed:
                    log.info("purged %d expired tokens", removed)
            except Exception:
                log.exception("purging expired tokens failed")
            await asyncio.sleep(TOKEN_PURGE_INTERVAL)

    async def stop(self) -> None:
        self.accepting = False
        if self._purger is not None:
            self._purger.cancel()
        await self.gateway.stop(self.settings.shutdown_grace)
        await self.sessions.stop()
        if self.cluster is not None:
            await self.cluster.leave()
        await self.actors.stop()
        if self.cluster is not None:
            await self.cluster.stop()
        if self._sidecar is not None:
            await self._sidecar.cleanup()
        await self.store.close()
        log.info("grover stopped", extra={"node": self.settings.node})


async def serve_forever(settings: Settings) -> None:
    """Run until SIGINT or SIGTERM, then shut down gracefully."""
    grover = Grover(settings)
    await grover.start()
    # Handlers first: whoever reads the banner below may signal at once.
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    store = (
        f"MongoDB {settings.mongo_db}"
        if settings.mongo_url
        else str(settings.data_dir / SQLITE_FILE_NAME)
    )
    websocket = settings.public_url or f"ws://{_display_host(settings.host)}:{grover.gateway.port}"
    print(
        f"Grover is running (node {settings.node}).\n"
        f"  websocket: {websocket}\n"
        f"  sidecar:   http://{_display_host(settings.host)}:{grover.sidecar_port}"
        " (/healthz, /readyz)\n"
        f"  store:     {store}\n"
        "Press Ctrl-C to stop.",
        flush=True,
    )
    await stop.wait()
    gcwatch.uninstall()
    await grover.stop()


def _display_host(host: str) -> str:
    return "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
