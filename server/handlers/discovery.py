"""Handlers of discovery: trending tags and suggested accounts, and the trend
hooks the social handlers call after a write that changed something.

Trends are kept incrementally (:mod:`actors.store.discovery`): a public post
adds :data:`~actors.discovery.POST_WEIGHT` to each of its tags in the hour it
was posted, a like or unlike adds or takes :data:`~actors.discovery.LIKE_WEIGHT`
in the hour it happens, a delete takes the post's own weight back from its
hour, and an edit moves it from the tags it lost to the tags it gained. A
request reads only the window's leaders (:meth:`TrendStore.top`), never the
posts.
"""

from __future__ import annotations

import logging
import time

from actors.discovery import (
    CANDIDATES_PER_BUCKET,
    LIKE_WEIGHT,
    POST_WEIGHT,
    SAMPLE_FOLLOWEES,
    SAMPLE_FOLLOWS,
    Candidate,
    counts,
    friends_of_friends,
    rank_trends,
    window_start,
)
from actors.store.accounts import UserRecord
from actors.store.discovery import PopularKey
from actors.store.social import PostRecord
from protocol.messages import discovery as m
from server.context import Caller, Handler, Services
from server.handlers.pages import fit
from server.handlers.social_views import Viewer

log = logging.getLogger(__name__)

POPULAR_ROUNDS = 4
"""Pages of the most followed users read to fill a reply, at most: someone
who follows most of the top accounts gets fewer suggestions, not a long scan."""
FOF_CHECKED = 500
"""Friends-of-friends candidates checked for blocks and existence, best
first: far more than a reply holds."""

# -------------------------------------------------------------------- hooks


async def _bump(
    services: Services, tags: list[str], at: float, weight: float, posts: int = 0
) -> None:
    """A trend change that must not fail the committed write it follows: a
    trend is a statistic, and an error here would make the client retry a
    write that already happened. Logged instead."""
    if not tags:
        return
    try:
        await services.store.trends.bump(tags, at, weight, posts)
    except Exception:  # a trend must not fail a committed write (see the docstring)
        log.exception("trend bump of %d tags failed", len(tags))


async def post_created(services: Services, post: PostRecord) -> None:
    if counts(post):
        await _bump(services, post.tags, post.created_at, POST_WEIGHT, 1)


async def post_edited(services: Services, old: PostRecord, new: PostRecord) -> None:
    """The post's weight moves from the tags it lost to those it gained, in
    the hour it was posted (its likes stay where they were counted)."""
    if old.visibility != "public":
        return
    lost = [tag for tag in old.tags if tag not in new.tags]
    gained = [tag for tag in new.tags if tag not in old.tags]
    await _bump(services, lost, old.created_at, -POST_WEIGHT, -1)
    await _bump(services, gained, new.created_at, POST_WEIGHT, 1)


async def post_deleted(services: Services, post: PostRecord) -> None:
    """The post's own weight is taken back from the hour it was posted, so
    posting and deleting cannot push a tag; its likes are left to decay (when
    each was counted is not known, and they fade within the window anyway)."""
    if counts(post):
        await _bump(services, post.tags, post.created_at, -POST_WEIGHT, -1)


async def post_liked(services: Services, post: PostRecord, liked: bool, at: float) -> None:
    """A like adds its weight in the hour it happens; an unlike takes it from
    the current hour (at most what that hour holds), so a like undone within
    the hour cancels exactly and an older one is left to decay."""
    if counts(post):
        await _bump(services, post.tags, at, LIKE_WEIGHT if liked else -LIKE_WEIGHT)


# ----------------------------------------------------------------- requests


async def trend_tags(services: Services, caller: Caller, req: m.TrendTags) -> m.TrendingTags:
    caller.user()
    now = time.time()
    rows = await services.store.trends.top(window_start(now), per_bucket=CANDIDATES_PER_BUCKET)
    ranked = rank_trends(rows, now, req.limit)
    return m.TrendingTags(
        tags=[
            m.TrendingTag(tag=t.tag, score=round(t.score, 4), post_count_24h=t.post_count)
            for t in ranked
        ]
    )


async def suggest_users(services: Services, caller: Caller, req: m.SuggestUsers) -> m.Suggestions:
    """Friends of friends (a bounded sample, see :mod:`actors.discovery`),
    then the most followed; never the caller, someone the caller follows, or
    someone with a block either way."""
    me = caller.user()
    store, viewer = services.store, Viewer(services.store, me)
    edges = await store.suggestions.followed_by_followees(
        me, followees=SAMPLE_FOLLOWEES, per_followee=SAMPLE_FOLLOWS
    )
    ranked = friends_of_friends(edges, me)[:FOF_CHECKED]
    ids = [c.user_id for c in ranked]
    blocked = await store.blocks.blocked_among(me, ids) if ids else set()
    ranked = [c for c in ranked if c.user_id not in blocked][: req.limit]
    users = await store.users.get_many([c.user_id for c in ranked])
    chosen: list[tuple[UserRecord, Candidate | None]] = [
        (users[c.user_id], c) for c in ranked if c.user_id in users
    ]
    if len(chosen) < req.limit:
        taken = {me, *(user.id for user, _ in chosen)}
        wanted = req.limit - len(chosen)
        chosen += [(user, None) for user in await _popular(services, me, taken, wanted)]
    via = await store.users.get_many(sorted({v for _, c in chosen if c for v in c.via}))
    profiles = {
        p.id: p for p in await viewer.profiles([user for user, _ in chosen] + list(via.values()))
    }
    items = [
        m.Suggestion(
            user=profiles[user.id],
            reason="followed_by" if c is not None else "popular",
            followed_by=[profiles[v] for v in c.via if v in profiles] if c is not None else [],
            followed_by_count=c.count if c is not None else 0,
        )
        for user, c in chosen
    ]
    shown, _ = fit(items)
    return m.Suggestions(users=shown)


async def _popular(services: Services, me: str, taken: set[str], wanted: int) -> list[UserRecord]:
    """Up to ``wanted`` of the most followed users that are not ``taken``
    (the caller and those already chosen), not followed by the caller and
    without a block either way; a few index pages at most."""
    store = services.store
    found: list[UserRecord] = []
    before: PopularKey | None = None
    page = wanted * 2 + 10
    for _ in range(POPULAR_ROUNDS):
        users = await store.suggestions.popular(before=before, limit=page)
        ids = [u.id for u in users if u.id not in taken]
        followed = await store.follows.following_among(me, ids) if ids else set()
        blocked = await store.blocks.blocked_among(me, ids) if ids else set()
        keep = set(ids) - followed - blocked
        found += [u for u in users if u.id in keep]
        if len(found) >= wanted or len(users) < page:
            break
        last = users[-1]
        before = (last.followers_count, last.id)
    return found[:wanted]


HANDLERS: dict[type, Handler] = {
    m.TrendTags: trend_tags,
    m.SuggestUsers: suggest_users,
}
