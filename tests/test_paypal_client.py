"""The PayPal gateway against a local fake PayPal that checks every request
(tests/fake_paypal.py): tokens, orders, captures, refunds, payouts, retries
and idempotency; never the real service. Webhooks: test_paypal_webhooks.py."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from actors.ports import PaymentError, PaymentsNotConfigured
from server.config import Settings
from server.payments import DisabledGateway, PayPalGateway, make_payment_gateway
from server.payments.paypal import PayPalConfig
from tests.fake_paypal import FakePayPal

MakeGateway = Callable[..., PayPalGateway]


@pytest.fixture
async def fake() -> AsyncIterator[FakePayPal]:
    async with FakePayPal() as server:
        yield server
        # Whatever a test did, the client never broke PayPal's protocol.
        assert server.violations == []


@pytest.fixture
async def make_gateway(fake: FakePayPal) -> AsyncIterator[MakeGateway]:
    made: list[PayPalGateway] = []

    def make(**options: Any) -> PayPalGateway:
        secret = options.pop("client_secret", fake.client_secret)
        config = PayPalConfig(
            client_id=fake.client_id,
            client_secret=secret,
            webhook_id=fake.webhook_id,
            base_url=options.pop("base_url", fake.base_url),
        )
        options = {"timeout": 2.0, "attempts": 4, "backoff": 0.01, **options}
        gateway = PayPalGateway(
            config,
            return_url="grover://checkout",
            cancel_url="grover://checkout?cancelled=1",
            **options,
        )
        made.append(gateway)
        return gateway

    yield make
    for gateway in made:
        await gateway.close()


@pytest.fixture
def gateway(make_gateway: MakeGateway) -> PayPalGateway:
    return make_gateway()


async def _approved_order(
    fake: FakePayPal, gateway: PayPalGateway, amount: int = 1999, currency: str = "USD"
) -> str:
    order = await gateway.create_order(
        order_id="o_01HZX",
        amount=amount,
        currency=currency,
        description="2 prints",
        request_id="r-create",
    )
    fake.approve(order.provider_order_id)
    return order.provider_order_id


# ------------------------------------------------------------------ orders


async def test_create_order_sends_one_purchase_unit_and_answers_the_approval_link(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    order = await gateway.create_order(
        order_id="o_01HZX", amount=1999, currency="USD", description="2 prints", request_id="r-1"
    )

    assert order.status == "PAYER_ACTION_REQUIRED"
    assert order.approval_url.endswith(f"token={order.provider_order_id}")
    stored = fake.orders[order.provider_order_id]
    unit = stored["unit"]
    assert unit["reference_id"] == unit["custom_id"] == "o_01HZX"
    assert unit["description"] == "2 prints"
    assert unit["amount"] == {
        "currency_code": "USD",
        "value": "19.99",
        "breakdown": {"item_total": {"currency_code": "USD", "value": "19.99"}},
    }
    assert stored["experience"]["return_url"] == "grover://checkout"
    assert stored["experience"]["cancel_url"] == "grover://checkout?cancelled=1"
    assert [c.request_id for c in fake.calls_to("create_order")] == ["r-1"]


async def test_zero_decimal_currency_is_written_without_decimals(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    paypal_id = await _approved_order(fake, gateway, amount=500, currency="JPY")
    assert fake.orders[paypal_id]["unit"]["amount"]["value"] == "500"
    capture = await gateway.capture(paypal_id, request_id="r-cap")
    assert (capture.amount, capture.currency, capture.paypal_fee) == (500, "JPY", 15)


async def test_same_request_id_creates_one_order(fake: FakePayPal, gateway: PayPalGateway) -> None:
    first = await gateway.create_order(
        order_id="o_1", amount=100, currency="USD", description="x", request_id="same"
    )
    again = await gateway.create_order(
        order_id="o_1", amount=100, currency="USD", description="x", request_id="same"
    )
    assert again.provider_order_id == first.provider_order_id
    assert len(fake.orders) == 1
    assert [c.status for c in fake.calls_to("create_order")] == [201, 200]


@pytest.mark.parametrize(
    ("amount", "currency", "order_id"),
    [(0, "USD", "o_1"), (-5, "USD", "o_1"), (100, "XXX", "o_1"), (100, "USD", "o" * 128)],
)
async def test_bad_input_is_refused_before_any_call(
    fake: FakePayPal, gateway: PayPalGateway, amount: int, currency: str, order_id: str
) -> None:
    with pytest.raises(ValueError):
        await gateway.create_order(
            order_id=order_id, amount=amount, currency=currency, description="x", request_id="r"
        )
    with pytest.raises(ValueError):
        await gateway.capture("../v1/oauth2", request_id="r")
    assert fake.calls == []


# ------------------------------------------------------------------ token


async def test_token_is_fetched_once_and_reused(fake: FakePayPal, gateway: PayPalGateway) -> None:
    for n in range(3):
        await gateway.create_order(
            order_id=f"o_{n}", amount=100, currency="USD", description="x", request_id=f"r{n}"
        )
    assert fake.token_calls == 1


async def test_token_is_refreshed_when_it_nears_expiry(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    fake.token_ttl = 60  # within the client's one-minute margin: never reused
    for n in range(2):
        await gateway.create_order(
            order_id=f"o_{n}", amount=100, currency="USD", description="x", request_id=f"r{n}"
        )
    assert fake.token_calls == 2


async def test_a_revoked_token_is_replaced_once_on_401(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    await gateway.create_order(
        order_id="o_1", amount=100, currency="USD", description="x", request_id="r1"
    )
    fake.revoke_tokens()
    await gateway.create_order(
        order_id="o_2", amount=100, currency="USD", description="x", request_id="r2"
    )
    assert fake.token_calls == 2
    assert [c.status for c in fake.calls_to("create_order")] == [201, 401, 201]


async def test_concurrent_calls_share_one_token_fetch(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    await asyncio.gather(
        *(
            gateway.create_order(
                order_id=f"o_{n}", amount=100, currency="USD", description="x", request_id=f"r{n}"
            )
            for n in range(5)
        )
    )
    assert fake.token_calls == 1
    assert len(fake.orders) == 5


async def test_a_fresh_token_refused_too_is_not_retried_again(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    fake.accept_tokens = False
    with pytest.raises(PaymentError) as caught:
        await gateway.create_order(
            order_id="o_1", amount=100, currency="USD", description="x", request_id="r1"
        )
    assert (caught.value.retryable, caught.value.issue) == (False, "invalid_token")
    assert fake.token_calls == 2  # the first, and one replacement
    assert [c.status for c in fake.calls_to("create_order")] == [401, 401]


async def test_wrong_secret_is_refused_at_once_and_never_quoted(
    fake: FakePayPal, make_gateway: MakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "EwrongSecret-do-not-print-me"
    gateway = make_gateway(client_secret=secret)
    with pytest.raises(PaymentError) as caught:
        await gateway.create_order(
            order_id="o_1", amount=100, currency="USD", description="x", request_id="r1"
        )
    assert not caught.value.retryable
    assert caught.value.issue == "invalid_client"
    assert len(fake.calls_to("token")) == 1  # a refusal is not retried
    for text in (str(caught.value), repr(gateway), repr(gateway.config), caplog.text):
        assert secret not in text


# ------------------------------------------------------------------ capture


async def test_capture_parses_the_capture_and_its_fee(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    paypal_id = await _approved_order(fake, gateway)
    capture = await gateway.capture(paypal_id, request_id="r-cap")

    assert capture.status == "COMPLETED"
    assert (capture.amount, capture.currency) == (1999, "USD")
    assert capture.paypal_fee == 58 + 30  # 2.9% of 19.99, rounded, + 0.30
    assert capture.order_id == "o_01HZX"
    assert capture.capture_id in fake.captures
    assert [c.request_id for c in fake.calls_to("capture")] == ["r-cap"]


async def test_capture_before_approval_is_a_refusal(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    order = await gateway.create_order(
        order_id="o_1", amount=100, currency="USD", description="x", request_id="r1"
    )
    with pytest.raises(PaymentError) as caught:
        await gateway.capture(order.provider_order_id, request_id="r-cap")
    assert (caught.value.retryable, caught.value.issue) == (False, "ORDER_NOT_APPROVED")
    assert len(fake.calls_to("capture")) == 1


async def test_instrument_declined_is_a_declined_capture(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    paypal_id = await _approved_order(fake, gateway)
    fake.decline(paypal_id, "instrument")
    capture = await gateway.capture(paypal_id, request_id="r-cap")
    assert capture.status == "DECLINED"
    assert (capture.amount, capture.currency, capture.paypal_fee) == (1999, "USD", 0)
    assert capture.order_id == "o_01HZX"
    assert fake.captures == {}


async def test_a_capture_with_status_declined_is_answered_as_such(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    paypal_id = await _approved_order(fake, gateway)
    fake.decline(paypal_id, "status")
    capture = await gateway.capture(paypal_id, request_id="r-cap")
    assert capture.status == "DECLINED"
    assert capture.capture_id in fake.captures
    assert capture.paypal_fee == 0


async def test_order_already_captured_answers_the_existing_capture(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    paypal_id = await _approved_order(fake, gateway)
    first = await gateway.capture(paypal_id, request_id="r-cap-1")
    # Another request id (a worker that did not know, or past 6 hours).
    again = await gateway.capture(paypal_id, request_id="r-cap-2")
    assert again == first
    assert len(fake.captures) == 1
    assert [c.status for c in fake.calls_to("capture")] == [201, 422]
    assert [c.status for c in fake.calls_to("get_order")] == [200]


async def test_a_capture_retried_with_its_request_id_is_the_same_capture(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    paypal_id = await _approved_order(fake, gateway)
    first = await gateway.capture(paypal_id, request_id="r-cap")
    again = await gateway.capture(paypal_id, request_id="r-cap")
    assert again == first
    assert [c.status for c in fake.calls_to("capture")] == [201, 200]


async def test_unknown_order_is_not_retried(fake: FakePayPal, gateway: PayPalGateway) -> None:
    with pytest.raises(PaymentError) as caught:
        await gateway.capture("5O190127TN364715T", request_id="r-cap")
    assert (caught.value.retryable, caught.value.issue) == (False, "INVALID_RESOURCE_ID")
    assert len(fake.calls_to("capture")) == 1


# ------------------------------------------------------------------ refunds


async def test_partial_refunds_up_to_the_captured_amount(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    paypal_id = await _approved_order(fake, gateway)
    capture = await gateway.capture(paypal_id, request_id="r-cap")

    part = await gateway.refund(capture.capture_id, amount=500, currency="USD", request_id="rf-1")
    assert (part.status, part.amount, part.currency) == ("COMPLETED", 500, "USD")
    assert part.paypal_fee_returned == 88 * 500 // 1999
    assert fake.captures[capture.capture_id]["status"] == "PARTIALLY_REFUNDED"

    with pytest.raises(PaymentError) as caught:
        await gateway.refund(capture.capture_id, amount=1600, currency="USD", request_id="rf-2")
    assert (caught.value.retryable, caught.value.issue) == (False, "REFUND_AMOUNT_EXCEEDED")
    assert len(fake.calls_to("refund")) == 2  # not retried

    rest = await gateway.refund(capture.capture_id, amount=1499, currency="USD", request_id="rf-3")
    assert rest.amount == 1499
    assert fake.captures[capture.capture_id]["status"] == "REFUNDED"
    assert len(fake.refunds) == 2


async def test_a_refund_retried_with_its_request_id_refunds_once(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    paypal_id = await _approved_order(fake, gateway)
    capture = await gateway.capture(paypal_id, request_id="r-cap")
    fake.fail_next("refund", 1, 503)
    first = await gateway.refund(capture.capture_id, amount=700, currency="USD", request_id="rf")
    again = await gateway.refund(capture.capture_id, amount=700, currency="USD", request_id="rf")
    assert again == first
    assert len(fake.refunds) == 1
    assert fake.captures[capture.capture_id]["refunded"] == 700


# ------------------------------------------------------------------ payouts


async def test_payout_is_sent_with_its_batch_id_as_request_id(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    batch = await gateway.send_payout(
        sender_batch_id="po_01HZX", amount=2500, currency="USD", receiver="seller@example.com"
    )
    assert (batch.sender_batch_id, batch.status, batch.items) == ("po_01HZX", "PENDING", [])
    assert [c.request_id for c in fake.calls_to("payout")] == ["po_01HZX"]
    (sent,) = fake.payments_sent
    assert sent["payout_item"]["amount"] == {"currency": "USD", "value": "25.00"}
    assert sent["payout_item"]["receiver"] == "seller@example.com"
    assert sent["payout_item"]["sender_item_id"] == "po_01HZX"

    polled = await gateway.get_payout(batch.batch_id)
    assert polled.batch_id == batch.batch_id and polled.status == "SUCCESS"
    (item,) = polled.items
    assert (item.status, item.error) == ("SUCCESS", None)


@pytest.mark.parametrize(
    ("status", "error"),
    [("FAILED", "RECEIVER_UNREGISTERED"), ("UNCLAIMED", None), ("RETURNED", None)],
)
async def test_payout_item_outcomes_are_read(
    fake: FakePayPal, gateway: PayPalGateway, status: str, error: str | None
) -> None:
    fake.set_payout_outcome("seller@example.com", status, error)
    batch = await gateway.send_payout(
        sender_batch_id="po_1", amount=2500, currency="USD", receiver="seller@example.com"
    )
    (item,) = (await gateway.get_payout(batch.batch_id)).items
    assert (item.status, item.error) == (status, error)


async def test_a_known_sender_batch_id_answers_the_batch_and_never_pays_twice(
    fake: FakePayPal, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway()
    first = await gateway.send_payout(
        sender_batch_id="po_1", amount=2500, currency="USD", receiver="seller@example.com"
    )
    fake.forget_request_ids()  # past the request id's retention: PayPal refuses the batch id
    # A new process (no memory of the batch): the error's link names it.
    again = await make_gateway().send_payout(
        sender_batch_id="po_1", amount=2500, currency="USD", receiver="seller@example.com"
    )
    assert again.batch_id == first.batch_id
    assert [item.status for item in again.items] == ["SUCCESS"]
    assert len(fake.payments_sent) == 1
    assert [c.status for c in fake.calls_to("payout")] == [201, 400]

    # Without the link, this process's own record of the batch answers.
    fake.duplicate_links = False
    fake.forget_request_ids()
    third = await gateway.send_payout(
        sender_batch_id="po_1", amount=2500, currency="USD", receiver="seller@example.com"
    )
    assert third.batch_id == first.batch_id
    assert len(fake.payments_sent) == 1


async def test_a_duplicate_batch_nobody_can_name_is_an_error_not_a_payment(
    fake: FakePayPal, make_gateway: MakeGateway
) -> None:
    await make_gateway().send_payout(
        sender_batch_id="po_1", amount=2500, currency="USD", receiver="seller@example.com"
    )
    fake.duplicate_links = False
    fake.forget_request_ids()
    with pytest.raises(PaymentError) as caught:
        await make_gateway().send_payout(
            sender_batch_id="po_1", amount=2500, currency="USD", receiver="seller@example.com"
        )
    assert (caught.value.retryable, caught.value.issue) == (False, "DUPLICATE_SENDER_BATCH_ID")
    assert len(fake.payments_sent) == 1


async def test_payout_lost_reply_is_retried_into_the_same_batch(
    fake: FakePayPal, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway(timeout=0.3)
    fake.hang_next("payout", 1, after=True)  # PayPal paid, the reply was lost
    batch = await gateway.send_payout(
        sender_batch_id="po_1", amount=2500, currency="USD", receiver="seller@example.com"
    )
    assert len(fake.payments_sent) == 1
    assert batch.batch_id in fake.batches
    assert [c.request_id for c in fake.calls_to("payout")] == ["po_1", "po_1"]


# ------------------------------------------------------------------ retries


async def test_5xx_is_retried_with_the_same_request_id(
    fake: FakePayPal, gateway: PayPalGateway
) -> None:
    fake.fail_next("create_order", 2, 503)
    order = await gateway.create_order(
        order_id="o_1", amount=100, currency="USD", description="x", request_id="r1"
    )
    calls = fake.calls_to("create_order")
    assert [c.status for c in calls] == [503, 503, 201]
    assert {c.request_id for c in calls} == {"r1"}
    assert list(fake.orders) == [order.provider_order_id]


async def test_429_and_token_5xx_are_retried(fake: FakePayPal, gateway: PayPalGateway) -> None:
    fake.fail_next("token", 1, 502)
    fake.fail_next("create_order", 1, 429)
    await gateway.create_order(
        order_id="o_1", amount=100, currency="USD", description="x", request_id="r1"
    )
    assert [c.status for c in fake.calls_to("token")] == [502, 200]
    assert [c.status for c in fake.calls_to("create_order")] == [429, 201]


async def test_a_hanging_call_times_out_and_is_retried(
    fake: FakePayPal, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway(timeout=0.3)
    paypal_id = await _approved_order(fake, gateway)
    fake.hang_next("capture", 1)
    capture = await gateway.capture(paypal_id, request_id="r-cap")
    assert capture.status == "COMPLETED"
    assert len(fake.calls_to("capture")) == 2


async def test_a_lost_capture_reply_captures_once(
    fake: FakePayPal, make_gateway: MakeGateway
) -> None:
    gateway = make_gateway(timeout=0.3)
    paypal_id = await _approved_order(fake, gateway)
    fake.hang_next("capture", 1, after=True)
    capture = await gateway.capture(paypal_id, request_id="r-cap")
    assert list(fake.captures) == [capture.capture_id]
    assert [c.status for c in fake.calls_to("capture")] == [201, 200]  # the replay


async def test_retries_are_bounded(fake: FakePayPal, make_gateway: MakeGateway) -> None:
    gateway = make_gateway(attempts=3)
    fake.fail_next("create_order", 10, 500)
    with pytest.raises(PaymentError) as caught:
        await gateway.create_order(
            order_id="o_1", amount=100, currency="USD", description="x", request_id="r1"
        )
    assert caught.value.retryable
    assert "after 3 attempts" in str(caught.value)
    assert len(fake.calls_to("create_order")) == 3
    assert fake.orders == {}


async def test_an_unreachable_paypal_is_a_retryable_error(make_gateway: MakeGateway) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed when the block ends: nobody listens
    gateway = make_gateway(base_url=f"http://127.0.0.1:{port}", attempts=2)
    with pytest.raises(PaymentError) as caught:
        await gateway.get_payout("5UXD2E8A7EBQJ")
    assert caught.value.retryable


async def test_secrets_and_tokens_stay_out_of_logs_and_errors(
    fake: FakePayPal, make_gateway: MakeGateway, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    gateway = make_gateway(attempts=2)
    fake.fail_next("create_order", 1, 500)
    paypal_id = await _approved_order(fake, gateway)
    fake.fail_next("capture", 2, 500)
    with pytest.raises(PaymentError) as caught:
        await gateway.capture(paypal_id, request_id="r-cap")
    texts = [caplog.text, str(caught.value), repr(gateway)]
    for secret in (fake.client_secret, *fake.tokens):
        assert all(secret not in text for text in texts)


# ------------------------------------------------------------------ the fake


async def test_the_fake_records_what_the_client_must_never_do(fake: FakePayPal) -> None:
    """The fixture's ``violations == []`` means something: raw requests that
    break the protocol are caught."""
    base = fake.base_url
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{base}/v1/oauth2/token", data={"grant_type": "client_credentials"}
        ) as response:
            assert response.status == 401
        basic = aiohttp.encode_basic_auth(fake.client_id, fake.client_secret)
        async with session.post(
            f"{base}/v1/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": basic},
        ) as response:
            token = (await response.json())["access_token"]
        bearer = {"Authorization": f"Bearer {token}"}
        body = {
            "intent": "CAPTURE",
            "purchase_units": [{"amount": {"currency_code": "USD", "value": "19.9"}}],
        }
        async with session.post(
            f"{base}/v2/checkout/orders", json=body, headers=bearer
        ) as response:
            assert response.status == 400
        async with session.get(f"{base}/v1/payments/payouts/X") as response:
            assert response.status == 401
    assert fake.violations == [
        "token request without HTTP Basic",
        "create_order without PayPal-Request-Id",
        "create_order: malformed amount {'currency_code': 'USD', 'value': '19.9'}",
        "get_payout without a Bearer token",
    ]
    fake.violations.clear()


# ------------------------------------------------------------------ choosing


def _settings(**values: Any) -> Settings:
    return Settings(**values)


def test_no_credentials_is_the_disabled_gateway() -> None:
    gateway = make_payment_gateway(_settings())
    assert isinstance(gateway, DisabledGateway)
    assert (gateway.name, gateway.configured) == ("disabled", False)


async def test_the_disabled_gateway_refuses_everything() -> None:
    gateway = DisabledGateway()
    with pytest.raises(PaymentsNotConfigured):
        await gateway.create_order(
            order_id="o", amount=1, currency="USD", description="", request_id="r"
        )
    with pytest.raises(PaymentsNotConfigured):
        await gateway.capture("X", request_id="r")
    with pytest.raises(PaymentsNotConfigured):
        await gateway.refund("X", amount=1, currency="USD", request_id="r")
    with pytest.raises(PaymentsNotConfigured):
        await gateway.send_payout(sender_batch_id="b", amount=1, currency="USD", receiver="a@b")
    with pytest.raises(PaymentsNotConfigured):
        await gateway.get_payout("X")
    with pytest.raises(PaymentsNotConfigured):
        await gateway.verify_webhook({}, b"{}")


async def test_all_three_settings_make_the_paypal_gateway() -> None:
    gateway = make_payment_gateway(
        _settings(
            paypal_client_id="id",
            paypal_client_secret="s3cret",
            paypal_webhook_id="WH",
            paypal_mode="live",
            checkout_return_url="grover://checkout",
        )
    )
    assert isinstance(gateway, PayPalGateway)
    assert (gateway.name, gateway.configured) == ("paypal", True)
    assert gateway.config.api_url == "https://api-m.paypal.com"
    assert gateway.cancel_url == "grover://checkout?cancelled=1"
    assert "s3cret" not in repr(gateway)
    sandbox = make_payment_gateway(
        _settings(paypal_client_id="id", paypal_client_secret="s", paypal_webhook_id="WH")
    )
    assert isinstance(sandbox, PayPalGateway)
    assert sandbox.config.api_url == "https://api-m.sandbox.paypal.com"
    await gateway.close()
    await sandbox.close()


@pytest.mark.parametrize(
    ("values", "missing"),
    [
        ({"paypal_client_id": "id"}, "PAYPAL_CLIENT_SECRET"),
        ({"paypal_client_secret": "s3cret-value"}, "PAYPAL_CLIENT_ID"),
        ({"paypal_client_id": "id", "paypal_client_secret": "s3cret-value"}, "PAYPAL_WEBHOOK_ID"),
        ({"paypal_webhook_id": "WH"}, "PAYPAL_CLIENT_ID"),
    ],
)
def test_some_but_not_all_settings_is_an_error_naming_the_missing_one(
    values: dict[str, str], missing: str
) -> None:
    with pytest.raises(ValueError) as caught:
        make_payment_gateway(_settings(**values))
    assert missing in str(caught.value)
    assert "s3cret-value" not in str(caught.value)
