"""The base class of every actor (the runtime that runs them is
:mod:`actors.runtime`, which re-exports it)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from actors.ids import ActorKey


class Actor(ABC):
    """Base class of every actor. Subclasses set :attr:`kind` and implement
    :meth:`receive`; they reach the outside world only through the ports they
    are given at construction."""

    kind: str = ""

    def __init__(self, key: ActorKey) -> None:
        self.key = key

    async def activate(self) -> None:
        """Load state. Called once before the first message of an activation."""

    async def passivate(self) -> None:
        """Flush state. Called once when the activation ends."""

    def can_passivate(self) -> bool:
        """Whether an idle activation may end now (e.g. not while it tracks
        live sessions or has writes in flight)."""
        return True

    def exists(self) -> bool:
        """Whether the entity this actor stands for exists (checked after each
        message). When it does not, the activation ends once its mailbox is
        empty and :meth:`can_passivate` allows, instead of staying resident
        for the idle timeout: anyone may name ids that do not exist, and each
        would otherwise hold an activation's memory. A handler that creates
        the entity makes this true before it returns, and the activation stays."""
        return True

    async def abandon(self) -> None:
        """Called on an instance whose handler crashed, before its replacement
        activates. It must not persist hot state (that state may be broken),
        but should wait for writes it already started, so that the replacement
        loads what they wrote."""

    def receive_now(self, message: Any) -> bool:
        """Handle a told message synchronously, if this actor can: return
        ``True`` when it was handled, ``False`` to have it queued instead.

        The runtime calls this only when the activation is idle (nothing
        running, nothing queued), so handling the message here, in the
        teller's task, is the order the mailbox would have given it; it saves
        the mailbox hop (a queue put, a task switch, the loop's checks) that
        dominated a chat message's delivery. It must not await, and must
        leave the actor as :meth:`receive` would. An exception is a crash,
        as in :meth:`receive`: logged, and the actor is rebuilt."""
        return False

    def ask_now(self, message: Any) -> Any:
        """:meth:`receive_now` for an ask: the reply (a value, or a future as
        :meth:`receive` may return), or ``NotImplemented`` to have the
        message queued. Same rules: called only when the activation is idle,
        must not await; a ``ProtocolError`` goes to the asker, any other
        exception is a crash."""
        return NotImplemented

    @abstractmethod
    async def receive(self, message: Any) -> Any:
        """Handle one message; the return value is the reply to an ``ask``.

        A handler that must wait for I/O before answering (e.g. a group
        commit) may return an ``asyncio.Future`` instead: the mailbox moves on
        at once, and :meth:`ActorSystem.ask` waits for the future's result."""
