"""Marketplace records as the domain would build them, for the store suites."""

from __future__ import annotations

from actors.ids import new_id
from actors.market import seller_account
from actors.store import Store
from actors.store.market import (
    LedgerTransaction,
    OrderRecord,
    PaymentEventRecord,
    PayoutRecord,
    Posting,
    ProductRecord,
)
from tests.store.records import T0


def make_product(
    seller: str = "s1",
    *,
    title: str = "Mug",
    description: str = "",
    stock: int | None = 10,
    status: str = "active",
    at: float = T0,
    client_key: str | None = None,
    price: int = 1500,
) -> ProductRecord:
    return ProductRecord(
        id=new_id(),
        seller_id=seller,
        client_key=client_key or new_id(),
        title=title,
        description=description,
        media_ids=["m1"],
        media_urls=["https://cdn.example/m1.jpg"],
        media_types=["image"],
        price=price,
        currency="USD",
        stock=stock,
        status=status,
        created_at=at,
        updated_at=at,
    )


def make_order(
    buyer: str = "b1",
    product: ProductRecord | None = None,
    *,
    seller: str = "s1",
    quantity: int = 1,
    at: float = T0,
    client_key: str | None = None,
    amount: int = 1500,
) -> OrderRecord:
    """A product order (for ``product``) or, without one, a tip."""
    return OrderRecord(
        id=new_id(),
        kind="tip" if product is None else "product",
        buyer_id=buyer,
        seller_id=product.seller_id if product is not None else seller,
        client_key=client_key or new_id(),
        product_id=None if product is None else product.id,
        title="Tip" if product is None else product.title,
        quantity=quantity,
        unit_price=amount,
        amount=amount * quantity,
        currency="USD",
        created_at=at,
        updated_at=at,
        expires_at=at + 3600,
    )


def transfer(
    tx_id: str, source: str, target: str, amount: int, *, currency: str = "USD", at: float = T0
) -> LedgerTransaction:
    """A balanced two-posting transaction ``source`` → ``target``."""
    return LedgerTransaction(
        id=tx_id,
        kind="payment",
        postings=[
            Posting(account=source, currency=currency, amount=-amount),
            Posting(account=target, currency=currency, amount=amount),
        ],
        at=at,
    )


async def fund(store: Store, seller: str, amount: int, *, currency: str = "USD") -> None:
    """Put ``amount`` in the seller's available balance (from ``world``)."""
    target = seller_account(seller, "available")
    await store.ledger.post(
        transfer(f"fund:{new_id()}", "world", target, amount, currency=currency)
    )


def make_payout(
    seller: str = "s1", *, amount: int = 1000, at: float = T0, client_key: str | None = None
) -> PayoutRecord:
    return PayoutRecord(
        id=new_id(),
        seller_id=seller,
        client_key=client_key or new_id(),
        amount=amount,
        currency="USD",
        paypal_email=f"{seller}@example.com",
        created_at=at,
        updated_at=at,
    )


def make_event(event_id: str | None = None, *, at: float = T0) -> PaymentEventRecord:
    return PaymentEventRecord(
        id=event_id or f"WH-{new_id()}",
        event_type="PAYMENT.CAPTURE.COMPLETED",
        body=b'{"id": "x", "\\u00e9": "\xc3\xa9"}\x00\xff',
        received_at=at,
    )
