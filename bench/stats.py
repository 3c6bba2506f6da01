"""Latency histograms and the small statistics the reports need."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence

# Log-linear buckets (the HDR histogram idea): exact below 128 µs, then 64
# buckets per power of two, so any recorded value is off by at most ~0.8%
# while memory stays fixed however many samples arrive.
_SUB_BITS = 7
_SUB = 1 << _SUB_BITS
_HALF = _SUB >> 1
_N_BUCKETS = _SUB + _HALF * 26  # covers values up to ~2^33 µs (~2.4 hours)


def _bucket_index(micros: int) -> int:
    if micros < _SUB:
        return max(micros, 0)
    exponent = micros.bit_length() - _SUB_BITS
    index = _SUB + (exponent - 1) * _HALF + ((micros >> exponent) - _HALF)
    return min(index, _N_BUCKETS - 1)


def _bucket_value(index: int) -> float:
    """Midpoint of a bucket, in microseconds."""
    if index < _SUB:
        return index + 0.5
    exponent = (index - _SUB) // _HALF + 1
    top = (index - _SUB) % _HALF + _HALF
    low = top << exponent
    return low + (1 << exponent) / 2


class Histogram:
    """Counts of latencies; record in nanoseconds, read in milliseconds."""

    __slots__ = ("counts",)

    def __init__(self, counts: Sequence[int] | None = None) -> None:
        self.counts: list[int] = list(counts) if counts is not None else [0] * _N_BUCKETS

    def record_ns(self, nanos: int) -> None:
        self.counts[_bucket_index(nanos // 1000)] += 1

    def copy(self) -> Histogram:
        return Histogram(self.counts)

    def minus(self, earlier: Histogram) -> Histogram:
        """What was recorded since ``earlier`` (a copy of this histogram)."""
        return Histogram([a - b for a, b in zip(self.counts, earlier.counts, strict=True)])

    def merge(self, other: Histogram) -> None:
        for i, count in enumerate(other.counts):
            if count:
                self.counts[i] += count

    @property
    def total(self) -> int:
        return sum(self.counts)

    def percentile_ms(self, fraction: float) -> float | None:
        total = self.total
        if total == 0:
            return None
        rank = max(1, math.ceil(fraction * total))
        seen = 0
        for index, count in enumerate(self.counts):
            seen += count
            if seen >= rank:
                return _bucket_value(index) / 1000
        return None  # unreachable: seen reaches total

    def mean_ms(self) -> float | None:
        total = self.total
        if total == 0:
            return None
        weighted = sum(_bucket_value(i) * c for i, c in enumerate(self.counts) if c)
        return weighted / total / 1000

    def max_ms(self) -> float | None:
        for index in range(len(self.counts) - 1, -1, -1):
            if self.counts[index]:
                return _bucket_value(index) / 1000
        return None

    def summary(self) -> dict[str, float | int | None]:
        return {
            "count": self.total,
            "p50_ms": _round(self.percentile_ms(0.50)),
            "p99_ms": _round(self.percentile_ms(0.99)),
            "p999_ms": _round(self.percentile_ms(0.999)),
            "max_ms": _round(self.max_ms()),
            "mean_ms": _round(self.mean_ms()),
        }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def median(values: Iterable[float | None]) -> float | None:
    """Median of the values that exist; ``None`` when there are none."""
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator
