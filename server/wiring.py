"""Settings → services: one ``make_*`` per port, each choosing its
implementation from configuration (embedded by default, the real engine when
its URL or credentials are set). :class:`server.app.Grover` calls these in
order; nothing else decides which implementation runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from actors.conversation import ConversationActor
from actors.ids import ActorKey
from actors.live import KIND as STREAM_KIND
from actors.messaging import KIND as CONVERSATION_KIND
from actors.messaging import message_view
from actors.placement import Placement
from actors.ports import LiveTokenIssuer, MediaStorage
from actors.post import PostActor
from actors.runtime import ActorSystem
from actors.sessions import MemorySessionDirectory, SessionDirectory, SessionSink
from actors.social import KIND as POST_KIND
from actors.store import Store
from actors.stream import StreamActor
from actors.user import KIND as USER_KIND
from actors.user import UserActor
from protocol.codec import encode_event_body
from protocol.messages.messaging import MessageNew
from server.auth import Passwords, Tokens
from server.cluster import Cluster
from server.cluster.faults import is_transient
from server.config import Settings, env_name
from server.context import Services
from server.cursors import Cursors
from server.fanout import FanOut
from server.gateway.ordering import LogEntry, LogReader
from server.gateway.sessions import SessionRegistry
from server.live_tokens.agora import AgoraTokenIssuer
from server.live_tokens.dev import DevTokenIssuer
from server.media_storage.cloudinary import CloudinaryConfig, CloudinaryMediaStorage
from server.media_storage.local import LocalMediaStorage
from server.observability.metrics import Metrics
from server.payments import make_payment_gateway
from server.ratelimit import MemoryRateLimiter, RateLimiter
from server.storage import make_store

__all__ = [
    "make_actor_system",
    "make_cluster",
    "make_directory",
    "make_live_token_issuer",
    "make_log_reader",
    "make_media_storage",
    "make_metrics",
    "make_payment_gateway",
    "make_services",
    "make_store",
    "media_root",
]


def make_log_reader(store: Store) -> LogReader:
    """How a session reads the conversation log to fill a gap in what was
    pushed to it: entries as ``message.new`` bodies, as they are pushed."""

    async def read(conversation_id: str, after_seq: int, limit: int) -> list[LogEntry]:
        records = await store.messages.since(conversation_id, after_seq, limit)
        return [
            LogEntry(r.seq, r.created_at, encode_event_body(MessageNew(message=message_view(r))))
            for r in records
        ]

    return read


def make_cluster(settings: Settings, sessions: SessionRegistry) -> Cluster | None:
    """The Redis cluster when ``redis_url`` is set; ``None``: this node is
    its own cluster (in-process placement, sessions and rate limits)."""
    return Cluster(settings, sessions) if settings.redis_url else None


def make_directory(cluster: Cluster | None) -> SessionDirectory:
    """Where users' sessions are recorded: in this process, or in Redis."""
    return MemorySessionDirectory() if cluster is None else cluster.directory


def make_actor_system(
    settings: Settings,
    store: Store,
    sessions: SessionRegistry,
    cluster: Cluster | None,
    directory: SessionDirectory,
) -> ActorSystem:
    sink: SessionSink = sessions if cluster is None else cluster.sink
    placement: Placement | None = cluster.placement if cluster is not None else None
    actors: ActorSystem

    def user_actor(key: ActorKey) -> UserActor:
        return UserActor(key, store, sink, directory)

    def conversation_actor(key: ActorKey) -> ConversationActor:
        return ConversationActor(key, store, actors, max_members=settings.group_max_members)

    def post_actor(key: ActorKey) -> PostActor:
        return PostActor(key, store, sink, actors)

    def stream_actor(key: ActorKey) -> StreamActor:
        return StreamActor(key, store, sink, actors, host_grace=settings.live_host_grace)

    actors = ActorSystem(
        {
            USER_KIND: user_actor,
            CONVERSATION_KIND: conversation_actor,
            POST_KIND: post_actor,
            STREAM_KIND: stream_actor,
        },
        placement=placement,
        mailbox_size=settings.mailbox_size,
        idle_timeout=settings.actor_idle_timeout,
        ask_timeout=settings.ask_timeout,
        transient=is_transient if cluster is not None else None,
    )
    if cluster is not None:
        cluster.bind(actors)
    return actors


def make_services(
    settings: Settings,
    store: Store,
    actors: ActorSystem,
    cluster: Cluster | None,
    directory: SessionDirectory,
    *,
    metrics: Metrics | None = None,
) -> Services:
    limiter: RateLimiter = MemoryRateLimiter() if cluster is None else cluster.limiter
    return Services(
        settings=settings,
        store=store,
        actors=actors,
        tokens=Tokens(store, settings.token_ttl),
        passwords=Passwords(
            time_cost=settings.argon2_time_cost, memory_kib=settings.argon2_memory_kib
        ),
        limiter=limiter,
        cursors=Cursors(store.keys),
        fanout=FanOut(store, actors, directory),
        live_tokens=make_live_token_issuer(settings),
        payments=make_payment_gateway(settings),
        metrics=metrics,
    )


def make_metrics(settings: Settings) -> Metrics | None:
    """The node's own metrics registry, or ``None`` with ``metrics`` off."""
    if not settings.metrics:
        return None
    return Metrics(
        settings.node,
        slow_request_ms=settings.slow_request_ms,
        slow_store_ms=settings.slow_store_ms,
    )


def media_root(settings: Settings) -> Path:
    """The local media storage's folder, which the sidecar serves."""
    return settings.data_dir / "media"


def make_media_storage(
    settings: Settings, sidecar_port: Callable[[], int] | None = None
) -> MediaStorage:
    """Where uploaded media go: Cloudinary when ``cloudinary_url``
    (``CLOUDINARY_URL``) is set, else a folder under ``data_dir``.
    ``sidecar_port`` gives the sidecar's bound
    port (known only after start when the setting is 0) for the default
    public URL ``http://<host>:<port>``; ``media_public_url`` overrides it
    (what clients reach: a proxy or CDN in front of the sidecar)."""
    # Raises ValueError (never quoting the secret) for a malformed URL, so
    # the node stops at start.
    if settings.cloudinary_url:
        return CloudinaryMediaStorage(CloudinaryConfig.parse(settings.cloudinary_url))
    base_url: str | Callable[[], str]
    if settings.media_public_url:
        base_url = settings.media_public_url
    else:
        # A wildcard bind address is no address to give clients.
        host = "127.0.0.1" if settings.host in ("", "0.0.0.0", "::") else settings.host
        if ":" in host:
            host = f"[{host}]"
        port = sidecar_port or (lambda: settings.sidecar_port)

        def base_url() -> str:
            return f"http://{host}:{port()}"

    return LocalMediaStorage(media_root(settings), base_url)


def make_live_token_issuer(settings: Settings) -> LiveTokenIssuer:
    """Who issues live-stream tokens: Agora (AccessToken2) when
    ``agora_app_id`` and ``agora_app_certificate`` are both set, else the
    development issuer (tokens marked ``development``; no RTC service
    accepts them). One set without the other is a mistake, not a reason to
    fall back to development tokens in production: ``ValueError`` naming the
    missing variable, as for a malformed id or certificate (never quoted)."""
    app_id, certificate = settings.agora_app_id, settings.agora_app_certificate
    if not app_id and not certificate:
        return DevTokenIssuer()
    if not app_id or not certificate:
        missing = "agora_app_certificate" if app_id else "agora_app_id"
        raise ValueError(
            f"{env_name(missing)} is not set: live tokens need both the Agora app id"
            " and app certificate (or neither, for development tokens)"
        )
    # LiveTokenError is a ValueError: the node stops at start.
    return AgoraTokenIssuer(app_id, certificate)
