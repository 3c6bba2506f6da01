"""Contract of post search (:class:`actors.store.search.PostSearchStore`) and
of the pure rules beside it (distance, bounding box), on every backend. Text
and near queries need a real MongoDB server: skipped on the stand-in with
the reasons of ``tests/store/backends.py``, never faked. Also the SQLite
query plans: the tag, near and prefix queries use their indexes."""

from __future__ import annotations

import asyncio
import math
import pathlib
import random
import sqlite3

import pytest

from actors.store import Store
from actors.store.search import (
    BoundingBox,
    bounding_box,
    haversine_km,
)
from actors.store.social import GeoPoint, PageKey, PostEdit, PostRecord
from server.storage import SqliteStore
from server.storage.sqlite import search as sqlite_search
from server.storage.sqlite.search import BY_TAG_SQL, NEAR_BOX_SQL, TAG_PREFIX_SQL
from tests.store.backends import STANDIN_NO_GEO, STANDIN_NO_TEXT, Backend
from tests.store.records import T0, make_post, make_user

#: Query strings made of FTS5, ``$text`` and LIKE syntax: each is words or
#: separators, never an engine error.
HOSTILE = [
    '"',
    '"sunset',
    "sun*",
    "*",
    "NEAR(sunset beach)",
    "NEAR(",
    "sunset AND beach",
    "AND",
    "OR",
    "NOT sunset",
    "-sunset",
    "- - -",
    "^sunset",
    "text:sunset",
    "title:sunset",
    "(sunset OR",
    ")",
    "%",
    "_",
    "sun%",
    "'; DROP TABLE posts; --",
    "\\",
    "\x00",
    "sunset" * 500,
]


async def author(store: Store, name: str = "ada") -> str:
    user = make_user(name)
    await store.users.create(user)
    return user.id


def ids(posts: list[PostRecord]) -> list[str]:
    return [p.id for p in posts]


# ----------------------------------------------------------------- pure rules


def test_haversine_known_distances() -> None:
    assert haversine_km(0, 0, 0, 0) == 0
    # Paris - London, about 344 km; a quarter of the equator.
    assert haversine_km(48.8566, 2.3522, 51.5074, -0.1278) == pytest.approx(343.5, abs=1)
    assert haversine_km(0, 0, 0, 90) == pytest.approx(math.pi / 2 * 6371.0088)
    # Across the antimeridian: 0.2 degrees of longitude at the equator.
    assert haversine_km(0, 179.9, 0, -179.9) == pytest.approx(22.24, abs=0.01)


def test_bounding_box_holds_every_point_of_the_circle() -> None:
    rng = random.Random(7)
    for _ in range(300):
        lat, lon = rng.uniform(-89.9, 89.9), rng.uniform(-180, 180)
        radius = rng.choice([0.01, 1, 50, 500, 1000])
        box = bounding_box(lat, lon, radius)
        for _ in range(40):  # points on and inside the circle
            bearing, dist = rng.uniform(0, 2 * math.pi), radius * rng.uniform(0, 0.999)
            plat, plon = _destination(lat, lon, bearing, dist)
            assert box.lat_low <= plat <= box.lat_high, (lat, lon, radius, plat)
            assert any(w <= plon <= e for w, e in box.lon_ranges), (lat, lon, radius, plon)


def test_bounding_box_splits_at_the_antimeridian_and_opens_at_the_poles() -> None:
    east = bounding_box(0, 179.9, 50)
    assert len(east.lon_ranges) == 2 and east.lon_ranges[1][0] == -180
    west = bounding_box(0, -179.9, 50)
    assert len(west.lon_ranges) == 2 and west.lon_ranges[0][1] == 180
    pole = bounding_box(89.9, 10, 50)
    assert pole == BoundingBox(pole.lat_low, 90.0, ((-180.0, 180.0),))


def _destination(lat: float, lon: float, bearing: float, km: float) -> tuple[float, float]:
    d, p1, l1 = km / 6371.0088, math.radians(lat), math.radians(lon)
    p2 = math.asin(math.sin(p1) * math.cos(d) + math.cos(p1) * math.sin(d) * math.cos(bearing))
    l2 = l1 + math.atan2(
        math.sin(bearing) * math.sin(d) * math.cos(p1), math.cos(d) - math.sin(p1) * math.sin(p2)
    )
    return math.degrees(p2), (math.degrees(l2) + 540) % 360 - 180


# ----------------------------------------------------------------------- tags


async def test_by_tag_newest_first_exact_and_keyset_pages(store: Store) -> None:
    me = await author(store)
    posts = [
        make_post(me, at=T0 + i // 2, tags=["sun", "sea"] if i % 3 else ["sun"]) for i in range(9)
    ]
    for p in posts:
        await store.posts.create(p)
    await store.posts.create(make_post(me, tags=["sunset"]))
    expected = [p.id for p in sorted(posts, key=lambda p: (p.created_at, p.id), reverse=True)]
    seen: list[str] = []
    before: PageKey | None = None
    while True:
        page = await store.post_search.by_tag("sun", before=before, limit=4)
        seen += ids(page)
        if len(page) < 4:
            break
        before = (page[-1].created_at, page[-1].id)
    assert seen == expected
    assert ids(await store.post_search.by_tag("#SUN", before=None, limit=20)) == expected
    assert await store.post_search.by_tag("su", before=None, limit=20) == []


async def test_tag_counts_follow_create_edit_and_delete(store: Store) -> None:
    me = await author(store)
    a = make_post(me, tags=["sun", "sea"])
    b = make_post(me, tags=["sun", "surf"])
    c = make_post(me, tags=["snow"])
    for p in (a, b, c):
        await store.posts.create(p)

    async def counts(prefix: str) -> dict[str, int]:
        return {t.tag: t.post_count for t in await store.post_search.tag_prefix(prefix, 50)}

    assert await counts("s") == {"sun": 2, "sea": 1, "surf": 1, "snow": 1}
    ranked = await store.post_search.tag_prefix("s", 2)
    assert [t.tag for t in ranked] == ["sun", "sea"]  # most posts first, ties by tag
    edit = PostEdit(text="", tags=["sun", "sky"], mentions=[], edited_at=T0 + 5)
    assert await store.posts.edit(a.id, me, edit) is not None
    assert await counts("s") == {"sun": 2, "sky": 1, "surf": 1, "snow": 1}
    assert await store.posts.delete(b.id, me) is not None
    assert await counts("su") == {"sun": 1}
    assert await counts("#S") == {"sun": 1, "sky": 1, "snow": 1}
    assert await store.posts.delete(b.id, me) is None  # again: nothing moves
    assert await counts("s") == {"sun": 1, "sky": 1, "snow": 1}


async def test_tag_counts_stay_exact_under_concurrent_edits(store: Store) -> None:
    me = await author(store)
    posts = [make_post(me, tags=["a"]) for _ in range(4)]
    for p in posts:
        await store.posts.create(p)
    rng = random.Random(3)
    choices = [["a"], ["b"], ["a", "b"], []]

    async def edit(post: PostRecord, i: int) -> None:
        tags = rng.choice(choices)
        await store.posts.edit(
            post.id, me, PostEdit(text="", tags=tags, mentions=[], edited_at=T0 + i)
        )

    await asyncio.gather(*(edit(p, i) for i in range(12) for p in posts))
    stored = await store.posts.get_many(ids(posts))
    want: dict[str, int] = {}
    for p in stored.values():
        for t in p.tags:
            want[t] = want.get(t, 0) + 1
    got = {t.tag: t.post_count for t in await store.post_search.tag_prefix("a", 10)}
    got |= {t.tag: t.post_count for t in await store.post_search.tag_prefix("b", 10)}
    assert got == want


async def test_tag_prefix_wildcards_are_literal(store: Store) -> None:
    me = await author(store)
    await store.posts.create(make_post(me, tags=["a_b", "axb", "a"]))
    assert [t.tag for t in await store.post_search.tag_prefix("a_", 10)] == ["a_b"]
    for hostile in ["%", "_", "a%", ".*", "[a]", "\\", ""]:
        found = await store.post_search.tag_prefix(hostile, 10)
        assert all(t.tag.startswith(hostile.lower()) for t in found)
    assert await store.post_search.tag_prefix("%", 10) == []
    assert await store.post_search.tag_prefix(".*", 10) == []


# ----------------------------------------------------------------------- text


async def _texts(store: Store) -> dict[str, PostRecord]:
    me = await author(store)
    posts = {
        "both": make_post(me, at=T0 + 1, text="Sunset beach, sunset beach!"),
        "sunset": make_post(me, at=T0 + 2, text="A sunset"),
        "beach": make_post(me, at=T0 + 3, text="beach day"),
        "accent": make_post(me, at=T0 + 4, text="Café crème at the BEACH"),
        "other": make_post(me, at=T0 + 5, text="mountains"),
    }
    for p in posts.values():
        await store.posts.create(p)
    return posts


async def test_text_matches_any_word_newest_or_best(backend: Backend, store: Store) -> None:
    backend.skip_on_standin(STANDIN_NO_TEXT)
    p = await _texts(store)
    newest = await store.post_search.text_newest("sunset beach", before=None, limit=10)
    assert ids(newest) == [p[k].id for k in ("accent", "beach", "sunset", "both")]
    best = await store.post_search.text_best("sunset beach", offset=0, limit=10)
    assert best[0].id == p["both"].id and set(ids(best)) == set(ids(newest))
    assert ids(await store.post_search.text_best("sunset beach", offset=1, limit=2)) == ids(
        best[1:3]
    )
    assert ids(await store.post_search.text_newest("cafe", before=None, limit=10)) == [
        p["accent"].id
    ]
    page = await store.post_search.text_newest(
        "beach", before=(p["beach"].created_at, p["beach"].id), limit=10
    )
    assert ids(page) == [p["both"].id]


async def test_text_follows_edits_and_deletes(backend: Backend, store: Store) -> None:
    backend.skip_on_standin(STANDIN_NO_TEXT)
    p = await _texts(store)
    me = p["other"].user_id
    await store.posts.edit(
        p["other"].id, me, PostEdit(text="sunset peak", tags=[], mentions=[], edited_at=T0 + 9)
    )
    await store.posts.delete(p["sunset"].id, me)
    found = await store.post_search.text_newest("sunset", before=None, limit=10)
    assert ids(found) == [p["other"].id, p["both"].id]
    assert await store.post_search.text_newest("mountains", before=None, limit=10) == []


@pytest.mark.parametrize("query", HOSTILE)
async def test_text_query_syntax_is_never_an_engine_error(
    backend: Backend, store: Store, query: str
) -> None:
    backend.skip_on_standin(STANDIN_NO_TEXT)
    p = await _texts(store)
    for order in ("newest", "best"):
        if order == "newest":
            found = await store.post_search.text_newest(query, before=None, limit=10)
        else:
            found = await store.post_search.text_best(query, offset=0, limit=10)
        # Words of the query match as words; operators match nothing by themselves.
        if "sunset" in query.lower() and "sunsetsunset" not in query:
            assert p["sunset"].id in ids(found)
        elif not any(c.isalnum() for c in query):
            assert found == []


async def test_text_without_words_finds_nothing_on_every_backend(store: Store) -> None:
    await _texts(store)
    for query in ["", "   ", '"', "*", "- ^ ( ) :", "%"]:
        assert await store.post_search.text_newest(query, before=None, limit=5) == []
        assert await store.post_search.text_best(query, offset=0, limit=5) == []


# ----------------------------------------------------------------------- near

NICE = (43.7102, 7.2620)
PLACES = {
    "nice": (43.7102, 7.2620),  # 0
    "antibes": (43.5808, 7.1251),  # ~18 km
    "cannes": (43.5528, 7.0174),  # ~26 km
    "monaco": (43.7384, 7.4246),  # ~13 km
    "marseille": (43.2965, 5.3698),  # ~160 km
    "paris": (48.8566, 2.3522),  # ~690 km
}


async def _places(store: Store) -> dict[str, PostRecord]:
    me = await author(store)
    posts = {
        name: make_post(me, location=GeoPoint(latitude=lat, longitude=lon, place_name=name))
        for name, (lat, lon) in PLACES.items()
    }
    for p in posts.values():
        await store.posts.create(p)
    await store.posts.create(make_post(me, text="nowhere"))
    return posts


async def test_near_is_nearest_first_within_the_radius_with_distances(
    backend: Backend, store: Store
) -> None:
    backend.skip_on_standin(STANDIN_NO_GEO)
    p = await _places(store)
    hits = await store.post_search.near(*NICE, 30, offset=0, limit=10)
    assert [h.post.id for h in hits] == [p[k].id for k in ("nice", "monaco", "antibes", "cannes")]
    for hit in hits:
        loc = hit.post.location
        assert loc is not None
        assert hit.distance_km == pytest.approx(haversine_km(*NICE, loc.latitude, loc.longitude))
    assert hits[0].distance_km == 0
    more = await store.post_search.near(*NICE, 1000, offset=3, limit=10)
    assert [h.post.id for h in more] == [p[k].id for k in ("cannes", "marseille", "paris")]
    assert await store.post_search.near(0, 0, 100, offset=0, limit=10) == []


async def test_near_across_the_antimeridian_and_at_a_pole(backend: Backend, store: Store) -> None:
    backend.skip_on_standin(STANDIN_NO_GEO)
    me = await author(store)
    fiji_east = make_post(me, location=GeoPoint(latitude=-17.0, longitude=179.95))
    fiji_west = make_post(me, location=GeoPoint(latitude=-17.0, longitude=-179.95))
    pole = make_post(me, location=GeoPoint(latitude=89.95, longitude=-120.0))
    for post in (fiji_east, fiji_west, pole):
        await store.posts.create(post)
    hits = await store.post_search.near(-17.0, 179.99, 20, offset=0, limit=10)
    assert [h.post.id for h in hits] == [fiji_east.id, fiji_west.id]
    hits = await store.post_search.near(89.95, 60.0, 20, offset=0, limit=10)  # over the pole
    assert [h.post.id for h in hits] == [pole.id]


async def test_near_dense_area_uses_a_small_box_but_stays_exact(
    backend: Backend, store: Store
) -> None:
    backend.skip_on_standin(STANDIN_NO_GEO)
    me = await author(store)
    rng = random.Random(11)
    posts = []
    for _ in range(300):
        lat, lon = 45 + rng.uniform(-2, 2), 5 + rng.uniform(-2, 2)
        posts.append(make_post(me, location=GeoPoint(latitude=lat, longitude=lon)))
    for post in posts:
        await store.posts.create(post)
    want = sorted(
        (haversine_km(45, 5, p.location.latitude, p.location.longitude), p.id)
        for p in posts
        if p.location is not None
    )
    want = [(d, i) for d, i in want if d <= 150]
    got = await store.post_search.near(45, 5, 150, offset=0, limit=7)
    assert [h.post.id for h in got] == [i for _, i in want[:7]]
    got = await store.post_search.near(45, 5, 150, offset=len(want) - 2, limit=7)
    assert [h.post.id for h in got] == [i for _, i in want[-2:]]


# -------------------------------------------------------------- query plans


def _plan(store: SqliteStore, sql: str, args: dict[str, object]) -> str:
    conn = sqlite3.connect(store.db.path)
    try:
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql, args).fetchall()
    finally:
        conn.close()
    return "\n".join(str(row[-1]) for row in rows)


async def test_sqlite_tag_near_and_prefix_queries_use_their_indexes(
    backend: Backend, store: Store
) -> None:
    if backend.name != "sqlite":
        pytest.skip("SQLite query plans")
    assert isinstance(store, SqliteStore)
    tag = _plan(
        store,
        BY_TAG_SQL.format(keyset=" AND (t.created_at, t.post_id) < (:key_at, :key_id)"),
        {"tag": "sun", "limit": 5, "key_at": T0, "key_id": "x"},
    )
    assert "SEARCH t USING PRIMARY KEY (tag=? AND" in tag, tag
    assert "SCAN" not in tag and "TEMP B-TREE" not in tag, tag
    near = _plan(
        store,
        NEAR_BOX_SQL.format(lon="longitude BETWEEN :w0 AND :e0 OR longitude BETWEEN :w1 AND :e1"),
        {"lat_low": 1.0, "lat_high": 2.0, "w0": 170.0, "e0": 180.0, "w1": -180.0, "e1": -170.0},
    )
    assert "SEARCH posts USING COVERING INDEX posts_location (latitude>? AND latitude<?)" in near, (
        near
    )
    prefix = _plan(
        store,
        TAG_PREFIX_SQL.format(upper=" AND tag < :high"),
        {"low": "su", "high": "sv", "scan": 10, "limit": 5},
    )
    assert "SEARCH tags USING PRIMARY KEY (tag>? AND tag<?)" in prefix, prefix
    assert "SCAN tags" not in prefix, prefix


@pytest.mark.parametrize("window", [3, 7, 4000])
async def test_sqlite_text_newest_pages_alike_through_the_window_or_its_fallback(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    """The fast path (the newest ``TEXT_WINDOW`` posts, kept when they match)
    and its fallback (every match, sorted) give the same pages: a small
    window forces the fallback below the first pages, a large one never."""
    monkeypatch.setattr(sqlite_search, "TEXT_WINDOW", window)
    store = SqliteStore(tmp_path / "window.sqlite3")
    await store.open()
    try:
        words = ["sunset", "river", "sunset beach", "city", "sunset"]
        posts = [make_post("u1", at=T0 + i, text=words[i % len(words)]) for i in range(40)]
        # Out of time order on purpose: insertion order is not what pages follow.
        for post in random.Random(7).sample(posts, len(posts)):
            await store.posts.create(post)
        expected = [p.id for p in sorted(posts, key=lambda p: p.created_at, reverse=True)
                    if "sunset" in p.text]  # fmt: skip
        seen: list[str] = []
        before: PageKey | None = None
        while True:
            page = await store.post_search.text_newest("sunset", before=before, limit=4)
            seen += [p.id for p in page]
            if len(page) < 4:
                break
            before = (page[-1].created_at, page[-1].id)
        assert seen == expected
    finally:
        await store.close()


async def test_sqlite_text_best_ranks_the_most_recent_matches(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Best first scores only the newest ``BEST_WINDOW`` matches: an old post
    that matches best leads while it is inside the window, not once newer
    matches push it out."""
    store = SqliteStore(tmp_path / "best.sqlite3")
    await store.open()
    try:
        old_best = make_post("u1", at=T0, text="sunset sunset sunset sunset")
        await store.posts.create(old_best)
        newer = [
            make_post("u1", at=T0 + i, text=f"sunset and {i} other words here") for i in (1, 2, 3)
        ]
        for post in newer:
            await store.posts.create(post)
        ranked = await store.post_search.text_best("sunset", offset=0, limit=10)
        assert ranked[0].id == old_best.id and len(ranked) == 4
        monkeypatch.setattr(sqlite_search, "BEST_WINDOW", 3)
        ranked = await store.post_search.text_best("sunset", offset=0, limit=10)
        assert {p.id for p in ranked} == {p.id for p in newer}
    finally:
        await store.close()
