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

from bench.baselines.common import parse_args, stop_on_signals

_rooms: dict[str, set[ServerConnection]] = {}
_options = {"broadcast": False}


def _reply(request_id: Any, data: Any = None) -> bytes:
    frame = {"type": "reply", "id": request_id}
    if data is not None:
        frame["data"] = data
    return msgpack.packb(frame)  # type: ignore[no-any-return]


async def _publish(sender: ServerConnection, room: str, data: Any) -> None:
    # Encoded once, sent to every member: what any sensible server does.
    event = msgpack.packb({"type": "event", "room": room, "data": data})
    members = [m for m in _rooms.get(room, ()) if m is not sender]
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
                await ws.send(msgpack.packb({"type": "error", "id": None, "code": "bad_frame"}))
                continue
            if kind == "echo":
                await ws.send(_reply(request_id, msg.get("data")))
            elif kind == "pub":
                await _publish(ws, msg["room"], msg.get("data"))
                await ws.send(_reply(request_id))
            elif kind == "sub":
                room = str(msg["room"])
                _rooms.setdefault(room, set()).add(ws)
                joined.append(room)
                await ws.send(_reply(request_id))
            else:
                await ws.send(
                    msgpack.packb({"type": "error", "id": request_id, "code": "unknown_type"})
                )
    except ConnectionClosed:
        pass
    finally:
        for room in joined:
            members = _rooms.get(room)
            if members is not None:
                members.discard(ws)
                if not members:
                    del _rooms[room]


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
