"""The :class:`~server.gateway.transport.Socket` on the ``websockets`` library
(the default transport)."""

from __future__ import annotations

from collections.abc import Coroutine
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from server.gateway.transport import SocketClosed, binary_frames


class WebsocketsSocket:
    """A ``websockets`` server connection seen as a :class:`Socket`.

    :meth:`write_frames` goes under websockets' ``send``: the frames are
    written to the transport in one write, with no per-send lock or drain."""

    __slots__ = ("peer", "ws")

    closed_errors = (SocketClosed, ConnectionClosed)

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.peer = peer_ip(ws)

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    def is_open(self) -> bool:
        return self.ws.protocol.state is State.OPEN

    def is_writable(self) -> bool:
        ws = self.ws
        return not ws.paused and ws.protocol.state is State.OPEN

    def write_buffer_size(self) -> int:
        return self.ws.transport.get_write_buffer_size()

    def write_frames(self, frames: list[bytes]) -> int:
        # Framed here rather than by websockets' protocol (a Frame object and
        # its serialiser per message): a server's data frame is a header and
        # the payload, and sending one changes no protocol state. The caller
        # checked the state is OPEN; no extensions are negotiated
        # (compression=None), so there is nothing else to apply.
        data = binary_frames(frames)
        self.ws.transport.write(data)
        return len(data)

    async def send(self, frame: bytes) -> None:
        try:
            await self.ws.send(frame)
        except ConnectionClosed as exc:
            raise SocketClosed from exc

    def recv(self) -> Coroutine[Any, Any, bytes | str]:
        # websockets' coroutine itself (it raises ConnectionClosed, one of
        # closed_errors): no wrapper frame held by every idle connection.
        return self.ws.recv()

    async def close(self, code: int, reason: str) -> None:
        await self.ws.close(code, reason)

    def abort(self) -> None:
        self.ws.transport.abort()


def peer_ip(ws: ServerConnection) -> str:
    """The client's IP address of a websockets connection."""
    address = ws.remote_address
    return str(address[0]) if address else "unknown"
