"""Several Grover nodes acting as one, coordinated through Redis.

:class:`Cluster` assembles the pieces for one node: membership (heartbeats),
placement (rendezvous owner + lease per activation), the stream transport,
the session directory and sink, and the shared rate limiter. Without a Redis
URL none of this runs and the node is its own cluster.

When the cluster may have taken this node for dead, or Redis may have lost
what it knew of it (see :mod:`server.cluster.membership`: stalled or cut off
for longer than ``node_timeout``, Redis restarted, failed over or lost its
data), the node rejoins: it ends every session it holds, because other nodes
may have stopped sending it their events meanwhile and Redis may have lost
the session directory. The clients reconnect (close code 1001), cannot
resume, and re-sync.

A janitor looks for inbox streams of nodes that are not live every
``node_timeout`` and reclaims them (one live node per dead inbox), which
also catches entries a sender with a stale view wrote after a reclaim.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from pathlib import Path
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis

from actors.runtime import ActorSystem
from protocol.errors import CloseCode
from server.cluster.faults import FaultLog
from server.cluster.membership import Membership, rendezvous_owner
from server.cluster.placement import ClusterPlacement, Leases, actor_key
from server.cluster.ratelimit import RedisRateLimiter
from server.cluster.sessions import ClusterSessionSink, RedisSessionDirectory
from server.cluster.transport import StreamTransport, inbox
from server.config import Settings
from server.gateway.sessions import SessionRegistry

log = logging.getLogger("grover.cluster")

REDIS_MAX_CONNECTIONS = 256


class Cluster:
    def __init__(self, settings: Settings, sessions: SessionRegistry) -> None:
        assert settings.redis_url
        self.node = settings.node
        # A blocking pool: under load a call waits (bounded) for a free
        # connection. redis-py's default pool raises "Too many connections"
        # at once instead, which failed heartbeats, lease renewals and
        # activations under the cluster bench. `?max_connections=N` in the URL
        # overrides the size.
        pool = BlockingConnectionPool.from_url(
            settings.redis_url,
            max_connections=REDIS_MAX_CONNECTIONS,
            timeout=settings.node_timeout,
            health_check_interval=10,
            # Bounded, so that a Redis that stops answering (rather than
            # refusing) fails calls instead of hanging them; above the 1 s
            # block of the inbox read.
            socket_timeout=settings.node_timeout + 1.0,
            socket_connect_timeout=settings.node_timeout,
        )
        self.redis: Redis = Redis.from_pool(pool)
        self._node_timeout = settings.node_timeout
        self.membership = Membership(
            self.redis,
            self.node,
            heartbeat=settings.cluster_heartbeat,
            node_timeout=settings.node_timeout,
            on_change=self._membership_changed,
            on_rejoin=self._rejoined,
        )
        self.transport = StreamTransport(
            self.redis,
            self.node,
            maxlen=settings.stream_maxlen,
            is_live=self.membership.is_live,
            owner=self.membership.owner,
            node_timeout=settings.node_timeout,
            # Past this, the receiving node has been cut off long enough to
            # rejoin and end its sessions anyway.
            retry_for=settings.node_timeout,
            ask_timeout=settings.ask_timeout,
            # Views of the membership converge within a heartbeat.
            settle=settings.cluster_heartbeat,
        )
        self.leases = Leases(
            self.redis,
            self.node,
            settings.lease_ttl,
            Path(settings.activation_log) if settings.activation_log else None,
        )
        self.placement = ClusterPlacement(
            self.membership,
            self.leases,
            self.transport,
            # Long enough for a dead holder's lease to run out.
            acquire_timeout=settings.lease_ttl + 2 * settings.cluster_heartbeat,
        )
        self.limiter = RedisRateLimiter(self.redis)
        self.directory = RedisSessionDirectory(self.redis)
        self.sink = ClusterSessionSink(sessions, self.transport, self.membership)
        self._sessions = sessions
        self._actors: ActorSystem | None = None
        self._janitor: asyncio.Task[None] | None = None

    def bind(self, actors: ActorSystem) -> None:
        self._actors = actors
        self.transport.bind(actors, self._sessions)
        self.leases.on_lapse = lambda lease: actors.fence(actor_key(lease))

    @property
    def healthy(self) -> bool:
        return self.membership.healthy and self.transport.healthy

    def status(self) -> dict[str, Any]:
        """What /readyz reports about the cluster."""
        return {
            "node": self.node,
            "healthy": self.healthy,
            "members": list(self.membership.live),
            "rejoins": self.membership.rejoins,
            "reclaimed": self.transport.reclaimed,
            "dropped": self.transport.dropped,
        }

    def stats(self) -> dict[str, Any]:
        """What /stats reports about the cluster: counters since start (see
        :class:`~server.cluster.transport.TransportStats`) and the Redis
        round trips of the other parts. Per chat message the hot path is the
        transport (flushes and reads) and the rate limiter (one script call
        per loop turn's requests); the directory works per attach and activation, leases per
        activation plus renewals, heartbeats at a fixed rate.
        ``redis_round_trips`` is their sum (reclaims and the janitor's scans
        of dead nodes' inboxes aside)."""
        transport = dataclasses.asdict(self.transport.stats)
        others = {
            "limiter_calls": self.limiter.calls,
            "directory_calls": self.directory.calls,
            "lease_calls": self.leases.calls,
            "heartbeats": self.membership.beats,
        }
        return {
            "transport": {
                **transport,
                "reclaimed": self.transport.reclaimed,
                "dropped": self.transport.dropped,
            },
            **others,
            "redis_round_trips": transport["flushes"] + transport["reads"] + sum(others.values()),
        }

    async def start(self) -> None:
        await self.redis.ping()
        await self.membership.start()
        await self.transport.start()
        await self.leases.start()
        self._janitor = asyncio.get_running_loop().create_task(self._sweep())

    def _membership_changed(self, before: list[str], after: list[str]) -> None:
        if self._actors is not None:
            self._actors.rebalance()
        for dead in sorted(set(before) - set(after)):
            self._reclaim_if_mine(dead, after)

    def _reclaim_if_mine(self, dead: str, live: list[str]) -> None:
        # One live node takes over each dead node's inbox.
        if rendezvous_owner(f"reclaim:{dead}", live) == self.node:
            self.transport.spawn(self.transport.reclaim(dead))

    def _rejoined(self) -> None:
        ended = self._sessions.end_all(CloseCode.GOING_AWAY, "node rejoined the cluster; re-sync")
        log.warning("ended %d sessions after rejoining", ended, extra={"node": self.node})

    async def _sweep(self) -> None:
        """Reclaim inboxes of nodes that are not live (see the module doc)."""
        prefix = inbox("")
        faults = FaultLog(log, "inbox sweep", node=self.node)
        while True:
            await asyncio.sleep(self._node_timeout)
            if not self.membership.healthy:
                continue
            live = list(self.membership.live)
            try:
                async for raw in self.redis.scan_iter(match=prefix + "*", count=1000):
                    name = raw.decode() if isinstance(raw, bytes) else str(raw)
                    node = name[len(prefix) :]
                    if node not in live:
                        self._reclaim_if_mine(node, live)
            except Exception as exc:  # the janitor must outlive one bad round
                faults.failed(exc)
            else:
                faults.succeeded()

    async def leave(self) -> None:
        """Leave the membership, first thing in a graceful shutdown once the
        sockets are closed: every node, this one included, then routes each
        key to its next owner, this node's activations hand off (passivate
        and release their leases, which the next owners take at once), and
        messages that still arrive here are passed on. No message meets an
        actor system that is stopping."""
        await self.membership.stop()

    async def stop(self) -> None:
        if self._janitor is not None:
            self._janitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._janitor
        await self.leases.stop()
        await self.transport.stop()
        await self.membership.stop()
        await asyncio.shield(self.redis.aclose())
