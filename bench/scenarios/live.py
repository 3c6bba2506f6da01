"""``live_chat`` (Grover only): one live stream, V viewers connected and
joined, C of them chatting at a fixed total rate (``chat.send``, the send
timestamp leading the text). The stream delivers its chat in ticks: one
``chat.updated`` frame per joined session per tick, carrying that tick's
lines. A delivery is one line reaching one viewer (the chatters' own lines
included: every joined session gets every line); frames are counted apart.

The host and the viewers are seeded accounts (:mod:`bench.seed`) that log
in; the host ``stream.start``s, then every viewer ``stream.join``s (bounded
gather), and ``stream.get`` must show exactly V viewers. After the drain
every viewer must have had every acked line exactly once, in the same order
as every other viewer (the stream's order).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from typing import Any

import msgspec

from bench.payload import make_payload
from bench.scenarios.base import (
    CaseContext,
    close_sessions,
    connect_summary,
    load_result,
    open_sessions,
    pace,
    require_all,
    run_load,
)
from bench.scenarios.social import _grover
from bench.session import Recorder, Session
from bench.social_plan import PASSWORD, LivePlan
from bench.targets.base import bounded_gather
from protocol import codec
from protocol.frames import ReplyFrame
from protocol.messages import live


class _Line(msgspec.Struct):
    id: str


class _Sent(msgspec.Struct):
    line: _Line


_decode_sent = msgspec.msgpack.Decoder(_Sent).decode


class ChatCheck:
    """Every viewer's lines, checked as they arrive against the order in
    which the first viewer to see each line saw it: a line at or before the
    viewer's last one is a repeat or out of order (``chat_order``). Counts
    per viewer for the exactly-once check after the drain."""

    def __init__(self, viewers: Iterable[int]) -> None:
        self.position: dict[str, int] = {}
        """Line id -> its place in the stream's order (first sight)."""
        self.last = dict.fromkeys(viewers, -1)
        self.counts = dict.fromkeys(self.last, 0)
        self.out_of_order = 0

    def lines(self, session: Session, ids: list[str]) -> None:
        position = self.position
        last = self.last[session.index]
        for line_id in ids:
            place = position.get(line_id)
            if place is None:
                place = position[line_id] = len(position)
            if place <= last:
                self.out_of_order += 1
            else:
                last = place
        self.last[session.index] = last
        self.counts[session.index] += len(ids)

    def result(self, acked: set[str], recorder: Recorder) -> dict[str, int]:
        """``missing_delivery``: a viewer short of the acked lines (per line);
        ``extra_delivery``: beyond them; ``unacked_line``: a delivered line
        whose send was never acked; ``chat_order``: repeats or reordering."""
        expected = len(acked)
        missing = sum(max(expected - n, 0) for n in self.counts.values())
        extra = sum(max(n - expected, 0) for n in self.counts.values())
        unacked = sum(1 for line_id in self.position if line_id not in acked)
        for kind, count in (
            ("missing_delivery", missing),
            ("extra_delivery", extra),
            ("unacked_line", unacked),
            ("chat_order", self.out_of_order),
        ):
            if count:
                recorder.errors[kind] += count
        return {
            "lines_acked": expected,
            "expected_deliveries": expected * len(self.counts),
            "missing_deliveries": missing,
            "extra_deliveries": extra,
            "unacked_lines": unacked,
            "out_of_order": self.out_of_order,
        }


async def run_live_chat(ctx: CaseContext) -> dict[str, Any]:
    plan = LivePlan.from_params(ctx.spec.params)
    inflight = int(ctx.param("inflight", 4))
    dialect = _grover(ctx)
    timeout = ctx.timing.per_conn_timeout
    host_rec, viewer_rec = Recorder(), Recorder()
    opened = await open_sessions(ctx, 1 + plan.viewers, [host_rec] + [viewer_rec] * plan.viewers)
    require_all(ctx, opened, 1 + plan.viewers)
    host, *viewers = opened.sessions
    names = [plan.host] + [plan.viewer(i) for i in range(plan.viewers)]
    started = time.monotonic()
    await dialect.login(opened.sessions, names, PASSWORD, timeout)
    login_s = time.monotonic() - started

    frame = await host.call(
        lambda rid: codec.encode_request(live.StartStream(id=rid, title="bench live")), timeout
    )
    hosted = codec.decode_reply_data(live.StartStream, frame.data)
    assert isinstance(hosted, live.HostedStream)
    stream_id = hosted.stream.id

    async def join(session: Session) -> None:
        await session.call(
            lambda rid: codec.encode_request(live.JoinStream(id=rid, stream_id=stream_id)),
            timeout,
        )

    started = time.monotonic()
    await bounded_gather(viewers, join, limit=50)
    join_s = time.monotonic() - started
    frame = await host.call(
        lambda rid: codec.encode_request(live.GetStream(id=rid, stream_id=stream_id)), timeout
    )
    view = codec.decode_reply_data(live.GetStream, frame.data)
    assert isinstance(view, live.StreamView)
    if view.viewer_count != plan.viewers:
        viewer_rec.error("viewer_count")
    ctx.progress.line(
        f"{plan.viewers} viewers logged in in {login_s:.1f} s, joined in {join_s:.1f} s "
        f"(viewer_count {view.viewer_count})"
    )

    chatters = [viewers[i] for i in plan.chatter_indices()]
    check = ChatCheck(s.index for s in viewers)
    acked: set[str] = set()

    def say(session: Session, request_id: int) -> bytes:
        payload = make_payload(session.index, session.sent_count)
        return codec.encode_request(
            live.SendChat(
                id=request_id,
                stream_id=stream_id,
                client_key=f"bench.{payload.n}",
                text=f"{payload.ts}:{payload.src}:{payload.n}:{payload.text}",
            )
        )

    def on_ack(session: Session, reply: Any) -> None:
        if isinstance(reply, ReplyFrame):
            acked.add(_decode_sent(reply.data).line.id)

    for chatter in chatters:
        chatter.action, chatter.on_reply = say, on_ack
    for viewer in viewers:
        viewer.on_event = check.lines
    recorders = {"viewers": viewer_rec}

    def start() -> list[asyncio.Task[None]]:
        until = time.monotonic() + ctx.timing.warmup + ctx.timing.window + 1
        return [asyncio.create_task(pace(chatters, plan.rate, viewer_rec, inflight, until))]

    def settled() -> bool:
        if any(c.pending for c in chatters):
            return False
        return min(check.counts.values()) >= len(acked)

    load = await run_load(ctx, recorders, start, settled)
    exact = check.result(acked, viewer_rec)
    host_errors = dict(host_rec.errors)
    result = load_result(
        ctx,
        load,
        recorders,
        primary="deliveries_per_s",
        extra={
            "connect": connect_summary(opened),
            "offered_rate": plan.rate,
            "viewers": plan.viewers,
            "chatters": plan.chatters,
            "viewer_count": view.viewer_count,
            "login_s": round(login_s, 3),
            "join_s": round(join_s, 3),
            "host_errors": host_errors,
            **exact,
        },
    )
    if host_errors:
        result["errors"].update({f"host:{k}": v for k, v in host_errors.items()})
        result["errors_total"] += sum(host_errors.values())
    metrics = result["metrics"]
    deliveries, frames = float(metrics["deliveries_per_s"]), metrics.get("frames_per_s")
    server_pct = float(result["cpu"]["server_pct"])
    metrics["lines_per_frame"] = round(deliveries / frames, 2) if frames else None
    metrics["server_us_per_delivery"] = (
        round(server_pct * 1e4 / deliveries, 2) if deliveries > 0 else None
    )
    await close_sessions(opened.sessions, [host_rec, viewer_rec])
    return result
