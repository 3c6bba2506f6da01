"""The social domain over real sockets: one in-process node, then a real
3-node cluster (subprocesses, a private redis-server, one shared SQLite
file) where a post by a user on one node reaches followers on the other two,
and a comment made on one node reaches a watcher on another."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from protocol.client import Client, GroverError
from protocol.messages import social as m
from tests.conftest import Connect, register, unique_name
from tests.test_cluster import Rig


async def next_of(client: Client, kind: type[Any], timeout: float = 10.0) -> Any:
    """The next event of ``kind`` (other events are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            event = await client.next_event(timeout)
            if isinstance(event, kind):
                return event


async def test_posts_feeds_and_comments_over_one_socket_each(connect: Connect) -> None:
    ada, fan = await connect(), await connect()
    ada_id = (await register(ada, "ada")).user.id
    await register(fan, "fan")
    followed = await fan.request("follow.create", user_id=ada_id)
    assert followed.changed and followed.user.followers_count == 1
    made = await ada.request(
        "post.create", client_key="k1", text="first #post", visibility="followers"
    )
    pushed = await next_of(fan, m.PostNew)
    assert pushed.post.id == made.id and pushed.post.tags == ["post"]
    feed = await fan.request("feed.home", limit=10)
    assert [p.id for p in feed.posts] == [made.id]
    await fan.request("post.watch", post_ids=[made.id])
    await ada.request("comment.create", post_id=made.id, text="hi fans", client_key="c1")
    assert (await next_of(fan, m.CommentNew)).comment.text == "hi fans"
    counts = await next_of(fan, m.PostCounts)
    assert (counts.post_id, counts.comment_count) == (made.id, 1)
    with pytest.raises(GroverError) as refused:
        await fan.request("post.edit", post_id=made.id, text="not mine")
    assert refused.value.code == "forbidden"
    await ada.request("post.delete", post_id=made.id)
    assert (await next_of(fan, m.PostDeleted)).post_id == made.id


# ------------------------------------------------------------------ cluster


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    rig = Rig(tmp_path)
    try:
        await rig.start()
        yield rig
    finally:
        await rig.stop()


async def clients_on(rig: Rig, homes: list[int]) -> list[tuple[Client, str]]:
    """A fresh user per home node index, connected there: (client, user id)."""
    clients = []
    for home in homes:
        client = Client(request_timeout=15)
        await client.connect(rig.nodes[home].url)
        clients.append((client, (await register(client, unique_name("social"))).user.id))
    return clients


@pytest.mark.slow
async def test_a_post_on_one_node_reaches_followers_on_the_other_two(rig: Rig) -> None:
    (author, author_id), *others = await clients_on(rig, [0, 1, 1, 2, 2])
    fans = [client for client, _ in others]
    for fan in fans:
        assert (await fan.request("follow.create", user_id=author_id)).changed
    posts = [
        await author.request("post.create", client_key=f"k{i}", text=f"post {i}") for i in range(3)
    ]
    try:
        for fan in fans:
            got = [(await next_of(fan, m.PostNew, timeout=15)).post.id for _ in posts]
            assert got == [p.id for p in posts]
            feed = await fan.request("feed.home", limit=10)
            assert [p.id for p in feed.posts] == [p.id for p in reversed(posts)]
        # A watcher on node 1 sees a comment written through node 2.
        watcher, commenter = fans[0], fans[2]
        await watcher.request("post.watch", post_ids=[posts[0].id])
        await commenter.request(
            "comment.create", post_id=posts[0].id, text="from n2", client_key="c"
        )
        assert (await next_of(watcher, m.CommentNew, timeout=15)).comment.text == "from n2"
        counted = await next_of(watcher, m.PostCounts, timeout=15)
        assert counted.comment_count == 1
    finally:
        for client in [author, *fans]:
            await client.close()
