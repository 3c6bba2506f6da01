"""Error reports and traces to Sentry, when ``SENTRY_DSN`` is set.

What becomes an event: every log record at ERROR or above (the logging
integration), which is how each failure path already reports a bug: the
gateway's unhandled handler error, the actor runtime's crash, the sidecar's
unhandled error (:mod:`server.http.access`), and the background tasks'
failures. Lower records become breadcrumbs. One path, so a failure is never
reported twice, and nothing here sits on the hot path: the tags are read
from the context variables of :mod:`actors.logctx` only when an event is
sent.

Tags on every event: ``node``, ``release``, and when known ``request_type``,
``request``, ``session``, ``user``, ``actor``, ``task``, ``route``.

What never leaves the process (:func:`scrub`, run on every event,
transaction and breadcrumb): values under sensitive keys at any depth
(passwords, tokens, secrets, authorization, cookies, emails, message text
and bodies, PayPal and Cloudinary credentials, peer addresses), request
bodies, query strings, cookies, local variables (off at the source too), and
inside any string: email addresses, bearer tokens, long token-like runs, and
``key=value`` pairs of sensitive keys in reprs.

The SDK is process-global: :func:`init` installs a client and :func:`close`
flushes and removes it (in a thread: flushing blocks), only if it is still
the one installed, so a node stopping in a test leaves nothing behind.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import re
from collections.abc import Mapping
from importlib import metadata
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.dedupe import DedupeIntegration
from sentry_sdk.integrations.logging import LoggingIntegration

from actors.logctx import actor_var, node_var, request_var, task_var
from server.config import Settings
from server.context import Caller, Handler, HandlerTable, Services
from server.observability.logs import request_type

__all__ = ["RELEASE", "close", "init", "scrub", "traced"]

log = logging.getLogger("grover.sentry")


def _release() -> str:
    try:
        return f"grover@{metadata.version('grover')}"
    except metadata.PackageNotFoundError:
        return "grover@unknown"


RELEASE = _release()

FILTERED = "[Filtered]"

_SENSITIVE_EXACT = frozenset(
    {
        "text",
        "body",
        "bodies",
        "caption",
        "bio",
        "content",
        "data",
        "query_string",
        "cookies",
        "peer",
        "remote_addr",
        "ip_address",
        "vars",
        "dsn",
        "sentry_dsn",
        "cloudinary_url",
        "app_certificate",
        "agora_app_certificate",
    }
)
"""Keys whose values are dropped whatever they hold (compared lower-cased,
``-`` as ``_``). ``data`` and ``body`` are request bodies; ``vars`` are a
stack frame's local variables."""

_SENSITIVE_PARTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "cookie",
    "email",
    "api_key",
    "apikey",
    "credential",
    "signature",
)
"""A key containing one of these is dropped too (``access_token``,
``client_secret``, ``paypal_client_secret``, ``set_cookie``, ...)."""

_KEEP = frozenset(
    {
        "event_id",
        "trace_id",
        "span_id",
        "parent_span_id",
        "filename",
        "abs_path",
        "module",
        "function",
        "package",
        "timestamp",
        "start_timestamp",
        "release",
        "tags",
    }
)
"""Keys whose (structural) values are not searched for secrets: ids of the
event itself, stack frames' code locations, and the tags set below."""

_KEYS = "password|passwd|secret|token|access_token|authorization|cookie|email|text|body"
_PATTERNS = (
    # key=value or 'key': 'value' in reprs (a struct or dict in an exception message).
    (
        re.compile(rf"""(?i)(['"]?\b\w*(?:{_KEYS})\b['"]?\s*[=:]\s*)(['"])(?:\\.|(?!\2).)*\2"""),
        r"\1" + "'" + FILTERED + "'",
    ),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 " + FILTERED),
    # key=value unquoted (a query string in a URL, a header in a message).
    (re.compile(rf"(?i)(\b\w*(?:{_KEYS})=)[^\s&'\",;)]+"), r"\1" + FILTERED),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "[email]"),
    # A long unbroken run of token characters with letters and digits: login
    # tokens (43 url-safe characters), PayPal access tokens, signatures. Our
    # ids are 24 hex digits and stay readable.
    (
        re.compile(r"(?<![\w/.+=-])(?=[\w+/=-]*\d)(?=[\w+/=-]*[A-Za-z])[\w+/=-]{32,}"),
        "[token]",
    ),
)


def _sensitive(key: str) -> bool:
    name = key.lower().replace("-", "_")
    return name in _SENSITIVE_EXACT or any(part in name for part in _SENSITIVE_PARTS)


def scrub_text(text: str) -> str:
    """``text`` with emails, bearer tokens, long tokens and sensitive
    ``key=value`` pairs replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def scrub(value: Any) -> Any:
    """A copy of ``value`` (dicts, lists, tuples, strings, at any depth) with
    everything sensitive removed or redacted (see the module's docstring)."""
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, Mapping):
        cleaned: dict[Any, Any] = {}
        for key, item in value.items():
            if isinstance(key, str) and _sensitive(key):
                cleaned[key] = FILTERED
            elif key in _KEEP:
                cleaned[key] = item
            else:
                cleaned[key] = scrub(item)
        return cleaned
    if isinstance(value, list | tuple):
        return [scrub(item) for item in value]
    if isinstance(value, bytes | bytearray):
        return FILTERED
    return value


def _tags(event: dict[str, Any], default_node: str) -> None:
    """Name what the event belongs to, from the context it was captured in
    (and from the ``extra`` of the log record it came from)."""
    extra = event.get("extra") or {}
    tags: dict[str, Any] = dict(event.get("tags") or {})
    tags["node"] = extra.get("node") or node_var.get() or default_node
    tags["release"] = RELEASE
    info = request_var.get()
    if info is not None:
        tags["request_type"] = info.kind
        tags["request"] = str(info.id)
        if info.session is not None:
            tags["session"] = info.session
        if info.user is not None:
            tags["user"] = info.user
    actor = extra.get("actor") or actor_var.get() or (info.actor if info else None)
    if actor is not None:
        tags["actor"] = actor
    task = extra.get("task") or task_var.get()
    if task is not None:
        tags["task"] = task
    if extra.get("route") is not None:
        tags["route"] = extra["route"]
    event["tags"] = tags


def _before_send(node: str, event: Any, hint: dict[str, Any]) -> Any:
    request = event.get("request")
    if isinstance(request, dict):
        # Only where it went: no body, query, cookies or headers.
        event["request"] = {k: request[k] for k in ("method", "url") if k in request}
    cleaned: dict[str, Any] = scrub(event)
    _tags(cleaned, node)
    return cleaned


def _before_breadcrumb(crumb: Any, hint: dict[str, Any]) -> Any:
    return scrub(crumb)


def init(settings: Settings) -> sentry_sdk.Client | None:
    """Install a Sentry client when ``settings.sentry_dsn`` is set; returns
    it (for :func:`close`), or ``None`` and does nothing without a DSN."""
    if not settings.sentry_dsn:
        return None
    before_send = functools.partial(_before_send, settings.node)
    sentry_sdk.init(
        dsn=settings.sentry_dsn,
        environment=settings.sentry_environment,
        release=RELEASE,
        server_name=settings.node,
        traces_sample_rate=settings.sentry_traces_sample_rate,
        # Only what we chose: the auto-enabled ones would patch aiohttp's
        # client (trace headers on calls to PayPal), redis and pymongo, and
        # the defaults add http.client, threads and an excepthook.
        default_integrations=False,
        auto_enabling_integrations=False,
        integrations=[
            LoggingIntegration(level=logging.INFO, event_level=logging.ERROR),
            DedupeIntegration(),
        ],
        include_local_variables=False,
        # No user identity, request bodies or frame variables from any integration.
        data_collection={"user_info": False, "http_bodies": [], "stack_frame_variables": False},
        max_request_body_size="never",
        send_client_reports=False,
        before_send=before_send,
        before_send_transaction=before_send,
        before_breadcrumb=_before_breadcrumb,
    )
    client = sentry_sdk.get_client()
    log.info("sentry reporting on", extra={"node": settings.node})
    return client if isinstance(client, sentry_sdk.Client) else None


async def close(client: sentry_sdk.Client | None, timeout: float = 2.0) -> None:
    """Send what is queued (at most ``timeout`` seconds) and shut ``client``
    down; uninstall it if it is still the process's client."""
    if client is None:
        return
    await asyncio.to_thread(client.close, timeout)
    scope = sentry_sdk.get_global_scope()
    if scope.client is client:
        scope.set_client(None)


def traced(handlers: HandlerTable) -> HandlerTable:
    """``handlers`` with each one run in a Sentry transaction named by its
    request type (sampled at ``sentry_traces_sample_rate``). Only used when
    tracing is on, so a node without it pays nothing per request."""
    return {kind: _traced(request_type(kind), handler) for kind, handler in handlers.items()}


def _traced(name: str, handler: Handler) -> Handler:
    async def run(services: Services, caller: Caller, request: Any) -> Any:
        with sentry_sdk.start_transaction(op="grover.request", name=name) as transaction:
            result = await handler(services, caller, request)
            transaction.set_status("ok")
            return result

    return run
