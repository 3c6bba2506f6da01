"""The marketplace's background work on one node: applying stored webhook
events (at once when the sidecar stores one, and at every sweep), expiring
unpaid orders, releasing held earnings, and sending or polling payouts.

Every node runs one; their work overlaps harmlessly in a cluster (each change
is a compare-and-set, each ledger transaction keyed), so no leader is needed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import msgspec

from server.context import Services
from server.market import events, orders, payouts
from server.observability import logs

log = logging.getLogger("grover.market")


class SweepReport(msgspec.Struct, kw_only=True):
    events: int
    expired: int
    released: int
    payouts: int


class MarketWorker:
    def __init__(self, services: Services) -> None:
        self.services = services
        self._kick = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def kick(self) -> None:
        """A webhook event was stored: apply it now rather than at the next sweep."""
        self._kick.set()

    async def sweep_once(self, now: float | None = None) -> SweepReport:
        when = time.time() if now is None else now
        services = self.services
        return SweepReport(
            events=await events.apply_pending(services),
            expired=await orders.expire_due(services, when),
            released=await orders.release_due(services, when),
            payouts=await payouts.poll_open(services) if services.payments.configured else 0,
        )

    async def _run(self) -> None:
        logs.background_task("market")
        interval = self.services.settings.market_sweep_interval
        last_sweep = 0.0
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._kick.wait(), interval)
            kicked = self._kick.is_set()
            self._kick.clear()
            try:
                if kicked and time.monotonic() - last_sweep < interval:
                    await events.apply_pending(self.services)
                else:
                    last_sweep = time.monotonic()
                    await self.sweep_once()
            except Exception:
                log.exception("the marketplace sweep failed")

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
