"""CPU and memory of the server and the generator over a measured window,
and of everything else on the machine (to spot a disturbed run)."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from typing import Any

import psutil


@dataclass(frozen=True)
class CpuSample:
    at: float
    server_cpu_s: float
    generator_cpu_s: float
    server_rss: int
    core_busy_s: tuple[float, ...]
    softirq_s: float
    steal_s: float


def _busy(times: Any) -> float:
    # guest time is already inside user time on Linux: do not count it twice.
    not_busy = ("idle", "iowait", "guest", "guest_nice")
    return float(sum(getattr(times, f) for f in times._fields if f not in not_busy))


class ProcStat:
    """Samples one server process (and its children) and this process."""

    def __init__(self, server_pid: int | None) -> None:
        self._server = psutil.Process(server_pid) if server_pid else None
        self._me = psutil.Process()

    def server_rss(self) -> int:
        if self._server is None:
            return 0
        total = 0
        with contextlib.suppress(psutil.Error):
            total = int(self._server.memory_info().rss)
            for child in self._server.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    total += int(child.memory_info().rss)
        return total

    def _server_cpu(self) -> float:
        if self._server is None:
            return 0.0
        total = 0.0
        with contextlib.suppress(psutil.Error):
            times = self._server.cpu_times()
            total = times.user + times.system
            for child in self._server.children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    child_times = child.cpu_times()
                    total += child_times.user + child_times.system
        return total

    def sample(self) -> CpuSample:
        mine = self._me.cpu_times()
        total = psutil.cpu_times()
        return CpuSample(
            at=time.monotonic(),
            server_cpu_s=self._server_cpu(),
            generator_cpu_s=mine.user + mine.system,
            server_rss=self.server_rss(),
            core_busy_s=tuple(_busy(t) for t in psutil.cpu_times(percpu=True)),
            softirq_s=float(getattr(total, "softirq", 0.0)),
            steal_s=float(getattr(total, "steal", 0.0)),
        )


def cpu_between(first: CpuSample, last: CpuSample) -> dict[str, float | list[float] | int]:
    """Percent of one core used by each party between two samples."""
    elapsed = max(last.at - first.at, 1e-6)
    server = (last.server_cpu_s - first.server_cpu_s) / elapsed * 100
    generator = (last.generator_cpu_s - first.generator_cpu_s) / elapsed * 100
    cores = [
        (b - a) / elapsed * 100 for a, b in zip(first.core_busy_s, last.core_busy_s, strict=True)
    ]
    # Whatever the cores did beyond our two processes: other tenants, the
    # runner, and kernel work not charged to a process (softirq, steal).
    other = max(0.0, sum(cores) - server - generator)
    return {
        "server_pct": round(server, 1),
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
