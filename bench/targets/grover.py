"""Grover itself (``python -m server.cli serve``), spoken to with the typed
frames of protocol/messages/ through protocol/codec.py, so any drift in
the wire contract shows up here as errors rather than silently.

- request/reply: ``ping``. It carries no payload, so Grover's frames are
  smaller than the baselines' ~200 bytes (recorded as ``request_bytes``).
- rooms: a direct conversation (``conversation.open_direct``) for two members, a group
  (``conversation.create_group``) otherwise; every session is a registered user.
- publish: ``message.send``; the send timestamp leads the message text, and a
  receiver reads it back from ``message.new``.
- social cases (``post_fanout``, ``home_feed``): the store is seeded before
  the server starts (``python -m bench.seed``), sessions log in to the seeded
  accounts; a ``post.new`` event's post text carries the send timestamp the
  same way.
- ``live_chat``: the same seeding and log-in; the host ``stream.start``s,
  viewers ``stream.join``; a ``chat.updated`` frame carries several chat
  lines, each text led by its send timestamp: one delivery per line
  (:data:`~bench.session.EVENTS`), the lines' ids to the scenario.
- ``like_notify``: the same seeding and log-in; ``notification.new`` and
  ``notification.deleted`` are events whose detail (:class:`NotificationLite`,
  :class:`NotificationGone`) the scenario matches to the likes it sent
  (``badge.updated`` is not counted).
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import msgspec

from bench.payload import Payload
from bench.procs import free_port, run_to_end
from bench.serverstats import stats_url
from bench.session import CONTROL, ERROR, EVENT, EVENTS, REPLY, Batch, Decoded, Session
from bench.spec import SOCIAL_KINDS, CaseSpec
from bench.targets.base import PYTHON, Deployment, Dialect, Room, Target, bounded_gather
from protocol import codec, limits
from protocol.catalog import REQUESTS_BY_TYPE
from protocol.frames import EventFrame, ReplyFrame
from protocol.messages import accounts, messaging
from protocol.messages import session as wire_session
from protocol.version import PROTOCOL_VERSION

GROUP_LIMIT = limits.GROUP_MEMBERS_MAX
"""The bench starts Grover with ``--group-max-members`` at the protocol's cap."""

# Raised well above any load the bench offers from one IP: the limiter's check
# still runs on every request and connection, it just never refuses one.
_UNLIMITED = "1000000/1000000"

SEED_LIMIT = 300.0
"""Seconds a social case's seeding may take (200,000 posts take ~15)."""


class _MessageLite(msgspec.Struct):
    """The two fields of a MessageView a receiver needs; the rest is skipped."""

    sender_id: str = ""
    text: str = ""


class _PostLite(msgspec.Struct):
    """The two fields of a PostView a follower needs."""

    id: str = ""
    text: str = ""


class ActorLite(msgspec.Struct):
    id: str = ""


class NotificationLite(msgspec.Struct):
    """The fields of a NotificationView the ``like_notify`` check needs."""

    id: str = ""
    actors: list[ActorLite] = []
    """Newest first: after a like, the liker."""
    actor_count: int = 0
    post_id: str | None = None


class NotificationGone(msgspec.Struct):
    """A ``notification.deleted`` (its last actor was taken back)."""

    id: str


class _ChatLineLite(msgspec.Struct):
    """The two fields of a ChatLine a viewer needs."""

    id: str = ""
    text: str = ""


class _EventLite(msgspec.Struct):
    type: str
    lines: list[_ChatLineLite] | None = None
    message: _MessageLite | None = None
    post: _PostLite | None = None
    notification: NotificationLite | None = None
    notification_id: str | None = None


_decode_event = msgspec.msgpack.Decoder(_EventLite).decode


def _sent_at(text: str) -> int:
    head, _, _ = text.partition(":")
    return int(head) if head.isdigit() else 0


def _social_missing(kind: str) -> str | None:
    needed: tuple[str, ...] = ("post.create", "feed.home", "auth.login")
    if kind == "like_notify":
        needed = ("auth.login", "post.by_user", "post.like", "post.unlike", "notification.list")
    if kind == "live_chat":
        needed = ("auth.login", "stream.start", "stream.join", "chat.send")
    missing = [t for t in needed if t not in REQUESTS_BY_TYPE]
    if missing:
        return f"not available: the catalog has no {', '.join(missing)}"
    return None


def _messaging_missing() -> str | None:
    if "message.send" not in REQUESTS_BY_TYPE:
        return "not available: messaging not built (the catalog has no message.send)"
    return None


class GroverDialect(Dialect):
    name = "grover"
    social = True

    def path(self) -> str:
        return "/"

    async def handshake(self, session: Session) -> None:
        def hello(rid: int) -> bytes:
            return codec.encode_request(
                wire_session.Hello(id=rid, versions=[PROTOCOL_VERSION], client="grover-bench")
            )

        await session.call(hello)

    def echo(self, session: Session, request_id: int, payload: Payload) -> bytes:
        return codec.encode_request(wire_session.Ping(id=request_id))

    async def prepare(self, sessions: list[Session], timeout: float) -> None:
        """Register one account per session (which also logs it in). Not measured."""
        run = secrets.token_hex(3)  # unique across cases sharing a data dir

        async def register(session: Session) -> None:
            def build(rid: int) -> bytes:
                return codec.encode_request(
                    accounts.Register(
                        id=rid,
                        username=f"b{run}_{session.index}",
                        email=f"b{run}_{session.index}@bench.invalid",
                        password="bench-password-1",
                    )
                )

            frame = await session.call(build, timeout)
            auth = codec.decode_reply_data(accounts.Register, frame.data)
            assert isinstance(auth, accounts.AuthOk)
            session.state["user_id"] = auth.user.id

        await bounded_gather(sessions, register, limit=50)

    async def login(
        self, sessions: list[Session], usernames: list[str], password: str, timeout: float
    ) -> None:
        """Log each session in as the seeded account of the same position."""
        names = dict(zip((s.index for s in sessions), usernames, strict=True))

        async def login(session: Session) -> None:
            def build(rid: int) -> bytes:
                return codec.encode_request(
                    accounts.Login(id=rid, login=names[session.index], password=password)
                )

            frame = await session.call(build, timeout)
            auth = codec.decode_reply_data(accounts.Login, frame.data)
            assert isinstance(auth, accounts.AuthOk)
            session.state["user_id"] = auth.user.id

        await bounded_gather(sessions, login, limit=50)

    async def join_room(self, members: list[Session], key: str, timeout: float) -> Room:
        if any("user_id" not in m.state for m in members):
            raise RuntimeError("grover rooms need logged-in sessions: call prepare() first")
        owner, *others = members
        request: messaging.OpenDirect | messaging.CreateGroup
        if len(members) == 2:
            request = messaging.OpenDirect(id=0, user_id=others[0].state["user_id"])
        else:
            ids = [m.state["user_id"] for m in others]
            request = messaging.CreateGroup(id=0, title=key[: limits.TITLE_MAX], member_ids=ids)

        def build(rid: int) -> bytes:
            request.id = rid
            return codec.encode_request(request)

        frame = await owner.call(build, timeout)
        view = codec.decode_reply_data(type(request), frame.data)
        assert isinstance(view, messaging.ConversationView)
        return Room(key, view.id)

    def publish(self, session: Session, request_id: int, room: Room, payload: Payload) -> bytes:
        return codec.encode_request(
            messaging.SendMessage(
                id=request_id,
                conversation_id=room.ref,
                client_key=f"{payload.src}.{payload.n}",
                text=f"{payload.ts}:{payload.src}:{payload.n}:{payload.text}",
            )
        )

    def decode(self, session: Session, data: bytes, is_text: bool) -> Decoded:
        frame = codec.decode_server_frame(data)
        if isinstance(frame, ReplyFrame):
            return REPLY, frame.id, 0, frame
        if isinstance(frame, EventFrame):
            event = _decode_event(frame.event)
            message = event.message
            # The sender's own copy is not a delivery to another member.
            if (
                event.type == "message.new"
                and message is not None
                and message.sender_id != session.state.get("user_id")
            ):
                return EVENT, 0, _sent_at(message.text), None
            lines = event.lines
            if event.type == "chat.updated" and lines is not None:
                if not lines:  # reactions or deletions only: no delivery
                    return CONTROL, 0, 0, None
                sent = [_sent_at(line.text) for line in lines]
                return EVENTS, 0, 0, Batch(sent, [line.id for line in lines])
            post = event.post
            if event.type == "post.new" and post is not None:
                return EVENT, 0, _sent_at(post.text), post.id
            # The send time is not in a notification: the scenario times it.
            if event.type == "notification.new" and event.notification is not None:
                return EVENT, 0, 0, event.notification
            if event.type == "notification.deleted" and event.notification_id is not None:
                return EVENT, 0, 0, NotificationGone(event.notification_id)
            return CONTROL, 0, 0, None
        return ERROR, frame.id or 0, 0, frame.code

    def unavailable(self, spec: CaseSpec) -> str | None:
        if spec.kind in ("connect_storm", "echo"):
            return None
        if spec.kind in SOCIAL_KINDS:
            return _social_missing(spec.kind)
        missing = _messaging_missing()
        if missing:
            return missing
        if spec.kind == "fanout":
            members = int(spec.params.get("subscribers", 0)) + 1
            if members > GROUP_LIMIT:
                return (
                    f"not available: {members} members exceed Grover's group cap "
                    f"({GROUP_LIMIT}); 1-to-{members - 1} fan-out needs live streams"
                )
        if spec.kind == "chat_group" and int(spec.params.get("size", 0)) > GROUP_LIMIT:
            return f"not available: groups are capped at {GROUP_LIMIT} members"
        return None


class GroverTarget(Target):
    name = "grover"
    label = "Grover"

    def command(self, port: int, workdir: Path) -> list[str]:
        return self.node_command(port, free_port(), workdir)

    async def start(self, workdir: Path, core: int | None) -> Deployment:
        """One node, whose sidecar's ``/stats`` the generator reads."""
        port, sidecar = free_port(), free_port()
        argv = self.node_command(port, sidecar, workdir / "data")
        return await self.start_one(argv, port, workdir, core, stats_url(sidecar))

    def node_command(self, port: int, sidecar_port: int, workdir: Path, *extra: str) -> list[str]:
        """argv of one node: the bench's settings, then ``extra`` flags."""
        flags = {
            "--port": str(port),
            "--sidecar-port": str(sidecar_port),
            "--data-dir": str(workdir),
            "--log-level": "WARNING",
            # No load balancer checks readiness here: stop without a drain.
            "--drain-seconds": "0",
            "--rate-connect": _UNLIMITED,
            "--rate-request": _UNLIMITED,
            "--rate-register": _UNLIMITED,
            # Seeded accounts log in together (social cases): the per-IP bucket
            # is taken before the password check and refunded after, so more
            # than its burst (30) of concurrent good logins would be refused.
            "--rate-login-ip": _UNLIMITED,
            "--rate-login-account": _UNLIMITED,
            # Every generated connection comes from 127.0.0.1.
            "--max-connections-per-ip": "1000000",
            "--group-max-members": str(GROUP_LIMIT),
            # Accounts are created in setup, not measured: cheap hashing keeps
            # a 1000-user setup to seconds instead of minutes.
            "--argon2-time-cost": "1",
            "--argon2-memory-kib": "64",
        }
        return [
            PYTHON,
            "-m",
            "server.cli",
            "serve",
            *(x for kv in flags.items() for x in kv),
            *extra,
        ]

    def dialect(self) -> Dialect:
        return GroverDialect()

    async def seed(self, spec: CaseSpec, workdir: Path) -> dict[str, Any] | None:
        """The social cases' accounts, follows and posts, written through the
        store API in a child process (``python -m bench.seed``, bounded)."""
        if spec.kind not in SOCIAL_KINDS:
            return None
        argv = [
            PYTHON,
            "-m",
            "bench.seed",
            "--kind",
            spec.kind,
            "--params",
            msgspec.json.encode(spec.params).decode(),
            "--data-dir",
            str(workdir / "data"),
        ]
        output = await run_to_end(argv, role="seed", hard_limit=SEED_LIMIT)
        if output is None:
            raise RuntimeError(f"seeding took longer than {SEED_LIMIT:.0f} s and was killed")
        if output.returncode != 0 or not output.lines:
            raise RuntimeError(f"seeding exited with {output.returncode}")
        info: dict[str, Any] = msgspec.json.decode(output.lines[-1])
        return info

    def startup_timeout(self) -> float:
        return 30.0

    def describe(self) -> dict[str, Any]:
        return {
            "store": "sqlite (fresh data dir per case)",
            "rate_limits": f"connect, request, register and login raised to {_UNLIMITED}; "
            "no per-IP connection cap",
            "echo_request": "ping (no payload)",
            "rooms": "conversation.open_direct for pairs, conversation.create_group otherwise "
            f"(--group-max-members {GROUP_LIMIT})",
            "argon2": "time cost 1, 64 KiB (setup only: bench accounts)",
        }


class GroverPicowsTarget(GroverTarget):
    """Grover with the picows transport behind its gateway
    (``--transport picows``): everything else as the ``grover`` target."""

    name = "grover-picows"
    label = "Grover on picows"

    def skip(self, spec: CaseSpec) -> str | None:
        if spec.kind in SOCIAL_KINDS:
            # Their cost is the store and the actors, the same on both
            # transports; leaving them out keeps `make bench` short.
            return "not run: the picows target runs the relay-comparable cases only"
        return super().skip(spec)

    def node_command(self, port: int, sidecar_port: int, workdir: Path, *extra: str) -> list[str]:
        return super().node_command(port, sidecar_port, workdir, "--transport", "picows", *extra)
