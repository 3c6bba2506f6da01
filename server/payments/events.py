"""PayPal webhook events → :class:`~actors.ports.PaymentNotice`. Called only
on a body whose signature :mod:`server.payments.webhooks` has verified.

- ``CHECKOUT.ORDER.APPROVED``: the resource is an order (its id, and
  ``purchase_units[0]`` with our ``custom_id`` and the amount).
- ``PAYMENT.CAPTURE.COMPLETED / DENIED / PENDING / REVERSED``: a capture
  (fee from ``seller_receivable_breakdown``, PayPal's order id from
  ``supplementary_data.related_ids.order_id``). ``REFUNDED`` carries a refund
  (fee returned from ``seller_payable_breakdown``, the capture's id from its
  ``up`` link); a resource of either event shaped as a refund (an ``up`` link
  to a capture) is read as one.
- ``PAYMENT.PAYOUTSBATCH.*``: the batch header (no items: poll the batch).
- ``PAYMENT.PAYOUTS-ITEM.*``: one item, its ``transaction_status`` and
  ``errors.name``.
- Anything else: kind ``ignored``.

Amounts are minor units, always positive (a reversal's may be written
negative). Anything malformed: :class:`~actors.ports.WebhookRejected` 400.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from actors.market import from_decimal
from actors.ports import PaymentNotice, WebhookRejected

__all__ = ["parse_event"]

_CAPTURE_KINDS = {
    "PAYMENT.CAPTURE.COMPLETED": "capture_completed",
    "PAYMENT.CAPTURE.DENIED": "capture_denied",
    "PAYMENT.CAPTURE.PENDING": "capture_pending",
    "PAYMENT.CAPTURE.REFUNDED": "capture_refunded",
    "PAYMENT.CAPTURE.REVERSED": "capture_reversed",
}
_CAPTURE_LINK = re.compile(r"/v2/payments/captures/([A-Za-z0-9_-]{1,64})(?:[/?#]|$)")


def parse_event(body: bytes) -> PaymentNotice:
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise WebhookRejected("the body is not JSON", 400) from None
    if not isinstance(doc, dict):
        raise WebhookRejected("the body is not an event", 400)
    event_id, event_type = doc.get("id"), doc.get("event_type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str):
        raise WebhookRejected("the event has no id or event_type", 400)
    base: dict[str, Any] = {"event_id": event_id, "event_type": event_type}
    if event_type == "CHECKOUT.ORDER.APPROVED":
        return _order_approved(base, _resource(doc))
    if event_type in _CAPTURE_KINDS:
        resource = _resource(doc)
        base["kind"] = _CAPTURE_KINDS[event_type]
        if event_type == "PAYMENT.CAPTURE.REFUNDED" or _up_capture(resource):
            return _refund(base, resource)
        return _capture(base, resource)
    if event_type.startswith("PAYMENT.PAYOUTSBATCH."):
        return _payout_batch(base, _resource(doc))
    if event_type.startswith("PAYMENT.PAYOUTS-ITEM."):
        return _payout_item(base, _resource(doc))
    return PaymentNotice(**base, kind="ignored")


def _order_approved(base: dict[str, Any], order: dict[str, Any]) -> PaymentNotice:
    unit = _first(order, "purchase_units")
    amount, currency = _amount(_dict(unit, "amount"), "currency_code")
    return PaymentNotice(
        **base,
        kind="order_approved",
        order_id=_opt_str(unit, "custom_id"),
        provider_order_id=_req_str(order, "id"),
        amount=amount,
        currency=currency,
    )


def _capture(base: dict[str, Any], capture: dict[str, Any]) -> PaymentNotice:
    amount, currency = _amount(_dict(capture, "amount"), "currency_code")
    breakdown = _dict(capture, "seller_receivable_breakdown")
    related = _dict(_dict(capture, "supplementary_data"), "related_ids")
    return PaymentNotice(
        **base,
        order_id=_opt_str(capture, "custom_id"),
        provider_order_id=_opt_str(related, "order_id"),
        capture_id=_req_str(capture, "id"),
        amount=amount,
        currency=currency,
        paypal_fee=_fee(_dict(breakdown, "paypal_fee")),
    )


def _refund(base: dict[str, Any], refund: dict[str, Any]) -> PaymentNotice:
    amount, currency = _amount(_dict(refund, "amount"), "currency_code")
    breakdown = _dict(refund, "seller_payable_breakdown")
    related = _dict(_dict(refund, "supplementary_data"), "related_ids")
    return PaymentNotice(
        **base,
        order_id=_opt_str(refund, "custom_id"),
        provider_order_id=_opt_str(related, "order_id"),
        capture_id=_up_capture(refund),
        refund_id=_req_str(refund, "id"),
        amount=amount,
        currency=currency,
        paypal_fee=_fee(_dict(breakdown, "paypal_fee")),
    )


def _payout_batch(base: dict[str, Any], resource: dict[str, Any]) -> PaymentNotice:
    header = _dict(resource, "batch_header")
    return PaymentNotice(
        **base,
        kind="payout_batch",
        payout_batch_id=_req_str(header, "payout_batch_id"),
        sender_batch_id=_opt_str(_dict(header, "sender_batch_header"), "sender_batch_id"),
    )


def _payout_item(base: dict[str, Any], item: dict[str, Any]) -> PaymentNotice:
    amount = currency = None
    money = _dict(_dict(item, "payout_item"), "amount")
    if money:
        amount, currency = _amount(money, "currency")
    return PaymentNotice(
        **base,
        kind="payout_item",
        payout_batch_id=_req_str(item, "payout_batch_id"),
        sender_batch_id=_opt_str(item, "sender_batch_id"),
        payout_item_id=_req_str(item, "payout_item_id"),
        payout_item_status=_req_str(item, "transaction_status"),
        payout_error=_opt_str(_dict(item, "errors"), "name"),
        amount=amount,
        currency=currency,
    )


# ---------------------------------------------------------------- fields


def _resource(doc: dict[str, Any]) -> dict[str, Any]:
    resource = doc.get("resource")
    if not isinstance(resource, dict):
        raise WebhookRejected("the event has no resource", 400)
    return resource


def _dict(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebhookRejected(f"the event's {key} is not an object", 400)
    return value


def _first(doc: dict[str, Any], key: str) -> dict[str, Any]:
    value = doc.get(key)
    if not isinstance(value, list) or not value or not isinstance(value[0], dict):
        raise WebhookRejected(f"the event has no {key}", 400)
    return value[0]


def _req_str(doc: dict[str, Any], key: str) -> str:
    value = doc.get(key)
    if not isinstance(value, str) or not value:
        raise WebhookRejected(f"the event has no {key}", 400)
    return value


def _opt_str(doc: dict[str, Any], key: str) -> str | None:
    value = doc.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise WebhookRejected(f"the event's {key} is not a string", 400)
    return value


def _amount(doc: dict[str, Any], currency_key: str) -> tuple[int, str]:
    currency, value = doc.get(currency_key), doc.get("value")
    if not isinstance(currency, str) or not isinstance(value, str):
        raise WebhookRejected("the event has no amount", 400)
    try:
        return abs(from_decimal(value, currency)), currency
    except ValueError:
        raise WebhookRejected("the event's amount is malformed", 400) from None


def _fee(doc: dict[str, Any]) -> int:
    return _amount(doc, "currency_code")[0] if doc else 0


def _up_capture(resource: dict[str, Any]) -> str | None:
    """The capture a refund belongs to, from its ``up`` link's path."""
    links = resource.get("links")
    for link in links if isinstance(links, list) else []:
        if not isinstance(link, dict) or link.get("rel") != "up":
            continue
        href = link.get("href")
        match = _CAPTURE_LINK.search(href) if isinstance(href, str) else None
        if match:
            return match.group(1)
    return None
