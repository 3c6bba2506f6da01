"""Records into views for one viewer, and the checks that hide what the viewer
may not see: blocks either way, followers-only posts, and moderation
(hidden posts and comments, suspended users). Every list is turned into
views with a fixed number of store reads, whatever its length.

This is the one place those rules are applied: every social list and
lookup goes through :class:`Viewer`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar

import msgspec

from actors.moderation import is_admin
from actors.social import author_view, comment_view, may_see, post_view
from actors.store import Store
from actors.store.accounts import UserRecord
from actors.store.social import CommentRecord, PageKey, PostRecord, ViewContext
from protocol import limits
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import accounts
from protocol.messages import social as m
from server.cursors import Cursors
from server.handlers.pages import fit

R = TypeVar("R")
V = TypeVar("V", bound=msgspec.Struct)


def _not_found(what: str) -> ProtocolError:
    return ProtocolError(ErrorCode.NOT_FOUND, f"no such {what}")


class Viewer:
    """What ``me`` may see, as views."""

    def __init__(self, store: Store, me: str) -> None:
        self.store = store
        self.me = me
        self.revealed: set[str] = set()
        """Hidden posts ``me`` asked for by id and may see (their author, an
        admin): :meth:`post` admits them, and the views made here show them.
        Lists never reveal a hidden post."""

    async def user(self, user_id: str) -> UserRecord:
        """The user, unless absent, suspended or a block stands between
        them: ``not_found``."""
        user = await self.store.users.get(user_id)
        if user is None or (
            user_id != self.me and (user.suspended or await self._blocked([user_id]))
        ):
            raise _not_found("user")
        return user

    async def post(self, post_id: str) -> PostRecord:
        """The post, unless absent, hidden by a block, followers-only for
        a non-follower, or hidden by moderation (but for its author and
        admins): ``not_found`` (the post's existence is not revealed)."""
        post = await self.store.posts.get(post_id)
        if post is not None and post.hidden and await self._may_review(post.user_id):
            self.revealed.add(post.id)
        if post is None or not await self.visible([post]):
            raise _not_found("post")
        return post

    async def comment(self, comment_id: str) -> CommentRecord:
        """A comment ``me`` may see (not deleted, not hidden, its author not
        blocked either way) on a post ``me`` may see: else ``not_found``."""
        comment = await self.store.comments.get(comment_id)
        if comment is None or comment.deleted:
            raise _not_found("comment")
        await self.post(comment.post_id)
        if comment.id not in await self.comment_views([comment]):
            raise _not_found("comment")
        return comment

    async def _may_review(self, author_id: str) -> bool:
        """Whether ``me`` may see a hidden item of ``author_id`` by id: its
        author or an admin (one read, only for hidden items)."""
        if author_id == self.me:
            return True
        return is_admin(await self.store.users.get(self.me))

    async def visible(self, posts: Sequence[PostRecord]) -> list[PostRecord]:
        """The posts ``me`` may see, in order (two reads at most)."""
        posts = [p for p in posts if not p.hidden or p.id in self.revealed]
        others = sorted({p.user_id for p in posts} - {self.me})
        blocked = await self._blocked(others)
        restricted = sorted({p.user_id for p in posts if p.visibility != "public"} - {self.me})
        following = (
            await self.store.follows.following_among(self.me, restricted) if restricted else set()
        )
        return [
            p
            for p in posts
            if p.user_id not in blocked and may_see(p, self.me, p.user_id in following)
        ]

    async def users(self, users: Sequence[UserRecord]) -> list[UserRecord]:
        """The users ``me`` may see (no block either way), in order (one read)."""
        blocked = await self._blocked(sorted({u.id for u in users} - {self.me}))
        return [u for u in users if u.id not in blocked]

    async def profiles(self, users: Sequence[UserRecord]) -> list[accounts.UserProfile]:
        """Profiles with ``i_follow`` and ``follows_me`` (two reads);
        suspended users are left out, and with them (see :meth:`authors`)
        their posts and comments from every list."""
        users = [u for u in users if not u.suspended or u.id == self.me]
        ids = sorted({u.id for u in users} - {self.me})
        i_follow = await self.store.follows.following_among(self.me, ids) if ids else set()
        follows_me = await self.store.follows.followers_among(self.me, ids) if ids else set()
        return [_profile(user, i_follow, follows_me) for user in users]

    async def visible_profiles(self, ids: Sequence[str]) -> dict[str, accounts.UserProfile]:
        """Profiles of the users ``me`` may see, by id: no block either way,
        not suspended (three reads whatever the number)."""
        users = await self.store.users.get_many(sorted(set(ids)))
        return {p.id: p for p in await self.profiles(await self.users(list(users.values())))}

    async def authors(self, ids: Sequence[str]) -> dict[str, accounts.UserProfile]:
        users = await self.store.users.get_many(sorted(set(ids)))
        return {view.id: view for view in await self.profiles(list(users.values()))}

    async def post_views(self, posts: Sequence[PostRecord]) -> dict[str, m.PostView]:
        """Views of the posts ``me`` may see, by id (the others are left out),
        from one :class:`~actors.store.social.ViewStore` read."""
        posts = [p for p in posts if not p.hidden or p.id in self.revealed]
        if not posts:
            return {}
        ctx = await self.store.views.context(
            self.me, [p.user_id for p in posts], "post", [p.id for p in posts]
        )
        authors = self._authors(ctx)
        return {
            p.id: post_view(p, authors[p.user_id], p.id in ctx.liked)
            for p in posts
            if p.user_id in authors and may_see(p, self.me, p.user_id in ctx.i_follow)
        }

    async def comment_views(self, comments: Sequence[CommentRecord]) -> dict[str, m.CommentView]:
        """Views of the comments whose authors ``me`` may see, by id; hidden
        comments are shown to nobody. One :class:`ViewStore` read."""
        comments = [c for c in comments if not c.hidden]
        if not comments:
            return {}
        ctx = await self.store.views.context(
            self.me, [c.user_id for c in comments], "comment", [c.id for c in comments]
        )
        authors = self._authors(ctx)
        return {
            c.id: comment_view(c, authors[c.user_id], c.id in ctx.liked)
            for c in comments
            if c.user_id in authors
        }

    def _authors(self, ctx: ViewContext) -> dict[str, accounts.UserProfile]:
        """The profiles of a page's authors ``me`` may see: not blocked either
        way, not suspended (unless it is ``me``)."""
        return {
            user_id: _profile(user, ctx.i_follow, ctx.follows_me)
            for user_id, user in ctx.users.items()
            if user_id not in ctx.blocked and (not user.suspended or user_id == self.me)
        }

    async def _blocked(self, others: list[str]) -> set[str]:
        return await self.store.blocks.blocked_among(self.me, others) if others else set()


def _profile(user: UserRecord, i_follow: set[str], follows_me: set[str]) -> accounts.UserProfile:
    view = author_view(user)
    view.i_follow = user.id in i_follow
    view.follows_me = user.id in follows_me
    return view


async def page_of(
    cursors: Cursors,
    scope: str,
    rows: Sequence[R],
    *,
    limit: int,
    key: Callable[[R], PageKey],
    views: Sequence[V | None],
) -> tuple[list[V], str | None]:
    """One page from ``rows`` (fetched with ``limit + 1``, so that one more
    than the page tells there is more) and their ``views`` (``None``: hidden).
    The cursor is the key of the last row the page covers, hidden rows
    included, so paging never shows a row twice nor skips one; a page cut
    short by the reply budget ends at its last view."""
    more = len(rows) > limit
    rows, views = rows[:limit], views[:limit]
    kept = [(key(row), view) for row, view in zip(rows, views, strict=True) if view is not None]
    fitted, cut = fit([view for _, view in kept])
    if cut:
        last: PageKey | None = kept[len(fitted) - 1][0]
    elif more and rows:
        last = key(rows[-1])
    else:
        last = None
    return fitted, (await cursors.encode(scope, last) if last is not None else None)


async def ranked_page(
    cursors: Cursors,
    scope: str,
    cursor: str | None,
    *,
    limit: int,
    fetch: Callable[[int, int], Awaitable[list[R]]],
    views_of: Callable[[list[R]], Awaitable[list[V | None]]],
) -> tuple[list[V], str | None]:
    """A page of a list by rank (a search's best matches) from the cursor's
    position: ``fetch(offset, limit)`` reads the results, ``views_of`` makes
    the views of the page's rows (``None``: hidden), in order. The cursor
    holds the position of the next result, not a key, since a rank moves
    with every write; one more result than the page tells there is more,
    unless the page reaches ``SEARCH_DEPTH_MAX``, where the list ends."""
    position = await cursors.decode(scope, cursor)
    offset = 0 if position is None else int(position[0])
    room = limits.SEARCH_DEPTH_MAX - offset
    if room <= 0:
        return [], None
    limit = min(limit, room)
    rows = await fetch(offset, limit + 1 if limit < room else limit)
    views = await views_of(rows[:limit])
    return await page_of(
        cursors,
        scope,
        list(enumerate(rows, start=offset + 1)),
        limit=limit,
        key=lambda placed: (float(placed[0]), ""),
        views=views,
    )
