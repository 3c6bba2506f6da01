"""Discovery through its handlers, on both storage backends: trending tags
(kept by the social handlers' hooks, decayed by age) and suggested accounts
(friends of friends, then popular; never oneself, the followed or the
blocked). Past activity is injected through the trend store with its time,
never by sleeping. The rules alone (decay, ranking) are checked at the end."""

from __future__ import annotations

import time
from typing import Any

import pytest

from actors.discovery import (
    HALF_LIFE,
    LIKE_WEIGHT,
    POST_WEIGHT,
    decay,
    friends_of_friends,
    rank_trends,
    window_start,
)
from actors.store.discovery import BUCKET_SECONDS, TagBucket, bucket_of
from actors.store.social import FollowRecord
from protocol.errors import ErrorCode
from protocol.messages import accounts
from protocol.messages import discovery as d
from protocol.messages import social as m
from server.context import Caller
from tests.harness import Node
from tests.test_social import post, refused, social

__all__ = ["social"]  # the fixture, on both backends

HOUR = float(BUCKET_SECONDS)


async def trends(node: Node, caller: Caller, limit: int = 10) -> dict[str, d.TrendingTag]:
    reply = await node.send(caller, d.TrendTags, limit=limit)
    return {t.tag: t for t in reply.tags}


async def trend_order(node: Node, caller: Caller, limit: int = 10) -> list[str]:
    reply = await node.send(caller, d.TrendTags, limit=limit)
    return [t.tag for t in reply.tags]


async def suggestions(node: Node, caller: Caller, limit: int = 20) -> list[d.Suggestion]:
    reply = await node.send(caller, d.SuggestUsers, limit=limit)
    return list(reply.users)


def names(items: list[d.Suggestion]) -> list[tuple[str, str]]:
    return [(s.user.username, s.reason) for s in items]


# ------------------------------------------------------------------- trends


async def test_posts_make_tags_trend_with_their_post_counts(social: Node) -> None:
    ada = await social.user("ada")
    await post(social, ada, "sunset at #nice", tags=["beach"])
    await post(social, ada, "more #nice")
    top = await trends(social, ada)
    assert list(top) == ["nice", "beach"]
    assert top["nice"].post_count_24h == 2 and top["beach"].post_count_24h == 1
    # Same hour, same decay: two posts weigh twice one.
    assert top["nice"].score == pytest.approx(2 * top["beach"].score, rel=0.01)


async def test_recent_activity_ranks_above_old_and_the_window_is_24_hours(social: Node) -> None:
    ada = await social.user("ada")
    now = time.time()
    trends_store = social.store.trends
    await trends_store.bump(["old"], now - 20 * HOUR, 4 * POST_WEIGHT, 4)
    await trends_store.bump(["recent"], now - 60, 2 * POST_WEIGHT, 2)
    await trends_store.bump(["expired"], now - 30 * HOUR, 100 * POST_WEIGHT, 100)
    top = await trends(social, ada)
    # Four posts of 20 hours ago weigh about 4 / 2**(20/6) = 0.4 posts now.
    assert list(top) == ["recent", "old"]
    assert top["old"].post_count_24h == 4
    assert top["old"].score < top["recent"].score / 2


async def test_likes_count_and_unlikes_take_them_back(social: Node) -> None:
    ada, bob, cy = await social.user("ada"), await social.user("bob"), await social.user("cy")
    await post(social, ada, "#alpha")
    liked = await post(social, ada, "#beta")
    assert await trend_order(social, ada) == ["alpha", "beta"]  # a tie, by name
    await social.call(bob, m.LikePost, post_id=liked.id)
    await social.call(bob, m.LikePost, post_id=liked.id)  # a repeat counts nothing
    await social.call(cy, m.LikePost, post_id=liked.id)
    top = await trends(social, ada)
    assert list(top) == ["beta", "alpha"]
    ratio = (POST_WEIGHT + 2 * LIKE_WEIGHT) / POST_WEIGHT  # the same hour's decay
    assert top["beta"].score == pytest.approx(ratio * top["alpha"].score, rel=0.01)
    assert top["beta"].post_count_24h == 1
    await social.call(bob, m.UnlikePost, post_id=liked.id)
    await social.call(cy, m.UnlikePost, post_id=liked.id)
    await social.call(cy, m.UnlikePost, post_id=liked.id)  # a repeat takes nothing
    top = await trends(social, ada)
    assert list(top) == ["alpha", "beta"]
    assert top["beta"].score == pytest.approx(top["alpha"].score)


async def test_followers_only_posts_and_their_likes_do_not_trend(social: Node) -> None:
    ada, fan = await social.user("ada"), await social.user("fan")
    await social.call(fan, m.Follow, user_id=ada.user())
    secret = await post(social, ada, "#secret plans", visibility="followers")
    await social.call(fan, m.LikePost, post_id=secret.id)
    await post(social, ada, "#open")
    assert await trend_order(social, fan) == ["open"]


async def test_a_deleted_post_takes_its_weight_back(social: Node) -> None:
    ada = await social.user("ada")
    await post(social, ada, "#stays")
    gone = await post(social, ada, "#spam #stays")
    await social.call(ada, m.DeletePost, post_id=gone.id)
    top = await trends(social, ada)
    assert list(top) == ["stays"]
    assert top["stays"].post_count_24h == 1


async def test_an_edit_moves_the_posts_weight_to_its_new_tags(social: Node) -> None:
    ada = await social.user("ada")
    first = await post(social, ada, "#typo")
    await social.call(ada, m.EditPost, post_id=first.id, text="#fixed")
    top = await trends(social, ada)
    assert list(top) == ["fixed"]
    assert top["fixed"].post_count_24h == 1


async def test_trend_limit_is_bounded_and_honoured(social: Node) -> None:
    ada = await social.user("ada")
    for i in range(5):
        await post(social, ada, " ".join(f"#t{j}" for j in range(i + 1)))
    assert await trend_order(social, ada, limit=3) == ["t0", "t1", "t2"]
    await refused(ErrorCode.INVALID_FIELD, social.send(ada, d.TrendTags, limit=0))
    await refused(ErrorCode.INVALID_FIELD, social.send(ada, d.TrendTags, limit=d.TRENDS_MAX + 1))


async def test_a_failing_trend_store_does_not_fail_the_post(
    social: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    ada = await social.user("ada")

    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("trend store down")

    monkeypatch.setattr(social.store.trends, "bump", broken)
    made = await post(social, ada, "#still")
    assert made.tags == ["still"]
    assert (await social.call(ada, m.LikePost, post_id=made.id)).changed


# -------------------------------------------------------------- suggestions


async def test_friends_of_friends_first_then_popular(social: Node) -> None:
    me = await social.user("me")
    f1, f2, f3, f4 = [await social.user(f"f{i}") for i in range(1, 5)]
    two, one, star, fan = [await social.user(n) for n in ("two", "one", "star", "fan")]
    for f in (f1, f2, f3, f4):
        await social.call(me, m.Follow, user_id=f.user())
    for f in (f1, f2, f3, f4):
        await social.call(f, m.Follow, user_id=two.user())
    await social.call(f2, m.Follow, user_id=one.user())
    # star: the most followed account, unrelated to my followees' follows.
    for follower in (fan, one, two):
        await social.call(follower, m.Follow, user_id=star.user())
    got = await suggestions(social, me)
    assert names(got)[:2] == [("two", "followed_by"), ("one", "followed_by")]
    assert got[0].followed_by_count == 4
    # The three most recently followed of the four, newest first.
    assert [p.username for p in got[0].followed_by] == ["f4", "f3", "f2"]
    assert all(p.i_follow for p in got[0].followed_by)
    assert got[1].followed_by_count == 1 and [p.username for p in got[1].followed_by] == ["f2"]
    assert got[0].user.followers_count == 4 and not got[0].user.i_follow
    # Then the popular ones, most followers first: star (3), then my
    # followees' follows already shown are not repeated; f1..f4 are followed.
    popular = [(s.user.username, s.reason) for s in got[2:]]
    assert popular[0] == ("star", "popular")
    assert got[2].followed_by == [] and got[2].followed_by_count == 0
    shown = [s.user.username for s in got]
    assert len(shown) == len(set(shown))
    assert not {"me", "f1", "f2", "f3", "f4"} & set(shown)


async def test_suggestions_leave_out_blocked_either_way_and_followed(social: Node) -> None:
    me, friend = await social.user("me"), await social.user("friend")
    blocker, blocked, fine = [await social.user(n) for n in ("blocker", "blocked", "fine")]
    followed = await social.user("followed")
    await social.call(me, m.Follow, user_id=friend.user())
    await social.call(me, m.Follow, user_id=followed.user())
    for other in (blocker, blocked, fine, followed):
        await social.call(friend, m.Follow, user_id=other.user())
    await social.call(blocker, accounts.BlockUser, user_id=me.user())
    await social.call(me, accounts.BlockUser, user_id=blocked.user())
    got = await suggestions(social, me)
    shown = [s.user.username for s in got]
    assert shown[0] == "fine" and got[0].reason == "followed_by"
    assert not {"me", "friend", "followed", "blocker", "blocked"} & set(shown)


async def test_popular_fills_for_a_newcomer_and_limit_is_honoured(social: Node) -> None:
    newcomer = await social.user("newcomer")
    stars = [await social.user(f"star{i}") for i in range(3)]
    fans = [await social.user(f"fan{i}") for i in range(3)]
    for i, star in enumerate(stars):
        for fan in fans[: i + 1]:
            await social.call(fan, m.Follow, user_id=star.user())
    got = await suggestions(social, newcomer, limit=2)
    assert names(got) == [("star2", "popular"), ("star1", "popular")]
    assert [s.user.followers_count for s in got] == [3, 2]
    # Someone with no follower is not "popular".
    everyone = [s.user.username for s in await suggestions(social, newcomer, limit=50)]
    assert everyone == ["star2", "star1", "star0"]
    await refused(ErrorCode.INVALID_FIELD, social.send(newcomer, d.SuggestUsers, limit=0))
    await refused(
        ErrorCode.INVALID_FIELD,
        social.send(newcomer, d.SuggestUsers, limit=d.SUGGESTIONS_MAX + 1),
    )


async def test_discovery_needs_a_login(social: Node) -> None:
    anonymous = social.caller()
    await refused(ErrorCode.UNAUTHENTICATED, social.send(anonymous, d.TrendTags))
    await refused(ErrorCode.UNAUTHENTICATED, social.send(anonymous, d.SuggestUsers))


# -------------------------------------------------------------------- rules


def test_decay_halves_every_half_life_and_spares_the_current_hour() -> None:
    middle = 1000 * HOUR + HOUR / 2  # the middle of bucket 1000
    assert decay(1000, middle) == 1.0
    assert decay(1000, middle - 60) == 1.0  # a young hour counts fully
    hours = int(HALF_LIFE // HOUR)
    assert decay(1000 - hours, middle) == pytest.approx(0.5)
    assert decay(1000 - 2 * hours, middle) == pytest.approx(0.25)


def test_rank_trends_sums_the_window_only_and_drops_zero_scores() -> None:
    now = 1000 * HOUR + 10
    first = bucket_of(window_start(now))
    rows = [
        TagBucket(tag="a", bucket=1000, score=1.0, posts=1),
        TagBucket(tag="a", bucket=first, score=8.0, posts=8),
        TagBucket(tag="a", bucket=first - 1, score=99.0, posts=99),  # before the window
        TagBucket(tag="b", bucket=1000, score=2.0, posts=0),
        TagBucket(tag="zero", bucket=1000, score=0.0, posts=0),
    ]
    ranked = rank_trends(rows, now, 10)
    assert [t.tag for t in ranked] == ["b", "a"]
    assert ranked[1].post_count == 9
    assert ranked[1].score == pytest.approx(1.0 + 8.0 * decay(first, now))
    assert rank_trends(rows, now, 1) == ranked[:1]


def test_friends_of_friends_rank_by_count_then_recency_and_name_three() -> None:
    edges = [
        FollowRecord(follower_id=f, followee_id=t, created_at=at)
        for f, t, at in [
            ("f1", "x", 5.0),
            ("f1", "me", 6.0),
            ("f2", "x", 1.0),
            ("f2", "y", 9.0),
            ("f3", "x", 2.0),
            ("f4", "x", 3.0),
            ("f3", "z", 1.0),
        ]
    ]
    ranked = friends_of_friends(edges, "me")
    assert [(c.user_id, c.count, c.via) for c in ranked] == [
        ("x", 4, ["f1", "f2", "f3"]),
        ("y", 1, ["f2"]),
        ("z", 1, ["f3"]),
    ]
