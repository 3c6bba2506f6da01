"""Handlers of the social domain: follows, posts, feeds, likes and watching
posts (comments are in :mod:`server.handlers.comments`).

Writes go to the store, whose port methods keep rows and counters in one
consistency boundary; the actors are then told what changed: the author's
followers through the fan-out (``post.new``), the watchers of a post through
its PostActor, and a follower's UserActor that its hot timeline is stale.
Reads are handler → store, through :class:`~server.handlers.social_views.Viewer`,
which hides what blocks and visibility hide.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import msgspec

from actors.errors import ActorError
from actors.ids import new_id
from actors.social import (
    Broadcast,
    CountsChanged,
    Gone,
    Unwatch,
    Watch,
    geo_point,
    mentioned_usernames,
    normalise_tags,
    post_key,
)
from actors.store import Conflict
from actors.store.social import FollowRecord, LikeRecord, PageKey, PostEdit, PostRecord
from actors.user import FollowsChanged, HomeSlice, user_key
from protocol import limits
from protocol.codec import encode_event_body
from protocol.errors import ErrorCode, ProtocolError
from protocol.frames import Empty
from protocol.messages import social as m
from server.context import Caller, Handler, Services
from server.handlers import attachments, discovery
from server.handlers.notices import notify, unnotify
from server.handlers.social_views import Viewer, page_of

# ------------------------------------------------------------------ follows


async def follow(services: Services, caller: Caller, req: m.Follow) -> m.FollowResult:
    me = caller.user()
    if req.user_id == me:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "you cannot follow yourself")
    store, viewer = services.store, Viewer(services.store, me)
    await viewer.user(req.user_id)
    account = await store.users.get(me)
    if account is not None and account.following_count >= limits.FOLLOWING_MAX:
        raise ProtocolError(
            ErrorCode.FORBIDDEN, f"you already follow {limits.FOLLOWING_MAX} accounts"
        )
    changed = await store.follows.follow(me, req.user_id, time.time())
    if changed:
        notify(services, req.user_id, "follow", req.user_id, me)
    return await _follow_result(services, viewer, req.user_id, changed)


async def unfollow(services: Services, caller: Caller, req: m.Unfollow) -> m.FollowResult:
    me = caller.user()
    viewer = Viewer(services.store, me)
    await viewer.user(req.user_id)
    changed = await services.store.follows.unfollow(me, req.user_id)
    if changed:
        unnotify(services, req.user_id, "follow", req.user_id, me)
    return await _follow_result(services, viewer, req.user_id, changed)


async def _follow_result(
    services: Services, viewer: Viewer, other: str, changed: bool
) -> m.FollowResult:
    if changed:
        services.actors.tell(user_key(viewer.me), FollowsChanged())
    # Read again for the counts this write changed; the caller already
    # checked the user is there and not behind a block.
    user = await services.store.users.get(other)
    if user is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such user")
    [profile] = await viewer.profiles([user])
    return m.FollowResult(changed=changed, user=profile)


async def followers(services: Services, caller: Caller, req: m.Followers) -> m.UserPage:
    return await _follow_page(services, caller, req, "followers")


async def following(services: Services, caller: Caller, req: m.Following) -> m.UserPage:
    return await _follow_page(services, caller, req, "following")


async def _follow_page(
    services: Services, caller: Caller, req: m.Followers | m.Following, side: str
) -> m.UserPage:
    user_id, cursor, limit = req.user_id, req.cursor, req.limit
    store, viewer = services.store, Viewer(services.store, caller.user())
    await viewer.user(user_id)
    scope = f"{side}:{user_id}"
    before = await services.cursors.decode(scope, cursor)
    if side == "followers":
        rows = await store.follows.followers(user_id, before=before, limit=limit + 1)
    else:
        rows = await store.follows.following(user_id, before=before, limit=limit + 1)

    def other(row: FollowRecord) -> str:
        return row.follower_id if side == "followers" else row.followee_id

    ids = [other(row) for row in rows]
    blocked = await store.blocks.blocked_among(viewer.me, sorted(set(ids) - {viewer.me}))
    users = await store.users.get_many([i for i in ids if i not in blocked])
    profiles = {p.id: p for p in await viewer.profiles(list(users.values()))}
    views = [profiles.get(i) for i in ids]
    shown, next_cursor = await page_of(
        services.cursors,
        scope,
        rows,
        limit=limit,
        key=lambda row: (row.created_at, other(row)),
        views=views,
    )
    return m.UserPage(users=shown, next_cursor=next_cursor)


# -------------------------------------------------------------------- posts


async def create_post(services: Services, caller: Caller, req: m.CreatePost) -> m.PostView:
    me = caller.user()
    if not req.text.strip() and not req.media_ids:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "a post needs text or media")
    store, viewer = services.store, Viewer(services.store, me)
    tags = normalise_tags(req.text, list(req.tags))
    original = await store.posts.get_by_client_key(me, req.client_key)
    if original is not None:  # a retry: its media are the original's
        return await _view(viewer, original)
    post_id = new_id()
    target = attachments.post_target(post_id)
    media = await attachments.attach(services, me, list(req.media_ids), target)
    post = PostRecord(
        id=post_id,
        user_id=me,
        text=req.text,
        media_urls=[record.url for record in media],
        media_types=[record.kind for record in media],
        media_blurhashes=[record.blurhash or "" for record in media],
        tags=tags,
        mentions=await mentions(viewer, req.text),
        location=geo_point(req.location),
        visibility=req.visibility,
        client_key=req.client_key,
        created_at=time.time(),
    )
    try:
        await store.posts.create(post)
    except Conflict as exc:
        await attachments.release(services, target)
        if exc.field != "client_key":
            raise
        original = await store.posts.get_by_client_key(me, req.client_key)
        if original is None:  # deleted since: the key stays spent
            raise ProtocolError(ErrorCode.NOT_FOUND, "that post was deleted") from None
        return await _view(viewer, original)
    except Exception:
        await attachments.release(services, target)
        raise
    await discovery.post_created(services, post)
    view = await _view(viewer, post)
    body = encode_event_body(m.PostNew(post=view))
    services.fanout.publish(me, post.id, post.created_at, body, caller.ref)
    for mentioned in post.mentions:
        notify(services, mentioned, "mention", post.id, me, post_id=post.id, text=post.text)
    return view


async def mentions(viewer: Viewer, text: str) -> list[str]:
    """The ids of the text's ``@usernames`` that exist and have no block with the viewer."""
    names = mentioned_usernames(text)
    if not names:
        return []
    users = await viewer.store.users.get_many_by_username(names)
    ids = [users[name].id for name in names if name in users]
    blocked = await viewer.store.blocks.blocked_among(viewer.me, ids)
    return [i for i in ids if i not in blocked]


async def _view(viewer: Viewer, post: PostRecord) -> m.PostView:
    views = await viewer.post_views([post])
    if post.id not in views:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such post")
    return views[post.id]


async def _own_post(viewer: Viewer, post_id: str) -> PostRecord:
    post = await viewer.post(post_id)
    if post.user_id != viewer.me:
        raise ProtocolError(ErrorCode.FORBIDDEN, "only its author may change a post")
    return post


async def edit_post(services: Services, caller: Caller, req: m.EditPost) -> m.PostView:
    viewer = Viewer(services.store, caller.user())
    old = await _own_post(viewer, req.post_id)
    edit = PostEdit(
        text=req.text,
        tags=normalise_tags(req.text, list(req.tags)),
        mentions=await mentions(viewer, req.text),
        set_location=req.clear_location or req.location is not None,
        location=None if req.clear_location else geo_point(req.location),
        edited_at=time.time(),
    )
    post = await services.store.posts.edit(req.post_id, viewer.me, edit)
    if post is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such post")
    await discovery.post_edited(services, old, post)
    view = await _view(viewer, post)
    # One body for every watcher: nobody's like shows in it.
    shared = msgspec.structs.replace(view, liked_by_me=False)
    body = encode_event_body(m.PostUpdated(post=shared))
    services.actors.tell(post_key(post.id), Broadcast(body, viewer.me, caller.ref))
    return view


async def delete_post(services: Services, caller: Caller, req: m.DeletePost) -> Empty:
    viewer = Viewer(services.store, caller.user())
    await _own_post(viewer, req.post_id)
    deleted = await services.store.posts.delete(req.post_id, viewer.me)
    if deleted is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such post")
    await discovery.post_deleted(services, deleted)
    await attachments.release(services, attachments.post_target(req.post_id))
    body = encode_event_body(m.PostDeleted(post_id=req.post_id))
    services.actors.tell(post_key(req.post_id), Gone(body))
    return Empty()


async def get_post(services: Services, caller: Caller, req: m.GetPost) -> m.PostView:
    viewer = Viewer(services.store, caller.user())
    return await _view(viewer, await viewer.post(req.post_id))


async def user_posts(services: Services, caller: Caller, req: m.UserPosts) -> m.PostPage:
    viewer = Viewer(services.store, caller.user())
    await viewer.user(req.user_id)
    scope = f"posts:{req.user_id}"
    before = await services.cursors.decode(scope, req.cursor)
    rows = await services.store.posts.by_author(req.user_id, before=before, limit=req.limit + 1)
    return await _post_page(services, viewer, scope, rows, req.limit)


async def _post_page(
    services: Services, viewer: Viewer, scope: str, rows: list[PostRecord], limit: int
) -> m.PostPage:
    views = await viewer.post_views(rows[:limit])
    posts, next_cursor = await page_of(
        services.cursors,
        scope,
        rows,
        limit=limit,
        key=_post_key,
        views=[views.get(row.id) for row in rows],
    )
    return m.PostPage(posts=posts, next_cursor=next_cursor)


def _post_key(post: PostRecord) -> PageKey:
    return post.created_at, post.id


async def liked_posts(services: Services, caller: Caller, req: m.LikedPosts) -> m.PostPage:
    viewer = Viewer(services.store, caller.user())
    await viewer.user(req.user_id)
    scope = f"liked:{req.user_id}"
    before = await services.cursors.decode(scope, req.cursor)
    likes = await services.store.likes.liked_posts(req.user_id, before=before, limit=req.limit + 1)
    found = await services.store.posts.get_many([like.target_id for like in likes[: req.limit]])
    views = await viewer.post_views(list(found.values()))

    def key(like: LikeRecord) -> PageKey:
        return like.created_at, like.target_id

    posts, next_cursor = await page_of(
        services.cursors,
        scope,
        likes,
        limit=req.limit,
        key=key,
        views=[views.get(like.target_id) for like in likes],
    )
    return m.PostPage(posts=posts, next_cursor=next_cursor)


async def home_feed(services: Services, caller: Caller, req: m.HomeFeed) -> m.PostPage:
    """From the user's hot timeline while the page is in it, else from the
    store by the same keyset rule (see :mod:`actors.feed`)."""
    me = caller.user()
    viewer = Viewer(services.store, me)
    scope = f"home:{me}"
    before = await services.cursors.decode(scope, req.cursor)
    hot = await services.actors.ask(user_key(me), HomeSlice(before=before, limit=req.limit + 1))
    if hot.entries is None:
        rows = await services.store.posts.by_authors(
            hot.authors, before=before, limit=req.limit + 1
        )
        return await _post_page(services, viewer, scope, rows, req.limit)
    entries = hot.entries
    found = await services.store.posts.get_many([pid for _, pid in entries[: req.limit]])
    views = await viewer.post_views(list(found.values()))
    posts, next_cursor = await page_of(
        services.cursors,
        scope,
        entries,
        limit=req.limit,
        key=lambda entry: entry,
        views=[views.get(pid) for _, pid in entries],
    )
    return m.PostPage(posts=posts, next_cursor=next_cursor)


# -------------------------------------------------------------------- likes


async def like_post(services: Services, caller: Caller, req: m.LikePost) -> m.LikeResult:
    return await _like_post(services, caller, req.post_id, like=True)


async def unlike_post(services: Services, caller: Caller, req: m.UnlikePost) -> m.LikeResult:
    return await _like_post(services, caller, req.post_id, like=False)


async def _like_post(services: Services, caller: Caller, post_id: str, like: bool) -> m.LikeResult:
    viewer = Viewer(services.store, caller.user())
    post = await viewer.post(post_id)
    likes, at = services.store.likes, time.time()
    if like:
        result = await likes.like(viewer.me, "post", post_id, at)
    else:
        result = await likes.unlike(viewer.me, "post", post_id)
    if result is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such post")
    if result.changed:
        await discovery.post_liked(services, post, like, at)
        services.actors.tell(post_key(post_id), CountsChanged())
        if like:
            notify(services, post.user_id, "like_post", post_id, viewer.me, post_id=post_id)
        else:
            unnotify(services, post.user_id, "like_post", post_id, viewer.me)
    return m.LikeResult(changed=result.changed, like_count=result.like_count)


# ----------------------------------------------------------------- watching


async def watch_posts(services: Services, caller: Caller, req: m.WatchPosts) -> m.Watching:
    me = caller.user()
    session = caller.session
    watching = session.watching or set()
    new = sorted(set(req.post_ids) - watching)
    if len(watching) + len(new) > limits.WATCH_MAX:
        raise ProtocolError(
            ErrorCode.FORBIDDEN, f"a session watches at most {limits.WATCH_MAX} posts"
        )
    viewer = Viewer(services.store, me)
    found = await services.store.posts.get_many(new)
    visible = await viewer.visible(list(found.values()))
    if len(visible) != len(new):
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such post")
    await asyncio.gather(
        *(services.actors.ask(post_key(pid), Watch(caller.ref, me)) for pid in new)
    )
    if session.user_id == me:  # not logged out meanwhile
        watching.update(new)
        session.watching = watching
    return m.Watching(post_ids=sorted(watching))


async def unwatch_posts(services: Services, caller: Caller, req: m.UnwatchPosts) -> m.Watching:
    caller.user()
    watching = caller.session.watching or set()
    for post_id in set(req.post_ids) & watching:
        watching.discard(post_id)
        with contextlib.suppress(ActorError):  # the watcher goes with the session anyway
            services.actors.tell(post_key(post_id), Unwatch(caller.ref))
    return m.Watching(post_ids=sorted(watching))


HANDLERS: dict[type, Handler] = {
    m.Follow: follow,
    m.Unfollow: unfollow,
    m.Followers: followers,
    m.Following: following,
    m.CreatePost: create_post,
    m.EditPost: edit_post,
    m.DeletePost: delete_post,
    m.GetPost: get_post,
    m.UserPosts: user_posts,
    m.LikedPosts: liked_posts,
    m.HomeFeed: home_feed,
    m.LikePost: like_post,
    m.UnlikePost: unlike_post,
    m.WatchPosts: watch_posts,
    m.UnwatchPosts: unwatch_posts,
}
