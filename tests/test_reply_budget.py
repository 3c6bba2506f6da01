"""Memory per client is bounded in bytes: every page fits ``MAX_REPLY_BYTES``
and stops early with ``has_more`` or a cursor, and a client that requests
page after page without reading is closed as a slow consumer (4008) before
the server grows by more than its outbox. Real sockets, real SQLite, and for
the flood a real ``grover serve`` process whose RSS is measured."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from pathlib import Path

import msgspec
import pytest
from websockets.asyncio.client import connect as ws_connect
from websockets.exceptions import ConnectionClosed

from protocol import codec, limits
from protocol.client import Client
from protocol.frames import ReplyFrame
from protocol.messages import accounts, messaging
from server.handlers import pages
from tests.conftest import Connect, register
from tests.support import GroverProcess
from tests.test_gateway import RawConnect, frame, raw_connect, raw_hello

__all__ = ["raw_connect"]  # the fixture, used by the tests below

LONG_TEXT = "\U0001f600" * limits.MESSAGE_TEXT_MAX
"""The longest text a message may have, in its widest encoding (4 bytes a char):
16 KB, so 100 of them would make a 1.6 MB page."""


async def conversation_with_long_messages(connect: Connect, count: int) -> tuple[Client, str, str]:
    """A direct conversation holding ``count`` longest messages; the sender,
    the conversation id and the sender's token."""
    sender, other = await connect(), await connect()
    auth = await register(sender)
    peer = await register(other)
    conv = await sender.request("conversation.open_direct", user_id=peer.user.id)
    await asyncio.gather(
        *(
            sender.request(
                "message.send", conversation_id=conv.id, client_key=f"k{i}", text=LONG_TEXT
            )
            for i in range(count)
        )
    )
    return sender, conv.id, auth.token


# ------------------------------------------------------------------- pages


@pytest.mark.parametrize("request_type", ["message.history", "message.since"])
async def test_message_pages_fit_the_reply_budget_and_page_through_everything(
    request_type: str, connect: Connect, raw_connect: RawConnect
) -> None:
    _, conv_id, token = await conversation_with_long_messages(connect, 40)
    ws = await raw_connect()
    await raw_hello(ws, token=token)
    seen: list[int] = []
    position: dict[str, int] = {} if request_type == "message.history" else {"after_seq": 0}
    sizes: list[int] = []
    for request_id in range(2, 40):
        await ws.send(
            frame(type=request_type, id=request_id, conversation_id=conv_id, limit=100, **position)
        )
        raw = await ws.recv(decode=False)
        sizes.append(len(raw))
        reply = codec.decode_server_frame(raw)
        assert isinstance(reply, ReplyFrame), reply
        page = msgspec.msgpack.decode(reply.data, type=messaging.MessageList)
        seen += [m.seq for m in page.messages]
        if not page.has_more:
            break
        last = page.messages[-1].seq
        position = (
            {"before_seq": last} if request_type == "message.history" else {"after_seq": last}
        )
    assert max(sizes) <= limits.MAX_REPLY_BYTES
    assert len(sizes) > 2  # 40 long messages do not fit one page
    expected = list(range(1, 41))
    assert seen == (expected[::-1] if request_type == "message.history" else expected)


async def test_conversation_pages_cut_by_the_budget_keep_their_cursors(
    connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    me = await connect()
    await register(me)
    convs = []
    for _ in range(4):
        other = await connect()
        peer = await register(other)
        view = await me.request("conversation.open_direct", user_id=peer.user.id)
        convs.append(view.id)
    for i, conv in enumerate(reversed(convs)):
        await me.request("message.send", conversation_id=conv, client_key=f"c{i}", text="hi")
    # A budget of one byte: every page holds exactly one item (the first
    # always goes in), so every page is cut by the budget, not by ``limit``.
    monkeypatch.setattr(pages, "PAGE_BUDGET", 1)

    listed: list[str] = []
    cursor = None
    while True:
        page = await me.request("conversation.list", cursor=cursor, limit=100)
        assert len(page.conversations) == 1
        listed += [c.id for c in page.conversations]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert listed == convs

    synced: list[str] = []
    cursor = None
    while True:
        changes = await me.request("conversation.sync", cursor=cursor, limit=100)
        synced += [c.id for c in changes.conversations]
        cursor = changes.cursor
        if not changes.has_more:
            break
    assert synced == convs[::-1]

    # Every account of this test is named "user<n>": five match.
    found = await me.request("user.search", query="user", limit=50)
    assert len(found.users) == 1 and found.has_more


def test_the_largest_items_and_events_fit_the_budget() -> None:
    wide_id = "i" * limits.SESSION_ID_MAX
    url = "https://" + "u" * (limits.URL_MAX - len("https://"))
    message = messaging.MessageView(
        conversation_id=wide_id,
        seq=limits.MAX_INT,
        id=wide_id,
        kind="message",
        sender_id=wide_id,
        text=LONG_TEXT,
        media_url=url,
        created_at=1e12,
        edited_at=1e12,
        deleted=False,
        target_seq=limits.MAX_INT,
        client_key="k" * limits.CLIENT_KEY_MAX,
    )
    profile = accounts.Me(
        id=wide_id,
        username="u" * limits.USERNAME_MAX,
        display_name="\U0001f600" * limits.DISPLAY_NAME_MAX,
        bio="\U0001f600" * limits.BIO_MAX,
        avatar_url=url,
        created_at=1e12,
        email="e" * limits.EMAIL_MAX,
    )
    group = messaging.ConversationView(
        id=wide_id,
        kind="group",
        title="\U0001f600" * limits.TITLE_MAX,
        created_by=wide_id,
        created_at=1e12,
        members=[messaging.MemberView(user_id=wide_id, role="member", read_seq=limits.MAX_INT)]
        * limits.GROUP_MEMBERS_MAX,
        last_seq=limits.MAX_INT,
    )
    for item in (message, profile):
        assert len(codec.encode(item)) < pages.PAGE_BUDGET
    events = [
        messaging.MessageNew(message=message),
        accounts.ProfileUpdated(user=profile),
        messaging.ConversationUpdated(conversation=group),
    ]
    for event in events:
        wrapped = codec.encode_event_frame(limits.MAX_INT, codec.encode_event_body(event))
        assert len(wrapped) <= limits.MAX_REPLY_BYTES, type(event).__name__


# ------------------------------------------------------------------- flood


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def slow_consumer_logged(node: GroverProcess) -> bool:
    for line in node.output().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("msg") == "slow consumer closed":
            return True
    return False


async def test_a_client_that_requests_pages_without_reading_is_closed_4008_and_bounded(
    tmp_path: Path,
) -> None:
    """The issue's reproduction: 110 longest messages, then a second
    connection of that user asks for 200 pages of 100 without reading. Before
    the fix each page was 1.6 MB and the 2048-frame outbox took them all: the
    server grew by 343 MiB. Now pages are at most 256 KiB and the outbox at
    most 4 MiB, so it closes the reader with 4008 and grows by a few MiB."""
    node = GroverProcess(tmp_path / "data")
    node.start()
    writer = Client()
    try:
        await writer.connect(node.url)
        auth = await register(writer)
        other = Client()
        await other.connect(node.url)
        peer = await register(other)
        await other.close()
        conv = await writer.request("conversation.open_direct", user_id=peer.user.id)
        for batch in range(0, 110, 10):
            await asyncio.gather(
                *(
                    writer.request(
                        "message.send", conversation_id=conv.id, client_key=f"k{i}", text=LONG_TEXT
                    )
                    for i in range(batch, batch + 10)
                )
            )

        # The reader: a small kernel receive buffer and a one-frame client
        # queue, so what it does not read stays in the server.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", node.port))
        reader = await ws_connect(
            node.url, sock=sock, max_queue=1, max_size=None, compression=None, ping_interval=None
        )
        await raw_hello(reader, token=auth.token)
        assert node.proc is not None
        pid = node.proc.pid
        baseline = peak = rss_bytes(pid)

        for request_id in range(2, 202):
            history = frame(
                type="message.history", id=request_id, conversation_id=conv.id, limit=100
            )
            await reader.send(history)
        deadline = time.monotonic() + 30
        while not slow_consumer_logged(node):
            peak = max(peak, rss_bytes(pid))
            assert time.monotonic() < deadline, "not closed as a slow consumer"
            await asyncio.sleep(0.01)
        peak = max(peak, rss_bytes(pid))

        # Reading now drains what the kernel and the server's transport held,
        # then the close frame.
        received = 0
        async with asyncio.timeout(10):
            try:
                while True:
                    data = await reader.recv(decode=False)
                    assert len(data) <= limits.MAX_REPLY_BYTES
                    received += 1
            except ConnectionClosed:
                pass
        assert reader.close_code == 4008
        assert 0 < received < 200
        growth = peak - baseline
        print(f"RSS growth during the flood: {growth / 2**20:.1f} MiB ({received} pages read)")
        assert growth < 64 * 2**20, f"server grew by {growth / 2**20:.1f} MiB"
        # The node is fine.
        assert (await writer.request("ping")).server_time > 0
    finally:
        await writer.close()
        node.stop()
