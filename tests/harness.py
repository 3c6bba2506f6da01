"""A node without sockets, for handler and delivery tests: a real SQLite
store, a real actor system and real sessions, built by ``server.wiring`` as a
node builds them. A caller is a session; what is pushed to it is read back
from its resume buffer."""

from __future__ import annotations

import contextlib
import itertools
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from actors.ids import ActorKey
from actors.store import Store
from protocol import frames
from protocol.codec import decode_event, decode_request
from protocol.messages import accounts
from server.config import RateRule, Settings
from server.context import Caller, Services, session_ended
from server.gateway.sessions import Session, SessionRegistry
from server.handlers import HANDLERS
from server.wiring import (
    make_actor_system,
    make_directory,
    make_log_reader,
    make_services,
    make_store,
)

_ids = itertools.count(1)


def next_id() -> int:
    return next(_ids)


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
        # `GROVER_TRANSPORT=picows pytest ...` runs a suite on the other
        # transport (the Makefile does, for the gateway's suites).
        "transport": os.environ.get("GROVER_TRANSPORT", "websockets"),
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Node:
    services: Services
    sessions: SessionRegistry
    store: Store

    def caller(self) -> Caller:
        return Caller(self.sessions.create(), "127.0.0.1", self.services.actors)

    async def call(self, caller: Caller, request_type: type[Any], **fields: Any) -> Any:
        request = request_type(id=next(_ids), **fields)
        return await HANDLERS[request_type](self.services, caller, request)

    async def send(self, caller: Caller, request_type: type[Any], **fields: Any) -> Any:
        """As :meth:`call`, but through the wire: the fields are msgpack-encoded
        and decoded as the gateway decodes a frame, so the protocol's bounds
        apply (``invalid_field``)."""
        tag = request_type.__struct_config__.tag
        frame = msgspec.msgpack.encode({"type": tag, "id": next(_ids), **fields})
        request = decode_request(frame)
        return await HANDLERS[type(request)](self.services, caller, request)

    async def user(self, name: str | None = None) -> Caller:
        """A logged-in caller for a fresh account."""
        caller = self.caller()
        name = name or f"u{next(_ids)}"
        await self.call(
            caller, accounts.Register, username=name, email=f"{name}@example.com", password="x" * 8
        )
        return caller

    def actor(self, key: ActorKey) -> Any:
        return self.services.actors._activations[key].actor  # white-box: hot state


@contextlib.asynccontextmanager
async def open_node(
    tmp_path: Path, store: Store | None = None, **overrides: Any
) -> AsyncIterator[Node]:
    """A node without sockets; ``overrides`` are settings. ``store`` (opened
    and closed by the caller) replaces the node's own SQLite file."""
    settings = make_settings(tmp_path, **overrides)
    own_store = store is None
    if store is None:
        store = make_store(data_dir=tmp_path, mongo_url=None)
        await store.open()
    sessions = SessionRegistry(
        settings.node,
        buffer_size=1000,
        resume_ttl=60.0,
        on_expire=lambda session: session_ended(actors, session),
        read_log=make_log_reader(store),
    )
    directory = make_directory(None)
    actors = make_actor_system(settings, store, sessions, None, directory)
    services = make_services(settings, store, actors, None, directory)
    try:
        yield Node(services, sessions, store)
    finally:
        await services.fanout.stop()
        await actors.stop()
        await sessions.stop()
        await services.payments.close()
        if own_store:
            await store.close()


def events(caller: Caller | Session) -> list[Any]:
    """Events pushed to a session so far (from its resume buffer)."""
    session = caller.session if isinstance(caller, Caller) else caller
    return [
        decode_event(msgspec.msgpack.decode(frame, type=frames.EventFrame).event)
        for frame in session.frames()
    ]
