"""Handler of the search domain: ``search.query`` for users, posts and tags.

Reads only, handler → store. What a caller may see is decided by
:class:`~server.handlers.social_views.Viewer` (blocks either way,
followers-only posts), as everywhere in the social domain; pages and cursors
are :func:`~server.handlers.social_views.page_of` and
:class:`~server.cursors.Cursors`. Keyset lists (newest, by tag) put the
``(created_at, id)`` of the last post in the cursor; lists by rank (best,
nearest) put the position of the next result, bounded by
``SEARCH_DEPTH_MAX`` (a rank moves with every write, so it is no key).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from actors.store.accounts import UserRecord
from actors.store.search import normalise_tag, query_words, search_key
from actors.store.social import PageKey, PostRecord
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import search as m
from protocol.messages.social import PostView
from server.context import Caller, Handler, Services
from server.handlers.pages import fit
from server.handlers.social_views import Viewer, page_of, ranked_page

#: Candidates read per way of matching users (prefix, words), per result
#: asked: followed people are ranked first among these.
USER_CANDIDATES_PER_RESULT = 4


def _refused(message: str) -> ProtocolError:
    return ProtocolError(ErrorCode.INVALID_FIELD, message)


async def search(services: Services, caller: Caller, req: m.Search) -> m.SearchResults:
    viewer = Viewer(services.store, caller.user())
    if req.kind != "posts" and (req.tag is not None or req.near is not None):
        raise _refused("tag and near are for posts")
    if req.kind == "users":
        return await _users(viewer, req)
    if req.kind == "tags":
        return await _tags(services, req)
    return await _posts(services, viewer, req)


async def _users(viewer: Viewer, req: m.Search) -> m.SearchResults:
    """Prefix matches, then word matches, without repeats or blocked users;
    then (a stable sort) people the caller follows first."""
    if req.cursor is not None:
        raise _refused("a user search has no pages")
    query = req.query.strip()
    if not query:
        return m.SearchResults()
    users = viewer.store.users
    cap = req.limit * USER_CANDIDATES_PER_RESULT
    found: dict[str, UserRecord] = {}
    for user in await users.search_prefix(search_key(query), cap):
        found.setdefault(user.id, user)
    for user in await users.search_text(query, cap):
        found.setdefault(user.id, user)
    profiles = await viewer.profiles(await viewer.users(list(found.values())))
    profiles.sort(key=lambda profile: not profile.i_follow)
    shown, _ = fit(profiles[: req.limit])
    return m.SearchResults(users=shown)


async def _tags(services: Services, req: m.Search) -> m.SearchResults:
    if req.cursor is not None:
        raise _refused("a tag search has no pages")
    found = await services.store.post_search.tag_prefix(req.query, req.limit)
    return m.SearchResults(tags=[m.TagCount(tag=t.tag, post_count=t.post_count) for t in found])


async def _posts(services: Services, viewer: Viewer, req: m.Search) -> m.SearchResults:
    given = [
        name
        for name, on in (("query", req.query.strip()), ("tag", req.tag), ("near", req.near))
        if on
    ]
    if len(given) > 1:
        raise _refused(f"give one of query, tag and near, not {' and '.join(given)}")
    store, cursors = services.store.post_search, services.cursors
    if req.tag is not None:
        tag = normalise_tag(req.tag)
        scope = f"search:tag:{tag}"
        before = await cursors.decode(scope, req.cursor)
        rows = await store.by_tag(tag, before=before, limit=req.limit + 1)
        return await _keyset_page(services, viewer, scope, rows, req.limit)
    if req.near is not None:
        near = req.near
        hits: dict[str, float] = {}

        async def nearest(offset: int, limit: int) -> list[PostRecord]:
            found = await store.near(
                near.latitude, near.longitude, near.radius_km, offset=offset, limit=limit
            )
            hits.update((hit.post.id, hit.distance_km) for hit in found)
            return [hit.post for hit in found]

        scope = f"search:near:{near.latitude}:{near.longitude}:{near.radius_km}"
        page = await _ranked_page(services, viewer, scope, req, nearest)
        page.distances_km = [hits[post.id] for post in page.posts]
        return page
    words = " ".join(query_words(req.query))
    if not words:  # nothing to look for: nothing found, and the engine is not asked
        return m.SearchResults()
    if req.order == "newest":
        scope = f"search:newest:{words}"
        before = await cursors.decode(scope, req.cursor)
        rows = await store.text_newest(words, before=before, limit=req.limit + 1)
        return await _keyset_page(services, viewer, scope, rows, req.limit)

    async def best(offset: int, limit: int) -> list[PostRecord]:
        return await store.text_best(words, offset=offset, limit=limit)

    return await _ranked_page(services, viewer, f"search:best:{words}", req, best)


async def _keyset_page(
    services: Services, viewer: Viewer, scope: str, rows: Sequence[PostRecord], limit: int
) -> m.SearchResults:
    posts, next_cursor = await _page(services, viewer, scope, rows, limit, key=_post_key)
    return m.SearchResults(posts=posts, next_cursor=next_cursor)


async def _ranked_page(
    services: Services,
    viewer: Viewer,
    scope: str,
    req: m.Search,
    fetch: Callable[[int, int], Awaitable[list[PostRecord]]],
) -> m.SearchResults:
    async def views_of(rows: list[PostRecord]) -> list[PostView | None]:
        views = await viewer.post_views(rows)
        return [views.get(row.id) for row in rows]

    posts, next_cursor = await ranked_page(
        services.cursors, scope, req.cursor, limit=req.limit, fetch=fetch, views_of=views_of
    )
    return m.SearchResults(posts=posts, next_cursor=next_cursor)


async def _page(
    services: Services,
    viewer: Viewer,
    scope: str,
    rows: Sequence[PostRecord],
    limit: int,
    *,
    key: Callable[[PostRecord], PageKey],
) -> tuple[list[PostView], str | None]:
    views = await viewer.post_views(rows[:limit])
    return await page_of(
        services.cursors,
        scope,
        rows,
        limit=limit,
        key=key,
        views=[views.get(row.id) for row in rows],
    )


def _post_key(post: PostRecord) -> PageKey:
    return post.created_at, post.id


HANDLERS: dict[type, Handler] = {m.Search: search}
