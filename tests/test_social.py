"""The social domain through its handlers, on both storage backends: follows,
posts, the home feed, likes, blocks, cursors and bad input. Threaded
comments and live updates are in ``test_social_threads.py``; over real
sockets and across nodes in ``test_social_live.py``."""

from __future__ import annotations

import asyncio
import base64
import pathlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from PIL import Image

from actors.feed import TIMELINE_SIZE
from actors.ids import new_id
from actors.store.media import MediaRecord
from actors.user import user_key
from protocol import limits
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import accounts, messaging
from protocol.messages import social as m
from server.context import Caller
from server.media.processing import blurhash_of
from tests.harness import Node, events, next_id, open_node
from tests.store.backends import BACKENDS, backend_context


@pytest.fixture(params=BACKENDS)
async def social(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> AsyncIterator[Node]:
    """A node without sockets on each storage backend."""
    async with backend_context(request.param, tmp_path) as backend:
        store = backend.new_store()
        await store.open()
        try:
            async with open_node(tmp_path, store=store) as node:
                yield node
        finally:
            await store.close()


async def refused(code: ErrorCode, call: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        await call
    assert caught.value.code is code, caught.value
    return caught.value


async def post(node: Node, caller: Caller, text: str = "hello", **fields: Any) -> m.PostView:
    fields.setdefault("client_key", f"k{next_id()}")
    return await node.send(caller, m.CreatePost, text=text, **fields)  # type: ignore[no-any-return]


async def profile(node: Node, viewer: Caller, user: Caller) -> accounts.UserProfile:
    return await node.call(viewer, accounts.GetProfile, user_id=user.user())  # type: ignore[no-any-return]


# ------------------------------------------------------------------ follows


async def test_follow_is_idempotent_and_counts_and_flags_follow(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    first = await social.call(ada, m.Follow, user_id=bob.user())
    again = await social.call(ada, m.Follow, user_id=bob.user())
    assert (first.changed, again.changed) == (True, False)
    assert again.user.followers_count == 1 and again.user.i_follow and not again.user.follows_me
    seen_by_bob = await profile(social, bob, ada)
    assert (seen_by_bob.following_count, seen_by_bob.follows_me, seen_by_bob.i_follow) == (
        1,
        True,
        False,
    )
    gone = await social.call(ada, m.Unfollow, user_id=bob.user())
    gone_again = await social.call(ada, m.Unfollow, user_id=bob.user())
    assert (gone.changed, gone_again.changed) == (True, False)
    assert gone_again.user.followers_count == 0 and not gone_again.user.i_follow


async def test_following_oneself_an_unknown_or_a_blocked_user_is_refused(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    await refused(ErrorCode.INVALID_FIELD, social.call(ada, m.Follow, user_id=ada.user()))
    await refused(ErrorCode.NOT_FOUND, social.call(ada, m.Follow, user_id="nobody"))
    await social.call(bob, accounts.BlockUser, user_id=ada.user())
    await refused(ErrorCode.NOT_FOUND, social.call(ada, m.Follow, user_id=bob.user()))
    await refused(ErrorCode.NOT_FOUND, social.call(bob, m.Follow, user_id=ada.user()))
    assert (await social.store.counts.recount_user(ada.user())).following_count == 0


async def test_counts_are_exact_under_concurrent_follows_with_retries(social: Node) -> None:
    users = [await social.user(f"user{i}") for i in range(6)]
    # Two sessions per user: the same pairs from several sessions at once.
    twins = []
    for i, user in enumerate(users):
        twin = social.caller()
        await social.call(twin, accounts.Login, login=f"user{i}", password="x" * 8)
        twins.append(twin)
        assert twin.user() == user.user()
    pairs = [(0, 1), (1, 0), (2, 1), (3, 1), (4, 5), (0, 5)]

    async def round_of(*requests: type[Any]) -> None:
        """Every pair at once, each request from both sessions and once more
        (a retry); with two request types, follows race unfollows."""
        await asyncio.gather(
            *(
                social.call(caller, request, user_id=users[b].user())
                for a, b in pairs
                for request in requests
                for caller in (users[a], twins[a], users[a])
            )
        )
        for user in users:
            stored = await social.store.users.get(user.user())
            recount = await social.store.counts.recount_user(user.user())
            assert stored is not None
            assert (stored.followers_count, stored.following_count) == (
                recount.followers_count,
                recount.following_count,
            )

    await round_of(m.Follow)
    await round_of(m.Unfollow)
    await round_of(m.Follow, m.Unfollow)  # either may win: the counts still match
    await round_of(m.Follow)
    assert (await social.store.counts.recount_user(users[1].user())).followers_count == 3


async def test_follower_and_following_pages_never_skip_nor_repeat(social: Node) -> None:
    star = await social.user("star")
    fans = [await social.user(f"fan{i}") for i in range(7)]
    for fan in fans:
        await social.call(fan, m.Follow, user_id=star.user())
    seen: list[str] = []
    cursor = None
    while True:
        page = await social.call(star, m.Followers, user_id=star.user(), cursor=cursor, limit=3)
        seen += [u.username for u in page.users]
        if page.next_cursor is None:
            break
        # A follow arriving meanwhile goes to the front, not into later pages.
        late = await social.user(f"late{len(seen)}")
        await social.call(late, m.Follow, user_id=star.user())
        cursor = page.next_cursor
    assert seen == [f"fan{i}" for i in reversed(range(7))]
    assert all(u.follows_me for u in page.users)
    following = await social.call(star, m.Following, user_id=fans[0].user())
    assert [u.username for u in following.users] == ["star"] and following.next_cursor is None


async def test_a_tampered_or_foreign_cursor_is_refused(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    for i in range(3):
        fan = await social.user(f"fan{i}")
        await social.call(fan, m.Follow, user_id=ada.user())
        await social.call(fan, m.Follow, user_id=bob.user())
    page = await social.call(ada, m.Followers, user_id=ada.user(), limit=1)
    cursor = page.next_cursor
    assert cursor is not None
    raw = bytearray(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    raw[3] ^= 1
    tampered = base64.urlsafe_b64encode(bytes(raw)).decode().rstrip("=")
    for bad in (tampered, "not a cursor!", cursor[:-2]):
        await refused(
            ErrorCode.INVALID_FIELD,
            social.call(ada, m.Followers, user_id=ada.user(), cursor=bad, limit=1),
        )
    # Another user's followers, another kind of list: not this list's cursor.
    await refused(
        ErrorCode.INVALID_FIELD, social.call(ada, m.Followers, user_id=bob.user(), cursor=cursor)
    )
    await refused(
        ErrorCode.INVALID_FIELD, social.call(ada, m.Following, user_id=ada.user(), cursor=cursor)
    )
    await refused(ErrorCode.INVALID_FIELD, social.call(ada, m.HomeFeed, cursor=cursor))
    ok = await social.call(ada, m.Followers, user_id=ada.user(), cursor=cursor, limit=1)
    assert len(ok.users) == 1


# -------------------------------------------------------------------- posts


async def uploaded(node: Node, owner: Caller, kind: str = "image") -> MediaRecord:
    """A finished upload of ``owner``, as the sidecar records one (the upload
    itself is tested over HTTP in ``test_media_upload.py``)."""
    media_id = new_id()
    record = MediaRecord(
        id=media_id,
        owner_id=owner.user(),
        kind=kind,
        mime="image/webp" if kind == "image" else "video/mp4",
        size=1000,
        # Each image's own (noise differs), so a mix-up between media shows.
        blurhash=blurhash_of(Image.effect_noise((8, 8), 64)) if kind == "image" else None,
        url=f"https://cdn.example/{media_id}/main",
        thumbnail_url=f"https://cdn.example/{media_id}/thumb" if kind == "image" else None,
        storage_key=media_id,
        uploaded_bytes=1000,
        created_at=time.time(),
    )
    await node.store.media.create(record)
    return record


async def test_a_post_keeps_its_tags_mentions_location_media_and_counts(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    photo, clip = await uploaded(social, ada), await uploaded(social, ada, "video")
    view = await post(
        social,
        ada,
        "Sunset with @Bob and @nobody_here #Beach #sun #beach",
        tags=["#Travel", "sun"],
        media_ids=[photo.id, clip.id],
        location={"latitude": 43.7, "longitude": 7.27, "place_name": "Nice"},
        visibility="public",
    )
    assert view.tags == ["beach", "sun", "travel"]
    assert view.mentions == [bob.user()]
    assert (view.media_urls, view.media_types) == ([photo.url, clip.url], ["image", "video"])
    assert photo.blurhash and view.media_blurhashes == [photo.blurhash, ""]
    attached = await social.store.media.get_many([photo.id, clip.id])
    assert {r.attached_to for r in attached.values()} == {f"post:{view.id}"}
    assert view.location == m.Location(latitude=43.7, longitude=7.27, place_name="Nice")
    assert (view.like_count, view.comment_count, view.liked_by_me) == (0, 0, False)
    assert view.author.posts_count == 1
    got = await social.call(bob, m.GetPost, post_id=view.id)
    assert got.text == view.text and got.created_at == view.created_at
    assert got.media_blurhashes == view.media_blurhashes  # as stored


async def test_a_retried_create_returns_the_original_post(social: Node) -> None:
    ada = await social.user("ada")
    first = await post(social, ada, "once", client_key="same")
    again = await post(social, ada, "once, retried", client_key="same")
    assert again.id == first.id and again.text == "once"
    assert (await social.store.users.get(ada.user())).posts_count == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "fields",
    [
        {"text": "x" * (limits.POST_TEXT_MAX + 1)},
        {"media_ids": [f"m{i}" for i in range(11)]},
        {"tags": [f"t{i}" for i in range(31)]},
        {"tags": ["two words"]},
        {"location": {"latitude": 91, "longitude": 0}},
        {"location": {"latitude": 0, "longitude": -180.5}},
        {"visibility": "friends"},
    ],
    ids=lambda f: next(iter(f)),
)
async def test_a_post_over_a_limit_is_refused_and_changes_nothing(
    node: Node, fields: dict[str, Any]
) -> None:
    ada = await node.user("ada")
    fields = {"text": "hi", "client_key": "k", **fields}
    await refused(ErrorCode.INVALID_FIELD, node.send(ada, m.CreatePost, **fields))
    assert (await node.store.users.get(ada.user())).posts_count == 0  # type: ignore[union-attr]


async def test_only_ones_own_unused_media_can_be_posted_and_a_delete_releases_them(
    social: Node,
) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    mine, theirs = await uploaded(social, ada), await uploaded(social, bob)
    for ids in ([theirs.id], [mine.id, theirs.id], ["missing"], [mine.id, mine.id]):
        with pytest.raises(ProtocolError) as caught:
            await post(social, ada, "x", media_ids=ids)
        assert caught.value.code in (ErrorCode.FORBIDDEN, ErrorCode.INVALID_FIELD)
    assert (await social.store.media.get(mine.id)).attached_to is None  # type: ignore[union-attr]
    assert (await social.store.users.get(ada.user())).posts_count == 0  # type: ignore[union-attr]
    used = await post(social, ada, "mine", media_ids=[mine.id])
    await refused(ErrorCode.FORBIDDEN, post(social, ada, "again", media_ids=[mine.id]))
    await social.send(ada, m.DeletePost, post_id=used.id)
    assert (await social.store.media.get(mine.id)).attached_to is None  # type: ignore[union-attr]
    # Released media go to the sweep, and may be used again meanwhile.
    again = await post(social, ada, "reposted", media_ids=[mine.id])
    assert again.media_urls == [mine.url]


async def test_avatars_and_messages_take_own_uploads(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    first, second = await uploaded(social, ada), await uploaded(social, ada)
    clip, theirs = await uploaded(social, ada, "video"), await uploaded(social, bob)
    me = await social.send(ada, accounts.UpdateProfile, avatar_media_id=first.id)
    assert me.avatar_url == first.thumbnail_url
    me = await social.send(ada, accounts.UpdateProfile, avatar_media_id=second.id)
    assert me.avatar_url == second.thumbnail_url
    got = await social.store.media.get_many([first.id, second.id])
    assert (got[first.id].attached_to, got[second.id].attached_to) == (None, f"avatar:{ada.user()}")
    for bad in (clip.id, theirs.id):
        await refused(
            ErrorCode.FORBIDDEN, social.send(ada, accounts.UpdateProfile, avatar_media_id=bad)
        )
    conv = await social.call(ada, messaging.OpenDirect, user_id=bob.user())
    sent = await social.send(
        ada, messaging.SendMessage, conversation_id=conv.id, client_key="k", media_id=first.id
    )
    history = await social.call(bob, messaging.History, conversation_id=conv.id)
    assert [(e.seq, e.media_url) for e in history.messages] == [(sent.seq, first.url)]
    await refused(
        ErrorCode.FORBIDDEN,
        social.send(
            ada, messaging.SendMessage, conversation_id=conv.id, client_key="k2", media_id=theirs.id
        ),
    )
    # A refused send (not a member) releases what it attached.
    eve = await social.user("eve")
    unused = await uploaded(social, eve)
    await refused(
        ErrorCode.NOT_FOUND,
        social.send(
            eve, messaging.SendMessage, conversation_id=conv.id, client_key="k", media_id=unused.id
        ),
    )
    assert (await social.store.media.get(unused.id)).attached_to is None  # type: ignore[union-attr]


async def test_hashtags_and_explicit_tags_together_are_capped(social: Node) -> None:
    ada = await social.user("ada")
    text = " ".join(f"#h{i}" for i in range(20))
    await refused(
        ErrorCode.INVALID_FIELD,
        post(social, ada, text, tags=[f"e{i}" for i in range(11)]),
    )
    ok = await post(social, ada, text, tags=[f"e{i}" for i in range(10)])
    assert len(ok.tags) == limits.POST_TAGS_MAX
    await refused(ErrorCode.INVALID_FIELD, social.send(ada, m.CreatePost, client_key="e"))


async def test_only_the_author_edits_or_deletes_and_counters_follow(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    view = await post(
        social, ada, "first #one", location={"latitude": 1, "longitude": 2, "place_name": "X"}
    )
    await refused(
        ErrorCode.FORBIDDEN, social.send(bob, m.EditPost, post_id=view.id, text="mine now")
    )
    await refused(ErrorCode.FORBIDDEN, social.send(bob, m.DeletePost, post_id=view.id))
    kept = await social.send(ada, m.EditPost, post_id=view.id, text="second #two", tags=["x"])
    assert (kept.text, kept.tags, kept.location) == ("second #two", ["two", "x"], view.location)
    assert kept.edited_at is not None and kept.created_at == view.created_at
    cleared = await social.send(ada, m.EditPost, post_id=view.id, text="third", clear_location=True)
    assert cleared.location is None and cleared.tags == []
    await social.call(bob, m.LikePost, post_id=view.id)
    await social.send(ada, m.DeletePost, post_id=view.id)
    await refused(ErrorCode.NOT_FOUND, social.call(bob, m.GetPost, post_id=view.id))
    await refused(ErrorCode.NOT_FOUND, social.call(bob, m.LikePost, post_id=view.id))
    await refused(ErrorCode.NOT_FOUND, social.send(ada, m.DeletePost, post_id=view.id))
    assert (await social.store.users.get(ada.user())).posts_count == 0  # type: ignore[union-attr]
    liked = await social.call(bob, m.LikedPosts, user_id=bob.user())
    assert liked.posts == []
    assert (await social.call(ada, m.UserPosts, user_id=ada.user())).posts == []


async def test_followers_only_posts_are_for_followers_and_the_author(social: Node) -> None:
    ada, fan, other = await social.user("ada"), await social.user("fan"), await social.user("x")
    await social.call(fan, m.Follow, user_id=ada.user())
    public = await post(social, ada, "for all")
    private = await post(social, ada, "for fans", visibility="followers")
    seen_by_fan = await social.call(fan, m.UserPosts, user_id=ada.user())
    seen_by_other = await social.call(other, m.UserPosts, user_id=ada.user())
    assert [p.id for p in seen_by_fan.posts] == [private.id, public.id]
    assert [p.id for p in seen_by_other.posts] == [public.id]
    await refused(ErrorCode.NOT_FOUND, social.call(other, m.GetPost, post_id=private.id))
    await refused(ErrorCode.NOT_FOUND, social.call(other, m.LikePost, post_id=private.id))
    assert (await social.call(ada, m.GetPost, post_id=private.id)).id == private.id


# ---------------------------------------------------------------- home feed


async def feed_ids(node: Node, caller: Caller, limit: int = 20) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        page = await node.call(caller, m.HomeFeed, cursor=cursor, limit=limit)
        ids += [p.id for p in page.posts]
        if page.next_cursor is None:
            return ids
        cursor = page.next_cursor


async def test_the_home_feed_holds_own_and_followed_posts_newest_first(social: Node) -> None:
    me, ada, bob, eve = [await social.user(n) for n in ("me", "ada", "bob", "eve")]
    for author in (ada, bob):
        await social.call(me, m.Follow, user_id=author.user())
    made = []
    for i, author in enumerate([ada, eve, me, bob, ada, eve]):
        made.append((author, await post(social, author, f"p{i}")))
    expected = [p.id for author, p in reversed(made) if author is not eve]
    assert await feed_ids(social, me, limit=2) == expected
    # Unfollowing drops the author from the (hot) feed at once.
    await social.call(me, m.Unfollow, user_id=ada.user())
    expected = [p.id for author, p in reversed(made) if author in (me, bob)]
    assert await feed_ids(social, me, limit=2) == expected


async def test_feed_pages_neither_skip_nor_repeat_while_posts_arrive(social: Node) -> None:
    me, ada = await social.user("me"), await social.user("ada")
    await social.call(me, m.Follow, user_id=ada.user())
    old = [(await post(social, ada, f"old{i}")).id for i in range(9)]
    seen: list[str] = []
    cursor = None
    while True:
        page = await social.call(me, m.HomeFeed, cursor=cursor, limit=4)
        seen += [p.id for p in page.posts]
        await post(social, ada, f"new{len(seen)}")
        if page.next_cursor is None:
            break
        cursor = page.next_cursor
    assert seen == list(reversed(old))


async def test_deleted_and_blocked_posts_leave_the_feed(social: Node) -> None:
    me, ada, bob = await social.user("me"), await social.user("ada"), await social.user("bob")
    for author in (ada, bob):
        await social.call(me, m.Follow, user_id=author.user())
    gone = await post(social, ada, "gone")
    kept = await post(social, ada, "kept")
    blocked = await post(social, bob, "blocked")
    assert await feed_ids(social, me) == [blocked.id, kept.id, gone.id]
    await social.send(ada, m.DeletePost, post_id=gone.id)
    await social.call(bob, accounts.BlockUser, user_id=me.user())
    assert await feed_ids(social, me) == [kept.id]
    await refused(ErrorCode.NOT_FOUND, social.call(me, m.GetPost, post_id=blocked.id))
    await refused(ErrorCode.NOT_FOUND, social.call(me, m.UserPosts, user_id=bob.user()))
    await refused(ErrorCode.NOT_FOUND, profile(social, me, bob))
    assert (await social.store.counts.recount_user(bob.user())).followers_count == 0


async def test_the_feed_continues_from_the_store_below_the_hot_timeline(node: Node) -> None:
    me, ada = await node.user("me"), await node.user("ada")
    await node.call(me, m.Follow, user_id=ada.user())
    total = TIMELINE_SIZE + 30
    made = await asyncio.gather(
        *(post(node, ada, f"p{i}", client_key=f"c{i}") for i in range(total))
    )
    ids = await feed_ids(node, me, limit=100)
    assert len(ids) == total and len(set(ids)) == total
    by_time = sorted(made, key=lambda p: (p.created_at, p.id), reverse=True)
    assert ids == [p.id for p in by_time]
    assert node.actor(user_key(me.user())).timeline is not None


async def test_a_new_post_reaches_online_followers_and_the_authors_other_sessions(
    social: Node,
) -> None:
    ada, fan, stranger = [await social.user(n) for n in ("ada", "fan", "stranger")]
    second = social.caller()
    await social.call(second, accounts.Login, login="ada", password="x" * 8)
    await social.call(fan, m.Follow, user_id=ada.user())
    await social.call(fan, m.HomeFeed)  # the fan's hot timeline exists now
    view = await post(social, ada, "news")
    await social.services.fanout.idle()
    await asyncio.sleep(0.05)
    pushed = [e for e in events(fan) if isinstance(e, m.PostNew)]
    assert [e.post.id for e in pushed] == [view.id]
    assert [e.post.id for e in events(second) if isinstance(e, m.PostNew)] == [view.id]
    assert not [e for e in events(ada) if isinstance(e, m.PostNew)]  # it got the reply
    assert not [e for e in events(stranger) if isinstance(e, m.PostNew)]
    assert (await social.call(fan, m.HomeFeed)).posts[0].id == view.id
    stats = social.services.fanout.stats
    assert (stats.posts, stats.followers_scanned, stats.pushed) == (1, 1, 2)


# -------------------------------------------------------------------- likes


async def test_likes_are_idempotent_and_show_as_liked_by_me(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("bob")
    view = await post(social, ada, "like me")
    results = await asyncio.gather(
        *(social.call(bob, m.LikePost, post_id=view.id) for _ in range(5))
    )
    assert sorted(r.changed for r in results) == [False] * 4 + [True]
    assert {r.like_count for r in results} == {1}
    assert (await social.call(bob, m.GetPost, post_id=view.id)).liked_by_me
    assert not (await social.call(ada, m.GetPost, post_id=view.id)).liked_by_me
    liked = await social.call(ada, m.LikedPosts, user_id=bob.user())
    assert [p.id for p in liked.posts] == [view.id] and liked.posts[0].liked_by_me is False
    unliked = await social.call(bob, m.UnlikePost, post_id=view.id)
    again = await social.call(bob, m.UnlikePost, post_id=view.id)
    assert (unliked.changed, unliked.like_count, again.changed) == (True, 0, False)
    counts = await social.store.counts.recount_post(view.id)
    assert counts is not None and counts.like_count == 0


async def test_search_hides_users_across_a_block(social: Node) -> None:
    ada, bob = await social.user("ada"), await social.user("adam")
    found = await social.call(bob, accounts.SearchUsers, query="ada")
    assert {u.username for u in found.users} == {"ada", "adam"}
    await social.call(ada, accounts.BlockUser, user_id=bob.user())
    found = await social.call(bob, accounts.SearchUsers, query="ada")
    assert [u.username for u in found.users] == ["adam"]


async def test_following_past_the_limit_is_forbidden(node: Node) -> None:
    """``FOLLOWING_MAX`` (the README's 7,500): the follow that would pass it
    is refused and changes nothing. The counter is set directly rather than
    made by 7,500 follows."""
    ada, bob = await node.user("ada"), await node.user("bob")

    def at_limit(conn: Any) -> None:
        conn.execute(
            "UPDATE users SET following_count = ? WHERE id = ?",
            (limits.FOLLOWING_MAX, ada.user()),
        )

    await node.store.db.write(at_limit)  # type: ignore[attr-defined]
    await refused(ErrorCode.FORBIDDEN, node.call(ada, m.Follow, user_id=bob.user()))
    assert (await node.store.counts.recount_user(bob.user())).followers_count == 0
