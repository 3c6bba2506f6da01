"""Each entry of a conversation's log reaches a session once and in order.

Entries travel from a conversation's actor through the members' UserActors
to their sessions, across nodes through Redis. Faults can repeat an entry (a
Redis write retried after Redis applied it, an actor re-delivering what a
retry found stored) or delay it behind newer ones (pushes parked in a dead
node's inbox, re-routed seconds later). So a session does not trust the path;
per stream (conversation) it keeps the last ``seq`` it showed, and:

* an entry at or below it is a repeat, and is dropped;
* the next one is shown;
* one beyond a gap waits while the missing entries are read from the log
  (durable before anything is pushed, so it has them); they are shown, then
  it, and the late originals, when they come, are repeats;
* the first entry of a stream in a session also reads the log, for entries
  committed since the session's user logged in that never arrived;
* when the log cannot fill a gap (too long, or the read fails), the session
  ends and its connection closes with 4009: the client reconnects, is told to
  re-sync, and catches up with cursors.

Never a silent hole, never a repeat. While the log is read, everything else
pushed to the session waits behind it, so the session's events keep the order
in which they came (a receipt never overtakes the message it is about). The
entries filled from the log are shown to every session, the sender's own
included (the log does not say which session sent them).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Generic, NamedTuple, Protocol, TypeVar

from actors.sessions import Delivery

log = logging.getLogger("grover.sessions")

REPAIR_PAGE = 100
"""Entries read from the log per round trip."""
REPAIR_MAX = 1000
"""Entries one repair may fill; a longer gap makes the session re-sync."""
FIRST_LOOKBACK = 16
"""Entries before a stream's first entry first checked against the time the
user logged in; if all are newer, the look goes further back (see
:meth:`Orderer._fill_first`)."""
CLOCK_MARGIN = 0.5
"""Seconds of clock difference between nodes allowed for when deciding
whether an entry was committed after a session's login (entries are stamped
by the node that commits them; NTP keeps nodes within milliseconds). An entry
from that margin before the login may be shown though the client had it from
a sync; within the session it is still shown once."""
MAX_WAITING = 4096
"""Events that may wait behind a repair; beyond that the session re-syncs."""
MAX_STREAMS = 1024
"""Streams whose position a session remembers; beyond that the one it met
first is forgotten, and its next entry reads the log again."""


class LogEntry(NamedTuple):
    seq: int
    created_at: float
    body: bytes
    """The encoded event, as it would have been pushed."""


LogReader = Callable[[str, int, int], Awaitable[list[LogEntry]]]
"""``(stream, after_seq, limit)`` → the log's entries after ``after_seq``,
oldest first, at most ``limit``."""


class Session(Protocol):
    """What ordering needs of a session (:class:`server.gateway.sessions.Session`)."""

    streams: OrderedDict[str, int]
    waiting: deque[Delivery] | None
    closed: bool
    attached_at: float

    def emit(self, body: bytes) -> None: ...

    def place(self, stream: str, seq: int) -> None: ...


S = TypeVar("S", bound=Session)


class Orderer(Generic[S]):
    """Puts the entries pushed to this node's sessions in order."""

    def __init__(self, read_log: LogReader, resync: Callable[[S, str], None]) -> None:
        self._read_log = read_log
        self._resync = resync
        self._tasks: set[asyncio.Task[None]] = set()
        self.repairs = 0
        """Reads of the log that showed missing entries (tests, metrics)."""
        self.repeats = 0
        """Entries dropped because the session had shown them."""

    def deliver(self, session: S, delivery: Delivery) -> None:
        waiting = session.waiting
        if waiting is None:
            self._handle(session, delivery)
        elif len(waiting) < MAX_WAITING:
            waiting.append(delivery)
        else:
            session.waiting = None
            self._resync(session, "too many events behind a repair")

    def _handle(self, session: S, delivery: Delivery) -> None:
        stream = delivery.stream
        if stream is None:
            if delivery.body:
                session.emit(delivery.body)
            return
        # The hot path of every delivery: plain dict operations, no calls.
        streams = session.streams
        last = streams.get(stream)
        if last is not None:
            seq = delivery.seq
            if seq == last + 1:
                streams[stream] = seq
                if delivery.body:
                    session.emit(delivery.body)
                return
            if seq <= last:
                self.repeats += 1
                return
        # The stream's first entry in this session, or one beyond a gap.
        session.waiting = deque()
        task = asyncio.get_running_loop().create_task(self._repair(session, delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _repair(self, session: S, delivery: Delivery) -> None:
        assert delivery.stream is not None
        try:
            filled = await self._fill(session, delivery.stream, delivery.seq)
        except Exception:
            log.warning("reading the log to fill a gap failed", exc_info=True)
            filled = False
        waiting, session.waiting = session.waiting, None
        if session.closed or waiting is None:
            return  # ended, logged out, or gave up meanwhile
        if not filled:
            self._resync(session, f"entries of {delivery.stream} could not be recovered")
            return
        self._handle(session, delivery)
        while waiting:
            if session.waiting is not None:  # another repair: the rest waits for it
                session.waiting.extend(waiting)
                return
            self._handle(session, waiting.popleft())

    async def _fill(self, session: Session, stream: str, first: int) -> bool:
        """Show what the log has between the stream's position and ``first``;
        ``False`` when that cannot be done (the session must re-sync)."""
        last = session.streams.get(stream)
        if last is None:
            return await self._fill_first(session, stream, first)
        if first - 1 - last > REPAIR_MAX:
            return False
        while last < first - 1:
            entries = await self._read_log(stream, last, min(REPAIR_PAGE, first - 1 - last))
            if not entries or not self._show(session, stream, entries, first):
                return False
            position = session.streams.get(stream)
            if position is None:  # forgotten meanwhile (see MAX_STREAMS)
                return False
            last = position
        return True

    async def _fill_first(self, session: Session, stream: str, first: int) -> bool:
        """The stream's first entry in this session: show the entries before
        it that were committed since the session's login. Looks back a little,
        then further while everything it sees is that recent (the first push
        can come late, after a failover), up to :data:`REPAIR_MAX`."""
        since = session.attached_at - CLOCK_MARGIN
        lookback = FIRST_LOOKBACK
        while True:
            after = max(0, first - 1 - lookback)
            entries = await self._read_log(stream, after, first - 1 - after)
            fresh = next((i for i, e in enumerate(entries) if e.created_at >= since), None)
            if fresh is None:
                session.place(stream, first - 1)
                return True
            if fresh > 0 or after == 0:
                session.place(stream, entries[fresh].seq - 1)
                return self._show(session, stream, entries[fresh:], first)
            if lookback >= REPAIR_MAX:
                return False  # more was missed than one repair may fill
            lookback = min(lookback * 8, REPAIR_MAX)

    def _show(self, session: Session, stream: str, entries: list[LogEntry], first: int) -> bool:
        """Show ``entries`` (contiguous after the stream's position) before ``first``."""
        self.repairs += 1
        for entry in entries:
            position = session.streams.get(stream)
            if position is None or entry.seq != position + 1:
                return False  # forgotten meanwhile, or a hole in the log (never guess)
            if entry.seq >= first:
                break
            session.place(stream, entry.seq)
            session.emit(entry.body)
        return True

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks))
