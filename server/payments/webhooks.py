"""PayPal webhook verification, done here (not with PayPal's
verify-webhook-signature postback: no round trip per event, and it works for
events PayPal's simulator sends too).

Checked in this order, each before the body is parsed:

1. the body is at most ``max_body`` bytes (413);
2. the ``PAYPAL-TRANSMISSION-ID / -TIME / -SIG / -CERT-URL / -AUTH-ALGO``
   headers are there (any case), the algorithm is ``SHA256withRSA`` and the
   time parses (400: not a PayPal delivery at all);
3. the transmission time is within ``tolerance`` of now, either side (a
   replayed delivery; PayPal's own retries are new transmissions);
4. the certificate URL is ``https`` on exactly PayPal's API host for the
   mode, on the default port, one name under ``/v1/notifications/certs/``
   with no query (nothing is fetched from anywhere else: no SSRF through
   the header). Only when an
   explicit API base URL is configured (a local fake in tests) is that base
   URL's own origin allowed instead;
5. the PEM chain (fetched with a size cap and a timeout, cached by URL) is
   verified against the trust roots at the current time with
   ``cryptography``'s web-PKI verifier, the leaf naming
   ``messageverificationcerts.paypal.com`` (sandbox: or
   ``messageverificationcerts.sandbox.paypal.com``). Trust roots: certifi's
   bundle when installed, else the system's, plus ``ca_file`` if given;
6. the RSA PKCS#1 v1.5 SHA-256 signature over
   ``transmission_id|transmission_time|webhook_id|crc32(body)``.

Statuses: 413 too large; 400 a malformed delivery (missing headers, another
algorithm, an unreadable time, a body that is not an event); 401 anything
not proven to come from PayPal (stale time, a certificate URL off the allow
list, an untrusted, expired or misnamed certificate, a bad signature); 503
when the certificate cannot be fetched now (PayPal retries any non-2xx
delivery for three days, so a passing outage loses nothing).
"""

from __future__ import annotations

import base64
import binascii
import datetime
import logging
import time
import urllib.parse
import warnings
import zlib
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path

import aiohttp
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from actors.ports import PaymentNotice, WebhookRejected
from server.payments.events import parse_event

__all__ = ["CERT_NAMES", "CERT_PATH", "CERT_URL_HOSTS", "WebhookVerifier", "signed_message"]

log = logging.getLogger(__name__)

CERT_URL_HOSTS = {
    "live": frozenset({"api-m.paypal.com", "api.paypal.com"}),
    "sandbox": frozenset({"api-m.sandbox.paypal.com", "api.sandbox.paypal.com"}),
}
CERT_NAMES = {
    "live": ("messageverificationcerts.paypal.com",),
    "sandbox": (
        "messageverificationcerts.paypal.com",
        "messageverificationcerts.sandbox.paypal.com",
    ),
}
CERT_PATH = "/v1/notifications/certs/"
AUTH_ALGO = "SHA256withRSA"
REQUIRED = (
    "paypal-transmission-id",
    "paypal-transmission-time",
    "paypal-transmission-sig",
    "paypal-cert-url",
    "paypal-auth-algo",
)
SYSTEM_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def signed_message(
    transmission_id: str, transmission_time: str, webhook_id: str, body: bytes
) -> bytes:
    """What PayPal signs: the ids, the time and the CRC-32 of the raw body."""
    crc = zlib.crc32(body) & 0xFFFFFFFF
    return f"{transmission_id}|{transmission_time}|{webhook_id}|{crc}".encode()


def default_roots() -> list[x509.Certificate]:
    """certifi's bundle when installed, else the system's."""
    try:
        import certifi  # noqa: PLC0415 (optional)

        path = certifi.where()
    except ImportError:
        path = SYSTEM_BUNDLE
    try:
        with warnings.catch_warnings():
            # Bundles still hold a few old roots with non-positive serials.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError):
        log.warning("paypal webhooks: no trust roots at %s", path)
        return []


class WebhookVerifier:
    """Verifies deliveries for one webhook subscription (``webhook_id``)."""

    def __init__(
        self,
        *,
        webhook_id: str,
        mode: str,
        session: Callable[[], aiohttp.ClientSession],
        base_url: str = "",
        ca_file: str | None = None,
        tolerance: float = 300.0,
        max_body: int = 256 * 1024,
        max_cert_bytes: int = 64 * 1024,
        timeout: float = 10.0,
        cache_size: int = 32,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if mode not in CERT_URL_HOSTS:
            raise ValueError("PayPal mode must be sandbox or live")
        self.webhook_id = webhook_id
        self.mode = mode
        self.tolerance = tolerance
        self.max_body = max_body
        self.max_cert_bytes = max_cert_bytes
        self._session = session
        self._timeout = aiohttp.ClientTimeout(total=timeout)
        self._cache_size = cache_size
        self._clock = clock
        self._origin = _origin(base_url) if base_url else None
        # Read now: a missing or broken file stops the node at start, not
        # at the first delivery.
        self._extra_roots = _load_roots(ca_file) if ca_file else []
        self._store: Store | None = None
        self._certs: OrderedDict[str, list[x509.Certificate]] = OrderedDict()
        self.cert_fetches = 0

    async def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> PaymentNotice:
        if len(body) > self.max_body:
            raise WebhookRejected("the body is too large", 413)
        lower = {name.lower(): value for name, value in headers.items()}
        missing = [name for name in REQUIRED if not lower.get(name)]
        if missing:
            raise WebhookRejected(f"missing header {missing[0].upper()}", 400)
        if lower["paypal-auth-algo"] != AUTH_ALGO:
            raise WebhookRejected("unsupported PAYPAL-AUTH-ALGO", 400)
        transmission_id = lower["paypal-transmission-id"]
        transmission_time = lower["paypal-transmission-time"]
        self._check_time(transmission_time)
        cert_url = lower["paypal-cert-url"]
        self._check_cert_url(cert_url)
        try:
            signature = base64.b64decode(lower["paypal-transmission-sig"], validate=True)
        except (binascii.Error, ValueError):
            raise WebhookRejected("the signature is not base64", 401) from None
        leaf = await self._verified_leaf(cert_url)
        key = leaf.public_key()
        if not isinstance(key, rsa.RSAPublicKey):
            raise WebhookRejected("the certificate's key is not RSA", 401)
        message = signed_message(transmission_id, transmission_time, self.webhook_id, body)
        try:
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise WebhookRejected("bad signature", 401) from None
        return parse_event(body)

    # ------------------------------------------------------------ checks

    def _check_time(self, text: str) -> None:
        try:
            when = datetime.datetime.fromisoformat(text)
        except ValueError:
            raise WebhookRejected("PAYPAL-TRANSMISSION-TIME does not parse", 400) from None
        if when.tzinfo is None:
            when = when.replace(tzinfo=datetime.UTC)
        if abs(when.timestamp() - self._clock()) > self.tolerance:
            raise WebhookRejected("the transmission time is too far from now", 401)

    def _check_cert_url(self, url: str) -> None:
        try:
            parts = urllib.parse.urlsplit(url)
            port = parts.port
        except ValueError:
            raise WebhookRejected("the certificate URL does not parse", 401) from None
        if parts.username is not None or parts.password is not None:
            raise WebhookRejected("the certificate URL is not PayPal's", 401)
        if self._origin is not None:
            allowed = (parts.scheme, (parts.hostname or "").lower(), port) == self._origin
        else:
            allowed = (
                parts.scheme == "https"
                and (parts.hostname or "") in CERT_URL_HOSTS[self.mode]
                and port in (None, 443)
            )
        if not allowed:
            raise WebhookRejected("the certificate URL is not PayPal's", 401)
        path = parts.path
        name = path[len(CERT_PATH) :]
        if not path.startswith(CERT_PATH) or not name or "/" in name or ".." in name:
            raise WebhookRejected("the certificate URL is not PayPal's", 401)
        if parts.query or parts.fragment or "%" in path:
            raise WebhookRejected("the certificate URL is not PayPal's", 401)

    async def _verified_leaf(self, url: str) -> x509.Certificate:
        chain = self._certs.get(url)
        if chain is None:
            chain = await self._fetch(url)
            self._certs[url] = chain
            while len(self._certs) > self._cache_size:
                self._certs.popitem(last=False)
        self._certs.move_to_end(url)
        leaf, intermediates = chain[0], chain[1:]
        now = datetime.datetime.fromtimestamp(self._clock(), datetime.UTC)
        reasons = []
        for name in CERT_NAMES[self.mode]:
            verifier = (
                PolicyBuilder()
                .store(self._trust())
                .time(now)
                .build_server_verifier(x509.DNSName(name))
            )
            try:
                verifier.verify(leaf, intermediates)
            except VerificationError as exc:
                reasons.append(f"{name}: {exc}")
                continue
            return leaf
        # Expired, not chained to a trusted root, or for another name: the
        # verifier's reason goes to the log, not to the sender.
        log.warning("paypal webhook: certificate %s did not verify (%s)", url, "; ".join(reasons))
        raise WebhookRejected("the certificate is not PayPal's", 401)

    async def _fetch(self, url: str) -> list[x509.Certificate]:
        self.cert_fetches += 1
        try:
            async with self._session().get(
                url, timeout=self._timeout, allow_redirects=False
            ) as response:
                status = response.status
                data = await response.content.read(self.max_cert_bytes + 1)
        except (TimeoutError, aiohttp.ClientError, OSError):
            raise WebhookRejected("the certificate could not be fetched", 503) from None
        if status >= 500 or status == 429:
            raise WebhookRejected("the certificate could not be fetched", 503)
        if status != 200 or len(data) > self.max_cert_bytes:
            raise WebhookRejected("the certificate URL gave no certificate", 401)
        try:
            chain = x509.load_pem_x509_certificates(data)
        except ValueError:
            raise WebhookRejected("the certificate URL gave no certificate", 401) from None
        return chain

    def _trust(self) -> Store:
        if self._store is None:
            self._store = Store(default_roots() + self._extra_roots)
        return self._store


def _origin(base_url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(base_url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


def _load_roots(path: str) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(Path(path).read_bytes())
    except (OSError, ValueError):
        raise ValueError(
            "GROVER_PAYPAL_CA_FILE is not a readable PEM file of certificates"
        ) from None
