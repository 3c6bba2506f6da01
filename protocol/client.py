"""The Python client SDK.

::

    client = Client()
    await client.connect("ws://127.0.0.1:8765")
    await client.request("auth.login", login="ada", password="...")
    async for event in client.events():
        ...

:meth:`Client.request` returns the reply's typed data or raises
:class:`GroverError` with the server's code. Pushed events arrive, in ``seq``
order and each exactly once, from :meth:`Client.events`; the entries of each
conversation (``message.new``) arrive once and in their log's order, without
holes (the server repairs them or makes the client re-sync). The SDK's own
de-duplication by event ``seq`` is only a defence. If the socket drops,
the client reconnects (with backoff) and resumes its session: events it missed
are replayed by the server. When the server cannot cover the gap the stream
yields a :class:`Resync` marker, after which the application must re-fetch its
state. Requests in flight when the socket dropped fail with
:class:`ConnectionLost`; retry them (mutations carry idempotency keys).

Several nodes: ``connect()`` also takes a list of URLs (the nodes of one
cluster, or one load balancer address). The client uses the first that
answers; after a drop it first tries the node it was on (only that node holds
the session, so only there can it resume), then the others in turn. On another
node the resume fails and the stream yields :class:`Resync`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator, Sequence
from typing import Any

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from protocol import codec
from protocol.catalog import EVENTS_BY_TYPE, REQUESTS_BY_TYPE
from protocol.errors import ErrorCode
from protocol.frames import ErrorFrame, Event, EventFrame, ReplyFrame, Request
from protocol.messages import accounts, session
from protocol.version import SUPPORTED_VERSIONS


class GroverError(Exception):
    """The server refused a request.

    ``code`` is the :class:`~protocol.errors.ErrorCode` member when this SDK
    knows the server's code. A code added by a newer server (adding codes is
    not an incompatible change) stays the string the server sent, so that it is
    neither lost nor an error of its own; since ``ErrorCode`` is a ``StrEnum``,
    ``error.code == ErrorCode.NOT_FOUND`` and ``error.code == "not_found"``
    both work either way.
    """

    def __init__(
        self, code: ErrorCode | str, message: str, retry_after: float | None = None
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code: ErrorCode | str = _known_code(code)
        self.message = message
        self.retry_after = retry_after


def _known_code(code: ErrorCode | str) -> ErrorCode | str:
    """``code`` as an :class:`ErrorCode` member, or unchanged if unknown."""
    try:
        return ErrorCode(code)
    except ValueError:
        return code


class ConnectionLost(Exception):
    """The socket closed before the reply arrived; the request may or may not
    have been applied."""

    def __init__(self, code: int | None = None, reason: str = "") -> None:
        super().__init__(f"connection lost (code {code}: {reason})")
        self.code = code
        self.reason = reason


class _EventTag(msgspec.Struct):
    """Only the ``type`` of an event; its other fields are skipped."""

    type: str = ""


class Resync(msgspec.Struct):
    """Marker in the event stream: events were lost; re-fetch state."""


TRANSIENT_CODES: frozenset[ErrorCode] = frozenset(
    {ErrorCode.TIMEOUT, ErrorCode.INTERNAL, ErrorCode.OVERLOADED, ErrorCode.RATE_LIMITED}
)
"""Error codes that may answer a ``hello`` while the server recovers (a node
taking over another's actors, Redis restarting): a reconnect retries them."""


class Client:
    def __init__(
        self,
        *,
        reconnect: bool = True,
        name: str = "grover-py",
        max_backoff: float = 5.0,
        request_timeout: float = 30.0,
    ) -> None:
        self.url = ""
        """The URL of the current (or last) connection."""
        self.urls: list[str] = []
        self.token: str | None = None
        self.session_id: str | None = None
        self.last_seq = 0
        self.welcome: session.Welcome | None = None
        self.close_code: int | None = None
        self._reconnect = reconnect
        self._name = name
        self._max_backoff = max_backoff
        self._timeout = request_timeout
        self._ws: ClientConnection | None = None
        self._next_id = 0
        self._pending: dict[int, tuple[type[Request], asyncio.Future[Any]]] = {}
        self._events: asyncio.Queue[Event | Resync] = asyncio.Queue()
        self._orphan_errors: asyncio.Queue[ErrorFrame] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._closed = False
        self._connected = asyncio.Event()

    # ---------------------------------------------------------------- connect

    async def connect(self, url: str | Sequence[str], token: str | None = None) -> session.Welcome:
        """Open the socket and say hello (logging in with ``token`` if given).

        ``url`` is one URL or several (nodes of one cluster): they are tried in
        order until one answers, and the error of the last is raised if none
        does. Reconnects rotate through the same list."""
        urls = [url] if isinstance(url, str) else list(url)
        if not urls:
            raise ValueError("connect() needs at least one URL")
        self.urls = urls
        self.token = token
        for index, candidate in enumerate(urls):
            self.url = candidate
            try:
                welcome = await self._open(resume=False)
                break
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError):
                if index == len(urls) - 1:
                    raise
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())
        return welcome

    async def _open(self, *, resume: bool) -> session.Welcome:
        ws = await connect(
            self.url, compression=None, max_size=None, open_timeout=10, ping_interval=None
        )
        self._ws = ws
        hello = session.Hello(
            id=self._take_id(),
            versions=sorted(SUPPORTED_VERSIONS),
            token=self.token,
            resume=session.Resume(session_id=self.session_id, last_seq=self.last_seq)
            if resume and self.session_id
            else None,
            client=self._name,
        )
        error: GroverError | None = None
        try:
            await ws.send(codec.encode_request(hello))
            # Bounded: a node that accepted the socket may never answer (it is
            # dying, or waits for an actor on a dead node).
            async with asyncio.timeout(self._timeout):
                while True:
                    frame = codec.decode_server_frame(await ws.recv(decode=False))
                    if isinstance(frame, ErrorFrame) and frame.id == hello.id:
                        error = GroverError(frame.code, frame.message, frame.retry_after)
                        break
                    if isinstance(frame, ReplyFrame) and frame.id == hello.id:
                        welcome = msgspec.msgpack.decode(frame.data, type=session.Welcome)
                        break
        except BaseException:
            ws.transport.abort()
            raise
        if error is not None:
            await ws.close()
            raise error
        if not welcome.resumed:
            if resume and self.session_id is not None:
                self._events.put_nowait(Resync())
            self.last_seq = 0
        self.session_id = welcome.session_id
        self.welcome = welcome
        self._connected.set()
        return welcome

    # --------------------------------------------------------------- requests

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id

    async def request(self, type: str, **fields: Any) -> Any:
        """Send a request of the catalog ``type`` and return its reply data.

        Raises :class:`GroverError` (the server's refusal), :class:`ConnectionLost`
        (also at once when the socket is down and no reconnect will come), or
        ``TimeoutError`` when neither the reply nor, while reconnecting, a new
        connection arrives within ``request_timeout``.
        """
        cls = REQUESTS_BY_TYPE.get(type)
        if cls is None:
            raise ValueError(f"unknown request type {type!r}")
        async with asyncio.timeout(self._timeout):
            await self._wait_connected()
            request = cls(id=self._take_id(), **fields)
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            self._pending[request.id] = (cls, future)
            try:
                ws = self._ws
                if ws is None:
                    raise ConnectionLost(None, "not connected")
                try:
                    await ws.send(codec.encode_request(request))
                except ConnectionClosed as exc:
                    code = exc.rcvd.code if exc.rcvd else None
                    raise ConnectionLost(code, "send failed") from None
                reply = await future
            finally:
                self._pending.pop(request.id, None)
        if isinstance(reply, accounts.AuthOk):
            self.token = reply.token
        elif issubclass(cls, accounts.Logout | accounts.LogoutAll):
            self.token = None
        return reply

    async def _wait_connected(self) -> None:
        """Wait for the socket, if a reconnect may bring it back."""
        if self._connected.is_set():
            return
        if self._closed or not self._reconnect or self._reader is None or self._reader.done():
            raise ConnectionLost(self.close_code, "not connected")
        await self._connected.wait()

    async def send_raw(self, data: bytes | str) -> None:
        """Send bytes as they are (for tests of malformed input)."""
        assert self._ws is not None
        await self._ws.send(data)

    async def recv_error(self, timeout: float = 5.0) -> ErrorFrame:
        """The next error frame that answered no pending request (tests)."""
        async with asyncio.timeout(timeout):
            return await self._orphan_errors.get()

    # ----------------------------------------------------------------- events

    async def events(self) -> AsyncIterator[Event | Resync]:
        """Pushed events in order, each once, across reconnects."""
        while True:
            yield await self._events.get()

    async def next_event(self, timeout: float = 5.0) -> Event | Resync:
        async with asyncio.timeout(timeout):
            return await self._events.get()

    def pending_events(self) -> int:
        return self._events.qsize()

    # ------------------------------------------------------------------ loop

    async def _read_loop(self) -> None:
        while not self._closed:
            ws = self._ws
            assert ws is not None
            try:
                async for raw in ws:
                    if isinstance(raw, bytes):
                        self._dispatch(codec.decode_server_frame(raw))
            except ConnectionClosed:
                pass
            self.close_code = ws.close_code
            self._connected.clear()
            self._fail_pending(ConnectionLost(ws.close_code, ws.close_reason or ""))
            if self._closed or not self._reconnect:
                return
            await self._reconnect_with_backoff()

    def _dispatch(self, frame: ReplyFrame | ErrorFrame | EventFrame) -> None:
        if isinstance(frame, EventFrame):
            if frame.seq <= self.last_seq:
                return  # a replay overlapping what we already have
            self.last_seq = frame.seq
            try:
                event = codec.decode_event(frame.event)
            except msgspec.ValidationError:
                # An event type newer than this SDK (adding one keeps the
                # protocol version): skip it rather than kill the read loop.
                # A known type that fails to decode is a server bug: raise.
                if msgspec.msgpack.decode(frame.event, type=_EventTag).type in EVENTS_BY_TYPE:
                    raise
                return
            self._events.put_nowait(event)
            return
        entry = self._pending.get(frame.id) if frame.id is not None else None
        if entry is None:
            if isinstance(frame, ErrorFrame):
                self._orphan_errors.put_nowait(frame)
            return
        cls, future = entry
        if future.done():
            return
        if isinstance(frame, ErrorFrame):
            future.set_exception(GroverError(frame.code, frame.message, frame.retry_after))
        else:
            future.set_result(codec.decode_reply_data(cls, frame.data))

    def _fail_pending(self, exc: Exception) -> None:
        for _, future in list(self._pending.values()):
            if not future.done():
                future.set_exception(exc)

    async def _reconnect_with_backoff(self) -> None:
        """Reconnect until it works: the current URL first, then the next ones
        in turn, with jittered exponential backoff between attempts. Gives up
        (the read loop ends, requests raise :class:`ConnectionLost`) only on a
        refusal that retrying cannot change, such as an unsupported version."""
        delay = 0.05
        while not self._closed:
            try:
                await self._open(resume=True)
                return
            except (OSError, ConnectionClosed, InvalidStatus, TimeoutError):
                pass
            except GroverError as exc:
                if exc.code in (ErrorCode.INVALID_TOKEN, ErrorCode.TOKEN_EXPIRED):
                    self.token = None  # carry on logged out; the app will see it
                    continue
                if exc.code not in TRANSIENT_CODES:
                    raise
            if len(self.urls) > 1:
                self.url = self.urls[(self.urls.index(self.url) + 1) % len(self.urls)]
            await asyncio.sleep(delay * (0.5 + random.random()))
            delay = min(delay * 2, self._max_backoff)

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader

    async def drop(self) -> None:
        """Abort the socket without a close handshake, as a lost network would
        (tests). The client then reconnects and resumes if it may."""
        if self._ws is not None:
            self._ws.transport.abort()


__all__ = ["Client", "ConnectionLost", "GroverError", "Resync"]
