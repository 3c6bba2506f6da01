"""Social scenarios (Grover only): a creator's posts fanned out to their
online followers (``post_fanout``) and readers paging their home feeds
(``home_feed``). The accounts, follows and posts are seeded into the store
before the server starts (:mod:`bench.seed`, from the same
:mod:`bench.social_plan`); here sessions log in to them.

- ``post_fanout``: one creator with F followers, C of them connected,
  posting at a fixed rate (``post.create``; the send timestamp leads the
  text, read back from each follower's ``post.new``). Every connected
  follower must get every acked post exactly once.
- ``home_feed``: R readers, each following some of the authors, read
  ``feed.home`` closed loop: the first page, then ``next_cursor`` up to
  ``pages`` pages deep, then the first page again. Every page must be
  non-empty, newest first, continue below the previous page of its pass,
  repeat no post of its pass, and hold only posts of the reader's followees.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import msgspec

from bench import serverstats
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
from bench.session import Recorder, Session
from bench.social_plan import PASSWORD, FanoutPlan, FeedPlan
from bench.targets.base import bounded_gather
from bench.targets.grover import GroverDialect
from protocol import codec
from protocol.frames import ReplyFrame
from protocol.messages import social


def _grover(ctx: CaseContext) -> GroverDialect:
    if not isinstance(ctx.dialect, GroverDialect):
        raise RuntimeError(f"{ctx.spec.kind} needs the grover dialect")
    return ctx.dialect


async def _fanout_counters(ctx: CaseContext) -> dict[str, float] | str | None:
    """The server's fan-out counters since start (``/stats``), if it has them."""
    if not ctx.stats_urls:
        return None
    read = await serverstats.read_all(ctx.stats_urls)
    if isinstance(read, str):
        return read
    totals: Counter[str] = Counter()
    for node in read:
        totals.update({k: v for k, v in node.items() if k.startswith("fanout.")})
    return dict(totals)


# ------------------------------------------------------------- post_fanout


class _PostId(msgspec.Struct):
    id: str


_decode_post_id = msgspec.msgpack.Decoder(_PostId).decode


async def run_post_fanout(ctx: CaseContext) -> dict[str, Any]:
    plan = FanoutPlan.from_params(ctx.spec.params)
    rate = float(ctx.param("rate", 2.0))
    inflight = int(ctx.param("inflight", 8))
    if rate <= 0:
        # Posts are acked before their fan-out: a closed loop would measure
        # post.create and overflow the fan-out queue, not the fan-out.
        raise ValueError("post_fanout needs a fixed rate (posts/s > 0)")
    dialect = _grover(ctx)
    creator_rec, follower_rec = Recorder(), Recorder()
    recorders = {"creator": creator_rec, "followers": follower_rec}
    online = plan.connected_indices()
    opened = await open_sessions(ctx, 1 + len(online), [creator_rec] + [follower_rec] * len(online))
    require_all(ctx, opened, 1 + len(online))
    creator, *followers = opened.sessions
    names = [plan.creator] + [plan.follower(i) for i in online]
    await dialect.login(opened.sessions, names, PASSWORD, ctx.timing.per_conn_timeout)

    def post(session: Session, request_id: int) -> bytes:
        payload = make_payload(session.index, session.sent_count)
        return codec.encode_request(
            social.CreatePost(
                id=request_id,
                client_key=f"bench.{payload.n}",
                text=f"{payload.ts}:{payload.src}:{payload.n}:{payload.text}",
            )
        )

    acked: set[str] = set()

    def on_ack(session: Session, frame: Any) -> None:
        if isinstance(frame, ReplyFrame):
            acked.add(_decode_post_id(frame.data).id)

    seen: dict[int, Counter[str]] = {s.index: Counter() for s in followers}

    def on_post(session: Session, post_id: Any) -> None:
        seen[session.index][post_id] += 1

    creator.action, creator.on_reply = post, on_ack
    for follower in followers:
        follower.on_event = on_post

    def start() -> list[asyncio.Task[None]]:
        until = time.monotonic() + ctx.timing.warmup + ctx.timing.window + 1
        return [asyncio.create_task(pace([creator], rate, creator_rec, inflight, until))]

    def settled() -> bool:
        return not creator.pending and follower_rec.deliveries >= len(acked) * len(followers)

    load = await run_load(ctx, recorders, start, settled)
    check = _exactly_once(acked, seen, follower_rec)
    fanout = await _fanout_counters(ctx)
    result = load_result(
        ctx,
        load,
        recorders,
        primary="work_per_server_core",
        extra={
            "connect": connect_summary(opened),
            "offered_rate": rate,
            "followers": plan.followers,
            "connected_followers": len(followers),
            "server_fanout": fanout,
            **check,
        },
    )
    metrics = result["metrics"]
    server_pct = float(result["cpu"]["server_pct"])
    deliveries = float(metrics["deliveries_per_s"])
    metrics["server_us_per_delivery"] = (
        round(server_pct * 1e4 / deliveries, 1) if deliveries > 0 else None
    )
    await close_sessions(opened.sessions, list(recorders.values()))
    return result


def _exactly_once(
    acked: set[str], seen: dict[int, Counter[str]], recorder: Recorder
) -> dict[str, int]:
    """Every connected follower got every acked post once: a post missing
    from one follower is a ``missing_delivery``, a second copy a
    ``duplicate_delivery``, a post nobody acked an ``unexpected_delivery``
    (each counted per follower and post)."""
    missing = sum(len(acked - counts.keys()) for counts in seen.values())
    extra = sum(n - 1 for counts in seen.values() for n in counts.values() if n > 1)
    unknown = sum(1 for counts in seen.values() for post_id in counts if post_id not in acked)
    for kind, count in (
        ("missing_delivery", missing),
        ("duplicate_delivery", extra),
        ("unexpected_delivery", unknown),
    ):
        if count:
            recorder.errors[kind] += count
    return {
        "posts_acked": len(acked),
        "expected_deliveries": len(acked) * len(seen),
        "missing_deliveries": missing,
        "extra_deliveries": extra,
        "unexpected_deliveries": unknown,
    }


# --------------------------------------------------------------- home_feed


class _Author(msgspec.Struct):
    username: str


class _FeedPost(msgspec.Struct):
    id: str
    author: _Author
    created_at: float


class _FeedPage(msgspec.Struct):
    posts: list[_FeedPost]
    next_cursor: str | None = None


_decode_page = msgspec.msgpack.Decoder(_FeedPage).decode


class FeedReader:
    """Where one reader is in its pass, and what the pass has shown."""

    __slots__ = ("cursor", "followees", "last", "page", "shown")

    def __init__(self, followees: set[str]) -> None:
        self.followees = followees
        self.cursor: str | None = None
        self.page = 0
        self.shown: set[str] = set()
        self.last: tuple[float, str] | None = None

    def restart(self) -> None:
        self.cursor, self.page, self.last = None, 0, None
        self.shown.clear()


class FeedCheck:
    """Checks each page as it arrives; errors go to the recorder."""

    def __init__(self, recorder: Recorder, pages: int) -> None:
        self.recorder = recorder
        self.pages = pages
        self.pages_read = 0
        self.posts_read = 0
        self.passes = 0
        self.ended_early = 0
        """Passes whose feed ran out (``next_cursor`` None) before ``pages``."""

    def page(self, reader: FeedReader, data: msgspec.Raw) -> None:
        page = _decode_page(data)
        self.pages_read += 1
        self.posts_read += len(page.posts)
        error = self.recorder.error
        if not page.posts:
            error("feed_empty_page")
        for post in page.posts:
            key = (post.created_at, post.id)
            if reader.last is not None and key >= reader.last:
                error("feed_order")
            reader.last = key
            if post.id in reader.shown:
                error("feed_repeat")
            reader.shown.add(post.id)
            if post.author.username not in reader.followees:
                error("feed_foreign_author")
        reader.page += 1
        if page.next_cursor is None or reader.page >= self.pages:
            self.passes += 1
            if page.next_cursor is None and reader.page < self.pages:
                self.ended_early += 1
            reader.restart()
        else:
            reader.cursor = page.next_cursor

    def summary(self) -> dict[str, Any]:
        return {
            "pages_read": self.pages_read,
            "posts_per_page": round(self.posts_read / self.pages_read, 2)
            if self.pages_read
            else None,
            "passes": self.passes,
            "passes_ended_early": self.ended_early,
        }


async def run_home_feed(ctx: CaseContext) -> dict[str, Any]:
    plan = FeedPlan.from_params(ctx.spec.params)
    pages = int(ctx.param("pages", 5))
    limit = int(ctx.param("limit", 20))
    dialect = _grover(ctx)
    recorder = Recorder()
    opened = await open_sessions(ctx, plan.readers, recorder)
    require_all(ctx, opened, plan.readers)
    sessions = opened.sessions
    names = [plan.reader(s.index) for s in sessions]
    await dialect.login(sessions, names, PASSWORD, ctx.timing.per_conn_timeout)
    cold = FeedCheck(recorder, pages)
    readers = {
        s.index: FeedReader({plan.author(a) for a in plan.followees(s.index)}) for s in sessions
    }

    # Each reader's first page, once, before the load (not measured): it
    # builds the reader's hot timeline from the store (see actors/feed.py).
    async def first_page(session: Session) -> None:
        frame = await session.call(
            lambda rid: codec.encode_request(social.HomeFeed(id=rid, limit=limit)),
            ctx.timing.per_conn_timeout,
        )
        cold.page(readers[session.index], frame.data)
        readers[session.index].restart()

    cold_started = time.monotonic()
    await bounded_gather(sessions, first_page, limit=50)
    cold_s = time.monotonic() - cold_started
    check = FeedCheck(recorder, pages)

    def read(session: Session, request_id: int) -> bytes:
        cursor = readers[session.index].cursor
        return codec.encode_request(social.HomeFeed(id=request_id, cursor=cursor, limit=limit))

    def on_page(session: Session, frame: Any) -> None:
        if isinstance(frame, ReplyFrame):
            check.page(readers[session.index], frame.data)

    for session in sessions:
        session.action, session.on_reply, session.closed_loop = read, on_page, True

    def start() -> list[asyncio.Task[None]]:
        for session in sessions:
            session.fire()
        return []

    def settled() -> bool:
        return not any(s.pending for s in sessions)

    load = await run_load(ctx, {"readers": recorder}, start, settled)
    result = load_result(
        ctx,
        load,
        {"readers": recorder},
        primary="acks_per_s",
        extra={
            "connect": connect_summary(opened),
            "pages_per_pass": pages,
            "page_limit": limit,
            "first_pages_s": round(cold_s, 3),
            "feed": check.summary(),
        },
    )
    await close_sessions(sessions, [recorder])
    return result
