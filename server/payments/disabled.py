"""The payment gateway when no PayPal credentials are configured: every
call refuses with :class:`~actors.ports.PaymentsNotConfigured`, so that a
node without payments still serves everything else."""

from __future__ import annotations

from typing import NoReturn

from actors.ports import (
    Capture,
    CheckoutOrder,
    PaymentNotice,
    PaymentsNotConfigured,
    PayoutBatch,
    Refund,
)

__all__ = ["DisabledGateway"]


def _refuse() -> NoReturn:
    raise PaymentsNotConfigured(
        "payments are not configured (PAYPAL_CLIENT_ID, PAYPAL_CLIENT_SECRET, PAYPAL_WEBHOOK_ID)"
    )


class DisabledGateway:
    name = "disabled"
    configured = False

    async def create_order(
        self, *, order_id: str, amount: int, currency: str, description: str, request_id: str
    ) -> CheckoutOrder:
        _refuse()

    async def capture(self, provider_order_id: str, *, request_id: str) -> Capture:
        _refuse()

    async def refund(
        self, capture_id: str, *, amount: int, currency: str, request_id: str
    ) -> Refund:
        _refuse()

    async def send_payout(
        self, *, sender_batch_id: str, amount: int, currency: str, receiver: str
    ) -> PayoutBatch:
        _refuse()

    async def get_payout(self, batch_id: str) -> PayoutBatch:
        _refuse()

    async def verify_webhook(self, headers: dict[str, str], body: bytes) -> PaymentNotice:
        _refuse()

    async def close(self) -> None:
        return None
