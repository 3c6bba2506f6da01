"""Webhook events in PayPal's shapes, for the fake PayPal and the webhook
tests: :func:`event` wraps a resource; the ``*_resource`` builders make an
order, a capture, a refund, a payout batch and a payout item."""

from __future__ import annotations

import datetime
import secrets
from typing import Any

ZERO_DECIMAL = frozenset({"HUF", "JPY", "TWD"})


def decimal(minor: int, currency: str) -> str:
    if currency in ZERO_DECIMAL:
        return str(minor)
    return f"{minor // 100}.{minor % 100:02d}"


def paypal_id(prefix: str = "") -> str:
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
    return prefix + "".join(secrets.choice(alphabet) for _ in range(17 - len(prefix)))


def now_text() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


_SUMMARIES = {
    "CHECKOUT.ORDER.APPROVED": "An order has been approved by buyer",
    "PAYMENT.CAPTURE.COMPLETED": "Payment completed for $ 19.99 USD",
    "PAYMENT.CAPTURE.DENIED": "A payment capture was denied",
    "PAYMENT.CAPTURE.REFUNDED": "A $ 5.0 USD capture payment was refunded",
    "PAYMENT.CAPTURE.REVERSED": "A $ 19.99 USD capture payment was reversed",
}


def event(
    event_type: str, resource: dict[str, Any], *, event_id: str | None = None
) -> dict[str, Any]:
    """A webhook event document as PayPal sends it."""
    resource_type = {
        "CHECKOUT": "checkout-order",
        "PAYMENT.CAPTURE.REFUNDED": "refund",
        "PAYMENT.PAYOUTSBATCH": "payouts",
        "PAYMENT.PAYOUTS-ITEM": "payouts_item",
    }
    kind = next(
        (value for prefix, value in resource_type.items() if event_type.startswith(prefix)),
        "capture",
    )
    eid = event_id or f"WH-{secrets.token_hex(4).upper()}-{secrets.token_hex(8).upper()}"
    return {
        "id": eid,
        "event_version": "1.0",
        "create_time": now_text(),
        "resource_type": kind,
        "resource_version": "2.0",
        "event_type": event_type,
        "summary": _SUMMARIES.get(event_type, event_type),
        "resource": resource,
        "links": [
            {
                "href": f"https://api.paypal.com/v1/notifications/webhooks-events/{eid}",
                "rel": "self",
            }
        ],
    }


def _money_doc(minor: int, currency: str, key: str = "currency_code") -> dict[str, str]:
    return {key: currency, "value": decimal(minor, currency)}


def order_resource(
    paypal_order_id: str, order_id: str, amount: int, currency: str = "USD"
) -> dict[str, Any]:
    return {
        "id": paypal_order_id,
        "intent": "CAPTURE",
        "status": "APPROVED",
        "create_time": now_text(),
        "purchase_units": [
            {
                "reference_id": order_id,
                "custom_id": order_id,
                "amount": _money_doc(amount, currency),
                "payee": {"email_address": "seller@example.com", "merchant_id": "7KNGBPH2U58GQ"},
            }
        ],
        "payer": {"payer_id": "QYR5Z8XDVJNXQ", "email_address": "buyer@example.com"},
        "links": [
            {"href": f"https://api.paypal.com/v2/checkout/orders/{paypal_order_id}", "rel": "self"}
        ],
    }


def capture_resource(
    capture_id: str,
    paypal_order_id: str,
    order_id: str,
    amount: int,
    fee: int | None,
    *,
    currency: str = "USD",
    status: str = "COMPLETED",
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": capture_id,
        "status": status,
        "amount": _money_doc(amount, currency),
        "final_capture": True,
        "custom_id": order_id,
        "supplementary_data": {"related_ids": {"order_id": paypal_order_id}},
        "create_time": now_text(),
        "links": [
            {"href": f"https://api.paypal.com/v2/payments/captures/{capture_id}", "rel": "self"},
            {"href": f"https://api.paypal.com/v2/checkout/orders/{paypal_order_id}", "rel": "up"},
        ],
    }
    if fee is not None:
        doc["seller_receivable_breakdown"] = {
            "gross_amount": _money_doc(amount, currency),
            "paypal_fee": _money_doc(fee, currency),
            "net_amount": _money_doc(amount - fee, currency),
        }
    return doc


def refund_resource(
    refund_id: str,
    capture_id: str,
    order_id: str,
    amount: int,
    fee_back: int | None,
    *,
    currency: str = "USD",
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": refund_id,
        "status": "COMPLETED",
        "amount": _money_doc(amount, currency),
        "custom_id": order_id,
        "create_time": now_text(),
        "links": [
            {"href": f"https://api.paypal.com/v2/payments/refunds/{refund_id}", "rel": "self"},
            {"href": f"https://api.paypal.com/v2/payments/captures/{capture_id}", "rel": "up"},
        ],
    }
    if fee_back is not None:
        doc["seller_payable_breakdown"] = {
            "gross_amount": _money_doc(amount, currency),
            "paypal_fee": _money_doc(fee_back, currency),
            "net_amount": _money_doc(amount - fee_back, currency),
        }
    return doc


def payout_batch_resource(
    batch_id: str, sender_batch_id: str, status: str = "SUCCESS"
) -> dict[str, Any]:
    return {
        "batch_header": {
            "payout_batch_id": batch_id,
            "batch_status": status,
            "sender_batch_header": {"sender_batch_id": sender_batch_id},
            "amount": _money_doc(1000, "USD", "currency"),
        },
        "links": [
            {"href": f"https://api.paypal.com/v1/payments/payouts/{batch_id}", "rel": "self"}
        ],
    }


def payout_item_resource(
    item_id: str,
    batch_id: str,
    sender_batch_id: str,
    status: str,
    *,
    amount: int = 1000,
    currency: str = "USD",
    error: str | None = None,
) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "payout_item_id": item_id,
        "transaction_id": paypal_id() if status == "SUCCESS" else None,
        "transaction_status": status,
        "payout_batch_id": batch_id,
        "sender_batch_id": sender_batch_id,
        "payout_item_fee": _money_doc(25, currency, "currency"),
        "payout_item": {
            "recipient_type": "EMAIL",
            "amount": _money_doc(amount, currency, "currency"),
            "receiver": "seller@example.com",
            "sender_item_id": sender_batch_id,
        },
        "links": [
            {"href": f"https://api.paypal.com/v1/payments/payouts-item/{item_id}", "rel": "self"}
        ],
    }
    if error:
        doc["errors"] = {"name": error, "message": "Receiver is unregistered"}
    return doc
