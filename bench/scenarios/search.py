"""Search scenario (Grover only): ``post_search``. The posts (words from a
small vocabulary, one tag each, locations over a region) are seeded into
the store before the server starts (:mod:`bench.seed`, from
:class:`bench.social_plan.SearchPlan`); here readers log in and search
closed loop, a third each by one kind of query, each kind with its own
recorder so the result has requests/s and p50/p99 per kind (``roles``):

- ``text``: one or two words, ``order`` best and newest alternately;
- ``tag``: one tag, newest first;
- ``near``: a random point of the region, 10 km, nearest first.

Every reply must be a page of posts; a text or tag page must not be empty
(every word and tag is on thousands of posts), and a near page must be
nearest first.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any, Literal

import msgspec

from bench.scenarios.base import (
    CaseContext,
    close_sessions,
    connect_summary,
    load_result,
    open_sessions,
    require_all,
    run_load,
)
from bench.scenarios.social import _grover
from bench.session import Recorder, Session
from bench.social_plan import PASSWORD, SEARCH_TAGS, SEARCH_WORDS, SearchPlan
from protocol import codec
from protocol.frames import ReplyFrame
from protocol.messages import search

KINDS = ("text", "tag", "near")
NEAR_RADIUS_KM = 10.0


class _Post(msgspec.Struct):
    id: str


class _Page(msgspec.Struct):
    posts: list[_Post]
    distances_km: list[float] = []


_decode_page = msgspec.msgpack.Decoder(_Page).decode


async def run_post_search(ctx: CaseContext) -> dict[str, Any]:
    plan = SearchPlan.from_params(ctx.spec.params)
    limit = int(ctx.param("limit", 20))
    dialect = _grover(ctx)
    recorders = {kind: Recorder() for kind in KINDS}
    per_session = [recorders[KINDS[i % len(KINDS)]] for i in range(plan.readers)]
    opened = await open_sessions(ctx, plan.readers, per_session)
    require_all(ctx, opened, plan.readers)
    sessions = opened.sessions
    await dialect.login(
        sessions, [plan.reader(s.index) for s in sessions], PASSWORD, ctx.timing.per_conn_timeout
    )
    rng = random.Random(7)
    pages = dict.fromkeys(KINDS, 0)

    def request(session: Session, request_id: int) -> bytes:
        kind = KINDS[session.index % len(KINDS)]
        if kind == "text":
            words = " ".join(rng.sample(SEARCH_WORDS, rng.choice((1, 2))))
            order: Literal["best", "newest"] = "best" if session.sent_count % 2 else "newest"
            req = search.Search(id=request_id, kind="posts", query=words, order=order, limit=limit)
        elif kind == "tag":
            req = search.Search(
                id=request_id, kind="posts", tag=rng.choice(SEARCH_TAGS), limit=limit
            )
        else:
            near = search.Near(
                latitude=43 + rng.uniform(0.5, plan.region_deg - 0.5),
                longitude=rng.uniform(0.5, plan.region_deg - 0.5),
                radius_km=NEAR_RADIUS_KM,
            )
            req = search.Search(id=request_id, kind="posts", near=near, limit=limit)
        return codec.encode_request(req)

    def on_reply(session: Session, frame: Any) -> None:
        if not isinstance(frame, ReplyFrame):
            return
        kind = KINDS[session.index % len(KINDS)]
        page = _decode_page(frame.data)
        pages[kind] += 1
        if kind != "near" and not page.posts:
            recorders[kind].error("search_empty_page")
        if page.distances_km != sorted(page.distances_km):
            recorders[kind].error("search_near_order")

    for session in sessions:
        session.action, session.on_reply, session.closed_loop = request, on_reply, True

    def start() -> list[asyncio.Task[None]]:
        for session in sessions:
            session.fire()
        return []

    def settled() -> bool:
        return not any(s.pending for s in sessions)

    load = await run_load(ctx, recorders, start, settled)
    result = load_result(
        ctx,
        load,
        recorders,
        primary="acks_per_s",
        extra={
            "connect": connect_summary(opened),
            "posts": plan.posts,
            "page_limit": limit,
            "near_radius_km": NEAR_RADIUS_KM,
            "pages": pages,
        },
    )
    await close_sessions(sessions, list(recorders.values()))
    return result
