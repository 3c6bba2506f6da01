"""Garbage-collector settings for a server, and a report of long pauses.

A full (generation 2) collection stops the event loop while it scans every
tracked object; with a thousand connections that measured 50-110 ms here, and
it found nothing to free (connections, sessions and actors are all live). The
default thresholds (700, 10, 10) run one after every 70,000 net allocations
while the heap grows. :data:`THRESHOLDS` keeps young collections (which free
short-lived cycles) frequent and cheap, and makes full ones rare. Pauses longer
than :data:`SLOW_PAUSE` are logged, so operators see them."""

from __future__ import annotations

import gc
import logging
import time
from typing import Any

from server.observability.instruments import Hist

log = logging.getLogger("grover.gc")

THRESHOLDS = (10_000, 50, 100)
"""gen0 allocations per young collection; young collections per gen1 one;
gen1 collections per full one (CPython also waits for 25% heap growth).
Measured on the chat bench against (2000, 10, 100): more throughput (6.5k vs
5.1k messages/s) and a lower p99, at the price of rarer but longer gen1
pauses while connections are being set up (up to ~110 ms, logged)."""

SLOW_PAUSE = 0.02
"""Seconds; a collection longer than this is logged as a warning."""

_started: list[float] = []
PAUSES = {generation: Hist((0.001, 0.005, 0.02, 0.05, 0.1, 0.5)) for generation in (0, 1, 2)}
"""Every collection's pause by generation, process-wide (a node's metrics
read it at scrape time); counted only while :func:`install` is in effect."""
_unreported = [0]
"""Slow pauses that could not be logged when they happened (see below)."""


def _callback(phase: str, info: dict[str, Any]) -> None:
    if phase == "start":
        _started.append(time.perf_counter())
    elif _started:
        pause = time.perf_counter() - _started.pop()
        hist = PAUSES.get(info.get("generation", -1))
        if hist is not None:
            hist.observe(pause)
        if pause >= SLOW_PAUSE:
            try:
                log.warning(
                    "gc pause %.1f ms (generation %d, %d collected)",
                    pause * 1000,
                    info.get("generation", -1),
                    info.get("collected", 0),
                    extra={"unreported": _unreported[0]},
                )
                _unreported[0] = 0
            except RecursionError:
                # A collection may start at any allocation, also at the bottom
                # of a stack that a hostile frame drove to the recursion limit
                # (msgspec refusing it): no room there to format a log line,
                # and an error escaping a GC callback cannot even be reported.
                # Count it; the next report carries the count.
                _unreported[0] += 1


def install() -> None:
    """Apply :data:`THRESHOLDS` and start reporting slow collections."""
    gc.set_threshold(*THRESHOLDS)
    if _callback not in gc.callbacks:
        gc.callbacks.append(_callback)


def uninstall() -> None:
    """Stop reporting (at shutdown, when pauses no longer matter to clients)."""
    if _callback in gc.callbacks:
        gc.callbacks.remove(_callback)
    _started.clear()
