"""Marketplace: creators' products, orders paid through PayPal, tips, and the
balances and payouts of creators.

Money is always an integer in the currency's *minor units* (cents for USD,
yen for JPY: :data:`CURRENCY_DIGITS` gives the decimals of each currency)
beside an ISO 4217 ``currency``; never a float.

**Orders.** ``order.create`` reserves the stock and returns the order in
state ``created`` with PayPal's ``approval_url``: the app opens it, the buyer
approves, and the app calls ``order.capture`` when PayPal sends the buyer
back (PayPal's webhook captures it too, whichever comes first; both are
safe). States::

    created ─► approved ─► paid ─► fulfilled
       │           │         │         │
       ▼           ▼         ▼         ▼
    cancelled   cancelled  refunded / partially_refunded
    expired     expired

``paid`` may also follow ``created`` directly (PayPal's capture event can
arrive before its approval event). Digital products and tips are
``fulfilled`` as soon as they are paid; a physical order is fulfilled by its
seller (``order.fulfill``). An unpaid order expires after
``order_ttl`` (30 minutes by default) and its stock is released, as on
cancel or a declined payment. Every change is kept with its cause in the
order's ``history`` and pushed as ``order.updated`` to the buyer's and the
seller's sessions; the seller also gets an ``order`` notification when an
order is paid.

**Tips** are orders without a product (``tip.create``), to a creator, on a
post or during a live stream; a paid tip on a stream appears in its chat as a
highlighted line (``ChatLine.tip``) and the creator gets a ``tip``
notification.

**Balances.** What buyers pay, less PayPal's fee and the platform's fee, is
the seller's: ``pending`` for a hold period (refunds come out of it first),
then ``available``. ``payout.request`` sends available money to a PayPal
account (``in_payout`` until PayPal confirms); a failed or returned payout
comes back to ``available``. ``payout.updated`` follows a payout's states:
``requested`` → ``sent`` → ``succeeded``, or ``failed``, ``unclaimed``
(waiting for the receiver to sign up to PayPal), ``returned``.

Without PayPal credentials on the server, ``order.create`` and
``tip.create`` (and refunds and payouts) answer ``payments_not_configured``;
products and shops work as usual.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, get_args

import msgspec
from msgspec import Meta

from protocol import limits
from protocol.frames import Empty, Event, ObjectId, Request
from protocol.messages.accounts import Email, UserProfile

Currency = Literal[
    "AUD", "BRL", "CAD", "CHF", "CZK", "DKK", "EUR", "GBP", "HKD", "HUF", "ILS",
    "JPY", "MXN", "MYR", "NOK", "NZD", "PHP", "PLN", "SEK", "SGD", "THB", "TWD", "USD",
]  # fmt: skip
"""The currencies PayPal settles in."""
CURRENCY_DIGITS: Final[dict[str, int]] = {
    c: 0 if c in ("HUF", "JPY", "TWD") else 2 for c in get_args(Currency)
}
"""Decimals of each currency as PayPal counts them (HUF, JPY and TWD have
none): ``amount / 10**digits`` is what a person reads."""

ClientKey = Annotated[str, Meta(min_length=1, max_length=limits.CLIENT_KEY_MAX)]
Cursor = Annotated[str, Meta(min_length=1, max_length=limits.CURSOR_MAX)]
PageLimit = Annotated[int, Meta(ge=1, le=limits.PAGE_LIMIT_MAX)]
Amount = Annotated[int, Meta(ge=1, le=limits.PRICE_MAX)]
"""Minor units; a float (even ``12.0``) or a negative number is ``invalid_field``."""
Title = Annotated[str, Meta(min_length=1, max_length=limits.TITLE_MAX)]
Description = Annotated[str, Meta(max_length=limits.PRODUCT_DESCRIPTION_MAX)]
Stock = Annotated[int, Meta(ge=0, le=limits.STOCK_MAX)]
Quantity = Annotated[int, Meta(ge=1, le=limits.ORDER_QUANTITY_MAX)]
MediaIds = Annotated[list[ObjectId], Meta(max_length=limits.PRODUCT_MEDIA_MAX)]
TipMessage = Annotated[str, Meta(max_length=limits.TIP_MESSAGE_MAX)]
ProductKind = Literal["digital", "physical"]
ProductStatus = Literal["active", "paused"]
OrderState = Literal[
    "created",
    "approved",
    "paid",
    "fulfilled",
    "cancelled",
    "expired",
    "refunded",
    "partially_refunded",
]
OrderKind = Literal["product", "tip"]
PayoutStatus = Literal["requested", "sent", "succeeded", "failed", "unclaimed", "returned"]
OrderRole = Literal["buyer", "seller"]


# --------------------------------------------------------------------- views


class ProductView(msgspec.Struct, kw_only=True):
    id: str
    seller: UserProfile
    title: str
    description: str
    media_urls: list[str]
    media_types: list[str]
    price: int
    currency: Currency
    stock: int | None
    """Items left to sell (reserved ones excluded); ``None``: unlimited."""
    kind: ProductKind
    status: ProductStatus
    created_at: float
    updated_at: float


class ProductPage(msgspec.Struct, kw_only=True):
    products: list[ProductView]
    next_cursor: str | None


class OrderChange(msgspec.Struct, kw_only=True):
    """One transition of an order and what caused it: ``request:<user id>``,
    ``paypal:<webhook event id>``, ``capture`` (our capture call's answer),
    ``expiry``."""

    from_state: OrderState | None
    """``None`` for the creation."""
    to_state: OrderState
    cause: str
    at: float


class OrderView(msgspec.Struct, kw_only=True):
    id: str
    kind: OrderKind
    buyer: UserProfile
    seller: UserProfile
    product_id: str | None
    title: str
    """The product's title when ordered, or "Tip"."""
    quantity: int
    unit_price: int
    amount: int
    """What the buyer pays: ``unit_price * quantity``."""
    currency: Currency
    state: OrderState
    refunded: int
    """Minor units refunded so far."""
    approval_url: str | None
    """PayPal's page where the buyer approves the payment, while ``created``."""
    post_id: str | None = None
    """A tip's post."""
    stream_id: str | None = None
    """A tip's live stream."""
    message: str = ""
    """A tip's message."""
    created_at: float
    updated_at: float
    expires_at: float
    """When an unpaid order expires."""
    history: list[OrderChange]


class OrderPage(msgspec.Struct, kw_only=True):
    orders: list[OrderView]
    next_cursor: str | None


class Balance(msgspec.Struct, kw_only=True):
    currency: Currency
    pending: int
    """Earned, still within the hold period."""
    available: int
    """May be paid out (negative after a refund larger than what was pending:
    later earnings pay it back)."""
    in_payout: int
    """Sent to PayPal and not yet confirmed."""


class Balances(msgspec.Struct, kw_only=True):
    balances: list[Balance]
    """One per currency the caller ever earned in."""
    payout_minimum: int
    """The smallest payout, in minor units of any currency."""


class PayoutView(msgspec.Struct, kw_only=True):
    id: str
    amount: int
    currency: Currency
    paypal_email: str
    status: PayoutStatus
    failure: str | None
    """PayPal's reason for a ``failed`` or ``returned`` payout (e.g. ``RECEIVER_UNREGISTERED``)."""
    created_at: float
    updated_at: float


class PayoutPage(msgspec.Struct, kw_only=True):
    payouts: list[PayoutView]
    next_cursor: str | None


# ------------------------------------------------------------------ products


class CreateProduct(Request, tag="product.create", kw_only=True):
    """List a product in the caller's shop. ``stock`` ``None`` is unlimited.
    ``media_ids`` are the caller's unused uploads, as for posts. A retry with
    the same ``client_key`` returns the first product."""

    client_key: ClientKey
    title: Title
    description: Description = ""
    media_ids: MediaIds = []
    price: Amount
    currency: Currency
    stock: Stock | None = None
    kind: ProductKind = "physical"

    reply = ProductView


class EditProduct(Request, tag="product.edit", kw_only=True):
    """Change what is given; the seller's only. ``status`` ``paused`` takes the
    product off sale (orders already made keep going); a new price applies to
    later orders. ``unlimited`` clears the stock count (``stock`` sets one;
    both is ``invalid_field``). ``media_ids`` replaces the media: the
    dropped ones are freed, new ones must be the caller's unused uploads.
    Someone else's product is ``forbidden`` (``not_found`` if they may not
    see it)."""

    product_id: ObjectId
    title: Title | None = None
    description: Description | None = None
    media_ids: MediaIds | None = None
    price: Amount | None = None
    stock: Stock | None = None
    unlimited: bool = False
    status: ProductStatus | None = None

    reply = ProductView


class DeleteProduct(Request, tag="product.delete", kw_only=True):
    """Remove a product from sale for good; its orders stay."""

    product_id: ObjectId

    reply = Empty


class GetProduct(Request, tag="product.get", kw_only=True):
    """A product; a paused one for its seller only. A deleted product, or
    one whose seller is blocked either way, is ``not_found``."""

    product_id: ObjectId

    reply = ProductView


class ShopProducts(Request, tag="product.by_seller", kw_only=True):
    """A creator's shop, newest first; paused products only for their seller.
    A creator blocked either way is ``not_found``."""

    user_id: ObjectId
    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = ProductPage


class SearchProducts(Request, tag="product.search", kw_only=True):
    """Active products whose title or description has a word of ``query``
    (plain text, as ``search.query``), best match first."""

    query: Annotated[str, Meta(min_length=1, max_length=limits.SEARCH_TEXT_MAX)]
    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = ProductPage


# -------------------------------------------------------------------- orders


class CreateOrder(Request, tag="order.create", kw_only=True):
    """Buy ``quantity`` of a product: reserves the stock and opens a PayPal
    checkout (``approval_url``). A retry with the same ``client_key`` returns
    the same order. A paused or deleted product is ``product_unavailable``,
    too few items ``out_of_stock``, one's own product ``forbidden``."""

    client_key: ClientKey
    product_id: ObjectId
    quantity: Quantity = 1

    reply = OrderView


class CreateTip(Request, tag="tip.create", kw_only=True):
    """Tip a creator, on one of their posts or during their live stream (at
    most one of the two), through the same checkout as an order."""

    client_key: ClientKey
    creator_id: ObjectId
    amount: Amount
    currency: Currency
    post_id: ObjectId | None = None
    stream_id: ObjectId | None = None
    message: TipMessage = ""

    reply = OrderView


class CaptureOrder(Request, tag="order.capture", kw_only=True):
    """The buyer approved on PayPal: take the payment. Answers the order
    ``paid`` (or as it already was); a declined payment is
    ``payment_declined`` and cancels the order."""

    order_id: ObjectId

    reply = OrderView


class CancelOrder(Request, tag="order.cancel", kw_only=True):
    """The buyer gives up an unpaid order; its stock is released."""

    order_id: ObjectId

    reply = OrderView


class FulfillOrder(Request, tag="order.fulfill", kw_only=True):
    """The seller has shipped a paid physical order."""

    order_id: ObjectId

    reply = OrderView


class RefundOrder(Request, tag="order.refund", kw_only=True):
    """The seller gives money back through PayPal: ``amount`` minor units, or
    all that is left when omitted. Above what is left is ``refund_exceeds_paid``.
    A retry with the same ``client_key`` refunds nothing twice."""

    client_key: ClientKey
    order_id: ObjectId
    amount: Amount | None = None

    reply = OrderView


class GetOrder(Request, tag="order.get", kw_only=True):
    """An order of the caller's, as buyer or seller."""

    order_id: ObjectId

    reply = OrderView


class ListOrders(Request, tag="order.list", kw_only=True):
    """The caller's orders as buyer or as seller, newest first."""

    role: OrderRole = "buyer"
    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = OrderPage


# ------------------------------------------------------- balances and payouts


class GetBalances(Request, tag="balance.get", kw_only=True):
    reply = Balances


class RequestPayout(Request, tag="payout.request", kw_only=True):
    """Send ``amount`` (all that is available when omitted) of ``currency`` to
    the PayPal account of ``paypal_email``. Above the available balance, or
    below the minimum, is ``insufficient_balance``. A retry with the same
    ``client_key`` returns the first payout and pays nothing twice."""

    client_key: ClientKey
    currency: Currency
    amount: Amount | None = None
    paypal_email: Email

    reply = PayoutView


class ListPayouts(Request, tag="payout.list", kw_only=True):
    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = PayoutPage


# -------------------------------------------------------------------- events


class OrderUpdated(Event, tag="order.updated", kw_only=True):
    """An order of yours (as buyer or seller) changed state."""

    order: OrderView


class PayoutUpdated(Event, tag="payout.updated", kw_only=True):
    """A payout of yours changed status."""

    payout: PayoutView


REQUESTS: tuple[type[Request], ...] = (
    CreateProduct,
    EditProduct,
    DeleteProduct,
    GetProduct,
    ShopProducts,
    SearchProducts,
    CreateOrder,
    CreateTip,
    CaptureOrder,
    CancelOrder,
    FulfillOrder,
    RefundOrder,
    GetOrder,
    ListOrders,
    GetBalances,
    RequestPayout,
    ListPayouts,
)
EVENTS: tuple[type[Event], ...] = (OrderUpdated, PayoutUpdated)
