"""Contract of the discovery ports (trend rows, friends of friends, the most
followed users), run against every backend (see ``tests/store/backends.py``).
Times are injected: a bucket is an hour of ``T0``-relative time."""

from __future__ import annotations

import asyncio

from actors.store import Store
from actors.store.discovery import BUCKET_SECONDS, WINDOW_BUCKETS, TagBucket, bucket_of
from actors.store.social import FollowRecord
from tests.store.backends import Backend
from tests.store.records import T0
from tests.store.test_social import new_users

HOUR = float(BUCKET_SECONDS)
NOW = T0 + 1000 * HOUR  # an hour's start, so that NOW - k * HOUR is bucket - k


def rows_by_key(rows: list[TagBucket]) -> dict[tuple[str, int], tuple[float, int]]:
    return {(r.tag, r.bucket): (r.score, r.posts) for r in rows}


# --------------------------------------------------------------------------- trends


async def test_bumps_add_per_tag_and_hour_and_concurrent_ones_all_count(store: Store) -> None:
    await store.trends.bump(["a", "b"], NOW, 1.0, 1)
    await store.trends.bump(["a"], NOW + 10, 0.25)
    await store.trends.bump(["a"], NOW - HOUR, 1.0, 1)
    await asyncio.gather(*(store.trends.bump(["c"], NOW + 1, 0.5, 1) for _ in range(20)))
    rows = rows_by_key(await store.trends.top(NOW - 5 * HOUR, per_bucket=10))
    b = bucket_of(NOW)
    assert rows == {
        ("a", b): (1.25, 1),
        ("b", b): (1.0, 1),
        ("a", b - 1): (1.0, 1),
        ("c", b): (10.0, 20),
    }


async def test_taking_back_stops_at_zero_and_creates_nothing(store: Store) -> None:
    await store.trends.bump(["a"], NOW, 1.0, 1)
    await store.trends.bump(["a", "never"], NOW, -3.0, -2)
    await store.trends.bump(["gone"], NOW, -1.0)
    rows = rows_by_key(await store.trends.top(NOW, per_bucket=10))
    assert rows == {("a", bucket_of(NOW)): (0.0, 0)}
    await store.trends.bump([], NOW, 1.0, 1)  # nothing to do
    assert len(await store.trends.top(NOW, per_bucket=10)) == 1


async def test_top_reads_each_hours_leaders_and_all_their_rows_in_the_window(
    store: Store,
) -> None:
    # Hour 0 (the window's first): x leads; hour 1: y leads, x is small.
    start = NOW - 23 * HOUR
    await store.trends.bump(["x"], start, 5.0, 5)
    await store.trends.bump(["small"], start, 1.0, 1)
    await store.trends.bump(["y"], start + HOUR, 5.0, 5)
    await store.trends.bump(["x"], start + HOUR, 0.5)
    await store.trends.bump(["tiny"], start + HOUR, 0.1)
    # Before the window: still stored (the bumps so far pruned relative to
    # their own hours), but not read.
    await store.trends.bump(["old"], start - HOUR, 9.0, 9)
    rows = rows_by_key(await store.trends.top(start, per_bucket=1))
    first = bucket_of(start)
    assert rows == {
        ("x", first): (5.0, 5),
        ("x", first + 1): (0.5, 0),  # not a leader there, but a candidate
        ("y", first + 1): (5.0, 5),
    }


async def test_a_bump_in_a_new_hour_prunes_what_left_the_window(store: Store) -> None:
    old = NOW - WINDOW_BUCKETS * HOUR  # one hour before the window of NOW
    await store.trends.bump(["old"], old, 1.0, 1)
    await store.trends.bump(["kept"], old + HOUR, 1.0, 1)
    await store.trends.bump(["new"], NOW, 1.0, 1)
    assert set(rows_by_key(await store.trends.top(old, per_bucket=10))) == {
        ("kept", bucket_of(old) + 1)
    }
    assert await store.trends.prune(NOW) == 1
    assert set(rows_by_key(await store.trends.top(old + HOUR, per_bucket=10))) == {
        ("new", bucket_of(NOW))
    }


async def test_trend_rows_survive_a_reopen(backend: Backend) -> None:
    first = backend.new_store()
    await first.open()
    try:
        await first.trends.bump(["durable"], NOW, 2.0, 1)
    finally:
        await first.close()
    again = backend.new_store()
    await again.open()
    try:
        assert rows_by_key(await again.trends.top(NOW, per_bucket=1)) == {
            ("durable", bucket_of(NOW)): (2.0, 1)
        }
    finally:
        await again.close()


# ----------------------------------------------------------------------- suggestions


async def follow(store: Store, a: str, b: str, at: float) -> None:
    assert await store.follows.follow(a, b, at)


async def test_friends_of_friends_samples_recent_followees_and_their_recent_follows(
    store: Store,
) -> None:
    me, f1, f2, f3, x, y, z, known = (u.id for u in await new_users(store, 8))
    await follow(store, me, f1, T0 + 1)
    await follow(store, me, f2, T0 + 2)
    await follow(store, me, f3, T0 + 3)
    await follow(store, me, known, T0 + 4)
    await follow(store, f1, x, T0 + 10)
    await follow(store, f1, known, T0 + 11)  # already followed: left out
    await follow(store, f1, me, T0 + 12)  # the caller: left out
    await follow(store, f2, x, T0 + 20)
    await follow(store, f2, y, T0 + 21)
    await follow(store, f2, z, T0 + 22)
    await follow(store, f3, f1, T0 + 30)  # someone the caller follows: left out
    # The three most recent followees are known, f3 and f2; each one's two
    # newest follows, less the caller and whom the caller follows.
    edges = await store.suggestions.followed_by_followees(me, followees=3, per_followee=2)
    assert [(e.follower_id, e.followee_id) for e in edges] == [(f2, z), (f2, y)]
    edges = await store.suggestions.followed_by_followees(me, followees=4, per_followee=3)
    assert [(e.follower_id, e.followee_id) for e in edges] == [(f2, z), (f2, y), (f2, x), (f1, x)]
    assert all(isinstance(e, FollowRecord) and e.created_at > T0 for e in edges)
    assert await store.suggestions.followed_by_followees(me, followees=0, per_followee=3) == []
    assert await store.suggestions.followed_by_followees(x, followees=10, per_followee=3) == []


async def test_popular_pages_by_followers_count_then_id(store: Store) -> None:
    users = await new_users(store, 7)
    fans = [u.id for u in users[:4]]
    stars = [u.id for u in users[4:]]
    # stars[0]: 3 followers, stars[1] and stars[2]: 2 each; fans[1]: 1.
    for fan in fans[:3]:
        await follow(store, fan, stars[0], T0)
    for fan in fans[:2]:
        await follow(store, fan, stars[1], T0)
        await follow(store, fan, stars[2], T0)
    await follow(store, fans[3], fans[1], T0)
    tie = sorted(stars[1:], reverse=True)
    expected = [stars[0], *tie, fans[1]]
    everyone = await store.suggestions.popular(before=None, limit=10)
    assert [u.id for u in everyone] == expected  # nobody without a follower
    assert everyone[0].followers_count == 3
    first = await store.suggestions.popular(before=None, limit=2)
    rest = await store.suggestions.popular(
        before=(first[-1].followers_count, first[-1].id), limit=10
    )
    assert [u.id for u in first + rest] == expected
    assert await store.suggestions.popular(before=None, limit=0) == []
