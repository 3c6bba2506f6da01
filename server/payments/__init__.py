"""Payment gateways (:class:`~actors.ports.PaymentGateway`): PayPal when its
credentials are configured (:mod:`server.payments.paypal`), else one that
refuses every call (:mod:`server.payments.disabled`)."""

from __future__ import annotations

import urllib.parse

from actors.ports import PaymentGateway
from server.config import Settings, env_name
from server.payments.disabled import DisabledGateway
from server.payments.paypal import PayPalConfig, PayPalGateway

__all__ = ["DisabledGateway", "PayPalConfig", "PayPalGateway", "make_payment_gateway"]

_CREDENTIALS = ("paypal_client_id", "paypal_client_secret", "paypal_webhook_id")


def make_payment_gateway(settings: Settings) -> PaymentGateway:
    """PayPal when the client id, secret and webhook id are all set; the
    disabled gateway when none is. Some but not all is a mistake, not a
    reason to run without payments: ``ValueError`` naming the first missing
    variable (never quoting a value)."""
    values = [getattr(settings, name) for name in _CREDENTIALS]
    if not any(values):
        return DisabledGateway()
    missing = [name for name, value in zip(_CREDENTIALS, values, strict=True) if not value]
    if missing:
        raise ValueError(
            f"{env_name(missing[0])} is not set: payments need the PayPal client id, secret"
            " and webhook id (or none of them, to run without payments)"
        )
    client_id, secret, webhook_id = (str(value) for value in values)
    config = PayPalConfig(
        client_id=client_id,
        client_secret=secret,
        webhook_id=webhook_id,
        mode=settings.paypal_mode,
        base_url=settings.paypal_api_url,
        ca_file=settings.paypal_ca_file,
    )
    return PayPalGateway(
        config,
        return_url=settings.checkout_return_url,
        cancel_url=_with_query(settings.checkout_return_url, "cancelled=1"),
        timeout=settings.paypal_timeout,
    )


def _with_query(url: str, query: str) -> str:
    parts = urllib.parse.urlsplit(url)
    joined = f"{parts.query}&{query}" if parts.query else query
    return urllib.parse.urlunsplit(parts._replace(query=joined))
