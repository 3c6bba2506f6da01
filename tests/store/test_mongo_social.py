"""The MongoDB social stores on their own (the shared contract runs in
``test_social.py``): counters written after their rows, the document shapes,
keyset pages, and what concurrent calls leave. Run against the stand-in, or a
real server when ``GROVER_MONGO_URL`` is set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest

from actors.ids import new_id
from actors.store import Conflict, Store
from actors.store.social import (
    CommentRecord,
    GeoPoint,
    PostCounts,
    PostEdit,
    PostRecord,
    UserCounts,
)
from server.storage.mongo import posts as posts_module
from tests.store.backends import Backend
from tests.store.records import T0, make_user


@pytest.fixture
async def store(mongo: Backend) -> AsyncIterator[Store]:
    opened = mongo.new_store()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


async def new_user(store: Store, name: str) -> str:
    user = make_user(name)
    await store.users.create(user)
    return user.id


def make_post(user_id: str, *, at: float = T0, **fields: Any) -> PostRecord:
    return PostRecord(id=new_id(), user_id=user_id, created_at=at, **fields)


def make_comment(
    post_id: str, user_id: str, *, parent: str | None = None, at: float = T0, key: str | None = None
) -> CommentRecord:
    return CommentRecord(
        id=new_id(),
        post_id=post_id,
        user_id=user_id,
        parent_comment_id=parent,
        text="hi",
        client_key=key,
        created_at=at,
    )


async def test_mongo_follow_counts_once_and_pages(store: Store) -> None:
    ann, ben, cy = [await new_user(store, n) for n in ("ann", "ben", "cy")]
    assert await store.follows.follow(ann, ben, T0)
    assert not await store.follows.follow(ann, ben, T0 + 1)
    assert await store.follows.follow(cy, ben, T0)  # same time: the id breaks the tie
    user = await store.users.get(ben)
    assert user is not None and user.followers_count == 2
    assert await store.follows.following_among(ann, [ben, cy]) == {ben}
    assert await store.follows.followers_among(ben, [ann, cy, "nobody"]) == {ann, cy}

    first = await store.follows.followers(ben, before=None, limit=1)
    second = await store.follows.followers(
        ben, before=(first[0].created_at, first[0].follower_id), limit=5
    )
    assert [f.follower_id for f in first + second] == sorted([ann, cy], reverse=True)
    assert await store.follows.follower_ids(ben, after=None, limit=10) == sorted([ann, cy])
    assert await store.follows.follower_ids(ben, after=min(ann, cy), limit=10) == [max(ann, cy)]
    assert await store.follows.following_ids(ann, 10) == [ben]

    assert await store.follows.unfollow(ann, ben)
    assert not await store.follows.unfollow(ann, ben)
    user, fan = await store.users.get(ben), await store.users.get(ann)
    assert user is not None and user.followers_count == 1
    assert fan is not None and fan.following_count == 0


async def test_mongo_concurrent_follows_and_unfollows_count_once(store: Store) -> None:
    ann, ben = await new_user(store, "ann"), await new_user(store, "ben")
    made = await asyncio.gather(*(store.follows.follow(ann, ben, T0) for _ in range(5)))
    assert made.count(True) == 1
    removed = await asyncio.gather(*(store.follows.unfollow(ann, ben) for _ in range(5)))
    assert removed.count(True) == 1
    assert await store.counts.recount_user(ben) == await _stored_user_counts(store, ben)


async def _stored_user_counts(store: Store, user_id: str) -> UserCounts:
    user = await store.users.get(user_id)
    assert user is not None
    return UserCounts(
        followers_count=user.followers_count,
        following_count=user.following_count,
        posts_count=user.posts_count,
    )


async def test_mongo_post_document_shape_and_location_round_trip(
    store: Store, mongo: Backend
) -> None:
    ann = await new_user(store, "ann")
    where = GeoPoint(latitude=48.85, longitude=2.35, place_name="Paris")
    post = make_post(ann, text="hello #paris", tags=["paris"], location=where, client_key="k1")
    await store.posts.create(post)

    doc = await mongo.mongo_db["posts"].find_one({"_id": post.id})
    assert doc["location"] == {"type": "Point", "coordinates": [2.35, 48.85]}
    assert doc["place_name"] == "Paris"
    assert "content" not in doc and doc["text"] == "hello #paris"
    assert await store.posts.get(post.id) == post

    plain = make_post(ann)
    await store.posts.create(plain)
    plain_doc = await mongo.mongo_db["posts"].find_one({"_id": plain.id})
    assert "location" not in plain_doc and "place_name" not in plain_doc
    assert await store.posts.get(plain.id) == plain

    moved = PostEdit(
        text="t", tags=[], mentions=[], set_location=True, location=None, edited_at=T0 + 5
    )
    edited = await store.posts.edit(post.id, ann, moved)
    assert edited is not None and edited.location is None and edited.edited_at == T0 + 5
    assert await store.posts.edit(post.id, "someone-else", moved) is None


async def test_mongo_post_stored_before_blurhashes_reads_back_without_them(
    store: Store, mongo: Backend
) -> None:
    ann = await new_user(store, "ann")
    post = make_post(
        ann,
        media_urls=["https://img.example/1.webp"],
        media_types=["image"],
        media_blurhashes=["LEHV6nWB2yk8pyo0adR*.7kCMdnj"],
    )
    await store.posts.create(post)
    posts = mongo.mongo_db["posts"]
    doc = await posts.find_one({"_id": post.id})
    assert doc["media_blurhashes"] == ["LEHV6nWB2yk8pyo0adR*.7kCMdnj"]
    # A document written before the field existed has no such key.
    await posts.update_one({"_id": post.id}, {"$unset": {"media_blurhashes": ""}})
    assert await store.posts.get(post.id) == msgspec.structs.replace(post, media_blurhashes=[])


async def test_mongo_post_conflicts_write_nothing(store: Store) -> None:
    ann = await new_user(store, "ann")
    post = make_post(ann, client_key="k")
    await store.posts.create(post)
    with pytest.raises(Conflict) as by_key:
        await store.posts.create(make_post(ann, client_key="k"))
    assert by_key.value.field == "client_key"
    with pytest.raises(Conflict) as by_id:
        await store.posts.create(msgspec.structs.replace(post, client_key="other"))
    assert by_id.value.field == "id"
    await store.posts.create(make_post(ann))  # no client key: never a conflict
    await store.posts.create(make_post(ann))
    assert await store.posts.get_by_client_key(ann, "k") == post
    user = await store.users.get(ann)
    assert user is not None and user.posts_count == 3


@pytest.mark.parametrize("per_query", [200, 1])
async def test_mongo_feed_pages_merge_authors_newest_first(
    store: Store, monkeypatch: pytest.MonkeyPatch, per_query: int
) -> None:
    """One query for a few authors, or (``per_query`` 1) one per author merged."""
    monkeypatch.setattr(posts_module, "AUTHORS_PER_QUERY", per_query)
    ann, ben, cy = [await new_user(store, n) for n in ("ann", "ben", "cy")]
    posts = [make_post(author, at=T0 + i // 2) for i, author in enumerate([ann, ben, cy] * 3)]
    for post in posts:
        await store.posts.create(post)
    wanted = sorted(
        (p for p in posts if p.user_id in (ann, ben)),
        key=lambda p: (p.created_at, p.id),
        reverse=True,
    )
    got: list[PostRecord] = []
    before = None
    while page := await store.posts.by_authors([ann, ben, ann], before=before, limit=2):
        got += page
        before = (page[-1].created_at, page[-1].id)
    assert got == wanted
    assert await store.posts.by_author(cy, before=None, limit=10) == sorted(
        (p for p in posts if p.user_id == cy), key=lambda p: (p.created_at, p.id), reverse=True
    )
    assert await store.posts.by_authors([], before=None, limit=10) == []


async def test_mongo_comment_checks_counts_and_tombstones(store: Store) -> None:
    ann, ben = await new_user(store, "ann"), await new_user(store, "ben")
    post, other = make_post(ann), make_post(ann)
    await store.posts.create(post)
    await store.posts.create(other)
    assert await store.comments.create(make_comment("no-post", ben)) is None

    top = make_comment(post.id, ben, key="c1")
    assert await store.comments.create(top) == 1
    with pytest.raises(Conflict) as dup:
        await store.comments.create(make_comment(post.id, ben, key="c1"))
    assert dup.value.field == "client_key"
    assert await store.comments.create(make_comment(other.id, ben, parent=top.id)) is None
    assert await store.comments.create(make_comment(post.id, ben, parent="nope")) is None
    reply = make_comment(post.id, ann, parent=top.id, at=T0 + 1)
    assert await store.comments.create(reply) == 2
    stored_top = await store.comments.get(top.id)
    assert stored_top is not None and stored_top.reply_count == 1

    assert await store.likes.like(ann, "comment", top.id, T0) is not None
    deletions = await asyncio.gather(*(store.comments.delete(top.id) for _ in range(3)))
    done = [d for d in deletions if d is not None]
    assert len(done) == 1 and done[0].tombstone and done[0].comment_count == 1
    assert await store.comments.edit(top.id, "back", T0) is None
    assert await store.likes.like(ben, "comment", top.id, T0) is None  # a tombstone
    assert await store.comments.create(make_comment(post.id, ben, parent=top.id)) is None
    listed = await store.comments.list(post.id, None, after=None, limit=10)
    assert [(c.id, c.deleted, c.text) for c in listed] == [(top.id, True, "")]

    gone = await store.comments.delete(reply.id)
    assert gone is not None and not gone.tombstone and gone.comment_count == 0
    assert await store.comments.get(reply.id) is None
    stored_top = await store.comments.get(top.id)
    assert stored_top is not None and stored_top.reply_count == 0
    assert await store.counts.recount_post(post.id) == await _post_counts(store, post.id)


async def _post_counts(store: Store, post_id: str) -> PostCounts:
    post = await store.posts.get(post_id)
    assert post is not None
    return PostCounts(like_count=post.like_count, comment_count=post.comment_count)


async def test_mongo_comment_pages_oldest_first(store: Store) -> None:
    ann = await new_user(store, "ann")
    post = make_post(ann)
    await store.posts.create(post)
    comments = [make_comment(post.id, ann, at=T0 + i // 2) for i in range(5)]
    for comment in comments:
        await store.comments.create(comment)
    first = await store.comments.list(post.id, None, after=None, limit=3)
    rest = await store.comments.list(
        post.id, None, after=(first[-1].created_at, first[-1].id), limit=3
    )
    ids = [c.id for c in sorted(comments, key=lambda c: (c.created_at, c.id))]
    assert [c.id for c in first + rest] == ids
    assert set(await store.comments.get_many([*ids[:2], "nope"])) == set(ids[:2])


async def test_mongo_likes_count_once_and_post_delete_clears_everything(
    store: Store, mongo: Backend
) -> None:
    ann, ben = await new_user(store, "ann"), await new_user(store, "ben")
    post = make_post(ann)
    await store.posts.create(post)
    results = await asyncio.gather(*(store.likes.like(ben, "post", post.id, T0) for _ in range(4)))
    assert [r.changed for r in results if r is not None].count(True) == 1
    assert all(r is not None and r.like_count == 1 for r in results)
    assert await store.likes.liked_among(ben, "post", [post.id, "x"]) == {post.id}
    assert await store.likes.like(ben, "post", "missing", T0) is None
    assert await store.likes.unlike(ben, "post", "missing") is None
    comment = make_comment(post.id, ben)
    await store.comments.create(comment)
    await store.likes.like(ann, "comment", comment.id, T0)

    assert await store.posts.delete(post.id, ben) is None  # not the author
    deleted = await store.posts.delete(post.id, ann)
    assert deleted is not None and deleted.like_count == 1
    assert await mongo.mongo_db["comments"].count_documents({}) == 0
    assert await mongo.mongo_db["likes"].count_documents({}) == 0
    user = await store.users.get(ann)
    assert user is not None and user.posts_count == 0
    assert await store.posts.delete(post.id, ann) is None
    assert await store.likes.liked_posts(ben, before=None, limit=10) == []


async def test_mongo_liked_posts_page_by_like_time(store: Store) -> None:
    ann = await new_user(store, "ann")
    posts = [make_post(ann) for _ in range(3)]
    for i, post in enumerate(posts):
        await store.posts.create(post)
        await store.likes.like(ann, "post", post.id, T0 + (i == 2))
    first = await store.likes.liked_posts(ann, before=None, limit=2)
    rest = await store.likes.liked_posts(
        ann, before=(first[-1].created_at, first[-1].target_id), limit=2
    )
    ids = [posts[2].id, *sorted((posts[0].id, posts[1].id), reverse=True)]
    assert [like.target_id for like in first + rest] == ids
    result = await store.likes.unlike(ann, "post", posts[2].id)
    assert result is not None and result.changed and result.like_count == 0
    again = await store.likes.unlike(ann, "post", posts[2].id)
    assert again is not None and not again.changed and again.like_count == 0


async def test_mongo_recount_repairs_a_counter_left_off(store: Store, mongo: Backend) -> None:
    ann, ben = await new_user(store, "ann"), await new_user(store, "ben")
    post = make_post(ann)
    await store.posts.create(post)
    await store.follows.follow(ben, ann, T0)
    # What a crash between a row and its counter leaves.
    await mongo.mongo_db["users"].update_one({"_id": ann}, {"$set": {"followers_count": 5}})
    await mongo.mongo_db["posts"].update_one({"_id": post.id}, {"$set": {"comment_count": 2}})

    counts = await store.counts.recount_user(ann)
    assert (counts.followers_count, counts.following_count, counts.posts_count) == (1, 0, 1)
    user = await store.users.get(ann)
    assert user is not None and user.followers_count == 5  # no fix: unchanged
    await store.counts.recount_user(ann, fix=True)
    user = await store.users.get(ann)
    assert user is not None and user.followers_count == 1
    await store.counts.recount_post(post.id, fix=True)
    fixed = await store.posts.get(post.id)
    assert fixed is not None and fixed.comment_count == 0
    assert await store.counts.recount_post("nope") is None
    assert await store.counts.recount_comment("nope") is None


async def test_mongo_keys_race_to_one_value(store: Store) -> None:
    values = await asyncio.gather(
        *(store.keys.get_or_create("cursor", f"candidate-{i}") for i in range(5))
    )
    assert len(set(values)) == 1
    assert await store.keys.get_or_create("cursor", "late") == values[0]


async def test_mongo_users_by_ids_and_usernames_and_blocks_among(store: Store) -> None:
    ann, ben, cy = [await new_user(store, n) for n in ("ann", "ben", "cy")]
    assert set(await store.users.get_many([ann, cy, "nope"])) == {ann, cy}
    by_name = await store.users.get_many_by_username(["ben", "zed"])
    assert list(by_name) == ["ben"] and by_name["ben"].id == ben
    await store.blocks.block(ann, ben, T0)
    await store.blocks.block(cy, ann, T0)
    assert await store.blocks.blocked_among(ann, [ben, cy]) == {ben, cy}
    assert await store.blocks.blocked_among(ben, [ann, cy]) == {ann}
    assert await store.blocks.blocked_among(ann, []) == set()
