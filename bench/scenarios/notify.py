"""``like_notify`` (Grover only): what a like costs when the post's author is
online. A authors, one seeded post each, and L likers are all connected and
logged in to seeded accounts (:mod:`bench.seed`, :class:`LikePlan`). Each
liker likes a random author's post (``post.like``) and then unlikes it
(``post.unlike``), one request in flight: closed loop, or ``rate`` likes per
second in all (twice as many requests: each like is followed by its unlike).

Measured: the like's ack and the unlike's ack (two recorders, the session
switches between them), and like → ``notification.new`` at the author. A
notification carries no send time (a like's ``text`` is empty), so the
generator keeps one: :class:`LikeMatcher` explains how a push is matched to
the like that caused it, and what counts as an error.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque
from typing import Any

import msgspec

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
from bench.social_plan import PASSWORD, LikePlan
from bench.targets.base import bounded_gather
from bench.targets.grover import GroverDialect, NotificationGone, NotificationLite
from protocol import codec
from protocol.frames import ReplyFrame
from protocol.messages import social


class LikeMatcher:
    """Pairs every like with the ``notification.new`` it caused at its author.

    What the server does (``actors/inbox.py``): the recipient's UserActor
    handles ``Notify`` (a like that changed something) and ``Unnotify`` (an
    unlike that did) one at a time, in the order the handlers told it, and
    pushes after each one that changed the inbox: the post's one unread
    ``like_post`` row, as ``notification.new`` (its actor joined: count + 1,
    named first; or one left: count - 1, the newest remaining named first),
    or ``notification.deleted`` (its last actor left). So one row is pushed
    again and again as likers join and leave.

    How a push is classified: the author's session sees every push of a row
    in order, so ``actor_count`` against the count of the row's previous
    push tells them apart. Higher (or a row not seen before): a like's push,
    caused by ``actors[0]``. Lower, or a deletion: an unlike's push (an
    "undo push"). Any step other than ±1 is a ``notification_gap`` (a push
    lost or out of order). Neither the newest actor alone nor ``updated_at``
    would do: after an unlike the newest remaining actor is named first
    again, and an unlike leaves ``updated_at`` as it was.

    How a like's push is timed: each like's send time is appended to a FIFO
    under (liker id, post id) and the like's push takes the oldest. A liker
    can like the same post again before its previous like's push has
    arrived (its unlike is acked once the handler has *told* the actor, not
    once the actor has pushed), but the actor keeps the order, so oldest
    first is the right pairing. A like's push with nothing waiting is an
    ``unexpected_notification``; one at a session other than the post's
    author a ``misdirected_notification``.

    Checked after the drain: every like acked ``changed`` has had its push
    (``missing_notification`` otherwise) and every unlike acked ``changed``
    its undo push (``missing_undo_push`` / ``extra_undo_push``). A liker
    always unlikes what it liked before liking again, so every like and
    unlike changes something: one acked ``changed: false`` is an error too
    (``like_unchanged`` / ``unlike_unchanged``), and its send time is
    withdrawn so it cannot be paired with a later push.
    """

    def __init__(self, recorder: Recorder, post_author: dict[str, int]) -> None:
        self.recorder = recorder
        """The authors' recorder: notification latencies and errors go there."""
        self.post_author = post_author
        """Post id → its author's session index."""
        self.waiting: dict[tuple[str, str], deque[int]] = {}
        """(liker id, post id) → send times of likes whose push has not come."""
        self.counts: dict[str, int] = {}
        """Notification id → ``actor_count`` of its last push."""
        self.likes_changed = 0
        self.unlikes_changed = 0
        self.like_pushes = 0
        self.undo_pushes = 0
        self.deletions = 0

    def like_sent(self, liker: str, post_id: str, sent_ns: int) -> None:
        self.waiting.setdefault((liker, post_id), deque()).append(sent_ns)

    def like_acked(self, liker: str, post_id: str, sent_ns: int, changed: bool) -> None:
        if changed:
            self.likes_changed += 1
            return
        self.recorder.error("like_unchanged")
        queue = self.waiting.get((liker, post_id))
        if queue is not None and sent_ns in queue:
            queue.remove(sent_ns)

    def unlike_acked(self, changed: bool) -> None:
        if changed:
            self.unlikes_changed += 1
        else:
            self.recorder.error("unlike_unchanged")

    def on_push(self, session: Session, detail: Any) -> None:
        if isinstance(detail, NotificationGone):
            if self.counts.pop(detail.id, None) != 1:
                self.recorder.error("notification_gap")
            self.undo_pushes += 1
            self.deletions += 1
            return
        if not isinstance(detail, NotificationLite):
            return
        before = self.counts.get(detail.id, 0)
        self.counts[detail.id] = detail.actor_count
        if abs(detail.actor_count - before) != 1:
            self.recorder.error("notification_gap")
        if detail.actor_count < before:
            self.undo_pushes += 1
            return
        post_id = detail.post_id or ""
        if self.post_author.get(post_id) != session.index:
            self.recorder.error("misdirected_notification")
        queue = self.waiting.get((detail.actors[0].id if detail.actors else "", post_id))
        if not queue:
            self.recorder.error("unexpected_notification")
            return
        self.like_pushes += 1
        self.recorder.delivery_hist.record_ns(time.monotonic_ns() - queue.popleft())

    def settled(self) -> bool:
        return self.like_pushes >= self.likes_changed and self.undo_pushes >= self.unlikes_changed

    def check(self) -> dict[str, int]:
        """After the drain: errors for what never came; the counts for the JSON."""
        missing = max(self.likes_changed - self.like_pushes, 0)
        undo_missing = max(self.unlikes_changed - self.undo_pushes, 0)
        undo_extra = max(self.undo_pushes - self.unlikes_changed, 0)
        for kind, count in (
            ("missing_notification", missing),
            ("missing_undo_push", undo_missing),
            ("extra_undo_push", undo_extra),
        ):
            if count:
                self.recorder.errors[kind] += count
        return {
            "likes_changed": self.likes_changed,
            "unlikes_changed": self.unlikes_changed,
            "like_pushes": self.like_pushes,
            "undo_pushes": self.undo_pushes,
            "deletions": self.deletions,
            "missing_notifications": missing,
            "likes_unmatched": sum(len(q) for q in self.waiting.values()),
        }


class _LikeResult(msgspec.Struct):
    changed: bool


class _PostRef(msgspec.Struct):
    id: str


class _PostRefs(msgspec.Struct):
    posts: list[_PostRef]


_decode_like = msgspec.msgpack.Decoder(_LikeResult).decode
_decode_posts = msgspec.msgpack.Decoder(_PostRefs).decode


class _Liker:
    """One liker's cycle: the post it likes now (None: its next request is a
    like), and the request in flight."""

    __slots__ = ("in_flight_like", "liked", "sent_ns", "user_id")

    def __init__(self, user_id: str) -> None:
        self.user_id = user_id
        self.liked: str | None = None
        self.in_flight_like = False
        self.sent_ns = 0


async def _own_posts(ctx: CaseContext, authors: list[Session]) -> dict[str, int]:
    """Each author's seeded post (``post.by_user``, setup): post id → session index."""
    found: dict[str, int] = {}

    async def one(session: Session) -> None:
        frame = await session.call(
            lambda rid: codec.encode_request(
                social.UserPosts(id=rid, user_id=session.state["user_id"], limit=1)
            ),
            ctx.timing.per_conn_timeout,
        )
        page = _decode_posts(frame.data)
        if len(page.posts) != 1:
            raise RuntimeError(f"author {session.index} has {len(page.posts)} posts, not 1")
        found[page.posts[0].id] = session.index

    await bounded_gather(authors, one, limit=50)
    return found


async def run_like_notify(ctx: CaseContext) -> dict[str, Any]:
    plan = LikePlan.from_params(ctx.spec.params)
    rate = float(ctx.param("rate", 0.0))
    dialect = ctx.dialect
    if not isinstance(dialect, GroverDialect):
        raise RuntimeError("like_notify needs the grover dialect")
    likes, unlikes, authors_rec = Recorder(), Recorder(), Recorder()
    recorders = {"likes": likes, "unlikes": unlikes, "authors": authors_rec}
    total = plan.authors + plan.likers
    opened = await open_sessions(ctx, total, [authors_rec] * plan.authors + [likes] * plan.likers)
    require_all(ctx, opened, total)
    authors, likers = opened.sessions[: plan.authors], opened.sessions[plan.authors :]
    names = [plan.author(a) for a in range(plan.authors)]
    names += [plan.liker(i) for i in range(plan.likers)]
    await dialect.login(opened.sessions, names, PASSWORD, ctx.timing.per_conn_timeout)
    post_author = await _own_posts(ctx, authors)
    posts = sorted(post_author)
    matcher = LikeMatcher(authors_rec, post_author)
    state = {s.index: _Liker(s.state["user_id"]) for s in likers}
    rng = random.Random(ctx.spec.name)

    def act(session: Session, request_id: int) -> bytes:
        liker = state[session.index]
        if liker.liked is None:
            post_id = liker.liked = posts[rng.randrange(len(posts))]
            liker.in_flight_like, liker.sent_ns = True, time.monotonic_ns()
            matcher.like_sent(liker.user_id, post_id, liker.sent_ns)
            session.recorder = likes
            return codec.encode_request(social.LikePost(id=request_id, post_id=post_id))
        post_id, liker.liked, liker.in_flight_like = liker.liked, None, False
        session.recorder = unlikes
        return codec.encode_request(social.UnlikePost(id=request_id, post_id=post_id))

    def on_ack(session: Session, frame: Any) -> None:
        if not isinstance(frame, ReplyFrame):
            return
        liker = state[session.index]
        changed = _decode_like(frame.data).changed
        if liker.in_flight_like and liker.liked is not None:
            matcher.like_acked(liker.user_id, liker.liked, liker.sent_ns, changed)
        else:
            matcher.unlike_acked(changed)

    for session in likers:
        session.action, session.on_reply, session.closed_loop = act, on_ack, rate <= 0
    for session in authors:
        session.on_event = matcher.on_push

    def start() -> list[asyncio.Task[None]]:
        if rate <= 0:
            for session in likers:
                session.fire()
            return []
        until = time.monotonic() + ctx.timing.warmup + ctx.timing.window + 1
        # One request in flight per liker: a turn whose last one is unanswered is skipped.
        return [asyncio.create_task(pace(likers, 2 * rate, likes, 1, until))]

    def settled() -> bool:
        return not any(s.pending for s in likers) and matcher.settled()

    load = await run_load(ctx, recorders, start, settled)
    check = matcher.check()
    result = load_result(
        ctx,
        load,
        recorders,
        primary="work_per_server_core",
        extra={
            "connect": connect_summary(opened),
            "offered_rate": rate or None,
            "authors": plan.authors,
            "likers": plan.likers,
            "notify": check,
        },
    )
    _like_metrics(result, closed_loop=rate <= 0)
    await close_sessions(opened.sessions, list(recorders.values()))
    return result


def _like_metrics(result: dict[str, Any], *, closed_loop: bool) -> None:
    """Per-like figures from the roles: likes/s, the like's ack, the
    notification's arrival, and the server CPU per like (with its unlike)
    and per request."""
    metrics, roles = result["metrics"], result["roles"]
    server_pct = float(result["cpu"]["server_pct"])
    likes_per_s = float(roles["likes"]["acks_per_s"])
    requests_per_s = float(metrics["acks_per_s"])
    metrics["likes_per_s"] = likes_per_s
    metrics["like_ack"] = roles["likes"]["ack"]
    metrics["unlike_ack"] = roles["unlikes"]["ack"]
    metrics["notification"] = roles["authors"]["delivery"]
    metrics["pushes_per_s"] = roles["authors"]["deliveries_per_s"]
    metrics["server_us_per_like"] = (
        round(server_pct * 1e4 / likes_per_s, 1) if likes_per_s > 0 else None
    )
    metrics["server_us_per_request"] = (
        round(server_pct * 1e4 / requests_per_s, 1) if requests_per_s > 0 else None
    )
    if closed_loop:
        result["primary"] = {"metric": "likes_per_s", "value": likes_per_s}
