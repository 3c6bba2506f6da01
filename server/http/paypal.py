"""``POST /v1/webhooks/paypal``: PayPal's webhook events.

The signature is checked over the raw body before anything reads it
(:meth:`actors.ports.PaymentGateway.verify_webhook`); a verified event is
stored, deduplicated by its id, and answered ``200`` at once; the
marketplace worker applies it right after (:mod:`server.market.events`). So
PayPal gets its answer in one store write, a redelivery changes nothing, and
a node that dies between the answer and the application leaves the event to
the next sweep of any node.

Answers: ``200`` (stored, or known already: ``duplicate``), ``400`` (not a
well-formed signed event), ``401`` (a signature or certificate that does not
verify), ``413`` (a body over ``MAX_BODY``), ``503`` (payments not
configured: PayPal retries later). Errors are JSON ``{"error": {"code",
"message"}}``, as the upload endpoint's.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Final

from aiohttp import web

from actors.ports import PaymentsNotConfigured, WebhookRejected
from actors.store.market import PaymentEventRecord
from server.context import Services
from server.http.media import json_response

log = logging.getLogger("grover.paypal")

MAX_BODY: Final = 256 * 1024
"""PayPal's events are a few KB; a body over this is refused before it is read whole."""
CHUNK: Final = 16 * 1024


def _error(status: int, code: str, message: str) -> web.Response:
    return json_response({"error": {"code": code, "message": message}}, status)


async def _read_capped(request: web.Request) -> bytes | None:
    """The body, or ``None`` past :data:`MAX_BODY` (counted as it arrives:
    ``client_max_size`` does not bound a streamed read)."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    chunks: list[bytes] = []
    size = 0
    while chunk := await request.content.read(CHUNK):
        size += len(chunk)
        if size > MAX_BODY:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def add_routes(app: web.Application, services: Services, applied: Callable[[], None]) -> None:
    """``applied`` is called once an event is stored (it wakes the worker)."""

    def count(event_type: str, result: str) -> None:
        if services.metrics is not None:
            services.metrics.webhook(event_type, result)

    async def receive(request: web.Request) -> web.Response:
        body = await _read_capped(request)
        if body is None:
            count("unknown", "too_large")
            return _error(413, "too_large", f"the body is over {MAX_BODY} bytes")
        try:
            notice = await services.payments.verify_webhook(dict(request.headers), body)
        except PaymentsNotConfigured:
            count("unknown", "not_configured")
            return _error(503, "payments_not_configured", "payments are not configured")
        except WebhookRejected as exc:
            log.warning("webhook refused: %s", exc.reason)
            count("unknown", "rejected")
            return _error(exc.status, "rejected", exc.reason)
        event = PaymentEventRecord(
            id=notice.event_id, event_type=notice.event_type, body=body, received_at=time.time()
        )
        new = await services.store.payment_events.record(event)
        count(notice.event_type, "received" if new else "duplicate")
        if new:
            applied()
        log.info(
            "webhook stored" if new else "webhook redelivered",
            extra={"event_id": notice.event_id, "event_type": notice.event_type},
        )
        return json_response({"received": True, "duplicate": not new})

    app.router.add_post("/v1/webhooks/paypal", receive)
