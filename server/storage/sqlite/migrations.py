"""The SQLite schema: ordered migrations and the function that applies them.

One ordered list for every domain, because order matters: a file records
only the highest version applied, and :func:`migrate` replays the entries
above it. Version 1 holds the accounts tables, version 2 the messaging ones
(and ``blocks``), version 3 the social ones (follows, posts, comments, likes,
the user counters) and ``keys``, version 4 search (``posts_fts``, the
``tags`` counters, the location index), version 5 moderation (reports,
cases, the audit log, roles, suspension, hidden posts and comments),
version 6 discovery (trending tags, the popular-users index), version 7
notifications, version 8 media, version 9 live streaming (streams, their
chat, bans and viewers), version 10 the marketplace (products and their
FTS index, orders, the ledger and its kept balances, payouts, payment
events; the tip columns of the chat), version 11 the BlurHashes of a
post's media. Versions ascend in the list; a new one is appended above
the last, never inserted below it (a file past it would skip it).
"""

from __future__ import annotations

import sqlite3
from typing import Final

from actors.store import StoreError
from server.storage.sqlite.market_schema import MARKET_MIGRATION

#: Migrations in order: ``(version, statements)``. Version 1 is the initial
#: schema. Append, never edit, a released entry; :func:`migrate` (run by
#: :meth:`~server.storage.sqlite.database.SqliteDatabase.open`) applies those
#: above the file's ``schema_version`` in one transaction.
MIGRATIONS: Final[tuple[tuple[int, tuple[str, ...]], ...]] = (
    (
        1,
        (
            # ``seq`` aliases the rowid so it never changes (VACUUM may renumber an
            # implicit rowid), which the external-content FTS index relies on.
            # ``display_name_key`` is ``search_key(display_name)`` computed in
            # Python (actors.store.search): SQLite's own lower() only folds ASCII.
            """
            CREATE TABLE IF NOT EXISTS users (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                username TEXT NOT NULL UNIQUE,
                email TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                display_name TEXT NOT NULL DEFAULT '',
                display_name_key TEXT NOT NULL DEFAULT '',
                bio TEXT NOT NULL DEFAULT '',
                avatar_url TEXT NOT NULL DEFAULT '',
                created_at REAL NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS users_display_name_key ON users (display_name_key)",
            # No stemming (these are names); diacritics folded, like MongoDB's
            # text index with default_language "none".
            """
            CREATE VIRTUAL TABLE IF NOT EXISTS users_fts USING fts5 (
                username, display_name,
                content='users', content_rowid='seq',
                tokenize='unicode61 remove_diacritics 2'
            )
            """,
            """
            CREATE TRIGGER IF NOT EXISTS users_fts_insert AFTER INSERT ON users BEGIN
                INSERT INTO users_fts (rowid, username, display_name)
                VALUES (new.seq, new.username, new.display_name);
            END
            """,
            """
            CREATE TRIGGER IF NOT EXISTS users_fts_delete AFTER DELETE ON users BEGIN
                INSERT INTO users_fts (users_fts, rowid, username, display_name)
                VALUES ('delete', old.seq, old.username, old.display_name);
            END
            """,
            """
            CREATE TRIGGER IF NOT EXISTS users_fts_update
            AFTER UPDATE OF username, display_name ON users BEGIN
                INSERT INTO users_fts (users_fts, rowid, username, display_name)
                VALUES ('delete', old.seq, old.username, old.display_name);
                INSERT INTO users_fts (rowid, username, display_name)
                VALUES (new.seq, new.username, new.display_name);
            END
            """,
            # user_id is deliberately not a foreign key: the MongoDB backend cannot
            # enforce one and both backends must honour the same contract.
            """
            CREATE TABLE IF NOT EXISTS auth_sessions (
                token_hash TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL
            ) WITHOUT ROWID
            """,
            "CREATE INDEX IF NOT EXISTS auth_sessions_user_id ON auth_sessions (user_id)",
            "CREATE INDEX IF NOT EXISTS auth_sessions_expires_at ON auth_sessions (expires_at)",
        ),
    ),
    (
        2,
        (
            # Messaging. No foreign keys, for the same reason as auth_sessions.
            # ``direct_key`` is NULL for groups; the partial unique index makes
            # it one conversation per pair and is the conflict target of
            # get_or_create_direct's INSERT ... ON CONFLICT. WITHOUT ROWID: the
            # summary written by every message batch is one b-tree seek.
            """
            CREATE TABLE IF NOT EXISTS conversations (
                id TEXT PRIMARY KEY NOT NULL,
                kind TEXT NOT NULL,
                title TEXT NOT NULL DEFAULT '',
                created_by TEXT NOT NULL,
                created_at REAL NOT NULL,
                direct_key TEXT,
                last_seq INTEGER NOT NULL DEFAULT 0,
                last_activity_at REAL NOT NULL,
                last_preview TEXT NOT NULL DEFAULT '',
                last_sender_id TEXT
            ) WITHOUT ROWID
            """,
            "CREATE UNIQUE INDEX IF NOT EXISTS conversations_direct_key"
            " ON conversations (direct_key) WHERE direct_key IS NOT NULL",
            # WITHOUT ROWID: rows clustered by conversation; the user_id index
            # carries the primary key, so it alone answers "my conversations".
            """
            CREATE TABLE IF NOT EXISTS members (
                conversation_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                role TEXT NOT NULL DEFAULT 'member',
                joined_at REAL NOT NULL,
                read_seq INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (conversation_id, user_id)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX IF NOT EXISTS members_user_id ON members (user_id)",
            # The log, clustered by (conversation_id, seq): history and since
            # are range scans of the primary key. Messages are short (text is
            # bounded by protocol.limits.MESSAGE_TEXT_MAX); longer rows simply
            # spill to overflow pages.
            """
            CREATE TABLE IF NOT EXISTS messages (
                conversation_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                id TEXT NOT NULL,
                kind TEXT NOT NULL DEFAULT 'message',
                sender_id TEXT NOT NULL,
                client_key TEXT,
                text TEXT NOT NULL DEFAULT '',
                media_url TEXT NOT NULL DEFAULT '',
                created_at REAL NOT NULL,
                edited_at REAL,
                deleted INTEGER NOT NULL DEFAULT 0,
                target_seq INTEGER,
                PRIMARY KEY (conversation_id, seq)
            ) WITHOUT ROWID
            """,
            "CREATE UNIQUE INDEX IF NOT EXISTS messages_client_key"
            " ON messages (conversation_id, sender_id, client_key) WHERE client_key IS NOT NULL",
            """
            CREATE TABLE IF NOT EXISTS blocks (
                user_id TEXT NOT NULL,
                blocked_id TEXT NOT NULL,
                created_at REAL NOT NULL,
                PRIMARY KEY (user_id, blocked_id)
            ) WITHOUT ROWID
            """,
        ),
    ),
    (
        3,
        (
            # Social. The user counters are kept by the social stores in the
            # same write job as the rows they count (actors.store.social).
            "ALTER TABLE users ADD COLUMN followers_count INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE users ADD COLUMN following_count INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE users ADD COLUMN posts_count INTEGER NOT NULL DEFAULT 0",
            # Follow edges. The primary key answers following pages' seeks,
            # following_among and following_ids; followers pages, followers_among
            # and follower_ids (by id, for fan-out) each have their index.
            """
            CREATE TABLE IF NOT EXISTS follows (
                follower_id TEXT NOT NULL,
                followee_id TEXT NOT NULL,
                created_at REAL NOT NULL,
                PRIMARY KEY (follower_id, followee_id)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX IF NOT EXISTS follows_followers_page"
            " ON follows (followee_id, created_at, follower_id)",
            "CREATE INDEX IF NOT EXISTS follows_following_page"
            " ON follows (follower_id, created_at, followee_id)",
            "CREATE INDEX IF NOT EXISTS follows_followee ON follows (followee_id, follower_id)",
            # Posts. ``seq`` aliases the rowid so it never changes (as for users,
            # for a later external-content FTS index); lists are JSON arrays;
            # the location is three nullable columns, all NULL without one.
            """
            CREATE TABLE IF NOT EXISTS posts (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                user_id TEXT NOT NULL,
                text TEXT NOT NULL DEFAULT '',
                media_urls TEXT NOT NULL DEFAULT '[]',
                media_types TEXT NOT NULL DEFAULT '[]',
                tags TEXT NOT NULL DEFAULT '[]',
                mentions TEXT NOT NULL DEFAULT '[]',
                latitude REAL,
                longitude REAL,
                place_name TEXT,
                visibility TEXT NOT NULL DEFAULT 'public',
                client_key TEXT,
                like_count INTEGER NOT NULL DEFAULT 0,
                comment_count INTEGER NOT NULL DEFAULT 0,
                created_at REAL NOT NULL,
                edited_at REAL
            )
            """,
            "CREATE INDEX IF NOT EXISTS posts_author ON posts (user_id, created_at DESC, id DESC)",
            # user_id rides along so that by_authors' bounded scan of the newest
            # posts filters on the index alone, without reading the rows.
            "CREATE INDEX IF NOT EXISTS posts_recent ON posts (created_at DESC, id DESC, user_id)",
            "CREATE UNIQUE INDEX IF NOT EXISTS posts_client_key"
            " ON posts (user_id, client_key) WHERE client_key IS NOT NULL",
            # One row per (tag, post), newest first within a tag: the later
            # search by tag is a range scan. Kept by create, edit and delete.
            """
            CREATE TABLE IF NOT EXISTS post_tags (
                tag TEXT NOT NULL,
                created_at REAL NOT NULL,
                post_id TEXT NOT NULL,
                PRIMARY KEY (tag, created_at, post_id)
            ) WITHOUT ROWID
            """,
            # Comments: short rows, clustered by id. A top-level comment has a
            # NULL parent_comment_id; ``parent_comment_id IS ?`` lets the
            # thread index serve top-level and reply pages alike.
            """
            CREATE TABLE IF NOT EXISTS comments (
                id TEXT PRIMARY KEY NOT NULL,
                post_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                parent_comment_id TEXT,
                text TEXT NOT NULL DEFAULT '',
                client_key TEXT,
                created_at REAL NOT NULL,
                edited_at REAL,
                deleted INTEGER NOT NULL DEFAULT 0,
                reply_count INTEGER NOT NULL DEFAULT 0,
                like_count INTEGER NOT NULL DEFAULT 0
            ) WITHOUT ROWID
            """,
            "CREATE INDEX IF NOT EXISTS comments_thread"
            " ON comments (post_id, parent_comment_id, created_at, id)",
            "CREATE INDEX IF NOT EXISTS comments_parent ON comments (parent_comment_id)",
            "CREATE UNIQUE INDEX IF NOT EXISTS comments_client_key"
            " ON comments (post_id, user_id, client_key) WHERE client_key IS NOT NULL",
            """
            CREATE TABLE IF NOT EXISTS likes (
                user_id TEXT NOT NULL,
                target_kind TEXT NOT NULL,
                target_id TEXT NOT NULL,
                created_at REAL NOT NULL,
                PRIMARY KEY (user_id, target_kind, target_id)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX IF NOT EXISTS likes_target ON likes (target_kind, target_id)",
            "CREATE INDEX IF NOT EXISTS likes_recent"
            " ON likes (user_id, target_kind, created_at DESC, target_id DESC)",
            """
            CREATE TABLE IF NOT EXISTS keys (
                name TEXT PRIMARY KEY NOT NULL,
                value TEXT NOT NULL
            ) WITHOUT ROWID
            """,
        ),
    ),
    (
        4,
        (
            # Search. Full text of posts: external content over posts.text (the
            # rowid is posts.seq, which never changes), kept by triggers like
            # users_fts, and filled from the posts already there.
            """
            CREATE VIRTUAL TABLE IF NOT EXISTS posts_fts USING fts5 (
                text, content='posts', content_rowid='seq',
                tokenize='unicode61 remove_diacritics 2'
            )
            """,
            """
            CREATE TRIGGER IF NOT EXISTS posts_fts_insert AFTER INSERT ON posts BEGIN
                INSERT INTO posts_fts (rowid, text) VALUES (new.seq, new.text);
            END
            """,
            """
            CREATE TRIGGER IF NOT EXISTS posts_fts_delete AFTER DELETE ON posts BEGIN
                INSERT INTO posts_fts (posts_fts, rowid, text) VALUES ('delete', old.seq, old.text);
            END
            """,
            """
            CREATE TRIGGER IF NOT EXISTS posts_fts_update AFTER UPDATE OF text ON posts BEGIN
                INSERT INTO posts_fts (posts_fts, rowid, text) VALUES ('delete', old.seq, old.text);
                INSERT INTO posts_fts (rowid, text) VALUES (new.seq, new.text);
            END
            """,
            "INSERT INTO posts_fts (posts_fts) VALUES ('rebuild')",
            # Tag autocomplete: one row per tag in use with its post count,
            # moved by triggers on post_tags, so every write of a post's tags
            # (create, edit, delete) moves the counts in its own transaction;
            # a tag no post carries any more is removed.
            """
            CREATE TABLE IF NOT EXISTS tags (
                tag TEXT PRIMARY KEY NOT NULL,
                post_count INTEGER NOT NULL
            ) WITHOUT ROWID
            """,
            """
            CREATE TRIGGER IF NOT EXISTS tags_count_insert AFTER INSERT ON post_tags BEGIN
                INSERT INTO tags (tag, post_count) VALUES (new.tag, 1)
                ON CONFLICT (tag) DO UPDATE SET post_count = post_count + 1;
            END
            """,
            """
            CREATE TRIGGER IF NOT EXISTS tags_count_delete AFTER DELETE ON post_tags BEGIN
                UPDATE tags SET post_count = post_count - 1 WHERE tag = old.tag;
                DELETE FROM tags WHERE tag = old.tag AND post_count <= 0;
            END
            """,
            # The table is new (IF NOT EXISTS only guards a re-run of a failed
            # migration, which rolled back whole): count the tags already there.
            "INSERT INTO tags (tag, post_count) SELECT tag, count(*) FROM post_tags GROUP BY tag",
            # Posts near a point: a latitude range of this index, longitudes
            # filtered on its entries (which carry seq, the rowid): the box
            # query reads no row. Posts without a location are left out.
            "CREATE INDEX IF NOT EXISTS posts_location ON posts (latitude, longitude)"
            " WHERE latitude IS NOT NULL",
        ),
    ),
    (
        5,
        (
            # Moderation (actors.store.moderation).
            "ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user'",
            "ALTER TABLE users ADD COLUMN suspended INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE posts ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0",
            "ALTER TABLE comments ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0",
            # One row per (reporter, target), whatever its status: the
            # primary key is the deduplication. ``target_key`` is
            # Target.key; kind, id and seq are kept beside it for reading.
            """
            CREATE TABLE IF NOT EXISTS reports (
                target_key TEXT NOT NULL,
                reporter_id TEXT NOT NULL,
                id TEXT NOT NULL UNIQUE,
                target_kind TEXT NOT NULL,
                target_id TEXT NOT NULL,
                target_seq INTEGER NOT NULL DEFAULT 0,
                reason TEXT NOT NULL,
                text TEXT NOT NULL DEFAULT '',
                created_at REAL NOT NULL,
                open INTEGER NOT NULL DEFAULT 1,
                PRIMARY KEY (target_key, reporter_id)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX IF NOT EXISTS reports_open"
            " ON reports (target_key, open, created_at DESC)",
            # The queue: one row per target with open reports, counted in the
            # same job as the reports; gone when an admin closes them.
            """
            CREATE TABLE IF NOT EXISTS report_cases (
                target_key TEXT PRIMARY KEY NOT NULL,
                target_kind TEXT NOT NULL,
                target_id TEXT NOT NULL,
                target_seq INTEGER NOT NULL DEFAULT 0,
                open_count INTEGER NOT NULL,
                first_at REAL NOT NULL,
                last_at REAL NOT NULL
            ) WITHOUT ROWID
            """,
            "CREATE INDEX IF NOT EXISTS report_cases_queue ON report_cases (first_at, target_key)",
            """
            CREATE TABLE IF NOT EXISTS audit_log (
                id TEXT PRIMARY KEY NOT NULL,
                admin_id TEXT,
                action TEXT NOT NULL,
                target_kind TEXT NOT NULL,
                target_id TEXT NOT NULL,
                target_seq INTEGER NOT NULL DEFAULT 0,
                reason TEXT NOT NULL DEFAULT '',
                created_at REAL NOT NULL
            ) WITHOUT ROWID
            """,
            "CREATE INDEX IF NOT EXISTS audit_log_recent ON audit_log (created_at DESC, id DESC)",
        ),
    ),
    (
        6,
        (
            # Discovery. Trending tags: one row per (tag, hour), bumped by the
            # handlers; the primary key serves a candidate's rows of the window,
            # tag_trends_top each hour's leaders (the primary key rides along).
            """
            CREATE TABLE IF NOT EXISTS tag_trends (
                tag TEXT NOT NULL,
                bucket INTEGER NOT NULL,
                score REAL NOT NULL DEFAULT 0,
                posts INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (tag, bucket)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX IF NOT EXISTS tag_trends_top ON tag_trends (bucket, score DESC)",
            # Suggested accounts: the most followed users, an index range.
            "CREATE INDEX IF NOT EXISTS users_popular ON users (followers_count DESC, id DESC)",
        ),
    ),
    (
        7,
        (
            # Notifications: one row per group (kind and target while unread
            # and within the grouping window), one row per actor of a group.
            """
            CREATE TABLE IF NOT EXISTS notifications (
                id TEXT PRIMARY KEY NOT NULL,
                recipient_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                group_key TEXT NOT NULL,
                actor_count INTEGER NOT NULL DEFAULT 0,
                post_id TEXT,
                comment_id TEXT,
                text TEXT NOT NULL DEFAULT '',
                read INTEGER NOT NULL DEFAULT 0,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL
            ) WITHOUT ROWID
            """,
            "CREATE INDEX IF NOT EXISTS notifications_inbox"
            " ON notifications (recipient_id, updated_at DESC, id DESC)",
            "CREATE INDEX IF NOT EXISTS notifications_group"
            " ON notifications (recipient_id, group_key, read, updated_at)",
            # The badge: a count over the unread rows of one recipient only.
            "CREATE INDEX IF NOT EXISTS notifications_unread"
            " ON notifications (recipient_id) WHERE read = 0",
            """
            CREATE TABLE IF NOT EXISTS notification_actors (
                notification_id TEXT NOT NULL,
                actor_id TEXT NOT NULL,
                at REAL NOT NULL,
                PRIMARY KEY (notification_id, actor_id)
            ) WITHOUT ROWID
            """,
            """
            CREATE TABLE IF NOT EXISTS notification_settings (
                user_id TEXT PRIMARY KEY NOT NULL,
                muted TEXT NOT NULL DEFAULT '[]'
            ) WITHOUT ROWID
            """,
        ),
    ),
    (
        8,
        (
            # Media: one row per upload. ``attached_to`` is NULL while the
            # medium belongs to nothing yet (the sweep's work).
            """
            CREATE TABLE IF NOT EXISTS media (
                id TEXT PRIMARY KEY NOT NULL,
                owner_id TEXT NOT NULL,
                kind TEXT NOT NULL,
                mime TEXT NOT NULL,
                size INTEGER NOT NULL,
                width INTEGER,
                height INTEGER,
                duration REAL,
                blurhash TEXT,
                url TEXT NOT NULL,
                thumbnail_url TEXT,
                storage_key TEXT NOT NULL,
                uploaded_bytes INTEGER NOT NULL,
                attached_to TEXT,
                created_at REAL NOT NULL
            ) WITHOUT ROWID
            """,
            # release(target): the media of one post, message or avatar.
            "CREATE INDEX IF NOT EXISTS media_attached ON media (attached_to)"
            " WHERE attached_to IS NOT NULL",
            # The sweep: the oldest unattached rows, a range of a partial index.
            "CREATE INDEX IF NOT EXISTS media_unattached ON media (created_at, id)"
            " WHERE attached_to IS NULL",
            # The daily quota: a sum over one owner's recent rows, covered.
            "CREATE INDEX IF NOT EXISTS media_owner_recent"
            " ON media (owner_id, created_at, uploaded_bytes)",
        ),
    ),
    (
        9,
        (
            # Live streaming. ``tags`` and ``moderators`` are JSON arrays; the
            # row is rewritten whole by its stream actor (``save``).
            """
            CREATE TABLE IF NOT EXISTS streams (
                id TEXT PRIMARY KEY NOT NULL,
                host_id TEXT NOT NULL,
                title TEXT NOT NULL,
                description TEXT NOT NULL DEFAULT '',
                tags TEXT NOT NULL DEFAULT '[]',
                thumbnail_url TEXT NOT NULL DEFAULT '',
                visibility TEXT NOT NULL DEFAULT 'public',
                chat_mode TEXT NOT NULL DEFAULT 'everyone',
                slow_mode_seconds INTEGER NOT NULL DEFAULT 0,
                status TEXT NOT NULL DEFAULT 'scheduled',
                channel TEXT NOT NULL,
                scheduled_time REAL,
                start_time REAL,
                end_time REAL,
                viewer_count INTEGER NOT NULL DEFAULT 0,
                peak_viewers INTEGER NOT NULL DEFAULT 0,
                unique_viewers INTEGER NOT NULL DEFAULT 0,
                moderators TEXT NOT NULL DEFAULT '[]',
                pinned_message_id TEXT,
                created_at REAL NOT NULL
            ) WITHOUT ROWID
            """,
            # One live stream per host: the rule itself (a second live row is a
            # UNIQUE violation, the port's Conflict("live")), and live_of_host's seek.
            "CREATE UNIQUE INDEX IF NOT EXISTS streams_one_live ON streams (host_id)"
            " WHERE status = 'live'",
            # Live now: most viewers first, a range of one status.
            "CREATE INDEX IF NOT EXISTS streams_live_now"
            " ON streams (status, viewer_count DESC, id DESC)",
            "CREATE INDEX IF NOT EXISTS streams_by_host"
            " ON streams (host_id, created_at DESC, id DESC)",
            # Upcoming streams of the followed hosts: one range per host.
            "CREATE INDEX IF NOT EXISTS streams_scheduled"
            " ON streams (status, host_id, scheduled_time)",
            """
            CREATE TABLE IF NOT EXISTS stream_chat (
                id TEXT PRIMARY KEY NOT NULL,
                stream_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                text TEXT NOT NULL,
                client_key TEXT,
                created_at REAL NOT NULL,
                deleted INTEGER NOT NULL DEFAULT 0
            ) WITHOUT ROWID
            """,
            "CREATE INDEX IF NOT EXISTS stream_chat_log ON stream_chat (stream_id, created_at, id)",
            # A retried send: the same client key of the same user in the same stream.
            "CREATE UNIQUE INDEX IF NOT EXISTS stream_chat_client_key"
            " ON stream_chat (stream_id, user_id, client_key) WHERE client_key IS NOT NULL",
            """
            CREATE TABLE IF NOT EXISTS stream_bans (
                stream_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                at REAL NOT NULL,
                PRIMARY KEY (stream_id, user_id)
            ) WITHOUT ROWID
            """,
            # Every viewer a stream ever had, first seen ``at``: its unique viewers.
            """
            CREATE TABLE IF NOT EXISTS stream_viewers (
                stream_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                at REAL NOT NULL,
                PRIMARY KEY (stream_id, user_id)
            ) WITHOUT ROWID
            """,
        ),
    ),
    (10, MARKET_MIGRATION),
    (
        11,
        (
            # Posts keep their media's BlurHashes (parallel to media_urls);
            # the posts written before have none: an empty list.
            "ALTER TABLE posts ADD COLUMN media_blurhashes TEXT NOT NULL DEFAULT '[]'",
        ),
    ),
)

SCHEMA_VERSION: Final = MIGRATIONS[-1][0]


def migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION` in one ``BEGIN IMMEDIATE``
    transaction (so concurrent processes opening the same file serialise here).

    Returns the version the file had before. Raises :class:`StoreError` if the
    file was written by newer code.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        before = int(row[0]) if row[0] is not None else 0
        if before > SCHEMA_VERSION:
            raise StoreError(
                f"database schema version {before} is newer than this code's {SCHEMA_VERSION}"
            )
        for version, statements in MIGRATIONS:
            if version <= before:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return before
