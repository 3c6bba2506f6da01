"""Creator payouts through PayPal Payouts.

A payout takes its money out of the seller's available balance when it is
asked for (one step with the payout's row: two at once cannot both take the
same money), then is sent with our payout id as PayPal's
``sender_batch_id``: PayPal refuses a batch id it has seen, so a resend
after a lost answer (ours, or the sweep's) never pays twice. Its outcome
comes from ``PAYMENT.PAYOUTS-ITEM.*`` webhooks and from polling; a failed or
returned payout gives the money back to the available balance.
"""

from __future__ import annotations

import logging
import time

import msgspec

from actors import market as rules
from actors.ids import new_id
from actors.ports import PaymentError, PaymentsNotConfigured, PayoutBatch
from actors.store.market import InsufficientBalance, LedgerTransaction, PayoutRecord
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import market as m
from server.context import Services
from server.handlers.notices import notify_payout
from server.market.changes import PayoutStep, change_payout
from server.market.orders import payment_error, require_payments

log = logging.getLogger("grover.market")

ITEM_STATUS: dict[str, str] = {
    "SUCCESS": "succeeded",
    "FAILED": "failed",
    "BLOCKED": "failed",
    "DENIED": "failed",
    "CANCELED": "failed",
    "UNCLAIMED": "unclaimed",
    "RETURNED": "returned",
    "REFUNDED": "returned",
    "REVERSED": "returned",
}
"""PayPal's item (or batch) status → ours; anything else (``PENDING``,
``ONHOLD``, ``NEW``, ``PROCESSING``) is ``sent``."""
ENDED = frozenset({"succeeded", "failed", "returned"})


async def request_payout(services: Services, seller: str, req: m.RequestPayout) -> PayoutRecord:
    require_payments(services)
    now = time.time()
    record = PayoutRecord(
        id=new_id(),
        seller_id=seller,
        client_key=req.client_key,
        amount=req.amount or 0,
        currency=req.currency,
        paypal_email=req.paypal_email,
        created_at=now,
        updated_at=now,
    )
    try:
        payout, _ = await services.store.payouts.create(
            record,
            take_all=req.amount is None,
            minimum=services.settings.payout_minimum,
            ledger_id=f"payout:{record.id}:reserve",
        )
    except InsufficientBalance:
        raise ProtocolError(
            ErrorCode.INSUFFICIENT_BALANCE,
            f"the available balance is below the amount or the minimum"
            f" ({services.settings.payout_minimum})",
        ) from None
    if payout.status == "requested":
        payout = await send(services, payout)
    return payout


async def send(services: Services, payout: PayoutRecord) -> PayoutRecord:
    """Send (or send again: the same batch id) a requested payout. A refusal
    fails it and gives the money back; an outage leaves it requested for the
    sweep."""
    try:
        batch = await services.payments.send_payout(
            sender_batch_id=payout.id,
            amount=payout.amount,
            currency=payout.currency,
            receiver=payout.paypal_email,
        )
    except PaymentsNotConfigured as exc:
        raise payment_error(exc) from None
    except PaymentError as exc:
        if exc.retryable:
            log.warning("sending a payout failed; will retry", extra={"payout_id": payout.id})
            return payout
        return await settle(services, payout.id, "failed", exc.issue or "refused")
    return await apply_batch(services, payout.id, batch)


async def apply_batch(services: Services, payout_id: str, batch: PayoutBatch) -> PayoutRecord:
    """What PayPal says of the batch (a send's answer or a poll)."""
    item = batch.items[0] if batch.items else None
    status = ITEM_STATUS.get(item.status if item else batch.status, "sent")
    error = item.error if item else None

    def ids(p: PayoutRecord) -> PayoutRecord:
        return msgspec.structs.replace(
            p,
            paypal_batch_id=batch.batch_id,
            paypal_item_id=item.item_id if item else p.paypal_item_id,
        )

    def remember(p: PayoutRecord) -> PayoutStep | None:
        if p.paypal_batch_id == batch.batch_id:
            return None
        return PayoutStep(ids(p))

    await change_payout(services, payout_id, remember)
    return await settle(services, payout_id, status, error)


async def settle(
    services: Services, payout_id: str, status: str, failure: str | None
) -> PayoutRecord:
    """Move the payout to ``status`` with its money (nothing when the status
    is not a step forward: a repeated or stale report)."""

    def step(p: PayoutRecord) -> PayoutStep | None:
        if status == p.status or status not in rules.PAYOUT_TRANSITIONS[p.status]:
            return None
        now = time.time()
        tx = _settlement(p, status, now)
        changed = msgspec.structs.replace(
            p,
            status=status,
            failure=failure if status in ("failed", "returned") else p.failure,
            updated_at=now,
        )
        return PayoutStep(changed, tx)

    payout, before = await change_payout(services, payout_id, step)
    if before is not None and payout.status in ENDED:
        notify_payout(services, payout)
    return payout


def _settlement(payout: PayoutRecord, status: str, now: float) -> LedgerTransaction | None:
    """The money of a payout's new status: out of the platform when it
    succeeded, back to the seller when it failed or came back."""
    p = payout
    if status == "succeeded":
        return rules.payout_settled(
            payout_id=p.id,
            seller_id=p.seller_id,
            currency=p.currency,
            amount=p.amount,
            succeeded=True,
            at=now,
        )
    if status not in ("failed", "returned"):
        return None
    if p.status == "succeeded":
        return rules.payout_returned_after_success(
            payout_id=p.id, seller_id=p.seller_id, currency=p.currency, amount=p.amount, at=now
        )
    return rules.payout_settled(
        payout_id=p.id,
        seller_id=p.seller_id,
        currency=p.currency,
        amount=p.amount,
        succeeded=False,
        at=now,
    )


async def poll_open(services: Services, limit: int = 50) -> int:
    """Send requested payouts again and ask PayPal about the others."""
    polled = 0
    for payout in await services.store.payouts.open(limit):
        try:
            if payout.status == "requested":
                await send(services, payout)
            elif payout.paypal_batch_id is not None:
                batch = await services.payments.get_payout(payout.paypal_batch_id)
                await apply_batch(services, payout.id, batch)
            polled += 1
        except (PaymentError, PaymentsNotConfigured, ProtocolError) as exc:
            log.warning("polling a payout failed: %s", exc, extra={"payout_id": payout.id})
    return polled
