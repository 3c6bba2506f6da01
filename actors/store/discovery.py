"""Storage ports of discovery: trending tags and suggested accounts.

Trends are kept incrementally, never recomputed by a scan of the posts: one
row per ``(tag, hour bucket)`` holds a score (the weights of the posts and
likes of that hour that carry the tag) and the number of posts. A request
reads the recent buckets' top rows and applies the decay
(:mod:`actors.discovery`); old buckets are pruned as time moves on.

Suggestions read the follow graph in bounded samples (the caller's most
recent followees, each one's most recent follows) and the users by
``followers_count``, served by an index on it.
"""

from __future__ import annotations

import math
from typing import Final, Protocol

import msgspec

from actors.store.accounts import UserRecord
from actors.store.social import FollowRecord

BUCKET_SECONDS: Final = 3600
"""Trend rows are per hour."""
WINDOW_BUCKETS: Final = 24
"""Trends cover the current hour and the 23 before it. A bump prunes the
rows older than that (once per hour per store, so it costs one range delete
an hour)."""


def bucket_of(at: float) -> int:
    """The hour bucket of a UNIX time: ``floor(at / BUCKET_SECONDS)``."""
    return math.floor(at / BUCKET_SECONDS)


PopularKey = tuple[int, str]
"""``(followers_count, id)`` of the last user of the previous page of
:meth:`SuggestionStore.popular`."""


class TagBucket(msgspec.Struct, kw_only=True):
    """A tag's activity in one hour: ``bucket`` is ``floor(unix time / 3600)``."""

    tag: str
    bucket: int
    score: float
    """The weights added (and taken off) in that hour, never below 0."""
    posts: int
    """Posts with the tag created in that hour (and not deleted since)."""


class TrendStore(Protocol):
    async def bump(self, tags: list[str], at: float, weight: float, posts: int = 0) -> None:
        """Add ``weight`` to the score and ``posts`` to the post count of each
        tag's row of the bucket of ``at``, creating the row when absent. A negative
        change takes off at most what the row holds (neither goes below 0)
        and creates no row: taking back what was never counted, or what was
        pruned, changes nothing. Each row's change is atomic: concurrent
        bumps all count. The first bump of a store in a new bucket also
        prunes the rows older than :data:`WINDOW_BUCKETS` before it."""

    async def top(self, since: float, *, per_bucket: int) -> list[TagBucket]:
        """The rows of buckets from that of ``since`` on, of the candidate tags: those
        among the ``per_bucket`` highest scores of at least one of these
        buckets. Bounded: at most ``per_bucket`` candidates per bucket, and
        only their rows, whatever the number of tags in use."""

    async def prune(self, before: float) -> int:
        """Delete the rows of buckets before that of ``before``; how many went."""


class SuggestionStore(Protocol):
    async def followed_by_followees(
        self, user_id: str, *, followees: int, per_followee: int
    ) -> list[FollowRecord]:
        """Friends of friends, sampled so that it stays bounded for someone
        who follows thousands: of the ``followees`` accounts ``user_id``
        followed most recently, the ``per_followee`` most recent follows of
        each, leaving out follows of ``user_id`` and of anyone ``user_id``
        follows (all of them, not only the sample). In the sample's order
        (the most recently followed first), each one's newest first."""

    async def popular(self, *, before: PopularKey | None, limit: int) -> list[UserRecord]:
        """Users with at least one follower, the most followed first (ties by
        id, descending), strictly after ``before``; an index range."""
