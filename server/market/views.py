"""Records of the marketplace as the protocol shows them."""

from __future__ import annotations

from collections.abc import Sequence

import msgspec

from actors.inbox import profiles_of
from actors.market import UNPAID, seller_account
from actors.store import Store
from actors.store.market import OrderRecord, PayoutRecord
from protocol.messages import accounts
from protocol.messages import market as m


def order_view(order: OrderRecord, people: dict[str, accounts.UserProfile]) -> m.OrderView:
    return m.OrderView(
        id=order.id,
        kind=order.kind,  # type: ignore[arg-type]
        buyer=people[order.buyer_id],
        seller=people[order.seller_id],
        product_id=order.product_id,
        title=order.title,
        quantity=order.quantity,
        unit_price=order.unit_price,
        amount=order.amount,
        currency=order.currency,  # type: ignore[arg-type]
        state=order.state,  # type: ignore[arg-type]
        refunded=order.refunded,
        approval_url=order.approval_url if order.state in UNPAID else None,
        post_id=order.post_id,
        stream_id=order.stream_id,
        message=order.message,
        created_at=order.created_at,
        updated_at=order.updated_at,
        expires_at=order.expires_at,
        history=[msgspec.convert(c, m.OrderChange, from_attributes=True) for c in order.history],
    )


async def order_views(store: Store, orders: Sequence[OrderRecord]) -> list[m.OrderView]:
    # Plain profiles: an order names both parties whatever came between them
    # since (a block does not erase a purchase).
    people = await profiles_of(store, [u for o in orders for u in (o.buyer_id, o.seller_id)])
    # An account deleted since cannot be shown; its orders stay in the ledger.
    return [order_view(o, people) for o in orders if o.buyer_id in people and o.seller_id in people]


def payout_view(payout: PayoutRecord) -> m.PayoutView:
    return msgspec.convert(payout, m.PayoutView, from_attributes=True)


async def balances(store: Store, seller_id: str, minimum: int) -> m.Balances:
    """The seller's three balances per currency, from the kept ledger balances."""
    prefix = seller_account(seller_id, "")
    rows = await store.ledger.balances(prefix)
    by_currency: dict[str, dict[str, int]] = {}
    for (account, currency), amount in rows.items():
        bucket = account.removeprefix(prefix)
        by_currency.setdefault(currency, {})[bucket] = amount
    return m.Balances(
        balances=[
            m.Balance(
                currency=currency,  # type: ignore[arg-type]
                pending=b.get("pending", 0),
                available=b.get("available", 0),
                in_payout=b.get("in_payout", 0),
            )
            for currency, b in sorted(by_currency.items())
        ],
        payout_minimum=minimum,
    )
