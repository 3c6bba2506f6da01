"""The node's *levels* for ``/metrics``, read at scrape time: connections,
sessions, outbox depth, live actors, mailboxes, the SQLite writer's batches,
fan-out sizes, GC pauses, and in a cluster the Redis round trips, stream lag
and pending entries, and leases. Nothing here costs anything per message:
the collector walks the node's own structures when Prometheus asks.

Stream lag and pending entries need a Redis call, which a (synchronous)
collector cannot make: :meth:`NodeCollector.refresh` reads them just before
the registry is rendered, bounded by :data:`REFRESH_TIMEOUT`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from actors.runtime import ActorSystem
from server.cluster import Cluster
from server.cluster.transport import GROUP, inbox
from server.fanout import FanOut
from server.gateway.server import Gateway
from server.gateway.sessions import SessionRegistry
from server.observability import gcwatch
from server.observability.instruments import Hist
from server.observability.metrics import add_hist
from server.storage.sqlite.database import SqliteDatabase

log = logging.getLogger("grover.metrics")

REFRESH_TIMEOUT = 1.0
"""Seconds a scrape waits for Redis's stream figures before showing the last ones."""


def _hist(name: str, doc: str, hist: Hist) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=[])
    add_hist(family, [], hist)
    return family


class NodeCollector(Collector):
    """Levels of one node (``db`` is ``None`` on MongoDB, ``cluster`` on a
    node without Redis)."""

    def __init__(
        self,
        node: str,
        *,
        gateway: Gateway,
        sessions: SessionRegistry,
        actors: ActorSystem,
        fanout: FanOut,
        db: SqliteDatabase | None,
        cluster: Cluster | None,
        ready: Callable[[], bool] = lambda: True,
    ) -> None:
        self.node = node
        self.ready = ready
        self.gateway = gateway
        self.sessions = sessions
        self.actors = actors
        self.fanout = fanout
        self.db = db
        self.cluster = cluster
        self._stream: tuple[int, int] | None = None
        """This node's inbox: (lag, pending) at the last refresh."""

    async def refresh(self) -> None:
        """Read this node's inbox stream figures from Redis (XINFO GROUPS)."""
        if self.cluster is None:
            return
        try:
            async with asyncio.timeout(REFRESH_TIMEOUT):
                groups: list[dict[Any, Any]] = await self.cluster.redis.xinfo_groups(
                    inbox(self.node)
                )
        except Exception as exc:  # a scrape must not fail because Redis is away
            log.debug("stream figures unavailable: %s", exc)
            return
        for group in groups:
            name = group.get("name")
            if name in (GROUP, GROUP.encode()):
                lag = group.get("lag")
                self._stream = (int(lag) if lag is not None else 0, int(group.get("pending", 0)))

    def collect(self) -> Iterable[Metric]:
        return list(self._families())

    def _families(self) -> Iterator[Metric]:
        node = [self.node]
        connections = list(self.gateway.connections)
        yield self._gauge(
            "grover_ready",
            "1 while the node takes new connections (not draining, Redis reached);"
            " /readyz also pings the store.",
            int(self.ready()),
        )
        yield self._gauge("grover_connections", "Websockets open now.", len(connections))
        yield self._gauge(
            "grover_sessions", "Sessions (resumable ones included).", len(self.sessions)
        )
        depths = [len(c.outbox) for c in connections]
        yield GaugeMetricFamily(
            "grover_outbox_frames",
            "Frames queued in connections' outboxes now (all connections).",
            value=sum(depths),
        )
        yield GaugeMetricFamily(
            "grover_outbox_frames_max",
            "Frames queued in the fullest outbox now.",
            value=max(depths, default=0),
        )
        live = GaugeMetricFamily("grover_actors_live", "Live activations by kind.", labels=["kind"])
        for kind, n in sorted(Counter(k.kind for k in self.actors.active_keys()).items()):
            live.add_metric([kind], n)
        yield live
        yield GaugeMetricFamily(
            "grover_actor_mailbox_depth_max",
            "Messages queued in the fullest mailbox now.",
            value=self.actors.deepest_mailbox(),
        )
        yield GaugeMetricFamily(
            "grover_actor_mailbox_high_water",
            "The deepest any mailbox has been since the node started.",
            value=self.actors.mailbox_high_water,
        )
        yield _hist(
            "grover_fanout_followers",
            "Followers per completed post or go-live fan-out.",
            self.fanout.sizes,
        )
        if self.db is not None:
            yield _hist(
                "grover_sqlite_commit_batch_size",
                "Jobs per SQLite transaction (group commit).",
                self.db.batch_sizes,
            )
        gc_family = HistogramMetricFamily(
            "grover_gc_pause_seconds",
            "Garbage-collector pauses of the process, by generation.",
            labels=["generation"],
        )
        for generation, hist in gcwatch.PAUSES.items():
            add_hist(gc_family, [str(generation)], hist)
        yield gc_family
        if self.cluster is not None:
            yield from self._cluster(self.cluster, node)

    def _gauge(self, name: str, doc: str, value: float) -> GaugeMetricFamily:
        family = GaugeMetricFamily(name, doc, labels=["node"])
        family.add_metric([self.node], value)
        return family

    def _cluster(self, cluster: Cluster, node: list[str]) -> Iterator[Metric]:
        stats = cluster.transport.stats
        trips = CounterMetricFamily(
            "grover_cluster_redis_round_trips",
            "Redis round trips by part (transport flushes and reads, rate limiter,"
            " session directory, leases, heartbeats).",
            labels=["part"],
        )
        for part, value in (
            ("transport_flush", stats.flushes),
            ("transport_read", stats.reads),
            ("limiter", cluster.limiter.calls),
            ("directory", cluster.directory.calls),
            ("lease", cluster.leases.calls),
            ("heartbeat", cluster.membership.beats),
        ):
            trips.add_metric([part], value)
        yield trips
        yield CounterMetricFamily(
            "grover_cluster_stream_entries_sent",
            "Entries written to other nodes' inbox streams.",
            value=stats.entries_sent,
        )
        yield CounterMetricFamily(
            "grover_cluster_stream_entries_received",
            "Entries read from this node's inbox stream.",
            value=stats.entries_received,
        )
        if self._stream is not None:
            lag = GaugeMetricFamily(
                "grover_cluster_stream_lag",
                "Entries in this node's inbox not yet delivered to it.",
                labels=["node"],
            )
            lag.add_metric(node, self._stream[0])
            yield lag
            pending = GaugeMetricFamily(
                "grover_cluster_stream_pending",
                "Entries of this node's inbox delivered and not yet acknowledged.",
                labels=["node"],
            )
            pending.add_metric(node, self._stream[1])
            yield pending
        leases = cluster.leases
        yield GaugeMetricFamily(
            "grover_cluster_leases_held", "Actor leases held now.", value=leases.held()
        )
        yield CounterMetricFamily(
            "grover_cluster_lease_renewals", "Leases renewed.", value=leases.renewed
        )
        losses = CounterMetricFamily(
            "grover_cluster_lease_losses",
            "Leases fenced: lost (Redis no longer had them) or lapsed (renewals failed).",
            labels=["why"],
        )
        for why in ("lost", "lapsed"):
            losses.add_metric([why], leases.ended[why])
        yield losses
        yield GaugeMetricFamily(
            "grover_cluster_members",
            "Live nodes as this node sees them.",
            value=len(cluster.membership.live),
        )
        yield GaugeMetricFamily(
            "grover_cluster_healthy", "1 when this node reaches Redis.", value=int(cluster.healthy)
        )
