"""The marketplace's rules: the order state machine, money in minor units and
PayPal's decimal strings, the split of a payment into fees and the seller's
share, and the ledger postings of every money movement. Pure: no I/O.

Ledger accounts, per currency (postings are signed; a transaction sums to
zero, so the sum of every balance is zero too):

* ``world``: outside the platform. Buyers' payments come from it (it goes
  negative by what the platform holds at PayPal); payouts and refunds go
  back to it.
* ``fees:paypal``: what PayPal kept as fees.
* ``platform:revenue``: the platform's fees.
* ``seller:<id>:pending`` / ``:available`` / ``:in_payout``: what the
  platform owes a seller: earned and held, free to pay out, sent and not
  yet confirmed.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any, Final

import msgspec

from actors.store.market import LedgerTransaction, OrderChangeRecord, OrderRecord, Posting
from protocol.messages.market import CURRENCY_DIGITS

WORLD: Final = "world"
PAYPAL_FEES: Final = "fees:paypal"
PLATFORM: Final = "platform:revenue"

CREATED: Final = "created"
APPROVED: Final = "approved"
PAID: Final = "paid"
FULFILLED: Final = "fulfilled"
CANCELLED: Final = "cancelled"
EXPIRED: Final = "expired"
REFUNDED: Final = "refunded"
PARTIALLY_REFUNDED: Final = "partially_refunded"

TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    CREATED: frozenset({APPROVED, PAID, CANCELLED, EXPIRED}),
    APPROVED: frozenset({PAID, CANCELLED, EXPIRED}),
    PAID: frozenset({FULFILLED, REFUNDED, PARTIALLY_REFUNDED}),
    FULFILLED: frozenset({REFUNDED, PARTIALLY_REFUNDED}),
    PARTIALLY_REFUNDED: frozenset({PARTIALLY_REFUNDED, REFUNDED}),
    # A capture that completes after the order was given up is money that
    # arrived: it is recorded as paid and refunded at once (never dropped).
    CANCELLED: frozenset({PAID}),
    EXPIRED: frozenset({PAID}),
    REFUNDED: frozenset(),
}
"""Allowed next states of each state. ``paid`` may follow ``created`` because
PayPal's capture event can come before its approval event."""

UNPAID: Final = frozenset({CREATED, APPROVED})
REFUNDABLE: Final = frozenset({PAID, FULFILLED, PARTIALLY_REFUNDED})
GIVEN_UP: Final = frozenset({CANCELLED, EXPIRED})

PAYOUT_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "requested": frozenset({"sent", "succeeded", "failed", "unclaimed", "returned"}),
    "sent": frozenset({"succeeded", "failed", "unclaimed", "returned"}),
    "unclaimed": frozenset({"succeeded", "returned", "failed"}),
    "succeeded": frozenset({"returned"}),
    "failed": frozenset(),
    "returned": frozenset(),
}
"""A payout's statuses. ``succeeded`` may still become ``returned`` (PayPal
returns money the receiver refused); ``failed`` and ``returned`` gave the
money back to the seller's available balance, so nothing follows them."""


class TransitionRefused(Exception):
    """The state machine does not allow this change (nothing is written)."""

    def __init__(self, from_state: str, to_state: str) -> None:
        super().__init__(f"an order cannot go from {from_state} to {to_state}")
        self.from_state = from_state
        self.to_state = to_state


def seller_account(seller_id: str, bucket: str) -> str:
    """``bucket``: ``pending``, ``available`` or ``in_payout``."""
    return f"seller:{seller_id}:{bucket}"


# -------------------------------------------------------------------- money


def to_decimal(amount: int, currency: str) -> str:
    """Minor units → PayPal's decimal string (``1999, "USD"`` → ``"19.99"``)."""
    digits = CURRENCY_DIGITS[currency]
    if digits == 0:
        return str(amount)
    sign = "-" if amount < 0 else ""
    whole, frac = divmod(abs(amount), 10**digits)
    return f"{sign}{whole}.{frac:0{digits}d}"


def from_decimal(value: str, currency: str) -> int:
    """PayPal's decimal string → minor units, exactly. ``ValueError`` for a
    malformed value, an unknown currency, or more decimals than the currency
    has (``"1.005"`` USD is not an amount)."""
    if currency not in CURRENCY_DIGITS:
        raise ValueError(f"unknown currency {currency!r}")
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"not an amount: {value!r}") from None
    if not number.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    minor = number.scaleb(CURRENCY_DIGITS[currency])
    if minor != minor.to_integral_value():
        raise ValueError(f"{value!r} has more decimals than {currency} allows")
    return int(minor)


def split(amount: int, paypal_fee: int, fee_bps: int) -> tuple[int, int]:
    """``(platform_fee, seller_share)`` of a payment of ``amount`` on which
    PayPal kept ``paypal_fee``: the platform takes ``fee_bps`` of the amount
    (rounded down), reduced so that the seller's share is never negative
    when the payment is smaller than the fees; the seller gets the rest."""
    platform_fee = min(amount * fee_bps // 10_000, max(0, amount - paypal_fee))
    return platform_fee, amount - paypal_fee - platform_fee


# ------------------------------------------------------------ state machine


def transition(order: OrderRecord, to_state: str, cause: str, at: float) -> OrderRecord:
    """The order in ``to_state``, its change recorded with its cause, the
    version unchanged (the store bumps it). Raises :class:`TransitionRefused`."""
    if to_state not in TRANSITIONS[order.state]:
        raise TransitionRefused(order.state, to_state)
    change = OrderChangeRecord(from_state=order.state, to_state=to_state, cause=cause, at=at)
    history = [*order.history, change]
    return _replace(order, state=to_state, updated_at=at, history=history)


def paid(
    order: OrderRecord,
    *,
    capture_id: str,
    paypal_fee: int,
    fee_bps: int,
    hold: float,
    cause: str,
    at: float,
) -> tuple[OrderRecord, LedgerTransaction]:
    """The order paid (a capture of its full amount completed) and the
    payment's postings: the buyer's money in, PayPal's and the platform's
    fees, the seller's share pending until ``at + hold``."""
    platform_fee, share = split(order.amount, paypal_fee, fee_bps)
    moved = transition(order, PAID, cause, at)
    moved = _replace(
        moved,
        capture_id=capture_id,
        paypal_fee=paypal_fee,
        platform_fee=platform_fee,
        seller_share=share,
        seller_pending=share,
        paid_at=at,
        release_at=at + hold if share > 0 else None,
    )
    cur = order.currency
    postings = [
        Posting(account=WORLD, currency=cur, amount=-order.amount),
        Posting(account=PAYPAL_FEES, currency=cur, amount=paypal_fee),
        Posting(account=PLATFORM, currency=cur, amount=platform_fee),
        Posting(account=seller_account(order.seller_id, "pending"), currency=cur, amount=share),
    ]
    return moved, _tx(f"order:{order.id}:paid", "payment", postings, at, order_id=order.id)


def released(order: OrderRecord, at: float) -> tuple[OrderRecord, LedgerTransaction | None]:
    """The hold is over: what is left of the seller's share moves from
    pending to available."""
    moved = _replace(order, seller_pending=0, release_at=None, updated_at=at)
    if order.seller_pending <= 0:
        return moved, None
    cur, amount = order.currency, order.seller_pending
    postings = [
        Posting(account=seller_account(order.seller_id, "pending"), currency=cur, amount=-amount),
        Posting(account=seller_account(order.seller_id, "available"), currency=cur, amount=amount),
    ]
    return moved, _tx(f"order:{order.id}:release", "release", postings, at, order_id=order.id)


def refundable(order: OrderRecord) -> int:
    """What can still be refunded (0 unless the order was paid)."""
    return order.amount - order.refunded if order.state in REFUNDABLE else 0


def refunded(
    order: OrderRecord,
    *,
    refund_id: str,
    amount: int,
    paypal_fee_returned: int,
    cause: str,
    at: float,
    kind: str = "refund",
) -> tuple[OrderRecord, LedgerTransaction]:
    """``amount`` given back to the buyer (a refund, or a reversal when
    ``kind`` is ``"reversal"``). The platform returns its fee in proportion;
    PayPal returns ``paypal_fee_returned``; the seller pays the rest, out of
    pending first, then out of available (which may go negative). Raises
    ``ValueError`` for an amount above :func:`refundable`."""
    if not 0 < amount <= refundable(order):
        raise ValueError(f"refund of {amount} with {refundable(order)} refundable")
    total = order.refunded + amount
    platform_back = (
        order.platform_fee * total // order.amount
        - order.platform_fee * order.refunded // order.amount
    )
    fee_back = min(paypal_fee_returned, order.paypal_fee)
    from_seller = amount - platform_back - fee_back
    from_pending = min(max(from_seller, 0), order.seller_pending)
    from_available = from_seller - from_pending
    state = REFUNDED if total == order.amount else PARTIALLY_REFUNDED
    moved = transition(order, state, cause, at)
    moved = _replace(
        moved,
        refunded=total,
        refund_ids=[*order.refund_ids, refund_id],
        seller_pending=order.seller_pending - from_pending,
    )
    if moved.seller_pending == 0:
        moved = _replace(moved, release_at=None)
    cur, seller = order.currency, order.seller_id
    postings = [
        Posting(account=WORLD, currency=cur, amount=amount),
        Posting(account=PLATFORM, currency=cur, amount=-platform_back),
        Posting(account=PAYPAL_FEES, currency=cur, amount=-fee_back),
        Posting(account=seller_account(seller, "pending"), currency=cur, amount=-from_pending),
        Posting(account=seller_account(seller, "available"), currency=cur, amount=-from_available),
    ]
    tx_id = f"order:{order.id}:{kind}:{refund_id}"
    return moved, _tx(tx_id, kind, [p for p in postings if p.amount], at, order_id=order.id)


# ------------------------------------------------------------------ payouts


def payout_reserve(
    *, tx_id: str, payout_id: str, seller_id: str, currency: str, amount: int, at: float
) -> LedgerTransaction:
    """A payout asked for: available → in_payout."""
    postings = [
        Posting(account=seller_account(seller_id, "available"), currency=currency, amount=-amount),
        Posting(account=seller_account(seller_id, "in_payout"), currency=currency, amount=amount),
    ]
    return _tx(tx_id, "payout", postings, at, payout_id=payout_id)


def payout_settled(
    *, payout_id: str, seller_id: str, currency: str, amount: int, succeeded: bool, at: float
) -> LedgerTransaction:
    """A payout confirmed (the money leaves: in_payout → world) or failed or
    returned (the money comes back: in_payout → available)."""
    to = WORLD if succeeded else seller_account(seller_id, "available")
    postings = [
        Posting(account=seller_account(seller_id, "in_payout"), currency=currency, amount=-amount),
        Posting(account=to, currency=currency, amount=amount),
    ]
    kind = "payout_paid" if succeeded else "payout_returned"
    return _tx(f"payout:{payout_id}:{kind}", kind, postings, at, payout_id=payout_id)


def payout_returned_after_success(
    *, payout_id: str, seller_id: str, currency: str, amount: int, at: float
) -> LedgerTransaction:
    """PayPal gave back a payout it had confirmed: world → available."""
    postings = [
        Posting(account=WORLD, currency=currency, amount=-amount),
        Posting(account=seller_account(seller_id, "available"), currency=currency, amount=amount),
    ]
    tx_id = f"payout:{payout_id}:payout_returned"
    return _tx(tx_id, "payout_returned", postings, at, payout_id=payout_id)


# ------------------------------------------------------------------ helpers


def check_balanced(postings: list[Posting]) -> None:
    """``ValueError`` unless the postings sum to zero in every currency."""
    sums: dict[str, int] = {}
    for p in postings:
        sums[p.currency] = sums.get(p.currency, 0) + p.amount
    unbalanced = {c: s for c, s in sums.items() if s}
    if unbalanced:
        raise ValueError(f"postings do not sum to zero: {unbalanced}")


def _tx(
    tx_id: str,
    kind: str,
    postings: list[Posting],
    at: float,
    *,
    order_id: str | None = None,
    payout_id: str | None = None,
) -> LedgerTransaction:
    check_balanced(postings)
    return LedgerTransaction(
        id=tx_id, kind=kind, order_id=order_id, payout_id=payout_id, postings=postings, at=at
    )


def _replace(order: OrderRecord, **changes: Any) -> OrderRecord:
    return msgspec.structs.replace(order, **changes)
