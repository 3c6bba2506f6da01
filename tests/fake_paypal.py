"""A fake PayPal REST API on 127.0.0.1 (a free port) for the tests of
``server/payments/``; written from PayPal's documented shapes, independently
of the client.

It does what PayPal does with the calls our client makes, and checks them:
HTTP Basic with the app's id and secret on ``/v1/oauth2/token``, a Bearer
token it issued (and has not revoked) on every other call, a
``PayPal-Request-Id`` on every POST, amounts written as the currency allows.
A protocol fault is answered like PayPal and also recorded in
:attr:`FakePayPal.violations` (tests assert it stays empty).

State: orders (CREATED or PAYER_ACTION_REQUIRED → :meth:`approve` →
APPROVED → captured, with a fee of ``fee_bps`` + ``fee_fixed``), refunds
(never above what is left of the capture), payout batches whose items end as
the test says (:meth:`set_payout_outcome`). A POST replayed with the same
request id gets the first answer again (200 instead of 201) and no second
effect; :meth:`forget_request_ids` plays the id's retention running out.

Failure injection per endpoint (``token``, ``create_order``, ``get_order``,
``capture``, ``refund``, ``payout``, ``get_payout``): :meth:`fail_next`
(answer 5xx before anything happens), :meth:`hang_next` (never answer, with
``after=True``: do the work first, then never answer: the reply is lost).

Webhooks: real key material made at start (a root CA, an intermediate and a
leaf for ``messageverificationcerts.paypal.com``, RSA 2048), the chain served
at ``/v1/notifications/certs/CERT-good``, and :meth:`signed_headers` /
:meth:`send_webhook` sign events as PayPal does, with ways to get it wrong.
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import datetime
import re
import secrets
import uuid
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import aiohttp
import orjson
from aiohttp import web
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from tests.paypal_certs import make_chains, shared_chains
from tests.paypal_events import ZERO_DECIMAL, decimal, event, now_text, paypal_id

CURRENCIES = frozenset({"USD", "EUR", "GBP", "CAD", "AUD"}) | ZERO_DECIMAL
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _minor(value: object, currency: object) -> int | None:
    """A PayPal decimal string in minor units, or None when malformed."""
    if not isinstance(value, str) or currency not in CURRENCIES:
        return None
    pattern = r"\d{1,10}" if currency in ZERO_DECIMAL else r"\d{1,10}\.\d{2}"
    if not re.fullmatch(pattern, value):
        return None
    return int(value.replace(".", ""))


def _error(status: int, name: str, issue: str = "", **extra: Any) -> web.Response:
    body: dict[str, Any] = {"name": name, "message": name, "debug_id": secrets.token_hex(6)}
    if issue:
        body["details"] = [{"issue": issue, "description": issue, **extra}]
    return web.json_response(body, status=status)


@dataclasses.dataclass
class Call:
    endpoint: str
    method: str
    path: str
    request_id: str | None
    status: int = 0


class FakePayPal:
    def __init__(
        self,
        client_id: str = "AfakeClientId-grover-test",
        client_secret: str = "EfakeSecret-Zq8xVb3-never-logged",
        webhook_id: str = "8PT597110X687430LKGECATA",
        *,
        token_ttl: int = 32400,
        fee_bps: int = 290,
        fee_fixed: int = 30,
        fresh_keys: bool = False,
        approval_pages: bool = False,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.webhook_id = webhook_id
        self.token_ttl = token_ttl
        self.fee_bps = fee_bps
        self.fee_fixed = fee_fixed
        self.tokens: set[str] = set()
        self.token_calls = 0
        self.calls: list[Call] = []
        self.violations: list[str] = []
        self.orders: dict[str, dict[str, Any]] = {}
        self.captures: dict[str, dict[str, Any]] = {}
        self.refunds: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.payments_sent: list[dict[str, Any]] = []
        """Every payout item actually paid (one per accepted batch item)."""
        self.cert_requests: list[str] = []
        self.duplicate_links = True
        """Whether a duplicate sender_batch_id's error links the batch."""
        self.accept_tokens = True
        """False: every Bearer token is refused, even a fresh one."""
        self._sender_batches: dict[str, str] = {}
        self._declines: dict[str, str] = {}
        self._outcomes: dict[str, tuple[str, str | None]] = {}
        self._replays: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
        self._faults: dict[str, list[str]] = {}
        self._release = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.approval_pages = approval_pages
        """Approval links point at this fake's own page (``/checkoutnow``), a
        buyer's browser can approve there (the app's browser tests)."""
        # RSA key generation takes ~0.2 s: one set per test run unless asked.
        self.certs = make_chains() if fresh_keys else shared_chains()
        self.leaf = self.certs.leaf
        self.chains = self.certs.pems

    @property
    def root_pem(self) -> bytes:
        return self.certs.root.pem

    # ------------------------------------------------------------- control

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cert_url(self, chain: str = "good") -> str:
        return f"{self.base_url}/v1/notifications/certs/CERT-{chain}"

    def approve(self, paypal_order_id: str) -> None:
        """The buyer approves the payment on PayPal's page."""
        self.orders[paypal_order_id]["status"] = "APPROVED"

    def decline(self, paypal_order_id: str, how: str = "instrument") -> None:
        """Capturing fails: ``instrument`` (422 INSTRUMENT_DECLINED) or
        ``status`` (a capture made with status DECLINED)."""
        self._declines[paypal_order_id] = how

    def set_payout_outcome(self, receiver: str, status: str, error: str | None = None) -> None:
        """How payouts to ``receiver`` end: SUCCESS (default), FAILED with
        ``error``, UNCLAIMED, RETURNED..."""
        self._outcomes[receiver] = (status, error)

    def fail_next(self, endpoint: str, count: int = 1, status: int = 500) -> None:
        self._faults.setdefault(endpoint, []).extend([str(status)] * count)

    def hang_next(self, endpoint: str, count: int = 1, *, after: bool = False) -> None:
        self._faults.setdefault(endpoint, []).extend(["lose" if after else "hang"] * count)

    def revoke_tokens(self) -> None:
        """Every issued token stops working (PayPal revoked them early)."""
        self.tokens.clear()

    def forget_request_ids(self) -> None:
        """The request ids' retention ran out: a replay is a new request."""
        self._replays.clear()

    def calls_to(self, endpoint: str) -> list[Call]:
        return [call for call in self.calls if call.endpoint == endpoint]

    async def start(self, extra_routes: Sequence[web.RouteDef] = ()) -> FakePayPal:
        app = web.Application(middlewares=[self._middleware])
        app.add_routes(extra_routes)
        route = app.router
        route.add_post("/v1/oauth2/token", self._token)
        route.add_post("/v2/checkout/orders", self._create_order)
        route.add_get("/v2/checkout/orders/{id}", self._get_order)
        route.add_post("/v2/checkout/orders/{id}/capture", self._capture)
        route.add_post("/v2/payments/captures/{id}/refund", self._refund)
        route.add_post("/v1/payments/payouts", self._payout)
        route.add_get("/v1/payments/payouts/{id}", self._get_payout)
        route.add_get("/v1/notifications/certs/{name}", self._cert)
        route.add_get("/checkoutnow", self._approval_page)
        route.add_post("/checkoutnow", self._approval_given)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def stop(self) -> None:
        self._release.set()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakePayPal:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # ------------------------------------------------------------- checks

    _ENDPOINTS = {
        ("POST", "/v1/oauth2/token"): "token",
        ("POST", "/v2/checkout/orders"): "create_order",
        ("GET", "/v2/checkout/orders/{id}"): "get_order",
        ("POST", "/v2/checkout/orders/{id}/capture"): "capture",
        ("POST", "/v2/payments/captures/{id}/refund"): "refund",
        ("POST", "/v1/payments/payouts"): "payout",
        ("GET", "/v1/payments/payouts/{id}"): "get_payout",
    }

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        resource = request.match_info.route.resource
        template = resource.canonical if resource is not None else request.path
        endpoint = self._ENDPOINTS.get((request.method, template))
        if endpoint is None:  # certificates, unknown paths
            return await handler(request)
        call = Call(
            endpoint, request.method, request.path, request.headers.get("PayPal-Request-Id")
        )
        self.calls.append(call)
        fault = self._faults.get(endpoint, [])
        action = fault.pop(0) if fault else ""
        if action == "hang":
            await self._release.wait()
        if action.isdigit():
            call.status = int(action)
            return _error(call.status, "INTERNAL_SERVER_ERROR")
        refusal = self._check(request, endpoint, call)
        response = refusal or await self._replayed(request, endpoint, call, handler)
        call.status = response.status
        if action == "lose":
            await self._release.wait()
        return response

    def _check(self, request: web.Request, endpoint: str, call: Call) -> web.Response | None:
        auth = request.headers.get("Authorization", "")
        if endpoint == "token":
            expected = base64.b64encode(f"{self.client_id}:{self.client_secret}".encode())
            if not auth.startswith("Basic "):
                self.violations.append("token request without HTTP Basic")
            if auth != "Basic " + expected.decode():
                return web.json_response(
                    {
                        "error": "invalid_client",
                        "error_description": "Client Authentication failed",
                    },
                    status=401,
                )
            return None
        if not auth.startswith("Bearer "):
            self.violations.append(f"{endpoint} without a Bearer token")
        if auth.removeprefix("Bearer ") not in self.tokens or not self.accept_tokens:
            return web.json_response(
                {
                    "error": "invalid_token",
                    "error_description": "Token signature verification failed",
                },
                status=401,
            )
        if request.method == "POST" and not call.request_id:
            self.violations.append(f"{endpoint} without PayPal-Request-Id")
        if request.method == "POST" and request.content_type != "application/json":
            self.violations.append(f"{endpoint} not sent as JSON")
        return None

    async def _replayed(
        self, request: web.Request, endpoint: str, call: Call, handler: Handler
    ) -> web.StreamResponse:
        """Same request id on the same resource → the first answer, 200."""
        key = (request.path, call.request_id or "")
        if request.method != "POST" or endpoint == "token" or not call.request_id:
            return await handler(request)
        if key in self._replays:
            _, body = self._replays[key]
            return web.json_response(body, status=200)
        response = await handler(request)
        if isinstance(response, web.Response) and response.status in (200, 201):
            assert response.body is not None and isinstance(response.body, bytes)
            self._replays[key] = (response.status, orjson.loads(response.body))
        return response

    async def _body(self, request: web.Request, endpoint: str) -> dict[str, Any] | None:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            self.violations.append(f"{endpoint}: body is not JSON")
            return None
        return body if isinstance(body, dict) else None

    def _money(self, doc: object, endpoint: str, currency_key: str) -> tuple[int, str] | None:
        doc = doc if isinstance(doc, dict) else {}
        currency, value = doc.get(currency_key), doc.get("value")
        minor = _minor(value, currency)
        if minor is None or minor <= 0:
            self.violations.append(f"{endpoint}: malformed amount {doc!r}")
            return None
        return minor, str(currency)

    # ------------------------------------------------------------- token

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "client_credentials":
            self.violations.append("token request without grant_type=client_credentials")
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        self.token_calls += 1
        token = "A21AA" + secrets.token_urlsafe(24)
        self.tokens.add(token)
        return web.json_response(
            {
                "scope": "https://uri.paypal.com/services/payments/payment",
                "access_token": token,
                "token_type": "Bearer",
                "app_id": "APP-80W284485P519543T",
                "expires_in": self.token_ttl,
                "nonce": secrets.token_hex(8),
            }
        )

    # ------------------------------------------------------------- orders

    def _order_doc(self, order: dict[str, Any]) -> dict[str, Any]:
        order_id = order["id"]
        unit = dict(order["unit"])
        if order["captures"]:
            unit["payments"] = {"captures": [self._capture_doc(c) for c in order["captures"]]}
        rel = "payer-action" if order["experience"] else "approve"
        return {
            "id": order_id,
            "intent": "CAPTURE",
            "status": order["status"],
            "purchase_units": [unit],
            "create_time": order["create_time"],
            "links": [
                {"href": f"{self.base_url}/v2/checkout/orders/{order_id}", "rel": "self"},
                {"href": f"{self._approval_host}/checkoutnow?token={order_id}", "rel": rel},
            ],
        }

    @property
    def _approval_host(self) -> str:
        return self.base_url if self.approval_pages else "https://www.sandbox.paypal.com"

    # ------------------------------------------------------------- buyer's page

    def _approval_order(self, request: web.Request) -> dict[str, Any]:
        order = self.orders.get(request.query.get("token", ""))
        if order is None or order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED"):
            raise web.HTTPNotFound(text="no order waiting for approval")
        return order

    async def _approval_page(self, request: web.Request) -> web.Response:
        """PayPal's page where the buyer looks at the amount and approves."""
        order = self._approval_order(request)
        amount = order["unit"]["amount"]
        page = (
            "<!doctype html><title>PayPal (test)</title><h1>Pay with PayPal</h1>"
            f"<p id=amount>{amount['value']} {amount['currency_code']}</p>"
            f"<form method=post><input type=hidden name=token value={order['id']}>"
            "<button id=approve name=decision value=approve>Approve</button> "
            "<button id=cancel name=decision value=cancel>Cancel</button></form>"
        )
        return web.Response(text=page, content_type="text/html")

    async def _approval_given(self, request: web.Request) -> web.Response:
        """The buyer's decision: back to the app's return (or cancel) URL with
        ``token`` and ``PayerID`` as PayPal adds them."""
        form = await request.post()
        order = self.orders.get(str(form.get("token", "")))
        if order is None:
            raise web.HTTPNotFound(text="no such order")
        context = order["experience"] or {}
        if form.get("decision") == "approve":
            self.approve(order["id"])
            target = str(context.get("return_url", ""))
        else:
            target = str(context.get("cancel_url", ""))
        if not target:
            return web.Response(text="done: the order had no return URL")
        joiner = "&" if "?" in target else "?"
        raise web.HTTPFound(f"{target}{joiner}token={order['id']}&PayerID=TESTBUYER01")

    async def _create_order(self, request: web.Request) -> web.Response:
        body = await self._body(request, "create_order")
        units = (body or {}).get("purchase_units")
        if body is None or body.get("intent") != "CAPTURE" or not isinstance(units, list):
            return _error(400, "INVALID_REQUEST", "MISSING_REQUIRED_PARAMETER")
        if len(units) != 1 or not isinstance(units[0], dict):
            return _error(422, "UNPROCESSABLE_ENTITY", "MULTIPLE_PURCHASE_UNITS")
        unit = units[0]
        amount = unit.get("amount") or {}
        money = self._money(amount, "create_order", "currency_code")
        if money is None:
            return _error(400, "INVALID_REQUEST", "INVALID_PARAMETER_VALUE")
        total = (amount.get("breakdown") or {}).get("item_total")
        if total is not None and self._money(total, "create_order", "currency_code") != money:
            return _error(422, "UNPROCESSABLE_ENTITY", "ITEM_TOTAL_MISMATCH")
        if len(str(unit.get("custom_id", ""))) > 127:
            return _error(400, "INVALID_REQUEST", "INVALID_STRING_LENGTH")
        experience = ((body.get("payment_source") or {}).get("paypal") or {}).get(
            "experience_context"
        )
        order_id = paypal_id()
        self.orders[order_id] = {
            "id": order_id,
            "status": "PAYER_ACTION_REQUIRED" if experience else "CREATED",
            "unit": unit,
            "amount": money,
            "experience": experience,
            "captures": [],
            "create_time": now_text(),
        }
        return web.json_response(self._order_doc(self.orders[order_id]), status=201)

    async def _get_order(self, request: web.Request) -> web.Response:
        order = self.orders.get(request.match_info["id"])
        if order is None:
            return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        return web.json_response(self._order_doc(order))

    def _capture_doc(self, capture: dict[str, Any]) -> dict[str, Any]:
        gross, currency = capture["amount"]
        capture_id = capture["id"]
        doc: dict[str, Any] = {
            "id": capture_id,
            "status": capture["status"],
            "amount": {"currency_code": currency, "value": decimal(gross, currency)},
            "final_capture": True,
            "custom_id": capture["custom_id"],
            "supplementary_data": {"related_ids": {"order_id": capture["order_id"]}},
            "links": [
                {"href": f"{self.base_url}/v2/payments/captures/{capture_id}", "rel": "self"},
                {
                    "href": f"{self.base_url}/v2/payments/captures/{capture_id}/refund",
                    "rel": "refund",
                },
            ],
        }
        if capture["status"] != "DECLINED":
            fee = capture["fee"]
            doc["seller_receivable_breakdown"] = {
                "gross_amount": doc["amount"],
                "paypal_fee": {"currency_code": currency, "value": decimal(fee, currency)},
                "net_amount": {"currency_code": currency, "value": decimal(gross - fee, currency)},
            }
        return doc

    async def _capture(self, request: web.Request) -> web.Response:
        await self._body(request, "capture")
        order = self.orders.get(request.match_info["id"])
        if order is None:
            return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        if order["status"] == "COMPLETED":
            return _error(422, "UNPROCESSABLE_ENTITY", "ORDER_ALREADY_CAPTURED")
        if order["status"] != "APPROVED":
            return _error(422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED")
        how = self._declines.get(order["id"])
        if how == "instrument":
            return _error(422, "UNPROCESSABLE_ENTITY", "INSTRUMENT_DECLINED")
        gross, currency = order["amount"]
        # 2.9% + a fixed part, rounded to the currency's minor units (a
        # zero-decimal currency's fixed part in whole units).
        fixed = self.fee_fixed // 100 if currency in ZERO_DECIMAL else self.fee_fixed
        fee = min(gross, (gross * self.fee_bps + 5_000) // 10_000 + fixed)
        capture = {
            "id": paypal_id(),
            "status": "DECLINED" if how == "status" else "COMPLETED",
            "amount": order["amount"],
            "fee": fee if how != "status" else 0,
            "refunded": 0,
            "custom_id": order["unit"].get("custom_id"),
            "order_id": order["id"],
        }
        self.captures[capture["id"]] = capture
        order["captures"].append(capture)
        order["status"] = "COMPLETED"
        return web.json_response(self._order_doc(order), status=201)

    async def _refund(self, request: web.Request) -> web.Response:
        body = await self._body(request, "refund")
        capture = self.captures.get(request.match_info["id"])
        if capture is None:
            return _error(404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")
        gross, currency = capture["amount"]
        left = gross - capture["refunded"]
        amount = (body or {}).get("amount")
        if amount is None:
            money: tuple[int, str] | None = (left, currency)
        else:
            money = self._money(amount, "refund", "currency_code")
        if money is None:
            return _error(400, "INVALID_REQUEST", "INVALID_PARAMETER_VALUE")
        if money[1] != currency:
            return _error(422, "UNPROCESSABLE_ENTITY", "REFUND_CURRENCY_MISMATCH")
        if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
            return _error(422, "UNPROCESSABLE_ENTITY", "CAPTURE_FULLY_REFUNDED")
        if money[0] > left:
            return _error(422, "UNPROCESSABLE_ENTITY", "REFUND_AMOUNT_EXCEEDED")
        # PayPal gives back the fee in proportion to the amount refunded.
        fee_back = capture["fee"] * money[0] // gross
        capture["refunded"] += money[0]
        capture["status"] = "REFUNDED" if capture["refunded"] == gross else "PARTIALLY_REFUNDED"
        refund_id = paypal_id()

        def value(minor: int) -> dict[str, str]:
            return {"currency_code": currency, "value": decimal(minor, currency)}

        doc = {
            "id": refund_id,
            "status": "COMPLETED",
            "amount": value(money[0]),
            "custom_id": capture["custom_id"],
            "seller_payable_breakdown": {
                "gross_amount": value(money[0]),
                "paypal_fee": value(fee_back),
                "net_amount": value(money[0] - fee_back),
                "total_refunded_amount": value(capture["refunded"]),
            },
            "links": [
                {"href": f"{self.base_url}/v2/payments/refunds/{refund_id}", "rel": "self"},
                {"href": f"{self.base_url}/v2/payments/captures/{capture['id']}", "rel": "up"},
            ],
        }
        self.refunds[refund_id] = doc
        return web.json_response(doc, status=201)

    # ------------------------------------------------------------- payouts

    async def _payout(self, request: web.Request) -> web.Response:
        body = await self._body(request, "payout") or {}
        header = body.get("sender_batch_header") or {}
        sender_batch_id = header.get("sender_batch_id")
        items = body.get("items")
        if not isinstance(sender_batch_id, str) or not isinstance(items, list) or not items:
            return _error(400, "VALIDATION_ERROR", "MISSING_REQUIRED_PARAMETER")
        existing = self._sender_batches.get(sender_batch_id)
        if existing is not None:
            extra: dict[str, Any] = {"field": "SENDER_BATCH_ID", "location": "body"}
            if self.duplicate_links:
                href = f"{self.base_url}/v1/payments/payouts/{existing}"
                extra["link"] = [{"href": href, "rel": "self", "method": "GET"}]
            return _error(
                400,
                "USER_BUSINESS_ERROR",
                "Batch with given sender_batch_id already exists",
                **extra,
            )
        accepted = []
        for item in items:
            money = self._money((item or {}).get("amount"), "payout", "currency")
            receiver = (item or {}).get("receiver")
            if item.get("recipient_type") != "EMAIL" or not isinstance(receiver, str):
                self.violations.append("payout item without an EMAIL receiver")
                return _error(400, "VALIDATION_ERROR", "RECEIVER_INVALID")
            if money is None or "@" not in receiver:
                return _error(400, "VALIDATION_ERROR", "Receiver or amount is invalid")
            accepted.append((money, receiver, item.get("sender_item_id")))
        batch_id = paypal_id()
        batch_items = []
        for (minor, currency), receiver, sender_item_id in accepted:
            status, error = self._outcomes.get(receiver, ("SUCCESS", None))
            record = {
                "payout_item_id": paypal_id(),
                "transaction_id": paypal_id() if status == "SUCCESS" else None,
                "transaction_status": status,
                "payout_batch_id": batch_id,
                "payout_item": {
                    "recipient_type": "EMAIL",
                    "amount": {"currency": currency, "value": decimal(minor, currency)},
                    "receiver": receiver,
                    "sender_item_id": sender_item_id,
                },
                "error": error,
            }
            batch_items.append(record)
            self.payments_sent.append(record)
        self.batches[batch_id] = {
            "id": batch_id,
            "sender_batch_header": {
                "sender_batch_id": sender_batch_id,
                "email_subject": header.get("email_subject"),
            },
            "items": batch_items,
        }
        self._sender_batches[sender_batch_id] = batch_id
        reply = {
            "batch_header": {
                "payout_batch_id": batch_id,
                "batch_status": "PENDING",
                "sender_batch_header": self.batches[batch_id]["sender_batch_header"],
            },
            "links": [{"href": f"{self.base_url}/v1/payments/payouts/{batch_id}", "rel": "self"}],
        }
        return web.json_response(reply, status=201)

    def payout_item_doc(self, record: dict[str, Any]) -> dict[str, Any]:
        doc = {key: value for key, value in record.items() if key != "error"}
        if record["error"]:
            doc["errors"] = {"name": record["error"], "message": record["error"]}
        return doc

    async def _get_payout(self, request: web.Request) -> web.Response:
        batch = self.batches.get(request.match_info["id"])
        if batch is None:
            return _error(404, "INVALID_RESOURCE_ID", "INVALID_RESOURCE_ID")
        return web.json_response(
            {
                "batch_header": {
                    "payout_batch_id": batch["id"],
                    "batch_status": "SUCCESS",
                    "sender_batch_header": batch["sender_batch_header"],
                },
                "items": [self.payout_item_doc(item) for item in batch["items"]],
            }
        )

    # ------------------------------------------------------------- webhooks

    async def _cert(self, request: web.Request) -> web.Response:
        name = request.match_info["name"]
        self.cert_requests.append(name)
        # CERT-good-2, CERT-good-3...: the good chain under other URLs.
        chain = self.chains.get(name.removeprefix("CERT-").split("-")[0])
        if name == "CERT-huge":
            chain = self.chains["good"] + b"\n" * (100 * 1024)
        if chain is None:
            return web.Response(status=404)
        return web.Response(body=chain, content_type="application/x-pem-file")

    def signed_headers(
        self, body: bytes, *, tamper: str | None = None, webhook_id: str | None = None
    ) -> dict[str, str]:
        """The headers PayPal sends with ``body``. ``tamper``: ``signature``
        (a corrupted signature), ``expired`` / ``untrusted`` / ``self_signed`` /
        ``wrong_name`` (the certificate), ``other_host`` (the cert URL on localhost instead of
        the API origin), ``wrong_path``, ``stale`` (sent 10 minutes ago),
        ``future``, ``algo`` (SHA1withRSA)."""
        moment = datetime.datetime.now(datetime.UTC).replace(microsecond=0)
        if tamper == "stale":
            moment -= datetime.timedelta(minutes=10)
        if tamper == "future":
            moment += datetime.timedelta(minutes=10)
        transmission_id = str(uuid.uuid4())
        transmission_time = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        crc = zlib.crc32(body) & 0xFFFFFFFF
        message = f"{transmission_id}|{transmission_time}|{webhook_id or self.webhook_id}|{crc}"
        signature = self.leaf.key.sign(message.encode(), padding.PKCS1v15(), hashes.SHA256())
        if tamper == "signature":
            signature = bytes([signature[0] ^ 1]) + signature[1:]
        chain = tamper if tamper in self.chains else "good"
        cert_url = self.cert_url(chain)
        if tamper == "other_host":
            cert_url = cert_url.replace("127.0.0.1", "localhost")
        if tamper == "wrong_path":
            cert_url = cert_url.replace("/v1/notifications/certs/", "/v1/notifications/keys/")
        return {
            "Paypal-Transmission-Id": transmission_id,
            "Paypal-Transmission-Time": transmission_time,
            "Paypal-Transmission-Sig": base64.b64encode(signature).decode(),
            "Paypal-Cert-Url": cert_url,
            "Paypal-Auth-Algo": "SHA1withRSA" if tamper == "algo" else "SHA256withRSA",
            "Paypal-Auth-Version": "v2",
            "Content-Type": "application/json",
            "User-Agent": "PayPal/AUHD-214.0-58842374",
        }

    async def send_webhook(
        self,
        url: str,
        event_type: str,
        resource: dict[str, Any],
        *,
        event_id: str | None = None,
        tamper: str | None = None,
    ) -> tuple[int, str]:
        """POST a signed event to ``url`` as PayPal delivers it; ``tamper``
        as :meth:`signed_headers`, or ``body`` (a byte changed after signing)."""
        body = orjson.dumps(event(event_type, resource, event_id=event_id))
        headers = self.signed_headers(body, tamper=None if tamper == "body" else tamper)
        if tamper == "body":
            body = body.replace(b'"value":"', b'"value":"1', 1)
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            return response.status, await response.text()
