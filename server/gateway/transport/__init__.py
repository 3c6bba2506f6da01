"""The gateway's transport boundary: what a :class:`~server.gateway.connection.Connection`
needs of a websocket, and the two libraries that provide it.

:class:`Socket` is the whole contract: read a message, write a turn's frames
at once, write one frame waiting for room, close with a code, abort. The
connection logic (hello, limits, outbox, resume) is the same on both:

* :mod:`.websockets_socket` (the default): the ``websockets`` library's
  asyncio server; admission answers with HTTP 429/503 before the upgrade.
* :mod:`.picows_socket` (``GROVER_TRANSPORT=picows``): picows, whose frame
  parsing and writing are compiled; its upgrade callback cannot wait, so
  admission refuses right after the upgrade with close code 1013.
"""

from __future__ import annotations

import struct
from typing import Protocol

TRANSPORTS = ("websockets", "picows")


class SocketClosed(Exception):
    """The websocket is closed (by either side, or the TCP connection broke);
    nothing more can be read from it."""


class Socket(Protocol):
    """One accepted websocket, as the gateway's :class:`Connection` uses it."""

    @property
    def peer(self) -> str:
        """The client's IP address (``"unknown"`` when the OS did not say)."""
        ...

    @property
    def close_code(self) -> int | None:
        """The code of the close frame the client sent (1006 when the socket
        ended without one), or None while it is open."""
        ...

    def is_open(self) -> bool:
        """Frames written now would be sent: open, no close frame sent."""
        ...

    def is_writable(self) -> bool:
        """Open and not applying backpressure: frames can go straight to the
        socket's buffer."""
        ...

    def write_buffer_size(self) -> int:
        """Bytes written to the transport and not yet taken by the kernel."""
        ...

    def write_frames(self, frames: list[bytes]) -> int:
        """Write binary messages, one frame each, with one system call where
        the library allows it. Call only when :meth:`is_open`. Returns the
        bytes written (headers included)."""
        ...

    async def send(self, frame: bytes) -> None:
        """Write one binary message after waiting for the socket to have room.
        Raises :class:`SocketClosed`."""
        ...

    async def recv(self) -> bytes | str:
        """The next message (``str`` for a text message). Raises one of
        :attr:`closed_errors` once the socket is closed and every message
        received before the close has been read."""
        ...

    @property
    def closed_errors(self) -> tuple[type[Exception], ...]:
        """What :meth:`recv` raises for a closed socket: :class:`SocketClosed`
        and the library's own exceptions, let through rather than translated
        by a wrapper coroutine, whose frame every idle connection would hold
        while it waits."""
        ...

    async def close(self, code: int, reason: str) -> None:
        """Send a close frame and wait for the client's (callers bound the wait)."""
        ...

    def abort(self) -> None:
        """Drop the TCP connection now, written or not."""
        ...


_BINARY_FIN = 0x82
_SHORT = struct.Struct("!BB")
_MEDIUM = struct.Struct("!BBH")
_LONG = struct.Struct("!BBQ")


def header_size(payload_size: int) -> int:
    """Bytes of a server frame's header for a payload of this size (no mask)."""
    return 2 if payload_size < 126 else 4 if payload_size < 65536 else 10


def binary_frames(payloads: list[bytes]) -> bytes:
    """Server-to-client websocket frames (RFC 6455 §5.2: FIN, binary, not
    masked) holding ``payloads``, one message each, joined into one buffer."""
    parts: list[bytes] = []
    append = parts.append
    for payload in payloads:
        size = len(payload)
        if size < 126:
            append(_SHORT.pack(_BINARY_FIN, size))
        elif size < 65536:
            append(_MEDIUM.pack(_BINARY_FIN, 126, size))
        else:
            append(_LONG.pack(_BINARY_FIN, 127, size))
        append(payload)
    return b"".join(parts)
