"""Applying PayPal's webhook events, after they were verified and stored.

The sidecar answers PayPal once an event is stored; a worker applies stored
events in the order they arrived (:func:`apply_pending`), so a crash between
the two leaves the event to the next sweep. Applying is idempotent: events
come twice and out of order, and every change is a step that does nothing
when the order is already where the event would put it (a capture's event
after our capture call, an approval after the payment). What an event did is
kept with it as its *outcome*.
"""

from __future__ import annotations

import logging
import time

from actors import market as rules
from actors.ports import PaymentNotice
from actors.store.market import OrderRecord, PaymentEventRecord
from protocol.errors import ErrorCode, ProtocolError
from server.context import Services
from server.market import orders, payouts
from server.market.changes import OrderStep, change_order
from server.market.orders import OrderStepFn
from server.payments.events import parse_event

log = logging.getLogger("grover.market")

TRANSIENT = frozenset({ErrorCode.PAYMENT_PROVIDER_ERROR, ErrorCode.OVERLOADED})
"""Failures that leave an event for the next sweep (PayPal down, a storm of
concurrent changes) instead of recording it as refused."""


async def apply_pending(services: Services, limit: int = 100) -> int:
    """Apply the stored events not applied yet, oldest first."""
    events = await services.store.payment_events.unapplied(limit)
    for event in events:
        outcome = await apply_stored(services, event)
        if services.metrics is not None:
            services.metrics.webhook(event.event_type, outcome)
    return len(events)


async def apply_stored(services: Services, event: PaymentEventRecord) -> str:
    try:
        notice = parse_event(event.body)
        outcome = await apply(services, notice)
    except ProtocolError as exc:
        if exc.code in TRANSIENT:
            log.warning("a payment event waits for PayPal", extra={"event_id": event.id})
            return "retry"
        outcome = f"refused:{exc.code}"
    except Exception:
        # Left unapplied: the next sweep tries again (a store outage).
        log.exception("applying a payment event failed", extra={"event_id": event.id})
        return "error"
    await services.store.payment_events.mark_applied(event.id, outcome, time.time())
    log.info("payment event applied: %s", outcome, extra={"event_id": event.id})
    return outcome


async def apply(services: Services, notice: PaymentNotice) -> str:
    """Act on one event; returns its outcome (``applied``, ``no_change``,
    ``unknown_order``, ``amount_mismatch``, ``ignored``...)."""
    cause = f"paypal:{notice.event_id}"
    if notice.kind in ("payout_batch", "payout_item"):
        return await _payout_event(services, notice)
    if notice.kind == "ignored":
        return "ignored"
    order = await _order_of(services, notice)
    if order is None:
        return "unknown_order"
    if notice.kind in ("order_approved", "capture_completed") and not _same_money(order, notice):
        log.error("a payment event's amount is not its order's", extra={"order_id": order.id})
        return "amount_mismatch"
    before = order.version
    match notice.kind:
        case "order_approved":
            if order.state == rules.CREATED:
                order, _ = await change_order(services, order.id, _approve(cause))
            order = await orders.capture(services, order)
        case "capture_completed":
            order = await orders.mark_paid(
                services, order.id, notice.capture_id or "", notice.paypal_fee, cause
            )
        case "capture_denied":
            order = await orders.mark_declined(services, order.id, cause)
        case "capture_pending":
            order = await orders.mark_pending(services, order.id)
        case "capture_refunded" | "capture_reversed":
            kind = "reversal" if notice.kind == "capture_reversed" else "refund"
            amount = notice.amount if notice.amount is not None else rules.refundable(order)
            if notice.currency not in (None, order.currency) or amount > rules.refundable(order):
                if notice.refund_id in order.refund_ids:
                    return "no_change"
                return "amount_mismatch"
            order = await orders.count_refund(
                services,
                order.id,
                refund_id=notice.refund_id or notice.event_id,
                amount=amount,
                fee_returned=notice.paypal_fee,
                cause=cause,
                kind=kind,
            )
        case _:
            return "ignored"
    # Every branch above ends with the order as its last change left it.
    return "applied" if order.version != before else "no_change"


def _approve(cause: str) -> OrderStepFn:
    def step(o: OrderRecord) -> OrderStep | None:
        if o.state != rules.CREATED:
            return None
        return OrderStep(rules.transition(o, rules.APPROVED, cause, time.time()))

    return step


def _same_money(order: OrderRecord, notice: PaymentNotice) -> bool:
    return notice.amount is None or (notice.amount, notice.currency) == (
        order.amount,
        order.currency,
    )


async def _order_of(services: Services, notice: PaymentNotice) -> OrderRecord | None:
    """The order an event is about: by our id (``custom_id``), PayPal's order
    id or the capture id; an event whose ids disagree is nobody's."""
    store = services.store.orders
    order = await store.get(notice.order_id) if notice.order_id else None
    if order is None and notice.provider_order_id:
        order = await store.by_paypal_order(notice.provider_order_id)
    if order is None and notice.capture_id:
        order = await store.by_capture(notice.capture_id)
    if order is None:
        return None
    if notice.provider_order_id and order.paypal_order_id not in (None, notice.provider_order_id):
        return None
    return order


async def _payout_event(services: Services, notice: PaymentNotice) -> str:
    payout = None
    if notice.sender_batch_id:
        payout = await services.store.payouts.get(notice.sender_batch_id)
    if payout is None and notice.payout_batch_id:
        payout = await services.store.payouts.by_paypal_batch(notice.payout_batch_id)
    if payout is None:
        return "unknown_payout"
    before = payout.version
    if notice.kind == "payout_batch" or notice.payout_item_status is None:
        # Batch events carry no items: ask PayPal for them.
        if notice.payout_batch_id is None:
            return "no_change"
        batch = await services.payments.get_payout(notice.payout_batch_id)
        payout = await payouts.apply_batch(services, payout.id, batch)
    else:
        status = payouts.ITEM_STATUS.get(notice.payout_item_status, "sent")
        payout = await payouts.settle(services, payout.id, status, notice.payout_error)
    return "applied" if payout.version != before else "no_change"
