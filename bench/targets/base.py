"""What the generator and the runner need to know about a target: how to
start its server (runner side) and how to speak to it (generator side)."""

from __future__ import annotations

import asyncio
import sys
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.payload import Payload
from bench.session import Decoded, Session
from bench.spec import CaseSpec


@dataclass(frozen=True)
class Room:
    """A delivery group: a room for the baselines, a conversation for Grover."""

    key: str
    ref: Any = None
    """The target's own id for it (Grover's conversation id)."""


class Dialect(ABC):
    """Client side of one target's wire protocol."""

    name: str
    raw_handshake = False
    """True when the handshake reads frames itself (Session.next_raw)."""

    @abstractmethod
    def path(self) -> str: ...

    async def handshake(self, session: Session) -> None:
        """Run after the websocket opens; the session is usable when it returns."""

    @abstractmethod
    def echo(self, session: Session, request_id: int, payload: Payload) -> bytes:
        """A request whose reply comes straight back (the request/reply scenario)."""

    @abstractmethod
    def publish(self, session: Session, request_id: int, room: Room, payload: Payload) -> bytes:
        """Send ``payload`` to every other member of ``room``; acked by a reply."""

    @abstractmethod
    async def join_room(self, members: list[Session], key: str, timeout: float) -> Room:
        """Make every session a member of a delivery group named ``key``."""

    async def prepare(self, sessions: list[Session], timeout: float) -> None:
        """Extra per-connection setup for scenarios that need identities (login)."""

    @abstractmethod
    def decode(self, session: Session, data: bytes, is_text: bool) -> Decoded: ...

    def unavailable(self, spec: CaseSpec) -> str | None:
        """Why this case cannot run against this target, or None."""
        return None


class Target(ABC):
    """Server side: how the runner starts one target."""

    name: str
    label: str

    @abstractmethod
    def command(self, port: int, workdir: Path) -> list[str]:
        """argv that starts the server listening on 127.0.0.1:``port``."""

    def url(self, port: int) -> str:
        return f"ws://127.0.0.1:{port}{self.dialect().path()}"

    @abstractmethod
    def dialect(self) -> Dialect: ...

    def startup_timeout(self) -> float:
        return 20.0

    def describe(self) -> dict[str, str]:
        """Settings worth recording with the results."""
        return {}


PYTHON = sys.executable


async def bounded_gather(
    items: Sequence[Session], step: Callable[[Session], Awaitable[object]], limit: int = 100
) -> None:
    """Run ``step`` for every session, at most ``limit`` at a time, failing fast."""
    for start in range(0, len(items), limit):
        await asyncio.gather(*(step(item) for item in items[start : start + limit]))
