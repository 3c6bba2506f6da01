"""What the gateway's transport must do at the websocket level, whichever
library provides it (``server/gateway/transport/``): reassemble fragments,
bound messages, refuse broken frames with the RFC's close codes, answer a
client's close, and cut off a peer that stops answering pings.

Run on the default transport by ``pytest``; ``make test`` runs this file
and the gateway's suites again with ``GROVER_TRANSPORT=picows``.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import struct

import msgspec
import pytest

from protocol import codec, limits
from protocol.errors import CloseCode, ErrorCode
from protocol.frames import ErrorFrame, ReplyFrame
from protocol.messages import session as wire_session
from protocol.version import PROTOCOL_VERSION
from server.app import Grover
from tests.conftest import StartGrover
from tests.test_gateway import (
    RawConnect,
    closed_with,
    raw_connect,
    raw_hello,
    recv_frame,
    snapshot,
)

__all__ = ["raw_connect"]  # the fixture, used by the tests below

OP_CONTINUATION, OP_TEXT, OP_BINARY, OP_CLOSE = 0x0, 0x1, 0x2, 0x8


def client_frame(opcode: int, payload: bytes, *, fin: bool = True) -> bytes:
    """A masked client frame (RFC 6455 §5.2), written by hand so that a test
    can send what a well-behaved client library refuses to."""
    first = (0x80 if fin else 0) | opcode
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", first, 0x80 | size)
    elif size < 65536:
        header = struct.pack("!BBH", first, 0x80 | 126, size)
    else:
        header = struct.pack("!BBQ", first, 0x80 | 127, size)
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


def hello_bytes(request_id: int = 1) -> bytes:
    return codec.encode_request(
        wire_session.Hello(id=request_id, versions=[PROTOCOL_VERSION], client="transport-test")
    )


async def test_a_fragmented_message_is_one_request(grover: Grover, raw_connect: RawConnect) -> None:
    ws = await raw_connect()
    hello = hello_bytes()
    await ws.send([hello[:3], hello[3:10], hello[10:]])
    reply = await recv_frame(ws)
    assert isinstance(reply, ReplyFrame) and reply.id == 1
    welcome = msgspec.msgpack.decode(reply.data, type=wire_session.Welcome)
    assert welcome.session_id


async def test_fragments_over_the_message_limit_close_1009(
    grover: Grover, raw_connect: RawConnect
) -> None:
    ws = await raw_connect()
    await raw_hello(ws)
    before = await snapshot(grover)
    half = b"\xc1" * (limits.MAX_FRAME_BYTES // 2 + 1)
    ws.transport.write(client_frame(OP_BINARY, half, fin=False))
    ws.transport.write(client_frame(OP_CONTINUATION, half, fin=True))
    assert await closed_with(ws) == CloseCode.MESSAGE_TOO_BIG
    assert await snapshot(grover) == before


async def test_a_frame_over_the_limit_is_not_an_error_in_the_servers_log(
    raw_connect: RawConnect, caplog: pytest.LogCaptureFixture
) -> None:
    """The client broke the rules and got its 1009; a line at ERROR per such
    frame would let any client fill the error log (the fuzzer checks it)."""
    ws = await raw_connect()
    await raw_hello(ws)
    with caplog.at_level(logging.DEBUG):
        ws.transport.write(client_frame(OP_BINARY, b"\xc1" * (limits.MAX_FRAME_BYTES + 100)))
        assert await closed_with(ws) == CloseCode.MESSAGE_TOO_BIG
        await asyncio.sleep(0.1)
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_a_text_message_gets_bad_frame_and_the_socket_stays(
    raw_connect: RawConnect,
) -> None:
    ws = await raw_connect()
    await raw_hello(ws)
    await ws.send("hello as text")
    error = await recv_frame(ws)
    assert isinstance(error, ErrorFrame) and error.code == ErrorCode.BAD_FRAME
    await ws.send(codec.encode_request(wire_session.Ping(id=2)))
    pong = await recv_frame(ws)
    assert isinstance(pong, ReplyFrame) and pong.id == 2


BROKEN = {
    "text that is not UTF-8": ([(OP_TEXT, b"\xff\xfe not utf-8", True)], 1007),
    "a continuation with nothing to continue": ([(OP_CONTINUATION, b"orphan", True)], 1002),
    "a new message inside a fragmented one": (
        [(OP_BINARY, b"\x81", False), (OP_BINARY, b"\x81", True)],
        1002,
    ),
}
"""Frame sequences a client library would refuse to send, and the RFC 6455
close code each must get."""


@pytest.mark.parametrize("name", BROKEN)
async def test_broken_frames_close_with_the_rfc_code(name: str, raw_connect: RawConnect) -> None:
    frames, code = BROKEN[name]
    ws = await raw_connect()
    await raw_hello(ws)
    for opcode, payload, fin in frames:
        ws.transport.write(client_frame(opcode, payload, fin=fin))
    assert await closed_with(ws) == code


async def test_the_clients_close_is_answered_and_counted(
    grover: Grover, raw_connect: RawConnect
) -> None:
    ws = await raw_connect()
    await raw_hello(ws)
    await asyncio.wait_for(ws.close(4321, "done here"), 5)
    assert ws.close_code == 4321  # the server echoed the client's code
    metrics = grover.metrics
    assert metrics is not None
    for _ in range(100):
        if metrics.closes.values.get(("4321",)) == 1:
            break
        await asyncio.sleep(0.02)
    assert metrics.closes.values.get(("4321",)) == 1


async def test_a_peer_that_stops_answering_pings_is_cut_off(start_grover: StartGrover) -> None:
    grover = await start_grover(heartbeat_interval=0.2)
    reader, writer = await asyncio.open_connection("127.0.0.1", grover.gateway.port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    status = await asyncio.wait_for(reader.readline(), 5)
    assert b" 101 " in status
    writer.write(client_frame(OP_BINARY, hello_bytes()))
    # Read (and never answer) whatever comes: the welcome, then pings.
    async with asyncio.timeout(5):
        while await reader.read(4096):
            pass
    # The server ended the TCP connection (EOF) well before the 5 s bound.
    assert reader.at_eof()
    writer.close()
