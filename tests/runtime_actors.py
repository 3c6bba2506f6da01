"""The counter actor of the runtime tests, its SQLite table, and fixtures
(see :mod:`tests.test_runtime`)."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from actors.actor import Actor
from actors.ids import ActorKey
from actors.placement import LocalPlacement
from actors.runtime import ActorSystem
from protocol.errors import ProtocolError
from server.storage.sqlite import SqliteStore

RUNTIME_LOG = "grover.actors"


# ------------------------------------------------------------------ the store


class Counters:
    """The counter actor's table, reached through the SQLite store's group commit."""

    def __init__(self, store: SqliteStore) -> None:
        self._db = store.db

    async def create_table(self) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS test_counters (key TEXT PRIMARY KEY, value INTEGER)"
            )

        await self._db.write(job)

    async def load(self, key: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute("SELECT value FROM test_counters WHERE key = ?", (key,)).fetchone()
            return int(row[0]) if row is not None else 0

        return await self._db.read(job)

    async def save(self, key: str, value: int) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO test_counters (key, value) VALUES (?, ?)"
                " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (key, value),
            )

        await self._db.write(job)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    sqlite_store = SqliteStore(tmp_path / "grover.db")
    await sqlite_store.open()
    await Counters(sqlite_store).create_table()
    yield sqlite_store
    await sqlite_store.close()


@pytest.fixture
def counters(store: SqliteStore) -> Counters:
    return Counters(store)


# ------------------------------------------------------------ the test actor


@dataclass(frozen=True)
class Incr:
    n: int = 1


@dataclass(frozen=True)
class Get:
    pass


@dataclass(frozen=True)
class Crash:
    pass


@dataclass(frozen=True)
class Refuse:
    error: ProtocolError


@dataclass(frozen=True)
class Block:
    """Wait for ``release`` inside the handler; ``running`` is set on entry."""

    release: asyncio.Event
    running: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass(frozen=True)
class Note:
    """Append ``(sender, n)`` to the actor's log (ordering tests)."""

    sender: int
    n: int


@dataclass(frozen=True)
class Log:
    pass


@dataclass(frozen=True)
class NoteNow:
    """Like :class:`Note`, but handled inline when told to an idle actor
    (:meth:`Actor.receive_now`); ``crash`` makes the inline handler fail
    after breaking the hot state."""

    sender: int
    n: int
    crash: bool = False


@dataclass(frozen=True)
class IncrNow:
    """Like :class:`Incr`, answered inline when asked of an idle actor
    (:meth:`Actor.ask_now`); ``refuse`` is raised instead, ``crash`` breaks
    the hot state and fails."""

    n: int = 1
    refuse: ProtocolError | None = None
    crash: bool = False


@dataclass
class Probe:
    """What the tests control about counter actors and what they observe of them."""

    activate_delay: float = 0.0
    passivate_delay: float = 0.0
    failing_activations: int = 0
    """The next this-many ``activate()`` calls raise."""
    keep_alive: bool = False
    absent: set[str] = field(default_factory=set)
    """Keys whose entity does not exist (``Counter.exists`` is false)."""
    activations: list[str] = field(default_factory=list)
    """Key of every ``activate()`` call that succeeded, in order."""
    activation_times: list[float] = field(default_factory=list)
    """When each ``activate()`` call started (``time.monotonic``)."""
    passivations: list[tuple[str, int]] = field(default_factory=list)
    """``(key, value flushed)`` of every finished ``passivate()``."""
    passivation_started: asyncio.Event = field(default_factory=asyncio.Event)
    passivation_ended_at: float = 0.0
    max_concurrent: int = 0
    """Most handlers seen running at once across all counter actors of a key."""
    inline: int = 0
    """Messages handled by ``receive_now``."""


class Counter(Actor):
    kind = "counter"

    def __init__(self, key: ActorKey, counters: Counters, probe: Probe) -> None:
        super().__init__(key)
        self._counters = counters
        self._probe = probe
        self.value = 0
        self.log: list[tuple[int, int]] = []
        self._running = 0

    async def activate(self) -> None:
        probe = self._probe
        probe.activation_times.append(time.monotonic())
        if probe.activate_delay:
            await asyncio.sleep(probe.activate_delay)
        if probe.failing_activations > 0:
            probe.failing_activations -= 1
            raise RuntimeError("store unavailable")
        self.value = await self._counters.load(self.key.id)
        probe.activations.append(self.key.id)

    async def passivate(self) -> None:
        self._probe.passivation_started.set()
        if self._probe.passivate_delay:
            await asyncio.sleep(self._probe.passivate_delay)
        await self._counters.save(self.key.id, self.value)
        self._probe.passivations.append((self.key.id, self.value))
        self._probe.passivation_ended_at = time.monotonic()

    def can_passivate(self) -> bool:
        return not self._probe.keep_alive

    def exists(self) -> bool:
        return self.key.id not in self._probe.absent

    def ask_now(self, message: Any) -> Any:
        if not isinstance(message, IncrNow):
            return NotImplemented
        assert self._running == 0, "inline while a handler runs"
        self._probe.inline += 1
        if message.refuse is not None:
            raise message.refuse
        if message.crash:
            self.value = -1
            raise RuntimeError("inline handler bug")
        self.value += message.n
        return self.value

    def receive_now(self, message: Any) -> bool:
        if not isinstance(message, NoteNow):
            return False
        assert self._running == 0, "inline while a handler runs"
        self._probe.inline += 1
        if message.crash:
            self.value = -1
            raise RuntimeError("inline handler bug")
        self.log.append((message.sender, message.n))
        return True

    async def receive(self, message: Any) -> Any:
        self._running += 1
        self._probe.max_concurrent = max(self._probe.max_concurrent, self._running)
        try:
            return await self._receive(message)
        finally:
            self._running -= 1

    async def _receive(self, message: Any) -> Any:
        match message:
            case Incr(n=n):
                self.value += n
                return self.value
            case Get():
                return self.value
            case Crash():
                self.value = -1  # the broken hot state that must not survive
                raise RuntimeError("handler bug")
            case Refuse(error=error):
                raise error
            case Block(release=release, running=running):
                running.set()
                await release.wait()
                return self.value
            case Note(sender=sender, n=n):
                # Yield inside the handler: if the runtime ran two handlers of
                # one actor at once, they would interleave here.
                await asyncio.sleep(0)
                self.log.append((sender, n))
                return None
            case Log():
                return list(self.log)
            case IncrNow(n=n):
                self.value += n
                return self.value
            case NoteNow(sender=sender, n=n):
                self.log.append((sender, n))
                return None
        raise TypeError(f"unexpected {message!r}")


async def blocked(system: ActorSystem, key: ActorKey) -> tuple[asyncio.Event, asyncio.Future[Any]]:
    """Ask ``key`` a :class:`Block` and wait until its handler runs: the
    actor is busy until the returned event is set; the future is the ask."""
    release = asyncio.Event()
    block = Block(release)
    asked = asyncio.ensure_future(system.ask(key, block))
    await asyncio.wait_for(block.running.wait(), 2)
    return release, asked


def ckey(name: str) -> ActorKey:
    return ActorKey(Counter.kind, name)


class RecordingPlacement(LocalPlacement):
    """Records the leases; may refuse them; fails a second activation of a
    key while the first holds its lease (single activation)."""

    def __init__(self, *, refuse: bool = False) -> None:
        self.refuse = refuse
        self.held: set[ActorKey] = set()
        self.acquired: list[ActorKey] = []
        self.released: list[ActorKey] = []

    async def acquire(self, key: ActorKey) -> None:
        if self.refuse:
            raise RuntimeError("lease held elsewhere")
        assert key not in self.held, "two activations at once"
        self.held.add(key)
        self.acquired.append(key)

    async def release(self, key: ActorKey) -> None:
        self.held.discard(key)
        self.released.append(key)


MakeSystem = Callable[..., ActorSystem]


@pytest.fixture
async def make_system(counters: Counters) -> AsyncIterator[Callable[..., ActorSystem]]:
    """``make_system(probe, **options)``: an ActorSystem hosting counters; all
    are stopped at teardown."""
    systems: list[ActorSystem] = []

    def make(probe: Probe, **options: Any) -> ActorSystem:
        options.setdefault("idle_timeout", 60.0)
        options.setdefault("ask_timeout", 5.0)
        system = ActorSystem({Counter.kind: lambda key: Counter(key, counters, probe)}, **options)
        systems.append(system)
        return system

    yield make
    for system in systems:
        await system.stop(timeout=2.0)


async def eventually(condition: Callable[[], bool], timeout: float = 2.0) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.005)


def runtime_errors(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == RUNTIME_LOG and r.levelno >= logging.ERROR]


@pytest.fixture
def caplog_runtime(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.ERROR, logger=RUNTIME_LOG):
        yield caplog
