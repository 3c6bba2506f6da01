"""A workload that calls every port method of every store interface, for the
query-plan checker (``grover db check``): what the store runs under it is
what production runs, whatever the backend.

:data:`WORKLOAD` holds one entry per port method, keyed ``"attr.method"``
(``"messages.history"``, registered in :mod:`.entries`);
:func:`port_methods` lists the methods by reflecting over
:class:`actors.store.Store`, and :func:`check_coverage` fails when the two
differ, so a method added to a port without an entry fails the checker (and
its test) instead of going unchecked. Some entries call their method more
than once, to take more than one branch of a write (a notification that
opens a group, then one that joins it).

:func:`seed` fills an empty store through the same ports, for when there is
no database to copy.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Callable

from actors.store import Store
from server.storage.workload import entries
from server.storage.workload.base import WORKLOAD, WorkloadGap, World
from server.storage.workload.seed import seed

__all__ = ["WORKLOAD", "WorkloadGap", "World", "check_coverage", "port_methods", "run", "seed"]

assert entries.REGISTERED  # importing it registered the entries


def port_methods() -> list[str]:
    """Every ``"attr.method"`` of :class:`Store`'s aggregates, by reflection
    (``open``/``close``/``ping`` are the store's own, not an aggregate's)."""
    found: list[str] = []
    for attr, port in typing.get_type_hints(Store).items():
        for name, member in vars(port).items():
            if not name.startswith("_") and inspect.iscoroutinefunction(member):
                found.append(f"{attr}.{name}")
    return found


def check_coverage() -> None:
    """Raise :class:`WorkloadGap` unless :data:`WORKLOAD` has exactly one
    entry per port method."""
    ports = set(port_methods())
    missing = sorted(ports - WORKLOAD.keys())
    extra = sorted(WORKLOAD.keys() - ports)
    problems = []
    if missing:
        problems.append(f"no workload entry for {', '.join(missing)}")
    if extra:
        problems.append(f"entries for no port method: {', '.join(extra)}")
    if problems:
        raise WorkloadGap("; ".join(problems) + " (server/storage/workload/entries.py)")


async def run(
    store: Store, world: World | None = None, *, on_entry: Callable[[str], None] | None = None
) -> list[tuple[str, Exception]]:
    """Call every entry, in order, on an open store; the failures as
    ``(key, exception)`` (a failed entry may not have run all its queries).
    ``on_entry(key)`` is called before each entry (to attribute what runs)."""
    check_coverage()
    world = world or World()
    failures: list[tuple[str, Exception]] = []
    for key, call in WORKLOAD.items():
        if on_entry is not None:
            on_entry(key)
        try:
            await call(store, world)
        except Exception as exc:  # reported by the caller; the other entries still run
            failures.append((key, exc))
    await store.ping()
    return failures
