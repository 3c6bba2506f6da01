"""Prometheus metrics of one node: what is counted, and how it is exposed.

Several nodes run in one test process, so each has its own
:class:`Metrics` with its own ``CollectorRegistry`` (never the global one).
Nothing here is a ``prometheus_client`` counter bumped on the hot path:
events are counted in the plain structures of
:mod:`server.observability.instruments` (a dict or integer bump), and levels
(connections, live actors, outbox depth, stream lag...) are read only when
``/metrics`` is scraped, by the collectors registered on :attr:`Metrics.registry`
(this module's :class:`_EventCollector`, and
:mod:`server.observability.node_metrics` for the node's levels).

With the ``metrics`` setting off a node has no :class:`Metrics` at all
(``Services.metrics is None``): nothing is counted or timed, ``/metrics`` is
404, and the slow-operation log (which shares these timing points) is off.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from server.observability.instruments import Counts, Hist, HistFamily, Traffic


class Metrics:
    """The counters of one node. The gateway, the actor runtime (as its
    observer), the store's timing proxy and the webhook route bump them."""

    def __init__(self, node: str, *, slow_request_ms: float, slow_store_ms: float) -> None:
        self.node = node
        self.slow_request_s = slow_request_ms / 1000.0
        self.slow_store_s = slow_store_ms / 1000.0
        self.traffic = Traffic()
        self.requests = Counts(("type", "outcome"))
        self.request_points: dict[type, Any] = {}
        """Per request type, its bound timing point (``timing.request_finished``)."""
        self.request_seconds = HistFamily(("type",))
        self.errors = Counts(("code",))
        self.closes = Counts(("code",))
        self.slow_consumers = 0
        self.rate_limited = Counts(("scope",))
        self.connections_refused = Counts(("reason",))
        self.actor_activations = Counts(("kind",))
        self.actor_passivations = Counts(("kind",))
        self.actor_seconds = HistFamily(("kind",))
        self._actor_hists: dict[str, Hist] = {}
        self.store_seconds = HistFamily(("operation", "backend"))
        self.webhooks = Counts(("event_type", "result"))
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_EventCollector(self))

    # The actor runtime's observer (actors.runtime.ActorObserver).

    def activated(self, kind: str) -> None:
        self.actor_activations.inc(kind)

    def passivated(self, kind: str) -> None:
        self.actor_passivations.inc(kind)

    def handled(self, kind: str, seconds: float) -> None:
        hist = self._actor_hists.get(kind)
        if hist is None:
            hist = self._actor_hists[kind] = self.actor_seconds.child(kind)
        hist.observe(seconds)

    def webhook(self, event_type: str, result: str) -> None:
        self.webhooks.inc(event_type, result)


def counter(name: str, doc: str, counts: Counts) -> CounterMetricFamily:
    family = CounterMetricFamily(name, doc, labels=list(counts.labelnames))
    for labels, value in sorted(counts.values.items()):
        family.add_metric(list(labels), value)
    return family


def histogram(name: str, doc: str, hists: HistFamily) -> HistogramMetricFamily:
    family = HistogramMetricFamily(name, doc, labels=list(hists.labelnames))
    for labels, hist in sorted(hists.children.items()):
        # Children are bound ahead (one per request type): export only the
        # ones used, or every scrape would carry ~100 empty series.
        if hist.count:
            add_hist(family, list(labels), hist)
    return family


def add_hist(family: HistogramMetricFamily, labels: list[str], hist: Hist) -> None:
    family.add_metric(labels, hist.cumulative(), hist.sum)


def single(name: str, doc: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, value=value)


class _EventCollector(Collector):
    """The counted events of :class:`Metrics`, as families at scrape time."""

    def __init__(self, metrics: Metrics) -> None:
        self.m = metrics

    def collect(self) -> Iterable[Metric]:
        return list(self._families())

    def _families(self) -> Iterator[Metric]:
        m, t = self.m, self.m.traffic
        yield single("grover_frames_received_total", "Websocket frames received.", t.frames_in)
        yield single("grover_received_bytes_total", "Payload bytes of frames received.", t.bytes_in)
        yield single("grover_frames_sent_total", "Websocket frames sent.", t.frames_out)
        yield single(
            "grover_sent_bytes_total", "Bytes written to sockets (framing included).", t.bytes_out
        )
        yield counter(
            "grover_requests_total",
            "Requests handled, by type and outcome (ok or the error code).",
            m.requests,
        )
        yield histogram(
            "grover_request_duration_seconds", "Handler time per request type.", m.request_seconds
        )
        yield counter("grover_errors_total", "Error frames sent, by code.", m.errors)
        yield counter(
            "grover_connection_closes_total", "Websockets closed, by close code.", m.closes
        )
        yield single(
            "grover_slow_consumer_closes_total",
            "Connections closed because their outbox filled (4008).",
            m.slow_consumers,
        )
        yield counter(
            "grover_rate_limited_total",
            "Refusals by the gateway's rate limits (request: per user and type;"
            " connect: new connections per IP).",
            m.rate_limited,
        )
        yield counter(
            "grover_connections_refused_total",
            "Websocket handshakes refused, by reason.",
            m.connections_refused,
        )
        yield counter(
            "grover_actor_activations_total", "Actor activations started.", m.actor_activations
        )
        yield counter(
            "grover_actor_passivations_total", "Actor activations ended.", m.actor_passivations
        )
        yield histogram(
            "grover_actor_handler_duration_seconds",
            "Time an actor spent on one mailbox message, by kind.",
            m.actor_seconds,
        )
        yield histogram(
            "grover_store_operation_duration_seconds",
            "Store port calls, by port.method and backend.",
            m.store_seconds,
        )
        yield counter(
            "grover_webhook_events_total",
            "PayPal webhook deliveries and applied events, by event type and result.",
            m.webhooks,
        )
