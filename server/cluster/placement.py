"""Placement in a cluster: rendezvous owner plus a Redis lease per activation.

The owner of a key is computed from the membership; but only the holder of
the key's lease may run its activation, which is what makes activation single
while nodes come and go. A lease lives ``lease_ttl`` in Redis and is renewed
every third of that. The holder trusts its lease only until 80% of the TTL
after it *sent* the last successful renewal: if renewals stop (Redis down,
node paused or partitioned) it stops handling that actor's messages before
Redis lets anyone else take the lease (the fence; see
:meth:`actors.runtime.Placement.holds`).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from actors.runtime import ActorKey
from server.cluster.membership import Membership
from server.cluster.transport import StreamTransport

log = logging.getLogger("grover.cluster")

TRUST = 0.8
"""Share of the TTL a holder trusts its lease after sending a renewal."""

_ACQUIRE = """
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
"""

_RENEW = """
local lost = {}
for i, key in ipairs(KEYS) do
  if redis.call('GET', key) == ARGV[1] then
    redis.call('PEXPIRE', key, ARGV[2])
  else
    table.insert(lost, key)
  end
end
return lost
"""

_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


def lease_key(key: ActorKey) -> str:
    return f"grover:lease:{key.kind}:{key.id}"


class LeaseUnavailable(Exception):
    """Another node kept the lease beyond the acquire timeout."""


class Leases:
    """The leases this node holds, renewed in the background."""

    def __init__(
        self, redis: Redis, node: str, ttl: float, activation_log: Path | None = None
    ) -> None:
        self._redis = redis
        self.node = node
        self.holder = f"{node}:{secrets.token_hex(4)}"
        """Lease value: the node plus an incarnation, so that a restarted
        node never mistakes its predecessor's leases for its own."""
        self._ttl_ms = int(ttl * 1000)
        self._ttl = ttl
        self._held: dict[str, float] = {}
        """Lease key -> monotonic time until which this node trusts it."""
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._task: asyncio.Task[None] | None = None
        self._log_path = activation_log

    def holds(self, key: str) -> bool:
        until = self._held.get(key)
        if until is None:
            return False
        if until > time.monotonic():
            return True
        del self._held[key]
        self._record(key, "end", "lapsed")
        return False

    async def try_acquire(self, key: str) -> bool:
        sent = time.monotonic()
        if not await self._acquire(keys=[key], args=[self.holder, self._ttl_ms]):
            return False
        if key not in self._held:
            self._record(key, "start", "acquired")
        self._held[key] = sent + self._ttl * TRUST
        return True

    async def release(self, key: str) -> None:
        if self._held.pop(key, None) is not None:
            self._record(key, "end", "released")
        await self._release(keys=[key], args=[self.holder])

    async def renew_all(self) -> None:
        keys = list(self._held)
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            sent = time.monotonic()
            lost = await self._renew(keys=chunk, args=[self.holder, self._ttl_ms])
            lost_keys = {k.decode() if isinstance(k, bytes) else str(k) for k in lost}
            for key in chunk:
                if key not in self._held:
                    continue  # released meanwhile
                if key in lost_keys:
                    del self._held[key]
                    self._record(key, "end", "lost")
                    log.warning("lease lost", extra={"node": self.node, "actor": key})
                else:
                    self._held[key] = sent + self._ttl * TRUST

    async def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            try:
                await self.renew_all()
            except (RedisError, OSError) as exc:
                # The fence in holds() takes over: leases lapse locally first.
                log.warning("lease renewal failed: %s", exc, extra={"node": self.node})

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()

    def _record(self, key: str, event: str, why: str) -> None:
        """Append an activation record (for tests that check single activation
        from evidence, and for operators investigating a failover)."""
        if self._log_path is None:
            return
        line = {"t": time.time(), "node": self.node, "key": key, "event": event, "why": why}
        with self._log_path.open("ab") as f:
            f.write(orjson.dumps(line) + b"\n")


class ClusterPlacement:
    """:class:`actors.runtime.Placement` over membership, leases and transport."""

    def __init__(
        self,
        membership: Membership,
        leases: Leases,
        transport: StreamTransport,
        *,
        acquire_timeout: float,
    ) -> None:
        self._membership = membership
        self._leases = leases
        self._transport = transport
        self._acquire_timeout = acquire_timeout
        self.node = membership.node

    def owner(self, key: ActorKey) -> str:
        return self._membership.owner(str(key))

    def is_local(self, key: ActorKey) -> bool:
        return self.owner(key) == self.node

    async def forward(self, key: ActorKey, message: Any, *, reply: bool, timeout: float) -> Any:
        node = self.owner(key)
        if not reply:
            self._transport.tell(node, key, message)
            return None
        return await self._transport.ask(node, key, message, timeout)

    async def acquire(self, key: ActorKey) -> None:
        """Take the lease, waiting while a previous holder hands off or its
        lease runs out (a dead node's lease expires after one TTL)."""
        name = lease_key(key)
        deadline = time.monotonic() + self._acquire_timeout
        delay = 0.02
        while not await self._leases.try_acquire(name):
            if time.monotonic() >= deadline:
                raise LeaseUnavailable(f"{key} is leased by another node")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)

    async def release(self, key: ActorKey) -> None:
        await self._leases.release(lease_key(key))

    def holds(self, key: ActorKey) -> bool:
        return self._leases.holds(lease_key(key))
