"""The same relay as :mod:`bench.baselines.bare_ws` (same msgpack frames, same
rooms) on picows, a websocket library whose frame handling is compiled
(Cython): how much of the relay's cost per message is the websocket layer.

Not a ceiling for Grover as it stands (the gateway is written on websockets),
but the measure of what a compiled transport behind the gateway could give
(bench/README.md, experiments). picows is callback-driven: a frame arrives in
``on_ws_frame`` and is answered there, with no task per connection; writes go
to the transport's buffer (``pause_writing`` is not honoured, as with
``bare_ws --fanout broadcast``: a fair comparison for the cases where
nobody's buffer fills, not for a slow consumer). Messages are one frame each
(the generator never fragments).
"""

from __future__ import annotations

from typing import Any

import msgpack
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

from bench.baselines.common import parse_args, stop_on_signals

_rooms: dict[str, set[WSTransport]] = {}


def _reply(request_id: Any, data: Any = None) -> bytes:
    frame = {"type": "reply", "id": request_id}
    if data is not None:
        frame["data"] = data
    return msgpack.packb(frame)  # type: ignore[no-any-return]


class _Relay(WSListener):
    def __init__(self) -> None:
        self.joined: list[str] = []

    def on_ws_frame(self, transport: WSTransport, frame: WSFrame) -> None:
        if frame.msg_type == WSMsgType.CLOSE:
            transport.send_close(frame.get_close_code())
            transport.disconnect()
            return
        if frame.msg_type != WSMsgType.BINARY:
            return  # pings are answered by picows (auto pong)
        try:
            msg = msgpack.unpackb(frame.get_payload_as_bytes())
            kind = msg["type"]
            request_id = msg.get("id")
        except Exception:
            error = {"type": "error", "id": None, "code": "bad_frame"}
            transport.send(WSMsgType.BINARY, msgpack.packb(error))
            return
        if kind == "echo":
            transport.send(WSMsgType.BINARY, _reply(request_id, msg.get("data")))
        elif kind == "pub":
            room = msg["room"]
            event = msgpack.packb({"type": "event", "room": room, "data": msg.get("data")})
            for member in _rooms.get(room, ()):
                if member is not transport:
                    member.send(WSMsgType.BINARY, event)
            transport.send(WSMsgType.BINARY, _reply(request_id))
        elif kind == "sub":
            room = str(msg["room"])
            _rooms.setdefault(room, set()).add(transport)
            self.joined.append(room)
            transport.send(WSMsgType.BINARY, _reply(request_id))
        else:
            error = {"type": "error", "id": request_id, "code": "unknown_type"}
            transport.send(WSMsgType.BINARY, msgpack.packb(error))

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        for room in self.joined:
            members = _rooms.get(room)
            if members is not None:
                members.discard(transport)
                if not members:
                    del _rooms[room]


async def main(host: str, port: int) -> None:
    stopped = stop_on_signals()

    def listener(request: WSUpgradeRequest) -> _Relay:
        return _Relay()

    server = await ws_create_server(
        listener,
        host,
        port,
        max_frame_size=64 * 1024,
        enable_auto_ping=True,
        auto_ping_idle_timeout=20,
        auto_ping_reply_timeout=20,
        backlog=4096,
    )
    print(f"bare_picows listening on {host}:{port}", flush=True)
    try:
        await stopped
    finally:
        server.close()


def cli() -> None:
    args = parse_args(__doc__ or "")
    uvloop.run(main(args.host, args.port))


if __name__ == "__main__":
    cli()
