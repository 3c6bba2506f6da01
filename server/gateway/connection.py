"""One websocket: :class:`Connection`.

A connection reads frames, decodes each straight into a typed request, checks
it (hello first, login, request id, rate limit), and runs its handler as a
task, at most ``max_inflight`` at a time; when that many are running it stops
reading, which pushes back on the client through TCP. A request that changes
the login runs alone: it waits for the requests in flight, and reading waits
for it. Everything the server sends (replies, errors, events) goes through one
outbox drained by one writer task, bounded in frames and in bytes (the
transport's write buffer counted too), so a slow reader only ever fills its
own outbox; when that is full the connection is closed with 4008 and the
client may resume elsewhere.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque

from actors.errors import ActivationFailed, ActorCrashed, AskTimeout, MailboxFull, SystemStopped
from actors.moderation import SUSPENDED_MESSAGE, refuse_if_suspended
from actors.user import Attach, GetUser, me_view, user_key
from protocol import limits
from protocol.codec import decode_request, encode_error, encode_reply
from protocol.errors import CloseCode, ErrorCode, ProtocolError
from protocol.frames import Request
from protocol.messages import session as wire
from protocol.version import negotiate
from server.context import Caller, HandlerTable, Services
from server.gateway.sessions import Session, SessionRegistry
from server.gateway.transport import Socket, SocketClosed
from server.observability import logs
from server.observability.instruments import Traffic
from server.observability.timing import request_finished
from server.ratelimit import TokenBucket, retry_after

log = logging.getLogger("grover.gateway")

RUNTIME_ERRORS = (MailboxFull, AskTimeout, ActorCrashed, ActivationFailed, SystemStopped)
"""The actor runtime's failures that a request may meet; each becomes a
retryable error frame (see :meth:`Connection._refuse_runtime`)."""

CORK_BYTES = 64 * 1024
"""Bytes of one loop turn's frames for a connection above which they are
written at once rather than at the end of the turn."""

FLUSH_TIMEOUT = 2.0
"""Seconds a closing connection waits for its outbox to be written before the
close frame goes out anyway, and then for the close frame to be written before
the TCP connection is aborted."""


class WriteBatcher:
    """Writes each connection's frames of one loop turn with one syscall.

    A connection with frames to write joins the batch; the first one of a
    turn schedules :meth:`flush` for the start of the next turn, so a turn
    that pushes several events to a socket (a batch of messages fanned out,
    an ack and a delivery) writes them together, and the cost is one
    ``call_soon`` per turn for all connections, not one per frame."""

    def __init__(self) -> None:
        self._dirty: list[Connection] = []

    def add(self, connection: Connection) -> None:
        if not self._dirty:
            asyncio.get_running_loop().call_soon(self.flush)
        self._dirty.append(connection)

    def flush(self) -> None:
        dirty, self._dirty = self._dirty, []
        for connection in dirty:
            connection.uncork()


class _Backlog:
    """The outbox of a connection that fell behind, and the task writing it
    with flow control. Made the first time the connection falls behind: an
    idle or keeping-up connection holds none of it (a task, two events and a
    deque were a quarter of an idle connection's memory)."""

    __slots__ = ("drained", "frames", "nbytes", "traffic", "wake", "writer")

    def __init__(self, socket: Socket, traffic: Traffic | None) -> None:
        self.traffic = traffic
        self.frames: deque[bytes] = deque()
        self.nbytes = 0
        """Bytes of the frames in :attr:`frames`."""
        self.wake = asyncio.Event()
        self.drained = asyncio.Event()
        self.drained.set()
        self.writer = asyncio.get_running_loop().create_task(self._write(socket))

    def push(self, frame: bytes) -> None:
        self.frames.append(frame)
        self.nbytes += len(frame)
        self.drained.clear()
        self.wake.set()

    def clear(self) -> None:
        self.frames.clear()
        self.nbytes = 0

    async def _write(self, socket: Socket) -> None:
        frames = self.frames
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while frames:
                    frame = frames.popleft()
                    self.nbytes -= len(frame)
                    await socket.send(frame)
                    if self.traffic is not None:
                        self.traffic.frames_out += 1
                        self.traffic.bytes_out += len(frame)
                self.drained.set()
        except SocketClosed:
            pass
        finally:
            self.drained.set()


class Connection:
    """One websocket: its outbox, its writer, and its (resumable) session."""

    __slots__ = (
        "_backlog",
        "_corked",
        "_corked_bytes",
        "_retry_at",
        "_slot_freed",
        "_strikes",
        "_tasks",
        "batcher",
        "caller",
        "closing",
        "handlers",
        "last_request_id",
        "metrics",
        "peer",
        "services",
        "session",
        "sessions",
        "settings",
        "socket",
    )

    def __init__(
        self,
        socket: Socket,
        services: Services,
        sessions: SessionRegistry,
        handlers: HandlerTable,
        batcher: WriteBatcher,
    ) -> None:
        self.socket = socket
        self.batcher = batcher
        self.metrics = services.metrics
        self._corked: list[bytes] | None = None
        """Frames of this loop turn, written together when the batcher flushes."""
        self._corked_bytes = 0
        self._backlog: _Backlog | None = None
        self.services = services
        self.settings = services.settings
        self.sessions = sessions
        self.handlers = handlers
        self.peer = socket.peer
        self.session: Session | None = None
        self.caller: Caller | None = None
        self.last_request_id = -1
        self.closing = False
        self._slot_freed: asyncio.Future[None] | None = None
        """Set while reading waits for one of ``max_inflight`` handlers to end
        (a future only then: a semaphore per idle connection cost ~0.3 KB)."""
        self._strikes = TokenBucket(self.settings.abuse_strikes)
        self._retry_at: dict[str, float] | None = None
        """Per request type, when the ``retry_after`` last announced for it
        ends (monotonic): a request of that type refused before then ignored
        the announcement, which is abuse; one refused after it is not."""
        self._tasks: set[asyncio.Task[None]] = set()
        """Request handlers running now (a login change waits for them), and
        the close."""

    @property
    def outbox(self) -> deque[bytes] | tuple[()]:
        """Frames waiting for the socket to take them (empty unless the
        connection fell behind)."""
        return self._backlog.frames if self._backlog is not None else ()

    # ------------------------------------------------------------ outbound

    def send(self, frame: bytes) -> None:
        """Send a frame, or queue it behind earlier ones; a full outbox marks a
        slow consumer and closes it.

        Write-through: when nothing is queued and the socket is not applying
        backpressure, the frame goes to the socket at the end of this loop
        turn, together with the connection's other frames of the turn (see
        :class:`WriteBatcher`), without a wake-up of the writer task or
        websockets' per-send context manager, which together were about a
        quarter of the server's CPU in the chat benchmark. Only a connection
        that falls behind queues, and its writer task then drains the outbox
        with flow control."""
        if self.closing:
            return
        corked = self._corked
        if corked is not None:
            corked.append(frame)
            self._corked_bytes += len(frame)
            if self._corked_bytes >= CORK_BYTES:
                self.uncork()
            return
        socket = self.socket
        backlog = self._backlog
        if backlog is None or not backlog.frames:
            if socket.is_writable():
                self._corked = [frame]
                self._corked_bytes = len(frame)
                self.batcher.add(self)
                return
            if not socket.is_open():
                return  # closing: the read loop sees it end
        if backlog is None:
            metrics = self.metrics
            backlog = self._backlog = _Backlog(socket, metrics.traffic if metrics else None)
        # Bytes count as well as frames: 2048 frames of a page each used to
        # allow gigabytes per connection. What the transport holds counts too:
        # the writer hands it one frame at a time, but write-through may have
        # left up to a turn's frames above its high-water mark.
        held = backlog.nbytes + len(frame) + socket.write_buffer_size()
        if len(backlog.frames) >= self.settings.outbox_size or held > self.settings.outbox_bytes:
            # Called from whichever task pushed (an actor's, usually), so the
            # context variables are not this connection's: name it explicitly.
            session = self.session
            log.warning(
                "slow consumer closed",
                extra={
                    "peer": self.peer,
                    "session": session.id if session else None,
                    "user": session.user_id if session else None,
                    "queued_frames": len(backlog.frames),
                    "queued_bytes": held,
                },
            )
            if self.metrics is not None:
                self.metrics.slow_consumers += 1
            self.close_soon(CloseCode.SLOW_CONSUMER, "slow consumer: outbox full", discard=True)
            return
        backlog.push(frame)

    def uncork(self) -> None:
        """Write the frames of this turn now, in one system call."""
        frames = self._corked
        if frames is None:
            return
        self._corked = None
        socket = self.socket
        if not socket.is_open():
            return  # closing: the read loop sees it end
        try:
            written = socket.write_frames(frames)
            if self.metrics is not None:
                self.metrics.traffic.frames_out += len(frames)
                self.metrics.traffic.bytes_out += written
        except Exception:
            # The transport broke under us; the read loop sees the close.
            log.debug("write-through failed", exc_info=True)
            self.close_soon(CloseCode.GOING_AWAY, "connection lost", discard=True)

    async def drain(self, timeout: float) -> None:
        """Wait (bounded) until the outbox has been written to the socket."""
        self.uncork()
        if self._backlog is None:
            return
        try:
            async with asyncio.timeout(timeout):
                await self._backlog.drained.wait()
        except TimeoutError:
            pass

    def close_soon(self, code: int, reason: str, *, discard: bool = False) -> None:
        """Close with ``code`` once the frames already queued are written
        (waiting at most :data:`FLUSH_TIMEOUT`), so that the error explaining
        a close reaches the client before it. Frames sent from now on are
        dropped. ``discard`` drops the queued frames instead and closes at
        once (a slow consumer, whose outbox would never drain)."""
        if self.closing:
            return
        self.closing = True
        if discard:
            self._corked = None
            if self._backlog is not None:
                self._backlog.clear()
        task = asyncio.get_running_loop().create_task(self._close(code, reason, flush=not discard))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        freed = self._slot_freed
        if freed is not None and not freed.done():
            freed.set_result(None)

    async def _close(self, code: int, reason: str, *, flush: bool) -> None:
        if flush:
            await self.drain(FLUSH_TIMEOUT)
        try:
            async with asyncio.timeout(FLUSH_TIMEOUT):
                await self.socket.close(code, reason)
        except TimeoutError:
            # A client that reads nothing leaves no room even for the close
            # frame, and websockets would wait for room without limit.
            self.socket.abort()

    def refuse(
        self,
        request_id: int | None,
        code: ErrorCode,
        message: str,
        *,
        retry_after: float | None = None,
        strike: bool = True,
    ) -> None:
        """Answer with an error; repeated bad input ends in a 1008 close."""
        self.send(encode_error(request_id, code, message, retry_after))
        if self.metrics is not None:
            self.metrics.errors.inc(str(code))
        if strike and self._strikes.take() > 0:
            log.warning("closing abusive connection", extra={"peer": self.peer, "code": code})
            self.close_soon(CloseCode.POLICY_VIOLATION, "too many bad or rate-limited requests")

    # ------------------------------------------------------------- inbound

    async def on_frame(self, raw: bytes | str) -> None:
        if self.metrics is not None:
            self.metrics.traffic.frames_in += 1
            self.metrics.traffic.bytes_in += len(raw)
        if self.closing:
            # Frames still arrive until the client answers the close; a
            # connection closed for abuse (or any reason) executes none of them.
            return
        if isinstance(raw, str):
            self.refuse(None, ErrorCode.BAD_FRAME, "text frames are not supported: send msgpack")
            return
        try:
            request = decode_request(raw)
        except ProtocolError as exc:
            self.refuse(exc.request_id, exc.code, exc.message)
            return
        if request.id <= self.last_request_id:
            self.refuse(
                request.id,
                ErrorCode.DUPLICATE_REQUEST_ID,
                f"request ids must increase; last was {self.last_request_id}",
            )
            return
        self.last_request_id = request.id
        session = self.session
        if session is None:
            if isinstance(request, wire.Hello):
                await self._hello(request)
            else:
                self.refuse(request.id, ErrorCode.HELLO_REQUIRED, "send hello first")
            return
        if isinstance(request, wire.Hello):
            self.refuse(request.id, ErrorCode.ALREADY_GREETED, "hello was already sent")
            return
        if request.changes_login and self._tasks:
            # Runs alone: nothing in flight may see the login change under it
            # (a close may be among them: then this returns just below).
            await asyncio.wait(list(self._tasks))
            if self.closing:
                return
        # Login and logout run in handler tasks, whose context changes do not
        # come back here: refresh the user for this frame and its task.
        logs.user_id_var.set(session.user_id)
        if session.user_id is None and not request.before_login:
            self.refuse(request.id, ErrorCode.UNAUTHENTICATED, "log in first", strike=False)
            return
        if not await self._within_rate(request):
            return
        loop = asyncio.get_running_loop()
        while len(self._tasks) >= self.settings.max_inflight:
            self._slot_freed = loop.create_future()
            await self._slot_freed
        task = loop.create_task(self._run(request))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        if request.changes_login:
            # Reading waits for it, so later requests start under the new login
            # (and one that needs a login finds out it has none).
            await asyncio.wait([task])

    async def _within_rate(self, request: Request) -> bool:
        """Take a token for the request, or refuse it with a ``retry_after``
        rounded up. Only a refusal that comes before the wait announced last
        time for this type has passed is a strike: a client that waits as it
        is told is never closed for it, one that hammers is."""
        kind = type(request).__name__
        session = self.session
        assert session is not None
        wait = await self.services.limiter.acquire(
            f"req:{session.user_id or self.peer}:{kind}", self.settings.rate_request
        )
        if wait <= 0:
            return True
        now = time.monotonic()
        if self._retry_at is None:
            self._retry_at = {}
        ignored = now < self._retry_at.get(kind, 0.0)
        delay = retry_after(wait)
        self._retry_at[kind] = now + delay
        if self.metrics is not None:
            self.metrics.rate_limited.inc("request")
        self.refuse(
            request.id,
            ErrorCode.RATE_LIMITED,
            "too many requests",
            retry_after=delay,
            strike=ignored,
        )
        return False

    async def _run(self, request: Request) -> None:
        assert self.caller is not None, "requests run only after hello"
        # This task's log lines and error reports name the request.
        logs.begin_request(request, self.caller.session.id, self.caller.user_id)
        started = time.perf_counter()
        outcome: str = "ok"
        try:
            data = await self.handlers[type(request)](self.services, self.caller, request)
            reply = encode_reply(request.id, data)
            if len(reply) > limits.MAX_REPLY_BYTES:
                # Pages fit themselves to the budget; anything else this big
                # is a bug, and sending it would break the documented bound.
                log.error(
                    "reply to %s is %d bytes, over MAX_REPLY_BYTES",
                    type(request).__name__,
                    len(reply),
                    extra={"peer": self.peer},
                )
                outcome = ErrorCode.INTERNAL
                self.refuse(request.id, ErrorCode.INTERNAL, "internal error", strike=False)
                return
            self.send(reply)
        except ProtocolError as exc:
            outcome = exc.code
            self.refuse(
                request.id, exc.code, exc.message, retry_after=exc.retry_after, strike=False
            )
        except RUNTIME_ERRORS as exc:
            outcome = self._refuse_runtime(request.id, exc)
        except Exception:
            outcome = ErrorCode.INTERNAL
            log.exception("request %s failed", type(request).__name__, extra={"peer": self.peer})
            self.refuse(request.id, ErrorCode.INTERNAL, "internal error", strike=False)
        finally:
            if self.metrics is not None:
                request_finished(self.metrics, request, time.perf_counter() - started, outcome)
            log.debug("request done")

    def _refuse_runtime(self, request_id: int, exc: Exception) -> ErrorCode:
        """Refuse a request the actor runtime could not serve (busy, slow, or
        an actor moving between nodes); the client may retry. Returns the code."""
        if isinstance(exc, MailboxFull):
            self.refuse(
                request_id, ErrorCode.OVERLOADED, "busy; retry", retry_after=0.5, strike=False
            )
            return ErrorCode.OVERLOADED
        if isinstance(exc, AskTimeout):
            self.refuse(request_id, ErrorCode.TIMEOUT, "timed out", strike=False)
            return ErrorCode.TIMEOUT
        self.refuse(request_id, ErrorCode.INTERNAL, "internal error", strike=False)
        return ErrorCode.INTERNAL

    async def _hello(self, hello: wire.Hello) -> None:
        services, sessions = self.services, self.sessions
        version = negotiate(hello.versions)
        if version is None:
            self.refuse(hello.id, ErrorCode.UNSUPPORTED_VERSION, "no common protocol version")
            self.close_soon(CloseCode.UNSUPPORTED_VERSION, "unsupported protocol version")
            return
        user = None
        token_hash = None
        if hello.token is not None:
            try:
                auth = await services.tokens.resolve(hello.token)
                user = await services.actors.ask(user_key(auth.user_id), GetUser())
                refuse_if_suspended(user)
            except ProtocolError as exc:
                self.refuse(hello.id, exc.code, exc.message)
                return
            except RUNTIME_ERRORS as exc:
                # E.g. the user's actor is moving to another node: retryable.
                self._refuse_runtime(hello.id, exc)
                return
            token_hash = auth.token_hash

        resumed, resync = False, False
        session: Session | None = None
        if hello.resume is not None:
            old = sessions.get(hello.resume.session_id)
            if old is not None and old.user_id is not None and old.user_id == (user and user.id):
                if old.missed_since(hello.resume.last_seq) is not None:
                    session, resumed = old, True
                else:
                    sessions.end(old)
            resync = not resumed
        if session is None:
            session = sessions.create()
            if user is not None:
                session.log_in(user.id, token_hash)
                try:
                    await services.actors.ask(user_key(user.id), Attach(session.ref))
                except RUNTIME_ERRORS as exc:
                    sessions.end(session)  # tells the user's actor to forget it
                    self._refuse_runtime(hello.id, exc)
                    return
                if session.user_id is None:  # suspended after GetUser: the actor closed it
                    self.refuse(hello.id, ErrorCode.SUSPENDED, SUSPENDED_MESSAGE, strike=False)
                    return
        else:
            # Same user, but maybe another of their tokens: logout must revoke
            # the one this connection holds.
            session.token_hash = token_hash
            if session.connection is not None:
                # Another socket still holds this session (a half-dead one, usually).
                session.connection.close_soon(CloseCode.NORMAL, "session resumed elsewhere")

        # From here to the attach nothing awaits, so no event slips between the
        # replayed ones and the live ones.
        missed = session.missed_since(hello.resume.last_seq) if resumed and hello.resume else None
        if missed is None:
            missed = session.frames()
        welcome = wire.Welcome(
            version=version,
            session_id=session.id,
            heartbeat_interval=self.settings.heartbeat_interval,
            resumed=resumed,
            resync=resync,
            user=me_view(user) if user is not None else None,
            server_time=time.time(),
        )
        self.send(encode_reply(hello.id, welcome))
        for frame in missed:
            self.send(frame)
        self.session = session
        self.caller = Caller(session, self.peer, services.actors)
        sessions.attach(session, self)
        logs.session_id_var.set(session.id)
        logs.user_id_var.set(session.user_id)
        log.info("session resumed" if resumed else "session opened", extra={"peer": self.peer})

    # ------------------------------------------------------------ lifecycle

    async def serve(self) -> None:
        try:
            await self._await_hello()
            while True:
                await self.on_frame(await self.socket.recv())
        except self.socket.closed_errors:
            pass
        finally:
            if self._backlog is not None:
                self._backlog.writer.cancel()
            for task in list(self._tasks):
                if not task.done():
                    await asyncio.wait([task], timeout=self.settings.ask_timeout)
            if self.session is not None:
                self.sessions.detach(self.session, self)
            code = self.socket.close_code
            log.info("connection closed", extra={"peer": self.peer, "code": code})
            if self.metrics is not None:
                self.metrics.closes.inc(str(code))

    async def _await_hello(self) -> None:
        """Read frames until a hello succeeds; give up after ``hello_timeout``."""
        try:
            async with asyncio.timeout(self.settings.hello_timeout):
                while self.session is None and not self.closing:
                    await self.on_frame(await self.socket.recv())
        except TimeoutError:
            self.close_soon(CloseCode.HELLO_TIMEOUT, "no hello in time")
