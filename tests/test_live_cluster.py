"""Live streaming in a real 3-node cluster (subprocesses, a private
redis-server, one shared SQLite file): the host on node 0, viewers on nodes
1 and 2 (one user with a session on each of two nodes), chatters on every
node. The viewer count is exact (the two-session user counts once), every
joined session gets every chat line exactly once and in the stream's order,
a viewer leaving moves the count, and the end reaches everyone."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from protocol.client import Client
from protocol.messages import live as m
from tests.conftest import register, unique_name
from tests.test_cluster import Rig

pytestmark = pytest.mark.slow

RESUME_TTL = 1.0


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    # A dropped socket leaves once its session expires (``resume_ttl``, 300 s
    # by default): short here, so the test sees it.
    rig = Rig(tmp_path, GROVER_RESUME_TTL=str(RESUME_TTL))
    try:
        await rig.start()
        yield rig
    finally:
        await rig.stop()


class Watcher:
    """One joined session: its chat lines in arrival order, and the latest
    ``stream.updated`` / ``stream.ended`` it got."""

    def __init__(self, client: Client, user_id: str, name: str) -> None:
        self.client = client
        self.user_id = user_id
        self.name = name
        self.lines: list[m.ChatLine] = []
        self.counts: list[int] = []
        self.ended: m.StreamView | None = None
        self.changed = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._consume())

    async def _consume(self) -> None:
        async for event in self.client.events():
            if isinstance(event, m.ChatBatch):
                self.lines.extend(event.lines)
            elif isinstance(event, m.StreamUpdated):
                self.counts.append(event.stream.viewer_count)
            elif isinstance(event, m.StreamEnded):
                self.ended = event.stream
            else:
                continue
            self.changed.set()

    async def until(self, done: Any, timeout: float = 15.0) -> None:
        """Wait (bounded) until ``done(self)`` holds."""
        async with asyncio.timeout(timeout):
            while not done(self):
                self.changed.clear()
                await self.changed.wait()

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self.client.close()


async def connect(rig: Rig, node: int, name: str | None = None) -> Watcher:
    """A session on ``node``: a new account (``name`` None) or a log-in."""
    client = Client(request_timeout=15)
    await client.connect(rig.nodes[node].url)
    if name is None:
        name = unique_name("lv")
        user_id = (await register(client, name)).user.id
    else:
        user_id = (await client.request("auth.login", login=name, password="correct horse")).user.id
    return Watcher(client, user_id, name)


async def count_seen(watcher: Watcher, stream_id: str, expected: int) -> None:
    """``stream.get`` shows ``expected`` viewers (counts are pushed at most
    once a second, so poll, bounded)."""
    async with asyncio.timeout(10):
        while True:
            view = await watcher.client.request("stream.get", stream_id=stream_id)
            if view.viewer_count == expected:
                return
            await asyncio.sleep(0.1)


async def test_viewers_on_three_nodes_count_exactly_and_all_get_the_chat(rig: Rig) -> None:
    host = await connect(rig, 0)
    watchers: list[Watcher] = [host]
    try:
        host.start()
        hosted = await host.client.request("stream.start", title="cluster live")
        stream_id = hosted.stream.id
        viewers = [await connect(rig, node) for node in (1, 2, 1, 2)]
        twin = await connect(rig, 2, viewers[0].name)  # viewers[0] again, on node 2
        watchers += [*viewers, twin]
        for watcher in [*viewers, twin]:
            watcher.start()
            joined = await watcher.client.request("stream.join", stream_id=stream_id)
            assert joined.stream.id == stream_id and joined.token.role == "subscriber"
        assert twin.user_id == viewers[0].user_id

        # Four users, five sessions: the twin counts once, on every node.
        for watcher in (host, viewers[1], twin):
            await count_seen(watcher, stream_id, 4)
        await host.until(lambda w: bool(w.counts) and w.counts[-1] == 4)
        await viewers[3].until(lambda w: bool(w.counts) and w.counts[-1] == 4)
        assert (await host.client.request("stream.get", stream_id=stream_id)).peak_viewers == 4

        # Chatters on every node, several lines each, sent concurrently.
        chatters = [host, viewers[0], viewers[1], twin, viewers[2]]

        async def chat(i: int, chatter: Watcher) -> list[str]:
            ids = []
            for n in range(5):
                sent = await chatter.client.request(
                    "chat.send", stream_id=stream_id, text=f"c{i} line {n}", client_key=f"{i}.{n}"
                )
                ids.append(sent.line.id)
            return ids

        sent = await asyncio.gather(*(chat(i, c) for i, c in enumerate(chatters)))
        accepted = {line_id for ids in sent for line_id in ids}
        assert len(accepted) == 25
        for watcher in watchers:
            await watcher.until(lambda w: len(w.lines) >= len(accepted))
        await asyncio.sleep(0.5)  # a duplicate would have arrived by now
        order = [line.id for line in host.lines]
        assert set(order) == accepted and len(order) == len(accepted)
        for watcher in watchers:
            got = [line.id for line in watcher.lines]
            assert got == order, f"{watcher.name}: not every line once in the stream's order"
        for ids in sent:  # each chatter's lines in the order it sent them
            assert [i for i in order if i in set(ids)] == ids

        # One session of the twin leaving keeps the user; the other leaving drops it.
        await twin.client.request("stream.leave", stream_id=stream_id)
        await asyncio.sleep(0.3)
        await count_seen(host, stream_id, 4)
        await viewers[0].client.request("stream.leave", stream_id=stream_id)
        await count_seen(viewers[3], stream_id, 3)
        await host.until(lambda w: w.counts[-1] == 3)
        await viewers[2].until(lambda w: w.counts[-1] == 3)
        # A socket closing leaves too (here on node 2), once its session expires.
        await viewers[3].close()
        watchers.remove(viewers[3])
        await count_seen(host, stream_id, 2)

        ended = await host.client.request("stream.end", stream_id=stream_id)
        assert ended.status == "ended"
        for watcher in (host, viewers[1], viewers[2]):
            await watcher.until(lambda w: w.ended is not None)
            assert watcher.ended is not None and watcher.ended.id == stream_id
            assert watcher.ended.status == "ended" and watcher.ended.peak_viewers == 4
        assert (await viewers[1].client.request("stream.get", stream_id=stream_id)).status == (
            "ended"
        )
    finally:
        for watcher in watchers:
            await watcher.close()
