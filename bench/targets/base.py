"""What the generator and the runner need to know about a target: how to
start its server side (runner side) and how to speak to it (generator side)."""

from __future__ import annotations

import asyncio
import sys
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.payload import Payload
from bench.procs import ServerProcess, free_port, pinned
from bench.session import Decoded, Session
from bench.spec import SOCIAL_KINDS, CaseSpec


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
    social = False
    """True when the target has follows and posts (:data:`SOCIAL_KINDS`)."""

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
        if spec.kind == "live_chat" and not self.social:
            return f"not available: {self.name} has no live streams (compare its fanout_* rows)"
        if spec.kind == "like_notify" and not self.social:
            return f"not available: {self.name} has no posts, likes or notifications"
        if spec.kind in SOCIAL_KINDS and not self.social:
            return f"not available: {self.name} has no follows or posts (compare its fanout_* rows)"
        return None


@dataclass
class Deployment:
    """The server side of one case, started: the URLs the generator connects
    to, the processes it measures, and how to stop them."""

    urls: list[str]
    """One per node, in node order."""
    nodes: list[ServerProcess]
    redis: ServerProcess | None = None
    stats_urls: list[str] = field(default_factory=list)
    """Each node's ``/stats`` (Grover's sidecar), in node order; none for
    the baselines."""

    @property
    def node_pids(self) -> list[int]:
        return [node.pid for node in self.nodes]

    def describe(self) -> str:
        """``role pid :port`` of every process, for the progress output."""
        parts = [] if self.redis is None else [f"{self.redis.role} pid {self.redis.pid}"]
        for node, url in zip(self.nodes, self.urls, strict=True):
            port = url.removeprefix("ws://127.0.0.1:").split("/")[0]
            parts.append(f"{node.role} pid {node.pid} :{port}")
        return ", ".join(parts)

    async def stop(self) -> list[str]:
        """Stop the nodes (together), then Redis: nodes shut down cleanly only
        while Redis still answers. Returns a note per unclean exit."""
        codes = await asyncio.gather(*(node.stop() for node in self.nodes))
        processes = list(self.nodes)
        if self.redis is not None:
            codes.append(await self.redis.stop())
            processes.append(self.redis)
        # 0 or -SIGTERM: stopped as asked; None: never started.
        return [
            f"{proc.role} exited with {code}"
            for proc, code in zip(processes, codes, strict=True)
            if code not in (0, None, -15)
        ]

    def log_warnings(self) -> dict[str, int]:
        """Warnings and errors the nodes logged (summed over nodes), most
        frequent first: a server that degraded during a case says so here
        even when no client saw an error."""
        total: Counter[str] = Counter()
        for node in self.nodes:
            total.update(node.log_warnings())
        return dict(total.most_common())

    def log_tail(self, limit: int = 1500) -> str:
        processes = [*self.nodes, *([self.redis] if self.redis else [])]
        if len(processes) == 1:
            return processes[0].log_tail(limit)
        return "\n".join(f"[{p.role}] {p.log_tail(limit // len(processes))}" for p in processes)


class Target(ABC):
    """Server side: how the runner starts one target."""

    name: str
    label: str
    max_rounds: int | None = None
    """Rounds of a suite this target takes part in (the first ones); None: all."""

    @abstractmethod
    def command(self, port: int, workdir: Path) -> list[str]:
        """argv that starts the server (or one node) on 127.0.0.1:``port``."""

    def url(self, port: int) -> str:
        return f"ws://127.0.0.1:{port}{self.dialect().path()}"

    @abstractmethod
    def dialect(self) -> Dialect: ...

    def startup_timeout(self) -> float:
        return 20.0

    def skip(self, spec: CaseSpec) -> str | None:
        """Why the runner should not even start this target for a case, or None.
        Unlike :meth:`Dialect.unavailable` (asked by the generator), this is
        checked before any process starts; a social case is asked of the
        dialect here already (its store is seeded before the server starts)."""
        if spec.kind in SOCIAL_KINDS:
            return self.dialect().unavailable(spec)
        return None

    async def seed(self, spec: CaseSpec, workdir: Path) -> dict[str, Any] | None:
        """Write what ``spec`` needs into ``workdir/data`` before the server
        starts; what was written and how long it took (not part of the
        measurement), or None when the case needs nothing."""
        return None

    async def start(self, workdir: Path, core: int | None) -> Deployment:
        """Start the server side pinned to ``core`` (None: unpinned) and return
        once it accepts connections; on failure, stop what was started.
        The default is one process from :meth:`command`, with its data in
        ``workdir/data``."""
        port = free_port()
        return await self.start_one(self.command(port, workdir / "data"), port, workdir, core)

    async def start_one(
        self, argv: list[str], port: int, workdir: Path, core: int | None, stats_url: str = ""
    ) -> Deployment:
        """Start one server process from ``argv``, listening on ``port``;
        ``stats_url`` is its ``/stats`` (Grover), if it has one."""
        server = ServerProcess(pinned(argv, core), workdir / "server.log", self.name)
        deployment = Deployment(
            [self.url(port)], [server], stats_urls=[stats_url] if stats_url else []
        )
        try:
            await server.wait_listening(port, self.startup_timeout())
        except BaseException:
            await deployment.stop()
            raise
        return deployment

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
