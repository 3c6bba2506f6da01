"""Node-to-node transport over Redis Streams.

Each node reads its own inbox stream (``grover:inbox:<node>``) through a
consumer group. Outgoing entries are buffered per destination and written in
one pipeline per event-loop turn, so a burst of fan-out costs a few round
trips, not one per event. An entry is acknowledged (XACK) after it has been
handed to its actor, session or waiting asker; entries a dead node left
unread or unacknowledged are taken over by one live node (chosen by rendezvous
hashing) and re-routed: actor messages go to the key's new owner; replies and
session pushes addressed to the dead node are dropped with a log line, since
the askers and sockets they were for died with it (clients resume or re-sync).
Stream lengths are capped (approximate MAXLEN).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from actors.runtime import (
    ActivationFailed,
    ActorCrashed,
    ActorError,
    ActorKey,
    AskTimeout,
    MailboxFull,
    SystemStopped,
)
from actors.user import SessionRef
from protocol.errors import ErrorCode, ProtocolError
from server.cluster import wire
from server.cluster.wire import Envelope, Op

if TYPE_CHECKING:
    from actors.runtime import ActorSystem
    from server.session import SessionRegistry

log = logging.getLogger("grover.cluster")

GROUP = "grover"
FIELD = b"e"
_RUNTIME_ERRORS: dict[str, type[ActorError]] = {
    cls.__name__: cls
    for cls in (ActivationFailed, ActorCrashed, AskTimeout, MailboxFull, SystemStopped)
}


Entry = tuple[bytes, dict[bytes, bytes]]


def inbox(node: str) -> str:
    return f"grover:inbox:{node}"


def _entries(response: object) -> list[Entry]:
    """The entries of an XREADGROUP answer for one stream (redis-py types the
    answer loosely; its shape is ``[[stream, [(id, fields), ...]]]``)."""
    entries: list[Entry] = []
    for _, stream_entries in cast(list[tuple[bytes, list[Entry]]], response or []):
        entries.extend(stream_entries)
    return entries


class StreamTransport:
    def __init__(
        self,
        redis: Redis,
        node: str,
        *,
        maxlen: int,
        is_live: Callable[[str], bool],
    ) -> None:
        self._redis = redis
        self.node = node
        self._maxlen = maxlen
        self._is_live = is_live
        self.actors: ActorSystem | None = None
        self.sessions: SessionRegistry | None = None
        self._corr = itertools.count(1)
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._outgoing: dict[str, list[bytes]] = {}
        self._pushes: dict[str, list[wire.SessionPush]] = {}
        self._flush_scheduled = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reader: asyncio.Task[None] | None = None
        self.healthy = False

    def bind(self, actors: ActorSystem, sessions: SessionRegistry) -> None:
        self.actors = actors
        self.sessions = sessions

    # --------------------------------------------------------------- sending

    def tell(self, node: str, key: ActorKey, message: Any) -> None:
        name, body = wire.encode_message(message)
        self._send(
            node,
            Envelope(op=Op.TELL, src=self.node, kind=key.kind, id=key.id, type=name, body=body),
        )

    async def ask(self, node: str, key: ActorKey, message: Any, timeout: float) -> Any:
        corr = next(self._corr)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[corr] = future
        name, body = wire.encode_message(message)
        self._send(
            node,
            Envelope(
                op=Op.ASK, src=self.node, corr=corr, kind=key.kind, id=key.id, type=name, body=body
            ),
        )
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            raise AskTimeout(f"{key} on {node} did not answer within {timeout}s") from None
        finally:
            self._pending.pop(corr, None)

    def push(self, node: str, session_id: str, body: bytes) -> None:
        """Queue an event for a session on ``node``; pushes to one node are
        coalesced into one entry per flush, in order."""
        self._pushes.setdefault(node, []).append(wire.SessionPush(session_id, body))
        self._schedule_flush()

    def close_session(self, node: str, session_id: str, code: int, reason: str) -> None:
        body = wire.encode(wire.SessionClose(session_id, code, reason))
        self._send(node, Envelope(op=Op.CLOSE, src=self.node, body=body))

    def _send(self, node: str, envelope: Envelope) -> None:
        self._outgoing.setdefault(node, []).append(wire.encode(envelope))
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._spawn(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let this turn's sends join the batch
        self._flush_scheduled = False
        outgoing, self._outgoing = self._outgoing, {}
        pushes, self._pushes = self._pushes, {}
        for node, items in pushes.items():
            envelope = Envelope(op=Op.PUSH, src=self.node, body=wire.encode(items))
            # Pushes go after the actor traffic queued in the same turn.
            outgoing.setdefault(node, []).append(wire.encode(envelope))
        if not outgoing:
            return
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for node, entries in outgoing.items():
                    for entry in entries:
                        pipe.xadd(
                            inbox(node), {FIELD: entry}, maxlen=self._maxlen, approximate=True
                        )
                await pipe.execute()
        except (RedisError, OSError) as exc:
            # Asks time out and are retried by clients; tells and pushes are
            # lost, which resume and sync cover. Acked data is in the store.
            log.warning("cluster send failed: %s", exc, extra={"node": self.node})

    # -------------------------------------------------------------- receiving

    async def start(self) -> None:
        await self._ensure_group(inbox(self.node))
        self.healthy = True
        self._reader = asyncio.get_running_loop().create_task(self._read_loop())

    async def _ensure_group(self, stream: str) -> None:
        try:
            await self._redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _read_loop(self) -> None:
        stream = inbox(self.node)
        delay = 0.05
        while True:
            try:
                response = await self._redis.xreadgroup(
                    GROUP, self.node, {stream: ">"}, count=512, block=1000
                )
                self.healthy = True
                delay = 0.05
            except (RedisError, OSError) as exc:
                if self.healthy:
                    log.warning("cluster inbox read failed: %s", exc, extra={"node": self.node})
                self.healthy = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                # A restarted Redis has no stream and no group: make them again.
                with contextlib.suppress(RedisError, OSError):
                    await self._ensure_group(stream)
                continue
            entries = _entries(response)
            if not entries:
                continue
            for _, fields in entries:
                self._dispatch(fields.get(FIELD, b""), reroute=False)
            # The entries were handled; a failed ack at worst redelivers them.
            with contextlib.suppress(RedisError, OSError):
                await self._redis.xack(stream, GROUP, *[entry_id for entry_id, _ in entries])

    def _dispatch(self, raw: bytes, *, reroute: bool) -> None:
        """Handle one entry. With ``reroute`` (a dead node's entry) actor
        messages follow the key's current owner and the rest is dropped."""
        assert self.actors is not None and self.sessions is not None
        try:
            envelope = wire.decode_envelope(raw)
        except Exception:
            log.exception("undecodable cluster entry dropped", extra={"node": self.node})
            return
        op = envelope.op
        if op in (Op.TELL, Op.ASK):
            key = ActorKey(envelope.kind, envelope.id)
            try:
                message = wire.decode_message(envelope.type, envelope.body)
            except Exception:
                log.exception("undecodable actor message dropped", extra={"node": self.node})
                return
            if op == Op.TELL:
                self._deliver_tell(key, message, reroute)
            else:
                self._spawn(self._answer(envelope, key, message, reroute))
        elif op == Op.REPLY:
            future = self._pending.pop(envelope.corr, None)
            if future is not None and not future.done():
                self._settle(future, envelope)
        elif reroute:
            log.info("dropped session traffic for a dead node", extra={"node": self.node})
        elif op == Op.PUSH:
            for push in wire.decode_pushes(envelope.body):
                self.sessions.push(SessionRef(self.node, push.session_id), push.body)
        elif op == Op.CLOSE:
            close = wire.decode_close(envelope.body)
            self.sessions.close(SessionRef(self.node, close.session_id), close.code, close.reason)

    def _deliver_tell(self, key: ActorKey, message: Any, reroute: bool) -> None:
        assert self.actors is not None
        try:
            if reroute:
                self.actors.tell(key, message)
            else:
                self.actors.tell_local(key, message)
        except (MailboxFull, SystemStopped) as exc:
            log.warning("remote tell to %s dropped: %s", key, exc, extra={"node": self.node})

    async def _answer(self, envelope: Envelope, key: ActorKey, message: Any, reroute: bool) -> None:
        assert self.actors is not None
        reply = Envelope(op=Op.REPLY, src=self.node, corr=envelope.corr)
        try:
            if reroute:
                result = await self.actors.ask(key, message)
            else:
                result = await self.actors.ask_local(key, message)
            reply.type, reply.body = wire.encode_reply(result)
        except ProtocolError as exc:
            reply.error = wire.RemoteError("protocol", exc.code.value, exc.message, exc.retry_after)
        except ActorError as exc:
            reply.error = wire.RemoteError(type(exc).__name__, "", str(exc))
        except Exception as exc:
            log.exception("remote ask to %s failed", key, extra={"node": self.node})
            reply.error = wire.RemoteError("ActorCrashed", "", str(exc))
        if self._is_live(envelope.src):
            self._send(envelope.src, reply)

    @staticmethod
    def _settle(future: asyncio.Future[Any], envelope: Envelope) -> None:
        error = envelope.error
        if error is None:
            future.set_result(wire.decode_reply(envelope.type, envelope.body))
        elif error.kind == "protocol":
            future.set_exception(
                ProtocolError(ErrorCode(error.code), error.message, retry_after=error.retry_after)
            )
        else:
            future.set_exception(_RUNTIME_ERRORS.get(error.kind, ActorCrashed)(error.message))

    # ---------------------------------------------------------- dead nodes

    async def reclaim(self, dead: str) -> int:
        """Take over a dead node's inbox: re-route what it left pending or
        unread, then delete the stream. Returns how many entries moved."""
        stream = inbox(dead)
        moved = 0
        try:
            await self._ensure_group(stream)
            while True:
                claimed = await self._redis.xautoclaim(
                    stream, GROUP, self.node, min_idle_time=0, start_id="0-0", count=256
                )
                claimed_entries = cast(list[Entry], claimed[1] if len(claimed) > 1 else [])
                fresh = await self._redis.xreadgroup(GROUP, self.node, {stream: ">"}, count=256)
                # Claimed entries deleted by MAXLEN come back without fields.
                entries = [(i, f) for i, f in [*claimed_entries, *_entries(fresh)] if f]
                if not entries:
                    break
                for _, fields in entries:
                    self._dispatch(fields.get(FIELD, b""), reroute=True)
                await self._redis.xack(stream, GROUP, *[i for i, _ in entries])
                moved += len(entries)
            if not self._is_live(dead):
                await self._redis.delete(stream)
        except (RedisError, OSError) as exc:
            log.warning("reclaiming %s failed: %s", dead, exc, extra={"node": self.node})
        if moved:
            log.info("reclaimed %d entries of dead node %s", moved, dead, extra={"node": self.node})
        return moved

    # --------------------------------------------------------------- lifecycle

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def spawn(self, coro: Any) -> None:
        self._spawn(coro)

    async def stop(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        await self._flush()
        for task in list(self._tasks):
            task.cancel()
        for future in self._pending.values():
            if not future.done():
                future.set_exception(SystemStopped("node stopping"))
