"""CPU and memory of the server side (one server, or a cluster's nodes and
its Redis) and of the generator over a measured window, and of everything
else on the machine (to spot a disturbed run)."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import psutil


@dataclass(frozen=True)
class CpuSample:
    at: float
    server_cpu_s: float
    """Every server-side process (each node with its children, and Redis)."""
    node_cpu_s: tuple[float, ...]
    """Each node with its children, in the order the pids were given."""
    redis_cpu_s: float | None
    generator_cpu_s: float
    server_rss: int
    core_busy_s: tuple[float, ...]
    softirq_s: float
    steal_s: float


def _busy(times: Any) -> float:
    # guest time is already inside user time on Linux: do not count it twice.
    not_busy = ("idle", "iowait", "guest", "guest_nice")
    return float(sum(getattr(times, f) for f in times._fields if f not in not_busy))


def _tree(proc: psutil.Process) -> list[psutil.Process]:
    """A process and its descendants; empty once it has gone."""
    try:
        return [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return []


def _cpu_s(proc: psutil.Process | None) -> float:
    """User + system CPU seconds of a process and its descendants."""
    total = 0.0
    for member in _tree(proc) if proc is not None else []:
        with contextlib.suppress(psutil.Error):
            times = member.cpu_times()
            total += times.user + times.system
    return total


def _rss(proc: psutil.Process | None) -> int:
    total = 0
    for member in _tree(proc) if proc is not None else []:
        with contextlib.suppress(psutil.Error):
            total += int(member.memory_info().rss)
    return total


class ProcStat:
    """Samples the server side of a case and this (the generator) process.

    The server side is one process per node (a single server is one node),
    each with its children, plus an optional Redis. "Server" CPU and RSS are
    their sum: the runner pins all of them to one core, so the sum is what
    that core spent, comparable with a single server's. Nodes and Redis are
    also reported one by one.
    """

    def __init__(self, server_pids: Sequence[int] = (), redis_pid: int | None = None) -> None:
        self._nodes = [psutil.Process(pid) for pid in server_pids]
        self._redis = psutil.Process(redis_pid) if redis_pid else None
        self._me = psutil.Process()

    @property
    def has_redis(self) -> bool:
        return self._redis is not None

    def server_rss(self) -> int:
        return sum(_rss(node) for node in self._nodes) + _rss(self._redis)

    def sample(self) -> CpuSample:
        mine = self._me.cpu_times()
        total = psutil.cpu_times()
        nodes = tuple(_cpu_s(node) for node in self._nodes)
        redis = _cpu_s(self._redis) if self._redis is not None else None
        return CpuSample(
            at=time.monotonic(),
            server_cpu_s=sum(nodes) + (redis or 0.0),
            node_cpu_s=nodes,
            redis_cpu_s=redis,
            generator_cpu_s=mine.user + mine.system,
            server_rss=self.server_rss(),
            core_busy_s=tuple(_busy(t) for t in psutil.cpu_times(percpu=True)),
            softirq_s=float(getattr(total, "softirq", 0.0)),
            steal_s=float(getattr(total, "steal", 0.0)),
        )


def cpu_between(first: CpuSample, last: CpuSample) -> dict[str, Any]:
    """Percent of one core used by each party between two samples.

    ``server_pct`` is every server-side process together (nodes and Redis);
    ``nodes_pct`` splits it by node and ``redis_pct`` gives Redis's part
    (None without Redis)."""
    elapsed = max(last.at - first.at, 1e-6)

    def pct(before: float, after: float) -> float:
        return (after - before) / elapsed * 100

    server = pct(first.server_cpu_s, last.server_cpu_s)
    generator = pct(first.generator_cpu_s, last.generator_cpu_s)
    cores = [pct(a, b) for a, b in zip(first.core_busy_s, last.core_busy_s, strict=True)]
    # Whatever the cores did beyond our processes: other tenants, the
    # runner, and kernel work not charged to a process (softirq, steal).
    other = max(0.0, sum(cores) - server - generator)
    redis = (
        round(pct(first.redis_cpu_s, last.redis_cpu_s), 1)
        if first.redis_cpu_s is not None and last.redis_cpu_s is not None
        else None
    )
    return {
        "server_pct": round(server, 1),
        "nodes_pct": [
            round(pct(a, b), 1) for a, b in zip(first.node_cpu_s, last.node_cpu_s, strict=True)
        ],
        "redis_pct": redis,
        "generator_pct": round(generator, 1),
        "other_pct": round(other, 1),
        "cores_pct": [round(c, 1) for c in cores],
        "softirq_pct": round((last.softirq_s - first.softirq_s) / elapsed * 100, 1),
        "steal_pct": round((last.steal_s - first.steal_s) / elapsed * 100, 1),
        "server_rss_bytes": last.server_rss,
    }


SATURATED_PCT = 90.0


def bound_by(server_pct: float, generator_pct: float) -> str:
    """Which side limited the result: call it server-bound only when the
    server's core is saturated and the generator's is not."""
    server_busy = server_pct >= SATURATED_PCT
    generator_busy = generator_pct >= SATURATED_PCT
    if server_busy and not generator_busy:
        return "server"
    if generator_busy and not server_busy:
        return "generator"
    if server_busy and generator_busy:
        return "both"
    return "neither"
