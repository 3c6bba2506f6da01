"""PayPal's REST transport: one ``aiohttp.ClientSession``, the OAuth2
client-credentials token, timeouts and retries. :mod:`server.payments.paypal`
speaks Orders v2, Payments and Payouts over it.

- **Token**: ``POST /v1/oauth2/token`` with HTTP Basic ``client_id:secret``,
  cached until a minute before ``expires_in`` runs out (one fetch at a time),
  fetched anew once when an API call answers 401 (PayPal revoked it early).
- **Idempotency**: every POST carries ``PayPal-Request-Id`` (the caller's
  request id), so a retry after a timeout or a 5xx gets the first answer
  back, never a second charge, refund or payout.
- **Retries** with exponential backoff and jitter on 5xx, 429, timeouts and
  network errors, a bounded number of attempts; never on another 4xx (a
  refusal does not get better by asking again): :class:`PayPalRefused`.
- **Secrets** never reach a log line, an exception or a ``repr``.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson

from actors.ports import PaymentError

__all__ = ["LIVE_API", "SANDBOX_API", "PayPalConfig", "PayPalHTTP", "PayPalRefused"]

log = logging.getLogger(__name__)

LIVE_API = "https://api-m.paypal.com"
SANDBOX_API = "https://api-m.sandbox.paypal.com"
TOKEN_MARGIN = 60.0
"""Seconds before ``expires_in`` runs out at which a cached token is dropped:
a token that expires in flight would cost a 401 and a second round trip."""
MAX_RETRY_AFTER = 30.0


@dataclasses.dataclass(frozen=True)
class PayPalConfig:
    """A PayPal REST app. ``base_url`` overrides the mode's API host (a local
    fake in tests); the secret is left out of ``repr``."""

    client_id: str
    client_secret: str = dataclasses.field(repr=False)
    webhook_id: str
    mode: str = "sandbox"
    base_url: str = ""
    ca_file: str | None = None
    """PEM of extra roots trusted for the webhook certificates (tests)."""

    def __post_init__(self) -> None:
        if self.mode not in ("sandbox", "live"):
            raise ValueError("PayPal mode must be sandbox or live")
        if not (self.client_id and self.client_secret and self.webhook_id):
            raise ValueError("PayPal needs a client id, a secret and a webhook id")

    @property
    def api_url(self) -> str:
        if self.base_url:
            return self.base_url.rstrip("/")
        return LIVE_API if self.mode == "live" else SANDBOX_API


class PayPalRefused(PaymentError):
    """A 4xx from PayPal: not retried. ``issue`` is the first detail's issue
    (``INSTRUMENT_DECLINED``, ``ORDER_ALREADY_CAPTURED``...) or, without
    details, the error's name; ``body`` is PayPal's error document."""

    def __init__(self, message: str, *, status: int, issue: str, body: dict[str, Any]) -> None:
        super().__init__(message, retryable=False, issue=issue)
        self.status = status
        self.body = body


class _Transient(Exception):
    """An attempt that may succeed if made again (5xx, 429, timeout, network)."""

    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PayPalHTTP:
    """Authenticated JSON calls to PayPal's REST API."""

    def __init__(
        self,
        config: PayPalConfig,
        *,
        timeout: float = 10.0,
        attempts: int = 4,
        backoff: float = 0.25,
        max_backoff: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self.config = config
        self._timeout = aiohttp.ClientTimeout(total=timeout, sock_connect=min(timeout, 10.0))
        self._attempts = attempts
        self._backoff = backoff
        self._max_backoff = max_backoff
        self._clock = clock
        self._session: aiohttp.ClientSession | None = None
        self._token: str | None = None
        self._token_until = 0.0
        self._token_lock = asyncio.Lock()
        self.token_fetches = 0

    def __repr__(self) -> str:
        return f"PayPalHTTP({self.config!r})"

    def session(self) -> aiohttp.ClientSession:
        """The one session, made on first use (inside the event loop)."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(raise_for_status=False)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    # ------------------------------------------------------------ calls

    async def call(
        self,
        method: str,
        path: str,
        *,
        body: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> dict[str, Any]:
        """PayPal's JSON reply to a 2xx. Raises :class:`PayPalRefused` on a
        4xx at once, ``PaymentError(retryable=True)`` once the attempts are
        spent on 5xx/429/timeouts/network errors."""
        if method == "POST" and not request_id:
            raise ValueError("every POST to PayPal needs a request id (idempotency)")
        what = f"{method} {path.partition('?')[0]}"
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            try:
                token = await self._bearer()
                status, reply, retry_after = await self._send(
                    method, path, token=token, body=body, request_id=request_id
                )
                if status == 401 and not refreshed:
                    # Revoked or expired early: one fresh token, not an attempt.
                    refreshed = True
                    self._forget_token(token)
                    attempt -= 1
                    continue
                if status >= 500 or status == 429:
                    raise _Transient(f"HTTP {status}", retry_after)
                if status >= 400:
                    raise self._refusal(what, status, reply)
                return reply or {}
            except _Transient as exc:
                if attempt >= self._attempts:
                    raise PaymentError(
                        f"PayPal {what} failed: {exc} (after {attempt} attempts)", retryable=True
                    ) from None
                delay = min(self._max_backoff, self._backoff * 2 ** (attempt - 1))
                delay *= 0.5 + random.random()
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, MAX_RETRY_AFTER))
                log.info("paypal %s: %s; retry %d in %.2fs", what, exc, attempt, delay)
                await asyncio.sleep(delay)

    async def _send(
        self,
        method: str,
        path: str,
        *,
        token: str,
        body: dict[str, Any] | None,
        request_id: str | None,
    ) -> tuple[int, dict[str, Any] | None, float | None]:
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            # The full resource (amounts, fee breakdowns), not just id + links.
            "Prefer": "return=representation",
        }
        data = None
        if method == "POST":
            headers["Content-Type"] = "application/json"
            data = orjson.dumps(body or {})
        if request_id:
            headers["PayPal-Request-Id"] = request_id
        return await self._exchange(method, path, data=data, headers=headers, label="")

    async def _exchange(
        self, method: str, path: str, *, data: bytes | None, headers: dict[str, str], label: str
    ) -> tuple[int, dict[str, Any] | None, float | None]:
        """One HTTP exchange with the API host: status, JSON body, Retry-After.
        A timeout or a network error is :class:`_Transient` (``label`` names
        the request in its reason)."""
        try:
            async with self.session().request(
                method,
                self.config.api_url + path,
                data=data,
                headers=headers,
                timeout=self._timeout,
            ) as response:
                return response.status, await _json(response), _retry_after(response)
        except TimeoutError:
            raise _Transient(f"{label} timed out" if label else "timed out") from None
        except (aiohttp.ClientError, OSError) as exc:
            reason = f"network error ({type(exc).__name__})"
            raise _Transient(f"{label}: {reason}" if label else reason) from None

    # ------------------------------------------------------------ token

    async def _bearer(self) -> str:
        token = self._token
        if token is not None and self._clock() < self._token_until:
            return token
        async with self._token_lock:
            # Another caller may have fetched one while this one waited.
            if self._token is not None and self._clock() < self._token_until:
                return self._token
            return await self._fetch_token()

    def _forget_token(self, token: str) -> None:
        if self._token == token:
            self._token = None
            self._token_until = 0.0

    async def _fetch_token(self) -> str:
        config = self.config
        headers = {
            "Authorization": aiohttp.encode_basic_auth(config.client_id, config.client_secret),
            "Accept": "application/json",
            "Content-Type": "application/x-www-form-urlencoded",
        }
        self.token_fetches += 1
        started = self._clock()
        status, reply, retry_after = await self._exchange(
            "POST",
            "/v1/oauth2/token",
            data=b"grant_type=client_credentials",
            headers=headers,
            label="token request",
        )
        if status >= 500 or status == 429:
            raise _Transient(f"token request: HTTP {status}", retry_after)
        doc = reply or {}
        token, expires_in = doc.get("access_token"), doc.get("expires_in")
        if status != 200 or not isinstance(token, str) or not token:
            # OAuth's {"error": "invalid_client", ...}: credentials refused.
            issue = str(doc.get("error") or f"HTTP_{status}")[:100]
            raise PaymentError(
                f"PayPal refused the app's credentials (HTTP {status}, {issue})",
                retryable=False,
                issue=issue,
            )
        lifetime = float(expires_in) if isinstance(expires_in, int | float) else 0.0
        self._token = token
        self._token_until = started + max(0.0, lifetime - TOKEN_MARGIN)
        return token

    # ------------------------------------------------------------ errors

    def _refusal(self, what: str, status: int, reply: dict[str, Any] | None) -> PayPalRefused:
        """PayPal's ``{name, message, debug_id, details[{issue}]}``; the
        message keeps only names and ids (never echoed request data)."""
        body = reply or {}
        # REST errors say "name"; OAuth's (a refused token) say "error".
        name = _short(body.get("name")) or _short(body.get("error")) or f"HTTP_{status}"
        issue = name
        details = body.get("details")
        if isinstance(details, list) and details and isinstance(details[0], dict):
            issue = _short(details[0].get("issue")) or name
        debug_id = _short(body.get("debug_id"))
        message = f"PayPal refused {what}: HTTP {status} {name}"
        if issue != name:
            message += f" ({issue})"
        if debug_id:
            message += f" debug_id={debug_id}"
        for secret in (self.config.client_secret, self._token or ""):
            if secret:
                message = message.replace(secret, "***")
        return PayPalRefused(message, status=status, issue=issue, body=body)


def _short(value: object) -> str:
    return value[:120] if isinstance(value, str) else ""


def _retry_after(response: aiohttp.ClientResponse) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


async def _json(response: aiohttp.ClientResponse) -> dict[str, Any] | None:
    try:
        body = orjson.loads(await response.read())
    except orjson.JSONDecodeError:
        return None
    return body if isinstance(body, dict) else None
