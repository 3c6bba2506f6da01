"""Handlers without a socket (see :mod:`tests.harness`)."""

from __future__ import annotations

import asyncio
import gc
import time
import tracemalloc
from dataclasses import dataclass
from typing import Any

import pytest

from actors.conversation import ConversationActor
from actors.ids import new_id
from actors.messaging import conversation_key, direct_conversation_id
from actors.store import Store
from actors.store.accounts import UserRecord
from actors.store.messaging import ConversationRecord, MemberRecord
from actors.user import GetUser, ListSessions, user_key
from protocol import frames
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import accounts, messaging, session
from server.context import Caller, Services, merge_handlers
from tests.harness import Node, events, next_id

# ------------------------------------------------------------ the caller


async def test_register_logs_the_session_in_and_attaches_it(node: Node) -> None:
    caller = await node.user("ada")
    assert caller.user_id is not None
    sessions = await node.services.actors.ask(user_key(caller.user()), ListSessions())
    assert sessions == [caller.ref]
    await node.call(caller, accounts.Logout)
    assert caller.user_id is None


async def test_profile_update_reaches_the_users_other_sessions_only(node: Node) -> None:
    first = await node.user("grace")
    second = node.caller()
    await node.call(second, accounts.Login, login="grace", password="x" * 8)
    me = await node.call(first, accounts.UpdateProfile, bio="COBOL")
    assert me.bio == "COBOL"
    await asyncio.sleep(0.05)  # the push is told, not asked
    assert [type(e) for e in events(first)] == []
    assert [e.user.bio for e in events(second)] == ["COBOL"]


def test_a_request_type_handled_twice_is_refused() -> None:
    async def one(services: Services, caller: Caller, request: Any) -> frames.Empty:
        return frames.Empty()

    with pytest.raises(ValueError, match="Ping has two handlers"):
        merge_handlers({session.Ping: one}, {accounts.Login: one}, {session.Ping: one})


# --------------------------------------------- direct conversations (defect)


async def test_direct_conversation_opens_after_its_actor_woke_before_it_existed(
    node: Node,
) -> None:
    """Blocking and unblocking (or a conv.get of the derived id) wakes the pair's
    conversation actor before the conversation exists; opening it must still
    work, because the actor itself creates it."""
    alice, bob = await node.user(), await node.user()
    derived = direct_conversation_id(alice.user(), bob.user())
    await node.call(bob, accounts.BlockUser, user_id=alice.user())
    await node.call(bob, accounts.UnblockUser, user_id=alice.user())
    for _ in range(2):
        with pytest.raises(ProtocolError) as refused:
            await node.call(alice, messaging.GetConversation, conversation_id=derived)
        assert refused.value.code is ErrorCode.NOT_FOUND
    # Nothing to keep warm for a conversation that does not exist.
    assert not node.services.actors.is_active(conversation_key(derived))
    view = await node.call(alice, messaging.OpenDirect, user_id=bob.user())
    assert view.id == derived
    assert sorted(member.user_id for member in view.members) == sorted([alice.user(), bob.user()])
    again = await node.call(bob, messaging.OpenDirect, user_id=alice.user())
    assert again.id == derived
    await asyncio.sleep(0.05)
    assert [e.conversation.id for e in events(bob)] == [derived]  # announced once


async def test_direct_conversation_with_a_missing_user_is_not_found(node: Node) -> None:
    alice = await node.user()
    with pytest.raises(ProtocolError) as refused:
        await node.call(alice, messaging.OpenDirect, user_id=new_id())
    assert refused.value.code is ErrorCode.NOT_FOUND


# ------------------------------------------------------------------ groups


async def test_last_admin_leaving_promotes_the_oldest_member_in_the_same_write(
    node: Node,
) -> None:
    alice, bob, carol = await node.user(), await node.user(), await node.user()
    group = await node.call(
        alice, messaging.CreateGroup, title="g", member_ids=[bob.user(), carol.user()]
    )
    ack = await node.call(
        alice, messaging.SendMessage, conversation_id=group.id, client_key="k", text="hi"
    )
    heir = min([bob, carol], key=lambda c: c.user())
    # The heir's read mark and the admin's departure meet in one mailbox.
    await asyncio.gather(
        node.call(heir, messaging.MarkRead, conversation_id=group.id, seq=ack.seq),
        node.call(alice, messaging.LeaveConversation, conversation_id=group.id),
    )
    stored = {r.user_id: r for r in await node.store.conversations.members(group.id)}
    assert set(stored) == {bob.user(), carol.user()}
    assert stored[heir.user()].role == "admin"
    assert stored[heir.user()].read_seq == ack.seq
    view = await node.call(heir, messaging.GetConversation, conversation_id=group.id)
    assert {(r.user_id, r.role) for r in view.members} == {
        (bob.user(), "admin" if heir is bob else "member"),
        (carol.user(), "admin" if heir is carol else "member"),
    }


async def test_committed_keys_keep_only_their_seq(node: Node) -> None:
    """The window of recent client keys must not hold whole entries (their
    recipient lists and futures) once committed: in a 100-member group that
    was about 4.4 MB per busy conversation."""
    sender = await node.user()
    members = [
        UserRecord(
            id=new_id(),
            username=f"m{next_id()}",
            email=f"m{next_id()}@example.com",
            password_hash="-",
            created_at=time.time(),
        )
        for _ in range(99)
    ]
    for record in members:
        await node.store.users.create(record)
    group = await node.call(
        sender, messaging.CreateGroup, title="big", member_ids=[r.id for r in members]
    )
    acks = await asyncio.gather(
        *(
            node.call(
                sender,
                messaging.SendMessage,
                conversation_id=group.id,
                client_key=f"k{i}",
                text="x",
            )
            for i in range(300)
        )
    )
    actor: ConversationActor = node.actor(conversation_key(group.id))
    assert len(actor._keys) == 300
    assert sorted(actor._keys.values()) == sorted(a.seq for a in acks)
    retry = await node.call(
        sender, messaging.SendMessage, conversation_id=group.id, client_key="k7", text="x"
    )
    assert retry.duplicate and retry.seq == acks[7].seq and retry.id == acks[7].id


# ----------------------------------------------------------- conversation lists


async def _conversations_at_one_instant(store: Store, user_id: str, count: int) -> list[str]:
    """Conversations that all changed at the same moment (written straight to
    the store: only their reading is under test here)."""
    stamp = time.time()
    ids = []
    for _ in range(count):
        conversation_id = new_id()
        await store.conversations.create(
            ConversationRecord(
                id=conversation_id,
                kind="group",
                title="t",
                created_by=user_id,
                created_at=stamp,
                last_activity_at=stamp,
            ),
            [MemberRecord(conversation_id=conversation_id, user_id=user_id, joined_at=stamp)],
        )
        ids.append(conversation_id)
    return ids


async def test_sync_pages_past_conversations_that_changed_at_the_same_time(node: Node) -> None:
    me = await node.user()
    expected = await _conversations_at_one_instant(node.store, me.user(), 7)
    seen: list[str] = []
    cursor = None
    for _ in range(10):
        page = await node.call(me, messaging.SyncChanges, cursor=cursor, limit=3)
        seen += [c.id for c in page.conversations]
        cursor = page.cursor
        if not page.has_more:
            break
    assert sorted(seen) == sorted(expected)
    assert len(seen) == len(set(seen))
    later = await node.call(me, messaging.SyncChanges, cursor=cursor, limit=3)
    assert later.conversations == [] and later.cursor == cursor


async def test_conversation_list_counts_unread_per_conversation(node: Node) -> None:
    alice, bob, carol = await node.user(), await node.user(), await node.user()
    with_bob = await node.call(alice, messaging.OpenDirect, user_id=bob.user())
    with_carol = await node.call(alice, messaging.OpenDirect, user_id=carol.user())
    for i in range(3):
        await node.call(
            bob, messaging.SendMessage, conversation_id=with_bob.id, client_key=f"b{i}", text="hi"
        )
    await node.call(
        carol, messaging.SendMessage, conversation_id=with_carol.id, client_key="c", text="hi"
    )
    await node.call(
        alice, messaging.SendMessage, conversation_id=with_carol.id, client_key="a", text="hi"
    )
    page = await node.call(alice, messaging.ListConversations, limit=10)
    assert {c.id: c.unread for c in page.conversations} == {with_bob.id: 3, with_carol.id: 1}


# ---------------------------------------------- requests for unknown ids


async def _unknown_id_requests(node: Node, caller: Caller, rounds: int) -> None:
    """Every conversation request that takes an id, each with a fresh random
    id, as someone probing (or a buggy client) would send; all refused."""
    for i in range(rounds):
        for request_type, fields in [
            (messaging.GetConversation, {}),
            (messaging.SendMessage, {"client_key": f"k{i}", "text": "hi"}),
            (messaging.EditMessage, {"seq": 1, "text": "x"}),
            (messaging.DeleteMessage, {"seq": 1}),
            (messaging.MarkRead, {"seq": 1}),
            (messaging.Typing, {}),
            (messaging.AddMembers, {"user_ids": [caller.user()]}),
            (messaging.RemoveMember, {"user_id": caller.user()}),
            (messaging.LeaveConversation, {}),
        ]:
            with pytest.raises(ProtocolError) as refused:
                await node.call(caller, request_type, conversation_id=new_id(), **fields)
            assert refused.value.code is ErrorCode.NOT_FOUND


async def test_requests_for_unknown_conversations_leave_no_activation_behind(
    node: Node,
) -> None:
    me = await node.user()
    actors = node.services.actors
    resident = set(actors.active_keys())  # the caller's own user actor
    started = actors.activation_count
    await _unknown_id_requests(node, me, rounds=20)
    # Each request activated an actor (it had to look), and none stayed.
    assert actors.activation_count - started == 20 * 9
    assert set(actors.active_keys()) == resident
    assert not actors._ending  # white-box: every ended activation is gone, lease released


async def test_memory_does_not_grow_with_requests_for_unknown_conversations(
    node: Node,
) -> None:
    me = await node.user()
    await _unknown_id_requests(node, me, rounds=20)  # warm up caches and lazy imports
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.take_snapshot()
        await _unknown_id_requests(node, me, rounds=100)
        gc.collect()
        after = tracemalloc.take_snapshot()
    finally:
        tracemalloc.stop()
    # Typing notices take a rate-limit bucket per (user, conversation): that
    # table is bounded and pruned on its own, and not what is measured here.
    ignore = [tracemalloc.Filter(False, "*/server/ratelimit.py")]
    grown = sum(
        stat.size_diff
        for stat in after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "filename")
    )
    # 900 requests; a resident activation was about 10 KB each (9 MB in all).
    # What may remain is noise of the allocator and interpreter caches.
    assert grown < 900 * 200, f"{grown} bytes kept after 900 requests"


async def test_an_unknown_user_actor_does_not_stay_resident(node: Node) -> None:
    actors = node.services.actors
    for _ in range(50):
        with pytest.raises(ProtocolError) as refused:
            await actors.ask(user_key(new_id()), GetUser())
        assert refused.value.code is ErrorCode.NOT_FOUND
    assert actors.active_keys() == []


async def test_a_conversation_created_by_its_actor_stays_resident(node: Node) -> None:
    """The other side of the rule: once OpenDirect or CreateGroup created it,
    the conversation exists and its activation keeps its hot state."""
    alice, bob = await node.user(), await node.user()
    actors = node.services.actors
    direct = await node.call(alice, messaging.OpenDirect, user_id=bob.user())
    group = await node.call(alice, messaging.CreateGroup, title="g", member_ids=[bob.user()])
    assert actors.is_active(conversation_key(direct.id))
    assert actors.is_active(conversation_key(group.id))
    # A failed creation (an unknown member) leaves nothing behind.
    with pytest.raises(ProtocolError):
        await node.call(alice, messaging.OpenDirect, user_id=new_id())
    with pytest.raises(ProtocolError):
        await node.call(alice, messaging.CreateGroup, title="g", member_ids=[new_id()])
    conversations = {k for k in actors.active_keys() if k.kind == "conversation"}
    assert conversations == {conversation_key(direct.id), conversation_key(group.id)}


# ------------------------------------------------------------------ blocks


@dataclass
class BlockedPair:
    blocker: Caller
    blocked: Caller
    direct_id: str
    group_id: str
    seqs: dict[tuple[str, str], int]
    """Each side's own message, by (conversation id, ``"blocker"``/``"blocked"``)."""


@pytest.fixture
async def blocked_pair(node: Node) -> BlockedPair:
    """Two users with a direct conversation and a group of their own, each
    holding one message from each, read by both up to seq 1; then one blocks
    the other."""
    blocker, blocked = await node.user(), await node.user()
    direct = await node.call(blocker, messaging.OpenDirect, user_id=blocked.user())
    group = await node.call(blocker, messaging.CreateGroup, title="g", member_ids=[blocked.user()])
    seqs = {}
    for conversation_id in (direct.id, group.id):
        for name, caller in [("blocker", blocker), ("blocked", blocked)]:
            ack = await node.call(
                caller,
                messaging.SendMessage,
                conversation_id=conversation_id,
                client_key=name,
                text=name,
            )
            seqs[conversation_id, name] = ack.seq
        for caller in (blocker, blocked):
            await node.call(caller, messaging.MarkRead, conversation_id=conversation_id, seq=1)
    await node.call(blocker, accounts.BlockUser, user_id=blocked.user())
    await asyncio.sleep(0.05)  # pushes are told: let them land before tests count events
    return BlockedPair(blocker, blocked, direct.id, group.id, seqs)


BLOCKED_ACTIONS: dict[str, Any] = {
    "edit": lambda seq: (messaging.EditMessage, {"seq": seq, "text": "changed"}),
    "delete": lambda seq: (messaging.DeleteMessage, {"seq": seq}),
    "typing": lambda seq: (messaging.Typing, {}),
    "mark_read": lambda seq: (messaging.MarkRead, {"seq": 2}),
}


async def _conversation_state(node: Node, conversation_id: str) -> Any:
    log = await node.store.messages.since(conversation_id, 0, 100)
    members = await node.store.conversations.members(conversation_id)
    return [(r.seq, r.kind, r.text) for r in log], sorted((r.user_id, r.read_seq) for r in members)


@pytest.mark.parametrize("action", sorted(BLOCKED_ACTIONS))
@pytest.mark.parametrize("side", ["blocked", "blocker"])
async def test_a_block_refuses_every_direct_action_of_either_side_but_not_in_groups(
    node: Node, blocked_pair: BlockedPair, side: str, action: str
) -> None:
    pair = blocked_pair
    actor, other = (
        (pair.blocked, pair.blocker) if side == "blocked" else (pair.blocker, pair.blocked)
    )
    request_type, fields = BLOCKED_ACTIONS[action](pair.seqs[pair.direct_id, side])
    before = await _conversation_state(node, pair.direct_id)
    seen = len(events(other))
    with pytest.raises(ProtocolError) as refused:
        await node.call(actor, request_type, conversation_id=pair.direct_id, **fields)
    assert refused.value.code is ErrorCode.FORBIDDEN
    await asyncio.sleep(0.05)
    assert await _conversation_state(node, pair.direct_id) == before
    assert events(other)[seen:] == []
    # Reading stays possible.
    await node.call(actor, messaging.GetConversation, conversation_id=pair.direct_id)

    # In the group they share the same action goes through and reaches the other.
    request_type, fields = BLOCKED_ACTIONS[action](pair.seqs[pair.group_id, side])
    await node.call(actor, request_type, conversation_id=pair.group_id, **fields)
    await asyncio.sleep(0.05)
    assert len(events(other)) == seen + 1

    # Unblocking lifts the freeze.
    await node.call(pair.blocker, accounts.UnblockUser, user_id=pair.blocked.user())
    request_type, fields = BLOCKED_ACTIONS[action](pair.seqs[pair.direct_id, side])
    await node.call(actor, request_type, conversation_id=pair.direct_id, **fields)


async def test_a_block_between_strangers_stops_opening_a_direct_conversation(
    node: Node,
) -> None:
    blocker, blocked = await node.user(), await node.user()
    await node.call(blocker, accounts.BlockUser, user_id=blocked.user())
    derived = direct_conversation_id(blocker.user(), blocked.user())
    for caller, other in [(blocked, blocker), (blocker, blocked)]:
        with pytest.raises(ProtocolError) as refused:
            await node.call(caller, messaging.OpenDirect, user_id=other.user())
        assert refused.value.code is ErrorCode.FORBIDDEN
    await asyncio.sleep(0.05)
    assert await node.store.conversations.get(derived) is None
    assert events(blocker) == [] and events(blocked) == []
    await node.call(blocker, accounts.UnblockUser, user_id=blocked.user())
    view = await node.call(blocked, messaging.OpenDirect, user_id=blocker.user())
    assert view.id == derived
