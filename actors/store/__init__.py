"""Storage ports: what the domain needs from persistence, free of any engine.

One module per domain holds its records and ports (:mod:`actors.store.accounts`,
:mod:`actors.store.messaging`, ...); ``server/storage`` implements every port
twice (``sqlite/`` and ``mongo/``, one module per domain in each) and
``tests/store/`` runs one contract suite per domain against both. Records are
plain msgspec structs so that they cross thread and process boundaries cheaply.
:mod:`actors.store.search` defines what a search query means, once for every
backend.

Conventions every backend follows:

* ids are strings made by :func:`actors.ids.new_id` (time-sortable);
* times are UNIX seconds as ``float``;
* a write that would break a uniqueness rule raises :class:`Conflict` naming
  the field and changes nothing;
* schema and indexes are created by :meth:`Store.open`, idempotently;
* one port method is one consistency boundary: one transaction on SQLite, one
  ordered, idempotent sequence of writes on MongoDB.
"""

from __future__ import annotations

from typing import Protocol

from actors.store.accounts import AuthSessionStore, BlockStore, UserStore
from actors.store.discovery import SuggestionStore, TrendStore
from actors.store.live import ChatStore, StreamBanStore, StreamStore
from actors.store.market import (
    LedgerStore,
    OrderStore,
    PaymentEventStore,
    PayoutStore,
    ProductStore,
)
from actors.store.media import MediaStore
from actors.store.messaging import ConversationStore, MessageStore
from actors.store.moderation import AuditStore, ModerationStore, ReportStore
from actors.store.notifications import NotificationStore
from actors.store.search import PostSearchStore
from actors.store.social import (
    CommentStore,
    CountStore,
    FollowStore,
    KeyStore,
    LikeStore,
    PostStore,
    ViewStore,
)


class StoreError(Exception):
    """Base class of storage errors the domain is expected to handle."""


class Conflict(StoreError):
    """A uniqueness rule was violated; ``field`` names the rule (e.g. ``"email"``)."""

    def __init__(self, field: str) -> None:
        super().__init__(f"conflict on {field}")
        self.field = field


class Store(Protocol):
    """One handle per backend, with one attribute per aggregate.

    A new domain adds its ports in ``actors/store/<domain>.py`` and one
    attribute per aggregate here.
    """

    users: UserStore
    auth_sessions: AuthSessionStore
    conversations: ConversationStore
    messages: MessageStore
    blocks: BlockStore
    follows: FollowStore
    posts: PostStore
    comments: CommentStore
    likes: LikeStore
    counts: CountStore
    keys: KeyStore
    views: ViewStore
    reports: ReportStore
    moderation: ModerationStore
    audit: AuditStore
    trends: TrendStore
    suggestions: SuggestionStore
    notifications: NotificationStore
    post_search: PostSearchStore
    media: MediaStore
    streams: StreamStore
    stream_chat: ChatStore
    stream_bans: StreamBanStore
    products: ProductStore
    orders: OrderStore
    ledger: LedgerStore
    payouts: PayoutStore
    payment_events: PaymentEventStore

    async def open(self) -> None:
        """Connect and create schema and indexes (idempotent)."""

    async def close(self) -> None: ...

    async def ping(self) -> bool:
        """``True`` when the backend answers; used by ``/readyz``."""
