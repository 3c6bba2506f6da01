"""Cluster membership: nodes heartbeat into one Redis sorted set.

Each heartbeat records the node with Redis's own clock (no skew between
nodes) and returns the nodes seen within ``node_timeout``: that list is the
membership every node converges on within one heartbeat. A node absent from
it is dead. Keys are placed by rendezvous hashing over it.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger("grover.cluster")

MEMBERS_KEY = "grover:members"

# Record this node's heartbeat and return the live members, in one round trip.
_HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 10 * tonumber(ARGV[2]))
return redis.call('ZRANGEBYSCORE', KEYS[1], now - tonumber(ARGV[2]), '+inf')
"""


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
    ) -> None:
        self._redis = redis
        self.node = node
        self._heartbeat = heartbeat
        self._timeout_ms = int(node_timeout * 1000)
        self._on_change = on_change
        self.live: list[str] = [node]
        self._script = redis.register_script(_HEARTBEAT)
        self._task: asyncio.Task[None] | None = None
        self.healthy = False
        """Whether the last heartbeat reached Redis."""

    def is_live(self, node: str) -> bool:
        return node in self.live

    def owner(self, key: str) -> str:
        return rendezvous_owner(key, self.live)

    async def beat(self) -> None:
        """One heartbeat; updates :attr:`live` and reports changes."""
        members = await self._script(keys=[MEMBERS_KEY], args=[self.node, self._timeout_ms])
        live = sorted(m.decode() if isinstance(m, bytes) else str(m) for m in members)
        if self.node not in live:
            live = sorted([*live, self.node])
        self.healthy = True
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
            except (RedisError, OSError) as exc:
                if self.healthy:
                    log.warning("heartbeat failed: %s", exc, extra={"node": self.node})
                self.healthy = False

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
        # Leaving politely only speeds up what the timeout does anyway.
        with contextlib.suppress(RedisError, OSError):
            await self._redis.zrem(MEMBERS_KEY, self.node)
