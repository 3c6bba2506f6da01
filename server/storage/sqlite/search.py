"""SQLite store of post search (:class:`actors.store.search.PostSearchStore`):
FTS5 over the posts' text, ``post_tags`` by tag, the ``tags`` counters for
autocomplete, and the ``posts_location`` index for places (migration 4).

Engine queries are built only from :func:`~actors.store.search.query_words`
(through :func:`~server.storage.sqlite.accounts.fts_query`, which quotes each
word) and bound parameters: no user text is ever SQL or FTS5 syntax.
"""

from __future__ import annotations

import heapq
import sqlite3
from typing import Any, Final

import msgspec

from actors.store.search import (
    BEST_WINDOW,
    TAG_SCAN_MAX,
    PostHit,
    TagCount,
    bounding_box,
    haversine_km,
    normalise_tag,
)
from actors.store.social import PageKey, PostRecord
from server.storage.sqlite.accounts import fts_query, prefix_upper_bound
from server.storage.sqlite.database import SqliteDatabase
from server.storage.sqlite.rows import POST_COLUMNS, keyset, prefixed, to_post

__all__ = [
    "BY_TAG_SQL",
    "NEAR_BOX_SQL",
    "NEAR_STEPS",
    "TAG_PREFIX_SQL",
    "TEXT_BEST_SQL",
    "TEXT_NEWEST_SQL",
    "SqlitePostSearchStore",
]

_FROM_FTS: Final = (
    f"SELECT {prefixed(POST_COLUMNS, 'p')} FROM posts_fts"
    " JOIN posts AS p ON p.seq = posts_fts.rowid WHERE posts_fts MATCH :match"
)
#: Newest first, the exact way: every match is read and sorted (the FTS
#: index has no time order). On 200,000 posts and a word on 15% of them,
#: ~17 ms: the fallback of :data:`TEXT_NEWEST_RECENT_SQL`.
TEXT_NEWEST_SQL: Final = _FROM_FTS + "{keyset} ORDER BY p.created_at DESC, p.id DESC LIMIT :limit"
#: Newest first among the :data:`TEXT_WINDOW` newest posts below the key (a
#: range of ``posts_recent``), kept when in the match set: when the window
#: holds a page of matches, they are the newest matches there are. ~3 ms for
#: the same word; a word too rare to fill a page there falls back.
TEXT_NEWEST_RECENT_SQL: Final = (
    f"SELECT {prefixed(POST_COLUMNS, 'p')} FROM posts AS p WHERE p.seq IN ("
    " SELECT seq FROM (SELECT seq, created_at, id FROM posts INDEXED BY posts_recent"
    " WHERE 1{keyset} ORDER BY created_at DESC, id DESC LIMIT :window)"
    " WHERE seq IN (SELECT rowid FROM posts_fts WHERE posts_fts MATCH :match)"
    " ORDER BY created_at DESC, id DESC LIMIT :limit)"
    " ORDER BY p.created_at DESC, p.id DESC"
)
_WINDOW_SEEN_SQL: Final = (
    "SELECT count(*) FROM (SELECT 1 FROM posts INDEXED BY posts_recent WHERE 1{keyset}"
    " LIMIT :window)"
)
#: Posts the fast path of a newest-first text search looks through.
TEXT_WINDOW: Final = 4000
#: Best first among the :data:`~actors.store.search.BEST_WINDOW` most recent
#: matches: FTS5 walks its doclists backwards by rowid (the posts' storage
#: order) and stops there, so bm25 (lower is better) scores at most that many;
#: ties newest id first.
TEXT_BEST_SQL: Final = (
    f"SELECT {prefixed(POST_COLUMNS, 'p')} FROM (SELECT rowid AS seq, bm25(posts_fts) AS score"
    " FROM posts_fts WHERE posts_fts MATCH :match ORDER BY rowid DESC LIMIT :window) AS m"
    " JOIN posts AS p ON p.seq = m.seq ORDER BY m.score, p.id DESC LIMIT :limit OFFSET :offset"
)
#: A backward range of ``post_tags``' primary key ``(tag, created_at, post_id)``.
BY_TAG_SQL: Final = (
    f"SELECT {prefixed(POST_COLUMNS, 'p')} FROM post_tags AS t"
    " JOIN posts AS p ON p.id = t.post_id WHERE t.tag = :tag{keyset}"
    " ORDER BY t.created_at DESC, t.post_id DESC LIMIT :limit"
)
#: A range of the ``tags`` primary key, at most :data:`TAG_SCAN_MAX` entries,
#: ranked by count (``{upper}``: the range's upper end, absent for none).
TAG_PREFIX_SQL: Final = (
    "SELECT tag, post_count FROM"
    " (SELECT tag, post_count FROM tags WHERE tag >= :low{upper} ORDER BY tag LIMIT :scan)"
    " ORDER BY post_count DESC, tag LIMIT :limit"
)
#: The entries of ``posts_location`` in a box: a latitude range of the index,
#: longitudes checked on its entries (``{lon}``: one or two ranges), no row read.
NEAR_BOX_SQL: Final = (
    "SELECT seq, latitude, longitude FROM posts INDEXED BY posts_location"
    " WHERE latitude IS NOT NULL AND latitude BETWEEN :lat_low AND :lat_high AND ({lon})"
)
#: The radii a near query tries, as fractions of its radius, smallest first:
#: the answer is the nearest posts within the first that holds enough of
#: them, so a dense area reads a small box rather than the whole circle.
NEAR_STEPS: Final = (1 / 16, 1 / 4, 1.0)


def _posts(conn: sqlite3.Connection, sql: str, args: dict[str, Any]) -> list[PostRecord]:
    return [to_post(row) for row in conn.execute(sql, args).fetchall()]


class SqlitePostSearchStore:
    """:class:`actors.store.search.PostSearchStore` on ``posts_fts``,
    ``post_tags``, ``tags`` and ``posts_location``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def text_newest(
        self, query: str, *, before: PageKey | None, limit: int
    ) -> list[PostRecord]:
        match = fts_query(query)
        if match is None or limit <= 0:
            return []
        clause, args = keyset("p.created_at, p.id", before, "<")
        recent, _ = keyset("created_at, id", before, "<")
        args |= {"match": match, "limit": limit, "window": TEXT_WINDOW}

        def job(conn: sqlite3.Connection) -> list[PostRecord]:
            found = _posts(conn, TEXT_NEWEST_RECENT_SQL.format(keyset=recent), args)
            if len(found) >= limit:
                return found
            seen = conn.execute(_WINDOW_SEEN_SQL.format(keyset=recent), args).fetchone()[0]
            if seen < TEXT_WINDOW:  # the window held every post below the key
                return found
            return _posts(conn, TEXT_NEWEST_SQL.format(keyset=clause), args)

        return await self._db.read(job)

    async def text_best(self, query: str, *, offset: int, limit: int) -> list[PostRecord]:
        match = fts_query(query)
        if match is None or limit <= 0:
            return []
        args = {"match": match, "limit": limit, "offset": max(offset, 0), "window": BEST_WINDOW}
        return await self._db.read(lambda conn: _posts(conn, TEXT_BEST_SQL, args))

    async def by_tag(self, tag: str, *, before: PageKey | None, limit: int) -> list[PostRecord]:
        if limit <= 0:
            return []
        clause, args = keyset("t.created_at, t.post_id", before, "<")
        sql = BY_TAG_SQL.format(keyset=clause)
        args = {"tag": normalise_tag(tag), "limit": limit, **args}
        return await self._db.read(lambda conn: _posts(conn, sql, args))

    async def tag_prefix(self, prefix: str, limit: int) -> list[TagCount]:
        """The prefix is a range ``low <= tag < upper``
        (:func:`~server.storage.sqlite.accounts.prefix_upper_bound`): no
        ``LIKE``, so ``%`` and ``_`` are plain characters."""
        low = normalise_tag(prefix)
        if not low or limit <= 0:
            return []
        high = prefix_upper_bound(low)
        sql = TAG_PREFIX_SQL.format(upper="" if high is None else " AND tag < :high")
        args = {"low": low, "high": high, "scan": TAG_SCAN_MAX, "limit": limit}

        def job(conn: sqlite3.Connection) -> list[TagCount]:
            rows = conn.execute(sql, args).fetchall()
            return [TagCount(tag=row[0], post_count=row[1]) for row in rows]

        return await self._db.read(job)

    async def near(
        self, latitude: float, longitude: float, radius_km: float, *, offset: int, limit: int
    ) -> list[PostHit]:
        """For each radius of :data:`NEAR_STEPS` in turn: the index entries in
        its :func:`~actors.store.search.bounding_box`, their exact distance
        (:func:`~actors.store.search.haversine_km`), those within it. Once a
        radius holds ``offset + limit`` posts (or it is the full radius), its
        nearest are the answer: every post within a radius lies in its box,
        so nothing nearer was missed. Then their rows, in one statement."""
        wanted = max(offset, 0) + limit
        if limit <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[PostHit]:
            found: list[tuple[float, int]] = []
            for step in NEAR_STEPS:
                radius = radius_km * step
                box = bounding_box(latitude, longitude, radius)
                lon = " OR ".join(
                    f"longitude BETWEEN :w{i} AND :e{i}" for i in range(len(box.lon_ranges))
                )
                args: dict[str, float] = {"lat_low": box.lat_low, "lat_high": box.lat_high}
                for i, (west, east) in enumerate(box.lon_ranges):
                    args |= {f"w{i}": west, f"e{i}": east}
                found = []
                for seq, lat, lng in conn.execute(NEAR_BOX_SQL.format(lon=lon), args):
                    distance = haversine_km(latitude, longitude, lat, lng)
                    if distance <= radius:
                        found.append((distance, seq))
                if len(found) >= wanted:
                    break
            page = heapq.nsmallest(wanted, found)[max(offset, 0) :]
            if not page:
                return []
            rows = conn.execute(
                f"SELECT seq, {POST_COLUMNS} FROM posts"
                " WHERE seq IN (SELECT value FROM json_each(?))",
                (msgspec.json.encode([seq for _, seq in page]).decode(),),
            ).fetchall()
            by_seq = {row["seq"]: to_post(row) for row in rows}
            return [
                PostHit(post=by_seq[seq], distance_km=distance)
                for distance, seq in page
                if seq in by_seq
            ]

        return await self._db.read(job)
