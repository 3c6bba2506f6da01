"""One Grover node: what starts, in which order, and how it stops.

What each port is made of is decided in :mod:`server.wiring`; the process
around a node (signals, the banner) is :mod:`server.cli`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import time
from pathlib import Path
from typing import Any

import sentry_sdk
from aiohttp import web

from actors.logctx import node_var
from server.config import Settings
from server.context import HandlerTable, session_ended
from server.gateway.server import Gateway
from server.gateway.sessions import SessionRegistry
from server.handlers import HANDLERS
from server.http import make_app
from server.http.access import ACCESS_LOGGER, AccessLogger
from server.http.app_files import AppSite
from server.http.media import MediaUploads
from server.market.worker import MarketWorker
from server.media_sweep import sweep_unattached
from server.observability import logs, sentry
from server.observability.node_metrics import NodeCollector
from server.observability.timing import instrument_store
from server.storage import SqliteStore
from server.wiring import (
    make_actor_system,
    make_cluster,
    make_directory,
    make_log_reader,
    make_media_storage,
    make_metrics,
    make_services,
    make_store,
    media_root,
)

log = logging.getLogger("grover.app")

TOKEN_PURGE_INTERVAL = 3600.0


class Grover:
    """One node. ``await start()``, then ``await stop()`` (graceful)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.metrics = make_metrics(settings)
        self.store = make_store(
            data_dir=settings.data_dir, mongo_url=settings.mongo_url, mongo_db=settings.mongo_db
        )
        if self.metrics is not None:
            backend = "sqlite" if isinstance(self.store, SqliteStore) else "mongo"
            instrument_store(self.store, backend, self.metrics)
        self.sessions = SessionRegistry(
            settings.node,
            buffer_size=settings.resume_buffer,
            resume_ttl=settings.resume_ttl,
            on_expire=lambda session: session_ended(self.actors, session),
            read_log=make_log_reader(self.store),
        )
        self.cluster = make_cluster(settings, self.sessions)
        directory = make_directory(self.cluster)
        self.actors = make_actor_system(
            settings, self.store, self.sessions, self.cluster, directory
        )
        self.actors.observer = self.metrics
        self.services = make_services(
            settings, self.store, self.actors, self.cluster, directory, metrics=self.metrics
        )
        self.media_storage = make_media_storage(settings, lambda: self.sidecar_port)
        # Requests are timed by the gateway's request task (timing.request_finished).
        handlers: HandlerTable = HANDLERS
        # Transactions wrap each handler only when tracing is on (see sentry.traced).
        if settings.sentry_traces_sample_rate > 0:
            handlers = sentry.traced(handlers)
        self.gateway = Gateway(self.services, self.sessions, handlers)
        self._levels = NodeCollector(
            settings.node,
            gateway=self.gateway,
            sessions=self.sessions,
            actors=self.actors,
            fanout=self.services.fanout,
            db=self.store.db if isinstance(self.store, SqliteStore) else None,
            cluster=self.cluster,
            ready=self._takes_connections,
        )
        if self.metrics is not None:
            self.metrics.registry.register(self._levels)
        self.uploads = MediaUploads(self.services, self.media_storage, settings.data_dir / "tmp")
        self.market = MarketWorker(self.services)
        self.accepting = False
        self.draining = False
        """Set by :meth:`drain`: still serving, but ``/readyz`` says 503."""
        self._purger: asyncio.Task[None] | None = None
        self._sweeper: asyncio.Task[None] | None = None
        self._sidecar: web.AppRunner | None = None
        self._sentry: sentry_sdk.Client | None = None
        self.sidecar_port = settings.sidecar_port
        self._started = time.monotonic()

    @property
    def node_id(self) -> str:
        return self.settings.node

    def _takes_connections(self) -> bool:
        """Readiness without the store's ping (the metrics gauge, read at
        scrape time where nothing may await)."""
        return (
            self.accepting
            and not self.draining
            and (self.cluster is None or bool(self.cluster.status()["healthy"]))
        )

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """For ``/readyz``: accepting websockets, not draining, the store
        answers, and (in a cluster) this node reaches Redis."""
        store_ok = await self.store.ping()
        cluster = self.cluster.status() if self.cluster is not None else None
        ready = (
            self.accepting
            and not self.draining
            and store_ok
            and (cluster is None or bool(cluster["healthy"]))
        )
        return ready, {
            "accepting": self.accepting,
            "draining": self.draining,
            "store": store_ok,
            "connections": len(self.gateway.connections),
            "sessions": len(self.sessions),
            "cluster": cluster,
        }

    def stats(self) -> dict[str, Any]:
        """For ``/stats``: counters since start. ``store.writes`` is the
        SQLite writer's group commit (transactions, jobs; ``None`` on
        MongoDB); ``cluster`` is ``None`` on a node without Redis."""
        db = self.store.db if isinstance(self.store, SqliteStore) else None
        return {
            "node": self.node_id,
            "uptime_s": round(time.monotonic() - self._started, 3),
            "connections": len(self.gateway.connections),
            "sessions": len(self.sessions),
            "store": {
                "backend": "sqlite" if db is not None else "mongo",
                "writes": dataclasses.asdict(db.stats) if db is not None else None,
            },
            "cluster": self.cluster.stats() if self.cluster is not None else None,
            "fanout": dataclasses.asdict(self.services.fanout.stats),
        }

    async def start(self) -> None:
        # Every task started from here on (and the activations they start)
        # names this node in its log lines; the caller's context gets it back.
        node = node_var.set(self.settings.node)
        self._sentry = sentry.init(self.settings)
        self._started = time.monotonic()
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        if self.cluster is not None:
            await self.cluster.start()
        self.sessions.start()
        loop = asyncio.get_running_loop()
        self._purger = loop.create_task(self._purge_expired_tokens())
        self._sweeper = loop.create_task(self._sweep_media())
        self.market.start()
        await self.gateway.start()
        runner = web.AppRunner(
            make_app(
                self,
                media_root=media_root(self.settings),
                uploads=self.uploads,
                webhooks=(self.services, self.market.kick),
                prometheus=(
                    None if self.metrics is None else (self.metrics.registry, self._levels.refresh)
                ),
                app_site=AppSite(
                    root=Path(self.settings.app_dir) if self.settings.app_dir else None,
                    gateway_port=lambda: self.gateway.port,
                    public_url=self.settings.public_url,
                    payments=self.services.payments.configured,
                    live_video=self.services.live_tokens.name == "agora",
                    checkout_return_url=self.settings.checkout_return_url,
                ),
            ),
            access_log_class=AccessLogger,
            access_log=ACCESS_LOGGER,
        )
        await runner.setup()
        site = web.TCPSite(runner, self.settings.host, self.settings.sidecar_port)
        await site.start()
        self._sidecar = runner
        # With port 0 (tests) the OS picks; read back what it chose.
        self.sidecar_port = int(runner.addresses[0][1])
        self.accepting = True
        log.info("grover ready", extra={"node": self.settings.node})
        node_var.reset(node)

    async def _purge_expired_tokens(self) -> None:
        """Expired login rows are refused at hello anyway; this keeps the table
        from growing without end."""
        logs.background_task("token_purge")
        while True:
            try:
                removed = await self.store.auth_sessions.delete_expired(time.time())
                if removed:
                    log.info("purged %d expired tokens", removed)
            except Exception:
                log.exception("purging expired tokens failed")
            await asyncio.sleep(TOKEN_PURGE_INTERVAL)

    async def sweep_media_once(self, now: float | None = None) -> int:
        """Delete media unattached for more than ``media_unattached_ttl``
        (bounded work; see :mod:`server.media_sweep`); returns how many."""
        before = (time.time() if now is None else now) - self.settings.media_unattached_ttl
        return await sweep_unattached(self.store.media, self.media_storage, before)

    async def _sweep_media(self) -> None:
        """Uploads nothing took within a day are deleted, every few minutes."""
        logs.background_task("media_sweep")
        while True:
            await asyncio.sleep(self.settings.media_sweep_interval)
            try:
                removed = await self.sweep_media_once()
                if removed:
                    log.info("swept %d unattached media", removed)
            except Exception:
                log.exception("sweeping unattached media failed")

    async def drain(self, interrupt: asyncio.Event | None = None) -> None:
        """The first step of a graceful stop: report not ready and keep
        serving for ``drain_seconds`` (or until ``interrupt`` is set), so that
        load balancers, which check ``/readyz``, stop routing new connections
        here before :meth:`stop` closes the listener and moves the clients."""
        self.draining = True
        log.info(
            "draining: not ready for %g s, still serving",
            self.settings.drain_seconds,
            extra={"node": self.settings.node},
        )
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.settings.drain_seconds):
                await (interrupt or asyncio.Event()).wait()

    async def stop(self) -> None:
        self.accepting = False
        for task in (self._purger, self._sweeper):
            if task is not None:
                task.cancel()
        await self.gateway.stop(self.settings.shutdown_grace)
        await self.market.stop()
        await self.services.fanout.stop()
        await self.sessions.stop()
        if self.cluster is not None:
            await self.cluster.leave()
        await self.actors.stop()
        if self.cluster is not None:
            await self.cluster.stop()
        if self._sidecar is not None:
            await self._sidecar.cleanup()
        await self.services.payments.close()
        await self.store.close()
        log.info("grover stopped", extra={"node": self.settings.node})
        await sentry.close(self._sentry)
        self._sentry = None
