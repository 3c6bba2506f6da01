"""A conversation's log entry between numbering and commit, and the askers
waiting for it (see :mod:`actors.conversation`, group commit)."""

from __future__ import annotations

import asyncio

import msgspec

from actors.sessions import SessionRef
from actors.store.messaging import MessageRecord
from protocol.messages import messaging as m


class PendingEntry:
    """A numbered log entry waiting for its batch to commit."""

    __slots__ = ("origin", "recipients", "record", "waiters")

    def __init__(
        self, record: MessageRecord, recipients: list[str], origin: SessionRef | None
    ) -> None:
        self.record = record
        self.recipients = recipients
        self.origin = origin
        self.waiters: list[tuple[asyncio.Future[m.MessageAck], bool]] = []
        """A future per asker (the send, its retries) and whether it is a retry:
        a cancelled asker never touches the entry, and no callback hop delays acks."""

    def wait(self, *, duplicate: bool) -> asyncio.Future[m.MessageAck]:
        future: asyncio.Future[m.MessageAck] = asyncio.get_running_loop().create_future()
        self.waiters.append((future, duplicate))
        return future

    def resolve(self, result: m.MessageAck) -> None:
        """Durable (or stored before, then ``result.duplicate``): ack every asker."""
        for future, duplicate in self.waiters:
            if not future.done():
                if duplicate and not result.duplicate:
                    future.set_result(msgspec.structs.replace(result, duplicate=True))
                else:
                    future.set_result(result)
        self.waiters.clear()

    def fail(self, error: Exception) -> None:
        for future, _ in self.waiters:
            if not future.done():
                future.set_exception(error)
        self.waiters.clear()
