"""Orders and tips, from checkout to refund: each operation reads the order,
lets a pure rule of :mod:`actors.market` compute the next state and its
money, and writes both at once (:mod:`server.market.changes`).

Calls to PayPal carry request ids derived from our ids (``checkout:<order>``,
``capture:<order>``, ``refund:<order>:<client key>``), so a retried request
or a crash between PayPal's answer and our write repeats PayPal's first
answer instead of charging or refunding again.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

import msgspec

from actors import market as rules
from actors.ids import new_id
from actors.ports import Capture, PaymentError, PaymentsNotConfigured
from actors.store.market import (
    OrderChangeRecord,
    OrderRecord,
    OutOfStock,
    ProductUnavailable,
)
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import market as m
from server.context import Services
from server.handlers.live import announce_tip
from server.handlers.notices import notify_order_paid, notify_tip
from server.handlers.social_views import Viewer
from server.market.changes import OrderStep, change_order, not_found

OrderStepFn = Callable[[OrderRecord], OrderStep | None]

log = logging.getLogger("grover.market")

PENDING_HOLD = 7 * 24 * 3600.0
"""How long an order whose capture PayPal reports ``PENDING`` (an eCheck, a
review) keeps its stock while waiting for the capture's outcome."""
APPROVED_GRACE = 600.0
"""Extra seconds an ``approved`` order gets before it expires: a capture may
be on its way (ours, or one PayPal retries)."""


def payment_error(exc: Exception) -> ProtocolError:
    """The protocol's view of a payment provider's failure."""
    if isinstance(exc, PaymentsNotConfigured):
        return ProtocolError(ErrorCode.PAYMENTS_NOT_CONFIGURED, "payments are not configured")
    if isinstance(exc, PaymentError) and exc.issue == "ORDER_NOT_APPROVED":
        return ProtocolError(ErrorCode.INVALID_STATE, "the buyer has not approved the payment yet")
    return ProtocolError(ErrorCode.PAYMENT_PROVIDER_ERROR, "PayPal could not do it now; retry")


def require_payments(services: Services) -> None:
    if not services.payments.configured:
        raise payment_error(PaymentsNotConfigured())


# ------------------------------------------------------------------ opening


async def open_product_order(services: Services, buyer: str, req: m.CreateOrder) -> OrderRecord:
    """Reserve the stock and open the checkout (see ``order.create``)."""
    require_payments(services)
    product = await services.store.products.get(req.product_id)
    if product is None or product.status == "deleted":
        raise not_found("product")
    if product.seller_id == buyer:
        raise ProtocolError(ErrorCode.FORBIDDEN, "one cannot buy one's own product")
    await Viewer(services.store, buyer).user(product.seller_id)  # blocks: not_found
    now = time.time()
    record = _new_order(
        services,
        buyer,
        req.client_key,
        now,
        kind="product",
        seller_id=product.seller_id,
        product_id=product.id,
        title=product.title,
        quantity=req.quantity,
        unit_price=product.price,
        currency=product.currency,
    )
    try:
        order, _ = await services.store.orders.create(record)
    except ProductUnavailable:
        raise ProtocolError(ErrorCode.PRODUCT_UNAVAILABLE, "the product is not on sale") from None
    except OutOfStock:
        raise ProtocolError(ErrorCode.OUT_OF_STOCK, "not enough items left") from None
    return await ensure_checkout(services, order)


async def open_tip(services: Services, tipper: str, req: m.CreateTip) -> OrderRecord:
    """A tip is an order without a product (see ``tip.create``)."""
    require_payments(services)
    if req.creator_id == tipper:
        raise ProtocolError(ErrorCode.FORBIDDEN, "one cannot tip oneself")
    if req.post_id is not None and req.stream_id is not None:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "a tip is on a post or a stream, not both")
    viewer = Viewer(services.store, tipper)
    await viewer.user(req.creator_id)
    if req.post_id is not None:
        post = await viewer.post(req.post_id)
        if post.user_id != req.creator_id:
            raise ProtocolError(ErrorCode.INVALID_FIELD, "the post is not the creator's")
    if req.stream_id is not None:
        stream = await services.store.streams.get(req.stream_id)
        if stream is None or stream.host_id != req.creator_id:
            raise not_found("stream")
        if stream.status != "live":
            raise ProtocolError(ErrorCode.INVALID_STATE, "the stream is not live")
        if await services.store.stream_bans.is_banned(stream.id, tipper):
            # Its paid line would put a banned viewer back in the chat.
            raise ProtocolError(ErrorCode.FORBIDDEN, "banned from this stream")
    record = _new_order(
        services,
        tipper,
        req.client_key,
        time.time(),
        kind="tip",
        seller_id=req.creator_id,
        product_id=None,
        title="Tip",
        quantity=1,
        unit_price=req.amount,
        currency=req.currency,
        post_id=req.post_id,
        stream_id=req.stream_id,
        message=req.message,
    )
    order, _ = await services.store.orders.create(record)
    return await ensure_checkout(services, order)


def _new_order(
    services: Services,
    buyer: str,
    client_key: str,
    now: float,
    *,
    kind: str,
    seller_id: str,
    product_id: str | None,
    title: str,
    quantity: int,
    unit_price: int,
    currency: str,
    post_id: str | None = None,
    stream_id: str | None = None,
    message: str = "",
) -> OrderRecord:
    created = OrderChangeRecord(
        from_state=None, to_state=rules.CREATED, cause=f"request:{buyer}", at=now
    )
    return OrderRecord(
        id=new_id(),
        kind=kind,
        buyer_id=buyer,
        seller_id=seller_id,
        client_key=client_key,
        product_id=product_id,
        title=title,
        quantity=quantity,
        unit_price=unit_price,
        amount=unit_price * quantity,
        currency=currency,
        post_id=post_id,
        stream_id=stream_id,
        message=message,
        created_at=now,
        updated_at=now,
        expires_at=now + services.settings.order_ttl,
        history=[created],
    )


async def ensure_checkout(services: Services, order: OrderRecord) -> OrderRecord:
    """Open the order's PayPal checkout unless it is open (or over). On a
    provider failure the order keeps its stock until it expires; a retry
    of the request (same ``client_key``) opens it then."""
    if order.state not in rules.UNPAID or order.paypal_order_id is not None:
        return order
    try:
        checkout = await services.payments.create_order(
            order_id=order.id,
            amount=order.amount,
            currency=order.currency,
            description=order.title,
            request_id=f"checkout:{order.id}",
        )
    except (PaymentError, PaymentsNotConfigured) as exc:
        log.warning("opening a checkout failed: %s", exc, extra={"order_id": order.id})
        raise payment_error(exc) from None

    def opened(o: OrderRecord) -> OrderStep | None:
        if o.paypal_order_id is not None:
            return None
        changes = {"paypal_order_id": checkout.provider_order_id, "updated_at": time.time()}
        return OrderStep(msgspec.structs.replace(o, approval_url=checkout.approval_url, **changes))

    order, _ = await change_order(services, order.id, opened)
    return order


# ------------------------------------------------------------------ capture


async def capture(services: Services, order: OrderRecord) -> OrderRecord:
    """Take the approved payment of an unpaid order (the buyer came back, or
    PayPal said it was approved)."""
    if order.state not in rules.UNPAID:
        return order
    if order.paypal_order_id is None:
        raise ProtocolError(ErrorCode.INVALID_STATE, "the order's checkout is not open")
    try:
        result = await services.payments.capture(
            order.paypal_order_id, request_id=f"capture:{order.id}"
        )
    except (PaymentError, PaymentsNotConfigured) as exc:
        log.warning("capture failed: %s", exc, extra={"order_id": order.id})
        raise payment_error(exc) from None
    return await settle_capture(services, order, result, "capture")


async def settle_capture(
    services: Services, order: OrderRecord, result: Capture, cause: str
) -> OrderRecord:
    """What a capture's outcome does to the order: paid, cancelled (declined),
    or kept waiting (pending). Raises ``payment_declined`` for a declined one
    and ``internal`` for an amount that is not the order's (nothing changes).
    ``order`` may be stale: only its id, amount and currency (fixed at
    creation) are read; each change reads the order again."""
    order_id = order.id
    if result.status == "COMPLETED":
        if (result.amount, result.currency) != (order.amount, order.currency):
            log.error("captured amount differs from the order", extra={"order_id": order_id})
            raise ProtocolError(ErrorCode.INTERNAL, "the captured amount is not the order's")
        return await mark_paid(services, order_id, result.capture_id, result.paypal_fee, cause)
    if result.status in ("DECLINED", "FAILED"):
        await mark_declined(services, order_id, cause)
        raise ProtocolError(ErrorCode.PAYMENT_DECLINED, "PayPal declined the payment")
    return await mark_pending(services, order_id)


async def mark_paid(
    services: Services, order_id: str, capture_id: str, paypal_fee: int, cause: str
) -> OrderRecord:
    settings = services.settings

    def step(o: OrderRecord) -> OrderStep | None:
        if o.state not in rules.UNPAID and o.state not in rules.GIVEN_UP:
            return None  # paid already (our answer and the webhook race): once
        paid, tx = rules.paid(
            o,
            capture_id=capture_id,
            paypal_fee=paypal_fee,
            fee_bps=settings.platform_fee_bps,
            hold=settings.payout_hold,
            cause=cause,
            at=time.time(),
        )
        # The stock the order held is now sold; a late one held none.
        return OrderStep(msgspec.structs.replace(paid, stock_reserved=0), tx)

    order, before = await change_order(services, order_id, step)
    if before is not None:
        await _after_payment(services, order, late=before.state in rules.GIVEN_UP)
    return order


async def _after_payment(services: Services, order: OrderRecord, *, late: bool) -> None:
    """A new payment: the seller is told (and a tip's stream shows it);
    digital goods and tips are delivered by being paid. A capture that came
    after the order was given up is refunded at once: its stock is gone."""
    if late:
        try:
            await refund(services, order, None, "late", "late capture")
        except ProtocolError:
            log.error("refunding a late capture failed", extra={"order_id": order.id})
        return
    if order.kind == "tip":
        notify_tip(services, order)
        await announce_tip(services, order)
    else:
        notify_order_paid(services, order)
    product = await services.store.products.get(order.product_id) if order.product_id else None
    if order.kind == "tip" or (product is not None and product.kind == "digital"):
        await fulfill(services, order, "delivered")


async def mark_declined(services: Services, order_id: str, cause: str) -> OrderRecord:
    def step(o: OrderRecord) -> OrderStep | None:
        if o.state not in rules.UNPAID:
            return None
        return _give_up(o, rules.CANCELLED, cause)

    order, _ = await change_order(services, order_id, step)
    return order


async def mark_pending(services: Services, order_id: str) -> OrderRecord:
    def step(o: OrderRecord) -> OrderStep | None:
        expires_at = time.time() + PENDING_HOLD
        if o.state not in rules.UNPAID or o.expires_at >= expires_at - 60:
            return None
        return OrderStep(msgspec.structs.replace(o, expires_at=expires_at))

    order, _ = await change_order(services, order_id, step)
    return order


def _give_up(order: OrderRecord, state: str, cause: str) -> OrderStep:
    """Cancelled or expired: the reserved stock goes back."""
    moved = rules.transition(order, state, cause, time.time())
    return OrderStep(
        msgspec.structs.replace(moved, stock_reserved=0), release_stock=order.stock_reserved
    )


# --------------------------------------------------- buyer and seller actions


async def cancel(services: Services, order: OrderRecord, cause: str) -> OrderRecord:
    def step(o: OrderRecord) -> OrderStep | None:
        if o.state not in rules.UNPAID:
            raise ProtocolError(ErrorCode.INVALID_STATE, f"an order {o.state} cannot be cancelled")
        return _give_up(o, rules.CANCELLED, cause)

    order, _ = await change_order(services, order.id, step)
    return order


async def fulfill(services: Services, order: OrderRecord, cause: str) -> OrderRecord:
    def step(o: OrderRecord) -> OrderStep | None:
        if o.state == rules.FULFILLED:
            return None
        if o.state != rules.PAID:
            raise ProtocolError(ErrorCode.INVALID_STATE, f"an order {o.state} cannot be fulfilled")
        return OrderStep(rules.transition(o, rules.FULFILLED, cause, time.time()))

    order, _ = await change_order(services, order.id, step)
    return order


async def refund(
    services: Services, order: OrderRecord, amount: int | None, key: str, cause: str
) -> OrderRecord:
    """Refund through PayPal, then count it (once: by PayPal's refund id)."""
    left = rules.refundable(order)
    if order.state not in rules.REFUNDABLE or order.capture_id is None:
        raise ProtocolError(ErrorCode.INVALID_STATE, f"an order {order.state} cannot be refunded")
    wanted = left if amount is None else amount
    if wanted > left:
        raise ProtocolError(ErrorCode.REFUND_EXCEEDS_PAID, f"at most {left} can be refunded")
    try:
        result = await services.payments.refund(
            order.capture_id,
            amount=wanted,
            currency=order.currency,
            request_id=f"refund:{order.id}:{key}",
        )
    except (PaymentError, PaymentsNotConfigured) as exc:
        log.warning("refund failed: %s", exc, extra={"order_id": order.id})
        raise payment_error(exc) from None
    return await count_refund(
        services,
        order.id,
        refund_id=result.refund_id,
        amount=result.amount,
        fee_returned=result.paypal_fee_returned,
        cause=cause,
    )


async def count_refund(
    services: Services,
    order_id: str,
    *,
    refund_id: str,
    amount: int,
    fee_returned: int,
    cause: str,
    kind: str = "refund",
) -> OrderRecord:
    """Record money given back (our refund's answer, its webhook, or a
    reversal); a refund already counted, or above what is left, changes
    nothing."""

    def step(o: OrderRecord) -> OrderStep | None:
        if refund_id in o.refund_ids or not 0 < amount <= rules.refundable(o):
            return None
        moved, tx = rules.refunded(
            o,
            refund_id=refund_id,
            amount=amount,
            paypal_fee_returned=fee_returned,
            cause=cause,
            at=time.time(),
            kind=kind,
        )
        return OrderStep(moved, tx)

    order, _ = await change_order(services, order_id, step)
    return order


# ------------------------------------------------------------------ sweeps


async def expire_due(services: Services, now: float, limit: int = 200) -> int:
    """Unpaid orders past their time give their stock back."""
    expired = 0
    for order in await services.store.orders.expiring(now, limit):
        grace = APPROVED_GRACE if order.state == rules.APPROVED else 0.0

        def step(o: OrderRecord, grace: float = grace) -> OrderStep | None:
            if o.state not in rules.UNPAID or o.expires_at + grace > now:
                return None
            return _give_up(o, rules.EXPIRED, "expiry")

        _, before = await change_order(services, order.id, step)
        expired += before is not None
    return expired


async def release_due(services: Services, now: float, limit: int = 200) -> int:
    """Sellers' pending shares whose hold is over become available."""
    released = 0
    for order in await services.store.orders.releasing(now, limit):

        def step(o: OrderRecord) -> OrderStep | None:
            if o.release_at is None or o.release_at > now:
                return None
            moved, tx = rules.released(o, now)
            return OrderStep(moved, tx)

        _, before = await change_order(services, order.id, step)
        released += before is not None
    return released
