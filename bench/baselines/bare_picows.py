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

import msgpack
import uvloop
from picows import WSFrame, WSListener, WSMsgType, WSTransport, WSUpgradeRequest, ws_create_server

from bench.baselines.common import (
    Rooms,
    error_frame,
    event_frame,
    parse_args,
    reply_frame,
    stop_on_signals,
)

_rooms: Rooms[WSTransport] = Rooms()


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
            transport.send(WSMsgType.BINARY, error_frame(None, "bad_frame"))
            return
        if kind == "echo":
            transport.send(WSMsgType.BINARY, reply_frame(request_id, msg.get("data")))
        elif kind == "pub":
            event = event_frame(msg["room"], msg.get("data"))
            for member in _rooms.others(msg["room"], transport):
                member.send(WSMsgType.BINARY, event)
            transport.send(WSMsgType.BINARY, reply_frame(request_id))
        elif kind == "sub":
            room = str(msg["room"])
            _rooms.join(room, transport)
            self.joined.append(room)
            transport.send(WSMsgType.BINARY, reply_frame(request_id))
        else:
            transport.send(WSMsgType.BINARY, error_frame(request_id, "unknown_type"))

    def on_ws_disconnected(self, transport: WSTransport) -> None:
        _rooms.leave(self.joined, transport)


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
