"""Discovery's rules, free of I/O: how activity becomes a trend score, how
the score decays, and how friends of friends are ranked.

A trend score is the sum of the weights of a tag's recent activity, each
halved every :data:`HALF_LIFE` seconds of age: a post counts
:data:`POST_WEIGHT`, a like :data:`LIKE_WEIGHT`. The store keeps the weights
per hour (:mod:`actors.store.discovery`); the decay is applied here, at read
time, by the age of each hour (its middle), so nothing is ever rewritten as
time passes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

import msgspec

from actors.store.discovery import BUCKET_SECONDS, WINDOW_BUCKETS, TagBucket, bucket_of
from actors.store.social import FollowRecord, PostRecord

POST_WEIGHT: Final = 1.0
"""A public post with the tag: someone chose the topic."""
LIKE_WEIGHT: Final = 0.25
"""A like of such a post: a cheaper signal, so four likes weigh one post and a
single viral post does not drown every other use of its tags."""
HALF_LIFE: Final = 6 * 3600.0
"""A tag's activity of six hours ago weighs half that of now."""
CANDIDATES_PER_BUCKET: Final = 100
"""Tags read per hour bucket as trend candidates: any tag among the top of
one hour of the window is scored, so a limit of up to 100 is always filled
from true leaders (a tag that is never in any hour's top 100 cannot be in
the top 100 of their sum in practice)."""

SAMPLE_FOLLOWEES: Final = 200
"""Friends of friends look at the caller's most recent followees, at most this many..."""
SAMPLE_FOLLOWS: Final = 50
"""...and at the most recent follows of each: at most 10,000 edges read,
however many accounts they follow."""
VIA_MAX: Final = 3
"""Followees named in a ``followed_by`` suggestion."""


def counts(post: PostRecord) -> bool:
    """Whether a post's tags trend: public posts only. A followers-only post
    is not for everyone, and a public trend would reveal its topic (and
    reach) to those it was hidden from."""
    return post.visibility == "public" and bool(post.tags)


def window_start(now: float) -> float:
    """The start of the oldest hour a trend request reads."""
    return (bucket_of(now) - WINDOW_BUCKETS + 1) * BUCKET_SECONDS


def decay(bucket: int, now: float) -> float:
    """The factor of the weights of ``bucket`` at ``now``: ``0.5 ** (age /
    HALF_LIFE)``, the age taken from the middle of the hour (0 while the hour
    is young: the current hour counts fully)."""
    age = max(0.0, now - (bucket + 0.5) * BUCKET_SECONDS)
    return float(0.5 ** (age / HALF_LIFE))


class TrendScore(msgspec.Struct, kw_only=True, frozen=True):
    tag: str
    score: float
    post_count: int
    """Posts of the window with the tag (not decayed)."""


def rank_trends(rows: Iterable[TagBucket], now: float, limit: int) -> list[TrendScore]:
    """The ``limit`` highest decayed scores of the window ending at ``now``
    (rows outside it are ignored), highest first, ties by tag. Tags whose
    score is 0 (every weight taken back) are left out."""
    first, last = bucket_of(window_start(now)), bucket_of(now)
    scores: dict[str, float] = {}
    posts: dict[str, int] = {}
    for row in rows:
        if not first <= row.bucket <= last:
            continue
        scores[row.tag] = scores.get(row.tag, 0.0) + row.score * decay(row.bucket, now)
        posts[row.tag] = posts.get(row.tag, 0) + row.posts
    ranked = sorted((-score, tag) for tag, score in scores.items() if score > 0)
    return [
        TrendScore(tag=tag, score=-negated, post_count=posts[tag])
        for negated, tag in ranked[:limit]
    ]


class Candidate(msgspec.Struct, kw_only=True):
    """Someone the caller's followees follow."""

    user_id: str
    via: list[str]
    """Up to :data:`VIA_MAX` of those followees, the most recently followed first."""
    count: int
    """How many of the sampled followees follow them."""
    latest: float
    """The most recent of those follows."""


def friends_of_friends(edges: Iterable[FollowRecord], me: str) -> list[Candidate]:
    """The candidates of ``edges`` (follows by the caller's followees, in the
    order of :meth:`~actors.store.discovery.SuggestionStore.followed_by_followees`),
    most followees first, then the most recently followed, then by id; never
    the caller."""
    found: dict[str, Candidate] = {}
    for edge in edges:
        if edge.followee_id == me:
            continue
        candidate = found.get(edge.followee_id)
        if candidate is None:
            candidate = found[edge.followee_id] = Candidate(
                user_id=edge.followee_id, via=[], count=0, latest=edge.created_at
            )
        candidate.count += 1  # edges are unique: one per followee
        candidate.latest = max(candidate.latest, edge.created_at)
        if len(candidate.via) < VIA_MAX:
            candidate.via.append(edge.follower_id)
    return sorted(found.values(), key=lambda c: (-c.count, -c.latest, c.user_id))
