"""The seed's stack: python-socketio (ASGI) on uvicorn
(bench/baselines/socketio_server.py), spoken to over a websocket-only
Engine.IO v4 connection with the msgpack serializer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from bench.payload import Payload, SentAt
from bench.session import CONTROL, ERROR, EVENT, REPLY, Decoded, Session
from bench.targets.base import PYTHON, Dialect, Room, Target, bounded_gather

# Socket.IO packet types (the msgpack serializer carries them as ints).
_CONNECT, _EVENT, _ACK, _CONNECT_ERROR = 0, 2, 3, 4


class _Packet(msgspec.Struct, omit_defaults=True):
    type: int
    data: Any = None
    id: int | None = None
    nsp: str = msgspec.field(default_factory=lambda: "/")
    """The server's msgpack decoder requires ``nsp``; a factory default is
    never omitted by ``omit_defaults``."""


class _Incoming(msgspec.Struct):
    type: int
    nsp: str = "/"
    data: list[SentAt | str | bool | None] | dict[str, Any] | None = None
    id: int | None = None


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Incoming).decode


class SocketioDialect(Dialect):
    name = "socketio"
    raw_handshake = True

    def path(self) -> str:
        return "/socket.io/?EIO=4&transport=websocket"

    async def handshake(self, session: Session) -> None:
        data, is_text = await session.next_raw()
        if not (is_text and data[:1] == b"0"):
            raise ConnectionError(f"expected Engine.IO open packet, got {data[:40]!r}")
        session.send_binary(_encode(_Packet(_CONNECT)))
        data, is_text = await session.next_raw()
        reply = _decode(data) if not is_text else None
        if reply is None or reply.type != _CONNECT:
            raise ConnectionError(f"Socket.IO connect refused: {data[:80]!r}")

    def echo(self, session: Session, request_id: int, payload: Payload) -> bytes:
        return _encode(_Packet(_EVENT, data=["echo", payload], id=request_id))

    def publish(self, session: Session, request_id: int, room: Room, payload: Payload) -> bytes:
        return _encode(
            _Packet(_EVENT, data=["pub", {"room": room.key, "data": payload}], id=request_id)
        )

    async def join_room(self, members: list[Session], key: str, timeout: float) -> Room:
        def subscribe(rid: int) -> bytes:
            return _encode(_Packet(_EVENT, data=["sub", key], id=rid))

        await bounded_gather(members, lambda member: member.call(subscribe, timeout))
        return Room(key)

    def decode(self, session: Session, data: bytes, is_text: bool) -> Decoded:
        if is_text:
            # Engine.IO heartbeat: the server pings ("2"), a live client pongs ("3").
            if data == b"2":
                session.send_text(b"3")
                return CONTROL, 0, 0, None
            return ERROR, 0, 0, f"engineio:{data[:1].decode(errors='replace')}"
        packet = _decode(data)
        items = packet.data if isinstance(packet.data, list) else []
        if packet.type == _EVENT:
            sent = items[1].ts if len(items) > 1 and isinstance(items[1], SentAt) else 0
            return EVENT, 0, sent, None
        if packet.type == _ACK and packet.id is not None:
            sent = items[0].ts if items and isinstance(items[0], SentAt) else 0
            return REPLY, packet.id, sent, items
        return ERROR, packet.id or 0, 0, f"socketio:{packet.type}"


class SocketioTarget(Target):
    name = "socketio"
    label = "python-socketio on uvicorn"

    def command(self, port: int, workdir: Path) -> list[str]:
        return [PYTHON, "-m", "bench.baselines.socketio_server", "--port", str(port)]

    def dialect(self) -> Dialect:
        return SocketioDialect()

    def describe(self) -> dict[str, Any]:
        return {"serializer": "msgpack", "transport": "websocket only", "ws": "uvicorn auto"}
