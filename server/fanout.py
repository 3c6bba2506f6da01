"""Fan-out to a user's followers: new posts to the author's online followers
(the write half of the hybrid home feed; the read half is
:mod:`actors.feed`), and a host going live (``stream.started`` to the online
followers, a ``stream_live`` notification to every follower).

A published post is queued here and the handler answers at once. One worker
per node walks the author's followers in batches of :data:`BATCH` (by id,
from the store), asks the session directory which of them are online (one
round trip per batch), and tells each online follower's UserActor a
:class:`~actors.user.TimelinePush`, which prepends the post to the hot
timeline and pushes ``post.new`` to every session. Offline followers cost
nothing: their feed is read from the store when they come back.

Bounded: one post at a time per node, one batch at a time, the loop yielding
between batches, so a creator with a large audience takes longer to reach
everyone but never stalls other work; the queue holds :data:`QUEUE_SIZE`
posts, and past it a post's live push is dropped (counted in
:class:`FanOutStats`): followers still see it in their feeds.

Both kinds of job are the same walk (:meth:`FanOut._fan_out`): a message
told to the author's own actor, one to each online follower's actor, and
one to every follower's actor, online or not.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Final, NamedTuple

from actors.errors import ActorError
from actors.message import Message
from actors.runtime import ActorSystem
from actors.sessions import SessionDirectory, SessionRef
from actors.store import Store
from actors.user import TimelinePush, user_key
from server.observability import logs
from server.observability.instruments import SIZE_BUCKETS, Hist

log = logging.getLogger("grover.fanout")

BATCH: Final = 500
QUEUE_SIZE: Final = 1000


@dataclass
class FanOutStats:
    posts: int = 0
    """Posts fanned out completely."""
    announcements: int = 0
    """Go-live announcements fanned out completely."""
    followers_scanned: int = 0
    pushed: int = 0
    """Messages told to online followers' actors (the author's own included)."""
    notified: int = 0
    """Messages told to every follower's actor (announcements' notifications)."""
    dropped_posts: int = 0
    """Posts whose live push was dropped: the queue was full."""
    failed_pushes: int = 0
    """Pushes an actor could not take (mailbox full, node stopping)."""
    seconds: float = 0.0
    """Time spent fanning out (from dequeue to the last tell)."""
    max_seconds: float = 0.0


class _Job(NamedTuple):
    author_id: str
    own: Message | None
    """Told to the author's actor first."""
    online: Message | None
    """Told to each online follower's actor."""
    everyone: Message | None
    """Told to each follower's actor, online or not."""
    post: bool
    """A post (counted in ``posts``) rather than an announcement."""


class FanOut:
    def __init__(self, store: Store, actors: ActorSystem, directory: SessionDirectory) -> None:
        self._store = store
        self._actors = actors
        self._directory = directory
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(QUEUE_SIZE)
        self._worker: asyncio.Task[None] | None = None
        self.stats = FanOutStats()
        self.sizes = Hist(SIZE_BUCKETS)
        """Followers per completed fan-out (metrics)."""

    def publish(
        self,
        author_id: str,
        post_id: str,
        created_at: float,
        body: bytes,
        origin: SessionRef | None,
    ) -> None:
        """Queue a new post's ``post.new`` body for the author's other
        sessions and online followers."""
        own = TimelinePush(post_id=post_id, created_at=created_at, body=body, origin=origin)
        push = own if origin is None else TimelinePush(post_id, created_at, body)
        self._queue_job(_Job(author_id, own, push, None, post=True))

    def announce(self, author_id: str, online: Message, everyone: Message | None) -> None:
        """Queue ``online`` for the author's online followers' actors and
        ``everyone`` for all their followers' actors (a host going live)."""
        self._queue_job(_Job(author_id, None, online, everyone, post=False))

    def _queue_job(self, job: _Job) -> None:
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run())
        try:
            self._queue.put_nowait(job)
        except asyncio.QueueFull:
            self.stats.dropped_posts += 1
            log.warning("fan-out queue full: a live push dropped")

    async def idle(self) -> None:
        """Wait until every queued post has been fanned out (tests, shutdown)."""
        await self._queue.join()

    async def stop(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None

    async def _run(self) -> None:
        logs.background_task("fanout")  # started by the first post's request task
        while True:
            job = await self._queue.get()
            started = time.perf_counter()
            try:
                await self._fan_out(job)
            except Exception:
                log.exception("fan-out of a post failed")
            finally:
                took = time.perf_counter() - started
                self.stats.seconds += took
                self.stats.max_seconds = max(self.stats.max_seconds, took)
                self._queue.task_done()

    async def _fan_out(self, job: _Job) -> None:
        if job.own is not None:
            self._tell(job.author_id, job.own)
        after: str | None = None
        scanned = 0
        while True:
            ids = await self._store.follows.follower_ids(job.author_id, after=after, limit=BATCH)
            self.stats.followers_scanned += len(ids)
            scanned += len(ids)
            if job.online is not None:
                for user_id in await self._directory.online(ids) if ids else ():
                    self._tell(user_id, job.online)
            if job.everyone is not None:
                for user_id in ids:
                    self._tell(user_id, job.everyone, notice=True)
            if len(ids) < BATCH:
                break
            after = ids[-1]
            await asyncio.sleep(0)  # let other work run between batches
        self.sizes.observe(scanned)
        if job.post:
            self.stats.posts += 1
        else:
            self.stats.announcements += 1

    def _tell(self, user_id: str, message: Message, *, notice: bool = False) -> None:
        try:
            self._actors.tell(user_key(user_id), message)
        except ActorError:
            self.stats.failed_pushes += 1
            return
        if notice:
            self.stats.notified += 1
        else:
            self.stats.pushed += 1
