"""One generator-side connection (:class:`Session`) and the counters its
frames feed (:class:`Recorder`).

The hot path is callbacks only: a reply pops the send time of its request id,
records the latency and, in closed-loop mode, sends the next request from the
same callback. Setup steps (handshakes, joining rooms) use awaitable calls.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from bench.clients.base import ClientLayer, WireConnection
from bench.stats import Histogram


class SessionDialect(Protocol):
    """What a session needs of its target's dialect (``bench.targets.base.Dialect``
    implements it; naming that class here would make the two modules import
    each other)."""

    raw_handshake: bool

    async def handshake(self, session: Session) -> None: ...

    def decode(self, session: Session, data: bytes, is_text: bool) -> Decoded: ...


# What a dialect's decode() says a frame is.
REPLY = 1
EVENT = 2
ERROR = 3
CONTROL = 4  # handled inside the dialect (e.g. an Engine.IO ping)
EVENTS = 5  # several deliveries in one frame (Grover's chat.updated): detail is a Batch

Decoded = tuple[int, int, int, Any]
"""(kind, request id, payload send time in ns or 0, detail)."""

Action = Callable[["Session", int], bytes]
"""Builds the frame of the next request, given the session and request id."""

Hook = Callable[["Session", Any], None]
"""Sees a hot-path reply's or an event's detail (what the dialect's decode
returned), for scenarios that check contents, not only count."""


@dataclass(slots=True)
class Batch:
    """What an :data:`EVENTS` frame delivered: one send time (ns, or 0) per
    delivery it carries, and a detail for the scenario's ``on_event`` hook."""

    sent_ns: list[int]
    detail: Any = None


class CallFailed(Exception):
    """A setup call got an error frame, or its connection closed."""


@dataclass
class Snapshot:
    at: float
    acks: int
    deliveries: int
    frames: int
    sent: int
    skipped: int
    errors: int
    ack_hist: Histogram
    delivery_hist: Histogram


@dataclass
class Recorder:
    """Counters and histograms for one group of sessions.

    Counters only grow; a measured window is the difference of two
    :class:`Snapshot`, so warm-up and drain never leak into it.
    """

    running: bool = False
    """Closed-loop sessions send again on each ack while this is true."""
    closing: bool = False
    """Set before the generator closes its connections: closes are not errors then."""
    acks: int = 0
    deliveries: int = 0
    frames: int = 0
    """Frames that carried several deliveries (:data:`EVENTS`)."""
    sent: int = 0
    skipped: int = 0
    """Sends the pacer could not issue because a connection had too many in flight."""
    max_sends: int = 5_000_000
    """Hard cap on sends, whatever the window says."""
    ack_hist: Histogram = field(default_factory=Histogram)
    delivery_hist: Histogram = field(default_factory=Histogram)
    errors: Counter[str] = field(default_factory=Counter)

    def on_ack(self, session: Session, latency_ns: int) -> None:
        self.acks += 1
        self.ack_hist.record_ns(latency_ns)
        if self.running and session.closed_loop:
            session.fire()

    def on_event(self, sent_ns: int) -> None:
        self.deliveries += 1
        if sent_ns:
            self.delivery_hist.record_ns(time.monotonic_ns() - sent_ns)

    def on_events(self, sent_ns: list[int]) -> None:
        """One frame carrying ``len(sent_ns)`` deliveries."""
        self.frames += 1
        self.deliveries += len(sent_ns)
        now = time.monotonic_ns()
        record = self.delivery_hist.record_ns
        for sent in sent_ns:
            if sent:
                record(now - sent)

    def error(self, kind: str) -> None:
        self.errors[kind] += 1

    def snapshot(self) -> Snapshot:
        return Snapshot(
            at=time.monotonic(),
            acks=self.acks,
            deliveries=self.deliveries,
            frames=self.frames,
            sent=self.sent,
            skipped=self.skipped,
            errors=sum(self.errors.values()),
            ack_hist=self.ack_hist.copy(),
            delivery_hist=self.delivery_hist.copy(),
        )


class Session:
    """A generator connection speaking one target's dialect."""

    def __init__(self, index: int, dialect: SessionDialect, recorder: Recorder) -> None:
        self.index = index
        self.dialect = dialect
        self.recorder = recorder
        self.conn: WireConnection | None = None
        self.pending: dict[int, int] = {}
        """In-flight hot-path requests: id → send time (ns)."""
        self.action: Action | None = None
        self.closed_loop = False
        self.on_reply: Hook | None = None
        """Called with a timed reply's detail before it is counted (and, in
        closed loop, before the next request is built)."""
        self.on_event: Hook | None = None
        """Called with an event's detail when the dialect gave one."""
        self.sent_count = 0
        self.state: dict[str, Any] = {}
        """Dialect-specific per-connection state (tokens, user ids...)."""
        self._next_id = 0
        self._waiters: dict[int, asyncio.Future[Any]] = {}
        self._raw: asyncio.Queue[tuple[bytes, bool]] | None = None
        self._closed = False

    # ------------------------------------------------------------ setup path

    async def open(self, client: ClientLayer, url: str, timeout: float) -> None:
        """Connect and run the dialect's handshake, all within ``timeout``."""
        async with asyncio.timeout(timeout):
            if self.dialect.raw_handshake:
                self._raw = asyncio.Queue()
            self.conn = await client.connect(url, self, timeout)
            await self.dialect.handshake(self)
            self._raw = None

    def take_id(self) -> int:
        # Grover requires strictly increasing ids per connection.
        self._next_id += 1
        return self._next_id

    async def call(self, build: Callable[[int], bytes], timeout: float = 10.0) -> Any:
        """Send one request and wait for its reply's detail."""
        assert self.conn is not None
        request_id = self.take_id()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._waiters[request_id] = future
        self.conn.send_binary(build(request_id))
        try:
            async with asyncio.timeout(timeout):
                return await future
        finally:
            self._waiters.pop(request_id, None)

    async def next_raw(self) -> tuple[bytes, bool]:
        """The next frame during a raw handshake (bounded by open()'s timeout)."""
        assert self._raw is not None
        return await self._raw.get()

    # -------------------------------------------------------------- hot path

    def fire(self) -> None:
        """Send the next request built by ``action``; its reply is timed."""
        conn = self.conn
        action = self.action
        recorder = self.recorder
        if conn is None or action is None or self._closed:
            return
        if recorder.sent >= recorder.max_sends:
            recorder.running = False
            return
        request_id = self.take_id()
        self.sent_count += 1
        frame = action(self, request_id)
        self.pending[request_id] = time.monotonic_ns()
        conn.send_binary(frame)
        # The action may have switched the session's recorder (like_notify
        # times likes and unlikes apart): the send counts where its reply will.
        self.recorder.sent += 1

    def send_binary(self, data: bytes) -> None:
        if self.conn is not None and not self._closed:
            self.conn.send_binary(data)

    def send_text(self, data: bytes) -> None:
        if self.conn is not None and not self._closed:
            self.conn.send_text(data)

    def on_frame(self, data: bytes, is_text: bool) -> None:
        if self._raw is not None:
            self._raw.put_nowait((data, is_text))
            return
        try:
            kind, request_id, sent_ns, detail = self.dialect.decode(self, data, is_text)
        except Exception as exc:  # a bad frame must not kill the transport callback
            self.recorder.error(f"decode:{type(exc).__name__}")
            return
        if kind == EVENT:
            self.recorder.on_event(sent_ns)
            if self.on_event is not None and detail is not None:
                self.on_event(self, detail)
        elif kind == EVENTS:
            self.recorder.on_events(detail.sent_ns)
            if self.on_event is not None and detail.detail is not None:
                self.on_event(self, detail.detail)
        elif kind == REPLY:
            started = self.pending.pop(request_id, None)
            if started is not None:
                latency = time.monotonic_ns() - started
                if self.on_reply is not None:
                    self.on_reply(self, detail)
                self.recorder.on_ack(self, latency)
            else:
                self._resolve(request_id, detail, None)
        elif kind == ERROR:
            self.recorder.error(f"error:{detail}")
            if self.pending.pop(request_id, None) is None:
                self._resolve(request_id, None, CallFailed(str(detail)))

    def _resolve(self, request_id: int, detail: Any, error: Exception | None) -> None:
        future = self._waiters.pop(request_id, None)
        if future is None or future.done():
            if error is None:
                self.recorder.error("unexpected_reply")
            return
        if error is None:
            future.set_result(detail)
        else:
            future.set_exception(error)

    def on_close(self) -> None:
        if not self._closed and not self.recorder.closing:
            self.recorder.error("connection_closed")
        self._closed = True
        for future in self._waiters.values():
            if not future.done():
                future.set_exception(CallFailed("connection closed"))
        self._waiters.clear()

    @property
    def is_closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close on purpose: not counted as an error."""
        self._closed = True
        if self.conn is not None:
            self.conn.close()
