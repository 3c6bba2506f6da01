"""The actor runtime (:mod:`actors.runtime`) with real asyncio and a real SQLite store.

The test actor is a counter whose value lives in a table of the SQLite file:
it is loaded by ``activate()`` and written by ``passivate()``, and only then, so
that the store always shows the last *flushed* state while the actor's memory
holds the hot one. Each test reads both to tell activation, passivation,
reactivation and crash recovery apart. Timings are small (tens of
milliseconds) and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

import pytest

from actors.errors import ActivationFailed, ActorCrashed, AskTimeout, MailboxFull, SystemStopped
from actors.runtime import ActorSystem
from actors.sessions import Delivery, SessionRef
from actors.store.accounts import UserRecord
from actors.user import GetUser, UserActor, user_key
from protocol.errors import ErrorCode, ProtocolError
from server.storage.sqlite import SqliteStore
from tests.runtime_actors import (
    Block,
    Counter,
    Counters,
    Crash,
    Get,
    Incr,
    Log,
    MakeSystem,
    Note,
    Probe,
    RecordingPlacement,
    Refuse,
    caplog_runtime,
    ckey,
    counters,
    eventually,
    make_system,
    runtime_errors,
    store,
)

__all__ = ["caplog_runtime", "counters", "make_system", "store"]  # fixtures used by name

# ----------------------------------------------------------------- activation


async def test_activated_on_first_message_with_state_from_store(
    make_system: MakeSystem, counters: Counters
) -> None:
    await counters.save("a", 41)
    probe = Probe()
    system = make_system(probe)
    assert not system.is_active(ckey("a"))
    assert probe.activations == []

    assert await system.ask(ckey("a"), Incr()) == 42
    assert await system.ask(ckey("a"), Get()) == 42
    system.tell(ckey("a"), Incr(2))
    assert await system.ask(ckey("a"), Get()) == 44

    assert probe.activations == ["a"]
    assert system.is_active(ckey("a"))
    assert system.active_keys() == [ckey("a")]
    assert system.activation_count == 1


async def test_single_activation_under_a_burst_of_concurrent_asks(
    make_system: MakeSystem, counters: Counters
) -> None:
    await counters.save("hot", 1000)
    # A slow activation widens the window in which a second one could start.
    probe = Probe(activate_delay=0.05)
    system = make_system(probe)

    replies = await asyncio.gather(*(system.ask(ckey("hot"), Incr()) for _ in range(300)))

    assert sorted(replies) == list(range(1001, 1301))
    assert probe.activations == ["hot"]
    assert system.activation_count == 1
    assert probe.max_concurrent == 1


async def test_user_actor_loads_its_record_from_the_store(store: SqliteStore) -> None:
    user = UserRecord(
        id="u1", username="ada", email="ada@example.com", password_hash="x", created_at=1.0
    )
    await store.users.create(user)

    class NoSink:
        def push(self, ref: SessionRef, delivery: Delivery) -> None:
            raise AssertionError("nothing to push")

        def close(self, ref: SessionRef, code: int, reason: str) -> None:
            raise AssertionError("nothing to close")

    system = ActorSystem({"user": lambda key: UserActor(key, store, NoSink())})
    try:
        assert await system.ask(user_key("u1"), GetUser()) == user
        with pytest.raises(ProtocolError) as refused:
            await system.ask(user_key("nobody"), GetUser())
        assert refused.value.code is ErrorCode.NOT_FOUND
    finally:
        await system.stop()


# ------------------------------------------------------------------ ordering


async def test_messages_are_handled_one_at_a_time_in_arrival_order(
    make_system: MakeSystem,
) -> None:
    probe = Probe()
    system = make_system(probe)
    key = ckey("ordered")
    sent: list[tuple[int, int]] = []

    async def sender(sender_id: int) -> None:
        for n in range(50):
            system.tell(key, Note(sender_id, n))
            sent.append((sender_id, n))
            # Let the other senders interleave with this one.
            await asyncio.sleep(0)

    await asyncio.gather(*(sender(s) for s in range(20)))
    log: list[tuple[int, int]] = await system.ask(key, Log())

    # Arrival order is exactly the order of the tell() calls.
    assert log == sent
    for s in range(20):
        assert [n for sender_id, n in log if sender_id == s] == list(range(50))
    assert probe.max_concurrent == 1


async def test_a_slow_actor_does_not_block_another(make_system: MakeSystem) -> None:
    system = make_system(Probe())
    block = Block(asyncio.Event())
    slow = asyncio.ensure_future(system.ask(ckey("slow"), block))
    await asyncio.wait_for(block.running.wait(), 2)

    async with asyncio.timeout(1):
        assert await system.ask(ckey("fast"), Incr(5)) == 5
    assert not slow.done()

    block.release.set()
    assert await slow == 0


async def test_ask_timeout(make_system: MakeSystem) -> None:
    system = make_system(Probe())
    key = ckey("late")
    block = Block(asyncio.Event())
    started = time.monotonic()
    with pytest.raises(AskTimeout):
        await system.ask(key, block, timeout=0.05)
    assert time.monotonic() - started < 1.0

    # The message is still handled, and the actor carries on afterwards.
    assert block.running.is_set()
    block.release.set()
    assert await system.ask(key, Incr()) == 1


async def test_a_timed_out_ask_leaves_no_unretrieved_exception(make_system: MakeSystem) -> None:
    """The handler fails after its asker gave up: that failure must not surface
    later as asyncio's "Future exception was never retrieved"."""
    system = make_system(Probe())
    key = ckey("late-crash")
    block = Block(asyncio.Event())
    system.tell(key, block)
    await asyncio.wait_for(block.running.wait(), 2)
    # Not pytest.raises: its traceback would keep the reply future alive.
    try:
        await system.ask(key, Crash(), timeout=0.02)
    except AskTimeout:
        pass
    else:
        pytest.fail("no AskTimeout")

    loop = asyncio.get_running_loop()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        block.release.set()
        assert await system.ask(key, Get()) == 0  # rebuilt after the crash
        gc.collect()
        await asyncio.sleep(0)
    finally:
        loop.set_exception_handler(previous)
    assert reported == []


# --------------------------------------------------------------- passivation


async def test_idle_actor_is_passivated_and_reactivated_with_state_intact(
    make_system: MakeSystem, counters: Counters
) -> None:
    probe = Probe()
    system = make_system(probe, idle_timeout=0.05)
    key = ckey("p")
    for _ in range(5):
        await system.ask(key, Incr())

    await eventually(lambda: not system.is_active(key) and bool(probe.passivations))
    assert probe.passivations == [("p", 5)]
    assert await counters.load("p") == 5

    assert await system.ask(key, Incr()) == 6
    assert probe.activations == ["p", "p"]
    assert system.activation_count == 2


async def test_an_actor_that_may_not_passivate_stays_active(make_system: MakeSystem) -> None:
    probe = Probe(keep_alive=True)
    system = make_system(probe, idle_timeout=0.05)
    key = ckey("pinned")
    await system.ask(key, Incr())

    await asyncio.sleep(0.3)  # six idle periods
    assert system.is_active(key)
    assert probe.passivations == []

    probe.keep_alive = False
    await eventually(lambda: not system.is_active(key))
    await eventually(lambda: probe.passivations == [("pinned", 1)])


async def test_a_long_handler_does_not_count_as_idle(make_system: MakeSystem) -> None:
    """Idleness is measured from the end of the last message: an actor that has
    just finished a long handler is not passivated on the spot, and the idle
    sweeper does not fill the mailbox of a busy actor with its nudges."""
    probe = Probe()
    system = make_system(probe, idle_timeout=0.1, mailbox_size=4)
    key = ckey("busy")
    block = Block(asyncio.Event())
    asked = asyncio.ensure_future(system.ask(key, block))
    await asyncio.wait_for(block.running.wait(), 2)
    await asyncio.sleep(0.3)  # three idle periods inside one handler

    for _ in range(4):  # the whole mailbox is still free for real messages
        system.tell(key, Incr())
    block.release.set()
    await asked
    assert await system.ask(key, Get()) == 4
    await asyncio.sleep(0.02)
    assert system.is_active(key)
    assert probe.passivations == []


async def test_a_message_during_passivation_waits_for_the_flush(
    make_system: MakeSystem, counters: Counters
) -> None:
    probe = Probe(passivate_delay=0.2)
    system = make_system(probe, idle_timeout=0.05)
    key = ckey("flush")
    await system.ask(key, Incr(3))

    await asyncio.wait_for(probe.passivation_started.wait(), 2)
    assert await counters.load("flush") == 0  # the slow flush has not landed yet
    # The old activation is still flushing: the new one must read what it writes.
    assert await system.ask(key, Incr()) == 4
    assert probe.passivations == [("flush", 3)]
    assert len(probe.activation_times) == 2
    assert probe.activation_times[1] >= probe.passivation_ended_at


# ------------------------------------------------------- absent entities


async def test_an_actor_whose_entity_is_absent_ends_as_soon_as_its_mailbox_is_empty(
    counters: Counters,
) -> None:
    """Not after the idle timeout (the default five minutes), and with its
    lease released; a burst shares one activation; a later message activates
    it again; work in flight (``can_passivate``) keeps it until done."""
    probe, leases, key = Probe(absent={"g", "busy"}), RecordingPlacement(), ckey("g")
    system = ActorSystem({Counter.kind: lambda k: Counter(k, counters, probe)}, placement=leases)
    try:
        probe.activate_delay = 0.02  # the burst queues up behind the activation
        assert await asyncio.gather(*(system.ask(key, Get()) for _ in range(100))) == [0] * 100
        await eventually(lambda: not system.is_active(key) and not leases.held)
        assert (system.activation_count, leases.released) == (1, [key])
        probe.activate_delay = 0.0
        for _ in range(20):  # each may meet an activation that is ending: none is lost
            system.tell(key, Incr())
            await asyncio.sleep(0)
        await eventually(lambda: not system.is_active(key) and not leases.held)
        assert await counters.load("g") == 20 and system.activation_count > 1

        probe.keep_alive = True
        await system.ask(ckey("busy"), Get())
        await asyncio.sleep(0.02)
        assert system.is_active(ckey("busy"))  # can_passivate() said no after its message
        probe.keep_alive = False
        await system.ask(ckey("busy"), Get())
        await eventually(lambda: system.active_keys() == [])
    finally:
        await system.stop()


# ---------------------------------------------------------------- supervision


async def test_a_crashing_handler_is_logged_and_the_actor_rebuilt_from_the_store(
    make_system: MakeSystem, counters: Counters, caplog_runtime: pytest.LogCaptureFixture
) -> None:
    await counters.save("c", 10)
    probe = Probe()
    system = make_system(probe)
    key = ckey("c")
    assert await system.ask(key, Incr(5)) == 15  # hot, not yet flushed

    with pytest.raises(ActorCrashed):
        await system.ask(key, Crash())

    errors = runtime_errors(caplog_runtime)
    assert len(errors) == 1
    assert "crashed" in errors[0].getMessage()
    assert errors[0].exc_info is not None
    assert isinstance(errors[0].exc_info[1], RuntimeError)

    # Rebuilt from the store: the unflushed +5 is gone and so is the broken -1;
    # the crashed instance was not passivated, so it flushed nothing.
    assert await system.ask(key, Get()) == 10
    assert probe.activations == ["c", "c"]
    assert probe.passivations == []
    assert await counters.load("c") == 10

    # A crash with nobody asking is survived the same way.
    system.tell(key, Crash())
    assert await system.ask(key, Incr()) == 11
    assert len(runtime_errors(caplog_runtime)) == 2
    assert system.is_active(key)


async def test_a_protocol_error_goes_to_the_asker_unchanged_without_rebuild(
    make_system: MakeSystem, caplog_runtime: pytest.LogCaptureFixture
) -> None:
    probe = Probe()
    system = make_system(probe)
    key = ckey("refuser")
    assert await system.ask(key, Incr(7)) == 7
    error = ProtocolError(ErrorCode.FORBIDDEN, "not yours", retry_after=1.5)

    with pytest.raises(ProtocolError) as raised:
        await system.ask(key, Refuse(error))

    assert raised.value is error
    assert await system.ask(key, Get()) == 7  # hot state kept
    assert probe.activations == ["refuser"]
    assert runtime_errors(caplog_runtime) == []


async def test_a_failed_activation_fails_the_queued_askers_and_is_retried(
    make_system: MakeSystem, counters: Counters, caplog_runtime: pytest.LogCaptureFixture
) -> None:
    await counters.save("f", 3)
    probe = Probe(activate_delay=0.05, failing_activations=1)
    system = make_system(probe)
    key = ckey("f")

    outcomes = await asyncio.gather(
        *(system.ask(key, Incr()) for _ in range(3)), return_exceptions=True
    )
    assert all(isinstance(o, ActivationFailed) for o in outcomes), outcomes
    assert any("activation" in r.getMessage() for r in runtime_errors(caplog_runtime))
    await eventually(lambda: not system.is_active(key))

    assert await system.ask(key, Incr()) == 4  # a later message activates again
    assert probe.activations == ["f"]
    assert len(probe.activation_times) == 2


async def test_a_failed_rebuild_after_a_crash_fails_the_queued_messages(
    make_system: MakeSystem, counters: Counters, caplog_runtime: pytest.LogCaptureFixture
) -> None:
    await counters.save("r", 5)
    probe = Probe()
    system = make_system(probe)
    key = ckey("r")
    block = Block(asyncio.Event())
    system.tell(key, block)
    await asyncio.wait_for(block.running.wait(), 2)
    crashed = asyncio.ensure_future(system.ask(key, Crash()))
    queued = asyncio.ensure_future(system.ask(key, Incr()))
    probe.failing_activations = 1  # the rebuild after the crash fails
    block.release.set()

    with pytest.raises(ActorCrashed):
        await crashed
    with pytest.raises(ActivationFailed):
        await queued
    assert any("reactivation" in r.getMessage() for r in runtime_errors(caplog_runtime))
    await eventually(lambda: not system.is_active(key))

    # Nothing of the broken activation was flushed; the next message starts afresh.
    assert probe.passivations == []
    assert await system.ask(key, Incr()) == 6


async def test_a_refused_lease_is_not_released(counters: Counters) -> None:
    """If the placement refuses activation, the runtime must not release a
    lease it never got (in a cluster that lease belongs to another node)."""
    placement = RecordingPlacement(refuse=True)
    probe = Probe()
    system = ActorSystem(
        {Counter.kind: lambda key: Counter(key, counters, probe)}, placement=placement
    )
    try:
        with pytest.raises(ActivationFailed):
            await system.ask(ckey("l"), Get())
        await eventually(lambda: not system.is_active(ckey("l")))
        await asyncio.sleep(0.01)
        assert placement.released == []

        placement.refuse = False
        assert await system.ask(ckey("l"), Incr()) == 1
    finally:
        await system.stop()
    assert placement.acquired == [ckey("l")]
    assert placement.released == [ckey("l")]


# -------------------------------------------------------------- backpressure


async def test_a_full_mailbox_refuses_tell_and_ask(make_system: MakeSystem) -> None:
    system = make_system(Probe(), mailbox_size=3)
    key = ckey("full")
    block = Block(asyncio.Event())
    asked = asyncio.ensure_future(system.ask(key, block))
    await asyncio.wait_for(block.running.wait(), 2)

    for _ in range(3):
        system.tell(key, Incr())
    with pytest.raises(MailboxFull):
        system.tell(key, Incr())
    with pytest.raises(MailboxFull):
        await system.ask(key, Incr())
    assert system.activation_count == 1

    block.release.set()
    assert await asked == 0
    assert await system.ask(key, Get()) == 3  # the three that fitted, no more


# ------------------------------------------------------------------- stopping


async def test_stop_passivates_everything_and_refuses_new_messages(
    make_system: MakeSystem, counters: Counters
) -> None:
    probe = Probe(keep_alive=True)  # stop() overrides can_passivate()
    system = make_system(probe)
    for i in range(5):
        await system.ask(ckey(f"s{i}"), Incr(i + 1))

    await system.stop()

    assert system.active_keys() == []
    assert sorted(probe.passivations) == [(f"s{i}", i + 1) for i in range(5)]
    for i in range(5):
        assert await counters.load(f"s{i}") == i + 1
    with pytest.raises(SystemStopped):
        system.tell(ckey("s0"), Incr())
    with pytest.raises(SystemStopped):
        await system.ask(ckey("new"), Get())


async def test_stop_handles_queued_messages_first(
    make_system: MakeSystem, counters: Counters
) -> None:
    system = make_system(Probe())
    key = ckey("queued")
    block = Block(asyncio.Event())
    system.tell(key, block)
    await asyncio.wait_for(block.running.wait(), 2)
    for _ in range(10):
        system.tell(key, Incr())

    stopping = asyncio.ensure_future(system.stop())
    await asyncio.sleep(0.01)
    block.release.set()
    await stopping
    assert await counters.load("queued") == 10


async def test_stop_waits_for_a_passivation_in_progress(
    make_system: MakeSystem, counters: Counters
) -> None:
    probe = Probe(passivate_delay=0.2)
    system = make_system(probe, idle_timeout=0.05)
    await system.ask(ckey("ending"), Incr(9))
    await asyncio.wait_for(probe.passivation_started.wait(), 2)

    await system.stop()

    # Callers close the store right after stop(): the flush must be done by then.
    assert probe.passivations == [("ending", 9)]
    assert await counters.load("ending") == 9


async def test_stop_cancels_a_stuck_handler_and_still_flushes(
    make_system: MakeSystem, counters: Counters
) -> None:
    probe = Probe()
    system = make_system(probe)
    key = ckey("stuck")
    await system.ask(key, Incr(2))
    block = Block(asyncio.Event())  # never released
    asked = asyncio.ensure_future(system.ask(key, block, timeout=5.0))
    await asyncio.wait_for(block.running.wait(), 2)

    started = time.monotonic()
    await system.stop(timeout=0.1)
    assert time.monotonic() - started < 1.0

    assert probe.passivations == [("stuck", 2)]
    assert await counters.load("stuck") == 2
    # The asker learns at once that its message was cut short.
    with pytest.raises(SystemStopped):
        await asyncio.wait_for(asked, 0.5)


async def test_stop_during_a_slow_passivation_ends_the_waiting_activation_too(
    make_system: MakeSystem, counters: Counters
) -> None:
    """A message that arrives while its actor is passivating starts an
    activation that waits for the flush; stop() then ends both, and the waiting
    asker gets an answer, not silence."""
    probe = Probe(passivate_delay=0.2)
    system = make_system(probe, idle_timeout=0.05)
    key = ckey("chain")
    await system.ask(key, Incr(4))
    await asyncio.wait_for(probe.passivation_started.wait(), 2)
    waiting = asyncio.ensure_future(system.ask(key, Incr()))
    await asyncio.sleep(0)

    await system.stop(timeout=2.0)

    assert await asyncio.wait_for(waiting, 0.5) == 5  # handled before the stop finished
    assert probe.passivations == [("chain", 4), ("chain", 5)]
    assert await counters.load("chain") == 5
