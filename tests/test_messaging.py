"""Messaging over real sockets: durable, ordered, exactly-once delivery."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from actors import conversation as conversation_actor
from protocol.client import Client, GroverError
from protocol.messages import messaging
from server.app import Grover
from server.config import RateRule
from tests.conftest import Connect, StartGrover, register, ws_url
from tests.support import GroverProcess


class Inbox:
    """Collects a client's pushed events in the background."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.events: list[object] = []
        self._arrived = asyncio.Event()
        self._task = asyncio.get_running_loop().create_task(self._collect())

    async def _collect(self) -> None:
        async for event in self.client.events():
            self.events.append(event)
            self._arrived.set()

    def messages(self, conversation_id: str, kind: str = "message") -> list[messaging.MessageView]:
        return [
            e.message
            for e in self.events
            if isinstance(e, messaging.MessageNew)
            and e.message.conversation_id == conversation_id
            and e.message.kind == kind
        ]

    def of_type(self, cls: type) -> list[object]:
        return [e for e in self.events if isinstance(e, cls)]

    async def wait_for(self, predicate: object, timeout: float = 10.0) -> None:
        assert callable(predicate)
        async with asyncio.timeout(timeout):
            while not predicate():
                self._arrived.clear()
                await self._arrived.wait()

    async def stop(self) -> None:
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


@pytest.fixture
async def inboxes() -> AsyncIterator[list[Inbox]]:
    made: list[Inbox] = []
    yield made
    for inbox in made:
        await inbox.stop()


async def user(
    connect: Connect, inboxes: list[Inbox], name: str | None = None
) -> tuple[Client, str, Inbox]:
    client = await connect()
    reply = await register(client, name)
    inbox = Inbox(client)
    inboxes.append(inbox)
    return client, reply.user.id, inbox


async def direct(client: Client, other_id: str) -> messaging.ConversationView:
    view = await client.request("conversation.open_direct", user_id=other_id)
    assert isinstance(view, messaging.ConversationView)
    return view


async def send(client: Client, conversation_id: str, key: str, text: str) -> messaging.MessageAck:
    ack = await client.request(
        "message.send", conversation_id=conversation_id, client_key=key, text=text
    )
    assert isinstance(ack, messaging.MessageAck)
    return ack


# ------------------------------------------------------------- conversations


async def test_direct_conversation_is_created_once_even_when_both_race(
    connect: Connect, inboxes: list[Inbox]
) -> None:
    alice, alice_id, _ = await user(connect, inboxes)
    bob, bob_id, _ = await user(connect, inboxes)
    views = await asyncio.gather(
        *[direct(alice, bob_id) for _ in range(5)], *[direct(bob, alice_id) for _ in range(5)]
    )
    assert len({v.id for v in views}) == 1
    assert sorted(mv.user_id for mv in views[0].members) == sorted([alice_id, bob_id])
    listing = await alice.request("conversation.list")
    assert [c.id for c in listing.conversations] == [views[0].id]


async def test_two_users_exchange_many_messages_both_ways_in_order(
    connect: Connect, inboxes: list[Inbox]
) -> None:
    alice, _, alice_in = await user(connect, inboxes)
    bob, bob_id, bob_in = await user(connect, inboxes)
    alice_phone = await connect(token=alice.token)
    phone_in = Inbox(alice_phone)
    inboxes.append(phone_in)
    conv = (await direct(alice, bob_id)).id

    count = 100
    acks = await asyncio.gather(
        *[send(alice, conv, f"a{i}", f"from alice {i}") for i in range(count)],
        *[send(bob, conv, f"b{i}", f"from bob {i}") for i in range(count)],
    )
    seqs = sorted(a.seq for a in acks)
    assert seqs == list(range(1, 2 * count + 1)), "seq is gap-free and unique"

    alice_seqs = {a.seq for a in acks[:count]}
    await bob_in.wait_for(lambda: len(bob_in.messages(conv)) >= count)
    await alice_in.wait_for(lambda: len(alice_in.messages(conv)) >= count)
    await phone_in.wait_for(lambda: len(phone_in.messages(conv)) >= 2 * count)
    # Each side sees the other's messages once, in seq order; the sending
    # session has acks instead of events, the sender's other device has all.
    assert [v.seq for v in bob_in.messages(conv)] == sorted(alice_seqs)
    assert [v.seq for v in alice_in.messages(conv)] == sorted(set(seqs) - alice_seqs)
    assert [v.seq for v in phone_in.messages(conv)] == seqs
    texts = {v.seq: v.text for v in phone_in.messages(conv)}
    assert all(texts[a.seq] == f"from alice {i}" for i, a in enumerate(acks[:count]))


async def test_group_of_fifty_every_member_gets_every_message_once_in_order_across_reconnects(
    start_grover: StartGrover,
) -> None:
    grover = await start_grover(
        rate_request=RateRule(100_000, 100_000), rate_connect=RateRule(1000, 1000)
    )
    url = ws_url(grover)
    clients: list[Client] = []
    ids: list[str] = []
    for _ in range(50):
        client = Client()
        await client.connect(url)
        reply = await register(client)
        clients.append(client)
        ids.append(reply.user.id)
    inboxes = [Inbox(c) for c in clients]
    try:
        group = await clients[0].request(
            "conversation.create_group", title="fifty", member_ids=ids[1:]
        )
        assert len(group.members) == 50
        senders = clients[:3]
        per_sender = 30
        rng = random.Random(7)

        async def chaos() -> None:
            # Drop members' sockets mid-stream; the SDK reconnects and resumes.
            for _ in range(12):
                await asyncio.sleep(0.02)
                await rng.choice(clients[3:]).drop()

        async def stream(sender: Client, n: int) -> list[messaging.MessageAck]:
            return [
                await send(sender, group.id, f"k{n}-{i}", f"m{n}-{i}") for i in range(per_sender)
            ]

        results = await asyncio.gather(*(stream(s, n) for n, s in enumerate(senders)), chaos())
        acked = {n: {a.seq for a in results[n]} for n in range(3)}
        total = 3 * per_sender
        everything = list(range(1, total + 1))
        assert sorted(set().union(*acked.values())) == everything

        for index, inbox in enumerate(inboxes):
            own = acked.get(index, set())
            expected = [s for s in everything if s not in own]
            await inbox.wait_for(
                lambda inbox=inbox, expected=expected: (
                    len(inbox.messages(group.id)) >= len(expected)
                ),
                timeout=20,
            )
            got = [v.seq for v in inbox.messages(group.id)]
            assert got == expected, f"member {index} got {got}"
    finally:
        for inbox in inboxes:
            await inbox.stop()
        for client in clients:
            await client.close()


# ------------------------------------------------------------- idempotency


async def test_retry_with_the_same_key_returns_the_original_and_delivers_once(
    connect: Connect, inboxes: list[Inbox]
) -> None:
    alice, _, _ = await user(connect, inboxes)
    bob, bob_id, bob_in = await user(connect, inboxes)
    conv = (await direct(alice, bob_id)).id
    first = await send(alice, conv, "same-key", "hello")
    again = await send(alice, conv, "same-key", "hello (retry)")
    racing = await asyncio.gather(*[send(alice, conv, "race-key", "x") for _ in range(5)])
    assert not first.duplicate and again.duplicate
    assert (again.id, again.seq) == (first.id, first.seq)
    assert len({(a.id, a.seq) for a in racing}) == 1
    assert sum(not a.duplicate for a in racing) == 1
    page = await bob.request("message.history", conversation_id=conv)
    assert [v.text for v in page.messages] == ["x", "hello"]
    await bob_in.wait_for(lambda: len(bob_in.messages(conv)) >= 2)
    await asyncio.sleep(0.1)
    assert [v.client_key for v in bob_in.messages(conv)] == ["same-key", "race-key"]


async def test_retry_after_restart_is_recognized_from_the_store(
    start_grover: StartGrover, tmp_path: Path
) -> None:
    data = tmp_path / "shared"
    grover = await start_grover(data_dir=data)
    alice = Client()
    await alice.connect(ws_url(grover))
    await register(alice)
    bob = Client()
    await bob.connect(ws_url(grover))
    bob_id = (await register(bob)).user.id
    conv = (await direct(alice, bob_id)).id
    first = await send(alice, conv, "k-restart", "before restart")
    await alice.close()
    await bob.close()
    await grover.stop()

    again_node = await start_grover(data_dir=data)
    again = Client()
    await again.connect(ws_url(again_node), token=alice.token)
    retry = await send(again, conv, "k-restart", "after restart")
    assert retry.duplicate and (retry.id, retry.seq) == (first.id, first.seq)
    fresh = await send(again, conv, "k-new", "next")
    assert fresh.seq == first.seq + 1
    await again.close()


async def test_retry_of_a_key_older_than_hot_state_is_caught_by_the_unique_index(
    start_grover: StartGrover, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Activation loads only the last two entries' keys, so the first message's
    # key is known to the store alone.
    monkeypatch.setattr(conversation_actor, "RECENT_MESSAGES", 2)
    data = tmp_path / "window"
    grover = await start_grover(data_dir=data)
    alice = Client()
    await alice.connect(ws_url(grover))
    await register(alice)
    bob = Client()
    await bob.connect(ws_url(grover))
    bob_id = (await register(bob)).user.id
    conv = (await direct(alice, bob_id)).id
    acks = [await send(alice, conv, f"w{i}", f"w{i}") for i in range(5)]
    await alice.close()
    await bob.close()
    await grover.stop()

    again = await start_grover(data_dir=data)
    client = Client()
    await client.connect(ws_url(again), token=alice.token)
    retry, fresh = await asyncio.gather(
        send(client, conv, "w0", "w0 again"), send(client, conv, "w5", "w5")
    )
    assert retry.duplicate and (retry.id, retry.seq) == (acks[0].id, acks[0].seq)
    assert not fresh.duplicate and fresh.seq == 6, "renumbered without a gap"
    log = await client.request("message.since", conversation_id=conv, after_seq=0)
    assert [v.client_key for v in log.messages] == [f"w{i}" for i in range(6)]
    await client.close()


# ------------------------------------------------------- edits and deletes


async def test_edit_and_delete_are_events_and_history_shows_the_current_state(
    connect: Connect, inboxes: list[Inbox]
) -> None:
    alice, _, _ = await user(connect, inboxes)
    bob, bob_id, bob_in = await user(connect, inboxes)
    conv = (await direct(alice, bob_id)).id
    one = await send(alice, conv, "e1", "frist")
    two = await send(alice, conv, "e2", "oops")
    edit = await alice.request("message.edit", conversation_id=conv, seq=one.seq, text="first")
    gone = await alice.request("message.delete", conversation_id=conv, seq=two.seq)
    assert (edit.seq, gone.seq) == (3, 4)

    with pytest.raises(GroverError) as refused:
        await bob.request("message.edit", conversation_id=conv, seq=one.seq, text="mine now")
    assert refused.value.code == "forbidden"
    with pytest.raises(GroverError) as deleted:
        await alice.request("message.edit", conversation_id=conv, seq=two.seq, text="back")
    assert deleted.value.code == "not_found"

    await bob_in.wait_for(lambda: len(bob_in.of_type(messaging.MessageNew)) >= 4)
    kinds = [(e.message.kind, e.message.target_seq) for e in bob_in.of_type(messaging.MessageNew)]
    assert kinds == [("message", None), ("message", None), ("edit", 1), ("delete", 2)]
    page = await bob.request("message.history", conversation_id=conv)
    assert [(v.seq, v.text, v.deleted, v.edited_at is not None) for v in page.messages] == [
        (2, "", True, False),
        (1, "first", False, True),
    ]
    log = await bob.request("message.since", conversation_id=conv, after_seq=0)
    assert [v.kind for v in log.messages] == ["message", "message", "edit", "delete"]


# ---------------------------------------------------- receipts and typing


async def test_read_receipts_unread_counts_and_typing(
    connect: Connect, inboxes: list[Inbox]
) -> None:
    alice, alice_id, alice_in = await user(connect, inboxes)
    bob, bob_id, bob_in = await user(connect, inboxes)
    conv = (await direct(alice, bob_id)).id
    for i in range(3):
        await send(alice, conv, f"r{i}", f"msg {i}")
    listing = await bob.request("conversation.list")
    assert [(c.unread, c.last_preview, c.last_sender_id) for c in listing.conversations] == [
        (3, "msg 2", alice_id)
    ]
    await bob.request("conversation.mark_read", conversation_id=conv, seq=2)
    await alice_in.wait_for(lambda: bool(alice_in.of_type(messaging.ReadReceipt)))
    receipt = alice_in.of_type(messaging.ReadReceipt)[0]
    assert isinstance(receipt, messaging.ReadReceipt)
    assert (receipt.user_id, receipt.seq) == (bob_id, 2)
    assert (await bob.request("conversation.list")).conversations[0].unread == 1
    # Read marks never go backwards.
    await bob.request("conversation.mark_read", conversation_id=conv, seq=1)
    view = await bob.request("conversation.get", conversation_id=conv)
    assert {mv.user_id: mv.read_seq for mv in view.members}[bob_id] == 2

    await alice.request("typing.start", conversation_id=conv)
    await bob_in.wait_for(lambda: bool(bob_in.of_type(messaging.TypingEvent)))
    assert not alice_in.of_type(messaging.TypingEvent)
    log = await bob.request("message.since", conversation_id=conv, after_seq=0)
    assert len(log.messages) == 3, "typing is never stored"
    with pytest.raises(GroverError) as limited:
        for _ in range(20):
            await alice.request("typing.start", conversation_id=conv)
    assert limited.value.code == "rate_limited" and limited.value.retry_after


# ------------------------------------------------------------ history & sync


async def test_history_pages_backwards_and_sync_catches_up(
    connect: Connect, inboxes: list[Inbox]
) -> None:
    alice, _, _ = await user(connect, inboxes)
    bob, bob_id, _ = await user(connect, inboxes)
    conv = (await direct(alice, bob_id)).id
    for i in range(25):
        await send(alice, conv, f"h{i}", f"h{i}")
    seen: list[int] = []
    before = None
    while True:
        page = await bob.request(
            "message.history", conversation_id=conv, before_seq=before, limit=10
        )
        seen += [v.seq for v in page.messages]
        if not page.has_more:
            break
        before = page.messages[-1].seq
    assert seen == list(range(25, 0, -1))
    with pytest.raises(GroverError) as too_big:
        await bob.request("message.history", conversation_id=conv, limit=1000)
    assert too_big.value.code == "invalid_field"

    changes = await bob.request("conversation.sync")
    assert [(c.id, c.last_seq) for c in changes.conversations] == [(conv, 25)]
    tail = await bob.request("message.since", conversation_id=conv, after_seq=20)
    assert [v.seq for v in tail.messages] == [21, 22, 23, 24, 25]
    quiet = await bob.request("conversation.sync", cursor=changes.cursor)
    assert quiet.conversations == [] and quiet.cursor == changes.cursor
    await send(alice, conv, "h25", "once more")
    later = await bob.request("conversation.sync", cursor=changes.cursor)
    assert [(c.id, c.last_seq) for c in later.conversations] == [(conv, 26)]


async def test_conversation_list_pages_by_last_activity(
    connect: Connect, inboxes: list[Inbox]
) -> None:
    me, _, _ = await user(connect, inboxes)
    convs = []
    for _ in range(5):
        _, other_id, _ = await user(connect, inboxes)
        convs.append((await direct(me, other_id)).id)
    for i, conv in enumerate(reversed(convs)):
        await send(me, conv, f"c{i}", "hi")
    order: list[str] = []
    cursor = None
    while True:
        page = await me.request("conversation.list", cursor=cursor, limit=2)
        order += [c.id for c in page.conversations]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert order == convs, "most recent activity first"


# ------------------------------------------------------------ authorization


async def test_non_members_are_refused_everything_and_nothing_changes(
    connect: Connect, inboxes: list[Inbox], grover: Grover
) -> None:
    alice, _, _ = await user(connect, inboxes)
    _, bob_id, _ = await user(connect, inboxes)
    eve, eve_id, eve_in = await user(connect, inboxes)
    group = await alice.request("conversation.create_group", title="g", member_ids=[bob_id])
    await send(alice, group.id, "g1", "secret")
    c = group.id
    attempts = [
        ("message.send", {"conversation_id": c, "client_key": "e", "text": "hi"}),
        ("message.edit", {"conversation_id": c, "seq": 1, "text": "pwned"}),
        ("message.delete", {"conversation_id": c, "seq": 1}),
        ("message.history", {"conversation_id": c}),
        ("message.since", {"conversation_id": c, "after_seq": 0}),
        ("conversation.mark_read", {"conversation_id": c, "seq": 1}),
        ("typing.start", {"conversation_id": c}),
        ("conversation.get", {"conversation_id": c}),
        ("conversation.add_members", {"conversation_id": c, "user_ids": [eve_id]}),
        ("conversation.remove_member", {"conversation_id": c, "user_id": bob_id}),
        ("conversation.leave", {"conversation_id": c}),
    ]
    for kind, fields in attempts:
        with pytest.raises(GroverError) as refused:
            await eve.request(kind, **fields)
        assert refused.value.code in ("not_found", "forbidden"), kind
    view = await alice.request("conversation.get", conversation_id=c)
    assert sorted(mv.user_id for mv in view.members) == sorted([view.created_by, bob_id])
    assert view.last_seq == 1
    page = await alice.request("message.history", conversation_id=c)
    assert [(v.text, v.deleted) for v in page.messages] == [("secret", False)]
    assert not eve_in.of_type(messaging.MessageNew)


async def test_only_admins_manage_a_group(connect: Connect, inboxes: list[Inbox]) -> None:
    admin, _, _ = await user(connect, inboxes)
    bob, bob_id, bob_in = await user(connect, inboxes)
    _, carol_id, carol_in = await user(connect, inboxes)
    _, dave_id, _ = await user(connect, inboxes)
    group = await admin.request(
        "conversation.create_group", title="club", member_ids=[bob_id, carol_id]
    )
    for kind, fields in [
        ("conversation.add_members", {"conversation_id": group.id, "user_ids": [dave_id]}),
        ("conversation.remove_member", {"conversation_id": group.id, "user_id": carol_id}),
    ]:
        with pytest.raises(GroverError) as refused:
            await bob.request(kind, **fields)
        assert refused.value.code == "forbidden"
    assert len((await bob.request("conversation.get", conversation_id=group.id)).members) == 3

    added = await admin.request(
        "conversation.add_members", conversation_id=group.id, user_ids=[dave_id]
    )
    assert dave_id in {mv.user_id for mv in added.members}
    removed = await admin.request(
        "conversation.remove_member", conversation_id=group.id, user_id=carol_id
    )
    assert carol_id not in {mv.user_id for mv in removed.members}
    await carol_in.wait_for(
        lambda: any(
            getattr(e, "removed", False) for e in carol_in.of_type(messaging.ConversationUpdated)
        )
    )
    await send(admin, group.id, "after", "carol is gone")
    await bob_in.wait_for(lambda: len(bob_in.messages(group.id)) == 1)
    assert not carol_in.messages(group.id)

    await bob.request("conversation.leave", conversation_id=group.id)
    with pytest.raises(GroverError):
        await bob.request("message.history", conversation_id=group.id)


async def test_group_size_is_bounded(start_grover: StartGrover) -> None:
    grover = await start_grover(group_max_members=3)
    owner = Client()
    await owner.connect(ws_url(grover))
    await register(owner)
    others = []
    for _ in range(3):
        c = Client()
        await c.connect(ws_url(grover))
        others.append((await register(c)).user.id)
        await c.close()
    with pytest.raises(GroverError) as refused:
        await owner.request("conversation.create_group", title="big", member_ids=others)
    assert refused.value.code == "forbidden"
    group = await owner.request("conversation.create_group", title="ok", member_ids=others[:2])
    with pytest.raises(GroverError):
        await owner.request(
            "conversation.add_members", conversation_id=group.id, user_ids=others[2:]
        )
    await owner.close()


async def test_blocking_stops_direct_messages_from_the_blocked_user(
    connect: Connect, inboxes: list[Inbox]
) -> None:
    alice, alice_id, _ = await user(connect, inboxes)
    bob, bob_id, _ = await user(connect, inboxes)
    conv = (await direct(alice, bob_id)).id
    await send(alice, conv, "before", "hi bob")
    await bob.request("user.block", user_id=alice_id)
    with pytest.raises(GroverError) as refused:
        await send(alice, conv, "blocked", "hello?")
    assert refused.value.code == "forbidden"
    assert (await bob.request("message.history", conversation_id=conv)).messages[0].text == "hi bob"
    await bob.request("user.unblock", user_id=alice_id)
    assert (await send(alice, conv, "after", "friends again")).seq == 2


# --------------------------------------------------------------- durability


@pytest.mark.slow
async def test_every_acked_message_survives_sigkill(tmp_path: Path) -> None:
    node = GroverProcess(tmp_path / "data")
    node.start()
    try:
        alice = Client(reconnect=False)
        await alice.connect(node.url)
        await register(alice)
        bob = Client(reconnect=False)
        await bob.connect(node.url)
        bob_id = (await register(bob)).user.id
        conv = (await direct(alice, bob_id)).id
        await bob.close()

        acked: dict[int, str] = {}

        async def sender(n: int) -> None:
            for i in range(1000):
                key = f"s{n}-{i}"
                try:
                    ack = await send(alice, conv, key, key)
                except Exception:
                    return
                acked[ack.seq] = key
                if len(acked) >= 300:
                    node.kill()  # right after an ack, with more in flight
                    return

        await asyncio.gather(*(sender(n) for n in range(8)))
        assert len(acked) >= 300
        await alice.close()
    finally:
        node.kill()

    node.start()
    try:
        reader = Client(reconnect=False)
        await reader.connect(node.url, token=alice.token)
        stored: dict[int, str] = {}
        after = 0
        while True:
            page = await reader.request(
                "message.since", conversation_id=conv, after_seq=after, limit=100
            )
            stored.update({v.seq: v.client_key or "" for v in page.messages})
            if not page.has_more:
                break
            after = page.messages[-1].seq
        await reader.close()
    finally:
        node.stop()
    missing = {seq: key for seq, key in acked.items() if stored.get(seq) != key}
    assert not missing, f"acked but lost: {sorted(missing)[:10]}"
    assert sorted(stored) == list(range(1, len(stored) + 1)), "the log is gap-free"
