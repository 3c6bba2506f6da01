"""Several Grover nodes acting as one, coordinated through Redis.

:class:`Cluster` assembles the pieces for one node: membership (heartbeats),
placement (rendezvous owner + lease per activation), the stream transport,
the session directory and sink, and the shared rate limiter. Without a Redis
URL none of this runs and the node is its own cluster.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from redis.asyncio import Redis

from actors.runtime import ActorSystem
from server.cluster.membership import Membership, rendezvous_owner
from server.cluster.placement import ClusterPlacement, Leases
from server.cluster.ratelimit import RedisRateLimiter
from server.cluster.sessions import ClusterSessionSink, RedisSessionDirectory
from server.cluster.transport import StreamTransport
from server.config import Settings
from server.session import SessionRegistry

log = logging.getLogger("grover.cluster")


class Cluster:
    def __init__(self, settings: Settings, sessions: SessionRegistry) -> None:
        assert settings.redis_url
        self.node = settings.node
        self.redis: Redis = Redis.from_url(settings.redis_url, health_check_interval=10)
        self.membership = Membership(
            self.redis,
            self.node,
            heartbeat=settings.cluster_heartbeat,
            node_timeout=settings.node_timeout,
            on_change=self._membership_changed,
        )
        self.transport = StreamTransport(
            self.redis, self.node, maxlen=settings.stream_maxlen, is_live=self.membership.is_live
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

    def bind(self, actors: ActorSystem) -> None:
        self._actors = actors
        self.transport.bind(actors, self._sessions)

    @property
    def healthy(self) -> bool:
        return self.membership.healthy and self.transport.healthy

    async def start(self) -> None:
        await self.redis.ping()
        await self.membership.start()
        await self.transport.start()
        await self.leases.start()

    def _membership_changed(self, before: list[str], after: list[str]) -> None:
        if self._actors is not None:
            self._actors.rebalance()
        for dead in sorted(set(before) - set(after)):
            # One live node takes over each dead node's inbox.
            if rendezvous_owner(f"reclaim:{dead}", after) == self.node:
                self.transport.spawn(self.transport.reclaim(dead))

    async def stop(self) -> None:
        await self.leases.stop()
        await self.transport.stop()
        await self.membership.stop()
        await asyncio.shield(self.redis.aclose())
