"""How long an unpaid order keeps its stock when a payment may still come:
a capture PayPal reports pending holds it for days, an approved order gets
a grace period past its expiry (docs/decisions.md, marketplace), on both
backends against the fake PayPal."""

from __future__ import annotations

import time

import orjson

from actors.store.market import PaymentEventRecord
from server.market import events
from server.market.orders import APPROVED_GRACE, PENDING_HOLD
from server.payments.events import parse_event
from tests.market_rig import Rig, rig
from tests.paypal_events import capture_resource, event, order_resource, paypal_id

__all__ = ["rig"]


async def deliver(rig: Rig, event_type: str, resource: dict[str, object]) -> str:
    notice = parse_event(orjson.dumps(event(event_type, resource)))
    return await events.apply(rig.node.services, notice)


async def test_a_pending_capture_keeps_the_stock_for_the_hold(rig: Rig) -> None:
    placed = await rig.placed(stock=1)
    order, record = placed.order, placed.record
    pending = capture_resource(
        paypal_id(), placed.paypal_order_id, record.id, record.amount, None, status="PENDING"
    )
    await deliver(rig, "PAYMENT.CAPTURE.PENDING", pending)
    held = await rig.record(order.id)
    assert held.state == "created" and held.expires_at >= record.created_at + PENDING_HOLD
    assert (await rig.worker.sweep_once(now=record.expires_at + 1)).expired == 0
    assert (await rig.record(order.id)).stock_reserved == 1
    assert (await rig.worker.sweep_once(now=held.expires_at + 1)).expired == 1


async def test_an_approved_order_outlives_its_expiry_by_the_grace(rig: Rig) -> None:
    node = rig.node
    placed = await rig.placed(stock=1)
    order, record = placed.order, placed.record
    # Approved at PayPal, but PayPal's capture keeps failing: the order
    # stays approved, waiting for a capture that may still come.
    rig.paypal.approve(placed.paypal_order_id)
    rig.paypal.fail_next("capture", 100, status=503)
    approval = event(
        "CHECKOUT.ORDER.APPROVED",
        order_resource(placed.paypal_order_id, record.id, record.amount),
    )
    stored = PaymentEventRecord(
        id=approval["id"],
        event_type=approval["event_type"],
        body=orjson.dumps(approval),
        received_at=time.time(),
    )
    assert await node.store.payment_events.record(stored)
    assert await events.apply_stored(node.services, stored) == "retry"
    assert (await rig.record(order.id)).state == "approved"
    # Left for the next sweep, not recorded as refused.
    assert [e.id for e in await node.store.payment_events.unapplied(10)] == [stored.id]
    # (PayPal stays down: the sweeps below retry the capture in vain.)
    late = record.expires_at + 1
    assert (await rig.worker.sweep_once(now=late)).expired == 0
    assert (await rig.worker.sweep_once(now=late + APPROVED_GRACE)).expired == 1
    assert (await rig.record(order.id)).state == "expired"
