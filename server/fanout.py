"""Fan-out of new posts to the author's online followers (the write half of
the hybrid home feed; the read half is :mod:`actors.feed`).

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
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Final, NamedTuple

from actors.errors import ActorError
from actors.runtime import ActorSystem
from actors.sessions import SessionDirectory, SessionRef
from actors.store import Store
from actors.user import TimelinePush, user_key

log = logging.getLogger("grover.fanout")

BATCH: Final = 500
QUEUE_SIZE: Final = 1000


@dataclass
class FanOutStats:
    posts: int = 0
    """Posts fanned out completely."""
    followers_scanned: int = 0
    pushed: int = 0
    """Timeline pushes told to online followers' actors (the author's own included)."""
    dropped_posts: int = 0
    """Posts whose live push was dropped: the queue was full."""
    failed_pushes: int = 0
    """Pushes an actor could not take (mailbox full, node stopping)."""
    seconds: float = 0.0
    """Time spent fanning out (from dequeue to the last tell)."""
    max_seconds: float = 0.0


class _Job(NamedTuple):
    author_id: str
    post_id: str
    created_at: float
    body: bytes
    origin: SessionRef | None


class FanOut:
    def __init__(self, store: Store, actors: ActorSystem, directory: SessionDirectory) -> None:
        self._store = store
        self._actors = actors
        self._directory = directory
        self._queue: asyncio.Queue[_Job] = asyncio.Queue(QUEUE_SIZE)
        self._worker: asyncio.Task[None] | None = None
        self.stats = FanOutStats()

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
        if self._worker is None:
            self._worker = asyncio.get_running_loop().create_task(self._run())
        try:
            self._queue.put_nowait(_Job(author_id, post_id, created_at, body, origin))
        except asyncio.QueueFull:
            self.stats.dropped_posts += 1
            log.warning("fan-out queue full: live push of a post dropped")

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
        push = TimelinePush(
            post_id=job.post_id, created_at=job.created_at, body=job.body, origin=job.origin
        )
        self._tell(job.author_id, push)
        if job.origin is not None:
            push = TimelinePush(post_id=job.post_id, created_at=job.created_at, body=job.body)
        after: str | None = None
        while True:
            ids = await self._store.follows.follower_ids(job.author_id, after=after, limit=BATCH)
            self.stats.followers_scanned += len(ids)
            for user_id in await self._directory.online(ids) if ids else ():
                self._tell(user_id, push)
            if len(ids) < BATCH:
                break
            after = ids[-1]
            await asyncio.sleep(0)  # let other work run between batches
        self.stats.posts += 1

    def _tell(self, user_id: str, push: TimelinePush) -> None:
        try:
            self._actors.tell(user_key(user_id), push)
            self.stats.pushed += 1
        except ActorError:
            self.stats.failed_pushes += 1
