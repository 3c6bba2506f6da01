"""What every scenario shares: opening connections at a chosen rate, the
warm-up / measured window / drain phases with progress lines, the open-loop
pacer, and turning counters into a result."""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO

from bench import serverstats
from bench.clients.base import ClientLayer
from bench.payload import make_payload
from bench.procstat import CpuSample, ProcStat, bound_by, cpu_between
from bench.session import Recorder, Session, Snapshot
from bench.spec import CaseSpec, Timing
from bench.stats import Histogram
from bench.targets.base import Dialect, Room


class Progress:
    """Progress lines on stderr; the runner relays them as they come."""

    def __init__(self, label: str, stream: TextIO = sys.stderr) -> None:
        self.label = label
        self.stream = stream

    def line(self, text: str) -> None:
        print(f"    [{self.label}] {text}", file=self.stream, flush=True)


@dataclass
class CaseContext:
    spec: CaseSpec
    dialect: Dialect
    client: ClientLayer
    urls: Sequence[str]
    """One per server node; a single server has one."""
    procstat: ProcStat
    progress: Progress
    stats_urls: Sequence[str] = ()
    """Each node's ``/stats`` (Grover), read at both ends of the window."""

    @property
    def timing(self) -> Timing:
        return self.spec.timing

    def url_for(self, index: int) -> str:
        """Session ``index``'s node, round-robin: consecutive sessions (the two
        sides of a pair, the members of a group) land on different nodes."""
        return self.urls[index % len(self.urls)]

    def param(self, name: str, default: Any) -> Any:
        return self.spec.params.get(name, default)


async def poll_until(done: Callable[[], bool], timeout: float, step: float = 0.01) -> bool:
    """Check ``done`` every ``step`` seconds, at most ``timeout / step`` times."""
    for _ in range(max(1, math.ceil(timeout / step))):
        if done():
            return True
        await asyncio.sleep(step)
    return done()


# ------------------------------------------------------------------ connecting


@dataclass
class Opened:
    sessions: list[Session]
    connect_hist: Histogram
    seconds: float
    """From the first attempt to the last successful handshake."""
    failed: int


async def open_sessions(
    ctx: CaseContext,
    count: int,
    recorders: Recorder | Sequence[Recorder],
    *,
    first_index: int = 0,
    rate: float = 0.0,
) -> Opened:
    """Open ``count`` sessions, at most ``rate`` per second (0: as fast as the
    concurrency bound allows), within the case's connect timeout."""
    timing = ctx.timing
    opened: list[Session] = []
    hist = Histogram()
    failures = 0
    limit = asyncio.Semaphore(timing.concurrency)
    started = time.monotonic()
    last_ok = started

    def recorder_for(i: int) -> Recorder:
        if isinstance(recorders, Recorder):
            return recorders
        return recorders[i]

    finished = 0

    async def one(i: int) -> None:
        nonlocal failures, last_ok, finished
        session = Session(first_index + i, ctx.dialect, recorder_for(i))
        async with limit:
            t0 = time.monotonic_ns()
            try:
                await session.open(ctx.client, ctx.url_for(session.index), timing.per_conn_timeout)
            except Exception as exc:
                failures += 1
                session.recorder.error(f"connect:{type(exc).__name__}")
                session.close()
                return
            finally:
                finished += 1
            hist.record_ns(time.monotonic_ns() - t0)
            last_ok = time.monotonic()
            opened.append(session)

    async def spawn(tasks: list[asyncio.Task[None]]) -> None:
        for i in range(count):
            if rate > 0:
                delay = started + i / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(i)))

    tasks: list[asyncio.Task[None]] = []
    spawner = asyncio.create_task(spawn(tasks))
    next_report = started + timing.progress_every
    step = 0.02
    for _ in range(math.ceil(timing.connect_timeout / step)):
        if finished >= count:
            break
        await asyncio.sleep(step)
        if time.monotonic() >= next_report:
            next_report += timing.progress_every
            ctx.progress.line(f"connecting {len(opened)}/{count} ({failures} failed)")
    spawner.cancel()
    late = [t for t in tasks if not t.done()]
    for task in late:
        task.cancel()
    await asyncio.gather(spawner, *tasks, return_exceptions=True)
    if late:
        failures += len(late)
        ctx.progress.line(f"connect deadline: {len(late)} handshakes abandoned")
    opened.sort(key=lambda s: s.index)
    return Opened(opened, hist, last_ok - started, count - len(opened))


def require_all(ctx: CaseContext, opened: Opened, wanted: int) -> None:
    """A load scenario with missing connections measures something else: stop."""
    if len(opened.sessions) < wanted:
        raise RuntimeError(f"only {len(opened.sessions)}/{wanted} connections opened")


async def join_rooms(
    ctx: CaseContext, groups: Sequence[Sequence[Session]], prefix: str
) -> list[Room]:
    """Set up one room per group, a few rooms at a time (they are independent)."""
    rooms: list[Room | None] = [None] * len(groups)
    next_report = time.monotonic() + ctx.timing.progress_every
    batch = 16
    for start in range(0, len(groups), batch):
        chunk = range(start, min(start + batch, len(groups)))
        made = await asyncio.gather(
            *(
                ctx.dialect.join_room(list(groups[i]), f"{prefix}{i}", ctx.timing.per_conn_timeout)
                for i in chunk
            )
        )
        for i, room in zip(chunk, made, strict=True):
            rooms[i] = room
        if time.monotonic() >= next_report:
            next_report += ctx.timing.progress_every
            ctx.progress.line(f"joined {chunk.stop}/{len(groups)} rooms")
    return [room for room in rooms if room is not None]


async def close_sessions(sessions: Sequence[Session], recorders: Sequence[Recorder]) -> None:
    for recorder in recorders:
        recorder.closing = True
    for session in sessions:
        session.close()
    await poll_until(lambda: all(s.is_closed for s in sessions), 3.0, 0.02)


# ------------------------------------------------------------------ sending


def echo_action(ctx: CaseContext) -> Callable[[Session, int], bytes]:
    echo = ctx.dialect.echo

    def action(session: Session, request_id: int) -> bytes:
        return echo(session, request_id, make_payload(session.index, session.sent_count))

    return action


def publish_action(ctx: CaseContext, room: Room) -> Callable[[Session, int], bytes]:
    publish = ctx.dialect.publish

    def action(session: Session, request_id: int) -> bytes:
        return publish(session, request_id, room, make_payload(session.index, session.sent_count))

    return action


async def pace(
    sessions: Sequence[Session], rate: float, recorder: Recorder, max_outstanding: int, until: float
) -> None:
    """Open-loop sending: ``rate`` requests per second spread round-robin over
    ``sessions``, independent of replies (no coordinated omission). A send
    that would exceed ``max_outstanding`` on its connection is counted as
    skipped: the target did not keep up with the offered load."""
    if not sessions or rate <= 0:
        return
    started = time.monotonic()
    issued = 0
    turn = 0
    count = len(sessions)
    while recorder.running and time.monotonic() < until:
        due = int((time.monotonic() - started) * rate) - issued
        for _ in range(due):
            session = sessions[turn]
            turn = (turn + 1) % count
            issued += 1
            if len(session.pending) >= max_outstanding or session.is_closed:
                recorder.skipped += 1
            else:
                session.fire()
        await asyncio.sleep(0.002)


# ------------------------------------------------------------------ phases


@dataclass
class Mark:
    """Every recorder's counters and the CPU clocks at one instant."""

    snaps: dict[str, Snapshot]
    cpu: CpuSample

    @property
    def at(self) -> float:
        return self.cpu.at


def take_mark(ctx: CaseContext, recorders: Mapping[str, Recorder]) -> Mark:
    return Mark({name: r.snapshot() for name, r in recorders.items()}, ctx.procstat.sample())


@dataclass
class Delta:
    """What happened between two marks, for some recorders merged together."""

    seconds: float
    acks: int
    deliveries: int
    frames: int
    sent: int
    skipped: int
    errors: int
    ack_hist: Histogram
    delivery_hist: Histogram

    @classmethod
    def between(cls, first: Mark, last: Mark, names: Sequence[str] | None = None) -> Delta:
        keys = list(names) if names is not None else list(last.snaps)
        ack_hist, delivery_hist = Histogram(), Histogram()
        for key in keys:
            ack_hist.merge(last.snaps[key].ack_hist.minus(first.snaps[key].ack_hist))
            delivery_hist.merge(last.snaps[key].delivery_hist.minus(first.snaps[key].delivery_hist))

        def total(field_name: str) -> int:
            return sum(
                getattr(last.snaps[k], field_name) - getattr(first.snaps[k], field_name)
                for k in keys
            )

        return cls(
            seconds=max(last.at - first.at, 1e-6),
            acks=total("acks"),
            deliveries=total("deliveries"),
            frames=total("frames"),
            sent=total("sent"),
            skipped=total("skipped"),
            errors=total("errors"),
            ack_hist=ack_hist,
            delivery_hist=delivery_hist,
        )


@dataclass
class LoadResult:
    start: Mark
    end: Mark
    intervals: list[dict[str, Any]] = field(default_factory=list)
    unsettled: str | None = None
    server_stats: dict[str, Any] | None = None
    """The nodes' own counters over the window (:mod:`bench.serverstats`)."""

    @property
    def window_s(self) -> float:
        return self.end.at - self.start.at

    @property
    def cpu(self) -> dict[str, Any]:
        return cpu_between(self.start.cpu, self.end.cpu)


def _fmt_rate(value: float) -> str:
    return f"{value / 1000:.1f}k" if value >= 1000 else f"{value:.0f}"


async def run_load(
    ctx: CaseContext,
    recorders: Mapping[str, Recorder],
    start: Callable[[], list[asyncio.Task[None]]],
    settled: Callable[[], bool],
) -> LoadResult:
    """Warm up, measure a fixed window, stop sending, then drain (bounded)
    until ``settled()`` says every reply and delivery has arrived."""
    timing = ctx.timing
    everyone = list(recorders.values())
    for recorder in everyone:
        recorder.running = True
        recorder.max_sends = timing.max_sends
    pacers = start()
    await asyncio.sleep(timing.warmup)
    first = previous = take_mark(ctx, recorders)
    intervals: list[dict[str, Any]] = []
    window_end = time.monotonic() + timing.window
    counters_first = await serverstats.read_all(ctx.stats_urls) if ctx.stats_urls else None
    while (left := window_end - time.monotonic()) > 0:
        await asyncio.sleep(min(left, timing.progress_every))
        now = take_mark(ctx, recorders)
        intervals.append(_interval(ctx, previous, now, first))
        previous = now
    last = take_mark(ctx, recorders)
    server_stats = None
    if counters_first is not None:
        counters_last = await serverstats.read_all(ctx.stats_urls)
        acks = Delta.between(first, last).acks
        server_stats = serverstats.window_cost(counters_first, counters_last, acks)
    for recorder in everyone:
        recorder.running = False
    for pacer in pacers:
        pacer.cancel()
    await asyncio.gather(*pacers, return_exceptions=True)
    drained = await poll_until(settled, timing.drain)
    return LoadResult(
        start=first,
        end=last,
        intervals=intervals,
        unsettled=None if drained else "not settled after drain",
        server_stats=server_stats,
    )


def _interval(ctx: CaseContext, before: Mark, after: Mark, window_start: Mark) -> dict[str, Any]:
    delta = Delta.between(before, after)
    errors = Delta.between(window_start, after).errors
    cpu = cpu_between(before.cpu, after.cpu)
    elapsed = after.at - window_start.at
    ack_p99 = delta.ack_hist.percentile_ms(0.99)
    delivery_p99 = delta.delivery_hist.percentile_ms(0.99)
    text = f"t+{elapsed:4.1f}s  acks {_fmt_rate(delta.acks / delta.seconds)}/s"
    if ack_p99 is not None:
        text += f" (p99 {ack_p99:.1f}ms)"
    if delta.deliveries:
        text += f"  deliveries {_fmt_rate(delta.deliveries / delta.seconds)}/s"
        if delivery_p99 is not None:
            text += f" (p99 {delivery_p99:.1f}ms)"
    text += (
        f"  | server {cpu['server_pct']:.0f}% gen {cpu['generator_pct']:.0f}%"
        f" other {cpu['other_pct']:.0f}%  | errors {errors}"
    )
    ctx.progress.line(text)
    return {
        "t": round(elapsed, 2),
        "acks_per_s": round(delta.acks / delta.seconds, 1),
        "deliveries_per_s": round(delta.deliveries / delta.seconds, 1),
        "ack_p99_ms": ack_p99,
        "delivery_p99_ms": delivery_p99,
        "server_pct": cpu["server_pct"],
        "generator_pct": cpu["generator_pct"],
        "other_pct": cpu["other_pct"],
    }


# ------------------------------------------------------------------ results


def window_metrics(load: LoadResult, names: Sequence[str] | None = None) -> dict[str, Any]:
    """Throughput and latency over the measured window."""
    delta = Delta.between(load.start, load.end, names)
    metrics = {
        "acks_per_s": round(delta.acks / delta.seconds, 1),
        "deliveries_per_s": round(delta.deliveries / delta.seconds, 1),
        "sent_per_s": round(delta.sent / delta.seconds, 1),
        "skipped": delta.skipped,
        "ack": delta.ack_hist.summary(),
        "delivery": delta.delivery_hist.summary(),
    }
    if delta.frames:  # deliveries came several to a frame (live_chat)
        metrics["frames_per_s"] = round(delta.frames / delta.seconds, 1)
    return metrics


def load_result(
    ctx: CaseContext,
    load: LoadResult,
    recorders: Mapping[str, Recorder],
    *,
    primary: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The result dict of a load scenario. ``primary`` names the headline
    metric: ``acks_per_s`` or ``deliveries_per_s`` (throughput, saturating
    scenarios) or ``work_per_server_core`` (fixed offered load: how much work
    each server core-second bought)."""
    metrics = window_metrics(load)
    errors: dict[str, int] = {}
    for recorder in recorders.values():
        for kind, count in recorder.errors.items():
            errors[kind] = errors.get(kind, 0) + count
    if load.unsettled:
        errors["unsettled"] = errors.get("unsettled", 0) + 1
    server_pct = float(load.cpu["server_pct"])
    work = metrics["acks_per_s"] + metrics["deliveries_per_s"]
    metrics["work_per_s"] = round(work, 1)
    metrics["work_per_server_core"] = (
        round(work / (server_pct / 100), 1) if server_pct > 0 else None
    )
    result: dict[str, Any] = {
        "ok": True,
        "window_s": round(load.window_s, 3),
        "metrics": metrics,
        "primary": {"metric": primary, "value": metrics[primary]},
        "cpu": load.cpu,
        "bound": bound_by(server_pct, float(load.cpu["generator_pct"])),
        "errors": errors,
        "errors_total": sum(errors.values()),
        "intervals": load.intervals,
    }
    if len(recorders) > 1:
        result["roles"] = {name: window_metrics(load, [name]) for name in recorders}
    if load.server_stats is not None:
        result["server_stats"] = load.server_stats
    if extra:
        result.update(extra)
    return result


def delivery_check(
    expected: int, delivered: int, sessions: Sequence[Session], recorder: Recorder
) -> dict[str, int]:
    """Compare what arrived with what the acked sends imply. Fewer is loss;
    more, once every send has been acked, is duplication: both are errors."""
    missing = max(expected - delivered, 0)
    all_acked = not any(s.pending for s in sessions)
    extra = max(delivered - expected, 0) if all_acked else 0
    if missing:
        recorder.error("missing_delivery")
    if extra:
        recorder.error("duplicate_delivery")
    return {
        "expected_deliveries": expected,
        "missing_deliveries": missing,
        "extra_deliveries": extra,
    }


def connect_summary(opened: Opened) -> dict[str, Any]:
    return {
        "opened": len(opened.sessions),
        "failed": opened.failed,
        "seconds": round(opened.seconds, 3),
        "latency": opened.connect_hist.summary(),
    }
