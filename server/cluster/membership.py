"""Cluster membership: nodes heartbeat into one Redis sorted set.

Each heartbeat records the node with Redis's own clock (no skew between
nodes) and returns the nodes seen within ``node_timeout``: that list is the
membership every node converges on within one heartbeat. A node absent from
it is dead. Keys are placed by rendezvous hashing over it.

A heartbeat also tells the node whether the cluster may have taken it for
dead or lost what it knew of it: its previous heartbeat is missing (Redis
lost its data) or older than the timeout (the node was stalled or cut off),
or Redis is another process than at the last heartbeat (restarted or failed
over: writes of the last moments may be gone even with persistence). Then
``on_rejoin`` runs (see :class:`server.cluster.Cluster`).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from server.cluster.faults import FaultLog

log = logging.getLogger("grover.cluster")

MEMBERS_KEY = "grover:members"

EPOCH_KEY = "grover:epoch"
"""``<run id>:<ms>``: the Redis process (its ``run_id``) and the Redis time
when the cluster's data there began; see :mod:`server.cluster.placement`."""

EPOCH_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local run = string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')
local epoch_run, epoch = string.match(redis.call('GET', KEYS[2]) or '', '^(%w+):(%d+)$')
if epoch_run == run then
  epoch = tonumber(epoch)
else
  epoch = now
  redis.call('SET', KEYS[2], run .. ':' .. now)
end
"""
"""Lua that sets ``now`` (ms), ``run`` (this Redis process) and ``epoch``
(ms), starting a new epoch when the key is missing (data lost) or names
another process (Redis restarted or failed over, whatever it kept).
KEYS[2] must be :data:`EPOCH_KEY`."""

# Record this node's heartbeat and return {ms since its previous one (-1 if
# none), live members, Redis run id}, in one round trip.
_HEARTBEAT = (
    EPOCH_LUA
    + """
local previous = redis.call('ZSCORE', KEYS[1], ARGV[1])
local gap = -1
if previous then gap = now - tonumber(previous) end
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 10 * tonumber(ARGV[2]))
return {gap, redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[2]), '+inf'), run}
"""
)


OWNER_CACHE = 100_000
"""Keys whose owner a node remembers at most (then it starts over)."""


def rendezvous_owner(key: str, nodes: list[str]) -> str:
    """The node with the highest hash of ``(node, key)``: every node computes
    the same owner from the same membership, and a membership change moves
    only the keys of the nodes that came or went."""
    return max(
        nodes, key=lambda node: hashlib.blake2b(f"{node}|{key}".encode(), digest_size=8).digest()
    )


class Membership:
    def __init__(
        self,
        redis: Redis,
        node: str,
        *,
        heartbeat: float,
        node_timeout: float,
        on_change: Callable[[list[str], list[str]], None],
        on_rejoin: Callable[[], None] | None = None,
    ) -> None:
        self._redis = redis
        self.node = node
        self._heartbeat = heartbeat
        self._timeout_ms = int(node_timeout * 1000)
        self._on_change = on_change
        self._on_rejoin = on_rejoin
        self._redis_run: object = None
        """The Redis run id seen by the last heartbeat (None before the first)."""
        self.rejoins = 0
        """How often this node rejoined the cluster (see the module doc)."""
        self.live: list[str] = [node]
        self._owners: dict[str, str] = {}
        self._owners_of = self.live
        """The membership :attr:`_owners` was computed under."""
        self._script = redis.register_script(_HEARTBEAT)
        self._task: asyncio.Task[None] | None = None
        self.healthy = False
        """Whether the last heartbeat reached Redis."""
        self._faults = FaultLog(log, "heartbeat", node=node)
        self.beats = 0
        """Heartbeats sent (one Redis round trip each, every ``heartbeat``)."""

    def is_live(self, node: str) -> bool:
        return node in self.live

    def owner(self, key: str) -> str:
        """The key's owner under the current membership. Every actor message
        asks (twice: is it local, and where to), and hashing the key with
        each node showed as 5% of a cluster node's CPU: answers are kept
        until :attr:`live` is replaced (it is never changed in place)."""
        if self._owners_of is not self.live:
            self._owners_of = self.live
            self._owners.clear()
        owner = self._owners.get(key)
        if owner is None:
            if len(self._owners) >= OWNER_CACHE:
                self._owners.clear()
            owner = self._owners[key] = rendezvous_owner(key, self.live)
        return owner

    async def beat(self) -> None:
        """One heartbeat; updates :attr:`live` and reports changes."""
        self.beats += 1
        gap, members, run = await self._script(
            keys=[MEMBERS_KEY, EPOCH_KEY], args=[self.node, self._timeout_ms]
        )
        live = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
        if self.node not in live:
            live = sorted([*live, self.node])
        self.healthy = True
        previous_run, self._redis_run = self._redis_run, run
        if previous_run is not None:
            why = ""
            if run != previous_run:
                why = "Redis restarted or failed over"
            elif int(gap) < 0:
                why = "Redis lost its data"
            elif int(gap) > self._timeout_ms:
                why = f"no heartbeat for {int(gap)} ms"
            if why:
                self.rejoins += 1
                log.warning("rejoining the cluster: %s", why, extra={"node": self.node})
                if self._on_rejoin is not None:
                    self._on_rejoin()
        if live != self.live:
            before, self.live = self.live, live
            log.info("membership changed", extra={"node": self.node, "peer": ",".join(live)})
            self._on_change(before, live)

    async def start(self) -> None:
        await self.beat()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat)
            try:
                await self.beat()
            except Exception as exc:
                # Anything, not only Redis errors: the heartbeat must outlive a
                # bug in a membership callback (logged as the error it is).
                self._faults.failed(exc)
                self.healthy = False
            else:
                self._faults.succeeded()

    async def stop(self) -> None:
        """Stop heartbeating and leave: the other nodes see this node gone at
        their next heartbeat rather than after the timeout, and this node's
        own view drops it too (``on_change`` runs), so that it routes every
        key to the others from now on. Idempotent."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(RedisError, OSError):
            await self._redis.zrem(MEMBERS_KEY, self.node)
        others = [node for node in self.live if node != self.node]
        if others:  # alone, there is nobody to hand over to
            before, self.live = self.live, others
            self._on_change(before, others)
