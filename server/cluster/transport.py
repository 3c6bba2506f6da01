"""Node-to-node transport over Redis Streams.

Each node reads its own inbox stream (``grover:inbox:<node>``) through a
consumer group. Outgoing entries are buffered per destination and written in
one pipeline per event-loop turn, so a burst of fan-out costs a few round
trips, not one per event. One flush runs at a time, so entries reach each
stream in the order they were queued; a flush that fails (Redis briefly
away) is retried, in order, for up to ``retry_for`` seconds before it is
dropped with a warning. Stream lengths are capped (approximate MAXLEN).

Delivery is at least once. An actor message is acknowledged (XACK, in the
flush after the entries its handler queued) only once its handler has run,
so what a node that dies had read but not yet handled stays pending. An
actor message that reaches a node which, by its own view of the membership,
does not own the key is passed on to the owner (again only after a
heartbeat, by when views agree; after :data:`MAX_HOPS` it is handled where
it is and the lease decides). A tell whose
activation failed (fenced, lease held elsewhere) is routed again; one that
reaches a node that is shutting down stays pending. Entries a dead (or
departed) node left unread or unacknowledged are taken over by one live node
(chosen by rendezvous hashing) and routed the same way; replies and session
pushes addressed to it are dropped with a log line, since the askers and
sockets they were for are gone (clients resume or re-sync).

A redelivery happens only for what a node had handled but not yet
acknowledged when it died, or for a flush retried after Redis applied part
of it. Sends carry client keys, attach/detach, read marks and membership
changes converge, and clients de-duplicate events by conversation and seq;
a redelivered edit would be stored twice (same text, a second seq).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

import msgspec
from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from actors.errors import (
    ActivationFailed,
    ActorCrashed,
    ActorError,
    AskTimeout,
    MailboxFull,
    SystemStopped,
)
from actors.ids import ActorKey
from actors.message import Message
from actors.sessions import Delivery, SessionRef
from protocol.errors import ErrorCode, ProtocolError
from server.cluster import wire
from server.cluster.faults import FaultLog, is_transient
from server.cluster.membership import MEMBERS_KEY
from server.cluster.wire import Envelope, Op

if TYPE_CHECKING:
    from actors.runtime import ActorSystem
    from server.gateway.sessions import SessionRegistry

log = logging.getLogger("grover.cluster")

GROUP = "grover"
FIELD = b"e"
MAX_HOPS = 4
"""How often an actor message is passed on to another node before it is
handled wherever it is (views of the membership disagree only briefly)."""

_RUNTIME_ERRORS: dict[str, type[ActorError]] = {
    cls.__name__: cls
    for cls in (ActivationFailed, ActorCrashed, AskTimeout, MailboxFull, SystemStopped)
}

# Delete a dead node's inbox, unless the node is back (heartbeat within the
# timeout), entries were added after the last one the caller read
# (ARGV[3]), or some are still pending. 1 deleted, 0 node alive, 2 not drained.
_DROP_INBOX = """
local score = redis.call('ZSCORE', KEYS[2], ARGV[1])
if score then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if now - tonumber(score) <= tonumber(ARGV[2]) then return 0 end
end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if last[1] and last[1][1] ~= ARGV[3] then return 2 end
local pending = redis.call('XPENDING', KEYS[1], ARGV[4])
if tonumber(pending[1]) > 0 then return 2 end
redis.call('DEL', KEYS[1])
return 1
"""

# 1 if node ARGV[1] heartbeat within ARGV[2] ms (it is alive, whatever the
# caller's view says), else 0.
_ALIVE = """
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now - tonumber(score) <= tonumber(ARGV[2]) then return 1 end
return 0
"""

MAX_BATCH = 256
"""Envelopes in one stream entry at most (see :data:`wire.Op.BATCH`)."""

Entry = tuple[bytes, dict[bytes, bytes]]
Outgoing = bytes | list[wire.SessionPush]
"""An encoded envelope, or session pushes coalesced into one PUSH entry."""


def inbox(node: str) -> str:
    return f"grover:inbox:{node}"


def _entries(response: object) -> list[Entry]:
    """The entries of an XREADGROUP answer for one stream (redis-py types the
    answer loosely; its shape is ``[[stream, [(id, fields), ...]]]``)."""
    entries: list[Entry] = []
    for _, stream_entries in cast(list[tuple[bytes, list[Entry]]], response or []):
        entries.extend(stream_entries)
    return entries


def _id_key(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, counter = text.partition("-")
    return int(ms), int(counter or 0)


@dataclass
class TransportStats:
    """Counters of one node's transport since start (``/stats``; the bench
    reads them before and after its window to report, per message, what
    crossing nodes costs). Plain integers, bumped on the event loop.

    A flush is one pipeline, i.e. one Redis round trip for sending: its
    XADDs (``entries_sent``, ``bytes_sent`` their encoded size) and XACKs
    (``acks_sent`` entry ids). A flush writes one entry per destination node
    (a BATCH when it has several parts, up to :data:`MAX_BATCH`); a part is
    an envelope (tell, ask, reply, close, or an actor message passed on:
    ``envelopes_sent``) or a run of coalesced session pushes
    (``pushes_sent`` counts the pushes). What a
    flush that finally failed held is counted in ``dropped``, not here;
    ``flush_errors`` counts failed attempts (each retried). ``reads`` are
    XREADGROUP round trips on this node's own inbox (a blocking read that
    times out empty included), ``entries_received`` the entries they
    returned. Reclaiming a dead node's inbox is counted apart (``reclaimed``
    on the transport)."""

    flushes: int = 0
    flush_errors: int = 0
    entries_sent: int = 0
    envelopes_sent: int = 0
    pushes_sent: int = 0
    acks_sent: int = 0
    bytes_sent: int = 0
    reads: int = 0
    entries_received: int = 0


class StreamTransport:
    def __init__(
        self,
        redis: Redis,
        node: str,
        *,
        maxlen: int,
        is_live: Callable[[str], bool],
        owner: Callable[[str], str],
        node_timeout: float,
        retry_for: float,
        ask_timeout: float,
        settle: float,
    ) -> None:
        self._redis = redis
        self.node = node
        self._maxlen = maxlen
        self._is_live = is_live
        self._owner = owner
        self._node_timeout_ms = int(node_timeout * 1000)
        self._retry_for = retry_for
        self._ask_timeout = ask_timeout
        self._settle_delay = settle
        self.actors: ActorSystem | None = None
        self.sessions: SessionRegistry | None = None
        self._corr = itertools.count(1)
        self._pending: dict[int, tuple[asyncio.Future[Any], type[Message]]] = {}
        """Asks waiting for a reply, by correlation id, with what was asked
        (the reply is decoded as that message's reply type)."""
        self._outgoing: dict[str, list[Outgoing]] = {}
        self._acks: dict[str, list[bytes]] = {}
        self._in_hand: set[tuple[str, bytes]] = set()
        """(stream, entry id) taken and not yet acknowledged in Redis: a
        reclaim round must not take them again."""
        self._parts: dict[tuple[str, bytes], int] = {}
        """Parts of a BATCH entry not yet done: it is acknowledged after the last."""
        self._flush_scheduled = False
        self._flush_lock = asyncio.Lock()
        self._drop_inbox = redis.register_script(_DROP_INBOX)
        self._alive = redis.register_script(_ALIVE)
        self._reclaiming: set[str] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._reader: asyncio.Task[None] | None = None
        self._read_faults = FaultLog(log, "cluster inbox read", node=node)
        self.healthy = False
        self.reclaimed = 0
        """Entries taken over from dead nodes since start (for /readyz and tests)."""
        self.dropped = 0
        """Entries given up after ``retry_for`` seconds of failed flushes."""
        self.stats = TransportStats()

    def bind(self, actors: ActorSystem, sessions: SessionRegistry) -> None:
        self.actors = actors
        self.sessions = sessions

    # --------------------------------------------------------------- sending

    def tell(self, node: str, key: ActorKey, message: Message) -> None:
        name, body = wire.encode_message(message)
        self._send(
            node,
            Envelope(op=Op.TELL, src=self.node, kind=key.kind, id=key.id, type=name, body=body),
        )

    async def ask(self, node: str, key: ActorKey, message: Message, timeout: float) -> Any:
        corr = next(self._corr)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[corr] = (future, type(message))
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

    def push(self, node: str, session_id: str, delivery: Delivery) -> None:
        """Queue an event for a session on ``node``; consecutive pushes to one
        node are coalesced into one entry, in order."""
        push = wire.SessionPush(session_id, delivery)
        queue = self._outgoing.setdefault(node, [])
        if queue and isinstance(queue[-1], list):
            queue[-1].append(push)
        else:
            queue.append([push])
        self._schedule_flush()

    def close_session(self, node: str, session_id: str, code: int, reason: str) -> None:
        body = wire.encode(wire.SessionClose(session_id, code, reason))
        self._send(node, Envelope(op=Op.CLOSE, src=self.node, body=body))

    def _send(self, node: str, envelope: Envelope) -> None:
        self._outgoing.setdefault(node, []).append(wire.encode(envelope))
        self._schedule_flush()

    def _ack(self, stream: str, entry_id: bytes) -> None:
        """Acknowledge an entry in the next flush, after the entries queued
        before it (those its handling produced). A BATCH entry is
        acknowledged when the last of its parts is."""
        left = self._parts.get((stream, entry_id))
        if left is not None:
            if left > 1:
                self._parts[(stream, entry_id)] = left - 1
                return
            del self._parts[(stream, entry_id)]
        self._acks.setdefault(stream, []).append(entry_id)
        self._schedule_flush()

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            self._spawn(self._flush())

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let this turn's sends join the batch
        # One flush at a time: two pipelines on two connections could reach
        # Redis in either order, and entries to one stream must keep theirs.
        async with self._flush_lock:
            self._flush_scheduled = False
            outgoing, self._outgoing = self._outgoing, {}
            acks, self._acks = self._acks, {}
            if not outgoing and not acks:
                return
            entries: list[tuple[str, bytes]] = []
            envelopes = pushes = size = 0
            for node, items in outgoing.items():
                # One entry per node per flush (up to MAX_BATCH envelopes):
                # Redis and both nodes then pay per flush, not per message.
                parts: list[bytes] = []
                for item in items:
                    if isinstance(item, bytes):
                        parts.append(item)
                        envelopes += 1
                    else:
                        parts.append(self._pushes_entry(item))
                        pushes += len(item)
                for start in range(0, len(parts), MAX_BATCH):
                    chunk = parts[start : start + MAX_BATCH]
                    entry = chunk[0] if len(chunk) == 1 else self._batch_entry(chunk)
                    size += len(entry)
                    entries.append((inbox(node), entry))
            stats = self.stats
            deadline = time.monotonic() + self._retry_for
            delay = 0.05
            unexpected = False
            while True:
                try:
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for stream, entry in entries:
                            pipe.xadd(stream, {FIELD: entry}, maxlen=self._maxlen, approximate=True)
                        for stream, ids in acks.items():
                            pipe.xack(stream, GROUP, *ids)
                        await pipe.execute()
                    stats.flushes += 1
                    stats.entries_sent += len(entries)
                    stats.envelopes_sent += envelopes
                    stats.pushes_sent += pushes
                    stats.bytes_sent += size
                    stats.acks_sent += sum(len(ids) for ids in acks.values())
                    break
                except (RedisError, OSError) as exc:
                    stats.flush_errors += 1
                    if not is_transient(exc) and not unexpected:
                        # Not a known outage (a bug, a wrong reply): an error,
                        # once per flush; retrying goes on regardless.
                        unexpected = True
                        log.error("cluster send failed", exc_info=exc, extra={"node": self.node})
                    if time.monotonic() >= deadline:
                        # Asks time out and are retried by clients; a node that
                        # was cut off this long ends its sessions when it is
                        # back (see Cluster), so their clients re-sync.
                        self.dropped += len(entries)
                        log.warning(
                            "cluster send failed, %d entries dropped: %s",
                            len(entries),
                            exc,
                            extra={"node": self.node},
                        )
                        break
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 0.5)
            for stream, ids in acks.items():
                self._in_hand.difference_update((stream, entry_id) for entry_id in ids)

    def _pushes_entry(self, items: list[wire.SessionPush]) -> bytes:
        return wire.encode(Envelope(op=Op.PUSH, src=self.node, body=wire.encode(items)))

    def _batch_entry(self, parts: list[bytes]) -> bytes:
        return wire.encode(Envelope(op=Op.BATCH, src=self.node, body=wire.encode(parts)))

    # -------------------------------------------------------------- receiving

    async def start(self) -> None:
        stream = inbox(self.node)
        await self._ensure_group(stream)
        # A node restarted under the same name inherits what its previous
        # incarnation had read and not acknowledged: handle that first.
        after: bytes | str = "0"
        for _ in range(10_000):  # bounded: a stream holds about maxlen entries
            response = await self._redis.xreadgroup(GROUP, self.node, {stream: after}, count=512)
            leftover = _entries(response)
            self.stats.reads += 1
            self.stats.entries_received += len(leftover)
            if not leftover:
                break
            for entry_id, fields in leftover:
                self._dispatch(stream, entry_id, fields.get(FIELD, b""), dead=False)
            after = leftover[-1][0]
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
                self._read_faults.succeeded()
            except (RedisError, OSError) as exc:
                self._read_faults.failed(exc)
                self.healthy = False
                await asyncio.sleep(delay)
                delay = min(delay * 2, 1.0)
                # A restarted Redis has no stream and no group, and a node
                # taken for dead had its inbox deleted: make them again.
                with contextlib.suppress(RedisError, OSError):
                    await self._ensure_group(stream)
                continue
            entries = _entries(response)
            self.stats.reads += 1
            self.stats.entries_received += len(entries)
            for entry_id, fields in entries:
                self._dispatch(stream, entry_id, fields.get(FIELD, b""), dead=False)

    def _dispatch(self, stream: str, entry_id: bytes, raw: bytes, *, dead: bool) -> None:
        """Handle one entry of ``stream``. From a ``dead`` node's inbox, actor
        messages are routed as any other and the rest is dropped."""
        self._in_hand.add((stream, entry_id))
        try:
            envelope = wire.decode_envelope(raw)
            parts = wire.decode_batch(envelope.body) if envelope.op == Op.BATCH else None
        except Exception:
            log.exception("undecodable cluster entry dropped", extra={"node": self.node})
            self._ack(stream, entry_id)
            return
        if parts is None:
            self._dispatch_envelope(stream, entry_id, envelope, dead=dead)
            return
        if not parts:
            self._ack(stream, entry_id)
            return
        # Acknowledged when the last part is (see _ack).
        self._parts[(stream, entry_id)] = len(parts)
        for part in parts:
            try:
                envelope = wire.decode_envelope(part)
            except Exception:
                log.exception("undecodable cluster envelope dropped", extra={"node": self.node})
                self._ack(stream, entry_id)
                continue
            self._dispatch_envelope(stream, entry_id, envelope, dead=dead)

    def _dispatch_envelope(
        self, stream: str, entry_id: bytes, envelope: Envelope, *, dead: bool
    ) -> None:
        assert self.sessions is not None
        op = envelope.op
        if op in (Op.TELL, Op.ASK):
            self._route(stream, entry_id, envelope)
            return
        if op == Op.REPLY and not dead:
            waiting = self._pending.pop(envelope.corr, None)
            if waiting is not None and not waiting[0].done():
                self._settle(*waiting, envelope)
        elif dead:
            log.info("dropped session traffic for a dead node", extra={"node": self.node})
        elif op == Op.PUSH:
            for push in wire.decode_pushes(envelope.body):
                self.sessions.push(SessionRef(self.node, push.session_id), push.delivery)
        elif op == Op.CLOSE:
            close = wire.decode_close(envelope.body)
            self.sessions.close(SessionRef(self.node, close.session_id), close.code, close.reason)
        self._ack(stream, entry_id)

    def _route(
        self, stream: str, entry_id: bytes, envelope: Envelope, *, waited: bool = False
    ) -> None:
        """Hand an actor message to the key's actor here, or pass it on to
        the key's owner; the entry is acknowledged once either is done.

        A message that was already passed on once came from a node that took
        this one for the owner: views of the membership disagree, which
        lasts about a heartbeat. Rather than bounce it straight back, look
        again after ``settle`` seconds (else it would end up handled on a
        node that is not the owner and wait there for the owner's lease)."""
        assert self.actors is not None
        key = ActorKey(envelope.kind, envelope.id)
        owner = self._owner(str(key))
        if owner != self.node and envelope.hops < MAX_HOPS:
            if envelope.hops > 0 and not waited:
                asyncio.get_running_loop().call_later(
                    self._settle_delay, lambda: self._route(stream, entry_id, envelope, waited=True)
                )
                return
            self._send(owner, msgspec.structs.replace(envelope, hops=envelope.hops + 1))
            self._ack(stream, entry_id)
            return
        try:
            message = wire.decode_message(envelope.type, envelope.body)
        except Exception:
            log.exception("undecodable actor message dropped", extra={"node": self.node})
            self._ack(stream, entry_id)
            return
        handled: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        try:
            self.actors.tell_local(key, message, handled)
        except (MailboxFull, SystemStopped) as exc:
            handled.set_exception(exc)
        if envelope.op == Op.ASK:
            self._spawn(self._answer(stream, entry_id, envelope, key, handled))
        else:
            handled.add_done_callback(
                lambda done: self._told(stream, entry_id, envelope, key, done)
            )

    def _told(
        self,
        stream: str,
        entry_id: bytes,
        envelope: Envelope,
        key: ActorKey,
        done: asyncio.Future[Any],
    ) -> None:
        exc = None if done.cancelled() else done.exception()
        if isinstance(exc, ActivationFailed) and envelope.hops < MAX_HOPS:
            # Fenced or not activated (lease held elsewhere, Redis away): try
            # again, wherever the key belongs by now.
            self._route(stream, entry_id, msgspec.structs.replace(envelope, hops=envelope.hops + 1))
            return
        if isinstance(exc, SystemStopped):
            # This node is shutting down: leave the entry pending. Once the
            # node has left the membership, the node that reclaims its inbox
            # routes it to the key's new owner.
            return
        if exc is not None:
            log.warning("remote tell to %s failed: %s", key, exc, extra={"node": self.node})
        self._ack(stream, entry_id)

    async def _answer(
        self,
        stream: str,
        entry_id: bytes,
        envelope: Envelope,
        key: ActorKey,
        handled: asyncio.Future[Any],
    ) -> None:
        assert self.actors is not None
        reply = Envelope(op=Op.REPLY, src=self.node, corr=envelope.corr)
        try:
            result = await self.actors.reply(key, handled, self._ask_timeout)
            reply.body = wire.encode_reply(result)
        except ProtocolError as exc:
            reply.error = wire.RemoteError("protocol", exc.code.value, exc.message, exc.retry_after)
        except ActorError as exc:
            reply.error = wire.RemoteError(type(exc).__name__, "", str(exc))
        except Exception as exc:
            log.exception("remote ask to %s failed", key, extra={"node": self.node})
            reply.error = wire.RemoteError("ActorCrashed", "", str(exc))
        if self._is_live(envelope.src):
            self._send(envelope.src, reply)
        self._ack(stream, entry_id)

    @staticmethod
    def _settle(future: asyncio.Future[Any], asked: type[Message], envelope: Envelope) -> None:
        error = envelope.error
        if error is None:
            try:
                future.set_result(wire.decode_reply(asked, envelope.body))
            except msgspec.ValidationError as exc:
                future.set_exception(ActorCrashed(f"undecodable reply: {exc}"))
        elif error.kind == "protocol":
            future.set_exception(
                ProtocolError(ErrorCode(error.code), error.message, retry_after=error.retry_after)
            )
        else:
            future.set_exception(_RUNTIME_ERRORS.get(error.kind, ActorCrashed)(error.message))

    # ---------------------------------------------------------- dead nodes

    async def reclaim(self, dead: str) -> int:
        """Take over a dead node's inbox: route what it left pending or
        unread, wait until that is handled, then delete the stream (unless
        the node came back, or more arrived meanwhile: then go on). Returns
        how many entries were taken over. Safe to call again for the same
        node (a sender with a stale view may recreate the stream)."""
        stream = inbox(dead)
        if stream in self._reclaiming:
            return 0
        self._reclaiming.add(stream)
        moved = 0
        last = "0-0"
        try:
            for _ in range(200):  # bounded; each round either takes entries or waits 50 ms
                if await self._alive(keys=[MEMBERS_KEY], args=[dead, self._node_timeout_ms]):
                    break  # back (or never gone: our view lagged); it reads its own inbox
                await self._ensure_group(stream)
                taken, last = await self._take_round(stream, last)
                if taken:
                    moved += taken
                    continue
                await self._settled(stream)
                done = await self._drop_inbox(
                    keys=[stream, MEMBERS_KEY], args=[dead, self._node_timeout_ms, last, GROUP]
                )
                if done != 2:
                    break
                await asyncio.sleep(0.05)
        except (RedisError, OSError) as exc:
            # The janitor tries again within a node timeout.
            if is_transient(exc):
                log.warning("reclaiming %s failed: %s", dead, exc, extra={"node": self.node})
            else:
                log.error("reclaiming %s failed", dead, exc_info=exc, extra={"node": self.node})
        finally:
            self._reclaiming.discard(stream)
        if moved:
            self.reclaimed += moved
            log.info("reclaimed %d entries of dead node %s", moved, dead, extra={"node": self.node})
        return moved

    async def _take_round(self, stream: str, last: str) -> tuple[int, str]:
        """Claim what any consumer left pending, then read one batch of what
        nobody read; dispatch both. Returns how many were taken and the
        highest entry id seen. Only entries idle for half the node timeout
        are claimed: a node that is leaving (not dead) may still be handling
        its latest ones, and a dead node's are older than that by the time
        anyone notices."""
        taken = 0
        cursor: Any = "0-0"
        for _ in range(10_000):  # bounded: a stream holds about maxlen entries
            claimed = await self._redis.xautoclaim(
                stream,
                GROUP,
                self.node,
                min_idle_time=self._node_timeout_ms // 2,
                start_id=cursor,
                count=256,
            )
            cursor = claimed[0]
            entries = cast(list[Entry], claimed[1] if len(claimed) > 1 else [])
            taken += self._take(stream, entries)
            last = max([last, *(e[0].decode() for e in entries)], key=_id_key)
            if _id_key(cursor) == (0, 0):
                break
        fresh = _entries(await self._redis.xreadgroup(GROUP, self.node, {stream: ">"}, count=256))
        taken += self._take(stream, fresh)
        last = max([last, *(e[0].decode() for e in fresh)], key=_id_key)
        return taken, last

    def _take(self, stream: str, entries: list[Entry]) -> int:
        taken = 0
        for entry_id, fields in entries:
            # Entries trimmed by MAXLEN come back without fields (Redis 6.2),
            # and ours still in hand from an earlier pass are not taken twice.
            if fields and (stream, entry_id) not in self._in_hand:
                self._dispatch(stream, entry_id, fields.get(FIELD, b""), dead=True)
                taken += 1
        return taken

    async def _settled(self, stream: str) -> None:
        """Wait (bounded) until what was taken from ``stream`` is handled and
        its acknowledgements are written."""
        for _ in range(int(self._ask_timeout / 0.02) + 1):
            if not any(s == stream for s, _ in self._in_hand):
                break
            await asyncio.sleep(0.02)
        await self._flush()

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
        # Let forwards spawned by the last passivations queue their entries.
        for _ in range(3):
            await asyncio.sleep(0)
        await self._flush()
        for task in list(self._tasks):
            task.cancel()
        for future, _ in self._pending.values():
            if not future.done():
                future.set_exception(SystemStopped("node stopping"))
