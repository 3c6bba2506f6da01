"""The PostActor: one per post that sessions are watching (``post.watch``).

Its hot state is the set of watching sessions (on any node) and whether a
``post.counts`` event is pending. The post itself lives in the store and is
written by the handlers (likes and comments of a popular post must not queue
behind one actor); they tell this actor what changed, and it fans the event
out to the watchers through the :class:`~actors.sessions.SessionSink`.

An activation with no watchers ends as soon as its mailbox is empty
(:meth:`PostActor.exists` is false), so a like of a post nobody is watching
costs one short-lived activation and no memory afterwards.
"""

from __future__ import annotations

import asyncio
import time

from actors.actor import Actor
from actors.ids import ActorKey
from actors.message import Teller
from actors.sessions import Delivery, SessionRef, SessionSink
from actors.social import (
    COUNTS_INTERVAL,
    KIND,
    Broadcast,
    CountsChanged,
    FlushCounts,
    Gone,
    Unwatch,
    Watch,
)
from actors.store import Store
from protocol.codec import encode_event_body
from protocol.messages import social as m


class PostActor(Actor):
    kind = KIND

    def __init__(self, key: ActorKey, store: Store, sink: SessionSink, teller: Teller) -> None:
        super().__init__(key)
        self._store = store
        self._sink = sink
        self._teller = teller
        self.watchers: dict[SessionRef, str] = {}
        """Watching sessions and their users."""
        self._counts_sent_at = -COUNTS_INTERVAL
        self._counts_pending = False
        self._timer: asyncio.TimerHandle | None = None

    def exists(self) -> bool:
        return bool(self.watchers) or self._timer is not None

    def can_passivate(self) -> bool:
        return not self.watchers and self._timer is None

    async def passivate(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    async def receive(self, message: object) -> object:
        match message:
            case Watch(session=ref, user_id=user_id):
                self.watchers[ref] = user_id
            case Unwatch(session=ref):
                self.watchers.pop(ref, None)
            case Broadcast(body=body, author_id=author_id, origin=origin):
                await self._broadcast(body, author_id, origin)
            case CountsChanged():
                self._counts_pending = True
                await self._maybe_send_counts()
            case FlushCounts():
                self._timer = None
                await self._maybe_send_counts()
            case Gone(body=body):
                self._push_all(Delivery(body), None)
                self.watchers.clear()
            case _:
                raise TypeError(f"PostActor cannot handle {type(message).__name__}")
        return None

    async def _broadcast(self, body: bytes, author_id: str, origin: SessionRef | None) -> None:
        if not self.watchers:
            return
        users = sorted(set(self.watchers.values()) - {author_id})
        hidden = await self._store.blocks.blocked_among(author_id, users) if users else set()
        self._push_all(Delivery(body, origin), hidden)

    async def _maybe_send_counts(self) -> None:
        """Send ``post.counts`` now if the interval has passed since the last
        one, else once it has (one timer at a time): the latest counts, read
        from the store, so that racing writers cannot leave a stale value."""
        if not self._counts_pending or not self.watchers:
            self._counts_pending = False
            return
        wait = self._counts_sent_at + COUNTS_INTERVAL - time.monotonic()
        if wait > 0:
            if self._timer is None:
                loop = asyncio.get_running_loop()
                self._timer = loop.call_later(wait, self._flush_later)
            return
        self._counts_pending = False
        self._counts_sent_at = time.monotonic()
        post = await self._store.posts.get(self.key.id)
        if post is None:
            return
        event = m.PostCounts(
            post_id=post.id, like_count=post.like_count, comment_count=post.comment_count
        )
        self._push_all(Delivery(encode_event_body(event)), None)

    def _flush_later(self) -> None:
        try:
            self._teller.tell(self.key, FlushCounts())
        except Exception:  # stopping, or a full mailbox: the counts wait for the next change
            self._timer = None

    def _push_all(self, delivery: Delivery, hidden: set[str] | None) -> None:
        for ref, user_id in list(self.watchers.items()):
            if ref == delivery.origin or (hidden and user_id in hidden):
                continue
            if self._sink.push(ref, delivery) is False:
                del self.watchers[ref]  # its node is gone
