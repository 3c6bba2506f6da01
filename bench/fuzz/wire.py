"""Fuzz frames against a real server: :class:`FuzzSession` is one raw
websocket in a chosen state (no ``hello`` yet, logged out, or logged in with
a direct and a group conversation of its own) that fires frames one at a time
and judges each answer; :class:`Tally` counts what came back."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections import Counter
from dataclasses import dataclass, field
from itertools import count
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from bench.fuzz.frames import Fuzzed
from protocol import codec
from protocol.errors import CloseCode, ErrorCode
from protocol.frames import ErrorFrame, EventFrame, ReplyFrame, Request
from protocol.messages import accounts, messaging
from protocol.messages import session as wire
from protocol.version import PROTOCOL_VERSION

MODES = ("no_hello", "logged_out", "logged_in")
"""The states a session fires from."""

ERROR_CODES = frozenset(code.value for code in ErrorCode)
CLOSE_CODES = frozenset(int(code) for code in CloseCode)
"""Every close code the protocol documents (1008 after too many bad frames,
1009 for a frame over the limit, 4002 after a hello with no common version...)."""

_names = count(1)
_RUN = secrets.token_hex(3)


@dataclass
class Tally:
    frames: int = 0
    answers: Counter[str] = field(default_factory=Counter)
    """``reply``, ``error:<code>``, ``closed:<code>``; events are counted apart."""
    events: int = 0
    closes: Counter[int] = field(default_factory=Counter)
    connections: int = 0
    failure_count: int = 0
    failures: list[str] = field(default_factory=list)
    """The first few failures, each with its frame as hex."""

    def fail(self, text: str, keep: int = 20) -> None:
        self.failure_count += 1
        if len(self.failures) < keep:
            self.failures.append(text)


class SetupFailed(Exception):
    """A session could not get into its state (the server refused or died)."""


class FuzzSession:
    """One raw websocket to Grover, in one of :data:`MODES`."""

    def __init__(
        self,
        url: str,
        mode: str,
        tally: Tally,
        *,
        peer_id: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        if not url.startswith("ws://127.0.0.1:"):
            raise ValueError("fuzzing talks to ws://127.0.0.1 only")
        self.url = url
        self.mode = mode
        self.tally = tally
        self.peer_id = peer_id
        self.timeout = timeout
        self.ws: ClientConnection | None = None
        self.next_id = 1
        self.known_ids: list[str] = []
        self.user_id: str | None = None
        self.closed = False

    async def open(self) -> None:
        async with asyncio.timeout(self.timeout):
            self.ws = await ws_connect(
                self.url, compression=None, max_size=None, ping_interval=None
            )
        self.tally.connections += 1
        if self.mode == "no_hello":
            return
        await self.call(wire.Hello(id=0, versions=[PROTOCOL_VERSION], client="grover-fuzz"))
        if self.mode != "logged_in":
            return
        name = f"fz{_RUN}_{next(_names)}"
        auth = await self.call(
            accounts.Register(
                id=0, username=name, email=f"{name}@fuzz.invalid", password="fuzz-password-1"
            )
        )
        assert isinstance(auth, accounts.AuthOk)
        self.user_id = auth.user.id
        self.known_ids = [auth.user.id]
        if self.peer_id is None:
            return
        self.known_ids.append(self.peer_id)
        direct = await self.call(messaging.OpenDirect(id=0, user_id=self.peer_id))
        group = await self.call(
            messaging.CreateGroup(id=0, title="fuzz", member_ids=[self.peer_id])
        )
        assert isinstance(direct, messaging.ConversationView)
        assert isinstance(group, messaging.ConversationView)
        self.known_ids += [direct.id, group.id]
        await self.call(
            messaging.SendMessage(id=0, conversation_id=direct.id, client_key="k", text="hi")
        )

    async def call(self, request: Request) -> Any:
        """Send a well-formed request and return its reply's data."""
        request.id = self.take_id()
        ws = self._ws()
        try:
            await ws.send(codec.encode_request(request))
            async with asyncio.timeout(self.timeout):
                while True:
                    frame = codec.decode_server_frame(await ws.recv(decode=False))
                    if isinstance(frame, ReplyFrame) and frame.id == request.id:
                        return codec.decode_reply_data(type(request), frame.data)
                    if isinstance(frame, ErrorFrame):
                        raise SetupFailed(f"{type(request).__name__}: {frame.code} {frame.message}")
        except (ConnectionClosed, TimeoutError, msgspec.DecodeError) as exc:
            raise SetupFailed(f"{type(request).__name__}: {type(exc).__name__} {exc}") from exc

    def take_id(self) -> int:
        rid = self.next_id
        self.next_id += 1
        return rid

    def _ws(self) -> ClientConnection:
        if self.ws is None:
            raise RuntimeError("open() first")
        return self.ws

    async def fire(self, fuzzed: Fuzzed, as_text: bool = False) -> str:
        """Send one frame and wait for its answer: ``reply``, ``error:<code>``,
        or ``closed:<code>`` when the server closed the connection. Anything
        else (an undecodable frame, an unknown error code, ``internal``, an
        undocumented close code, no answer in time) is counted as a failure
        in the tally, with the frame."""
        ws = self._ws()
        self.tally.frames += 1
        outcome = self._judge(await self._exchange(ws, fuzzed, as_text), fuzzed, as_text)
        self.tally.answers[outcome] += 1
        return outcome

    async def _exchange(self, ws: ClientConnection, fuzzed: Fuzzed, as_text: bool) -> str:
        try:
            await ws.send(fuzzed.data.decode("utf-8", "replace") if as_text else fuzzed.data)
            async with asyncio.timeout(self.timeout):
                while True:
                    raw = await ws.recv(decode=False)
                    try:
                        frame = codec.decode_server_frame(raw)
                    except msgspec.DecodeError:
                        return f"undecodable server frame {raw[:100]!r}"
                    if isinstance(frame, EventFrame):
                        self.tally.events += 1
                        continue
                    if isinstance(frame, ReplyFrame):
                        return "reply"
                    return f"error:{frame.code}"
        except ConnectionClosed:
            self.closed = True
            code = ws.close_code
            self.tally.closes[code or 0] += 1
            return f"closed:{code}"
        except TimeoutError:
            self.closed = True
            return f"no answer within {self.timeout}s"

    def _judge(self, outcome: str, fuzzed: Fuzzed, as_text: bool) -> str:
        kind, _, detail = outcome.partition(":")
        if kind == "reply":
            return outcome
        if kind == "error" and detail in ERROR_CODES and detail != ErrorCode.INTERNAL:
            return outcome
        if kind == "closed" and detail.isdigit() and int(detail) in CLOSE_CODES:
            return outcome
        self.tally.fail(
            f"{outcome} (mode {self.mode}{', as text' if as_text else ''}): {fuzzed.describe()}"
        )
        return "failure"

    async def close(self) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(2.0):
                    await self.ws.close()
            self.ws.transport.abort()


async def register_peer(url: str, tally: Tally) -> str:
    """A logged-in account for fuzzed sessions to open conversations with."""
    session = FuzzSession(url, "logged_in", tally)
    try:
        await session.open()
        assert session.user_id is not None
        return session.user_id
    finally:
        await session.close()


async def still_serves(url: str, tally: Tally) -> bool:
    """A fresh connection gets a welcome and a pong."""
    session = FuzzSession(url, "logged_out", tally)
    try:
        await session.open()
        pong = await session.call(wire.Ping(id=0))
        return isinstance(pong, wire.Pong) and pong.server_time > 0
    except (SetupFailed, OSError, TimeoutError):
        return False
    finally:
        await session.close()
