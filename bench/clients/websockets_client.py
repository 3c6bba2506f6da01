"""Client layer on the websockets asyncio client. Kept to measure how much a
heavier client costs the generator; not the default (see package docstring)."""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from bench.clients.base import FrameSink, WireConnection


class _Connection:
    def __init__(self, ws: ClientConnection, sink: FrameSink) -> None:
        self._ws = ws
        self._sink = sink
        self._outbox: deque[bytes | str] = deque()
        self._wake = asyncio.Event()
        self._closed = False
        loop = asyncio.get_running_loop()
        self._reader = loop.create_task(self._read())
        self._writer = loop.create_task(self._write())

    def send_binary(self, data: bytes) -> None:
        self._outbox.append(data)
        self._wake.set()

    def send_text(self, data: bytes) -> None:
        self._outbox.append(data.decode())
        self._wake.set()

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._writer.cancel()
            asyncio.get_running_loop().create_task(self._ws.close())

    @property
    def is_closed(self) -> bool:
        return self._closed

    async def _read(self) -> None:
        try:
            async for message in self._ws:
                if isinstance(message, str):
                    self._sink.on_frame(message.encode(), True)
                else:
                    self._sink.on_frame(message, False)
        except ConnectionClosed:
            pass
        finally:
            self._closed = True
            self._writer.cancel()
            self._sink.on_close()

    async def _write(self) -> None:
        # One writer per connection keeps send() synchronous for the caller.
        with contextlib.suppress(ConnectionClosed):
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._outbox:
                    await self._ws.send(self._outbox.popleft())


class WebsocketsClient:
    name = "websockets"

    async def connect(self, url: str, sink: FrameSink, timeout: float) -> WireConnection:
        ws = await connect(
            url,
            compression=None,
            open_timeout=timeout,
            max_size=1 << 20,
            ping_interval=None,
            max_queue=None,
        )
        return _Connection(ws, sink)
