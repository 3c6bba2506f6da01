"""The :class:`~server.gateway.transport.Socket` on picows (``GROVER_TRANSPORT=picows``).

picows parses and writes frames in compiled code and calls back per frame
(:class:`PicowsSocket` is its listener); the gateway's connection logic reads
with ``await recv()``. The two meet in a small queue: a frame arrives, its
message is queued and the reader woken; at ``max_queue`` unread messages the
socket stops reading, so a client that sends faster than its requests are
handled is pushed back through TCP, as with websockets' ``max_queue``.

What picows leaves to its user, done here: reassembling fragmented messages
(bounded by :data:`protocol.limits.MAX_FRAME_BYTES` like one frame), checking
text is UTF-8 (close 1007), answering a client's close frame, and waiting for
room to write (``pause_writing``). Pings to idle clients and pongs are picows'.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import cast

from picows import WSCloseCode, WSFrame, WSListener, WSMsgType, WSTransport

from protocol import limits
from server.gateway.transport import SocketClosed, binary_frames, header_size

log = logging.getLogger("grover.gateway")

NO_STATUS = 1005
"""RFC 6455's code for a close frame without a code (picows reports 0)."""

ABNORMAL = 1006
"""RFC 6455's code for a connection that ended without a close frame."""

_BINARY = WSMsgType.BINARY
_TEXT = WSMsgType.TEXT
_CONTINUATION = WSMsgType.CONTINUATION
_CLOSE = WSMsgType.CLOSE


class PicowsLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    """The logger picows writes to (``grover.picows``, WARNING and up).

    picows logs a frame that breaks the protocol (too big, bad opcode...) at
    ERROR before it closes with the RFC's code: that is the client's fault,
    answered as it should be, and one line each would let any client write
    error lines at will. Those go to DEBUG, as websockets has them; anything
    else picows reports (a failure of its own) keeps its level. An adapter,
    not a logger: picows makes a child logger per connection of a Logger."""

    def log(self, level: int, msg: object, *args: object, **kwargs: object) -> None:
        if isinstance(msg, str) and msg.startswith("WS parser error"):
            level = logging.DEBUG
        super().log(level, msg, *args, **kwargs)  # type: ignore[arg-type]


class PicowsSocket(WSListener):
    """One websocket accepted by picows: its listener and its :class:`Socket`.

    ``on_open`` is called once the upgrade is done, with this socket (the
    gateway starts the connection's task there)."""

    __slots__ = (
        "_close_code",
        "_closed",
        "_fragments",
        "_fragments_size",
        "_fragments_text",
        "_gone",
        "_max_queue",
        "_messages",
        "_on_open",
        "_raw",
        "_reader",
        "_reading_paused",
        "_room",
        "_writing_paused",
        "peer",
        "transport",
    )

    def __init__(self, on_open: Callable[[PicowsSocket], None], max_queue: int) -> None:
        self._on_open = on_open
        self._max_queue = max_queue
        self.transport: WSTransport | None = None
        self._raw: asyncio.Transport | None = None
        self.peer = "unknown"
        self._messages: list[bytes | str] = []
        """Unread messages, oldest first (at most ``max_queue`` or so: a list's
        ``pop(0)`` is cheap at that size, and an empty list is a tenth of an
        empty deque, which every idle connection would hold)."""
        self._reader: asyncio.Future[None] | None = None
        """Set while :meth:`recv` waits for a message."""
        self._reading_paused = False
        self._writing_paused = False
        self._room: asyncio.Future[None] | None = None
        """Set while :meth:`send` waits for the transport to drain."""
        self._fragments: list[bytes] | None = None
        self._fragments_text = False
        self._fragments_size = 0
        self._closed = False
        self._close_code: int | None = None
        self._gone: asyncio.Future[None] | None = None
        """Set while :meth:`close` waits for the TCP connection to end."""

    # ------------------------------------------------------- picows callbacks

    def on_ws_connected(self, transport: WSTransport) -> None:
        self.transport = transport
        self._raw = raw = transport.underlying_transport
        address = raw.get_extra_info("peername")
        if address:
            self.peer = str(address[0])
        self._on_open(self)

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        kind = frame.msg_type
        if kind is _BINARY and frame.fin and self._fragments is None:
            self._deliver(frame.get_payload_as_bytes())
        elif kind is _CLOSE:
            # An int, not the enum, for codes picows does not name (4000+).
            self._close_code = int(cast(int, frame.get_close_code())) or NO_STATUS
            self._close_now(frame.get_close_code())
        elif kind is _BINARY or kind is _TEXT:
            if self._fragments is not None:
                self._fail(WSCloseCode.PROTOCOL_ERROR, "expected a continuation frame")
            elif frame.fin:
                self._deliver_text(frame.get_payload_as_bytes())
            else:
                self._fragments = [frame.get_payload_as_bytes()]
                self._fragments_text = kind is _TEXT
                self._fragments_size = frame.payload_size
        elif kind is _CONTINUATION:
            self._continue(frame)
        # PING is answered by picows, PONG is picows' own keepalive.

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        self._closed = True
        if self._close_code is None:
            self._close_code = ABNORMAL
        for waiter in (self._reader, self._room, self._gone):
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        room = self._room
        if room is not None and not room.done():
            room.set_result(None)

    # ---------------------------------------------------------------- inbound

    def _continue(self, frame: WSFrame) -> None:
        fragments = self._fragments
        if fragments is None:
            self._fail(WSCloseCode.PROTOCOL_ERROR, "unexpected continuation frame")
            return
        self._fragments_size += frame.payload_size
        if self._fragments_size > limits.MAX_FRAME_BYTES:
            self._fail(WSCloseCode.MESSAGE_TOO_BIG, "message too big")
            return
        fragments.append(frame.get_payload_as_bytes())
        if frame.fin:
            self._fragments = None
            payload = b"".join(fragments)
            if self._fragments_text:
                self._deliver_text(payload)
            else:
                self._deliver(payload)

    def _deliver_text(self, payload: bytes) -> None:
        try:
            self._deliver(payload.decode())
        except UnicodeDecodeError:
            self._fail(WSCloseCode.INVALID_TEXT, "invalid UTF-8")

    def _deliver(self, message: bytes | str) -> None:
        messages = self._messages
        messages.append(message)
        reader = self._reader
        if reader is not None and not reader.done():
            reader.set_result(None)
        if len(messages) >= self._max_queue and not self._reading_paused:
            self._reading_paused = True
            assert self._raw is not None
            self._raw.pause_reading()

    def _fail(self, code: WSCloseCode, reason: str) -> None:
        """Close for a protocol violation by the client (picows checks the
        frames themselves; these are the message-level rules)."""
        log.debug("websocket protocol error: %s", reason, extra={"peer": self.peer})
        self._fragments = None
        self._close_now(code, reason.encode())

    def _close_now(self, code: WSCloseCode, reason: bytes | None = None) -> None:
        """Send a close frame (unless one went already) and end the TCP
        connection once it is written: an answer to the client's close, or
        the end of a client that broke the rules."""
        transport = self.transport
        assert transport is not None
        if not transport.is_close_frame_sent:
            transport.send_close(code, reason)
        transport.disconnect()

    # ----------------------------------------------------------- the Socket

    closed_errors: tuple[type[Exception], ...] = (SocketClosed,)

    @property
    def close_code(self) -> int | None:
        return self._close_code if self._closed else None

    def is_open(self) -> bool:
        transport = self.transport
        return not self._closed and transport is not None and not transport.is_close_frame_sent

    def is_writable(self) -> bool:
        return not self._writing_paused and self.is_open()

    def write_buffer_size(self) -> int:
        return self._raw.get_write_buffer_size() if self._raw is not None else 0

    def write_frames(self, frames: list[bytes]) -> int:
        assert self.transport is not None and self._raw is not None
        if len(frames) == 1:
            frame = frames[0]
            self.transport.send(_BINARY, frame)  # picows frames it, in C
            return len(frame) + header_size(len(frame))
        data = binary_frames(frames)
        self._raw.write(data)
        return len(data)

    async def send(self, frame: bytes) -> None:
        while self._writing_paused and not self._closed:
            self._room = asyncio.get_running_loop().create_future()
            try:
                await self._room
            finally:
                self._room = None
        if not self.is_open():
            raise SocketClosed
        assert self.transport is not None
        self.transport.send(_BINARY, frame)

    async def recv(self) -> bytes | str:
        messages = self._messages
        while not messages:
            if self._closed:
                raise SocketClosed
            self._reader = asyncio.get_running_loop().create_future()
            try:
                await self._reader
            finally:
                self._reader = None
        message = messages.pop(0)
        if self._reading_paused and len(messages) < self._max_queue // 2:
            self._reading_paused = False
            assert self._raw is not None
            self._raw.resume_reading()
        return message

    async def close(self, code: int, reason: str) -> None:
        transport = self.transport
        if self._closed or transport is None:
            return
        if not transport.is_close_frame_sent:
            # picows types the code as its enum; application codes (4000+)
            # are plain integers on the wire, which it writes as given.
            transport.send_close(code, reason.encode())  # type: ignore[arg-type]
        self._gone = asyncio.get_running_loop().create_future()
        try:
            await self._gone
        finally:
            self._gone = None

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.disconnect(graceful=False)
