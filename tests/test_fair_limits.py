"""Limits that are fair and safe to obey: ``retry_after`` is never shorter than
the real wait, a client that waits it out is never closed, one that ignores it
is; connections are capped per IP and per node; sign-ups are limited per IP;
a locked account says so. Real sockets and a real SQLite file throughout."""

from __future__ import annotations

import asyncio
import random
import resource
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus

from protocol.client import Client, GroverError
from protocol.errors import CloseCode, ErrorCode
from protocol.frames import ErrorFrame
from server.config import RateRule
from server.gateway.server import FD_RESERVE, connection_cap
from server.ratelimit import retry_after
from tests.conftest import StartGrover, register, unique_name, ws_url
from tests.test_gateway import (
    RawConnect,
    assert_refused_for_this_ip,
    frame,
    raw_connect,
    raw_hello,
    recv_frame,
    snapshot,
    wait_for,
)

__all__ = ["raw_connect"]  # the fixture, used by the tests below

PASSWORD = "correct horse"


# ------------------------------------------------------------- retry_after


def test_retry_after_is_rounded_up_to_the_millisecond() -> None:
    assert retry_after(0.0001) == 0.001  # nearest would say 0: come back now
    assert retry_after(0.0004999) == 0.001
    assert retry_after(0.0011) == 0.002  # nearest would say 0.001: too early
    assert retry_after(0.25) == 0.25
    rng = random.Random(9)
    for _ in range(10_000):
        wait = rng.uniform(1e-7, 5.0)
        announced = retry_after(wait)
        assert announced >= wait and announced > 0
        assert announced - wait < 0.001 + 1e-9


async def test_a_sub_millisecond_wait_is_announced_as_a_positive_retry_after(
    start_grover: StartGrover, raw_connect: RawConnect
) -> None:
    # A token every 0.1 ms: the wait of the second of two pipelined pings is
    # well under half a millisecond.
    node = await start_grover(rate_request=RateRule(10_000, 1))
    ws = await raw_connect(node)
    await raw_hello(ws)
    await ws.send(frame(type="ping", id=2))
    await ws.send(frame(type="ping", id=3))
    answers: dict[int | None, Any] = {}
    for _ in range(2):
        got = await recv_frame(ws)
        answers[got.id] = got
    refused = answers[3]
    assert isinstance(refused, ErrorFrame) and refused.code == ErrorCode.RATE_LIMITED
    assert refused.retry_after is not None and refused.retry_after >= 0.001


async def test_a_client_that_waits_retry_after_is_never_closed(
    start_grover: StartGrover,
) -> None:
    # Strikes never refill here: before the fix every refusal was one, and
    # the fourth closed the connection.
    # A token every 10 ms, far longer than a round trip: about every other
    # ping is refused.
    node = await start_grover(rate_request=RateRule(100, 1), abuse_strikes=RateRule(0.001, 3))
    client = Client(reconnect=False)
    await client.connect(ws_url(node))
    try:
        await register(client)
        served = refused = 0
        while served < 60:
            try:
                await client.request("ping")
                served += 1
            except GroverError as exc:
                assert exc.code == ErrorCode.RATE_LIMITED
                assert exc.retry_after is not None and exc.retry_after > 0
                refused += 1
                await asyncio.sleep(exc.retry_after)
        assert refused > 3  # the limit really was hit, more often than strikes allow
        assert client.close_code is None
    finally:
        await client.close()


async def test_a_client_that_ignores_retry_after_is_closed_1008(
    start_grover: StartGrover,
) -> None:
    # Nothing refills during the test: one token, then 100 s per token.
    node = await start_grover(rate_request=RateRule(0.01, 1), abuse_strikes=RateRule(0.001, 3))
    client = Client(reconnect=False)
    await client.connect(ws_url(node))
    try:
        await register(client)
        refusals = 0
        for _ in range(20):
            try:
                await client.request("user.search", query="x")
            except GroverError as exc:
                assert exc.code == ErrorCode.RATE_LIMITED
                refusals += 1
            except Exception:
                break  # closed
        await wait_for(lambda: client.close_code is not None)
        assert client.close_code == CloseCode.POLICY_VIOLATION
        # The first refusal announced the wait; the ones that ignored it are
        # the strikes (a burst of 3, then the 4th closes).
        assert refusals == 1 + 4
    finally:
        await client.close()


# ------------------------------------------------------------ connections


async def test_connections_per_ip_are_capped_with_http_429(
    start_grover: StartGrover, raw_connect: RawConnect
) -> None:
    node = await start_grover(max_connections_per_ip=3)
    opened = [await raw_connect(node) for _ in range(3)]
    await assert_refused_for_this_ip(node, raw_connect)
    # A slot frees up when a connection goes away.
    await opened[0].close()
    await wait_for(lambda: len(node.gateway.connections) == 2)
    await raw_hello(await raw_connect(node))


async def test_the_node_refuses_websockets_beyond_its_cap_with_http_503(
    start_grover: StartGrover, raw_connect: RawConnect
) -> None:
    node = await start_grover(max_connections=2)
    assert node.gateway.max_connections == 2
    for _ in range(2):
        await raw_connect(node)
    with pytest.raises(InvalidStatus) as refused:
        await raw_connect(node)
    assert refused.value.response.status_code == 503
    # Health checks are plain HTTP on the sidecar and still answered.
    reader, writer = await asyncio.open_connection("127.0.0.1", node.sidecar_port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    status = await reader.readline()
    writer.close()
    assert status.startswith(b"HTTP/1.1 200")


def test_the_connection_cap_stays_below_the_open_file_limit() -> None:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    assert soft != resource.RLIM_INFINITY  # the test machine has a limit
    assert connection_cap(0) == soft - FD_RESERVE
    assert connection_cap(soft * 10) == soft - FD_RESERVE
    assert connection_cap(5) == 5


# --------------------------------------------------------------- accounts


async def test_sign_ups_are_limited_per_ip(start_grover: StartGrover) -> None:
    node = await start_grover(rate_register=RateRule(0.001, 2))
    clients = [Client() for _ in range(3)]
    try:
        for client in clients:
            await client.connect(ws_url(node))
        taken = unique_name()
        await register(clients[0], taken)
        # A refused attempt costs a hash too, so it counts.
        with pytest.raises(GroverError) as conflict:
            await register(clients[1], taken)
        assert conflict.value.code in (ErrorCode.USERNAME_TAKEN, ErrorCode.EMAIL_TAKEN)
        before = await snapshot(node)
        with pytest.raises(GroverError) as limited:
            await register(clients[2])
        assert limited.value.code == ErrorCode.RATE_LIMITED
        assert limited.value.retry_after is not None and limited.value.retry_after > 0
        assert await snapshot(node) == before
    finally:
        for client in clients:
            await client.close()


async def test_a_locked_account_says_so_and_never_answers_invalid_credentials(
    start_grover: StartGrover,
) -> None:
    node = await start_grover(
        rate_login_account=RateRule(0.001, 2), rate_login_ip=RateRule(1000, 1000)
    )
    owner, guesser = Client(), Client()
    try:
        await owner.connect(ws_url(node))
        await guesser.connect(ws_url(node))
        name = unique_name()
        await register(owner, name)
        for i in range(2):
            with pytest.raises(GroverError) as wrong:
                await guesser.request("auth.login", login=name, password=f"guess {i}")
            assert wrong.value.code == ErrorCode.INVALID_CREDENTIALS
        # Locked now: wrong and right passwords alike get the lock, not a verdict.
        for password in ("guess again", PASSWORD):
            with pytest.raises(GroverError) as locked:
                await guesser.request("auth.login", login=name, password=password)
            assert locked.value.code == ErrorCode.RATE_LIMITED
            assert "account is temporarily locked" in locked.value.message
            assert locked.value.retry_after is not None and locked.value.retry_after > 0
    finally:
        await owner.close()
        await guesser.close()
