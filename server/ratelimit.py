"""Rate limiting with token buckets, behind one interface.

:class:`MemoryRateLimiter` serves a single node. The cluster swaps in a Redis
implementation of :class:`RateLimiter` so that a client cannot multiply its
budget by spreading its connections over nodes.
"""

from __future__ import annotations

import math
import time
from typing import Protocol

from server.config import RateRule


def retry_after(wait: float) -> float:
    """The ``retry_after`` to announce for a positive ``wait``: rounded *up* to
    the millisecond, so that a client that waits exactly that long finds a
    token (rounding to nearest said ``0`` for waits under half a millisecond,
    and a client obeying it came back too early)."""
    return max(math.ceil(wait * 1000.0), 1) / 1000.0


class RateLimiter(Protocol):
    async def acquire(self, key: str, rule: RateRule) -> float:
        """Take one token from ``key``'s bucket. Returns 0.0 when allowed,
        otherwise the seconds until a token will be available (nothing taken)."""

    async def refund(self, key: str, rule: RateRule) -> None:
        """Give back one token that :meth:`acquire` took, for an attempt that
        turned out not to count (e.g. a login that succeeded). The bucket never
        holds more than ``rule.burst``."""


class TokenBucket:
    """One bucket, for callers that own their key (e.g. a connection's strikes)."""

    __slots__ = ("rule", "stamp", "tokens")

    def __init__(self, rule: RateRule, now: float | None = None) -> None:
        self.rule = rule
        self.tokens = rule.burst
        self.stamp = time.monotonic() if now is None else now

    def _refill(self, now: float) -> None:
        self.tokens = min(self.rule.burst, self.tokens + (now - self.stamp) * self.rule.rate)
        self.stamp = now

    def take(self, now: float | None = None) -> float:
        """Take a token if there is one: 0.0, else the wait for the next one."""
        self._refill(time.monotonic() if now is None else now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rule.rate

    def give(self, now: float | None = None) -> None:
        """Return one token (at most up to the burst)."""
        self._refill(time.monotonic() if now is None else now)
        self.tokens = min(self.rule.burst, self.tokens + 1.0)


class MemoryRateLimiter:
    """Buckets in a dict; full (idle) buckets are dropped as it grows, which
    loses nothing because a full bucket is the same as no bucket."""

    def __init__(self, max_keys: int = 100_000) -> None:
        self._buckets: dict[str, TokenBucket] = {}
        self._max_keys = max_keys

    def _bucket(self, key: str, rule: RateRule, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None or bucket.rule != rule:
            if len(self._buckets) >= self._max_keys:
                self._prune(now)
            bucket = self._buckets[key] = TokenBucket(rule, now)
        return bucket

    def _prune(self, now: float) -> None:
        for key, bucket in list(self._buckets.items()):
            bucket._refill(now)
            if bucket.tokens >= bucket.rule.burst:
                del self._buckets[key]

    async def acquire(self, key: str, rule: RateRule) -> float:
        now = time.monotonic()
        return self._bucket(key, rule, now).take(now)

    async def refund(self, key: str, rule: RateRule) -> None:
        now = time.monotonic()
        self._bucket(key, rule, now).give(now)
