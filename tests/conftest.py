"""Shared fixtures: in-process Grover nodes on free ports with a real SQLite
file, SDK clients, and a private redis-server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from protocol.client import Client
from server.app import Grover
from server.config import RateRule, Settings
from tests.support import RedisServer

StartGrover = Callable[..., Awaitable[Grover]]
Connect = Callable[..., Awaitable[Client]]


def make_settings(data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": 0,
        "sidecar_port": 0,
        "data_dir": data_dir,
        "node_id": "test-node",
        "argon2_time_cost": 1,
        "argon2_memory_kib": 1024,
        "log_level": "WARNING",
        # Tests sign up many accounts from 127.0.0.1; the sign-up limit has
        # tests of its own, which set it.
        "rate_register": RateRule(1000, 1000),
    }
    values.update(overrides)
    return Settings(**values)


def ws_url(grover: Grover) -> str:
    return f"ws://127.0.0.1:{grover.gateway.port}"


@pytest.fixture
async def start_grover(tmp_path: Path) -> AsyncIterator[StartGrover]:
    """Start in-process nodes with settings overrides; all stop at teardown."""
    started: list[Grover] = []

    async def start(**overrides: Any) -> Grover:
        data_dir = overrides.pop("data_dir", tmp_path / f"node{len(started)}")
        grover = Grover(make_settings(data_dir, **overrides))
        await grover.start()
        started.append(grover)
        return grover

    yield start
    for grover in reversed(started):
        await grover.stop()


@pytest.fixture
async def grover(start_grover: StartGrover) -> Grover:
    return await start_grover()


@pytest.fixture
async def connect(grover: Grover) -> AsyncIterator[Connect]:
    """Connected SDK clients for ``grover``; closed at teardown."""
    clients: list[Client] = []

    async def make(token: str | None = None, **options: Any) -> Client:
        client = Client(**options)
        await client.connect(ws_url(grover), token=token)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.close()


_user_counter = iter(range(1, 10**9))


def unique_name(prefix: str = "user") -> str:
    return f"{prefix}{next(_user_counter)}"


async def register(client: Client, name: str | None = None, password: str = "correct horse") -> Any:
    """Register a fresh account on ``client``; returns the ``AuthOk`` reply."""
    name = name or unique_name()
    return await client.request(
        "auth.register", username=name, email=f"{name}@example.com", password=password
    )


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A private redis-server for the whole run, on its own port."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()
