"""Contract of :class:`actors.store.social.ViewStore`, on both backends: one
read answers what the five single lookups answer."""

from __future__ import annotations

from actors.store import Store
from tests.store.records import T0, make_post, make_user


async def test_the_context_answers_as_the_single_lookups_do(store: Store) -> None:
    me, ada, bob, eve = (make_user(name) for name in ("me", "ada", "bob", "eve"))
    for user in (me, ada, bob, eve):
        await store.users.create(user)
    await store.follows.follow(me.id, ada.id, T0)
    await store.follows.follow(bob.id, me.id, T0)
    await store.blocks.block(eve.id, me.id, T0)
    posts = [make_post(author.id, at=T0 + i) for i, author in enumerate((ada, bob, eve, me))]
    for post in posts:
        await store.posts.create(post)
    await store.likes.like(me.id, "post", posts[1].id, T0)
    await store.likes.like(ada.id, "post", posts[0].id, T0)  # not the viewer's
    authors = [ada.id, bob.id, eve.id, me.id, "missing"]
    ids = [post.id for post in posts]
    ctx = await store.views.context(me.id, authors, "post", ids)
    assert set(ctx.users) == {ada.id, bob.id, eve.id, me.id}
    assert ctx.users[ada.id].username == ada.username
    others = [ada.id, bob.id, eve.id, "missing"]
    assert ctx.blocked == await store.blocks.blocked_among(me.id, others) == {eve.id}
    assert ctx.i_follow == await store.follows.following_among(me.id, others) == {ada.id}
    assert ctx.follows_me == await store.follows.followers_among(me.id, others) == {bob.id}
    assert ctx.liked == await store.likes.liked_among(me.id, "post", ids) == {posts[1].id}
    assert (await store.views.context(me.id, [me.id], "comment", [])).blocked == set()
    empty = await store.views.context(me.id, [], "post", [])
    assert (empty.users, empty.liked) == ({}, set())
