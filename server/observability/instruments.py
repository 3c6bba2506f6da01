"""Counting primitives cheap enough for the hot path, with no dependency.

``prometheus_client``'s own counters take a lock on every ``inc()`` (about
half a microsecond); a group-chat delivery would pay that several times. These
are plain integers and lists bumped on the event loop (or, for the SQLite
writer, under the GIL by a single thread); :mod:`server.observability.metrics`
turns them into Prometheus families at scrape time. Modules that count (the
gateway, the actor runtime, the store's writer, the fan-out) hold these and
never import ``prometheus_client``.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence

LATENCY_BUCKETS = (0.001, 0.005, 0.025, 0.1, 0.25, 1.0, 5.0)
"""Seconds; few buckets keep each observation and each scrape small."""

SIZE_BUCKETS = (1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0)
"""Counts (commit batch sizes, fan-out recipients)."""


class Hist:
    """A histogram without labels: per-bucket counts (the last one ``+Inf``)
    and the sum. Buckets are Prometheus's ``le``: ``v`` falls in the first
    bound ``>= v``."""

    __slots__ = ("bounds", "counts", "sum")

    def __init__(self, bounds: Sequence[float] = LATENCY_BUCKETS) -> None:
        self.bounds = tuple(bounds)
        self.counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        return sum(self.counts)

    def cumulative(self) -> list[tuple[str, int]]:
        """``(le, count)`` pairs as Prometheus exposes them."""
        out: list[tuple[str, int]] = []
        total = 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += n
            out.append(("+Inf" if bound == float("inf") else repr(bound), total))
        return out


class HistFamily:
    """Histograms by label values; :meth:`child` is called once per label set
    at a place that caches the result (never per observation)."""

    __slots__ = ("bounds", "children", "labelnames")

    def __init__(self, labelnames: tuple[str, ...], bounds: Sequence[float] = LATENCY_BUCKETS):
        self.labelnames = labelnames
        self.bounds = tuple(bounds)
        self.children: dict[tuple[str, ...], Hist] = {}

    def child(self, *labels: str) -> Hist:
        hist = self.children.get(labels)
        if hist is None:
            hist = self.children[labels] = Hist(self.bounds)
        return hist


class Counts:
    """Counters by label values: ``counts[labels] += 1`` (a dict bump)."""

    __slots__ = ("labelnames", "values")

    def __init__(self, labelnames: tuple[str, ...]) -> None:
        self.labelnames = labelnames
        self.values: dict[tuple[str, ...], int] = {}

    def inc(self, *labels: str, by: int = 1) -> None:
        values = self.values
        values[labels] = values.get(labels, 0) + by


class Traffic:
    """Frames and bytes through the gateway's sockets (bytes as written:
    websocket framing included on the way out, payloads on the way in)."""

    __slots__ = ("bytes_in", "bytes_out", "frames_in", "frames_out")

    def __init__(self) -> None:
        self.frames_in = 0
        self.bytes_in = 0
        self.frames_out = 0
        self.bytes_out = 0
