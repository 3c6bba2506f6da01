"""Virtual actors: activation on first message, one activation per key, one
message at a time, passivation when idle, supervision.

An actor is addressed by an :class:`ActorKey` (kind and id). Nobody creates or
destroys actors: :meth:`ActorSystem.tell` and :meth:`ActorSystem.ask` activate
the actor if needed (its :meth:`Actor.activate` loads state from the store),
queue the message in the actor's bounded mailbox, and one task per activation
handles messages strictly in arrival order. An activation idle for longer than
``idle_timeout`` is passivated (:meth:`Actor.passivate` flushes state) unless it
says it must stay (:meth:`Actor.can_passivate`); a later message activates it
again, after the previous passivation has finished. An activation whose entity
does not exist (:meth:`Actor.exists` is false) ends as soon as its mailbox is
empty, without waiting to be idle: a request naming an unknown id costs one
activation's work, never memory that outlives it.

Supervision: a :class:`protocol.errors.ProtocolError` raised by a handler is an
expected refusal and goes back to the asker as is. Any other exception is a
bug: it is logged, the asker gets :class:`ActorCrashed`, and the actor is
rebuilt from the store before it handles the next message. Nothing escapes the
runtime, so the process never dies of a handler.

Messages are msgspec structs deriving from :class:`Message`; one that answers
derives from :class:`Ask` with its reply type (``class GetUser(Ask[UserRecord])``),
so that :meth:`ActorSystem.ask` is typed by what it sends and the cluster can
decode a remote reply knowing only what was asked.

Where an actor runs is decided by a :class:`actors.placement.Placement`: the
in-process one by default, the Redis cluster's in a cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any, NamedTuple, TypeGuard, TypeVar, cast

from actors.actor import Actor
from actors.errors import (
    ActivationFailed,
    ActorCrashed,
    ActorError,
    MailboxFull,
    SystemStopped,
)
from actors.ids import ActorKey
from actors.logctx import RequestInfo, actor_context, addressed, request_var
from actors.message import Ask, Message
from actors.placement import LocalPlacement, Placement
from actors.ports import ActorObserver
from actors.replies import expire, forward, log_forward_failure, settle
from protocol.errors import ProtocolError

log = logging.getLogger("grover.actors")


R = TypeVar("R")

TRANSIENT_LOG_INTERVAL = 10.0
"""Seconds between two warnings about actors failing on a known outage."""


ActorFactory = Callable[[ActorKey], Actor]


class _Envelope(NamedTuple):
    message: Any
    reply: asyncio.Future[Any] | None
    origin: RequestInfo | None = None
    """The request being handled when it was queued (for log lines)."""


_PASSIVATE = object()
"""Mailbox sentinel from the idle sweeper: passivate if nothing else is queued."""

_REBUILD = object()
"""Mailbox sentinel from :meth:`ActorSystem.tell` after an inline handler
(:meth:`Actor.receive_now`) crashed: rebuild the actor from the store before
the next message, as a crash in :meth:`Actor.receive` would."""

_HANDOFF = object()
"""Mailbox sentinel from :meth:`ActorSystem.rebalance` (this node no longer
owns the key: end the activation once the mailbox is empty, idle or not) and
from :meth:`ActorSystem.fence` (the lease is gone: end it now)."""


class _Activation:
    __slots__ = (
        "actor",
        "busy",
        "done",
        "key",
        "last_active",
        "leased",
        "mailbox",
        "nudged",
        "task",
    )

    def __init__(self, key: ActorKey, mailbox_size: int) -> None:
        self.key = key
        self.mailbox: asyncio.Queue[_Envelope | object] = asyncio.Queue(mailbox_size)
        self.actor: Actor | None = None
        self.last_active = time.monotonic()
        """When the last message finished (or the activation started)."""
        self.busy = False
        """A handler is running: the activation is not idle, however long it takes."""
        self.nudged = False
        """A ``_PASSIVATE`` from the sweeper is queued and not yet taken."""
        self.leased = False
        """``Placement.acquire`` succeeded, so ``release`` is owed at the end."""
        self.task: asyncio.Task[None] | None = None
        self.done = asyncio.Event()
        """Set once the activation has passivated and released its lease."""


class ActorSystem:
    """Hosts the activations of this process and routes messages to them."""

    def __init__(
        self,
        factories: dict[str, ActorFactory],
        *,
        placement: Placement | None = None,
        mailbox_size: int = 1024,
        idle_timeout: float = 300.0,
        ask_timeout: float = 10.0,
        transient: Callable[[BaseException], bool] | None = None,
    ) -> None:
        """``transient`` tells which exceptions of the ports (placement, store,
        directories) are known passing outages, e.g. Redis restarting: an
        activation or a handler failing on one is logged as a rate-limited
        warning without a traceback rather than as an error; the asker gets
        the same :class:`ActivationFailed` or :class:`ActorCrashed` either way."""
        self._factories = dict(factories)
        self._placement: Placement = placement or LocalPlacement()
        self._mailbox_size = mailbox_size
        self._idle_timeout = idle_timeout
        self._ask_timeout = ask_timeout
        self._activations: dict[ActorKey, _Activation] = {}
        self._ending: dict[ActorKey, _Activation] = {}
        self._sweeper: asyncio.Task[None] | None = None
        self._stopping = False
        self._transient = transient or (lambda exc: False)
        self._outage_logged_at = -TRANSIENT_LOG_INTERVAL
        self._outage_unlogged = 0
        self.activation_count = 0
        """Activations started since the system started (for tests and metrics)."""
        self.observer: ActorObserver | None = None  # metrics: (de)activations, handler times
        self.mailbox_high_water = 0  # the deepest any mailbox has been since start

    # ------------------------------------------------------------- messaging

    def tell(self, key: ActorKey, message: Message) -> None:
        """Queue ``message`` for ``key`` without waiting. Raises
        :class:`MailboxFull` when the mailbox is at capacity and
        :class:`SystemStopped` once :meth:`stop` has been called."""
        origin = addressed(key)
        if not self._placement.is_local(key):
            self._spawn_forward(key, message)
            return
        activation = self._activations.get(key)
        if self._idle(activation) and self._handled_now(activation, message):
            return
        self._enqueue(key, _Envelope(message, None, origin))

    def _handled_now(
        self,
        activation: _Activation,
        message: Message,
        handled: asyncio.Future[Any] | None = None,
    ) -> bool:
        """The local fast path of :meth:`tell` and :meth:`tell_local`, for an
        idle activation: the message is handled in the caller's task (see
        :meth:`Actor.receive_now`); ``handled`` is settled as the mailbox
        would have settled it."""
        assert activation.actor is not None
        try:
            done = activation.actor.receive_now(message)
        except Exception as exc:
            settle(handled, self._crashed_inline(activation, message, exc))
            return True
        if done:
            activation.last_active = time.monotonic()
            if handled is not None and not handled.done():
                handled.set_result(None)
        return done

    async def ask(self, key: ActorKey, message: Ask[R], timeout: float | None = None) -> R:
        """Send ``message`` and wait for the handler's return value.

        Raises what the handler raised if it is a ``ProtocolError``,
        :class:`ActorCrashed` for any other handler exception,
        :class:`MailboxFull`, :class:`AskTimeout`, :class:`ActivationFailed`
        (the actor could not load its state, or not reload it after a crash),
        or :class:`SystemStopped` (the system is stopping, or stopped before
        the message was handled).
        """
        limit = self._ask_timeout if timeout is None else timeout
        addressed(key)
        if not self._placement.is_local(key):
            answer = await self._placement.forward(key, message, reply=True, timeout=limit)
            return cast(R, answer)
        return cast(R, await self.ask_local(key, message, limit))

    async def ask_local(self, key: ActorKey, message: Message, timeout: float | None = None) -> Any:
        """:meth:`ask` on this node whoever owns ``key``: for the cluster
        transport, which delivers what another node routed here (the lease,
        not the routing, guarantees a single activation)."""
        activation = self._activations.get(key)
        if self._idle(activation):
            answer = self._asked_now(activation, message)
            if answer is not NotImplemented:
                if isinstance(answer, asyncio.Future):
                    return await self.reply(key, answer, timeout)
                return answer
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._enqueue(key, _Envelope(message, future, request_var.get()))
        return await self.reply(key, future, timeout)

    def _asked_now(self, activation: _Activation, message: Message) -> Any:
        """The local fast path of an ask (see :meth:`Actor.ask_now`)."""
        actor = activation.actor
        assert actor is not None
        try:
            answer = actor.ask_now(message)
        except ProtocolError:
            activation.last_active = time.monotonic()
            raise
        except Exception as exc:
            raise self._crashed_inline(activation, message, exc) from None
        if answer is not NotImplemented:
            activation.last_active = time.monotonic()
        return answer

    def _crashed_inline(
        self, activation: _Activation, message: Message, exc: Exception
    ) -> ActorCrashed:
        """An inline handler raised: log it as a crash and have the actor
        rebuilt before anything else reaches it. ``_REBUILD`` is queued behind
        nothing (the activation was idle, so its mailbox is empty, hence not
        full), runs before any later message, and keeps the fast paths shut
        until then. Returns the error the caller's asker gets."""
        key = activation.key
        self._log_failure(f"actor %s crashed on {type(message).__name__}", key, exc)
        activation.mailbox.put_nowait(_REBUILD)
        return ActorCrashed(f"{key} failed on {type(message).__name__}")

    def _idle(self, activation: _Activation | None) -> TypeGuard[_Activation]:
        """Active, nothing running, nothing queued, lease held: a message
        handled now is handled in the order the mailbox would have given it."""
        return not (
            activation is None
            or activation.actor is None
            or activation.busy
            or self._stopping
            or not activation.mailbox.empty()
            or not self._placement.holds(activation.key)
        )

    async def reply(
        self, key: ActorKey, handled: asyncio.Future[Any], timeout: float | None = None
    ) -> Any:
        """Wait for the reply to a message queued with :meth:`tell_local`'s
        ``handled`` future, as :meth:`ask` would (deferred replies included)."""
        limit = self._ask_timeout if timeout is None else timeout
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        # One timer that fails the future, rather than asyncio.timeout + shield:
        # this is on every request's path and costs a fraction. Failing the
        # future is safe: the actor settles replies only if not done yet.
        timer = loop.call_at(deadline, expire, handled, key, limit)
        try:
            return await handled
        finally:
            timer.cancel()

    def tell_local(
        self, key: ActorKey, message: Message, handled: asyncio.Future[Any] | None = None
    ) -> None:
        """:meth:`tell` on this node whoever owns ``key`` (see :meth:`ask_local`).

        The message is queued before this returns, so messages told one after
        another are handled in that order. ``handled``, if given, is settled
        once the handler has run, with its return value or error (as for an
        ask; :meth:`reply` waits for it): the cluster transport acknowledges a
        stream entry only then, so that what a node that dies had queued is
        redelivered rather than lost."""
        activation = self._activations.get(key)
        if self._idle(activation) and self._handled_now(activation, message, handled):
            return
        self._enqueue(key, _Envelope(message, handled, request_var.get()))

    def _spawn_forward(self, key: ActorKey, message: Message) -> None:
        task = asyncio.get_running_loop().create_task(
            self._placement.forward(key, message, reply=False, timeout=self._ask_timeout)
        )
        task.add_done_callback(log_forward_failure)

    def _enqueue(self, key: ActorKey, envelope: _Envelope) -> None:
        if self._stopping:
            raise SystemStopped("actor system is stopping")
        activation = self._activations.get(key)
        if activation is None:
            activation = self._start(key)
        try:
            activation.mailbox.put_nowait(envelope)
        except asyncio.QueueFull:
            raise MailboxFull(f"mailbox of {key} is full") from None
        self.mailbox_high_water = max(self.mailbox_high_water, activation.mailbox.qsize())

    # ------------------------------------------------------------ activations

    def _start(self, key: ActorKey) -> _Activation:
        factory = self._factories.get(key.kind)
        if factory is None:
            raise ActorError(f"no actor kind {key.kind!r}")
        activation = _Activation(key, self._mailbox_size)
        self._activations[key] = activation
        previous = self._ending.get(key)
        # A fresh context: otherwise the actor's log lines would carry the
        # session and user of whichever connection happened to activate it.
        activation.task = asyncio.get_running_loop().create_task(
            self._run(activation, factory, previous),
            name=f"actor {key}",
            context=actor_context(key),
        )
        self.activation_count += 1
        if self.observer is not None:
            self.observer.activated(key.kind)
        if self._sweeper is None and self._idle_timeout > 0:
            self._sweeper = asyncio.get_running_loop().create_task(self._sweep())
        return activation

    async def _run(
        self, activation: _Activation, factory: ActorFactory, previous: _Activation | None
    ) -> None:
        try:
            if previous is not None:
                # The previous activation may still be flushing; loading before
                # it finishes would read stale state. (Inside the ``try``: if
                # stop() cancels us here, ``_end`` still settles the mailbox.)
                await previous.done.wait()
            if not await self._activate(activation, factory):
                return
            while True:
                item = await activation.mailbox.get()
                if item is _PASSIVATE:
                    activation.nudged = False
                    if self._may_end(activation) or self._absent(activation):
                        break
                    continue
                if item is _REBUILD:
                    activation.busy = True
                    try:
                        rebuilt = await self._rebuild(activation, factory, activation.actor)
                    finally:
                        activation.busy = False
                    if not rebuilt:
                        break
                    continue
                if item is _HANDOFF:
                    if not self._placement.holds(activation.key):
                        # Fenced while idle: end now rather than at the next message.
                        lost = ActivationFailed(f"{activation.key}: lease lost")
                        self._fail_queued(activation, lost)
                        break
                    if self._handed_off(activation):
                        break
                    continue
                assert isinstance(item, _Envelope)
                if not self._placement.holds(activation.key):
                    # Fenced: another node may own the lease by now.
                    lost = ActivationFailed(f"{activation.key}: lease lost")
                    settle(item.reply, lost)
                    self._fail_queued(activation, lost)
                    break
                activation.busy = True
                observer = self.observer
                started = time.perf_counter() if observer is not None else 0.0
                try:
                    handled = await self._handle(activation, factory, item)
                finally:
                    activation.busy = False
                    activation.last_active = time.monotonic()
                    if observer is not None:
                        observer.handled(activation.key.kind, time.perf_counter() - started)
                if not handled:
                    break
                if self._stopping and self._may_end(activation):
                    break
                if self._handed_off(activation):
                    break
                if self._absent(activation):
                    break
        except asyncio.CancelledError:
            pass
        finally:
            await self._end(activation)

    async def _activate(self, activation: _Activation, factory: ActorFactory) -> bool:
        key = activation.key
        try:
            await self._placement.acquire(key)
            activation.leased = True
            actor = factory(key)
            await actor.activate()
        except Exception as exc:
            self._log_failure("activation of %s failed", key, exc)
            self._fail_queued(activation, ActivationFailed(f"{key}: {exc}"))
            return False
        activation.actor = actor
        return True

    async def _handle(self, activation: _Activation, factory: ActorFactory, env: _Envelope) -> bool:
        """Handle one message; ``False`` when the actor could not be rebuilt
        after a crash and the activation must end."""
        assert activation.actor is not None
        # The request that queued it, for the lines logged while it is handled
        # (set only when there is one: a set and reset cost ~0.2 us).
        origin = env.origin
        request = request_var.set(origin) if origin is not None else None
        try:
            result = await activation.actor.receive(env.message)
        except ProtocolError as exc:
            settle(env.reply, exc)
        except asyncio.CancelledError:
            # Only stop() cancels an activation: tell the asker now rather than
            # leaving it to wait for its timeout.
            settle(env.reply, SystemStopped(f"{activation.key} stopped while handling"))
            raise
        except Exception as exc:
            key = activation.key
            self._log_failure(f"actor %s crashed on {type(env.message).__name__}", key, exc)
            settle(env.reply, ActorCrashed(f"{key} failed on {type(env.message).__name__}"))
            return await self._rebuild(activation, factory, activation.actor)
        else:
            log.debug("%s handled %s", activation.key, type(env.message).__name__)
            reply = env.reply
            if reply is not None and not reply.done():
                if isinstance(result, asyncio.Future):
                    # A deferred reply (see Actor.receive): the asker's future
                    # takes its outcome when it comes, and the mailbox moves on.
                    forward(result, reply)
                else:
                    reply.set_result(result)
        finally:
            if request is not None:
                request_var.reset(request)
        return True

    async def _rebuild(
        self, activation: _Activation, factory: ActorFactory, crashed: Actor | None
    ) -> bool:
        """After a crash: hot state may be inconsistent, so rebuild it from
        the store; ``False`` when that fails and the activation must end."""
        key = activation.key
        activation.actor = None
        try:
            if crashed is not None:
                await crashed.abandon()
            fresh = factory(key)
            await fresh.activate()
            activation.actor = fresh
        except Exception as exc:
            self._log_failure("reactivation of %s failed", key, exc)
            self._fail_queued(activation, ActivationFailed(f"{key}: {exc}"))
            return False
        return True

    def _log_failure(self, what: str, key: ActorKey, exc: Exception) -> None:
        """A bug is an error with its traceback, every time. A known outage of
        a port hits every activation until it passes: one warning line per
        interval, counting the ones it stands for."""
        if not self._transient(exc):
            log.error(what, key, exc_info=exc, extra={"actor": str(key)})
            return
        self._outage_unlogged += 1
        now = time.monotonic()
        if now - self._outage_logged_at < TRANSIENT_LOG_INTERVAL:
            return
        log.warning(
            what + " (%d such failures since the last report): %s",
            key,
            self._outage_unlogged,
            exc,
            extra={"actor": str(key)},
        )
        self._outage_logged_at = now
        self._outage_unlogged = 0

    def _may_end(self, activation: _Activation) -> bool:
        """Decide, without awaiting, whether an idle activation ends now. Because
        nothing else runs between this check and the removal from the table, no
        message can slip into a mailbox that nobody will read."""
        if not activation.mailbox.empty():
            return False
        if time.monotonic() - activation.last_active < self._idle_timeout and not self._stopping:
            return False
        actor = activation.actor
        if actor is not None and not actor.can_passivate() and not self._stopping:
            return False
        self._detach(activation)
        return True

    def _absent(self, activation: _Activation) -> bool:
        """End, without awaiting (see :meth:`_may_end`), an activation whose
        entity does not exist, once nothing is queued or in flight: it has
        nothing to keep warm. A message that arrives later starts a new
        activation, which waits for this one's end (lease released) first."""
        actor = activation.actor
        if actor is None or actor.exists() or not activation.mailbox.empty():
            return False
        if not actor.can_passivate():
            return False
        self._detach(activation)
        return True

    def _handed_off(self, activation: _Activation) -> bool:
        """End an activation whose key moved to another node, once nothing is
        queued for it here; the new owner activates after the lease is released."""
        if self._placement.is_local(activation.key) or not activation.mailbox.empty():
            return False
        self._detach(activation)
        return True

    def rebalance(self) -> int:
        """After a membership change: ask every activation whose key now
        belongs to another node to hand off. Returns how many were asked."""
        moved = 0
        for activation in list(self._activations.values()):
            if not self._placement.is_local(activation.key):
                with contextlib.suppress(asyncio.QueueFull):
                    activation.mailbox.put_nowait(_HANDOFF)
                    moved += 1
        return moved

    def fence(self, key: ActorKey) -> None:
        """This node lost (or could not renew) the lease of ``key``: end its
        activation as soon as the message being handled, if any, is done, so
        that the activation ends before another node may take the lease, and
        the record of it says when it really ended."""
        activation = self._activations.get(key)
        if activation is not None:
            with contextlib.suppress(asyncio.QueueFull):
                # A full mailbox is busy: it checks the lease before the next message.
                activation.mailbox.put_nowait(_HANDOFF)

    def _detach(self, activation: _Activation) -> None:
        key = activation.key
        if self._activations.get(key) is activation:
            del self._activations[key]
        self._ending[key] = activation

    async def _end(self, activation: _Activation) -> None:
        key = activation.key
        self._detach(activation)
        if self.observer is not None:
            self.observer.passivated(key.kind)
        try:
            if activation.actor is not None:
                try:
                    await activation.actor.passivate()
                except Exception:
                    log.exception("passivation of %s failed", key, extra={"actor": str(key)})
            if activation.leased:
                try:
                    await self._placement.release(key)
                except Exception:
                    log.exception("lease release of %s failed", key, extra={"actor": str(key)})
        finally:
            self._fail_queued(activation, SystemStopped(f"{key} passivated"))
            if self._ending.get(key) is activation:
                del self._ending[key]
            activation.done.set()

    def _fail_queued(self, activation: _Activation, exc: Exception) -> None:
        while not activation.mailbox.empty():
            item = activation.mailbox.get_nowait()
            if isinstance(item, _Envelope):
                settle(item.reply, exc)

    async def _sweep(self) -> None:
        """Nudge idle activations; each decides for itself in :meth:`_may_end`.

        A busy activation is not nudged, and an idle one at most once until it
        takes the nudge: otherwise nudges would pile up in the mailbox of an
        actor stuck in a long handler and take the place of real messages.
        """
        interval = max(self._idle_timeout / 2, 0.01)
        while True:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for activation in list(self._activations.values()):
                if activation.busy or activation.nudged:
                    continue
                if now - activation.last_active >= self._idle_timeout:
                    # A full mailbox means busy, not idle: no nudge needed.
                    with contextlib.suppress(asyncio.QueueFull):
                        activation.mailbox.put_nowait(_PASSIVATE)
                        activation.nudged = True

    # ------------------------------------------------------------ inspection

    def is_active(self, key: ActorKey) -> bool:
        return key in self._activations

    def active_keys(self) -> list[ActorKey]:
        return list(self._activations)

    def deepest_mailbox(self) -> int:  # now, for metrics at scrape time
        return max((a.mailbox.qsize() for a in self._activations.values()), default=0)

    async def stop(self, timeout: float = 10.0) -> None:
        """Refuse new messages, let every activation handle what is already in
        its mailbox, and passivate it (flushing state); passivations already
        under way are awaited too. After ``timeout`` seconds the activations
        still running are cancelled: an asker whose message was being handled
        gets :class:`SystemStopped`, the queued ones too, and ``passivate()``
        still runs, within a second ``timeout`` after which it is cancelled as
        well. When this returns no activation is left running, so the store
        may be closed."""
        self._stopping = True
        if self._sweeper is not None:
            self._sweeper.cancel()
        activations = [*self._activations.values(), *self._ending.values()]
        for activation in self._activations.values():
            # A full mailbox ends by itself: it checks for stopping after each message.
            with contextlib.suppress(asyncio.QueueFull):
                activation.mailbox.put_nowait(_PASSIVATE)
        tasks = [a.task for a in activations if a.task is not None]
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            # A cancelled activation still passivates in its ``finally``: give
            # that the same grace, then cut the flush short as well.
            _, pending = await asyncio.wait(pending, timeout=timeout)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
