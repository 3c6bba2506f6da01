"""The seed's stack: python-socketio (ASGI) on uvicorn, doing the same echo
and room broadcast as bare_ws.

- event ``echo`` (data) → acknowledged with the same data
- event ``sub`` (room) → joins the room, acknowledged with ``True``
- event ``pub`` ({room, data}) → emits ``msg`` (data) to the room except the
  sender, then acknowledged with ``True``

It uses the msgpack serializer so that every target carries the same msgpack
payload in one binary frame; the default JSON serializer would split binary
data into an extra attachment frame per message.
"""

from __future__ import annotations

import argparse
from typing import Any

import socketio
import uvicorn

from bench.baselines.common import parse_args

sio = socketio.AsyncServer(
    async_mode="asgi",
    serializer="msgpack",
    max_http_buffer_size=64 * 1024,
    logger=False,
    engineio_logger=False,
)


@sio.on("echo")  # type: ignore[untyped-decorator]
async def _echo(sid: str, data: Any) -> Any:
    return data


@sio.on("sub")  # type: ignore[untyped-decorator]
async def _sub(sid: str, room: str) -> bool:
    await sio.enter_room(sid, room)
    return True


@sio.on("pub")  # type: ignore[untyped-decorator]
async def _pub(sid: str, message: dict[str, Any]) -> bool:
    await sio.emit("msg", message.get("data"), room=message["room"], skip_sid=sid)
    return True


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    args = parse_args(__doc__ or "", parser)
    config = uvicorn.Config(
        socketio.ASGIApp(sio),
        host=args.host,
        port=args.port,
        loop="uvloop",
        ws_per_message_deflate=False,
        log_level="warning",
        access_log=False,
        lifespan="off",
        backlog=4096,
        timeout_graceful_shutdown=2,
    )
    print(f"socketio_server listening on {args.host}:{args.port}", flush=True)
    # uvicorn installs its own SIGTERM/SIGINT handlers and exits cleanly on them.
    uvicorn.Server(config).run()


if __name__ == "__main__":
    cli()
