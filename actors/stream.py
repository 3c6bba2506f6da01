"""The StreamActor: one per stream (``stream:<id>``), the single writer of its
record, and the hub of its viewers and chat.

Hot state: the record, the joined sessions by user (``viewers``: one user on
two devices counts once), the host's sessions (its presence), and the chat
waiting for the next tick. Everything a joined session gets is pushed through
the :class:`~actors.sessions.SessionSink`, which reaches sessions on any node.

**Chat delivery.** A chat line is never one actor hop per viewer: accepted
lines, reaction counts and deletions are buffered, and on a tick (every
:data:`~actors.live.TICK` while there is something to send) the actor
appends the lines to the chat store in ONE write, then encodes ONE
``chat.updated`` frame and pushes that same body to every joined session
(one push per session per tick), then answers the senders: a ``chat.send``
is acknowledged once its line is stored (group commit), as everything else.

**Counts.** ``viewer_count`` is the number of users with a joined session;
changes (and settings) go out as ``stream.updated`` at most once per
:data:`~actors.live.UPDATE_INTERVAL`, and the record is saved at most every
:data:`~actors.live.SAVE_INTERVAL` while live (at once on a lifecycle or
settings change).

**Host presence.** When the last session of the host leaves a live stream,
the stream ends by itself after ``host_grace`` seconds unless the host is
back by then.
"""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable
from typing import Any

from actors.actor import Actor
from actors.ids import ActorKey, new_id
from actors.live import (
    CLIENT_KEYS_KEPT,
    KIND,
    REACTIONS_INTERVAL,
    SAVE_INTERVAL,
    TICK,
    UPDATE_INTERVAL,
    AddReaction,
    Admit,
    Ban,
    Create,
    DeleteLine,
    End,
    FlushUpdate,
    Get,
    HostCheck,
    Join,
    Leave,
    Mute,
    Pin,
    PostTip,
    SaveCounts,
    Say,
    SetModerators,
    Start,
    StreamState,
    Tick,
    Update,
    Viewers,
    ViewerSlice,
    chat_author,
    is_staff,
    line_view,
    not_live,
    one_live_stream,
    require_host,
    require_staff,
    stream_view,
)
from actors.message import Teller
from actors.sessions import Delivery, SessionRef, SessionSink
from actors.store import Conflict, Store
from actors.store.live import ChatLineRecord, StreamRecord
from actors.user import profile_view
from protocol.codec import encode_event_body
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import accounts
from protocol.messages import live as m


class StreamActor(Actor):
    kind = KIND

    def __init__(
        self,
        key: ActorKey,
        store: Store,
        sink: SessionSink,
        teller: Teller,
        *,
        host_grace: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(key)
        self._store = store
        self._sink = sink
        self._teller = teller
        self._host_grace = host_grace
        self._clock = clock
        self.stream: StreamRecord | None = None
        self._host: accounts.UserProfile | None = None
        self._pinned: m.ChatLine | None = None
        self.viewers: dict[str, set[SessionRef]] = {}
        """Joined sessions by user (the host's are in :attr:`hosts`)."""
        self._session_user: dict[SessionRef, str] = {}
        self.hosts: set[SessionRef] = set()
        self._host_left_at: float | None = None
        self._authors: dict[str, m.ChatAuthor] = {}
        self._followers: set[str] = set()
        self._banned: set[str] = set()
        self._muted: dict[str, float] = {}
        self._last_line: dict[str, float] = {}
        self._keys: collections.OrderedDict[tuple[str, str], asyncio.Future[m.ChatLine]] = (
            collections.OrderedDict()
        )
        self._tips: set[str] = set()
        """Order ids of the tips this activation took (a repeat adds nothing)."""
        # The next tick's chat (a tip's line has no sender waiting: no future).
        self._lines: list[tuple[ChatLineRecord, m.ChatLine, asyncio.Future[m.ChatLine] | None]] = []
        self._deleted: list[str] = []
        self._reactions: collections.Counter[str] = collections.Counter()
        self._reactions_sent_at = -REACTIONS_INTERVAL
        self._tick: asyncio.TimerHandle | None = None
        # stream.updated coalescing, and saving while live.
        self._update_pending = False
        self._update_sent_at = -UPDATE_INTERVAL
        self._update_timer: asyncio.TimerHandle | None = None
        self._saved_at = time.monotonic()
        self._unsaved = False
        self._host_timer: asyncio.TimerHandle | None = None
        self._save_timer: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------ lifecycle

    async def activate(self) -> None:
        self.stream = await self._store.streams.get(self.key.id)
        if self.stream is None:
            return
        await self._load_host()
        if self.stream.pinned_message_id is not None:
            self._pinned = await self._line(self.stream.pinned_message_id)
        if self.stream.status == "live":
            # A new activation of a live stream (a node was lost, or the stream
            # moved): nobody is joined here, and the host has the grace period
            # to come back before it ends.
            self.stream.viewer_count = 0
            self._host_away()

    async def passivate(self) -> None:
        await self._flush_chat()
        if self._unsaved:
            await self._save()
        for timer in (self._tick, self._update_timer, self._host_timer, self._save_timer):
            if timer is not None:
                timer.cancel()
        self._tick = self._update_timer = self._host_timer = self._save_timer = None

    def exists(self) -> bool:
        return self.stream is not None

    def can_passivate(self) -> bool:
        return (
            (self.stream is None or self.stream.status != "live")
            and not self.viewers
            and not self.hosts
            and not self._lines
            and self._tick is None
            and self._save_timer is None
        )

    async def receive(self, message: object) -> object:
        match message:
            case Create(stream=stream, session=session):
                return await self._create(stream, session)
            case Tick():
                self._tick = None
                await self._flush_chat()
                return None
            case FlushUpdate():
                self._update_timer = None
                await self._maybe_update()
                return None
            case SaveCounts():
                self._save_timer = None
                if self._unsaved:
                    await self._save()
                return None
            case HostCheck():
                self._host_timer = None
                await self._check_host()
                return None
            case Leave(session=ref):
                await self._leave(ref)
                return None
            case PostTip():
                await self._tip(message)
                return None
        stream = self._require()
        match message:
            case Get():
                return self._state()
            case Start(user_id=user_id, session=ref):
                return await self._start(stream, user_id, ref)
            case End(user_id=user_id):
                require_host(stream, user_id)
                await self._end(stream)
                return self._state()
            case Join():
                return await self._join(stream, message)
            case Admit(user_id=user_id):
                await self._admit(stream, user_id)
                return self._state()
            case Say():
                return self._say(stream, message)
            case AddReaction(user_id=user_id, reaction=reaction):
                self._require_joined(stream, user_id)
                self._reactions[reaction] += 1
                self._schedule_tick()
                return None
            case Pin(user_id=user_id, line_id=line_id):
                await self._pin(stream, user_id, line_id)
                return None
            case DeleteLine(user_id=user_id, line_id=line_id):
                return await self._delete(stream, user_id, line_id)
            case Mute(user_id=user_id, target=target, seconds=seconds):
                require_staff(stream, user_id)
                self._not_staff(stream, target)
                self._muted[target] = self._clock() + seconds
                return None
            case Ban(user_id=user_id, target=target):
                return await self._ban(stream, user_id, target)
            case SetModerators(user_id=user_id, moderators=moderators):
                require_host(stream, user_id)
                stream.moderators = sorted(set(moderators) - {stream.host_id})
                await self._changed(save=True)
                return self._state()
            case Update():
                await self._update(stream, message)
                return self._state()
            case Viewers(user_id=user_id, after=after, limit=limit):
                require_staff(stream, user_id)
                ids = sorted(u for u in self.viewers if after is None or u > after)
                return ViewerSlice(viewer_count=len(self.viewers), user_ids=ids[: limit + 1])
        raise TypeError(f"StreamActor cannot handle {type(message).__name__}")

    def _require(self) -> StreamRecord:
        if self.stream is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such stream")
        return self.stream

    def _state(self, *, started: bool = False) -> StreamState:
        assert self.stream is not None
        return StreamState(stream=self.stream, pinned=self._pinned, started=started)

    async def _create(self, stream: StreamRecord, ref: SessionRef | None) -> StreamState:
        if self.stream is not None:
            raise ProtocolError(ErrorCode.INVALID_FIELD, "the stream exists")
        try:
            await self._store.streams.create(stream)
        except Conflict as conflict:
            if conflict.field == "live":
                raise one_live_stream() from None
            raise
        self.stream = stream
        await self._load_host()
        if ref is not None and stream.status == "live":
            self.hosts.add(ref)
        return self._state(started=stream.status == "live")

    async def _start(self, stream: StreamRecord, user_id: str, ref: SessionRef) -> StreamState:
        require_host(stream, user_id)
        if stream.status == "ended":
            raise not_live(stream)
        if stream.status == "scheduled":
            stream.status, stream.start_time = "live", self._clock()
            try:
                await self._store.streams.save(stream)
            except Conflict:
                stream.status, stream.start_time = "scheduled", None
                raise one_live_stream() from None
            self._saved_at, self._unsaved = time.monotonic(), False
            self._host_joined(ref)
            return self._state(started=True)
        self._host_joined(ref)
        return self._state()

    async def _end(self, stream: StreamRecord) -> None:
        if stream.status == "ended":
            return
        await self._flush_chat()
        was_live = stream.status == "live"
        stream.status, stream.end_time = "ended", self._clock()
        stream.viewer_count = 0
        await self._save()
        if was_live:
            body = encode_event_body(m.StreamEnded(stream=self._view()))
            self._push_all(body)
        self.viewers.clear()
        self._session_user.clear()
        self.hosts.clear()
        if self._update_timer is not None:
            self._update_timer.cancel()
            self._update_timer = None
        self._update_pending = False

    # -------------------------------------------------------------- viewers

    async def _join(self, stream: StreamRecord, join: Join) -> StreamState:
        user_id, ref = join.user_id, join.session
        if stream.status != "live":
            raise not_live(stream)
        if user_id == stream.host_id:
            self._host_joined(ref)
            return self._state()
        if await self._is_banned(user_id):
            raise ProtocolError(ErrorCode.FORBIDDEN, "you are banned from this stream")
        self._authors[user_id] = join.author
        if join.follower:
            self._followers.add(user_id)
        else:
            self._followers.discard(user_id)
        sessions = self.viewers.get(user_id)
        if sessions is None:
            sessions = self.viewers[user_id] = set()
            if await self._store.streams.add_viewer(stream.id, user_id, self._clock()):
                stream.unique_viewers += 1
            stream.viewer_count = len(self.viewers)
            stream.peak_viewers = max(stream.peak_viewers, stream.viewer_count)
            await self._changed()
        sessions.add(ref)
        self._session_user[ref] = user_id
        return self._state()

    def _host_joined(self, ref: SessionRef) -> None:
        self.hosts.add(ref)
        self._host_left_at = None

    async def _leave(self, ref: SessionRef) -> None:
        if ref in self.hosts:
            self.hosts.discard(ref)
            if not self.hosts:
                self._host_away()
            return
        user_id = self._session_user.pop(ref, None)
        if user_id is None:
            return
        sessions = self.viewers.get(user_id, set())
        sessions.discard(ref)
        if not sessions:
            self.viewers.pop(user_id, None)
            if self.stream is not None and self.stream.status == "live":
                self.stream.viewer_count = len(self.viewers)
                await self._changed()

    def _host_away(self) -> None:
        if self.stream is None or self.stream.status != "live":
            return
        self._host_left_at = time.monotonic()
        if self._host_timer is None:
            self._host_timer = self._later(self._host_grace, HostCheck())

    async def _check_host(self) -> None:
        stream = self.stream
        if stream is None or stream.status != "live" or self.hosts:
            return
        left = self._host_left_at if self._host_left_at is not None else time.monotonic()
        wait = left + self._host_grace - time.monotonic()
        if wait > 0:  # the host came back and left again meanwhile
            self._host_timer = self._later(wait, HostCheck())
            return
        await self._end(stream)

    async def _admit(self, stream: StreamRecord, user_id: str) -> None:
        if stream.status != "live":
            raise not_live(stream)
        if user_id != stream.host_id and await self._is_banned(user_id):
            raise ProtocolError(ErrorCode.FORBIDDEN, "you are banned from this stream")

    async def _is_banned(self, user_id: str) -> bool:
        if user_id in self._banned:
            return True
        if await self._store.stream_bans.is_banned(self.key.id, user_id):
            self._banned.add(user_id)
            return True
        return False

    # ----------------------------------------------------------------- chat

    def _require_joined(self, stream: StreamRecord, user_id: str) -> None:
        if stream.status != "live":
            raise not_live(stream)
        if user_id not in self.viewers and user_id != stream.host_id:
            raise ProtocolError(ErrorCode.FORBIDDEN, "join the stream first")

    def _say(self, stream: StreamRecord, say: Say) -> asyncio.Future[m.ChatLine]:
        user_id = say.user_id
        self._require_joined(stream, user_id)
        earlier = self._keys.get((user_id, say.client_key))
        if earlier is not None:  # a retry: the first line's answer
            return _follow(earlier)
        now, staff = self._clock(), is_staff(stream, user_id)
        if not staff:
            until = self._muted.get(user_id, 0.0)
            if until > now:
                raise ProtocolError(
                    ErrorCode.FORBIDDEN, f"you are muted for {int(until - now) + 1} s"
                )
            if stream.chat_mode == "followers" and user_id not in self._followers:
                raise ProtocolError(ErrorCode.FORBIDDEN, "chat is for the host's followers")
            slow = stream.slow_mode_seconds
            wait = self._last_line.get(user_id, -slow) + slow - time.monotonic()
            if slow and wait > 0:
                raise ProtocolError(
                    ErrorCode.RATE_LIMITED, f"slow mode: one line per {slow} s", retry_after=wait
                )
        self._last_line[user_id] = time.monotonic()
        author = self._authors.get(user_id)
        if author is None:  # the host, who joins without an author
            assert self._host is not None
            author = m.ChatAuthor(
                id=self._host.id,
                username=self._host.username,
                display_name=self._host.display_name,
                avatar_url=self._host.avatar_url,
            )
        record = ChatLineRecord(
            id=new_id(),
            stream_id=stream.id,
            user_id=user_id,
            text=say.text,
            client_key=say.client_key,
            created_at=now,
        )
        future: asyncio.Future[m.ChatLine] = asyncio.get_running_loop().create_future()
        self._lines.append((record, line_view(record, author), future))
        self._keys[(user_id, say.client_key)] = future
        if len(self._keys) > CLIENT_KEYS_KEPT:
            self._keys.popitem(last=False)
        self._schedule_tick()
        return _follow(future)

    async def _tip(self, tip: PostTip) -> None:
        """A paid tip's highlighted line, through the same tick as chat. A tell
        answers nobody: an unknown or not live stream drops it (the creator
        still gets the tip's notification)."""
        stream = self.stream
        if stream is None or stream.status != "live" or tip.order_id in self._tips:
            return
        # Stored by an earlier activation (the order id is the line's id).
        if await self._store.stream_chat.get(tip.order_id) is not None:
            self._tips.add(tip.order_id)
            return
        self._tips.add(tip.order_id)
        record = ChatLineRecord(
            id=tip.order_id,
            stream_id=stream.id,
            user_id=tip.user_id,
            text=tip.text,
            created_at=self._clock(),
            tip_amount=tip.amount,
            tip_currency=tip.currency,
            tip_order_id=tip.order_id,
        )
        self._lines.append((record, line_view(record, tip.author), None))
        self._schedule_tick()

    async def _pin(self, stream: StreamRecord, user_id: str, line_id: str | None) -> None:
        require_staff(stream, user_id)
        pinned = None
        if line_id is not None:
            pinned = await self._line(line_id)
            if pinned is None or pinned.stream_id != stream.id:
                raise ProtocolError(ErrorCode.NOT_FOUND, "no such chat line")
        self._pinned, stream.pinned_message_id = pinned, line_id
        await self._save()
        self._push_all(encode_event_body(m.ChatPinned(stream_id=stream.id, line=pinned)))

    async def _delete(self, stream: StreamRecord, user_id: str, line_id: str) -> bool:
        await self._flush_chat()  # a line still waiting for its tick is stored first
        line = await self._store.stream_chat.get(line_id)
        if line is None or line.stream_id != stream.id:
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such chat line")
        if line.user_id != user_id:
            require_staff(stream, user_id)
        changed = await self._store.stream_chat.delete(line_id)
        if changed:
            self._deleted.append(line_id)
            if self._pinned is not None and self._pinned.id == line_id:
                self._pinned, stream.pinned_message_id = None, None
                await self._save()
                self._push_all(encode_event_body(m.ChatPinned(stream_id=stream.id, line=None)))
            self._schedule_tick()
        return changed

    async def _ban(self, stream: StreamRecord, user_id: str, target: str) -> bool:
        require_staff(stream, user_id)
        self._not_staff(stream, target)
        changed = await self._store.stream_bans.ban(stream.id, target, self._clock())
        self._banned.add(target)
        sessions = self.viewers.pop(target, set())
        if sessions:
            body = encode_event_body(m.StreamBanned(stream_id=stream.id))
            for ref in sessions:
                self._session_user.pop(ref, None)
                self._sink.push(ref, Delivery(body))
            stream.viewer_count = len(self.viewers)
            await self._changed()
        return changed

    @staticmethod
    def _not_staff(stream: StreamRecord, target: str) -> None:
        if is_staff(stream, target):
            raise ProtocolError(ErrorCode.FORBIDDEN, "the host and moderators cannot be")

    async def _update(self, stream: StreamRecord, update: Update) -> None:
        if update.title is not None or update.description is not None or update.thumbnail_url:
            require_host(stream, update.user_id)
        require_staff(stream, update.user_id)
        if update.title is not None:
            stream.title = update.title
        if update.description is not None:
            stream.description = update.description
        if update.thumbnail_url is not None:
            stream.thumbnail_url = update.thumbnail_url
        if update.slow_mode_seconds is not None:
            stream.slow_mode_seconds = update.slow_mode_seconds
        if update.chat_mode is not None:
            stream.chat_mode = update.chat_mode
        await self._changed(save=True)

    def _schedule_tick(self) -> None:
        if self._tick is None:
            self._tick = self._later(TICK, Tick())

    async def _flush_chat(self) -> None:
        """Store the tick's lines in one write, push one ``chat.updated`` to
        every joined session, then answer the senders."""
        lines, self._lines = self._lines, []
        deleted, self._deleted = self._deleted, []
        reactions: list[m.ReactionCount] = []
        if self._reactions and time.monotonic() - self._reactions_sent_at >= REACTIONS_INTERVAL:
            reactions = [
                m.ReactionCount(reaction=r, count=c)  # type: ignore[arg-type]  # checked at decode
                for r, c in sorted(self._reactions.items())
            ]
            self._reactions.clear()
            self._reactions_sent_at = time.monotonic()
        if lines:
            try:
                await self._store.stream_chat.append([record for record, _, _ in lines])
            except BaseException as error:
                for record, _, future in lines:
                    if future is not None and not future.done():
                        future.set_exception(error)
                    if record.tip_order_id is not None:  # lost: a repeated tell may add it
                        self._tips.discard(record.tip_order_id)
                raise
        if self.stream is not None and (lines or reactions or deleted):
            batch = m.ChatBatch(
                stream_id=self.stream.id,
                lines=[view for _, view, _ in lines],
                reactions=reactions,
                deleted=deleted,
            )
            self._push_all(encode_event_body(batch))
        for _, view, future in lines:
            if future is not None and not future.done():
                future.set_result(view)
        if self._reactions and self._tick is None:  # counts wait for their second
            self._tick = self._later(
                max(TICK, self._reactions_sent_at + REACTIONS_INTERVAL - time.monotonic()),
                Tick(),
            )

    # -------------------------------------------------------------- updates

    async def _changed(self, *, save: bool = False) -> None:
        """Counts or settings changed: ``stream.updated`` within a second,
        and the record saved now (``save``) or within :data:`SAVE_INTERVAL`."""
        self._unsaved = True
        if save or time.monotonic() - self._saved_at >= SAVE_INTERVAL:
            await self._save()
        elif self._save_timer is None:  # counts settle: saved within the interval
            wait = self._saved_at + SAVE_INTERVAL - time.monotonic()
            self._save_timer = self._later(wait, SaveCounts())
        self._update_pending = True
        await self._maybe_update()

    async def _maybe_update(self) -> None:
        if not self._update_pending or self.stream is None or self.stream.status == "ended":
            self._update_pending = False
            return
        wait = self._update_sent_at + UPDATE_INTERVAL - time.monotonic()
        if wait > 0:
            if self._update_timer is None:
                self._update_timer = self._later(wait, FlushUpdate())
            return
        self._update_pending = False
        self._update_sent_at = time.monotonic()
        self._push_all(encode_event_body(m.StreamUpdated(stream=self._view())))

    async def _save(self) -> None:
        if self.stream is None:
            return
        try:
            await self._store.streams.save(self.stream)
        except Conflict:
            raise one_live_stream() from None
        self._saved_at, self._unsaved = time.monotonic(), False

    # --------------------------------------------------------------- helpers

    def _view(self) -> m.StreamView:
        assert self.stream is not None and self._host is not None
        return stream_view(self.stream, self._host, self._pinned, self._clock())

    async def _load_host(self) -> None:
        assert self.stream is not None
        user = await self._store.users.get(self.stream.host_id)
        if user is not None:
            self._host = profile_view(user)
        else:  # a deleted account: its streams still end cleanly
            self._host = accounts.UserProfile(
                id=self.stream.host_id,
                username="",
                display_name="",
                bio="",
                avatar_url="",
                created_at=0.0,
            )

    async def _line(self, line_id: str) -> m.ChatLine | None:
        line = await self._store.stream_chat.get(line_id)
        if line is None or line.deleted:
            return None
        user = await self._store.users.get(line.user_id)
        if user is None:
            return None
        return line_view(line, chat_author(user))

    def _push_all(self, body: bytes) -> None:
        delivery = Delivery(body)
        for ref in [*self.hosts, *self._session_user]:
            if self._sink.push(ref, delivery) is False:  # its node is gone
                self.hosts.discard(ref)
                user_id = self._session_user.pop(ref, None)
                if user_id is not None:
                    sessions = self.viewers.get(user_id, set())
                    sessions.discard(ref)
                    if not sessions:
                        self.viewers.pop(user_id, None)

    def _later(self, delay: float, message: Any) -> asyncio.TimerHandle:
        def fire() -> None:
            try:
                self._teller.tell(self.key, message)
            except Exception:  # stopping, or a full mailbox: the next change retries
                if isinstance(message, Tick):
                    self._tick = None
                elif isinstance(message, FlushUpdate):
                    self._update_timer = None
                elif isinstance(message, SaveCounts):
                    self._save_timer = None
                else:
                    self._host_timer = None

        return asyncio.get_running_loop().call_later(delay, fire)


def _follow(source: asyncio.Future[m.ChatLine]) -> asyncio.Future[m.ChatLine]:
    """A future of its own for each asker (the runtime may cancel what it
    waits for on a timeout; the line's own future must stay intact)."""
    target: asyncio.Future[m.ChatLine] = asyncio.get_running_loop().create_future()

    def copy(done: asyncio.Future[m.ChatLine]) -> None:
        if target.done():
            return
        if done.exception() is not None:
            target.set_exception(done.exception())  # type: ignore[arg-type]
        else:
            target.set_result(done.result())

    if source.done():
        copy(source)
    else:
        source.add_done_callback(copy)
    return target
