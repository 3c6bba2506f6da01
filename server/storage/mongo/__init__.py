"""MongoDB backend of the storage ports (:mod:`actors.store`), on PyMongo's
native async API (``pymongo.AsyncMongoClient``; Motor is deprecated):
:class:`MongoStore` assembles one store per aggregate over one database.

Where things are: ``documents.py`` records ↔ documents (and the document
shapes), ``indexes.py`` every index and the mapping of duplicate-key errors
to :class:`~actors.store.Conflict`, ``accounts.py``, ``messaging.py``,
``social.py`` and ``posts.py`` (the social domain's posts and comments),
``search.py``, ``media.py``, ``live.py`` (streams, their chat and bans),
``market.py`` (products and orders) and ``ledger.py`` (the ledger, payouts,
payment events) the stores of each domain.

Tests run this package against a real server when one is configured,
otherwise against ``pymongo_async_mock`` (mongomock), which cannot query text
or 2dsphere indexes: the contract suites skip those checks there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import PyMongoError
from pymongo.monitoring import CommandListener

from actors.store import StoreError
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
from server.storage.mongo.accounts import MongoAuthSessionStore, MongoBlockStore, MongoUserStore
from server.storage.mongo.discovery import MongoSuggestionStore, MongoTrendStore
from server.storage.mongo.documents import Document
from server.storage.mongo.indexes import INDEXES, create_indexes
from server.storage.mongo.ledger import (
    REPAIR_GRACE,
    LedgerWriter,
    MongoLedgerStore,
    MongoPaymentEventStore,
    MongoPayoutStore,
)
from server.storage.mongo.live import MongoChatStore, MongoStreamBanStore, MongoStreamStore
from server.storage.mongo.market import MongoOrderStore, MongoProductStore
from server.storage.mongo.media import MongoMediaStore
from server.storage.mongo.messaging import MongoConversationStore, MongoMessageStore
from server.storage.mongo.moderation import (
    MongoAuditStore,
    MongoModerationStore,
    MongoReportStore,
)
from server.storage.mongo.notifications import MongoNotificationStore
from server.storage.mongo.posts import MongoCommentStore, MongoPostStore
from server.storage.mongo.search import MongoPostSearchStore
from server.storage.mongo.social import (
    MongoCountStore,
    MongoFollowStore,
    MongoKeyStore,
    MongoLikeStore,
    MongoViewStore,
)

__all__ = ["INDEXES", "MongoStore"]

log = logging.getLogger(__name__)


class MongoStore:
    """:class:`actors.store.Store` on one MongoDB database.

    Built from a connection ``url`` (the store creates the client on
    :meth:`open` and closes it on :meth:`close`) or from an existing ``client``
    (the caller keeps ownership and closes it; this is how tests inject the
    in-process stand-in). ``event_listeners`` go to the client made from
    ``url`` (``grover db check`` records the commands with one).
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

    def __init__(
        self,
        url: str | None = None,
        *,
        client: AsyncMongoClient[Document] | None = None,
        db_name: str = "grover",
        event_listeners: Sequence[CommandListener] = (),
    ) -> None:
        if client is None:
            if url is None:
                raise ValueError("give a url or a client")
            # Connects lazily, on the first operation.
            if event_listeners:
                client = AsyncMongoClient(url, tz_aware=True, event_listeners=event_listeners)
            else:
                client = AsyncMongoClient(url, tz_aware=True)
            self._owns_client = True
        elif url is not None:
            raise ValueError("give a url or a client, not both")
        elif event_listeners:
            raise ValueError("event_listeners need a url (a given client has its own)")
        else:
            self._owns_client = False
        self._client = client
        self._opened = False
        self._closed = False
        self.db: AsyncDatabase[Document] = client[db_name]
        self.users = MongoUserStore(self.db["users"])
        self.auth_sessions = MongoAuthSessionStore(self.db["auth_sessions"])
        self.conversations = MongoConversationStore(self.db["conversations"], self.db["members"])
        self.messages = MongoMessageStore(
            self.db["messages"], self.db["members"], self.db["conversations"]
        )
        self.blocks = MongoBlockStore(self.db["blocks"])
        users, follows = self.db["users"], self.db["follows"]
        posts, comments, likes = self.db["posts"], self.db["comments"], self.db["likes"]
        self.follows = MongoFollowStore(follows, users)
        self.posts = MongoPostStore(posts, users, comments, likes, self.db["tags"])
        self.post_search = MongoPostSearchStore(posts, self.db["tags"])
        self.comments = MongoCommentStore(comments, posts, likes)
        self.likes = MongoLikeStore(likes, posts, comments)
        self.counts = MongoCountStore(users, follows, posts, comments, likes)
        self.keys = MongoKeyStore(self.db["keys"])
        self.views = MongoViewStore(self.users, self.blocks, self.follows, self.likes)
        reports, cases, audit = self.db["reports"], self.db["report_cases"], self.db["audit_log"]
        self.reports = MongoReportStore(reports, cases, posts, comments, audit)
        self.moderation = MongoModerationStore(reports, cases, posts, comments, audit, users=users)
        self.audit = MongoAuditStore(audit)
        self.trends = MongoTrendStore(self.db["tag_trends"])
        self.suggestions = MongoSuggestionStore(follows, users)
        self.notifications = MongoNotificationStore(
            self.db["notifications"],
            self.db["notification_actors"],
            self.db["notification_settings"],
        )
        self.media = MongoMediaStore(self.db["media"])
        self.streams = MongoStreamStore(self.db["streams"], self.db["stream_viewers"])
        self.stream_chat = MongoChatStore(self.db["stream_chat"])
        self.stream_bans = MongoStreamBanStore(self.db["stream_bans"])
        writer = LedgerWriter(self.db["ledger"], self.db["ledger_balances"])
        self._writer = writer
        self._products = MongoProductStore(self.db["products"])
        self._orders = MongoOrderStore(self.db["orders"], self.db["products"], writer)
        self._payouts = MongoPayoutStore(self.db["payouts"], writer)
        self.products = self._products
        self.orders = self._orders
        self.ledger = MongoLedgerStore(writer)
        self.payouts = self._payouts
        self.payment_events = MongoPaymentEventStore(self.db["payment_events"])

    async def open(self) -> None:
        """Create every index in :data:`INDEXES` (``create_index`` with an
        existing spec is a no-op). Idempotent on an open store; a closed store
        cannot be reopened (make a new one)."""
        if self._closed:
            raise StoreError("store was closed; make a new MongoStore")
        if self._opened:
            return
        await create_indexes(self.db)
        repaired = await self.repair()
        self._opened = True
        log.info("mongo %s: indexes ensured, %d unfinished writes repaired", self.db.name, repaired)

    async def repair(self, now: float | None = None) -> int:
        """Finish the marketplace's multi-step writes left unfinished by a
        crash (see :mod:`server.storage.mongo.market` and
        :mod:`server.storage.mongo.ledger`): those begun more than
        :data:`~server.storage.mongo.ledger.REPAIR_GRACE` seconds before
        ``now`` (default: the wall clock), so that a live writer is never
        raced. Orders and payouts first (they own their transactions), then
        any transaction still unfinished. Returns how many were repaired."""
        before = (time.time() if now is None else now) - REPAIR_GRACE
        repaired = await self._orders.repair(before)
        repaired += await self._payouts.repair(before)
        return repaired + await self._writer.repair(before)

    async def close(self) -> None:
        """Close the client if this store created it (an injected client stays
        open: its owner closes it); :meth:`ping` answers ``False`` from now on.
        Idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._owns_client:
            await self._client.close()

    async def ping(self) -> bool:
        """``True`` if the server answers ``ping``; ``False`` once closed."""
        if self._closed:
            return False
        try:
            reply = await self._client.admin.command("ping")
        except PyMongoError:
            return False
        return bool(reply.get("ok"))
