"""PayPal as a :class:`~actors.ports.PaymentGateway`: Orders v2 (create and
capture), Payments (refund a capture), Payouts (one item per batch) and
webhook verification, over our own small aiohttp client
(:mod:`server.payments.paypal_http`); no SDK (``paypalrestsdk`` is deprecated
and synchronous, PayPal's current SDK has neither Payouts nor webhooks).

Amounts are our minor units; PayPal's decimal strings go through
:func:`actors.market.to_decimal` / :func:`~actors.market.from_decimal`.

A payout's ``sender_batch_id`` that PayPal already knows (HTTP 400
``USER_BUSINESS_ERROR``, "Batch with given sender_batch_id already exists")
answers the existing batch, never a second payment: its id is read from
the link PayPal's error carries (only the id: the batch is then fetched
from our configured API host, never from a URL taken from a reply), or
else from the ids of batches this process created (PayPal has no lookup
by ``sender_batch_id``). Without either, :class:`PaymentError` with issue
``DUPLICATE_SENDER_BATCH_ID``: the caller keeps the batch id it was given
the first time and polls :meth:`PayPalGateway.get_payout` with it.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from typing import Any

import msgspec

from actors.market import from_decimal, to_decimal
from actors.ports import (
    Capture,
    CheckoutOrder,
    PaymentError,
    PaymentNotice,
    PayoutBatch,
    PayoutItem,
    Refund,
)
from protocol.messages.market import CURRENCY_DIGITS
from server.payments.paypal_http import PayPalConfig, PayPalHTTP, PayPalRefused
from server.payments.webhooks import WebhookVerifier

__all__ = ["PayPalConfig", "PayPalGateway"]

log = logging.getLogger(__name__)

_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""PayPal's order, capture and batch ids as they go into a path."""
_BATCH_LINK = re.compile(r"/v1/payments/payouts/([A-Za-z0-9_-]{1,64})(?:[/?#]|$)")
_KNOWN_BATCHES = 10_000
CUSTOM_ID_MAX = 127
DESCRIPTION_MAX = 127


class PayPalGateway:
    """PayPal's REST API for one app. One ``aiohttp.ClientSession`` (made on
    first use), closed by :meth:`close`."""

    name = "paypal"
    configured = True

    def __init__(
        self,
        config: PayPalConfig,
        *,
        return_url: str,
        cancel_url: str,
        brand_name: str = "Grover",
        payout_subject: str = "You have a payout from Grover",
        timeout: float = 10.0,
        attempts: int = 4,
        backoff: float = 0.25,
        webhook_tolerance: float = 300.0,
    ) -> None:
        self.config = config
        self.return_url = return_url
        self.cancel_url = cancel_url
        self.brand_name = brand_name
        self.payout_subject = payout_subject
        self.http = PayPalHTTP(config, timeout=timeout, attempts=attempts, backoff=backoff)
        self.webhooks = WebhookVerifier(
            webhook_id=config.webhook_id,
            mode=config.mode,
            base_url=config.base_url,
            ca_file=config.ca_file,
            tolerance=webhook_tolerance,
            timeout=timeout,
            session=self.http.session,
        )
        self._batches: OrderedDict[str, str] = OrderedDict()
        """``sender_batch_id`` → ``payout_batch_id`` of batches sent from here."""

    def __repr__(self) -> str:
        return f"PayPalGateway({self.config!r})"

    async def close(self) -> None:
        await self.http.close()

    # ------------------------------------------------------------ orders

    async def create_order(
        self, *, order_id: str, amount: int, currency: str, description: str, request_id: str
    ) -> CheckoutOrder:
        if not order_id or len(order_id) > CUSTOM_ID_MAX:
            raise ValueError(f"an order id is 1 to {CUSTOM_ID_MAX} characters")
        value = _money(amount, currency)
        money = {"currency_code": currency, "value": value}
        body = {
            "intent": "CAPTURE",
            "purchase_units": [
                {
                    "reference_id": order_id,
                    "custom_id": order_id,
                    "description": description[:DESCRIPTION_MAX],
                    "amount": {**money, "breakdown": {"item_total": money}},
                }
            ],
            "payment_source": {
                "paypal": {
                    "experience_context": {
                        "brand_name": self.brand_name,
                        "user_action": "PAY_NOW",
                        "shipping_preference": "NO_SHIPPING",
                        "return_url": self.return_url,
                        "cancel_url": self.cancel_url,
                    }
                }
            },
        }
        reply = await self.http.call(
            "POST", "/v2/checkout/orders", body=body, request_id=request_id
        )
        provider_id = _str(reply, "id")
        # "payer-action" when experience_context is sent; "approve" otherwise.
        approval = _link(reply, "payer-action") or _link(reply, "approve")
        if not provider_id or not approval:
            raise _unexpected("create order")
        return CheckoutOrder(
            provider_order_id=provider_id,
            approval_url=approval,
            status=_str(reply, "status") or "CREATED",
        )

    async def capture(self, provider_order_id: str, *, request_id: str) -> Capture:
        path = f"/v2/checkout/orders/{_path_id(provider_order_id)}"
        try:
            reply = await self.http.call("POST", path + "/capture", request_id=request_id)
        except PayPalRefused as exc:
            if exc.issue == "INSTRUMENT_DECLINED":
                # The buyer's funding failed: an outcome, not an error.
                order = await self.http.call("GET", path)
                return _declined(order)
            if exc.issue == "ORDER_ALREADY_CAPTURED":
                # Captured by an earlier call (a retry past the request id's
                # 6 hours, another worker): answer that capture.
                order = await self.http.call("GET", path)
                return _capture_of(order, "order already captured")
            raise
        return _capture_of(reply, "capture")

    async def refund(
        self, capture_id: str, *, amount: int, currency: str, request_id: str
    ) -> Refund:
        value = _money(amount, currency)
        reply = await self.http.call(
            "POST",
            f"/v2/payments/captures/{_path_id(capture_id)}/refund",
            body={"amount": {"currency_code": currency, "value": value}},
            request_id=request_id,
        )
        refund_id = _str(reply, "id")
        if not refund_id:
            raise _unexpected("refund")
        amount_doc = _dict(reply, "amount")
        refunded, refunded_currency = amount, currency
        if amount_doc:
            refunded, refunded_currency = _amount(amount_doc, "refund")
        breakdown = _dict(reply, "seller_payable_breakdown")
        fee = _optional_amount(_dict(breakdown, "paypal_fee"), "refund")
        return Refund(
            refund_id=refund_id,
            status=_str(reply, "status") or "PENDING",
            amount=refunded,
            currency=refunded_currency,
            paypal_fee_returned=fee,
        )

    # ------------------------------------------------------------ payouts

    async def send_payout(
        self, *, sender_batch_id: str, amount: int, currency: str, receiver: str
    ) -> PayoutBatch:
        if not sender_batch_id or len(sender_batch_id) > 256:
            raise ValueError("a sender_batch_id is 1 to 256 characters")
        if "@" not in receiver or len(receiver) > 127:
            raise ValueError("a payout receiver is a PayPal email address")
        value = _money(amount, currency)
        body = {
            "sender_batch_header": {
                "sender_batch_id": sender_batch_id,
                "email_subject": self.payout_subject,
            },
            "items": [
                {
                    "recipient_type": "EMAIL",
                    "amount": {"currency": currency, "value": value},
                    "receiver": receiver,
                    "sender_item_id": sender_batch_id,
                }
            ],
        }
        try:
            # The request id is the sender_batch_id: a retry of the same
            # payout is the same request.
            reply = await self.http.call(
                "POST", "/v1/payments/payouts", body=body, request_id=sender_batch_id
            )
        except PayPalRefused as exc:
            if not _duplicate_batch(exc):
                raise
            batch_id = _linked_batch_id(exc.body) or self._batches.get(sender_batch_id)
            if batch_id is None:
                raise PaymentError(
                    f"PayPal already has a payout batch {sender_batch_id!r} and did not say"
                    " which: look it up by the batch id recorded when it was sent",
                    retryable=False,
                    issue="DUPLICATE_SENDER_BATCH_ID",
                ) from None
            log.info("paypal payout %s was sent before: batch %s", sender_batch_id, batch_id)
            return await self.get_payout(batch_id)
        batch = _batch_of(reply)
        self._remember(sender_batch_id, batch.batch_id)
        return batch

    async def get_payout(self, batch_id: str) -> PayoutBatch:
        reply = await self.http.call("GET", f"/v1/payments/payouts/{_path_id(batch_id)}")
        return _batch_of(reply)

    def _remember(self, sender_batch_id: str, batch_id: str) -> None:
        self._batches[sender_batch_id] = batch_id
        self._batches.move_to_end(sender_batch_id)
        while len(self._batches) > _KNOWN_BATCHES:
            self._batches.popitem(last=False)

    # ------------------------------------------------------------ webhooks

    async def verify_webhook(self, headers: dict[str, str], body: bytes) -> PaymentNotice:
        return await self.webhooks.verify_webhook(headers, body)


# ---------------------------------------------------------------- replies


def _money(amount: int, currency: str) -> str:
    if currency not in CURRENCY_DIGITS:
        raise ValueError(f"unknown currency {currency!r}")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError("an amount is a positive number of minor units")
    return to_decimal(amount, currency)


def _path_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise ValueError("not a PayPal id")
    return value


def _unexpected(what: str) -> PaymentError:
    return PaymentError(
        f"PayPal {what}: unexpected reply", retryable=False, issue="UNEXPECTED_REPLY"
    )


def _str(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    return value if isinstance(value, str) else ""


def _dict(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def _first(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    if isinstance(value, list) and value and isinstance(value[0], dict):
        return value[0]
    return {}


def _link(doc: dict[str, Any], rel: str) -> str:
    links = doc.get("links")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, dict) and link.get("rel") == rel and isinstance(link.get("href"), str):
            return str(link["href"])
    return ""


def _amount(doc: dict[str, Any], what: str) -> tuple[int, str]:
    """A v2 ``{currency_code, value}`` in minor units."""
    currency, value = doc.get("currency_code"), doc.get("value")
    if not isinstance(currency, str) or not isinstance(value, str):
        raise _unexpected(what)
    try:
        return from_decimal(value, currency), currency
    except ValueError:
        raise _unexpected(what) from None


def _optional_amount(doc: dict[str, Any], what: str) -> int:
    return _amount(doc, what)[0] if doc else 0


def _capture_of(order: dict[str, Any], what: str) -> Capture:
    """``purchase_units[0].payments.captures[0]`` of a captured order."""
    unit = _first(order, "purchase_units")
    capture = _first(_dict(unit, "payments"), "captures")
    capture_id = _str(capture, "id")
    if not capture_id:
        raise _unexpected(what)
    amount, currency = _amount(_dict(capture, "amount"), what)
    breakdown = _dict(capture, "seller_receivable_breakdown")
    return Capture(
        capture_id=capture_id,
        status=_str(capture, "status") or "PENDING",
        amount=amount,
        currency=currency,
        paypal_fee=_optional_amount(_dict(breakdown, "paypal_fee"), what),
        order_id=_str(capture, "custom_id") or _str(unit, "custom_id") or None,
    )


def _declined(order: dict[str, Any]) -> Capture:
    """A capture refused for the buyer's instrument: the order's amount, no
    capture id (PayPal made none), no fee."""
    unit = _first(order, "purchase_units")
    captures = _dict(unit, "payments").get("captures")
    if isinstance(captures, list) and captures:
        capture = _capture_of(order, "declined capture")
        return msgspec.structs.replace(capture, status="DECLINED")
    amount, currency = _amount(_dict(unit, "amount"), "declined capture")
    return Capture(
        capture_id="",
        status="DECLINED",
        amount=amount,
        currency=currency,
        paypal_fee=0,
        order_id=_str(unit, "custom_id") or None,
    )


def _batch_of(reply: dict[str, Any]) -> PayoutBatch:
    header = _dict(reply, "batch_header")
    batch_id = _str(header, "payout_batch_id")
    if not batch_id:
        raise _unexpected("payout")
    items = []
    for item in reply.get("items") or []:
        if not isinstance(item, dict) or not _str(item, "payout_item_id"):
            raise _unexpected("payout")
        error = _str(_dict(item, "errors"), "name") or None
        items.append(
            PayoutItem(
                item_id=_str(item, "payout_item_id"),
                status=_str(item, "transaction_status") or "PENDING",
                error=error,
            )
        )
    return PayoutBatch(
        batch_id=batch_id,
        sender_batch_id=_str(_dict(header, "sender_batch_header"), "sender_batch_id"),
        status=_str(header, "batch_status") or "PENDING",
        items=items,
    )


def _duplicate_batch(exc: PayPalRefused) -> bool:
    """PayPal's refusal of a ``sender_batch_id`` it has seen (its wording has
    changed over the years: "already exists", "Duplicate batch request")."""
    if exc.status != 400:
        return False
    details = exc.body.get("details")
    for detail in details if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        issue = str(detail.get("issue", "")).lower()
        field = str(detail.get("field", "")).lower()
        if "sender_batch_id" in field or "sender_batch_id" in issue or "duplicate batch" in issue:
            return "exist" in issue or "duplicate" in issue
    return False


def _linked_batch_id(body: dict[str, Any]) -> str | None:
    """The batch id in a link of PayPal's duplicate-batch error (in its
    details or at the top): only the id is kept."""
    candidates: list[Any] = []
    details = body.get("details")
    for detail in details if isinstance(details, list) else []:
        if isinstance(detail, dict):
            for key in ("link", "links"):
                if isinstance(detail.get(key), list):
                    candidates.extend(detail[key])
    if isinstance(body.get("links"), list):
        candidates.extend(body["links"])
    for link in candidates:
        href = link.get("href") if isinstance(link, dict) else None
        match = _BATCH_LINK.search(href) if isinstance(href, str) else None
        if match:
            return match.group(1)
    return None
