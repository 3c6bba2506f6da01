"""Contract of the social ports (follows, posts, comments, likes, counters,
keys) and of the accounts additions they rely on, run against every backend
(see ``tests/store/backends.py``)."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

from actors.ids import new_id
from actors.store import Conflict, Store
from actors.store.accounts import UserRecord
from actors.store.social import (
    CommentCounts,
    CommentRecord,
    FollowRecord,
    GeoPoint,
    LikeRecord,
    PageKey,
    PostCounts,
    PostEdit,
    PostRecord,
    UserCounts,
)
from server.storage import SqliteStore
from tests.store.backends import Backend
from tests.store.records import T0, make_comment, make_post, make_user

T = TypeVar("T")

# --------------------------------------------------------------------------- helpers


async def new_users(store: Store, count: int, prefix: str = "user") -> list[UserRecord]:
    users = [make_user(f"{prefix}{i:03d}") for i in range(count)]
    await asyncio.gather(*(store.users.create(user) for user in users))
    return users


async def counts_of(store: Store, user_id: str) -> UserCounts:
    user = await store.users.get(user_id)
    assert user is not None
    return UserCounts(
        followers_count=user.followers_count,
        following_count=user.following_count,
        posts_count=user.posts_count,
    )


async def assert_counters_exact(
    store: Store,
    user_ids: list[str],
    post_ids: tuple[str, ...] | list[str] = (),
    comment_ids: tuple[str, ...] | list[str] = (),
) -> None:
    """Every stored counter equals its recount from the rows."""
    for user_id in user_ids:
        assert await counts_of(store, user_id) == await store.counts.recount_user(user_id)
    for post_id in post_ids:
        post = await store.posts.get(post_id)
        assert post is not None
        assert PostCounts(
            like_count=post.like_count, comment_count=post.comment_count
        ) == await store.counts.recount_post(post_id)
    for comment_id in comment_ids:
        comment = await store.comments.get(comment_id)
        assert comment is not None
        assert CommentCounts(
            reply_count=comment.reply_count, like_count=comment.like_count
        ) == await store.counts.recount_comment(comment_id)


async def walk(
    page: Callable[[PageKey | None], Awaitable[list[T]]], key: Callable[[T], PageKey]
) -> list[T]:
    """Every item of a keyset-paged list, page after page until an empty one."""
    items: list[T] = []
    cursor: PageKey | None = None
    for _ in range(1000):
        got = await page(cursor)
        if not got:
            return items
        items += got
        cursor = key(got[-1])
    raise AssertionError("paging never ended")


def post_key(post: PostRecord) -> PageKey:
    return (post.created_at, post.id)


def newest_first(posts: list[PostRecord]) -> list[str]:
    return [p.id for p in sorted(posts, key=post_key, reverse=True)]


def ids(items: list[PostRecord] | list[CommentRecord]) -> list[str]:
    return [item.id for item in items]


async def corrupt(backend: Backend, store: Store, target: tuple[str, str, str], value: int) -> None:
    """Set the counter ``target`` (table or collection, row id, field) behind
    the store's back, as a crash or a bug might."""
    table, row_id, field = target
    if backend.name == "sqlite":
        assert isinstance(store, SqliteStore)
        sql = {
            ("users", "followers_count"): "UPDATE users SET followers_count = ? WHERE id = ?",
            ("posts", "like_count"): "UPDATE posts SET like_count = ? WHERE id = ?",
            ("comments", "reply_count"): "UPDATE comments SET reply_count = ? WHERE id = ?",
        }[(table, field)]

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(sql, (value, row_id))

        await store.db.write(job)
    elif backend.name == "mongo":
        await backend.mongo_db[table].update_one({"_id": row_id}, {"$set": {field: value}})
    else:
        raise AssertionError(backend.name)


# --------------------------------------------------------------------------- follows


async def test_follow_and_unfollow_are_idempotent_and_keep_counters(store: Store) -> None:
    ann, ben = await new_users(store, 2)

    assert await store.follows.follow(ann.id, ben.id, T0) is True
    assert await store.follows.follow(ann.id, ben.id, T0 + 5) is False
    assert await counts_of(store, ann.id) == UserCounts(
        followers_count=0, following_count=1, posts_count=0
    )
    assert await counts_of(store, ben.id) == UserCounts(
        followers_count=1, following_count=0, posts_count=0
    )
    # The repeated follow kept the first time.
    assert await store.follows.followers(ben.id, before=None, limit=10) == [
        FollowRecord(follower_id=ann.id, followee_id=ben.id, created_at=T0)
    ]

    assert await store.follows.unfollow(ann.id, ben.id) is True
    assert await store.follows.unfollow(ann.id, ben.id) is False
    assert await store.follows.unfollow(ben.id, ann.id) is False
    zero = UserCounts(followers_count=0, following_count=0, posts_count=0)
    assert await counts_of(store, ann.id) == zero
    assert await counts_of(store, ben.id) == zero
    await assert_counters_exact(store, [ann.id, ben.id])


async def test_follow_pages_are_newest_first_and_keyset_paging_neither_skips_nor_repeats(
    store: Store,
) -> None:
    star, *fans = await new_users(store, 8)
    times = [T0, T0, T0, T0 + 1, T0 + 1, T0 + 2, T0 + 3]  # ties on created_at
    for fan, at in zip(fans, times, strict=True):
        await store.follows.follow(fan.id, star.id, at)
        await store.follows.follow(star.id, fan.id, at)
    expected = [
        fan.id
        for fan, _ in sorted(
            zip(fans, times, strict=True), key=lambda p: (p[1], p[0].id), reverse=True
        )
    ]

    followers = await walk(
        lambda before: store.follows.followers(star.id, before=before, limit=2),
        lambda f: (f.created_at, f.follower_id),
    )
    assert [f.follower_id for f in followers] == expected
    assert all(f.followee_id == star.id for f in followers)
    following = await walk(
        lambda before: store.follows.following(star.id, before=before, limit=3),
        lambda f: (f.created_at, f.followee_id),
    )
    assert [f.followee_id for f in following] == expected

    # A follow arriving between two pages does not shift the next page.
    first = await store.follows.followers(star.id, before=None, limit=2)
    late = make_user("latecomer")
    await store.users.create(late)
    await store.follows.follow(late.id, star.id, T0 + 100)
    rest = await walk(
        lambda before: store.follows.followers(
            star.id, before=before or (first[-1].created_at, first[-1].follower_id), limit=2
        ),
        lambda f: (f.created_at, f.follower_id),
    )
    assert [f.follower_id for f in first + rest] == expected
    assert await store.follows.followers(star.id, before=None, limit=0) == []


async def test_among_queries_and_id_lists(store: Store) -> None:
    me, *others = await new_users(store, 6)
    a, b, c, d, e = others
    await store.follows.follow(me.id, a.id, T0)
    await store.follows.follow(me.id, b.id, T0)
    await store.follows.follow(c.id, me.id, T0)
    await store.follows.follow(b.id, me.id, T0)
    await store.follows.follow(d.id, e.id, T0)  # unrelated

    everyone = [u.id for u in others] + [new_id()]
    assert await store.follows.following_among(me.id, everyone) == {a.id, b.id}
    assert await store.follows.followers_among(me.id, everyone) == {b.id, c.id}
    assert await store.follows.following_among(me.id, []) == set()
    assert await store.follows.followers_among(me.id, []) == set()
    assert set(await store.follows.following_ids(me.id, 10)) == {a.id, b.id}
    assert len(await store.follows.following_ids(me.id, 1)) == 1
    assert await store.follows.following_ids(e.id, 10) == []


async def test_follower_ids_walk_by_id_in_bounded_batches(store: Store) -> None:
    star, *fans = await new_users(store, 26)
    for fan in fans:
        await store.follows.follow(fan.id, star.id, T0 + random.random())

    seen: list[str] = []
    after: str | None = None
    while batch := await store.follows.follower_ids(star.id, after=after, limit=10):
        assert len(batch) <= 10
        seen += batch
        after = batch[-1]
    assert seen == sorted(fan.id for fan in fans)
    assert await store.follows.follower_ids(fans[0].id, after=None, limit=10) == []


# --------------------------------------------------------------------------- posts


async def test_post_round_trips_and_counts_on_its_author(store: Store) -> None:
    (author,) = await new_users(store, 1)
    post = PostRecord(
        id=new_id(),
        user_id=author.id,
        text="hello #World @bob",
        media_urls=["https://img.example/1.webp", "https://img.example/2.mp4"],
        media_types=["image", "video"],
        media_blurhashes=["LEHV6nWB2yk8pyo0adR*.7kCMdnj", ""],
        tags=["world"],
        mentions=[new_id()],
        location=GeoPoint(latitude=48.85, longitude=2.35, place_name="Paris"),
        visibility="followers",
        client_key="k1",
        created_at=T0 + 0.25,
    )
    bare = make_post(author.id, at=T0 + 1)
    await store.posts.create(post)
    await store.posts.create(bare)

    assert await store.posts.get(post.id) == post
    assert await store.posts.get(bare.id) == bare
    assert await store.posts.get(new_id()) is None
    assert await store.posts.get_many([post.id, new_id(), bare.id]) == {
        post.id: post,
        bare.id: bare,
    }
    assert await store.posts.get_many([]) == {}
    assert await store.posts.get_by_client_key(author.id, "k1") == post
    assert await store.posts.get_by_client_key(author.id, "k2") is None
    assert await store.posts.get_by_client_key(new_id(), "k1") is None
    assert (await counts_of(store, author.id)).posts_count == 2


async def test_post_conflicts_change_nothing(store: Store) -> None:
    ann, ben = await new_users(store, 2)
    original = make_post(ann.id, client_key="same", text="first")
    await store.posts.create(original)

    clash = make_post(ann.id, client_key="same", text="retry")
    with pytest.raises(Conflict) as caught:
        await store.posts.create(clash)
    assert caught.value.field == "client_key"
    assert await store.posts.get(clash.id) is None
    assert await store.posts.get_by_client_key(ann.id, "same") == original
    assert (await counts_of(store, ann.id)).posts_count == 1

    taken = make_post(ben.id, text="stolen id")
    taken.id = original.id
    with pytest.raises(Conflict) as caught:
        await store.posts.create(taken)
    assert caught.value.field == "id"
    assert await store.posts.get(original.id) == original
    assert (await counts_of(store, ben.id)).posts_count == 0

    # The key is per author; posts without a key never clash.
    await store.posts.create(make_post(ben.id, client_key="same"))
    await store.posts.create(make_post(ann.id))
    await store.posts.create(make_post(ann.id))
    await assert_counters_exact(store, [ann.id, ben.id])


async def test_post_edit_only_by_its_author_and_location_set_unset_kept(store: Store) -> None:
    ann, ben = await new_users(store, 2)
    paris = GeoPoint(latitude=48.85, longitude=2.35, place_name="Paris")
    post = make_post(ann.id, text="old #a", tags=["a"], location=paris)
    # An edit changes no media: they stay as created.
    post.media_urls, post.media_types = ["https://img.example/1.webp"], ["image"]
    post.media_blurhashes = ["LEHV6nWB2yk8pyo0adR*.7kCMdnj"]
    await store.posts.create(post)

    edit = PostEdit(text="new #b @x", tags=["b"], mentions=["x"], edited_at=T0 + 10)
    assert await store.posts.edit(post.id, ben.id, edit) is None
    assert await store.posts.edit(new_id(), ann.id, edit) is None
    assert await store.posts.get(post.id) == post

    edited = await store.posts.edit(post.id, ann.id, edit)
    assert edited is not None
    assert (edited.text, edited.tags, edited.mentions, edited.edited_at) == (
        "new #b @x",
        ["b"],
        ["x"],
        T0 + 10,
    )
    assert edited.location == paris  # set_location false: kept
    assert (edited.media_urls, edited.media_types, edited.media_blurhashes) == (
        post.media_urls,
        post.media_types,
        post.media_blurhashes,
    )
    assert (edited.id, edited.user_id, edited.created_at) == (post.id, ann.id, post.created_at)
    assert await store.posts.get(post.id) == edited

    rome = GeoPoint(latitude=41.9, longitude=12.5)
    moved = await store.posts.edit(
        post.id,
        ann.id,
        PostEdit(
            text="t", tags=[], mentions=[], set_location=True, location=rome, edited_at=T0 + 11
        ),
    )
    assert moved is not None and moved.location == rome
    removed = await store.posts.edit(
        post.id,
        ann.id,
        PostEdit(
            text="t", tags=[], mentions=[], set_location=True, location=None, edited_at=T0 + 12
        ),
    )
    assert removed is not None and removed.location is None
    assert await store.posts.get(post.id) == removed


async def test_post_delete_only_by_author_takes_comments_and_likes_along(store: Store) -> None:
    author, fan, other = await new_users(store, 3)
    post = make_post(author.id, at=T0)
    kept = make_post(author.id, at=T0 + 1)
    for p in (post, kept):
        await store.posts.create(p)
    top = make_comment(post.id, fan.id, at=T0 + 1)
    reply = make_comment(post.id, other.id, parent=top.id, at=T0 + 2)
    second = make_comment(post.id, author.id, at=T0 + 3)
    elsewhere = make_comment(kept.id, fan.id, at=T0 + 4)
    for c in (top, reply, second, elsewhere):
        assert await store.comments.create(c) is not None
    for user in (fan, other):
        await store.likes.like(user.id, "post", post.id, T0 + 5)
        await store.likes.like(user.id, "comment", top.id, T0 + 5)
    await store.likes.like(fan.id, "comment", reply.id, T0 + 5)
    await store.likes.like(fan.id, "post", kept.id, T0 + 6)
    await store.likes.like(fan.id, "comment", elsewhere.id, T0 + 6)
    before = await store.posts.get(post.id)
    assert before is not None and (before.like_count, before.comment_count) == (2, 3)

    assert await store.posts.delete(post.id, fan.id) is None
    assert await store.posts.get(post.id) == before

    assert await store.posts.delete(post.id, author.id) == before
    assert await store.posts.delete(post.id, author.id) is None
    assert await store.posts.get(post.id) is None
    assert await store.comments.get_many([top.id, reply.id, second.id]) == {}
    assert await store.comments.list(post.id, None, after=None, limit=10) == []
    for user in (fan, other):
        assert await store.likes.liked_among(user.id, "post", [post.id]) == set()
        assert await store.likes.liked_among(user.id, "comment", [top.id, reply.id]) == set()
    liked = await store.likes.liked_posts(fan.id, before=None, limit=10)
    assert [like.target_id for like in liked] == [kept.id]
    assert await store.counts.recount_post(post.id) is None
    assert await store.likes.like(fan.id, "post", post.id, T0 + 9) is None
    assert await store.comments.create(make_comment(post.id, fan.id)) is None
    # The other post is untouched.
    assert await store.likes.liked_among(fan.id, "comment", [elsewhere.id]) == {elsewhere.id}
    assert await store.comments.get(elsewhere.id) is not None
    assert (await counts_of(store, author.id)).posts_count == 1
    await assert_counters_exact(store, [author.id], [kept.id], [elsewhere.id])


async def test_by_author_pages_newest_first_with_ties(store: Store) -> None:
    ann, ben = await new_users(store, 2)
    mine = [make_post(ann.id, at=T0 + (i // 3)) for i in range(8)]  # three per second
    for post in [*mine, make_post(ben.id, at=T0 + 1), make_post(ben.id, at=T0 + 50)]:
        await store.posts.create(post)

    got = await walk(lambda b: store.posts.by_author(ann.id, before=b, limit=3), post_key)
    assert ids(got) == newest_first(mine)
    assert await store.posts.by_author(ann.id, before=None, limit=0) == []
    middle = sorted(mine, key=post_key)[4]
    older = await store.posts.by_author(ann.id, before=post_key(middle), limit=10)
    assert ids(older) == newest_first([p for p in mine if post_key(p) < post_key(middle)])


async def test_by_authors_merges_many_authors_with_ties_and_before(store: Store) -> None:
    rng = random.Random(7)
    users = await new_users(store, 40)
    followed, strangers = users[:30], users[30:]
    posts = [
        make_post(user.id, at=T0 + rng.randrange(12))
        for user in users
        for _ in range(rng.randrange(1, 5))
    ]
    await asyncio.gather(*(store.posts.create(post) for post in posts))
    authors = [user.id for user in followed]
    expected = newest_first([p for p in posts if p.user_id in authors])

    got = await walk(lambda b: store.posts.by_authors(authors, before=b, limit=7), post_key)
    assert ids(got) == expected
    assert ids(await store.posts.by_authors(authors + authors, before=None, limit=500)) == expected
    assert await store.posts.by_authors([], before=None, limit=10) == []
    assert await store.posts.by_authors([strangers[0].id], before=(T0 - 1, ""), limit=10) == []
    assert await store.posts.by_authors(authors, before=None, limit=0) == []


async def test_by_authors_with_few_posts_among_many_by_others(store: Store) -> None:
    """300 authors posting, 3 of them followed, whose posts are mostly older
    than everyone else's: the feed still finds them all, in order."""
    users = await new_users(store, 300)
    followed = users[:3]
    noise = [
        make_post(user.id, at=T0 + 1000 + i) for i, user in enumerate(users[3:]) for _ in (0, 1)
    ]
    wanted = [make_post(user.id, at=T0 + i % 4) for user in followed for i in range(5)]
    wanted.append(make_post(followed[0].id, at=T0 + 5000))  # one recent post
    await asyncio.gather(*(store.posts.create(post) for post in [*noise, *wanted]))
    authors = [user.id for user in followed]

    got = await walk(lambda b: store.posts.by_authors(authors, before=b, limit=4), post_key)
    assert ids(got) == newest_first(wanted)


# --------------------------------------------------------------------------- comments


async def test_comments_top_level_and_replies_oldest_first_with_counts(store: Store) -> None:
    author, fan = await new_users(store, 2)
    post = make_post(author.id)
    await store.posts.create(post)
    tops = [make_comment(post.id, fan.id, at=T0 + t) for t in (1, 1, 1, 2)]  # ties
    replies = [make_comment(post.id, author.id, parent=tops[0].id, at=T0 + t) for t in (3, 3)]
    deep = make_comment(post.id, fan.id, parent=replies[0].id, at=T0 + 4)
    returned = [await store.comments.create(c) for c in [*tops, *replies, deep]]
    assert returned == [1, 2, 3, 4, 5, 6, 7]

    def key(c: CommentRecord) -> PageKey:
        return (c.created_at, c.id)

    def oldest_first(comments: list[CommentRecord]) -> list[str]:
        return [c.id for c in sorted(comments, key=key)]

    listed = await walk(lambda a: store.comments.list(post.id, None, after=a, limit=1), key)
    assert ids(listed) == oldest_first(tops)
    assert ids(await store.comments.list(post.id, tops[0].id, after=None, limit=10)) == (
        oldest_first(replies)
    )
    assert ids(await store.comments.list(post.id, replies[0].id, after=None, limit=10)) == [deep.id]
    assert await store.comments.list(post.id, tops[1].id, after=None, limit=10) == []
    assert await store.comments.list(post.id, None, after=None, limit=0) == []

    first = await store.comments.get(tops[0].id)
    assert first is not None and (first.reply_count, first.parent_comment_id) == (2, None)
    stored_deep = await store.comments.get(deep.id)
    assert stored_deep is not None
    assert stored_deep == deep
    assert await store.comments.get_many([deep.id, new_id()]) == {deep.id: stored_deep}
    stored_post = await store.posts.get(post.id)
    assert stored_post is not None and stored_post.comment_count == 7
    await assert_counters_exact(store, [], [post.id], [c.id for c in [*tops, *replies, deep]])


async def test_comment_refused_without_post_or_with_a_bad_parent(store: Store) -> None:
    author, fan = await new_users(store, 2)
    post, other_post = make_post(author.id), make_post(author.id)
    await store.posts.create(post)
    await store.posts.create(other_post)
    parent = make_comment(post.id, fan.id)
    gone = make_comment(post.id, fan.id)
    foreign = make_comment(other_post.id, fan.id)
    for c in (parent, gone, foreign):
        await store.comments.create(c)
    await store.comments.create(make_comment(post.id, author.id, parent=gone.id))
    deletion = await store.comments.delete(gone.id)
    assert deletion is not None and deletion.tombstone

    refused = [
        make_comment(new_id(), fan.id),  # no such post
        make_comment(post.id, fan.id, parent=new_id()),  # no such parent
        make_comment(post.id, fan.id, parent=gone.id),  # deleted parent
        make_comment(post.id, fan.id, parent=foreign.id),  # parent on another post
    ]
    for comment in refused:
        assert await store.comments.create(comment) is None
        assert await store.comments.get(comment.id) is None
    await assert_counters_exact(
        store, [], [post.id, other_post.id], [parent.id, gone.id, foreign.id]
    )
    stored_post = await store.posts.get(post.id)
    assert stored_post is not None and stored_post.comment_count == 2  # parent and the reply


async def test_comment_client_key_conflict_and_edit(store: Store) -> None:
    author, fan = await new_users(store, 2)
    post, other_post = make_post(author.id), make_post(author.id)
    await store.posts.create(post)
    await store.posts.create(other_post)
    original = make_comment(post.id, fan.id, client_key="ck")
    assert await store.comments.create(original) == 1

    clash = make_comment(post.id, fan.id, client_key="ck", text="retry")
    with pytest.raises(Conflict) as caught:
        await store.comments.create(clash)
    assert caught.value.field == "client_key"
    assert await store.comments.get(clash.id) is None
    assert await store.comments.get_by_client_key(post.id, fan.id, "ck") == original
    assert await store.comments.get_by_client_key(post.id, author.id, "ck") is None
    # Per post and per user.
    assert await store.comments.create(make_comment(post.id, author.id, client_key="ck")) == 2
    assert await store.comments.create(make_comment(other_post.id, fan.id, client_key="ck")) == 1

    edited = await store.comments.edit(original.id, "better", T0 + 9)
    assert edited is not None and (edited.text, edited.edited_at) == ("better", T0 + 9)
    assert await store.comments.get(original.id) == edited
    assert await store.comments.edit(new_id(), "x", T0) is None


async def test_comment_delete_leaf_removes_tombstone_keeps_and_counts_follow(store: Store) -> None:
    author, fan = await new_users(store, 2)
    post = make_post(author.id)
    await store.posts.create(post)
    top = make_comment(post.id, fan.id, at=T0 + 1)
    kept = make_comment(post.id, author.id, parent=top.id, at=T0 + 2)
    leaf = make_comment(post.id, author.id, parent=top.id, at=T0 + 3)
    for c in (top, kept, leaf):
        await store.comments.create(c)
    await store.likes.like(fan.id, "comment", leaf.id, T0 + 4)
    await store.likes.like(author.id, "comment", top.id, T0 + 4)

    removed = await store.comments.delete(leaf.id)
    assert removed is not None
    assert (removed.tombstone, removed.comment_count) == (False, 2)
    assert removed.comment.id == leaf.id and removed.comment.text == leaf.text
    assert await store.comments.get(leaf.id) is None
    assert await store.likes.liked_among(fan.id, "comment", [leaf.id]) == set()
    parent = await store.comments.get(top.id)
    assert parent is not None and parent.reply_count == 1

    stoned = await store.comments.delete(top.id)
    assert stoned is not None
    assert (stoned.tombstone, stoned.comment_count) == (True, 1)
    assert stoned.comment.text == top.text and not stoned.comment.deleted
    tomb = await store.comments.get(top.id)
    assert tomb is not None
    assert (tomb.deleted, tomb.text, tomb.reply_count, tomb.like_count) == (True, "", 1, 1)
    assert ids(await store.comments.list(post.id, None, after=None, limit=10)) == [top.id]
    assert await store.comments.delete(top.id) is None
    assert await store.comments.delete(new_id()) is None
    assert await store.comments.edit(top.id, "revived", T0 + 9) is None
    assert await store.likes.like(fan.id, "comment", top.id, T0 + 9) is None
    # The tombstone exists: a like on it can still be withdrawn.
    withdrawn = await store.likes.unlike(author.id, "comment", top.id)
    assert withdrawn is not None and (withdrawn.changed, withdrawn.like_count) == (True, 0)

    last = await store.comments.delete(kept.id)
    assert last is not None and (last.tombstone, last.comment_count) == (False, 0)
    stored_post = await store.posts.get(post.id)
    assert stored_post is not None and stored_post.comment_count == 0
    await assert_counters_exact(store, [], [post.id], [top.id])


# --------------------------------------------------------------------------- likes


async def test_likes_are_idempotent_and_counted_on_posts_and_comments(store: Store) -> None:
    author, ann, ben = await new_users(store, 3)
    post = make_post(author.id)
    await store.posts.create(post)
    comment = make_comment(post.id, ann.id)
    await store.comments.create(comment)

    for kind, target in (("post", post.id), ("comment", comment.id)):
        first = await store.likes.like(ann.id, kind, target, T0)
        again = await store.likes.like(ann.id, kind, target, T0 + 1)
        other = await store.likes.like(ben.id, kind, target, T0 + 2)
        assert first is not None and (first.changed, first.like_count) == (True, 1)
        assert again is not None and (again.changed, again.like_count) == (False, 1)
        assert other is not None and (other.changed, other.like_count) == (True, 2)
        undone = await store.likes.unlike(ann.id, kind, target)
        undone_again = await store.likes.unlike(ann.id, kind, target)
        assert undone is not None and (undone.changed, undone.like_count) == (True, 1)
        assert undone_again is not None and (undone_again.changed, undone_again.like_count) == (
            False,
            1,
        )
        assert await store.likes.liked_among(ben.id, kind, [target, new_id()]) == {target}
        assert await store.likes.liked_among(ann.id, kind, [target]) == set()
        assert await store.likes.like(ann.id, kind, new_id(), T0) is None
        assert await store.likes.unlike(ann.id, kind, new_id()) is None
    # The kind is part of the like.
    assert await store.likes.liked_among(ben.id, "comment", [post.id]) == set()
    assert await store.likes.liked_among(ben.id, "post", []) == set()
    stored = await store.posts.get(post.id)
    assert stored is not None and stored.like_count == 1
    await assert_counters_exact(store, [], [post.id], [comment.id])


async def test_liked_posts_pages_most_recent_like_first(store: Store) -> None:
    author, fan = await new_users(store, 2)
    posts = [make_post(author.id, at=T0 + i) for i in range(7)]
    for post in posts:
        await store.posts.create(post)
    times = [T0 + 10, T0 + 10, T0 + 10, T0 + 11, T0 + 12, T0 + 12, T0 + 9]
    for post, at in zip(posts, times, strict=True):
        await store.likes.like(fan.id, "post", post.id, at)
    comment = make_comment(posts[0].id, author.id)
    await store.comments.create(comment)
    await store.likes.like(fan.id, "comment", comment.id, T0 + 99)  # not a post like

    got = await walk(
        lambda b: store.likes.liked_posts(fan.id, before=b, limit=2),
        lambda like: (like.created_at, like.target_id),
    )
    expected = sorted(
        [
            LikeRecord(user_id=fan.id, target_kind="post", target_id=p.id, created_at=at)
            for p, at in zip(posts, times, strict=True)
        ],
        key=lambda like: (like.created_at, like.target_id),
        reverse=True,
    )
    assert got == expected
    assert await store.likes.liked_posts(author.id, before=None, limit=10) == []


# --------------------------------------------------------------------------- counts, keys


async def test_recount_reports_and_with_fix_repairs_a_corrupted_counter(
    backend: Backend, store: Store
) -> None:
    author, fan = await new_users(store, 2)
    await store.follows.follow(fan.id, author.id, T0)
    post = make_post(author.id)
    await store.posts.create(post)
    top = make_comment(post.id, fan.id)
    await store.comments.create(top)
    await store.comments.create(make_comment(post.id, author.id, parent=top.id))
    await store.likes.like(fan.id, "post", post.id, T0)

    await corrupt(backend, store, ("users", author.id, "followers_count"), 42)
    await corrupt(backend, store, ("posts", post.id, "like_count"), 7)
    await corrupt(backend, store, ("comments", top.id, "reply_count"), 0)

    truth = UserCounts(followers_count=1, following_count=0, posts_count=1)
    assert await store.counts.recount_user(author.id) == truth
    assert (await counts_of(store, author.id)).followers_count == 42  # reported, not fixed
    assert await store.counts.recount_user(author.id, fix=True) == truth
    assert await counts_of(store, author.id) == truth
    assert await store.counts.recount_post(post.id, fix=True) == PostCounts(
        like_count=1, comment_count=2
    )
    assert await store.counts.recount_comment(top.id, fix=True) == CommentCounts(
        reply_count=1, like_count=0
    )
    await assert_counters_exact(store, [author.id, fan.id], [post.id], [top.id])
    assert await store.counts.recount_post(new_id()) is None
    assert await store.counts.recount_comment(new_id(), fix=True) is None


async def test_key_store_gives_every_caller_the_first_value(store: Store) -> None:
    assert await store.keys.get_or_create("cursor", "first") == "first"
    assert await store.keys.get_or_create("cursor", "second") == "first"
    candidates = [f"candidate-{i}" for i in range(20)]
    raced = await asyncio.gather(*(store.keys.get_or_create("race", c) for c in candidates))
    assert len(set(raced)) == 1 and raced[0] in candidates
    assert await store.keys.get_or_create("race", "late") == raced[0]


# --------------------------------------------------------------------------- accounts additions


async def test_blocked_among_sees_blocks_either_way(store: Store) -> None:
    await store.blocks.block("me", "b", T0)
    await store.blocks.block("c", "me", T0)
    await store.blocks.block("d", "e", T0)  # between others

    assert await store.blocks.blocked_among("me", ["b", "c", "d", "e", "f"]) == {"b", "c"}
    assert await store.blocks.blocked_among("b", ["me", "c"]) == {"me"}
    assert await store.blocks.blocked_among("me", []) == set()
    await store.blocks.unblock("me", "b")
    assert await store.blocks.blocked_among("me", ["b", "c"]) == {"c"}


async def test_users_get_many_by_id_and_by_username(store: Store) -> None:
    ann, ben, cid = await new_users(store, 3, prefix="many")
    await store.follows.follow(ann.id, ben.id, T0)
    ben_now = await store.users.get(ben.id)
    assert ben_now is not None and ben_now.followers_count == 1

    assert await store.users.get_many([ann.id, ben.id, new_id()]) == {
        ann.id: await store.users.get(ann.id),
        ben.id: ben_now,
    }
    assert await store.users.get_many([]) == {}
    assert await store.users.get_many_by_username([cid.username, "nobody", ben.username]) == {
        cid.username: cid,
        ben.username: ben_now,
    }
    assert await store.users.get_many_by_username([]) == {}


# --------------------------------------------------------------------------- concurrency


async def test_concurrent_toggles_keep_counters_equal_to_recount(store: Store) -> None:
    rng = random.Random(3)
    users = await new_users(store, 5)
    post = make_post(users[0].id)
    await store.posts.create(post)
    comment = make_comment(post.id, users[1].id)
    await store.comments.create(comment)
    calls: list[Awaitable[Any]] = []
    for _ in range(300):
        a, b = rng.sample(users, 2)
        match rng.randrange(4):
            case 0:
                calls.append(store.follows.follow(a.id, b.id, T0 + rng.random()))
            case 1:
                calls.append(store.follows.unfollow(a.id, b.id))
            case 2:
                kind, target = rng.choice([("post", post.id), ("comment", comment.id)])
                calls.append(store.likes.like(a.id, kind, target, T0))
            case _:
                kind, target = rng.choice([("post", post.id), ("comment", comment.id)])
                calls.append(store.likes.unlike(a.id, kind, target))
    await asyncio.gather(*calls)

    await assert_counters_exact(store, [u.id for u in users], [post.id], [comment.id])
    everyone = [u.id for u in users]
    for user in users:
        counts = await counts_of(store, user.id)
        assert counts.following_count == len(await store.follows.following_among(user.id, everyone))
        assert counts.followers_count == len(await store.follows.followers_among(user.id, everyone))
