"""Storage ports of the marketplace: products, orders, the ledger, payouts and
the payment provider's webhook events.

Orders and payouts change by *compare-and-set on a version*: the caller reads
the record, computes the next one with the pure rules of
:mod:`actors.market` (state machine, fees, postings), and writes it with the
version it read; a concurrent change makes the write return ``False`` and the
caller reads again. The write and its ledger transaction (and any stock it
releases) are one consistency boundary, so money moves exactly when the state
does. Ledger transactions are keyed by an idempotency id: posting one twice
is refused (:class:`DuplicateTransaction`) and changes nothing.

Ledger accounts are strings (see :mod:`actors.market`); every transaction's
postings sum to zero per currency and an account's balance is the sum of its
postings, which :meth:`LedgerStore.transactions` and
:meth:`LedgerStore.balances` let a test check.
"""

from __future__ import annotations

from typing import Any, Protocol

import msgspec

from actors.store.social import PageKey


class MarketError(Exception):
    """Base of the marketplace's storage refusals (nothing was changed)."""


class ProductUnavailable(MarketError):
    """The product is paused or deleted (or does not exist)."""


class OutOfStock(MarketError):
    """Fewer items left than asked for."""


class InsufficientBalance(MarketError):
    """A payout above the available balance or below the minimum."""


class DuplicateTransaction(MarketError):
    """A ledger transaction with this id was already posted."""


class ProductRecord(msgspec.Struct, kw_only=True):
    id: str
    seller_id: str
    client_key: str
    title: str
    description: str = ""
    media_ids: list[str] = []
    media_urls: list[str] = []
    media_types: list[str] = []
    price: int
    currency: str
    stock: int | None = None
    """Items left (reservations subtracted); ``None``: unlimited."""
    kind: str = "physical"
    """``"digital"`` or ``"physical"``."""
    status: str = "active"
    """``"active"``, ``"paused"`` or ``"deleted"``."""
    created_at: float
    updated_at: float


class ProductChanges(msgspec.Struct, kw_only=True):
    """An edit: ``None`` leaves a field as it is. ``set_stock`` writes
    ``stock`` even when it is ``None`` (unlimited)."""

    title: str | None = None
    description: str | None = None
    media_ids: list[str] | None = None
    media_urls: list[str] | None = None
    media_types: list[str] | None = None
    price: int | None = None
    stock: int | None = None
    set_stock: bool = False
    status: str | None = None
    at: float


def apply_changes(product: ProductRecord, changes: ProductChanges) -> ProductRecord:
    """``product`` edited by ``changes`` (what an edit means, the same on
    every backend): the fields ``changes`` sets, ``stock`` when it is set or
    ``set_stock`` is true, ``updated_at`` = ``changes.at``."""
    fields: dict[str, Any] = {
        name: value
        for name in (
            "title",
            "description",
            "media_ids",
            "media_urls",
            "media_types",
            "price",
            "status",
        )
        if (value := getattr(changes, name)) is not None
    }
    if changes.set_stock or changes.stock is not None:
        fields["stock"] = changes.stock
    return msgspec.structs.replace(product, **fields, updated_at=changes.at)


class Posting(msgspec.Struct, kw_only=True, frozen=True):
    account: str
    currency: str
    amount: int
    """Signed minor units; a transaction's postings sum to zero per currency."""


class LedgerTransaction(msgspec.Struct, kw_only=True):
    id: str
    """The idempotency key, e.g. ``order:<id>:paid`` (see :mod:`actors.market`)."""
    kind: str
    """``payment``, ``release``, ``refund``, ``reversal``, ``payout``,
    ``payout_paid``, ``payout_returned``."""
    order_id: str | None = None
    payout_id: str | None = None
    postings: list[Posting]
    at: float


class OrderChangeRecord(msgspec.Struct, kw_only=True):
    from_state: str | None
    to_state: str
    cause: str
    at: float


class OrderRecord(msgspec.Struct, kw_only=True):
    id: str
    kind: str
    """``"product"`` or ``"tip"``."""
    buyer_id: str
    seller_id: str
    client_key: str
    product_id: str | None = None
    title: str
    quantity: int = 1
    unit_price: int
    amount: int
    currency: str
    state: str = "created"
    version: int = 0
    """Bumped by every write; the compare-and-set key."""
    stock_reserved: int = 0
    """Items this order holds out of its product's stock (0 for unlimited
    products and tips; set back to 0 when released)."""
    post_id: str | None = None
    stream_id: str | None = None
    message: str = ""
    paypal_order_id: str | None = None
    approval_url: str | None = None
    capture_id: str | None = None
    paypal_fee: int = 0
    platform_fee: int = 0
    seller_share: int = 0
    """What the payment earned the seller: amount - PayPal fee - platform fee."""
    seller_pending: int = 0
    """The part of ``seller_share`` still in the seller's pending balance."""
    refunded: int = 0
    refund_ids: list[str] = []
    """PayPal refund ids already counted (a refund event repeats our call's answer)."""
    paid_at: float | None = None
    release_at: float | None = None
    """When ``seller_pending`` moves to available (``None``: nothing to release)."""
    created_at: float
    updated_at: float
    expires_at: float
    history: list[OrderChangeRecord] = []


class PayoutRecord(msgspec.Struct, kw_only=True):
    id: str
    """Also our ``sender_batch_id`` at PayPal: a retried send never pays twice."""
    seller_id: str
    client_key: str
    amount: int
    currency: str
    paypal_email: str
    status: str = "requested"
    """``requested``, ``sent``, ``succeeded``, ``failed``, ``unclaimed``, ``returned``."""
    version: int = 0
    paypal_batch_id: str | None = None
    paypal_item_id: str | None = None
    failure: str | None = None
    created_at: float
    updated_at: float


class PaymentEventRecord(msgspec.Struct, kw_only=True):
    """A verified webhook event as received (the raw body kept for audit)."""

    id: str
    """PayPal's event id (``WH-…``): the deduplication key."""
    event_type: str
    body: bytes
    received_at: float
    applied_at: float | None = None
    outcome: str | None = None
    """What applying it did: ``applied``, ``duplicate``, ``unknown_order``,
    ``amount_mismatch``, ``ignored``..."""


class ProductStore(Protocol):
    async def create(self, product: ProductRecord) -> ProductRecord:
        """Insert, or return the seller's product with the same ``client_key``
        (a retried create) unchanged."""

    async def get(self, product_id: str) -> ProductRecord | None:
        """Deleted products included (their orders still name them)."""

    async def edit(self, product_id: str, changes: ProductChanges) -> ProductRecord | None:
        """Apply the changes (``updated_at`` = ``changes.at``); ``None`` for an
        unknown or deleted product."""

    async def by_seller(
        self, seller_id: str, *, include_paused: bool, before: PageKey | None, limit: int
    ) -> list[ProductRecord]:
        """Not deleted, newest ``(created_at, id)`` first."""

    async def search(self, query: str, *, offset: int, limit: int) -> list[ProductRecord]:
        """Active products with a word of ``query`` in title or description,
        best match first (ties newest first). Plain text, as post search."""


class OrderStore(Protocol):
    async def create(self, order: OrderRecord) -> tuple[OrderRecord, bool]:
        """Insert and reserve stock, in one step: returns ``(order, True)``;
        or the buyer's order with the same ``client_key`` and ``False`` (a
        retry: nothing reserved again). For a product order, raises
        :class:`ProductUnavailable` when the product is not active and
        :class:`OutOfStock` when its stock is below ``quantity`` (nothing
        changes); with a stock, ``order.stock_reserved`` = ``quantity`` is
        taken from it."""

    async def get(self, order_id: str) -> OrderRecord | None: ...

    async def by_paypal_order(self, paypal_order_id: str) -> OrderRecord | None: ...

    async def by_capture(self, capture_id: str) -> OrderRecord | None: ...

    async def update(
        self,
        order: OrderRecord,
        *,
        expected_version: int,
        ledger: LedgerTransaction | None = None,
        release_stock: int = 0,
    ) -> bool:
        """Write ``order`` (with ``version`` = ``expected_version + 1``) if the
        stored version is ``expected_version``; in the same step post
        ``ledger`` and give ``release_stock`` items back to the product.
        ``False`` (nothing changes) on a version mismatch; raises
        :class:`DuplicateTransaction` (nothing changes) when the ledger
        transaction was posted before."""

    async def list_by(
        self, user_id: str, role: str, *, before: PageKey | None, limit: int
    ) -> list[OrderRecord]:
        """The user's orders as ``"buyer"`` or ``"seller"``, newest first."""

    async def expiring(self, now: float, limit: int) -> list[OrderRecord]:
        """Orders in ``created`` or ``approved`` with ``expires_at <= now``."""

    async def releasing(self, now: float, limit: int) -> list[OrderRecord]:
        """Orders with ``release_at <= now`` (their pending share is due)."""


class LedgerStore(Protocol):
    async def post(self, tx: LedgerTransaction) -> None:
        """Post a transaction on its own; :class:`DuplicateTransaction` for a
        known id. Refuses (``ValueError``) postings that do not sum to zero
        per currency."""

    async def get(self, tx_id: str) -> LedgerTransaction | None: ...

    async def balance(self, account: str, currency: str) -> int:
        """The sum of the account's postings in ``currency`` (0 if none)."""

    async def balances(self, account_prefix: str) -> dict[tuple[str, str], int]:
        """``{(account, currency): balance}`` of the accounts whose name starts
        with the prefix (``""``: every account), from the kept balances."""

    async def transactions(self, *, after: str | None, limit: int) -> list[LedgerTransaction]:
        """Every transaction in id order (an audit walks them all)."""


class PayoutStore(Protocol):
    async def create(
        self, payout: PayoutRecord, *, take_all: bool, minimum: int, ledger_id: str
    ) -> tuple[PayoutRecord, bool]:
        """Reserve the money and insert the payout, in one step: the amount is
        ``payout.amount``, or (``take_all``) the seller's whole available
        balance; below ``minimum`` or above the available balance raises
        :class:`InsufficientBalance`. Posts :func:`actors.market.payout_reserve`
        under ``ledger_id``. A retry (same seller and ``client_key``) returns
        the first payout and ``False``."""

    async def get(self, payout_id: str) -> PayoutRecord | None: ...

    async def by_paypal_batch(self, paypal_batch_id: str) -> PayoutRecord | None: ...

    async def update(
        self,
        payout: PayoutRecord,
        *,
        expected_version: int,
        ledger: LedgerTransaction | None = None,
    ) -> bool:
        """As :meth:`OrderStore.update`."""

    async def list_by(
        self, seller_id: str, *, before: PageKey | None, limit: int
    ) -> list[PayoutRecord]:
        """Newest first."""

    async def open(self, limit: int) -> list[PayoutRecord]:
        """Payouts in ``requested``, ``sent`` or ``unclaimed``, oldest first
        (sent again, or polled)."""


class PaymentEventStore(Protocol):
    async def record(self, event: PaymentEventRecord) -> bool:
        """Keep a verified event; ``False`` when its id is known (a redelivery)."""

    async def get(self, event_id: str) -> PaymentEventRecord | None: ...

    async def unapplied(self, limit: int) -> list[PaymentEventRecord]:
        """Events recorded but not yet applied, oldest first."""

    async def mark_applied(self, event_id: str, outcome: str, at: float) -> None: ...
