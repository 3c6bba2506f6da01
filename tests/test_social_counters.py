"""Counters under random interleavings (hypothesis): follows, likes, comments
and deletes, run concurrently through the handlers with retries, on both
storage backends; afterwards every stored counter equals a recount of the
rows it counts."""

from __future__ import annotations

import asyncio
import pathlib
import tempfile
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocol.errors import ProtocolError
from protocol.messages import social as m
from server.context import Caller
from tests.harness import Node, next_id, open_node
from tests.store.backends import BACKENDS, backend_context

USERS = 4
OPS = ("follow", "unfollow", "like", "unlike", "comment", "reply", "uncomment", "unpost", "clike")

operation = st.tuples(
    st.sampled_from(OPS),
    st.integers(0, USERS - 1),  # who
    st.integers(0, USERS - 1),  # whom / which post's author
    st.integers(0, 5),  # which post / comment
    st.booleans(),  # sent twice at once: a retry racing its original
)


async def _apply(
    node: Node,
    users: list[Caller],
    posts: list[str],
    comments: list[str],
    op: tuple[str, int, int, int, bool],
) -> None:
    name, who, whom, index, retried = op
    caller = users[who]
    target_user = users[whom].user()
    post_id = posts[index % len(posts)]
    comment_id = comments[index % len(comments)] if comments else "none"
    key = f"k{next_id()}"
    requests: dict[str, tuple[type[Any], dict[str, Any]]] = {
        "follow": (m.Follow, {"user_id": target_user}),
        "unfollow": (m.Unfollow, {"user_id": target_user}),
        "like": (m.LikePost, {"post_id": post_id}),
        "unlike": (m.UnlikePost, {"post_id": post_id}),
        "comment": (m.CreateComment, {"post_id": post_id, "text": "c", "client_key": key}),
        "reply": (
            m.CreateComment,
            {"post_id": post_id, "text": "r", "client_key": key, "parent_comment_id": comment_id},
        ),
        "uncomment": (m.DeleteComment, {"comment_id": comment_id}),
        "unpost": (m.DeletePost, {"post_id": post_id}),
        "clike": (m.LikeComment, {"comment_id": comment_id}),
    }
    request_type, fields = requests[name]

    async def once() -> None:
        try:
            reply = await node.call(caller, request_type, **fields)
        except ProtocolError:
            return  # refused (not found, forbidden, yourself): must change nothing
        if isinstance(reply, m.CommentView) and reply.id not in comments:
            comments.append(reply.id)

    await asyncio.gather(once(), *([once()] if retried else []))


async def _scenario(backend: str, ops: list[tuple[str, int, int, int, bool]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp)
        async with backend_context(backend, path) as chosen:
            store = chosen.new_store()
            await store.open()
            try:
                async with open_node(path, store=store) as node:
                    await _run(node, ops)
            finally:
                await store.close()


async def _run(node: Node, ops: list[tuple[str, int, int, int, bool]]) -> None:
    users = [await node.user() for _ in range(USERS)]
    posts = []
    for i in range(3):
        view = await node.call(users[i], m.CreatePost, client_key=f"p{i}", text=f"post {i}")
        posts.append(view.id)
    comments: list[str] = []
    # Interleaved: chunks of operations run concurrently.
    for start in range(0, len(ops), 6):
        chunk = ops[start : start + 6]
        await asyncio.gather(*(_apply(node, users, posts, comments, op) for op in chunk))
    store = node.store
    for user in users:
        stored = await store.users.get(user.user())
        assert stored is not None
        counted = await store.counts.recount_user(user.user())
        assert (stored.followers_count, stored.following_count, stored.posts_count) == (
            counted.followers_count,
            counted.following_count,
            counted.posts_count,
        )
    for post_id in posts:
        found = await store.posts.get(post_id)
        recount = await store.counts.recount_post(post_id)
        if found is None:
            assert recount is None
            continue
        assert recount is not None
        assert (found.like_count, found.comment_count) == (
            recount.like_count,
            recount.comment_count,
        )
    for comment_id in comments:
        comment = await store.comments.get(comment_id)
        counts = await store.counts.recount_comment(comment_id)
        if comment is None:
            continue
        assert counts is not None
        assert (comment.reply_count, comment.like_count) == (counts.reply_count, counts.like_count)


@pytest.mark.parametrize("backend", BACKENDS)
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=st.lists(operation, min_size=5, max_size=40))
def test_every_counter_equals_a_recount(
    backend: str, ops: list[tuple[str, int, int, int, bool]]
) -> None:
    asyncio.run(_scenario(backend, ops))
