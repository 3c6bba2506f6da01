"""Ports to outside services the domain needs, beside the storage ports of
:mod:`actors.store`: Protocols only. Their implementations live in ``server/``
by service (``server/media_storage/local.py`` and ``cloudinary.py`` for
:class:`MediaStorage`; ``server/live_tokens/agora.py`` and ``dev.py`` for
:class:`LiveTokenIssuer`; ``server/payments/paypal.py`` and ``disabled.py``
for :class:`PaymentGateway`), and :mod:`server.wiring` picks one from the settings.
"""

from __future__ import annotations

import pathlib
from typing import Literal, Protocol

import msgspec


class MediaFile(msgspec.Struct, kw_only=True):
    """One file of a processed upload, on local disk (a temporary file the
    storage may move or read; it is removed by the caller afterwards)."""

    variant: str
    """``"main"`` (the processed image, or the video as uploaded) or
    ``"thumb"`` (an image's 320 px thumbnail)."""
    path: pathlib.Path
    content_type: str
    """``image/webp``, ``image/jpeg``, ``image/gif``, ``video/mp4``, ``video/quicktime``..."""
    extension: str
    """Without the dot: ``webp``, ``jpg``, ``gif``, ``mp4``, ``mov``..."""


class StoredMedia(msgspec.Struct, kw_only=True):
    """Where a medium lives once stored: its public URLs and the key its
    storage needs to delete it (opaque to everyone else)."""

    url: str
    thumbnail_url: str | None
    """``None`` for videos (no thumbnail is made: no transcoding)."""
    storage_key: str


class MediaStorage(Protocol):
    """Where uploaded media are kept and served from: a local folder (the
    default) or Cloudinary. Implementations never block the event loop."""

    name: str
    """``"local"`` or ``"cloudinary"``."""

    async def save(self, media_id: str, kind: str, files: list[MediaFile]) -> StoredMedia:
        """Store the files of medium ``media_id`` (``kind`` is ``"image"`` or
        ``"video"``). Idempotent: saving the same id again replaces it (a
        retried upload). Raises ``MediaStorageError`` when the service
        refuses or cannot be reached, leaving nothing behind."""

    async def delete(self, stored: StoredMedia) -> None:
        """Remove a stored medium (all its files); a medium already gone is
        not an error."""


class MediaStorageError(Exception):
    """The storage could not take or remove a medium."""


LiveRole = Literal["publisher", "subscriber"]
"""A publisher (the stream's host) may send audio, video and data; a
subscriber (a viewer) may only join and receive."""

LIVE_ROLES: tuple[LiveRole, ...] = ("publisher", "subscriber")


class LiveToken(msgspec.Struct, kw_only=True, frozen=True):
    """A token letting one account join one live-video channel, as the
    client passes it to its RTC SDK (Agora's ``join``)."""

    token: str
    app_id: str
    """The RTC project the token is for: clients need it beside the token to
    join. Empty for development tokens."""
    channel: str
    account: str
    """The Grover user id the token is bound to (Agora's *user account*, a
    string, rather than a numeric uid: see docs/decisions.md)."""
    role: LiveRole
    expires_at: float
    """Unix seconds after which the token, and every privilege in it, no
    longer lets the client join or publish: renew it before then."""
    development: bool
    """``True`` for tokens of the development issuer, which no RTC service
    accepts (no Agora credentials are configured)."""


class LiveTokenIssuer(Protocol):
    """Issues RTC tokens for live streams: Agora's AccessToken2 when
    credentials are configured, development tokens otherwise. Pure CPU work
    (microseconds), so synchronous."""

    name: str
    """``"agora"`` or ``"dev"``."""

    def issue(self, channel: str, account: str, role: LiveRole, ttl: float) -> LiveToken:
        """A token for ``account`` in ``channel`` with ``role``'s privileges,
        valid for ``ttl`` seconds from now. Raises :class:`LiveTokenError` for
        input the service would refuse (a bad channel name or account, an
        unknown role, a ttl out of range), never returning an empty or broken
        token."""


class LiveTokenError(ValueError):
    """A token could not be issued, or a token string does not decode or
    verify. Messages never quote an app certificate or signing key."""


class CheckoutOrder(msgspec.Struct, kw_only=True, frozen=True):
    """A payment opened at the provider for one of our orders."""

    provider_order_id: str
    approval_url: str
    """Where the buyer approves the payment."""
    status: str
    """PayPal's order status (``CREATED``, ``APPROVED``, ``COMPLETED``...)."""


class Capture(msgspec.Struct, kw_only=True, frozen=True):
    """The outcome of capturing an approved payment."""

    capture_id: str
    status: str
    """``COMPLETED``, ``DECLINED``, ``PENDING``, ``FAILED``..."""
    amount: int
    """Minor units captured."""
    currency: str
    paypal_fee: int
    """From the capture's ``seller_receivable_breakdown`` (0 when absent)."""
    order_id: str | None
    """Our order id, from the purchase unit's ``custom_id``."""


class Refund(msgspec.Struct, kw_only=True, frozen=True):
    refund_id: str
    status: str
    amount: int
    currency: str
    paypal_fee_returned: int
    """PayPal's fee given back with this refund (0 when absent)."""


class PayoutItem(msgspec.Struct, kw_only=True, frozen=True):
    item_id: str
    status: str
    """PayPal's ``transaction_status``: ``SUCCESS``, ``FAILED``, ``UNCLAIMED``,
    ``RETURNED``, ``PENDING``, ``BLOCKED``, ``REFUNDED``..."""
    error: str | None
    """``errors.name`` of a failed item (e.g. ``RECEIVER_UNREGISTERED``)."""


class PayoutBatch(msgspec.Struct, kw_only=True, frozen=True):
    batch_id: str
    """PayPal's ``payout_batch_id``."""
    sender_batch_id: str
    """Ours: the payout's id."""
    status: str
    """``PENDING``, ``PROCESSING``, ``SUCCESS``, ``DENIED``, ``CANCELED``..."""
    items: list[PayoutItem]


class PaymentNotice(msgspec.Struct, kw_only=True, frozen=True):
    """A verified webhook event, in the terms the marketplace acts on.

    ``kind``: ``order_approved``, ``capture_completed``, ``capture_denied``,
    ``capture_pending``, ``capture_refunded``, ``capture_reversed``,
    ``payout_batch`` (``PAYMENT.PAYOUTSBATCH.*``: follow up by polling),
    ``payout_item`` (``PAYMENT.PAYOUTS-ITEM.*``), or ``ignored`` (a type we
    do not act on)."""

    event_id: str
    event_type: str
    kind: str
    order_id: str | None = None
    """Ours (the purchase unit's ``custom_id``), when the event carries it."""
    provider_order_id: str | None = None
    capture_id: str | None = None
    refund_id: str | None = None
    amount: int | None = None
    currency: str | None = None
    paypal_fee: int = 0
    """A capture's PayPal fee, or a refund's fee given back."""
    payout_batch_id: str | None = None
    sender_batch_id: str | None = None
    payout_item_id: str | None = None
    payout_item_status: str | None = None
    payout_error: str | None = None


class PaymentGateway(Protocol):
    """The payment provider: PayPal (Orders v2, Payments, Payouts, webhooks)
    when credentials are configured, else one that refuses everything with
    :class:`PaymentsNotConfigured`. Every call carries a request id (or, for
    payouts, our ``sender_batch_id``) so that a retry never charges, refunds
    or pays twice. Raises :class:`PaymentError` when the provider refuses or
    cannot be reached after retries."""

    name: str
    """``"paypal"`` or ``"disabled"``."""
    configured: bool

    async def create_order(
        self, *, order_id: str, amount: int, currency: str, description: str, request_id: str
    ) -> CheckoutOrder: ...

    async def capture(self, provider_order_id: str, *, request_id: str) -> Capture:
        """A declined payment is a :class:`Capture` with status ``DECLINED``
        (not an exception) when the provider reports it as such."""

    async def refund(
        self, capture_id: str, *, amount: int, currency: str, request_id: str
    ) -> Refund: ...

    async def send_payout(
        self, *, sender_batch_id: str, amount: int, currency: str, receiver: str
    ) -> PayoutBatch:
        """One item to ``receiver`` (a PayPal email). A ``sender_batch_id`` the
        provider already knows answers that batch, not a second payment."""

    async def get_payout(self, batch_id: str) -> PayoutBatch: ...

    async def verify_webhook(self, headers: dict[str, str], body: bytes) -> PaymentNotice:
        """Verify the signature over the raw ``body`` (before reading it) and
        parse the event. Raises :class:`WebhookRejected` for anything not
        proven to come from the provider, or not an event."""

    async def close(self) -> None:
        """Release connections (at the node's stop)."""


class PaymentsNotConfigured(Exception):
    """No payment provider credentials are configured."""


class PaymentError(Exception):
    """The provider refused (``retryable`` False: a 4xx, with its ``issue``
    name such as ``ORDER_NOT_APPROVED``) or could not be reached or failed
    after retries (``retryable`` True)."""

    def __init__(self, message: str, *, retryable: bool, issue: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.issue = issue


class WebhookRejected(Exception):
    """A webhook delivery that must not be read: bad or missing signature,
    certificate not from the provider, unparseable body. ``status`` is the
    HTTP status to answer (400, 401, 413)."""

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class ActorObserver(Protocol):
    """What the actor runtime tells about its activations (the node's metrics)."""

    def activated(self, kind: str) -> None: ...

    def passivated(self, kind: str) -> None: ...

    def handled(self, kind: str, seconds: float) -> None:
        """A mailbox message took ``seconds`` (inline fast paths aside)."""
