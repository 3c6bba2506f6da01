"""Threaded comments and live updates of watched posts, through the handlers
on both storage backends (see ``test_social.py`` for the fixture)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from actors.social import COUNTS_INTERVAL, post_key
from protocol import limits
from protocol.errors import ErrorCode
from protocol.messages import accounts
from protocol.messages import social as m
from server.context import Caller
from tests.harness import Node, events, next_id
from tests.test_social import post, refused, social

__all__ = ["social"]  # the fixture, shared


async def comment(
    node: Node, caller: Caller, post_id: str, text: str = "nice", **fields: Any
) -> m.CommentView:
    fields.setdefault("client_key", f"c{next_id()}")
    return await node.send(  # type: ignore[no-any-return]
        caller, m.CreateComment, post_id=post_id, text=text, **fields
    )


async def comment_count(node: Node, caller: Caller, post_id: str) -> int:
    view = await node.call(caller, m.GetPost, post_id=post_id)
    counts = await node.store.counts.recount_post(post_id)
    assert counts is not None and counts.comment_count == view.comment_count
    return view.comment_count  # type: ignore[no-any-return]


# ----------------------------------------------------------------- comments


async def test_threads_list_by_level_with_reply_counts(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    target = await post(social, ada, "thread")
    top = [await comment(social, bob, target.id, f"top{i}") for i in range(3)]
    reply = await comment(social, ada, target.id, "reply", parent_comment_id=top[0].id)
    deep = await comment(social, bob, target.id, "deeper", parent_comment_id=reply.id)
    assert deep.parent_comment_id == reply.id
    page = await social.call(bob, m.ListComments, post_id=target.id, limit=2)
    assert [c.text for c in page.comments] == ["top0", "top1"]
    assert page.comments[0].reply_count == 1
    rest = await social.call(
        bob, m.ListComments, post_id=target.id, limit=2, cursor=page.next_cursor
    )
    assert [c.text for c in rest.comments] == ["top2"] and rest.next_cursor is None
    replies = await social.call(ada, m.ListComments, post_id=target.id, parent_comment_id=reply.id)
    assert [c.id for c in replies.comments] == [deep.id]
    assert await comment_count(social, ada, target.id) == 5
    # A cursor of one level is not one of another.
    await refused(
        ErrorCode.INVALID_FIELD,
        social.call(
            bob,
            m.ListComments,
            post_id=target.id,
            parent_comment_id=top[0].id,
            cursor=page.next_cursor,
        ),
    )


async def test_a_retried_comment_is_the_original(social: Node) -> None:
    ada = await social.user("ada")
    target = await post(social, ada, "p")
    first = await comment(social, ada, target.id, "one", client_key="same")
    again = await comment(social, ada, target.id, "one again", client_key="same")
    assert again.id == first.id and again.text == "one"
    assert await comment_count(social, ada, target.id) == 1


async def test_a_deleted_comment_with_replies_stays_as_a_tombstone(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    target = await post(social, ada, "p")
    parent = await comment(social, bob, target.id, "parent")
    child = await comment(social, ada, target.id, "child", parent_comment_id=parent.id)
    lonely = await comment(social, bob, target.id, "lonely")
    await social.call(bob, m.DeleteComment, comment_id=parent.id)
    listed = await social.call(ada, m.ListComments, post_id=target.id)
    assert [(c.id, c.deleted, c.text) for c in listed.comments] == [
        (parent.id, True, ""),
        (lonely.id, False, "lonely"),
    ]
    assert listed.comments[0].reply_count == 1
    assert await comment_count(social, ada, target.id) == 2
    # The post's author may delete anyone's comment; a reply to a deleted
    # comment, an edit or a second delete of it are refused.
    await social.call(ada, m.DeleteComment, comment_id=lonely.id)
    await refused(ErrorCode.NOT_FOUND, social.call(ada, m.DeleteComment, comment_id=lonely.id))
    await refused(
        ErrorCode.NOT_FOUND, comment(social, ada, target.id, "x", parent_comment_id=parent.id)
    )
    await refused(
        ErrorCode.NOT_FOUND, social.send(bob, m.EditComment, comment_id=parent.id, text="x")
    )
    assert await comment_count(social, ada, target.id) == 1
    assert [c.id for c in (await social.call(ada, m.ListComments, post_id=target.id)).comments] == [
        parent.id
    ]
    assert child.parent_comment_id == parent.id


async def test_only_authors_edit_and_delete_comments(social: Node) -> None:
    ada, bob, eve = await social.user("ada"), await social.user("bob"), await social.user("eve")
    target = await post(social, ada, "p")
    mine = await comment(social, bob, target.id, "bob's")
    await refused(
        ErrorCode.FORBIDDEN, social.send(eve, m.EditComment, comment_id=mine.id, text="eve")
    )
    await refused(
        ErrorCode.FORBIDDEN, social.send(ada, m.EditComment, comment_id=mine.id, text="ada")
    )
    await refused(ErrorCode.FORBIDDEN, social.call(eve, m.DeleteComment, comment_id=mine.id))
    edited = await social.send(bob, m.EditComment, comment_id=mine.id, text="bob's, edited")
    assert edited.text == "bob's, edited" and edited.edited_at is not None


async def test_a_reply_to_a_comment_of_another_post_is_refused(social: Node) -> None:
    ada = await social.user("ada")
    one, two = await post(social, ada, "one"), await post(social, ada, "two")
    elsewhere = await comment(social, ada, one.id)
    await refused(ErrorCode.NOT_FOUND, comment(social, ada, two.id, parent_comment_id=elsewhere.id))
    await refused(
        ErrorCode.NOT_FOUND,
        social.call(ada, m.ListComments, post_id=two.id, parent_comment_id=elsewhere.id),
    )
    assert await comment_count(social, ada, two.id) == 0


async def test_comment_likes_and_blocked_commenters(social: Node) -> None:
    ada, bob, eve = await social.user("ada"), await social.user("bob"), await social.user("eve")
    target = await post(social, ada, "p")
    by_bob = await comment(social, bob, target.id, "bob")
    by_eve = await comment(social, eve, target.id, "eve")
    first = await social.call(ada, m.LikeComment, comment_id=by_bob.id)
    again = await social.call(ada, m.LikeComment, comment_id=by_bob.id)
    assert (first.changed, again.changed, again.like_count) == (True, False, 1)
    listed = await social.call(ada, m.ListComments, post_id=target.id)
    assert [(c.text, c.liked_by_me, c.like_count) for c in listed.comments] == [
        ("bob", True, 1),
        ("eve", False, 0),
    ]
    await social.call(eve, accounts.BlockUser, user_id=bob.user())
    seen_by_bob = await social.call(bob, m.ListComments, post_id=target.id)
    assert [c.text for c in seen_by_bob.comments] == ["bob"]
    await refused(ErrorCode.NOT_FOUND, social.call(bob, m.LikeComment, comment_id=by_eve.id))
    await refused(ErrorCode.NOT_FOUND, comment(social, bob, target.id, parent_comment_id=by_eve.id))
    await social.call(bob, m.DeleteComment, comment_id=by_bob.id)
    await refused(ErrorCode.NOT_FOUND, social.call(ada, m.LikeComment, comment_id=by_bob.id))


# ----------------------------------------------------------------- watching


def live(caller: Caller) -> list[Any]:
    return [e for e in events(caller) if not isinstance(e, m.PostNew)]


async def settle() -> None:
    await asyncio.sleep(0.05)


async def test_watchers_get_comments_edits_counts_and_deletion(social: Node) -> None:
    ada, bob, eve = await social.user("ada"), await social.user("bob"), await social.user("eve")
    target = await post(social, ada, "watched")
    for watcher in (ada, eve):
        reply = await social.call(watcher, m.WatchPosts, post_ids=[target.id])
        assert reply.post_ids == [target.id]
    said = await comment(social, bob, target.id, "hi")
    await social.send(bob, m.EditComment, comment_id=said.id, text="hello")
    await social.call(bob, m.LikePost, post_id=target.id)
    await social.send(ada, m.EditPost, post_id=target.id, text="watched, edited")
    await social.call(bob, m.DeleteComment, comment_id=said.id)
    await asyncio.sleep(COUNTS_INTERVAL + 0.2)
    seen = live(eve)
    kinds = [type(e) for e in seen]
    assert kinds[:3] == [m.CommentNew, m.PostCounts, m.CommentUpdated]
    assert m.PostUpdated in kinds and m.CommentDeleted in kinds
    counts = [e for e in seen if isinstance(e, m.PostCounts)]
    # Coalesced: the first change at once, the rest in one event a second later.
    assert len(counts) == 2
    assert (counts[-1].like_count, counts[-1].comment_count) == (1, 0)
    # The editor's own session got no copy of its edit (it has the reply).
    assert m.PostUpdated not in [type(e) for e in live(ada)]
    await social.send(ada, m.DeletePost, post_id=target.id)
    await settle()
    assert isinstance(live(eve)[-1], m.PostDeleted)
    assert (
        not social.services.actors.is_active(post_key(target.id))
        or not social.actor(post_key(target.id)).watchers
    )


async def test_unwatch_logout_and_session_end_stop_the_updates(social: Node) -> None:
    ada, eve = await social.user("ada"), await social.user("eve")
    target = await post(social, ada, "watched")
    await social.call(eve, m.WatchPosts, post_ids=[target.id])
    left = await social.call(eve, m.UnwatchPosts, post_ids=[target.id])
    assert left.post_ids == []
    await comment(social, ada, target.id, "unseen")
    await settle()
    assert live(eve) == []
    key = post_key(target.id)
    await social.call(eve, m.WatchPosts, post_ids=[target.id])
    assert list(social.actor(key).watchers) == [eve.ref]
    await social.call(eve, accounts.Logout)
    await settle()
    assert eve.session.watching is None and not social.services.actors.is_active(key)
    again = social.caller()
    await social.call(again, accounts.Login, login="eve", password="x" * 8)
    await social.call(again, m.WatchPosts, post_ids=[target.id])
    assert list(social.actor(key).watchers) == [again.ref]
    social.sessions.end(again.session)  # what expiry does
    await settle()
    assert not social.services.actors.is_active(key)


async def test_watching_more_than_the_limit_or_hidden_posts_is_refused(social: Node) -> None:
    ada, eve = await social.user("ada"), await social.user("eve")
    posts = [await post(social, ada, f"p{i}") for i in range(limits.WATCH_MAX + 1)]
    ids = [p.id for p in posts]
    await refused(ErrorCode.INVALID_FIELD, social.send(eve, m.WatchPosts, post_ids=ids))
    await social.call(eve, m.WatchPosts, post_ids=ids[:40])
    await refused(ErrorCode.FORBIDDEN, social.call(eve, m.WatchPosts, post_ids=ids[40:]))
    assert len((await social.call(eve, m.WatchPosts, post_ids=ids[:2])).post_ids) == 40
    private = await post(social, ada, "fans only", visibility="followers")
    await refused(ErrorCode.NOT_FOUND, social.call(eve, m.WatchPosts, post_ids=[private.id]))
    await refused(ErrorCode.NOT_FOUND, social.call(eve, m.WatchPosts, post_ids=["missing"]))
    assert len(eve.session.watching or ()) == 40


@pytest.mark.parametrize("blocker", ["watcher", "commenter"])
async def test_a_watcher_gets_nothing_from_a_blocked_commenter(social: Node, blocker: str) -> None:
    ada, bob, eve = await social.user("ada"), await social.user("bob"), await social.user("eve")
    target = await post(social, ada, "p")
    await social.call(eve, m.WatchPosts, post_ids=[target.id])
    if blocker == "watcher":
        await social.call(eve, accounts.BlockUser, user_id=bob.user())
    else:
        await social.call(bob, accounts.BlockUser, user_id=eve.user())
    await comment(social, bob, target.id, "hidden")
    await comment(social, ada, target.id, "shown")
    await settle()
    assert [e.comment.text for e in live(eve) if isinstance(e, m.CommentNew)] == ["shown"]
