"""The ceiling for our stack: websockets (asyncio API) + uvloop + msgpack, and
nothing else.

Frames are msgpack maps:

- ``{type: "echo", id, data}`` → ``{type: "reply", id, data}``
- ``{type: "sub", id, room}`` → ``{type: "reply", id}``
- ``{type: "pub", id, room, data}`` → ``{type: "event", room, data}`` to every
  other subscriber of the room, then ``{type: "reply", id}`` to the publisher.

Fan-out is a loop of per-connection ``await send`` by default: that respects
each socket's write buffer, as a real server must. ``--fanout broadcast`` uses
``websockets.broadcast``, which writes into every buffer with no backpressure
at all (faster, and unbounded memory on a slow consumer), for comparison.
"""

from __future__ import annotations

import argparse
import contextlib
from typing import Any

import msgpack
import uvloop
from websockets.asyncio.server import ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from bench.baselines.common import (
    Rooms,
    error_frame,
    event_frame,
    parse_args,
    reply_frame,
    stop_on_signals,
)

_rooms: Rooms[ServerConnection] = Rooms()
_options = {"broadcast": False}


async def _publish(sender: ServerConnection, room: str, data: Any) -> None:
    # Encoded once, sent to every member: what any sensible server does.
    event = event_frame(room, data)
    members = _rooms.others(room, sender)
    if _options["broadcast"]:
        broadcast(members, event)
        return
    for member in members:
        with contextlib.suppress(ConnectionClosed):
            await member.send(event)


async def _handle(ws: ServerConnection) -> None:
    joined: list[str] = []
    try:
        async for frame in ws:
            try:
                msg = msgpack.unpackb(frame)
                kind = msg["type"]
                request_id = msg.get("id")
            except Exception:
                await ws.send(error_frame(None, "bad_frame"))
                continue
            if kind == "echo":
                await ws.send(reply_frame(request_id, msg.get("data")))
            elif kind == "pub":
                await _publish(ws, msg["room"], msg.get("data"))
                await ws.send(reply_frame(request_id))
            elif kind == "sub":
                room = str(msg["room"])
                _rooms.join(room, ws)
                joined.append(room)
                await ws.send(reply_frame(request_id))
            else:
                await ws.send(error_frame(request_id, "unknown_type"))
    except ConnectionClosed:
        pass
    finally:
        _rooms.leave(joined, ws)


async def main(host: str, port: int) -> None:
    stopped = stop_on_signals()
    async with serve(
        _handle,
        host,
        port,
        compression=None,  # the default negotiates deflate: 3x memory per connection
        max_size=64 * 1024,
        ping_interval=20,  # generous: a pong queued behind a full buffer is not death
        ping_timeout=20,
        backlog=4096,  # a connect storm overflows asyncio's default of 100
    ):
        print(f"bare_ws listening on {host}:{port}", flush=True)
        await stopped


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--fanout", choices=("send", "broadcast"), default="send")
    args = parse_args(__doc__ or "", parser)
    _options["broadcast"] = args.fanout == "broadcast"
    uvloop.run(main(args.host, args.port))


if __name__ == "__main__":
    cli()
