"""Sentry reporting: real in-process nodes with a DSN pointing at a local fake
Sentry (:mod:`tests.fake_sentry`), SDK clients over real sockets, and what
arrives checked byte for byte for secrets.

Each node stops with its Sentry client closed and uninstalled (the SDK is
process-global): every test ends by checking that none is left active."""

from __future__ import annotations

import asyncio
import logging
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk

from protocol.client import Client, GroverError
from protocol.messages.messaging import SendMessage
from server.app import Grover
from server.context import Caller, Services
from server.media_storage.local import media_dir
from server.observability.sentry import FILTERED, RELEASE, scrub, scrub_text
from tests.conftest import StartGrover, unique_name, ws_url
from tests.fake_sentry import FakeSentry
from tests.test_media_upload import jpeg_bytes, login, upload

PASSWORD = "hunter2-correct-horse-battery"
TEXT = "the secret plan is at dawn"


@pytest.fixture
async def fake_sentry() -> AsyncIterator[FakeSentry]:
    fake = await FakeSentry().start()
    yield fake
    await fake.stop()


@pytest.fixture(autouse=True)
def no_client_left(caplog: pytest.LogCaptureFixture) -> Any:
    """INFO records become breadcrumbs, which must be scrubbed too; and after
    the test (its nodes stopped) no Sentry client may remain installed."""
    caplog.set_level(logging.INFO)
    yield
    assert not sentry_sdk.get_client().is_active()


async def flush() -> None:
    await asyncio.to_thread(sentry_sdk.flush, 5.0)


async def signed_up(grover: Grover, email: str | None = None) -> tuple[Client, Any]:
    client = Client()
    await client.connect(ws_url(grover))
    name = unique_name()
    reply = await client.request(
        "auth.register", username=name, email=email or f"{name}@example.com", password=PASSWORD
    )
    return client, reply


def assert_clean(raw: bytes, *secrets: str) -> None:
    for secret in (PASSWORD, TEXT, *secrets):
        assert secret.encode() not in raw, secret


async def test_a_failing_handler_is_one_event_with_tags_and_no_secrets(
    start_grover: StartGrover, fake_sentry: FakeSentry
) -> None:
    grover = await start_grover(sentry_dsn=fake_sentry.dsn, node_id="sentry-a")
    # No handler of ours fails on purpose, so this node's table (the Gateway
    # takes it) gets one that sends the message for real and then fails with
    # everything that must not leak in its exception message.
    real = grover.gateway.handlers[SendMessage]

    async def broken(services: Services, caller: Caller, request: Any) -> Any:
        await real(services, caller, request)
        raise RuntimeError(f"bug after {request!r}, {email}, Authorization: Bearer {token}")

    grover.gateway.handlers = {**grover.gateway.handlers, SendMessage: broken}
    email = f"{unique_name('alice')}@example.org"
    alice, auth = await signed_up(grover, email)
    token = str(auth.token)
    bob, bob_auth = await signed_up(grover)
    group = await alice.request(
        "conversation.create_group", title="g", member_ids=[bob_auth.user.id]
    )
    with pytest.raises(GroverError) as refused:
        await alice.request("message.send", conversation_id=group.id, client_key="k1", text=TEXT)
    assert refused.value.code == "internal"
    await fake_sentry.wait_for("event")
    await flush()
    [event] = fake_sentry.events
    tags = event["tags"]
    assert tags["request_type"] == "message.send"
    assert tags["node"] == "sentry-a"
    assert tags["release"] == RELEASE and event["release"] == RELEASE
    assert tags["user"] == auth.user.id
    assert tags["actor"] == f"conversation:{group.id}"
    assert tags["session"] and tags["request"].isdigit()
    [exception] = event["exception"]["values"]
    assert exception["type"] == "RuntimeError"
    assert "[email]" in exception["value"] and FILTERED in exception["value"]
    assert all("vars" not in frame for frame in exception["stacktrace"]["frames"])
    assert_clean(fake_sentry.raw, email, token)
    await alice.close()
    await bob.close()


async def test_an_actor_failure_is_reported_with_its_key(
    start_grover: StartGrover, fake_sentry: FakeSentry, tmp_path: Path
) -> None:
    """A real failure path: a conversation row the store cannot read (written
    by hand while the node was down) makes the actor's activation fail."""
    data_dir = tmp_path / "corrupt"
    first = await start_grover(data_dir=data_dir)
    alice, auth = await signed_up(first)
    bob, bob_auth = await signed_up(first)
    group = await alice.request(
        "conversation.create_group", title="g", member_ids=[bob_auth.user.id]
    )
    await alice.close()
    await bob.close()
    await first.stop()
    with sqlite3.connect(data_dir / "grover.sqlite3") as db:
        db.execute(
            "UPDATE conversations SET kind = 'bogus', last_seq = 'x' WHERE id = ?", [group.id]
        )
    db.close()
    grover = await start_grover(data_dir=data_dir, sentry_dsn=fake_sentry.dsn, node_id="sentry-b")
    alice = Client()
    await alice.connect(ws_url(grover), token=str(auth.token))
    with pytest.raises(GroverError):
        await alice.request("message.send", conversation_id=group.id, client_key="k", text=TEXT)
    await fake_sentry.wait_for("event")
    await flush()
    [event] = fake_sentry.events
    assert event["tags"]["actor"] == f"conversation:{group.id}"
    assert event["tags"]["node"] == "sentry-b" and event["tags"]["release"] == RELEASE
    assert event["logger"] == "grover.actors"
    assert_clean(fake_sentry.raw, str(auth.token))
    await alice.close()


async def test_a_sidecar_error_is_reported_with_its_route(
    start_grover: StartGrover, fake_sentry: FakeSentry
) -> None:
    """A real failure path: the uploads' scratch folder is a file (a broken
    disk layout), so the upload fails outside every error it expects."""
    grover = await start_grover(sentry_dsn=fake_sentry.dsn, node_id="sentry-c")
    client, token = await login(grover)
    scratch = grover.settings.data_dir / "tmp"
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.write_bytes(b"not a folder")
    status, reply, _ = await upload(grover, token, jpeg_bytes())
    assert status == 500 and reply["error"]["code"] == "internal"
    await fake_sentry.wait_for("event")
    await flush()
    [event] = fake_sentry.events
    assert event["tags"]["route"] == "/v1/media"
    assert event["tags"]["node"] == "sentry-c" and event["tags"]["release"] == RELEASE
    assert "FileExistsError" in {value["type"] for value in event["exception"]["values"]}
    assert_clean(fake_sentry.raw, token)
    await client.close()


async def test_a_background_task_failure_is_reported_with_the_task(
    start_grover: StartGrover, fake_sentry: FakeSentry
) -> None:
    """A real failure path: an unattached upload whose folder became a file,
    so the media sweep cannot delete it."""
    grover = await start_grover(
        sentry_dsn=fake_sentry.dsn,
        node_id="sentry-d",
        media_unattached_ttl=0.01,
        media_sweep_interval=0.2,
    )
    client, token = await login(grover)
    status, reply, _ = await upload(grover, token, jpeg_bytes())
    assert status == 201
    record = await grover.store.media.get(reply["id"])
    assert record is not None
    folder = media_dir(grover.settings.data_dir / "media", record.storage_key)
    shutil.rmtree(folder)
    folder.write_bytes(b"not a folder")
    await fake_sentry.wait_for("event")
    event = fake_sentry.events[0]
    assert event["tags"]["task"] == "media_sweep"
    assert event["tags"]["node"] == "sentry-d" and event["tags"]["release"] == RELEASE
    assert event["logger"] == "grover.media"
    assert_clean(fake_sentry.raw, token)
    await client.close()


@pytest.mark.parametrize("rate", [1.0, 0.0])
async def test_requests_are_traced_at_the_sample_rate(
    start_grover: StartGrover, fake_sentry: FakeSentry, rate: float
) -> None:
    grover = await start_grover(sentry_dsn=fake_sentry.dsn, sentry_traces_sample_rate=rate)
    alice, auth = await signed_up(grover)
    await alice.request("profile.get", user_id=auth.user.id)
    await flush()
    if rate == 0.0:
        assert fake_sentry.transactions == []
        await alice.close()
        return
    await fake_sentry.wait_for("transaction", 2)
    names = {t["transaction"]: t for t in fake_sentry.transactions}
    assert {"auth.register", "profile.get"} <= set(names)
    traced = names["profile.get"]
    assert traced["tags"]["request_type"] == "profile.get"
    assert traced["tags"]["user"] == auth.user.id
    assert traced["contexts"]["trace"]["status"] == "ok"
    assert_clean(fake_sentry.raw, str(auth.token))
    await alice.close()


async def test_without_a_dsn_sentry_is_never_initialised(
    start_grover: StartGrover, fake_sentry: FakeSentry
) -> None:
    grover = await start_grover(sentry_traces_sample_rate=1.0)
    assert not sentry_sdk.get_client().is_active()
    real = grover.gateway.handlers[SendMessage]

    async def broken(services: Services, caller: Caller, request: Any) -> Any:
        await real(services, caller, request)
        raise RuntimeError("unreported")

    grover.gateway.handlers = {**grover.gateway.handlers, SendMessage: broken}
    alice, _ = await signed_up(grover)
    bob, bob_auth = await signed_up(grover)
    group = await alice.request(
        "conversation.create_group", title="g", member_ids=[bob_auth.user.id]
    )
    with pytest.raises(GroverError):
        await alice.request("message.send", conversation_id=group.id, client_key="k", text=TEXT)
    await asyncio.sleep(0.2)
    assert fake_sentry.envelopes == []
    assert not sentry_sdk.get_client().is_active()
    await alice.close()
    await bob.close()


# ------------------------------------------------------------------ scrubber


def test_scrub_removes_sensitive_keys_at_any_depth() -> None:
    event = {
        "extra": {
            "password": "p",
            "nested": [{"access_token": "a", "ok": 1}, {"PayPal-Client-Secret": "s"}],
            "headers": {"Authorization": "Bearer abc", "Cookie": "c=1", "Accept": "*/*"},
            "user_email": "x@example.com",
            "text": "hello",
            "order_id": "01a2",
        },
        "request": {"data": {"text": "body"}, "query_string": "token=abc"},
    }
    cleaned = scrub(event)
    extra = cleaned["extra"]
    assert extra["password"] == FILTERED and extra["text"] == FILTERED
    assert extra["nested"] == [
        {"access_token": FILTERED, "ok": 1},
        {"PayPal-Client-Secret": FILTERED},
    ]
    assert extra["headers"] == {"Authorization": FILTERED, "Cookie": FILTERED, "Accept": "*/*"}
    assert extra["user_email"] == FILTERED and extra["order_id"] == "01a2"
    assert cleaned["request"] == {"data": FILTERED, "query_string": FILTERED}
    assert event["extra"]["password"] == "p"  # a copy: the input is left alone


def test_scrub_redacts_secrets_inside_strings() -> None:
    token = "Xq3_fV9kLm2PzR8tYw1bN4cH7jD0sGaE5uIoK6eT-Ab"
    message = (
        f"failed for bob@example.com: SendMessage(text='meet at dawn', client_key='k') "
        f"{{'password': 'hunter2'}} Authorization: Bearer {token} and {token} "
        "id 01a228ac05a2775a1cf7f11a"
    )
    cleaned = scrub_text(message)
    for secret in ("bob@example.com", "meet at dawn", "hunter2", token):
        assert secret not in cleaned
    assert "client_key='k'" in cleaned and "01a228ac05a2775a1cf7f11a" in cleaned


def test_scrub_exceptions_breadcrumbs_and_frames() -> None:
    event = {
        "event_id": "0" * 32,
        "exception": {
            "values": [
                {
                    "type": "ValueError",
                    "value": "bad token=abcdef for carol@example.org",
                    "stacktrace": {
                        "frames": [
                            {
                                "filename": "server/a_very_long_module_path_with_digits_123/x.py",
                                "function": "handle",
                                "vars": {"password": "p", "text": "t"},
                            }
                        ]
                    },
                }
            ]
        },
        "breadcrumbs": {
            "values": [
                {
                    "message": "logged in as dave@example.net",
                    "data": {"token": "t", "peer": "1.2.3.4"},
                }
            ]
        },
    }
    cleaned = scrub(event)
    [value] = cleaned["exception"]["values"]
    assert value["value"] == f"bad token={FILTERED} for [email]"
    [frame] = value["stacktrace"]["frames"]
    assert frame["vars"] == FILTERED
    assert frame["filename"] == "server/a_very_long_module_path_with_digits_123/x.py"
    assert cleaned["event_id"] == "0" * 32
    [crumb] = cleaned["breadcrumbs"]["values"]
    assert crumb == {"message": "logged in as [email]", "data": FILTERED}
