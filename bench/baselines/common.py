"""What the baseline servers share: the command line, and for the two bare
relays their frames and their rooms."""

from __future__ import annotations

import argparse
import asyncio
import signal
from typing import Any, Generic, TypeVar

import msgpack

C = TypeVar("C")


def parse_args(
    description: str, extra: argparse.ArgumentParser | None = None
) -> argparse.Namespace:
    parser = extra or argparse.ArgumentParser(description=description)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    return parser.parse_args()


def stop_on_signals() -> asyncio.Future[None]:
    """A future that completes on SIGTERM or SIGINT, so the runner can stop the
    server by pid and it still closes its listening socket cleanly."""
    loop = asyncio.get_running_loop()
    stopped: asyncio.Future[None] = loop.create_future()

    def stop() -> None:
        if not stopped.done():
            stopped.set_result(None)

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    return stopped


def reply_frame(request_id: Any, data: Any = None) -> bytes:
    """The bare protocol's ``{type: "reply", id, data?}``."""
    frame = {"type": "reply", "id": request_id}
    if data is not None:
        frame["data"] = data
    return msgpack.packb(frame)  # type: ignore[no-any-return]


def error_frame(request_id: Any, code: str) -> bytes:
    return msgpack.packb({"type": "error", "id": request_id, "code": code})  # type: ignore[no-any-return]


def event_frame(room: str, data: Any) -> bytes:
    """Encoded once per publish, sent to every other member."""
    return msgpack.packb({"type": "event", "room": room, "data": data})  # type: ignore[no-any-return]


class Rooms(Generic[C]):
    """Who is in which room; a connection is anything hashable."""

    def __init__(self) -> None:
        self._members: dict[str, set[C]] = {}

    def join(self, room: str, member: C) -> None:
        self._members.setdefault(room, set()).add(member)

    def others(self, room: str, member: C) -> list[C]:
        return [m for m in self._members.get(room, ()) if m is not member]

    def leave(self, rooms: list[str], member: C) -> None:
        for room in rooms:
            members = self._members.get(room)
            if members is not None:
                members.discard(member)
                if not members:
                    del self._members[room]
