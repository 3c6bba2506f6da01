"""Handlers of threaded comments: create (top-level or a reply at any depth),
edit, delete (a comment with replies stays as a tombstone), list a level of
the thread, like. Each change is told to the post's actor, which pushes it to
the sessions watching the post."""

from __future__ import annotations

import time

from actors.ids import new_id
from actors.social import Broadcast, CountsChanged, post_key
from actors.store import Conflict
from actors.store.social import CommentRecord
from protocol.codec import encode_event_body
from protocol.errors import ErrorCode, ProtocolError
from protocol.frames import Empty
from protocol.messages import social as m
from server.context import Caller, Handler, Services
from server.handlers.notices import notify, unnotify
from server.handlers.social import mentions
from server.handlers.social_views import Viewer, page_of


def _not_found() -> ProtocolError:
    return ProtocolError(ErrorCode.NOT_FOUND, "no such comment")


async def _comment(viewer: Viewer, comment_id: str) -> CommentRecord:
    """A comment the viewer may see on a post they may see, not deleted."""
    return await viewer.comment(comment_id)


async def _view(viewer: Viewer, comment: CommentRecord) -> m.CommentView:
    views = await viewer.comment_views([comment])
    if comment.id not in views:
        raise _not_found()
    return views[comment.id]


async def create_comment(services: Services, caller: Caller, req: m.CreateComment) -> m.CommentView:
    store, viewer = services.store, Viewer(services.store, caller.user())
    post = await viewer.post(req.post_id)
    parent = None
    if req.parent_comment_id is not None:
        parent = await _comment(viewer, req.parent_comment_id)
        if parent.post_id != req.post_id:
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such comment on this post")
    comment = CommentRecord(
        id=new_id(),
        post_id=req.post_id,
        user_id=viewer.me,
        parent_comment_id=req.parent_comment_id,
        text=req.text,
        client_key=req.client_key,
        created_at=time.time(),
    )
    try:
        created = await store.comments.create(comment)
    except Conflict as exc:
        if exc.field != "client_key":
            raise
        original = await store.comments.get_by_client_key(req.post_id, viewer.me, req.client_key)
        if original is None:
            raise _not_found() from None
        return await _view(viewer, original)
    if created is None:  # the post or the parent went meanwhile
        raise _not_found()
    view = await _view(viewer, comment)
    body = encode_event_body(m.CommentNew(comment=view))
    key = post_key(req.post_id)
    services.actors.tell(key, Broadcast(body, viewer.me, caller.ref))
    services.actors.tell(key, CountsChanged())
    await _notify_comment(services, viewer, comment, post.user_id, parent)
    return view


async def _notify_comment(
    services: Services,
    viewer: Viewer,
    comment: CommentRecord,
    post_author: str,
    parent: CommentRecord | None,
) -> None:
    """The post's author hears of a comment, the parent's author of a reply
    (once: a reply to the post author's own comment is a reply), and the
    ``@usernames`` of the text of a mention."""
    fields = {"post_id": comment.post_id, "comment_id": comment.id, "text": comment.text}
    if parent is not None:
        notify(services, parent.user_id, "reply", parent.id, viewer.me, **fields)
    if parent is None or parent.user_id != post_author:
        notify(services, post_author, "comment", comment.post_id, viewer.me, **fields)
    for mentioned in await mentions(viewer, comment.text):
        notify(services, mentioned, "mention", comment.id, viewer.me, **fields)


async def edit_comment(services: Services, caller: Caller, req: m.EditComment) -> m.CommentView:
    viewer = Viewer(services.store, caller.user())
    comment = await _comment(viewer, req.comment_id)
    if comment.user_id != viewer.me:
        raise ProtocolError(ErrorCode.FORBIDDEN, "only its author may edit a comment")
    edited = await services.store.comments.edit(req.comment_id, req.text, time.time())
    if edited is None:
        raise _not_found()
    view = await _view(viewer, edited)
    body = encode_event_body(m.CommentUpdated(comment=view))
    services.actors.tell(post_key(edited.post_id), Broadcast(body, viewer.me, caller.ref))
    return view


async def delete_comment(services: Services, caller: Caller, req: m.DeleteComment) -> Empty:
    """By the comment's author, or by the author of the post it is on."""
    store, viewer = services.store, Viewer(services.store, caller.user())
    comment = await _comment(viewer, req.comment_id)
    if comment.user_id != viewer.me:
        post = await store.posts.get(comment.post_id)
        if post is None or post.user_id != viewer.me:
            raise ProtocolError(
                ErrorCode.FORBIDDEN, "only its author or the post's author may delete a comment"
            )
    deletion = await store.comments.delete(req.comment_id)
    if deletion is None:
        raise _not_found()
    event = m.CommentDeleted(
        post_id=comment.post_id, comment_id=comment.id, tombstone=deletion.tombstone
    )
    key = post_key(comment.post_id)
    services.actors.tell(key, Broadcast(encode_event_body(event), viewer.me, caller.ref))
    services.actors.tell(key, CountsChanged())
    return Empty()


async def list_comments(services: Services, caller: Caller, req: m.ListComments) -> m.CommentPage:
    store, viewer = services.store, Viewer(services.store, caller.user())
    await viewer.post(req.post_id)
    if req.parent_comment_id is not None:
        parent = await store.comments.get(req.parent_comment_id)
        if parent is None or parent.post_id != req.post_id:
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such comment on this post")
    scope = f"comments:{req.post_id}:{req.parent_comment_id or ''}"
    after = await services.cursors.decode(scope, req.cursor)
    rows = await store.comments.list(
        req.post_id, req.parent_comment_id, after=after, limit=req.limit + 1
    )
    views = await viewer.comment_views(rows[: req.limit])
    comments, next_cursor = await page_of(
        services.cursors,
        scope,
        rows,
        limit=req.limit,
        key=lambda row: (row.created_at, row.id),
        views=[views.get(row.id) for row in rows],
    )
    return m.CommentPage(comments=comments, next_cursor=next_cursor)


async def like_comment(services: Services, caller: Caller, req: m.LikeComment) -> m.LikeResult:
    return await _like(services, caller, req.comment_id, like=True)


async def unlike_comment(services: Services, caller: Caller, req: m.UnlikeComment) -> m.LikeResult:
    return await _like(services, caller, req.comment_id, like=False)


async def _like(services: Services, caller: Caller, comment_id: str, like: bool) -> m.LikeResult:
    viewer = Viewer(services.store, caller.user())
    comment = await _comment(viewer, comment_id)
    likes = services.store.likes
    if like:
        result = await likes.like(viewer.me, "comment", comment_id, time.time())
    else:
        result = await likes.unlike(viewer.me, "comment", comment_id)
    if result is None:
        raise _not_found()
    if result.changed and like:
        notify(
            services,
            comment.user_id,
            "like_comment",
            comment_id,
            viewer.me,
            post_id=comment.post_id,
            comment_id=comment_id,
        )
    elif result.changed:
        unnotify(services, comment.user_id, "like_comment", comment_id, viewer.me)
    return m.LikeResult(changed=result.changed, like_count=result.like_count)


HANDLERS: dict[type, Handler] = {
    m.CreateComment: create_comment,
    m.EditComment: edit_comment,
    m.DeleteComment: delete_comment,
    m.ListComments: list_comments,
    m.LikeComment: like_comment,
    m.UnlikeComment: unlike_comment,
}
