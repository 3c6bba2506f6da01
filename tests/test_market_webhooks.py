"""PayPal's webhooks end to end: a real node (gateway, sidecar, worker) on
SQLite, SDK clients over real sockets, and the fake PayPal delivering
signed events (real key material, checked by the node) to
``POST /v1/webhooks/paypal``: approval then capture, events out of order and
twice, refunds and reversals made at PayPal, unknown orders, amounts that are
not the order's, a capture after expiry, and every refused delivery."""

from __future__ import annotations

import asyncio
import pathlib
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson
import pytest

from actors.store.market import OrderRecord
from protocol.client import Client
from protocol.messages import market as m
from server.app import Grover
from tests.conftest import StartGrover, register, ws_url
from tests.fake_paypal import FakePayPal
from tests.market_rig import paypal_settings
from tests.paypal_events import capture_resource, order_resource, paypal_id, refund_resource
from tests.store.ledger_check import assert_ledger_consistent

APPROVED = "CHECKOUT.ORDER.APPROVED"
COMPLETED = "PAYMENT.CAPTURE.COMPLETED"


class Shop:
    """A seller and a buyer connected to one node that pays through the fake."""

    def __init__(self, grover: Grover, paypal: FakePayPal, seller: Client, buyer: Client) -> None:
        self.grover, self.paypal, self.seller, self.buyer = grover, paypal, seller, buyer
        self.url = f"http://127.0.0.1:{grover.sidecar_port}/v1/webhooks/paypal"

    async def order(self, price: int = 2500, stock: int | None = 5) -> tuple[Any, OrderRecord]:
        product = await self.seller.request(
            "product.create",
            client_key=paypal_id(),
            title="Print",
            price=price,
            currency="USD",
            stock=stock,
        )
        order = await self.buyer.request(
            "order.create", client_key=paypal_id(), product_id=product.id
        )
        return product, await self.record(order.id)

    async def record(self, order_id: str) -> OrderRecord:
        record = await self.grover.store.orders.get(order_id)
        assert record is not None
        return record

    async def deliver(self, event_type: str, resource: dict[str, Any], **kw: Any) -> int:
        status, _ = await self.paypal.send_webhook(self.url, event_type, resource, **kw)
        return status

    async def until(self, order_id: str, state: str, timeout: float = 5.0) -> OrderRecord:
        """Wait for the worker to apply what was delivered."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            record = await self.record(order_id)
            if record.state == state:
                return record
            await asyncio.sleep(0.02)
        raise AssertionError(f"order {order_id} is {record.state}, not {state}")

    async def applied(self, event_id: str, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            event = await self.grover.store.payment_events.get(event_id)
            if event is not None and event.outcome is not None:
                return event.outcome
            await asyncio.sleep(0.02)
        raise AssertionError(f"event {event_id} was not applied")


@pytest.fixture
async def shop(start_grover: StartGrover, tmp_path: pathlib.Path) -> Any:
    async with FakePayPal() as paypal:
        grover = await start_grover(**paypal_settings(paypal, tmp_path))
        clients = []
        for _ in range(2):
            client = Client()
            await client.connect(ws_url(grover))
            await register(client)
            clients.append(client)
        yield Shop(grover, paypal, *clients)
        for client in clients:
            await client.close()
        await assert_ledger_consistent(grover.store)
        assert paypal.violations == []


async def next_order_event(client: Client, order_id: str, state: str) -> m.OrderView:
    while True:
        event = await client.next_event(timeout=5)
        if isinstance(event, m.OrderUpdated) and (event.order.id, event.order.state) == (
            order_id,
            state,
        ):
            return event.order


def capture_of(record: OrderRecord, fee: int = 103, **kw: Any) -> dict[str, Any]:
    assert record.paypal_order_id is not None
    return capture_resource(
        paypal_id(), record.paypal_order_id, record.id, kw.pop("amount", record.amount), fee, **kw
    )


# ---------------------------------------------------------------- flows


async def test_an_approval_event_captures_and_the_buyer_sees_it_paid(shop: Shop) -> None:
    _, record = await shop.order()
    assert record.paypal_order_id is not None
    shop.paypal.approve(record.paypal_order_id)
    resource = order_resource(record.paypal_order_id, record.id, record.amount)
    assert await shop.deliver(APPROVED, resource, event_id="WH-APPROVE-1") == 200
    paid = await next_order_event(shop.buyer, record.id, "paid")
    assert [c.to_state for c in paid.history] == ["created", "approved", "paid"]
    assert paid.history[1].cause == "paypal:WH-APPROVE-1"
    await next_order_event(shop.seller, record.id, "paid")
    assert await shop.applied("WH-APPROVE-1") == "applied"
    # PayPal delivers it again: stored once, nothing changes.
    assert await shop.deliver(APPROVED, resource, event_id="WH-APPROVE-1") == 200
    assert len(shop.paypal.captures) == 1


async def test_a_capture_event_before_the_approval_still_ends_paid_once(shop: Shop) -> None:
    _, record = await shop.order()
    capture = capture_of(record)
    assert await shop.deliver(COMPLETED, capture, event_id="WH-CAP") == 200
    paid = await shop.until(record.id, "paid")
    assert paid.capture_id == capture["id"] and paid.paypal_fee == 103
    assert paid.history[-1].cause == "paypal:WH-CAP"
    assert record.paypal_order_id is not None
    approval = order_resource(record.paypal_order_id, record.id, record.amount)
    assert await shop.deliver(APPROVED, approval, event_id="WH-LATE-APPROVAL") == 200
    assert await shop.applied("WH-LATE-APPROVAL") == "no_change"
    assert await shop.deliver(COMPLETED, capture, event_id="WH-CAP-AGAIN") == 200
    assert await shop.applied("WH-CAP-AGAIN") == "no_change"
    after = await shop.record(record.id)
    assert (after.state, after.version) == ("paid", paid.version)
    payments = [
        tx
        for tx in await shop.grover.store.ledger.transactions(after=None, limit=50)
        if tx.kind == "payment"
    ]
    assert len(payments) == 1
    assert shop.paypal.captures == {}  # nothing was captured twice (nor by us at all)


async def test_denied_refunded_and_reversed_captures(shop: Shop) -> None:
    product, record = await shop.order(stock=1)
    assert (
        await shop.deliver("PAYMENT.CAPTURE.DENIED", capture_of(record, status="DECLINED")) == 200
    )
    await shop.until(record.id, "cancelled")
    assert (await shop.buyer.request("product.get", product_id=product.id)).stock == 1

    _, paid = await shop.order(price=10_000)
    capture = capture_of(paid, fee=320)
    await shop.deliver(COMPLETED, capture)
    paid = await shop.until(paid.id, "paid")
    refund = refund_resource(paypal_id(), capture["id"], paid.id, 2500, 80)
    await shop.deliver("PAYMENT.CAPTURE.REFUNDED", refund, event_id="WH-REF")
    part = await shop.until(paid.id, "partially_refunded")
    assert part.refunded == 2500 and part.history[-1].cause == "paypal:WH-REF"
    await shop.deliver("PAYMENT.CAPTURE.REFUNDED", refund, event_id="WH-REF-2")
    assert await shop.applied("WH-REF-2") == "no_change"  # the same refund id, counted once
    assert (await shop.record(paid.id)).refunded == 2500
    reversal = refund_resource(paypal_id(), capture["id"], paid.id, 7500, None)
    await shop.deliver("PAYMENT.CAPTURE.REVERSED", reversal, event_id="WH-REV")
    reversed_ = await shop.until(paid.id, "refunded")
    assert reversed_.refunded == 10_000
    kinds = [
        tx.kind
        for tx in await shop.grover.store.ledger.transactions(after=None, limit=50)
        if tx.order_id == paid.id
    ]
    assert sorted(kinds) == ["payment", "refund", "reversal"]


async def test_unknown_orders_and_wrong_amounts_change_nothing(shop: Shop) -> None:
    _, record = await shop.order(price=2500)
    stranger = capture_resource(paypal_id(), paypal_id(), "nobody", 2500, 10)
    await shop.deliver(COMPLETED, stranger, event_id="WH-UNKNOWN")
    assert await shop.applied("WH-UNKNOWN") == "unknown_order"
    await shop.deliver(COMPLETED, capture_of(record, amount=100), event_id="WH-CHEAP")
    assert await shop.applied("WH-CHEAP") == "amount_mismatch"
    await shop.deliver(COMPLETED, capture_of(record, currency="EUR"), event_id="WH-EURO")
    assert await shop.applied("WH-EURO") == "amount_mismatch"
    after = await shop.record(record.id)
    assert (after.state, after.version) == ("created", record.version)
    assert await shop.grover.store.ledger.transactions(after=None, limit=5) == []


async def test_a_capture_after_expiry_is_counted_and_refunded_at_once(shop: Shop) -> None:
    product, record = await shop.order(stock=1)
    await shop.grover.market.sweep_once(now=record.expires_at + 1)
    assert (await shop.record(record.id)).state == "expired"
    assert (await shop.buyer.request("product.get", product_id=product.id)).stock == 1
    # PayPal captured anyway (its capture and our expiry crossed): a real
    # capture at the fake, so that our refund of it goes through.
    assert record.paypal_order_id is not None
    shop.paypal.approve(record.paypal_order_id)
    captured = await shop.grover.services.payments.capture(
        record.paypal_order_id, request_id="elsewhere"
    )
    resource = capture_of(record, fee=captured.paypal_fee)
    resource["id"] = captured.capture_id
    await shop.deliver(COMPLETED, resource, event_id="WH-LATE")
    refunded = await shop.until(record.id, "refunded")
    assert [c.to_state for c in refunded.history][-3:] == ["expired", "paid", "refunded"]
    assert len(shop.paypal.refunds) == 1
    assert (await shop.buyer.request("product.get", product_id=product.id)).stock == 1


# ---------------------------------------------------------- bad deliveries


@pytest.mark.parametrize(
    ("tamper", "status"),
    [
        ("signature", 401),
        ("body", 401),
        ("other_host", 401),
        ("wrong_path", 401),
        ("expired", 401),
        ("self_signed", 401),
        ("stale", 401),
        ("algo", 400),
    ],
)
async def test_deliveries_that_do_not_verify_are_refused_unread(
    shop: Shop, tamper: str, status: int
) -> None:
    _, record = await shop.order()
    got = await shop.deliver(COMPLETED, capture_of(record), event_id=f"WH-{tamper}", tamper=tamper)
    assert got == status
    assert await shop.grover.store.payment_events.get(f"WH-{tamper}") is None
    assert (await shop.record(record.id)).state == "created"


async def test_huge_unsigned_and_garbage_bodies_are_refused(shop: Shop) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(shop.url, data=b"x" * (300 * 1024)) as response:
            assert response.status == 413
        async with http.post(shop.url, data=b"{}") as response:
            assert response.status == 400  # no signature headers
        body = b"not json"
        headers = shop.paypal.signed_headers(body)
        async with http.post(shop.url, data=body, headers=headers) as response:
            assert response.status == 400
        body = orjson.dumps({"id": "WH-X", "event_type": COMPLETED, "resource": "nope"})
        async with http.post(shop.url, data=body, headers=shop.paypal.signed_headers(body)) as r:
            assert r.status == 400
    assert await shop.grover.store.payment_events.get("WH-X") is None


async def test_a_node_without_paypal_answers_webhooks_503(
    start_grover: Callable[..., Awaitable[Grover]],
) -> None:
    grover = await start_grover()
    url = f"http://127.0.0.1:{grover.sidecar_port}/v1/webhooks/paypal"
    async with aiohttp.ClientSession() as http, http.post(url, data=b"{}") as response:
        assert response.status == 503
