"""SQLite backend of the storage ports (:mod:`actors.store`), on the stdlib
``sqlite3``: :class:`SqliteStore` assembles one store per aggregate over one
shared :class:`SqliteDatabase`.

Where things are: ``database.py`` the engine (group-commit writer thread,
reader threads, WAL and durability settings), ``migrations.py`` the schema,
``rows.py`` rows ↔ records and the mapping of uniqueness violations to
:class:`~actors.store.Conflict`, ``accounts.py``, ``messaging.py``,
``social.py`` (follows, likes, counts, keys), ``posts.py`` (posts and
comments), ``search.py`` (post search), ``media.py`` (uploads) and
``live.py`` (streams, their chat and bans), ``market.py`` (products and
orders) and ``ledger.py`` (the ledger, payouts, payment events) the stores of
each domain.
"""

from __future__ import annotations

import pathlib
import sqlite3

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
from server.storage.sqlite.accounts import (
    SqliteAuthSessionStore,
    SqliteBlockStore,
    SqliteUserStore,
)
from server.storage.sqlite.database import (
    DEFAULT_BUSY_TIMEOUT_MS,
    DEFAULT_MAX_BATCH,
    DEFAULT_READERS,
    SqliteDatabase,
    WriteStats,
)
from server.storage.sqlite.discovery import SqliteSuggestionStore, SqliteTrendStore
from server.storage.sqlite.ledger import (
    SqliteLedgerStore,
    SqlitePaymentEventStore,
    SqlitePayoutStore,
)
from server.storage.sqlite.live import SqliteChatStore, SqliteStreamBanStore, SqliteStreamStore
from server.storage.sqlite.market import SqliteOrderStore, SqliteProductStore
from server.storage.sqlite.media import SqliteMediaStore
from server.storage.sqlite.messaging import SqliteConversationStore, SqliteMessageStore
from server.storage.sqlite.moderation import (
    SqliteAuditStore,
    SqliteModerationStore,
    SqliteReportStore,
)
from server.storage.sqlite.notifications import SqliteNotificationStore
from server.storage.sqlite.posts import SqliteCommentStore, SqlitePostStore
from server.storage.sqlite.search import SqlitePostSearchStore
from server.storage.sqlite.social import (
    SqliteCountStore,
    SqliteFollowStore,
    SqliteKeyStore,
    SqliteLikeStore,
    SqliteViewStore,
)

__all__ = ["SqliteDatabase", "SqliteStore", "WriteStats"]


class SqliteStore:
    """:class:`actors.store.Store` on one SQLite file.

    ``db`` is the shared :class:`SqliteDatabase`; later aggregates run their
    own jobs through it so that all writes share the group commit.
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
        path: pathlib.Path,
        *,
        readers: int = DEFAULT_READERS,
        max_batch: int = DEFAULT_MAX_BATCH,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> None:
        """Options as for :class:`SqliteDatabase`; nothing is touched until :meth:`open`."""
        self.db = SqliteDatabase(
            path, readers=readers, max_batch=max_batch, busy_timeout_ms=busy_timeout_ms
        )
        self.users = SqliteUserStore(self.db)
        self.auth_sessions = SqliteAuthSessionStore(self.db)
        self.conversations = SqliteConversationStore(self.db)
        self.messages = SqliteMessageStore(self.db)
        self.blocks = SqliteBlockStore(self.db)
        self.follows = SqliteFollowStore(self.db)
        self.posts = SqlitePostStore(self.db)
        self.comments = SqliteCommentStore(self.db)
        self.likes = SqliteLikeStore(self.db)
        self.counts = SqliteCountStore(self.db)
        self.keys = SqliteKeyStore(self.db)
        self.views = SqliteViewStore(self.db)
        self.reports = SqliteReportStore(self.db)
        self.moderation = SqliteModerationStore(self.db)
        self.audit = SqliteAuditStore(self.db)
        self.trends = SqliteTrendStore(self.db)
        self.suggestions = SqliteSuggestionStore(self.db)
        self.notifications = SqliteNotificationStore(self.db)
        self.post_search = SqlitePostSearchStore(self.db)
        self.media = SqliteMediaStore(self.db)
        self.streams = SqliteStreamStore(self.db)
        self.stream_chat = SqliteChatStore(self.db)
        self.stream_bans = SqliteStreamBanStore(self.db)
        self.products = SqliteProductStore(self.db)
        self.orders = SqliteOrderStore(self.db)
        self.ledger = SqliteLedgerStore(self.db)
        self.payouts = SqlitePayoutStore(self.db)
        self.payment_events = SqlitePaymentEventStore(self.db)

    async def open(self) -> None:
        """Create the file, schema and indexes if needed; start the threads.
        Idempotent."""
        await self.db.open()

    async def close(self) -> None:
        """Finish queued jobs, stop and join the threads. Idempotent."""
        await self.db.close()

    async def ping(self) -> bool:
        """``True`` if a reader thread answers a trivial query."""
        if not self.db.is_open:
            return False

        def job(conn: sqlite3.Connection) -> bool:
            return bool(conn.execute("SELECT 1").fetchone()[0] == 1)

        try:
            return await self.db.read(job)
        except (sqlite3.Error, StoreError):
            return False
