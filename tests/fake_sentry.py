"""A local stand-in for Sentry's ingestion endpoint: an aiohttp app on
127.0.0.1 that takes envelopes at ``/api/<project>/envelope/`` (gzip or
plain), keeps each one's raw (decompressed) bytes, and parses its items so
tests can look at the events and transactions that arrived."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class Envelope:
    raw: bytes
    """As received, decompressed: what a test greps for secrets."""
    header: dict[str, Any]
    items: list[tuple[dict[str, Any], bytes]]


def parse_envelope(raw: bytes) -> Envelope:
    """Split an envelope: a JSON header line, then items, each a JSON header
    line and a payload of ``length`` bytes (or up to the next newline)."""
    end = raw.find(b"\n")
    end = len(raw) if end < 0 else end
    header = json.loads(raw[:end])
    items: list[tuple[dict[str, Any], bytes]] = []
    pos = end + 1
    while pos < len(raw):
        end = raw.find(b"\n", pos)
        end = len(raw) if end < 0 else end
        line = raw[pos:end].strip()
        pos = end + 1
        if not line:
            continue
        item_header = json.loads(line)
        length = item_header.get("length")
        if length is None:
            end = raw.find(b"\n", pos)
            end = len(raw) if end < 0 else end
            payload, pos = raw[pos:end], end + 1
        else:
            payload, pos = raw[pos : pos + length], pos + length
            if raw[pos : pos + 1] == b"\n":
                pos += 1
        items.append((item_header, payload))
    return Envelope(raw, header, items)


def _decompress(body: bytes) -> bytes:
    """aiohttp already decodes a declared ``Content-Encoding``; an envelope
    still compressed is recognised by its magic bytes."""
    if body[:2] == b"\x1f\x8b":
        return gzip.decompress(body)
    if body[:1] == b"\x78":
        return zlib.decompress(body)
    return body


@dataclass
class FakeSentry:
    envelopes: list[Envelope] = field(default_factory=list)
    port: int = 0
    _runner: web.AppRunner | None = None
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def dsn(self) -> str:
        return f"http://public@127.0.0.1:{self.port}/1"

    def items(self, kind: str) -> list[dict[str, Any]]:
        """Payloads of the items of type ``kind`` (``event``, ``transaction``)."""
        return [
            json.loads(payload)
            for envelope in self.envelopes
            for header, payload in envelope.items
            if header.get("type") == kind
        ]

    @property
    def events(self) -> list[dict[str, Any]]:
        return self.items("event")

    @property
    def transactions(self) -> list[dict[str, Any]]:
        return self.items("transaction")

    @property
    def raw(self) -> bytes:
        return b"\n".join(envelope.raw for envelope in self.envelopes)

    async def wait_for(self, kind: str, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``count`` items of ``kind`` have arrived."""
        async with asyncio.timeout(timeout):
            while len(self.items(kind)) < count:
                self._arrived.clear()
                await self._arrived.wait()

    async def _envelope(self, request: web.Request) -> web.Response:
        body = _decompress(await request.read())
        self.envelopes.append(parse_envelope(body))
        self._arrived.set()
        return web.json_response({"id": self.envelopes[-1].header.get("event_id")})

    async def start(self) -> FakeSentry:
        app = web.Application(client_max_size=20 * 1024 * 1024)
        app.router.add_post("/api/{project}/envelope/", self._envelope)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
