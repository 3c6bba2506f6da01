"""The runtime's inline tells (:meth:`actors.runtime.Actor.receive_now`): an
idle actor handles a told message in the teller's task, and nothing else
changes: order, one handler at a time, supervision."""

from __future__ import annotations

import asyncio

import pytest

from actors.errors import ActorCrashed
from protocol.errors import ErrorCode, ProtocolError
from tests.runtime_actors import (
    Counters,
    Get,
    Incr,
    IncrNow,
    Log,
    MakeSystem,
    Note,
    NoteNow,
    Probe,
    blocked,
    caplog_runtime,
    ckey,
    counters,
    make_system,
    runtime_errors,
    store,
)

__all__ = ["caplog_runtime", "counters", "make_system", "store"]  # fixtures


async def test_a_tell_to_an_idle_actor_is_handled_before_tell_returns(
    make_system: MakeSystem,
) -> None:
    probe = Probe()
    system = make_system(probe)
    await system.ask(ckey("a"), Get())
    system.tell(ckey("a"), NoteNow(1, 1))
    assert probe.inline == 1  # no await in between: handled in the teller's task
    assert await system.ask(ckey("a"), Log()) == [(1, 1)]


async def test_a_tell_does_not_overtake_queued_messages_or_a_running_handler(
    make_system: MakeSystem,
) -> None:
    probe = Probe()
    system = make_system(probe)
    key = ckey("a")
    release, asked = await blocked(system, key)
    system.tell(key, NoteNow(1, 1))  # a handler runs: queued
    system.tell(key, Note(2, 1))
    system.tell(key, NoteNow(1, 2))  # messages queued: queued behind them
    assert probe.inline == 0
    release.set()
    await asked
    assert await system.ask(key, Log()) == [(1, 1), (2, 1), (1, 2)]
    assert probe.max_concurrent == 1


async def test_an_inline_crash_is_logged_and_the_actor_rebuilt_before_the_next_message(
    make_system: MakeSystem, counters: Counters, caplog_runtime: pytest.LogCaptureFixture
) -> None:
    probe = Probe()
    system = make_system(probe)
    key = ckey("a")
    await counters.save("a", 7)
    assert await system.ask(key, Incr(1)) == 8
    system.tell(key, NoteNow(1, 1, crash=True))
    system.tell(key, NoteNow(1, 2))
    assert probe.inline == 1  # the second waits for the rebuild
    # Rebuilt from the store (7): the broken hot value (-1) and the unflushed
    # increment are gone, as after a crash in receive(); the queued note ran
    # on the rebuilt actor.
    assert await system.ask(key, Get()) == 7
    assert await system.ask(key, Log()) == [(1, 2)]
    assert probe.activations == ["a", "a"]
    assert any("crashed on NoteNow" in r.getMessage() for r in runtime_errors(caplog_runtime))


async def test_tell_local_settles_its_handled_future_inline_and_on_an_inline_crash(
    make_system: MakeSystem, caplog_runtime: pytest.LogCaptureFixture
) -> None:
    """The cluster transport acknowledges a stream entry when ``handled`` is
    settled: inline, that is at once, with what the mailbox would have given."""
    probe = Probe()
    system = make_system(probe)
    key = ckey("a")
    await system.ask(key, Get())
    loop = asyncio.get_running_loop()
    handled = loop.create_future()
    system.tell_local(key, NoteNow(1, 1), handled)
    assert handled.done() and handled.result() is None
    crashed = loop.create_future()
    system.tell_local(key, NoteNow(1, 2, crash=True), crashed)
    assert crashed.done() and isinstance(crashed.exception(), ActorCrashed)
    assert probe.inline == 2
    assert await system.ask(key, Log()) == []  # rebuilt: the note was in hot state only


async def test_an_ask_of_an_idle_actor_is_answered_inline_and_queued_otherwise(
    make_system: MakeSystem,
) -> None:
    probe = Probe()
    system = make_system(probe)
    key = ckey("a")
    assert await system.ask(key, IncrNow(1)) == 1  # activates: through the mailbox
    assert probe.inline == 0
    assert await system.ask(key, IncrNow(2)) == 3
    assert probe.inline == 1
    release, asked = await blocked(system, key)
    later = asyncio.ensure_future(system.ask(key, IncrNow(4)))  # a handler runs: queued
    await asyncio.sleep(0.01)
    assert not later.done() and probe.inline == 1
    release.set()
    assert await asked == 3
    assert await later == 7
    error = ProtocolError(ErrorCode.FORBIDDEN, "no")
    with pytest.raises(ProtocolError) as refused:
        await system.ask(key, IncrNow(1, refuse=error))
    assert refused.value is error
    assert await system.ask(key, Get()) == 7  # a refusal changes nothing


async def test_an_inline_ask_that_crashes_fails_the_asker_and_rebuilds_the_actor(
    make_system: MakeSystem, counters: Counters, caplog_runtime: pytest.LogCaptureFixture
) -> None:
    probe = Probe()
    system = make_system(probe)
    key = ckey("a")
    await counters.save("a", 5)
    assert await system.ask(key, Incr(1)) == 6
    with pytest.raises(ActorCrashed):
        await system.ask(key, IncrNow(1, crash=True))
    assert await system.ask(key, Get()) == 5  # rebuilt from the store
    assert probe.activations == ["a", "a"]
    assert any("crashed on IncrNow" in r.getMessage() for r in runtime_errors(caplog_runtime))
