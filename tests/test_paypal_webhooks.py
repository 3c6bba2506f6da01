"""PayPal webhook verification against the fake PayPal's real key material
(a root, an intermediate and a leaf made at start, tests/paypal_certs.py):
signatures, certificate chains, the certificate URL allow-list, replay
and size limits, and each event type read into a PaymentNotice."""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from actors.ports import PaymentNotice, WebhookRejected
from server.payments.paypal import PayPalConfig, PayPalGateway
from server.payments.webhooks import WebhookVerifier
from tests.fake_paypal import FakePayPal
from tests.paypal_events import (
    capture_resource,
    event,
    order_resource,
    payout_batch_resource,
    payout_item_resource,
    refund_resource,
)


@pytest.fixture
async def fake() -> AsyncIterator[FakePayPal]:
    async with FakePayPal() as server:
        yield server


@pytest.fixture
def ca_file(fake: FakePayPal, tmp_path: Path) -> str:
    path = tmp_path / "paypal-test-root.pem"
    path.write_bytes(fake.root_pem)
    return str(path)


def _gateway(fake: FakePayPal, ca_file: str | None, **options: Any) -> PayPalGateway:
    config = PayPalConfig(
        client_id=fake.client_id,
        client_secret=fake.client_secret,
        webhook_id=fake.webhook_id,
        base_url=fake.base_url,
        ca_file=ca_file,
    )
    return PayPalGateway(config, return_url="grover://checkout", cancel_url="grover://x", **options)


@pytest.fixture
async def gateway(fake: FakePayPal, ca_file: str) -> AsyncIterator[PayPalGateway]:
    gateway = _gateway(fake, ca_file)
    yield gateway
    await gateway.close()


def _body(event_type: str = "PAYMENT.CAPTURE.COMPLETED", resource: Any = None) -> bytes:
    if resource is None:
        resource = capture_resource("2GG279541U471931P", "5O190127TN364715T", "o_1", 1999, 88)
    return orjson.dumps(event(event_type, resource))


async def _reject(gateway: PayPalGateway, headers: dict[str, str], body: bytes) -> int:
    with pytest.raises(WebhookRejected) as caught:
        await gateway.verify_webhook(headers, body)
    return caught.value.status


# ------------------------------------------------------------------ events

_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "CHECKOUT.ORDER.APPROVED",
        order_resource("5O190127TN364715T", "o_1", 1999),
        {
            "kind": "order_approved",
            "order_id": "o_1",
            "provider_order_id": "5O190127TN364715T",
            "amount": 1999,
            "currency": "USD",
        },
    ),
    (
        "PAYMENT.CAPTURE.COMPLETED",
        capture_resource("2GG279541U471931P", "5O190127TN364715T", "o_1", 1999, 88),
        {
            "kind": "capture_completed",
            "order_id": "o_1",
            "provider_order_id": "5O190127TN364715T",
            "capture_id": "2GG279541U471931P",
            "amount": 1999,
            "paypal_fee": 88,
        },
    ),
    (
        "PAYMENT.CAPTURE.DENIED",
        capture_resource("2GG2", "5O19", "o_1", 1999, None, status="DECLINED"),
        {"kind": "capture_denied", "capture_id": "2GG2", "paypal_fee": 0, "order_id": "o_1"},
    ),
    (
        "PAYMENT.CAPTURE.PENDING",
        capture_resource("2GG2", "5O19", "o_1", 500, None, currency="JPY", status="PENDING"),
        {"kind": "capture_pending", "amount": 500, "currency": "JPY", "paypal_fee": 0},
    ),
    (
        "PAYMENT.CAPTURE.REFUNDED",
        refund_resource("1JU08902781691411", "2GG279541U471931P", "o_1", 500, 22),
        {
            "kind": "capture_refunded",
            "refund_id": "1JU08902781691411",
            "capture_id": "2GG279541U471931P",
            "order_id": "o_1",
            "amount": 500,
            "paypal_fee": 22,
        },
    ),
    (
        "PAYMENT.CAPTURE.REVERSED",
        refund_resource("8KL0", "2GG279541U471931P", "o_1", 1999, None),
        {"kind": "capture_reversed", "refund_id": "8KL0", "capture_id": "2GG279541U471931P"},
    ),
    (
        "PAYMENT.CAPTURE.REVERSED",
        capture_resource("2GG2", "5O19", "o_1", 1999, 88, status="REVERSED"),
        {"kind": "capture_reversed", "capture_id": "2GG2", "refund_id": None},
    ),
    (
        "PAYMENT.PAYOUTSBATCH.SUCCESS",
        payout_batch_resource("5UXD2E8A7EBQJ", "po_1"),
        {"kind": "payout_batch", "payout_batch_id": "5UXD2E8A7EBQJ", "sender_batch_id": "po_1"},
    ),
    (
        "PAYMENT.PAYOUTS-ITEM.SUCCEEDED",
        payout_item_resource("8AELMXH8UB2P8", "5UXD2E8A7EBQJ", "po_1", "SUCCESS", amount=2500),
        {
            "kind": "payout_item",
            "payout_item_id": "8AELMXH8UB2P8",
            "payout_batch_id": "5UXD2E8A7EBQJ",
            "sender_batch_id": "po_1",
            "payout_item_status": "SUCCESS",
            "payout_error": None,
            "amount": 2500,
        },
    ),
    (
        "PAYMENT.PAYOUTS-ITEM.FAILED",
        payout_item_resource("8AEL", "5UXD", "po_1", "FAILED", error="RECEIVER_UNREGISTERED"),
        {
            "kind": "payout_item",
            "payout_item_status": "FAILED",
            "payout_error": "RECEIVER_UNREGISTERED",
        },
    ),
    (
        "PAYMENT.PAYOUTS-ITEM.UNCLAIMED",
        payout_item_resource("8AEL", "5UXD", "po_1", "UNCLAIMED"),
        {"kind": "payout_item", "payout_item_status": "UNCLAIMED"},
    ),
    (
        "BILLING.SUBSCRIPTION.CREATED",
        {"id": "I-BW452GLLEP1G"},
        {"kind": "ignored", "order_id": None, "amount": None},
    ),
]


@pytest.mark.parametrize(
    ("event_type", "resource", "expected"),
    _CASES,
    ids=[f"{case[0]}-{n}" for n, case in enumerate(_CASES)],
)
async def test_a_verified_event_is_read_into_a_notice(
    fake: FakePayPal,
    gateway: PayPalGateway,
    event_type: str,
    resource: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    document = event(event_type, resource)
    body = orjson.dumps(document)
    notice = await gateway.verify_webhook(fake.signed_headers(body), body)

    assert isinstance(notice, PaymentNotice)
    assert (notice.event_id, notice.event_type) == (document["id"], event_type)
    assert {name: getattr(notice, name) for name in expected} == expected


async def test_lower_case_header_names_are_accepted(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    body = _body()
    headers = {name.lower(): value for name, value in fake.signed_headers(body).items()}
    assert (await gateway.verify_webhook(headers, body)).kind == "capture_completed"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        orjson.dumps({"event_type": "PAYMENT.CAPTURE.COMPLETED", "resource": {}}),
        orjson.dumps({"id": "WH-1", "event_type": "PAYMENT.CAPTURE.COMPLETED"}),
        _body(resource=capture_resource("C", "O", "o_1", 1999, 88) | {"amount": {"value": "1"}}),
        _body(
            resource=capture_resource("C", "O", "o_1", 1999, 88)
            | {"amount": {"currency_code": "USD", "value": "19.999"}}
        ),
        _body("CHECKOUT.ORDER.APPROVED", {"id": "5O19", "purchase_units": []}),
        _body("PAYMENT.PAYOUTS-ITEM.FAILED", {"payout_item_id": "X"}),
    ],
    ids=[
        "not-json",
        "not-object",
        "no-id",
        "no-resource",
        "no-currency",
        "too-many-decimals",
        "no-unit",
        "item-no-batch",
    ],
)
async def test_a_signed_but_malformed_event_is_400(
    fake: FakePayPal, gateway: PayPalGateway, body: bytes
) -> None:
    assert await _reject(gateway, fake.signed_headers(body), body) == 400


# ------------------------------------------------------------------ signatures


@pytest.mark.parametrize(
    ("tamper", "status"),
    [
        ("signature", 401),
        ("expired", 401),
        ("untrusted", 401),
        ("self_signed", 401),
        ("wrong_name", 401),
        ("other_host", 401),
        ("wrong_path", 401),
        ("stale", 401),
        ("future", 401),
        ("algo", 400),
    ],
)
async def test_a_tampered_delivery_is_rejected(
    fake: FakePayPal, gateway: PayPalGateway, tamper: str, status: int
) -> None:
    body = _body()
    assert await _reject(gateway, fake.signed_headers(body, tamper=tamper), body) == status
    if tamper in ("other_host", "wrong_path", "stale", "future", "algo"):
        assert fake.cert_requests == []  # refused before anything was fetched


async def test_a_changed_or_reserialised_body_fails_the_signature(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    body = _body()
    headers = fake.signed_headers(body)
    respaced = json.dumps(json.loads(body)).encode()  # same JSON, other bytes
    assert respaced != body
    assert await _reject(gateway, headers, respaced) == 401
    assert await _reject(gateway, headers, body.replace(b"19.99", b"99.99")) == 401
    assert (await gateway.verify_webhook(headers, body)).amount == 1999


async def test_a_signature_for_another_webhook_id_is_rejected(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    body = _body()
    headers = fake.signed_headers(body, webhook_id="3X8XXXXXXXXXXXXXXSOMEONEELSE")
    assert await _reject(gateway, headers, body) == 401


@pytest.mark.parametrize(
    "header",
    [
        "Paypal-Transmission-Id",
        "Paypal-Transmission-Time",
        "Paypal-Transmission-Sig",
        "Paypal-Cert-Url",
        "Paypal-Auth-Algo",
    ],
)
async def test_a_missing_header_is_400(
    fake: FakePayPal, gateway: PayPalGateway, header: str
) -> None:
    body = _body()
    headers = fake.signed_headers(body)
    del headers[header]
    assert await _reject(gateway, headers, body) == 400
    headers[header] = ""
    assert await _reject(gateway, headers, body) == 400


async def test_unreadable_time_and_signature_are_rejected(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    body = _body()
    headers = fake.signed_headers(body) | {"Paypal-Transmission-Time": "yesterday"}
    assert await _reject(gateway, headers, body) == 400
    headers = fake.signed_headers(body) | {"Paypal-Transmission-Sig": "not base64!"}
    assert await _reject(gateway, headers, body) == 401


async def test_the_time_tolerance_is_configurable(fake: FakePayPal, ca_file: str) -> None:
    gateway = _gateway(fake, ca_file, webhook_tolerance=1200.0)
    body = _body()
    notice = await gateway.verify_webhook(fake.signed_headers(body, tamper="stale"), body)
    assert notice.kind == "capture_completed"
    await gateway.close()


async def test_a_huge_body_is_413_before_anything_else(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    body = b" " * (256 * 1024 + 1)
    assert await _reject(gateway, {}, body) == 413
    assert fake.cert_requests == []


async def test_the_certificate_is_fetched_once_then_cached(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    for _ in range(3):
        body = _body()
        await gateway.verify_webhook(fake.signed_headers(body), body)
    assert fake.cert_requests == ["CERT-good"]
    assert gateway.webhooks.cert_fetches == 1


async def test_the_certificate_cache_is_bounded(fake: FakePayPal, ca_file: str) -> None:
    async with aiohttp.ClientSession() as session:
        verifier = WebhookVerifier(
            webhook_id=fake.webhook_id,
            mode="sandbox",
            base_url=fake.base_url,
            ca_file=ca_file,
            cache_size=1,
            session=lambda: session,
        )
        for name in ("good", "good-2", "good", "good"):
            body = _body()
            headers = fake.signed_headers(body)
            headers["Paypal-Cert-Url"] = fake.cert_url(name)
            await verifier.verify_webhook(headers, body)
    assert fake.cert_requests == ["CERT-good", "CERT-good-2", "CERT-good"]


async def test_an_oversized_certificate_is_not_read(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    body = _body()
    headers = fake.signed_headers(body)
    headers["Paypal-Cert-Url"] = fake.cert_url("huge")
    assert await _reject(gateway, headers, body) == 401


async def test_without_the_test_root_the_fake_chain_is_untrusted(fake: FakePayPal) -> None:
    """The default roots (certifi's or the system's) do not include the
    fake's root: trust comes from the roots, not from the chain's shape."""
    gateway = _gateway(fake, None)
    body = _body()
    assert await _reject(gateway, fake.signed_headers(body), body) == 401
    await gateway.close()


def test_an_unreadable_ca_file_stops_the_start(fake: FakePayPal, tmp_path: Path) -> None:
    (tmp_path / "not-pem.pem").write_text("hello")
    for path in (tmp_path / "absent.pem", tmp_path / "not-pem.pem"):
        with pytest.raises(ValueError, match="GROVER_PAYPAL_CA_FILE"):
            _gateway(fake, str(path))


async def test_a_missing_certificate_is_401_and_an_unreachable_one_503(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    body = _body()
    headers = fake.signed_headers(body)
    headers["Paypal-Cert-Url"] = headers["Paypal-Cert-Url"].replace("CERT-good", "CERT-gone")
    assert await _reject(gateway, headers, body) == 401
    await fake.stop()
    assert await _reject(gateway, fake.signed_headers(body), body) == 503


# ------------------------------------------------------------------ allow-list


def _headers(cert_url: str) -> dict[str, str]:
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "PAYPAL-TRANSMISSION-ID": str(uuid.uuid4()),
        "PAYPAL-TRANSMISSION-TIME": now,
        "PAYPAL-TRANSMISSION-SIG": "c2lnbmF0dXJl",
        "PAYPAL-CERT-URL": cert_url,
        "PAYPAL-AUTH-ALGO": "SHA256withRSA",
    }


class _NoNetwork:
    """A session stand-in that records what would be fetched, and fails it."""

    def __init__(self) -> None:
        self.fetched: list[str] = []

    def get(self, url: str, **_: Any) -> Any:
        self.fetched.append(url)
        raise aiohttp.ClientConnectionError("no network in this test")


CERT = "/v1/notifications/certs/CERT-360caa42-fca2a594-a5cafa77"


@pytest.mark.parametrize(
    ("mode", "url", "fetched"),
    [
        ("live", f"https://api-m.paypal.com{CERT}", True),
        ("live", f"https://api.paypal.com{CERT}", True),
        ("live", f"https://API-M.PAYPAL.COM{CERT}", True),
        ("live", f"https://api-m.paypal.com:443{CERT}", True),
        ("sandbox", f"https://api-m.sandbox.paypal.com{CERT}", True),
        ("sandbox", f"https://api.sandbox.paypal.com{CERT}", True),
        ("live", f"http://api-m.paypal.com{CERT}", False),
        ("live", f"https://api-m.sandbox.paypal.com{CERT}", False),
        ("sandbox", f"https://api-m.paypal.com{CERT}", False),
        ("live", f"https://api-m.paypal.com:8443{CERT}", False),
        ("live", f"https://api-m.paypal.com.evil.example{CERT}", False),
        ("live", f"https://evil.example/api-m.paypal.com{CERT}", False),
        ("live", f"https://api-m.paypal.com@evil.example{CERT}", False),
        ("live", f"https://user@api-m.paypal.com{CERT}", False),
        ("live", f"https://www.paypal.com{CERT}", False),
        ("live", "https://api-m.paypal.com/v1/notifications/certs/", False),
        ("live", "https://api-m.paypal.com/v1/notifications/certs/../../oauth2/token", False),
        ("live", "https://api-m.paypal.com/v1/notifications/certs/a/b", False),
        ("live", "https://api-m.paypal.com/v1/notifications/certs/%2e%2e", False),
        ("live", f"https://api-m.paypal.com{CERT}?next=evil", False),
        ("live", "https://api-m.paypal.com/v1/oauth2/token", False),
        ("live", f"http://127.0.0.1:8080{CERT}", False),
        ("live", f"file:///etc/passwd{CERT}", False),
        ("live", "not a url", False),
    ],
)
async def test_only_paypal_certificate_urls_are_fetched(mode: str, url: str, fetched: bool) -> None:
    network = _NoNetwork()
    verifier = WebhookVerifier(webhook_id="WH", mode=mode, session=lambda: network)  # type: ignore[arg-type, return-value]
    with pytest.raises(WebhookRejected) as caught:
        await verifier.verify_webhook(_headers(url), b"{}")
    if fetched:
        assert (caught.value.status, network.fetched) == (503, [url])
    else:
        assert (caught.value.status, network.fetched) == (401, [])


async def test_an_explicit_base_url_allows_its_origin_only() -> None:
    network = _NoNetwork()
    verifier = WebhookVerifier(
        webhook_id="WH",
        mode="sandbox",
        base_url="http://127.0.0.1:8123",
        session=lambda: network,  # type: ignore[arg-type, return-value]
    )
    for url, status in [
        (f"http://127.0.0.1:8123{CERT}", 503),
        (f"http://127.0.0.1:8124{CERT}", 401),
        (f"https://127.0.0.1:8123{CERT}", 401),
        (f"http://localhost:8123{CERT}", 401),
        (f"https://api-m.sandbox.paypal.com{CERT}", 401),
    ]:
        with pytest.raises(WebhookRejected) as caught:
            await verifier.verify_webhook(_headers(url), b"{}")
        assert caught.value.status == status, url
    assert network.fetched == [f"http://127.0.0.1:8123{CERT}"]


# ------------------------------------------------------------------ over HTTP


@pytest.fixture
async def receiver(gateway: PayPalGateway) -> AsyncIterator[str]:
    """A webhook endpoint that answers what the sidecar would."""

    async def handle(request: web.Request) -> web.Response:
        try:
            notice = await gateway.verify_webhook(dict(request.headers), await request.read())
        except WebhookRejected as exc:
            return web.Response(status=exc.status, text=exc.reason)
        return web.Response(text=f"{notice.kind} {notice.event_id}")

    app = web.Application()
    app.router.add_post("/webhooks/paypal", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{runner.addresses[0][1]}/webhooks/paypal"
    await runner.cleanup()


async def test_a_delivery_over_http_is_verified(fake: FakePayPal, receiver: str) -> None:
    resource = refund_resource("1JU0", "2GG2", "o_1", 500, 22)
    status, text = await fake.send_webhook(
        receiver,
        "PAYMENT.CAPTURE.REFUNDED",
        resource,
        event_id="WH-58D329510W468432D-8HN650336L201105X",
    )
    assert (status, text) == (200, "capture_refunded WH-58D329510W468432D-8HN650336L201105X")

    status, _ = await fake.send_webhook(
        receiver, "PAYMENT.CAPTURE.REFUNDED", resource, tamper="body"
    )
    assert status == 401
    status, _ = await fake.send_webhook(
        receiver, "PAYMENT.CAPTURE.REFUNDED", resource, tamper="expired"
    )
    assert status == 401
