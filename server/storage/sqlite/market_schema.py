"""Migration 10 of the SQLite schema (:mod:`server.storage.sqlite.migrations`):
the marketplace's tables, kept apart only to keep the migrations module small.

Products (an FTS5 index over title and description, as ``posts_fts``),
orders, the ledger (transactions, their postings, and the balances the same
write keeps), payouts, the payment provider's events, and the three tip
columns of ``stream_chat``.
"""

from __future__ import annotations

from typing import Final

MARKET_MIGRATION: Final[tuple[str, ...]] = (
    # The marketplace. ``seq`` aliases the rowid for the external-content
    # FTS index (as ``posts``); list columns are JSON arrays.
    """
    CREATE TABLE IF NOT EXISTS products (
        seq INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        seller_id TEXT NOT NULL,
        client_key TEXT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        media_ids TEXT NOT NULL DEFAULT '[]',
        media_urls TEXT NOT NULL DEFAULT '[]',
        media_types TEXT NOT NULL DEFAULT '[]',
        price INTEGER NOT NULL,
        currency TEXT NOT NULL,
        stock INTEGER CHECK (stock IS NULL OR stock >= 0),
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    )
    """,
    # A retried create: the seller's same client key.
    "CREATE UNIQUE INDEX IF NOT EXISTS products_client_key ON products (seller_id, client_key)",
    "CREATE INDEX IF NOT EXISTS products_by_seller"
    " ON products (seller_id, created_at DESC, id DESC)",
    """
    CREATE VIRTUAL TABLE IF NOT EXISTS products_fts USING fts5 (
        title, description, content='products', content_rowid='seq',
        tokenize='unicode61 remove_diacritics 2'
    )
    """,
    """
    CREATE TRIGGER IF NOT EXISTS products_fts_insert AFTER INSERT ON products BEGIN
        INSERT INTO products_fts (rowid, title, description)
        VALUES (new.seq, new.title, new.description);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS products_fts_delete AFTER DELETE ON products BEGIN
        INSERT INTO products_fts (products_fts, rowid, title, description)
        VALUES ('delete', old.seq, old.title, old.description);
    END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS products_fts_update
    AFTER UPDATE OF title, description ON products BEGIN
        INSERT INTO products_fts (products_fts, rowid, title, description)
        VALUES ('delete', old.seq, old.title, old.description);
        INSERT INTO products_fts (rowid, title, description)
        VALUES (new.seq, new.title, new.description);
    END
    """,
    # ``history`` and ``refund_ids`` are JSON arrays; the row is
    # rewritten whole by a compare-and-set on ``version``.
    """
    CREATE TABLE IF NOT EXISTS orders (
        id TEXT PRIMARY KEY NOT NULL,
        kind TEXT NOT NULL,
        buyer_id TEXT NOT NULL,
        seller_id TEXT NOT NULL,
        client_key TEXT NOT NULL,
        product_id TEXT,
        title TEXT NOT NULL,
        quantity INTEGER NOT NULL,
        unit_price INTEGER NOT NULL,
        amount INTEGER NOT NULL,
        currency TEXT NOT NULL,
        state TEXT NOT NULL,
        version INTEGER NOT NULL,
        stock_reserved INTEGER NOT NULL,
        post_id TEXT,
        stream_id TEXT,
        message TEXT NOT NULL,
        paypal_order_id TEXT,
        approval_url TEXT,
        capture_id TEXT,
        paypal_fee INTEGER NOT NULL,
        platform_fee INTEGER NOT NULL,
        seller_share INTEGER NOT NULL,
        seller_pending INTEGER NOT NULL,
        refunded INTEGER NOT NULL,
        refund_ids TEXT NOT NULL DEFAULT '[]',
        paid_at REAL,
        release_at REAL,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        expires_at REAL NOT NULL,
        history TEXT NOT NULL DEFAULT '[]'
    ) WITHOUT ROWID
    """,
    "CREATE UNIQUE INDEX IF NOT EXISTS orders_client_key ON orders (buyer_id, client_key)",
    "CREATE INDEX IF NOT EXISTS orders_paypal_order ON orders (paypal_order_id)"
    " WHERE paypal_order_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS orders_capture ON orders (capture_id) WHERE capture_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS orders_by_buyer ON orders (buyer_id, created_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS orders_by_seller ON orders (seller_id, created_at DESC, id DESC)",
    # The sweeps: unpaid orders by deadline, paid ones by release time.
    "CREATE INDEX IF NOT EXISTS orders_expiring ON orders (expires_at, id)"
    " WHERE state IN ('created', 'approved')",
    "CREATE INDEX IF NOT EXISTS orders_releasing ON orders (release_at, id)"
    " WHERE release_at IS NOT NULL",
    # The ledger: a transaction, its postings, and each account's
    # balance kept by the same write (never recomputed on read).
    """
    CREATE TABLE IF NOT EXISTS ledger_transactions (
        id TEXT PRIMARY KEY NOT NULL,
        kind TEXT NOT NULL,
        order_id TEXT,
        payout_id TEXT,
        at REAL NOT NULL
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS ledger_postings (
        tx_id TEXT NOT NULL REFERENCES ledger_transactions (id),
        n INTEGER NOT NULL,
        account TEXT NOT NULL,
        currency TEXT NOT NULL,
        amount INTEGER NOT NULL,
        PRIMARY KEY (tx_id, n)
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS ledger_postings_account ON ledger_postings (account, currency)",
    """
    CREATE TABLE IF NOT EXISTS ledger_balances (
        account TEXT NOT NULL,
        currency TEXT NOT NULL,
        balance INTEGER NOT NULL,
        PRIMARY KEY (account, currency)
    ) WITHOUT ROWID
    """,
    """
    CREATE TABLE IF NOT EXISTS payouts (
        id TEXT PRIMARY KEY NOT NULL,
        seller_id TEXT NOT NULL,
        client_key TEXT NOT NULL,
        amount INTEGER NOT NULL,
        currency TEXT NOT NULL,
        paypal_email TEXT NOT NULL,
        status TEXT NOT NULL,
        version INTEGER NOT NULL,
        paypal_batch_id TEXT,
        paypal_item_id TEXT,
        failure TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    ) WITHOUT ROWID
    """,
    "CREATE UNIQUE INDEX IF NOT EXISTS payouts_client_key ON payouts (seller_id, client_key)",
    "CREATE INDEX IF NOT EXISTS payouts_batch ON payouts (paypal_batch_id)"
    " WHERE paypal_batch_id IS NOT NULL",
    "CREATE INDEX IF NOT EXISTS payouts_by_seller ON payouts (seller_id, created_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS payouts_open ON payouts (created_at, id)"
    " WHERE status IN ('requested', 'sent', 'unclaimed')",
    """
    CREATE TABLE IF NOT EXISTS payment_events (
        id TEXT PRIMARY KEY NOT NULL,
        event_type TEXT NOT NULL,
        body BLOB NOT NULL,
        received_at REAL NOT NULL,
        applied_at REAL,
        outcome TEXT
    ) WITHOUT ROWID
    """,
    "CREATE INDEX IF NOT EXISTS payment_events_unapplied"
    " ON payment_events (received_at, id) WHERE applied_at IS NULL",
    # A paid tip's highlighted chat line.
    "ALTER TABLE stream_chat ADD COLUMN tip_amount INTEGER",
    "ALTER TABLE stream_chat ADD COLUMN tip_currency TEXT",
    "ALTER TABLE stream_chat ADD COLUMN tip_order_id TEXT",
)
