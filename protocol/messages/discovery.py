"""Discovery: trending tags and suggested accounts, one request each.

Trends count public posts and the likes of public posts over the last 24
hours, recent activity weighing more (halved every 6 hours); followers-only
posts never trend. Suggestions never include the caller, anyone the caller
follows, or anyone with a block either way.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from protocol.frames import Event, Request
from protocol.messages.accounts import UserProfile

TRENDS_MAX = 50
"""Tags one ``trend.tags`` may ask for."""
SUGGESTIONS_MAX = 50
"""Accounts one ``suggestion.users`` may ask for."""


class TrendingTag(msgspec.Struct, kw_only=True):
    tag: str
    """Lower-case, without ``#``: what ``post.create`` stores."""
    score: float
    """Decayed activity: a post weighs 1 and a like 0.25 when new, half of
    that 6 hours later. Only the order is meant for display."""
    post_count_24h: int
    """Public posts with the tag in the last 24 hours, not decayed."""


class TrendingTags(msgspec.Struct, kw_only=True):
    tags: list[TrendingTag]
    """Highest score first."""


class Suggestion(msgspec.Struct, kw_only=True):
    """An account to follow, and why."""

    user: UserProfile
    reason: Literal["followed_by", "popular"]
    """``followed_by``: accounts the caller follows follow them; ``popular``:
    among the most followed accounts."""
    followed_by: list[UserProfile] = []
    """For ``followed_by``: up to 3 of the accounts the caller follows that
    follow them, the most recently followed first."""
    followed_by_count: int = 0
    """For ``followed_by``: how many accounts the caller follows follow them,
    counted among the caller's 200 most recent follows (so "ada, bob and 12
    others" may undercount for someone who follows thousands)."""


class Suggestions(msgspec.Struct, kw_only=True):
    users: list[Suggestion]
    """Friends of friends first (most shared followees first), then popular
    accounts (most followers first); fewer than asked when there are no more,
    or when more would pass ``MAX_REPLY_BYTES``."""


class TrendTags(Request, tag="trend.tags", kw_only=True):
    """The tags trending now: the most posts and likes of public posts in the
    last 24 hours, decayed by age."""

    limit: Annotated[int, Meta(ge=1, le=TRENDS_MAX)] = 10

    reply = TrendingTags


class SuggestUsers(Request, tag="suggestion.users", kw_only=True):
    """Accounts the caller may want to follow: those followed by the people
    the caller follows, then the most followed ones."""

    limit: Annotated[int, Meta(ge=1, le=SUGGESTIONS_MAX)] = 20

    reply = Suggestions


REQUESTS: tuple[type[Request], ...] = (TrendTags, SuggestUsers)
EVENTS: tuple[type[Event], ...] = ()
