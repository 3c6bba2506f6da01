"""Settings. Every setting is a command-line flag and a ``GROVER_*`` environment
variable (``--sidecar-port`` and ``GROVER_SIDECAR_PORT``); a flag wins over the
environment, which wins over the default."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import secrets
import socket
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from protocol import limits
from server.gateway.transport import TRANSPORTS


@dataclasses.dataclass(frozen=True)
class RateRule:
    """A token bucket: ``rate`` tokens per second, at most ``burst`` saved up."""

    rate: float
    burst: float

    @classmethod
    def parse(cls, text: str) -> RateRule:
        """Parse ``"RATE/BURST"``, e.g. ``"20/40"``."""
        rate, _, burst = text.partition("/")
        rule = cls(float(rate), float(burst or rate))
        # Written so that NaN fails too (every comparison with it is false).
        if not (0 < rule.rate < math.inf and 1 <= rule.burst < math.inf):
            raise ValueError(f"rate rule {text!r}: need a finite rate > 0 and burst >= 1")
        return rule

    def __str__(self) -> str:
        return f"{self.rate:g}/{self.burst:g}"


def _field(default: Any, help: str, *, env: str = "", secret: bool = False) -> Any:
    """``env``: the variable's name when it is not ``GROVER_<NAME>`` (a name
    a service defines, like ``CLOUDINARY_URL``). ``secret``: left out of
    ``repr`` (it holds credentials)."""
    metadata = {"help": help, "env": env} if env else {"help": help}
    return dataclasses.field(default=default, metadata=metadata, repr=not secret)


_INCARNATION = secrets.token_hex(3)
"""Part of the default node name: in containers host name and pid often repeat
across restarts, and a restarted node must not be taken for its predecessor."""


@dataclasses.dataclass(frozen=True)
class Settings:
    host: str = _field("127.0.0.1", "interface both listeners bind to")
    port: int = _field(8765, "websocket gateway port")
    sidecar_port: int = _field(8080, "HTTP sidecar port (health, uploads, webhooks)")
    data_dir: Path = _field(Path("var"), "folder for the SQLite file and local media")
    mongo_url: str | None = _field(None, "use MongoDB at this URL instead of SQLite")
    mongo_db: str = _field("grover", "MongoDB database name")
    redis_url: str | None = _field(None, "join the cluster coordinated by this Redis")
    cloudinary_url: str | None = _field(
        None,
        "store media on Cloudinary (cloudinary://<api_key>:<api_secret>@<cloud_name>)"
        " instead of under data_dir",
        env="CLOUDINARY_URL",
        secret=True,
    )
    agora_app_id: str | None = _field(
        None, "Agora project's app id (32 hex): live tokens from Agora instead of development ones"
    )
    agora_app_certificate: str | None = _field(
        None, "Agora project's primary app certificate (32 hex), signs live tokens", secret=True
    )
    live_token_ttl: float = _field(
        600.0, "seconds a live-stream (RTC) token is valid; clients renew before then"
    )
    live_host_grace: float = _field(
        60.0, "seconds a live stream waits for its host to come back before it ends by itself"
    )
    paypal_client_id: str | None = _field(
        None, "PayPal REST app's client id: checkout, refunds and payouts", env="PAYPAL_CLIENT_ID"
    )
    paypal_client_secret: str | None = _field(
        None, "PayPal REST app's secret", env="PAYPAL_CLIENT_SECRET", secret=True
    )
    paypal_webhook_id: str | None = _field(
        None, "id of the PayPal webhook subscription (signs every event)", env="PAYPAL_WEBHOOK_ID"
    )
    paypal_mode: str = _field("sandbox", "sandbox or live (PayPal's API host)", env="PAYPAL_MODE")
    paypal_api_url: str = _field(
        "", "PayPal API base URL instead of the mode's (a local fake in tests)"
    )
    paypal_ca_file: str | None = _field(
        None, "PEM of extra roots trusted for PayPal's webhook certificates (tests)"
    )
    paypal_timeout: float = _field(
        10.0, "seconds each call to PayPal may take before it is retried (4 attempts in all)"
    )
    checkout_return_url: str = _field(
        "grover://paypal/return",
        "where PayPal sends the buyer back after approving: the app's link"
        " (for the web app: <app URL>/paypal/return)",
    )
    platform_fee_bps: int = _field(1000, "platform fee in basis points of each payment (1000: 10%)")
    payout_minimum: int = _field(100, "smallest payout, minor units")
    payout_hold: float = _field(
        7 * 24 * 3600.0, "seconds a seller's earnings stay pending before they can be paid out"
    )
    order_ttl: float = _field(1800.0, "seconds an unpaid order keeps its stock before it expires")
    market_sweep_interval: float = _field(
        30.0, "seconds between sweeps (expiries, releases, webhook events, payout polls)"
    )
    node_id: str = _field(
        "", "this node's name in the cluster, unique per start (default: host-pid-random)"
    )
    cluster_heartbeat: float = _field(1.0, "seconds between cluster heartbeats")
    node_timeout: float = _field(5.0, "seconds without heartbeat before a node is dead")
    lease_ttl: float = _field(5.0, "seconds an actor lease lives in Redis without renewal")
    stream_maxlen: int = _field(100_000, "approximate cap on each node's inbox stream")
    activation_log: str = _field("", "append actor activation records (JSON lines) here")
    log_level: str = _field("INFO", "DEBUG, INFO, WARNING or ERROR")
    sentry_dsn: str | None = _field(
        None, "report errors (and traces) to this Sentry DSN", env="SENTRY_DSN", secret=True
    )
    sentry_environment: str = _field(
        "production", "Sentry environment of the reports", env="SENTRY_ENVIRONMENT"
    )
    sentry_traces_sample_rate: float = _field(
        0.0, "share of requests traced as Sentry transactions (0 to 1)"
    )
    public_url: str = _field("", "ws:// URL printed for clients (default: from host/port)")
    app_dir: str | None = _field(
        None, "folder of the app's web export served at / (make run: frontend/dist)"
    )
    media_public_url: str = _field(
        "", "base URL of local media files (default: http://host:sidecar_port)"
    )

    transport: str = _field(
        "websockets", "websocket library behind the gateway: websockets or picows"
    )
    heartbeat_interval: float = _field(20.0, "seconds between websocket pings")
    hello_timeout: float = _field(10.0, "seconds a new connection has to send hello")
    outbox_size: int = _field(2048, "frames queued per connection before it is a slow consumer")
    outbox_bytes: int = _field(
        4 * 1024 * 1024,
        "bytes queued per connection (outbox and socket buffer) before it is a slow consumer",
    )
    max_connections: int = _field(
        0, "websockets open at once on this node (0: the open-file limit minus a reserve)"
    )
    max_connections_per_ip: int = _field(200, "websockets open at once per IP on this node")
    resume_buffer: int = _field(512, "events kept per session for resume")
    resume_ttl: float = _field(300.0, "seconds a disconnected session stays resumable")
    max_inflight: int = _field(64, "requests handled concurrently per connection")
    shutdown_grace: float = _field(5.0, "seconds to drain outboxes on shutdown")
    drain_seconds: float = _field(
        5.0,
        "seconds a stopping node stays up with /readyz at 503 before it stops accepting,"
        " so load balancers send new connections elsewhere first",
    )

    mailbox_size: int = _field(4096, "messages queued per actor")
    actor_idle_timeout: float = _field(300.0, "seconds before an idle actor is passivated")
    ask_timeout: float = _field(10.0, "seconds to wait for an actor's reply")

    metrics: bool = _field(True, "count and time for GET /metrics and the slow-operation log")
    slow_request_ms: float = _field(250.0, "log requests slower than this (grover.slow)")
    slow_store_ms: float = _field(100.0, "log store operations slower than this (grover.slow)")

    group_max_members: int = _field(100, "members a group may have (at most 256)")
    report_hide_threshold: int = _field(
        3, "distinct reporters that hide a post or comment pending review"
    )

    media_max_bytes: int = _field(50 * 1024 * 1024, "largest upload (a video) in bytes")
    media_image_max_bytes: int = _field(10 * 1024 * 1024, "largest image upload in bytes")
    upload_rate: RateRule = _field(RateRule(10 / 60, 10), "uploads per user (rate/burst)")
    upload_daily_bytes: int = _field(500 * 1024 * 1024, "bytes a user may upload in any 24 hours")
    media_unattached_ttl: float = _field(
        24 * 3600.0, "seconds an upload may stay unattached before the sweep deletes it"
    )
    media_sweep_interval: float = _field(300.0, "seconds between sweeps of unattached media")
    media_workers: int = _field(
        0, "images processed at once (0: one per core but one, left to the event loop)"
    )

    token_ttl: float = _field(7 * 24 * 3600.0, "seconds a login token stays valid")
    argon2_time_cost: int = _field(3, "argon2id iterations")
    argon2_memory_kib: int = _field(65536, "argon2id memory in KiB")

    rate_connect: RateRule = _field(RateRule(20, 100), "new connections per IP (rate/burst)")
    rate_request: RateRule = _field(RateRule(200, 400), "requests per user and type (rate/burst)")
    rate_login_account: RateRule = _field(RateRule(5 / 60, 5), "failed logins per account")
    rate_login_ip: RateRule = _field(RateRule(30 / 60, 30), "failed logins per IP")
    rate_register: RateRule = _field(RateRule(0.1, 20), "sign-ups per IP (rate/burst)")
    rate_typing: RateRule = _field(RateRule(2, 5), "typing notices per user and conversation")
    abuse_strikes: RateRule = _field(
        RateRule(1, 20), "malformed frames and ignored retry_after waits before 1008"
    )

    @property
    def node(self) -> str:
        return self.node_id or f"{socket.gethostname()}-{os.getpid()}-{_INCARNATION}"


def env_name(field_name: str) -> str:
    """``GROVER_<NAME>``, or the name the setting declares (``CLOUDINARY_URL``)."""
    return _ENV_NAMES.get(field_name) or f"GROVER_{field_name.upper()}"


_ENV_NAMES: dict[str, str] = {
    field.name: field.metadata["env"]
    for field in dataclasses.fields(Settings)
    if field.metadata.get("env")
}


def _convert(field: dataclasses.Field[Any], text: str) -> Any:
    kind = field.type if isinstance(field.type, str) else field.type.__name__
    if kind == "int":
        return int(text)
    if kind == "float":
        return float(text)
    if kind == "Path":
        return Path(text)
    if kind == "bool":
        if text.strip().lower() not in _BOOLS:
            raise ValueError(f"{text!r} is not one of {', '.join(_BOOLS)}")
        return _BOOLS[text.strip().lower()]
    if kind == "RateRule":
        return RateRule.parse(text)
    if kind == "str | None":
        return text or None
    return text


_BOOLS = {"1": True, "true": True, "on": True, "yes": True}
_BOOLS |= {"0": False, "false": False, "off": False, "no": False}

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_RANGES: dict[str, tuple[float, float]] = {
    "port": (0, 65535),
    "sidecar_port": (0, 65535),
    "outbox_size": (1, math.inf),
    # A page is up to MAX_REPLY_BYTES: a smaller outbox could not hold one.
    "outbox_bytes": (limits.MAX_REPLY_BYTES, math.inf),
    "max_connections_per_ip": (1, math.inf),
    "resume_buffer": (1, math.inf),
    "max_inflight": (1, math.inf),
    "mailbox_size": (1, math.inf),
    "argon2_time_cost": (1, math.inf),
    "argon2_memory_kib": (32, math.inf),  # argon2's own minimum with 4 lanes
    "stream_maxlen": (1, math.inf),
    "group_max_members": (2, 256),
    "report_hide_threshold": (1, math.inf),
    "live_token_ttl": (1, 24 * 3600),  # Agora honours a privilege for 24 h at most
    "platform_fee_bps": (0, 5000),
    "payout_minimum": (1, limits.PRICE_MAX),
    "sentry_traces_sample_rate": (0, 1),
}
"""Inclusive bounds of numeric settings; any other number must be >= 0."""

_POSITIVE = frozenset(
    {
        "heartbeat_interval",
        "hello_timeout",
        "ask_timeout",
        "token_ttl",
        "cluster_heartbeat",
        "node_timeout",
        "lease_ttl",
        "media_max_bytes",
        "media_image_max_bytes",
        "upload_daily_bytes",
        "media_unattached_ttl",
        "media_sweep_interval",
        "order_ttl",
        "market_sweep_interval",
        "paypal_timeout",
    }
)
"""Numeric settings where 0 would break the node (every hello or ask timing
out at once, every token born expired)."""


def _check(name: str, value: Any) -> None:
    """Refuse a value that parses but makes no sense (a negative timeout, a
    port out of range), so that the node stops at start naming the setting
    rather than failing later with a stack trace. Raises ``ValueError``."""
    if name == "log_level":
        if str(value).upper() not in LOG_LEVELS:
            raise ValueError(f"{value!r} is not one of {', '.join(LOG_LEVELS)}")
        return
    if name == "transport":
        if value not in TRANSPORTS:
            raise ValueError(f"{value!r} is not one of {', '.join(TRANSPORTS)}")
        return
    if name == "paypal_mode":
        if value not in ("sandbox", "live"):
            raise ValueError(f"{value!r} is not sandbox or live")
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        return
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a finite number")
    if name in _POSITIVE and value <= 0:
        raise ValueError(f"must be greater than 0, not {value:g}")
    low, high = _RANGES.get(name, (0, math.inf))
    if not low <= value <= high:
        bound = f"at least {low:g}" if high == math.inf else f"between {low:g} and {high:g}"
        raise ValueError(f"must be {bound}, not {value:g}")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """One ``--flag`` per setting; defaults are left out so the environment can
    fill what the command line does not say."""
    for field in dataclasses.fields(Settings):
        parser.add_argument(
            "--" + field.name.replace("_", "-"),
            dest=field.name,
            default=None,
            metavar=env_name(field.name),
            # argparse %-formats help: a literal "%" (the platform fee's) must be doubled.
            help=f"{field.metadata['help']} (default: {field.default})".replace("%", "%%"),
        )


def load(
    args: argparse.Namespace | None = None, environ: Mapping[str, str] | None = None
) -> Settings:
    """Settings from flags, then ``GROVER_*`` variables, then defaults. Raises
    ``ValueError`` naming the flag or variable when a value does not parse or
    is out of range."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for field in dataclasses.fields(Settings):
        raw = getattr(args, field.name, None) if args is not None else None
        source = "--" + field.name.replace("_", "-")
        if raw is None:
            raw = env.get(env_name(field.name))
            source = env_name(field.name)
        if raw is None:
            continue
        try:
            values[field.name] = value = _convert(field, raw)
            _check(field.name, value)
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None
    return Settings(**values)


def from_argv(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Settings:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return load(parser.parse_args(list(argv)), environ)
