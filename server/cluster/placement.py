"""Placement in a cluster: rendezvous owner plus a Redis lease per activation.

The owner of a key is computed from the membership; but only the holder of
the key's lease may run its activation, which is what makes activation single
while nodes come and go. A lease lives ``lease_ttl`` in Redis and is renewed
every third of that. The holder trusts its lease only until 80% of the TTL
after it *sent* the last successful renewal: if renewals stop (Redis down,
node paused or partitioned) it stops handling that actor's messages before
Redis lets anyone else take the lease (the fence; see
:meth:`actors.runtime.Placement.holds`), and a watchdog ends the activation
(:meth:`actors.runtime.ActorSystem.fence`) as soon as it is fenced.

Redis may lose leases (a restart without persistence loses all; with
``appendfsync everysec`` the last second; a failover to a replica what it
had not received). A holder does not know until its next renewal, and until
its trust runs out it goes on handling messages; so after such a loss nobody
may take a *new* lease for one TTL. Redis keeps an epoch key naming the
Redis process (its ``run_id``) and when the epoch began; the first heartbeat
or acquire that finds it missing, or naming another process, starts a new
epoch, and fresh leases are granted only once it is a TTL old. (A brand-new
cluster waits that TTL once, too.)

The activation log (``activation_log`` setting) records, per node, when it
took a lease (``start``) and when the activation behind it had ended and
let it go (``end``, with why: ``released``, ``lapsed`` when renewals failed,
``lost`` when Redis no longer had it): a node never handles a key's messages
outside such an interval, which is what tests check for overlaps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from redis.asyncio import Redis
from redis.exceptions import RedisError

from actors.ids import ActorKey
from actors.message import Message
from server.cluster.faults import FaultLog
from server.cluster.membership import EPOCH_KEY, EPOCH_LUA, Membership
from server.cluster.transport import StreamTransport

log = logging.getLogger("grover.cluster")

TRUST = 0.8
"""Share of the TTL a holder trusts its lease after sending a renewal."""

# KEYS[1] lease, KEYS[2] epoch; ARGV[1] holder, ARGV[2] TTL in ms.
_ACQUIRE = (
    """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
"""
    + EPOCH_LUA
    + """
if now - epoch < tonumber(ARGV[2]) then return 0 end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return 1 end
return 0
"""
)

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


def actor_key(lease: str) -> ActorKey:
    """The inverse of :func:`lease_key`."""
    _, _, kind, actor_id = lease.split(":", 3)
    return ActorKey(kind, actor_id)


class LeaseUnavailable(Exception):
    """Another node kept the lease beyond the acquire timeout."""


class Leases:
    """The leases this node holds, renewed in the background, and watched:
    when one is lost or lapses, ``on_lapse`` is called with its key."""

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
        """Lease key -> monotonic time until which this node trusts it; kept
        until released, so that the end record says why it ended."""
        self._gone: dict[str, str] = {}
        """Held keys that lapsed or were lost (-> which): not renewed again."""
        self.on_lapse: Callable[[str], None] | None = None
        self._acquire = redis.register_script(_ACQUIRE)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)
        self._tasks: list[asyncio.Task[None]] = []
        self._log_path = activation_log
        self._renewals = FaultLog(log, "lease renewal", node=node)
        self._releases = FaultLog(log, "lease release", node=node)
        """One for every release: while Redis is away each ending activation
        fails its release, and that is one state, not one line each."""
        self.calls = 0
        """Redis round trips: acquire attempts, renewals (one per 500 leases
        every third of the TTL), releases."""
        self.renewed = 0
        """Leases renewed since start (for metrics)."""
        self.ended: Counter[str] = Counter()
        """Leases fenced since start, by why (``lost``, ``lapsed``)."""

    def held(self) -> int:
        """Leases held and trusted now (for metrics)."""
        return len(self._held) - len(self._gone)

    def holds(self, key: str) -> bool:
        until = self._held.get(key)
        return until is not None and until > time.monotonic()

    async def try_acquire(self, key: str) -> bool:
        sent = time.monotonic()
        self.calls += 1
        if not await self._acquire(keys=[key, EPOCH_KEY], args=[self.holder, self._ttl_ms]):
            return False
        if key not in self._held:
            self._record(key, "start", "acquired")
        self._held[key] = sent + self._ttl * TRUST
        self._gone.pop(key, None)
        return True

    async def release(self, key: str) -> None:
        """The activation behind ``key`` has ended: record it, then free the
        lease in Redis. If Redis cannot be reached the lease expires by
        itself within a TTL."""
        if self._held.pop(key, None) is not None:
            self._record(key, "end", self._gone.pop(key, "released"))
        self.calls += 1
        try:
            await self._release(keys=[key], args=[self.holder])
        except (RedisError, OSError) as exc:
            # The lease expires by itself within a TTL.
            self._releases.failed(exc)
        else:
            self._releases.succeeded()

    async def renew_all(self) -> None:
        keys = [key for key in self._held if key not in self._gone]
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            sent = time.monotonic()
            self.calls += 1
            lost = await self._renew(keys=chunk, args=[self.holder, self._ttl_ms])
            lost_keys = {k.decode() if isinstance(k, bytes) else str(k) for k in lost}
            for key in chunk:
                if key not in self._held or key in self._gone:
                    continue  # released, or fenced, meanwhile
                if key in lost_keys:
                    log.warning("lease lost", extra={"node": self.node, "actor": key})
                    self._fence(key, "lost")
                else:
                    self._held[key] = sent + self._ttl * TRUST
                    self.renewed += 1

    def _fence(self, key: str, why: str) -> None:
        self.ended[why] += 1
        self._held[key] = 0.0
        self._gone[key] = why
        if self.on_lapse is not None:
            self.on_lapse(key)

    def check_lapsed(self) -> int:
        """Fence the leases whose trust ran out (renewals failing); returns
        how many. Runs every twentieth of the TTL, so an idle activation ends
        within 85% of the TTL, before Redis lets another node take over."""
        now = time.monotonic()
        lapsed = [k for k, until in self._held.items() if until <= now and k not in self._gone]
        for key in lapsed:
            self._fence(key, "lapsed")
        return len(lapsed)

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._run()), loop.create_task(self._watch())]

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._ttl / 3)
            try:
                await self.renew_all()
            except Exception as exc:
                # The watchdog fences the leases when their trust runs out.
                self._renewals.failed(exc)
            else:
                self._renewals.succeeded()

    async def _watch(self) -> None:
        # Apart from _run: a renewal stuck on a dead connection must not hold
        # up the fence.
        while True:
            await asyncio.sleep(max(self._ttl / 20, 0.01))
            try:
                self.check_lapsed()
            except Exception:
                log.exception("lease watchdog failed", extra={"node": self.node})

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

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

    async def forward(self, key: ActorKey, message: Message, *, reply: bool, timeout: float) -> Any:
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
