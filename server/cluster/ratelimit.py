"""Token buckets in Redis, shared by every node of a cluster, so a client
cannot multiply its budget by spreading connections over nodes. Same
semantics as :class:`server.ratelimit.MemoryRateLimiter`; Redis's clock is the
only clock, and each call is one atomic script.

While Redis cannot be reached, each node counts in its own memory instead
(limits then apply per node, not per cluster): a rate limiter that stalled or
refused every request would turn a Redis outage into a full outage."""

from __future__ import annotations

import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.config import RateRule
from server.ratelimit import MemoryRateLimiter

log = logging.getLogger("grover.cluster")

# KEYS[1] bucket; ARGV rate, burst, cost (1 take, -1 refund).
# Returns the wait in seconds (0 when allowed).
_BUCKET = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1]) or burst
local ts = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local wait = 0
if cost < 0 then
  tokens = math.min(burst, tokens - cost)
elseif tokens >= 1 then
  tokens = tokens - cost
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str = "grover:rate:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_BUCKET)
        self._local = MemoryRateLimiter()
        self.degraded = False
        """The last call could not reach Redis and counted locally."""
        self.calls = 0
        """Calls sent to Redis (one round trip each; every request takes one)."""

    async def _call(self, key: str, rule: RateRule, cost: int) -> float:
        self.calls += 1
        try:
            wait = await self._script(
                keys=[self._prefix + key], args=[repr(rule.rate), repr(rule.burst), cost]
            )
        except (RedisError, OSError) as exc:
            if not self.degraded:
                log.warning("rate limits counted per node while Redis is away: %s", exc)
                self.degraded = True
            if cost < 0:
                await self._local.refund(key, rule)
                return 0.0
            return await self._local.acquire(key, rule)
        if self.degraded:
            log.info("rate limits shared through Redis again")
            self.degraded = False
        return float(wait.decode() if isinstance(wait, bytes) else wait)

    async def acquire(self, key: str, rule: RateRule) -> float:
        return await self._call(key, rule, 1)

    async def refund(self, key: str, rule: RateRule) -> None:
        await self._call(key, rule, -1)
