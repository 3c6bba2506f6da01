"""Changing an order or a payout: compare-and-set until the write wins, then
tell the people concerned.

Every change is computed by a *step* from the record as it is now (pure
rules of :mod:`actors.market`); the store writes it only if nobody changed
the record meanwhile (its ``version``), together with the ledger
transaction and the stock it releases. A step that finds nothing to do (the
order is already paid, the refund already counted) returns ``None``: that is
how a retried request, a redelivered webhook and our own capture's answer
racing the capture's webhook all end in one change.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import NamedTuple, TypeVar

import msgspec

from actors.errors import ActorError
from actors.sessions import Delivery
from actors.store.market import (
    DuplicateTransaction,
    LedgerTransaction,
    OrderRecord,
    PayoutRecord,
)
from actors.user import PushMany, user_key
from protocol.codec import encode_event_body
from protocol.errors import ErrorCode, ProtocolError
from protocol.frames import Event
from protocol.messages import market as m
from server.context import Services
from server.market.views import order_views, payout_view

log = logging.getLogger("grover.market")

MAX_TRIES = 16
"""Writes lost to concurrent changes before giving up (each loss means
another writer made progress, so this is only reached under a storm)."""


class OrderStep(NamedTuple):
    order: OrderRecord
    ledger: LedgerTransaction | None = None
    release_stock: int = 0


class PayoutStep(NamedTuple):
    payout: PayoutRecord
    ledger: LedgerTransaction | None = None


R = TypeVar("R")
S = TypeVar("S")


def _busy() -> ProtocolError:
    return ProtocolError(ErrorCode.OVERLOADED, "the order is changing too fast; retry")


def not_found(what: str) -> ProtocolError:
    return ProtocolError(ErrorCode.NOT_FOUND, f"no such {what}")


async def change_order(
    services: Services, order_id: str, step: Callable[[OrderRecord], OrderStep | None]
) -> tuple[OrderRecord, OrderRecord | None]:
    """Apply ``step`` to the order until the write wins. Returns the order as
    it is now and, if this call changed it, the order as it was before."""
    orders = services.store.orders

    async def write(order: OrderRecord, result: OrderStep) -> OrderRecord | None:
        written = await orders.update(
            result.order,
            expected_version=order.version,
            ledger=result.ledger,
            release_stock=result.release_stock,
        )
        return msgspec.structs.replace(result.order, version=order.version + 1) if written else None

    new, before = await _change("order", order_id, orders.get, step, write)
    if before is not None:
        await push_order(services, new)
    return new, before


async def change_payout(
    services: Services, payout_id: str, step: Callable[[PayoutRecord], PayoutStep | None]
) -> tuple[PayoutRecord, PayoutRecord | None]:
    """As :func:`change_order`, for a payout."""
    payouts = services.store.payouts

    async def write(payout: PayoutRecord, result: PayoutStep) -> PayoutRecord | None:
        written = await payouts.update(
            result.payout, expected_version=payout.version, ledger=result.ledger
        )
        return (
            msgspec.structs.replace(result.payout, version=payout.version + 1) if written else None
        )

    new, before = await _change("payout", payout_id, payouts.get, step, write)
    if before is not None:
        push(services, new.seller_id, m.PayoutUpdated(payout=payout_view(new)))
    return new, before


async def _change(
    what: str,
    record_id: str,
    get: Callable[[str], Awaitable[R | None]],
    step: Callable[[R], S | None],
    write: Callable[[R, S], Awaitable[R | None]],
) -> tuple[R, R | None]:
    """The compare-and-set loop of both: ``write`` returns the record as
    written, or ``None`` when another writer changed it first."""
    for _ in range(MAX_TRIES):
        record = await get(record_id)
        if record is None:
            raise not_found(what)
        result = step(record)
        if result is None:
            return record, None
        try:
            written = await write(record, result)
        except DuplicateTransaction:
            # The money moved in an earlier change of this record: nothing to do.
            log.info("ledger transaction already posted", extra={f"{what}_id": record_id})
            current = await get(record_id)
            assert current is not None
            return current, None
        if written is not None:
            return written, record
    raise _busy()


async def push_order(services: Services, order: OrderRecord) -> None:
    """``order.updated`` to every session of the buyer and of the seller."""
    views = await order_views(services.store, [order])
    if views:
        event = m.OrderUpdated(order=views[0])
        for user_id in {order.buyer_id, order.seller_id}:
            push(services, user_id, event)


def push(services: Services, user_id: str, event: Event) -> None:
    """A tell to the user's actor: the change it reports is stored already;
    a session that misses it reads the order again (``order.get``)."""
    try:
        services.actors.tell(user_key(user_id), PushMany([Delivery(encode_event_body(event))]))
    except ActorError:
        log.warning("an order event could not be queued", exc_info=True)
