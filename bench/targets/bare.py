"""The ceiling: bare websockets + uvloop + msgpack (bench/baselines/bare_ws.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from bench.payload import Payload, SentAt
from bench.session import ERROR, EVENT, REPLY, Decoded, Session
from bench.targets.base import PYTHON, Dialect, Room, Target, bounded_gather


class _Echo(msgspec.Struct, tag_field="type", tag="echo"):
    id: int
    data: Payload


class _Sub(msgspec.Struct, tag_field="type", tag="sub"):
    id: int
    room: str


class _Pub(msgspec.Struct, tag_field="type", tag="pub"):
    id: int
    room: str
    data: Payload


class _Incoming(msgspec.Struct):
    type: str
    id: int = 0
    data: SentAt | bool | None = None
    code: str = ""


_encode = msgspec.msgpack.Encoder().encode
_decode = msgspec.msgpack.Decoder(_Incoming).decode


class BareDialect(Dialect):
    name = "bare"

    def path(self) -> str:
        return "/"

    def echo(self, session: Session, request_id: int, payload: Payload) -> bytes:
        return _encode(_Echo(request_id, payload))

    def publish(self, session: Session, request_id: int, room: Room, payload: Payload) -> bytes:
        return _encode(_Pub(request_id, room.key, payload))

    async def join_room(self, members: list[Session], key: str, timeout: float) -> Room:
        def subscribe(rid: int) -> bytes:
            return _encode(_Sub(rid, key))

        await bounded_gather(members, lambda member: member.call(subscribe, timeout))
        return Room(key)

    def decode(self, session: Session, data: bytes, is_text: bool) -> Decoded:
        frame = _decode(data)
        sent = frame.data.ts if isinstance(frame.data, SentAt) else 0
        if frame.type == "event":
            return EVENT, 0, sent, None
        if frame.type == "reply":
            return REPLY, frame.id, sent, frame.data
        return ERROR, frame.id, 0, frame.code or frame.type


class BareTarget(Target):
    name = "bare"
    label = "bare websockets+uvloop+msgpack"

    def __init__(self, fanout: str = "send") -> None:
        self.fanout = fanout

    def command(self, port: int, workdir: Path) -> list[str]:
        return [
            PYTHON,
            "-m",
            "bench.baselines.bare_ws",
            "--port",
            str(port),
            "--fanout",
            self.fanout,
        ]

    def dialect(self) -> Dialect:
        return BareDialect()

    def describe(self) -> dict[str, Any]:
        return {"fanout": self.fanout, "compression": "none"}


class BarePicowsTarget(BareTarget):
    """The same relay on picows (bench/baselines/bare_picows.py): the share of
    the relay's cost that is the websocket layer."""

    name = "bare-picows"
    label = "bare picows+uvloop+msgpack"

    def __init__(self) -> None:
        super().__init__(fanout="broadcast")

    def command(self, port: int, workdir: Path) -> list[str]:
        return [PYTHON, "-m", "bench.baselines.bare_picows", "--port", str(port)]

    def describe(self) -> dict[str, Any]:
        return {"transport": "picows", "fanout": "no backpressure", "compression": "none"}
