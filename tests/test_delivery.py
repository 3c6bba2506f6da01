"""Each live entry reaches a session once and in order, whatever the path
does: repeats are dropped, gaps are filled from the log, and what cannot be
recovered makes the session re-sync (see server/gateway/ordering.py).

Entries are stored by real sends; the path's faults are played by pushing
deliveries to a session in the order a fault would (a session that is not
attached to its user's actor gets nothing else)."""

from __future__ import annotations

import asyncio
import time

from actors.messaging import message_view
from actors.sessions import Delivery
from actors.user import Detach, user_key
from protocol.client import Client, Resync
from protocol.codec import encode_event_body
from protocol.errors import CloseCode
from protocol.messages import messaging
from server.app import Grover
from server.context import Caller
from server.gateway import ordering
from server.gateway.sessions import Session
from tests.conftest import register, ws_url
from tests.harness import Node, events, next_id


async def _conversation(node: Node) -> tuple[str, Caller, str]:
    """A direct conversation: its id, alice (a caller) and bob's user id."""
    alice, bob = await node.user(), await node.user()
    view = await node.call(alice, messaging.OpenDirect, user_id=bob.user())
    return view.id, alice, bob.user()


async def _send(node: Node, sender: Caller, conversation_id: str, count: int) -> list[int]:
    seqs = []
    for _ in range(count):
        ack = await node.call(
            sender,
            messaging.SendMessage,
            conversation_id=conversation_id,
            client_key=f"k{next_id()}",
            text="hi",
        )
        seqs.append(ack.seq)
    return seqs


def _watcher(node: Node, user_id: str, attached_at: float | None = None) -> Session:
    """A session of ``user_id`` that its user's actor does not know: it gets
    only what a test pushes to it."""
    session = node.sessions.create()
    session.log_in(user_id, None)
    if attached_at is not None:
        session.attached_at = attached_at
    return session


async def _delivery(node: Node, conversation_id: str, seq: int) -> Delivery:
    record = await node.store.messages.get(conversation_id, seq)
    assert record is not None
    body = encode_event_body(messaging.MessageNew(message=message_view(record)))
    return Delivery(body, None, conversation_id, seq)


def _shown(session: Session) -> list[int]:
    return [e.message.seq for e in events(session) if isinstance(e, messaging.MessageNew)]


async def _settled(node: Node) -> None:
    for _ in range(50):
        await asyncio.sleep(0.01)
        if not node.sessions.orderer._tasks:
            return


async def test_repeats_are_dropped_and_a_gap_is_filled_from_the_log(node: Node) -> None:
    conversation, alice, bob = await _conversation(node)
    session = _watcher(node, bob)
    seqs = await _send(node, alice, conversation, 6)
    push = node.sessions.push
    for seq in (1, 1, 4, 2, 3, 4, 5, 3, 6, 6):
        push(session.ref, await _delivery(node, conversation, seq))
        await _settled(node)
    assert _shown(session) == seqs == [1, 2, 3, 4, 5, 6]
    assert node.sessions.orderer.repeats == 6  # 1, 2, 3, 4, 3 and 6 again


async def test_entries_behind_a_gap_wait_for_its_repair(node: Node) -> None:
    conversation, alice, bob = await _conversation(node)
    session = _watcher(node, bob)
    await _send(node, alice, conversation, 5)
    push = node.sessions.push
    push(session.ref, await _delivery(node, conversation, 1))
    await _settled(node)
    # 3 opens a gap; 5 and 4 arrive while the log is being read.
    for seq in (3, 5, 4):
        push(session.ref, await _delivery(node, conversation, seq))
    await _settled(node)
    assert _shown(session) == [1, 2, 3, 4, 5]


async def test_the_first_entry_of_a_stream_brings_what_was_missed_since_login(
    node: Node,
) -> None:
    conversation, alice, bob = await _conversation(node)
    await _send(node, alice, conversation, 5)
    session = _watcher(node, bob, attached_at=time.time() + ordering.CLOCK_MARGIN + 60)
    early = _watcher(node, bob, attached_at=0.0)
    for target in (session, early):
        node.sessions.push(target.ref, await _delivery(node, conversation, 5))
    await _settled(node)
    # Logged in (as far as the clock says) after every entry: nothing to fill.
    assert _shown(session) == [5]
    # Logged in before them all: everything since is filled, oldest first.
    assert _shown(early) == [1, 2, 3, 4, 5]


async def test_the_senders_own_entries_advance_its_position_silently(node: Node) -> None:
    conversation, alice, bob = await _conversation(node)
    session = _watcher(node, bob)
    await _send(node, alice, conversation, 3)
    push = node.sessions.push
    push(session.ref, await _delivery(node, conversation, 1))
    push(session.ref, Delivery(b"", None, conversation, 2))  # its own: the ack showed it
    push(session.ref, await _delivery(node, conversation, 3))
    await _settled(node)
    assert _shown(session) == [1, 3]
    assert node.sessions.orderer.repairs == 0


async def test_a_gap_the_log_cannot_fill_ends_the_session(node: Node) -> None:
    conversation, alice, bob = await _conversation(node)
    session = _watcher(node, bob)
    await _send(node, alice, conversation, 2)
    push = node.sessions.push
    push(session.ref, await _delivery(node, conversation, 1))
    await _settled(node)
    assert node.sessions.get(session.id) is session
    # Seq 9 was never stored: 3..8 cannot come from the log.
    push(session.ref, Delivery(b"x", None, conversation, 9))
    await _settled(node)
    assert node.sessions.get(session.id) is None
    assert _shown(session) == [1, 2]


async def test_a_lost_entry_is_repaired_over_a_real_socket_and_an_unrecoverable_one_resyncs(
    grover: Grover,
) -> None:
    """The whole path: bob's client sees 1, 2, 3 once each though the node
    dropped 2 and repeated 1; then a hole the log cannot fill closes the
    socket with 4009, and the client comes back told to re-sync."""
    alice, bob = Client(), Client()
    url = ws_url(grover)
    await alice.connect(url)
    await bob.connect(url)
    try:
        await register(alice)
        bob_id = (await register(bob)).user.id
        view = await alice.request("conversation.open_direct", user_id=bob_id)
        assert isinstance(await bob.next_event(), messaging.ConversationUpdated)
        session = grover.sessions.get(bob.session_id or "")
        assert session is not None
        # Play a faulty path: bob's actor forgets his session, so only what
        # is pushed by hand reaches it.
        grover.actors.tell(user_key(bob_id), Detach(session.ref))
        await asyncio.sleep(0.05)
        for i in range(3):
            await alice.request(
                "message.send", conversation_id=view.id, client_key=f"k{i}", text=f"m{i}"
            )
        records = await grover.store.messages.since(view.id, 0, 10)
        bodies = {
            r.seq: encode_event_body(messaging.MessageNew(message=message_view(r))) for r in records
        }
        for seq in (1, 1, 3):
            grover.sessions.push(session.ref, Delivery(bodies[seq], None, view.id, seq))
        got = [await bob.next_event() for _ in range(3)]
        assert [e.message.seq for e in got if isinstance(e, messaging.MessageNew)] == [1, 2, 3]
        assert bob.pending_events() == 0
        grover.sessions.push(session.ref, Delivery(b"x", None, view.id, 50))
        assert isinstance(await bob.next_event(timeout=10), Resync)
        assert bob.close_code == CloseCode.RESYNC
        assert bob.session_id != session.id
    finally:
        await alice.close()
        await bob.close()
