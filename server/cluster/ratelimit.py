"""Token buckets in Redis, shared by every node of a cluster, so a client
cannot multiply its budget by spreading connections over nodes. Same
semantics as :class:`server.ratelimit.MemoryRateLimiter`; Redis's clock is the
only clock. The calls made in one loop turn go to Redis together, as one
atomic script over their buckets: one round trip for a turn's requests rather
than one per request, which was half of a cluster's Redis round trips per
chat message.

While Redis cannot be reached, each node counts in its own memory instead
(limits then apply per node, not per cluster): a rate limiter that stalled or
refused every request would turn a Redis outage into a full outage."""

from __future__ import annotations

import asyncio
import logging

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.config import RateRule
from server.ratelimit import MemoryRateLimiter

log = logging.getLogger("grover.cluster")

# KEYS[i] bucket i; ARGV[3i-2..3i] its rate, burst, cost (1 take, -1 refund),
# in call order (a bucket named twice is taken from twice, in that order).
# Returns the wait in seconds for each (0 when allowed).
_BUCKETS = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local waits = {}
for i, key in ipairs(KEYS) do
  local rate = tonumber(ARGV[3 * i - 2])
  local burst = tonumber(ARGV[3 * i - 1])
  local cost = tonumber(ARGV[3 * i])
  local state = redis.call('HMGET', key, 'tokens', 'ts')
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
  redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
  waits[i] = tostring(wait)
end
return waits
"""

MAX_BATCH = 256
"""Buckets per script call: a turn with more sends several calls at once."""

_Call = tuple[str, RateRule, int, "asyncio.Future[float]"]


class RedisRateLimiter:
    def __init__(self, redis: Redis, prefix: str = "grover:rate:") -> None:
        self._redis = redis
        self._prefix = prefix
        self._script = redis.register_script(_BUCKETS)
        self._local = MemoryRateLimiter()
        self._pending: list[_Call] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self.degraded = False
        """The last call could not reach Redis and counted locally."""
        self.calls = 0
        """Script calls sent to Redis (one round trip each, for up to
        :data:`MAX_BATCH` requests of one loop turn)."""

    async def acquire(self, key: str, rule: RateRule) -> float:
        return await self._call(key, rule, 1)

    async def refund(self, key: str, rule: RateRule) -> None:
        await self._call(key, rule, -1)

    def _call(self, key: str, rule: RateRule, cost: int) -> asyncio.Future[float]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[float] = loop.create_future()
        if not self._pending:
            # Starts next turn, when every call of this one has joined.
            task = loop.create_task(self._flush())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        self._pending.append((key, rule, cost, future))
        return future

    async def _flush(self) -> None:
        pending, self._pending = self._pending, []
        batches = [pending[i : i + MAX_BATCH] for i in range(0, len(pending), MAX_BATCH)]
        await asyncio.gather(*(self._run(batch) for batch in batches))

    async def _run(self, batch: list[_Call]) -> None:
        self.calls += 1
        args: list[str | int] = []
        for _, rule, cost, _ in batch:
            args += [repr(rule.rate), repr(rule.burst), cost]
        try:
            waits = await self._script(keys=[self._prefix + call[0] for call in batch], args=args)
        except (RedisError, OSError) as exc:
            if not self.degraded:
                log.warning("rate limits counted per node while Redis is away: %s", exc)
                self.degraded = True
            for key, rule, cost, future in batch:
                if cost < 0:
                    await self._local.refund(key, rule)
                    wait = 0.0
                else:
                    wait = await self._local.acquire(key, rule)
                if not future.done():
                    future.set_result(wait)
            return
        if self.degraded:
            log.info("rate limits shared through Redis again")
            self.degraded = False
        for (_, _, _, future), wait in zip(batch, waits, strict=True):
            if not future.done():
                future.set_result(float(wait.decode() if isinstance(wait, bytes) else wait))
