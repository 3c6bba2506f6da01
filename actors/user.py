"""The UserActor: one per user, knows every live session of that user.

Its hot state is the account record and the set of sessions (on any node) the
user is connected through. Everything pushed to a user goes through here, so
that each of their devices receives it; the push itself goes through the
:class:`SessionSink` port, which the gateway implements locally and the cluster
over Redis.
"""

from __future__ import annotations

import time

import msgspec

from actors.actor import Actor
from actors.feed import TIMELINE_SIZE, HomeTimeline, TimelineSlice
from actors.ids import ActorKey
from actors.inbox import MESSAGES as INBOX_MESSAGES
from actors.inbox import Inbox, MarkRead, Notify, SetMuted, Unnotify
from actors.message import Ask, Message
from actors.sessions import Delivery, SessionDirectory, SessionRef, SessionSink
from actors.store import Store
from actors.store.accounts import ProfileUpdate, UserRecord
from actors.store.social import PageKey
from protocol import limits
from protocol.codec import encode_event_body
from protocol.errors import CloseCode, ErrorCode, ProtocolError
from protocol.messages import accounts

KIND = "user"


def user_key(user_id: str) -> ActorKey:
    return ActorKey(KIND, user_id)


# ---------------------------------------------------------------- messages


class Attach(Ask[None], frozen=True):
    session: SessionRef


class Detach(Ask[None], frozen=True):
    """Forget a session. Asked (not only told) by a logout, whose answer then
    means every push the actor made before it has reached the session."""

    session: SessionRef


class PushMany(Message, frozen=True):
    """Deliver several events to every session of the user, in order."""

    items: list[Delivery]


class UpdateProfile(Ask[UserRecord], frozen=True):
    update: ProfileUpdate
    origin: SessionRef | None = None


class GetUser(Ask[UserRecord], frozen=True):
    pass


class CloseSessions(Ask[None], frozen=True):
    """Close every session of the user but ``keep`` (logout everywhere)."""

    code: int
    reason: str
    keep: SessionRef | None = None


class ListSessions(Ask[list[SessionRef]], frozen=True):
    pass


class Refresh(Ask[None], frozen=True):
    """The account's record changed in the store behind the actor (a
    moderator suspended it or lifted the suspension): read it again. Once
    it says suspended, every session is closed with ``CloseCode.SUSPENDED``
    and a session that attaches later (a login racing the suspension) is
    closed as it arrives."""


class HomeSlice(Ask[TimelineSlice], frozen=True):
    """A page of the user's home feed from the hot timeline (built first if
    the actor has none)."""

    before: PageKey | None
    limit: int


class TimelinePush(Message, frozen=True):
    """A new post of someone the user follows (or their own): prepend it to
    the hot timeline, if any, and push ``body`` (``post.new``) to every
    session but ``origin``."""

    post_id: str
    created_at: float
    body: bytes
    origin: SessionRef | None = None


class FollowsChanged(Message, frozen=True):
    """The user followed or unfollowed someone: the hot timeline's authors
    are wrong, so it is dropped and rebuilt on the next read."""


MESSAGES: tuple[type[Message], ...] = (
    Attach,
    Detach,
    PushMany,
    UpdateProfile,
    GetUser,
    CloseSessions,
    ListSessions,
    Refresh,
    HomeSlice,
    TimelinePush,
    FollowsChanged,
    *INBOX_MESSAGES,
)
"""Every message a UserActor takes (the cluster's wire registry is built from it)."""


def me_view(user: UserRecord) -> accounts.Me:
    return msgspec.convert(user, accounts.Me, from_attributes=True)


def profile_view(user: UserRecord) -> accounts.UserProfile:
    return msgspec.convert(user, accounts.UserProfile, from_attributes=True)


class UserActor(Actor):
    kind = KIND

    def __init__(
        self,
        key: ActorKey,
        store: Store,
        sink: SessionSink,
        directory: SessionDirectory | None = None,
    ) -> None:
        super().__init__(key)
        self._store = store
        self._sink = sink
        self._directory = directory
        self.user: UserRecord | None = None
        self.sessions: set[SessionRef] = set()
        self._stale: set[SessionRef] = set()
        """Sessions forgotten by an inline push (:meth:`receive_now`, which
        cannot await) and not yet removed from the directory."""
        self.timeline: HomeTimeline | None = None
        self.inbox = Inbox(key.id, store, self._deliver)

    async def activate(self) -> None:
        self.user = await self._store.users.get(self.key.id)
        if self._directory is not None:
            self.sessions = await self._directory.load(self.key.id)

    async def passivate(self) -> None:
        await self._sync_directory()

    def can_passivate(self) -> bool:
        # Without a directory the session set exists only here.
        return self._directory is not None or not self.sessions

    def exists(self) -> bool:
        # A message for an unknown user id must not keep an activation resident.
        return self.user is not None

    def receive_now(self, message: object) -> bool:
        # Every push of every conversation passes here: no mailbox hop for it.
        if type(message) is PushMany:
            self._deliver(message.items)
            return True
        if type(message) is TimelinePush:
            self._push_post(message)
            return True
        return False

    async def receive(self, message: object) -> object:
        await self._sync_directory()
        match message:
            case PushMany(items=items):
                self._deliver(items)
                return None
            case Attach(session=ref):
                if self.user is not None and self.user.suspended:
                    self._sink.close(ref, CloseCode.SUSPENDED, "account suspended")
                    return None
                self.sessions.add(ref)
                if self._directory is not None:
                    await self._directory.add(self.key.id, ref)
                return None
            case Detach(session=ref):
                await self._forget(ref)
                return None
            case UpdateProfile(update=update, origin=origin):
                return await self._update_profile(update, origin)
            case GetUser():
                return self._require_user()
            case CloseSessions(code=code, reason=reason, keep=keep):
                for ref in list(self.sessions):
                    if ref != keep:
                        await self._forget(ref)
                        self._sink.close(ref, code, reason)
                return None
            case ListSessions():
                return sorted(self.sessions)
            case Refresh():
                self.user = await self._store.users.get(self.key.id)
                if self.user is not None and self.user.suspended:
                    for ref in list(self.sessions):
                        await self._forget(ref)
                        self._sink.close(ref, CloseCode.SUSPENDED, "account suspended")
                return None
            case HomeSlice(before=before, limit=limit):
                return await self._home_slice(before, limit)
            case TimelinePush():
                self._push_post(message)
                return None
            case FollowsChanged():
                self.timeline = None
                return None
            case Notify():
                await self.inbox.notify(message)
                return None
            case Unnotify():
                await self.inbox.unnotify(message)
                return None
            case MarkRead():
                return await self.inbox.mark_read(message)
            case SetMuted(kinds=kinds):
                return await self.inbox.set_muted(kinds)
        raise TypeError(f"UserActor cannot handle {type(message).__name__}")

    def _deliver(self, items: list[Delivery]) -> None:
        """Push each event to every session, in order; forget a session the
        sink reports unreachable (the directory learns of it before the next
        message is handled). The origin of an event gets nothing, or for a
        log entry only its position (see :class:`Delivery`)."""
        sink = self._sink
        for ref in list(self.sessions):
            for item in items:
                delivery = item
                if ref == item.origin:
                    if item.stream is None:
                        continue
                    delivery = Delivery(b"", None, item.stream, item.seq)
                if sink.push(ref, delivery) is False:
                    self.sessions.discard(ref)
                    if self._directory is not None:
                        self._stale.add(ref)
                    break

    def _push_post(self, message: TimelinePush) -> None:
        if self.timeline is not None:
            self.timeline.add(message.created_at, message.post_id)
        self._deliver([Delivery(message.body, message.origin)])

    async def _home_slice(self, before: PageKey | None, limit: int) -> TimelineSlice:
        timeline = self.timeline
        now = time.monotonic()
        if timeline is None or timeline.stale(now):
            me = self.key.id
            followees = await self._store.follows.following_ids(me, limits.FOLLOWING_MAX)
            authors = [*followees, me]
            posts = await self._store.posts.by_authors(authors, before=None, limit=TIMELINE_SIZE)
            entries = [(post.created_at, post.id) for post in posts]
            complete = len(posts) < TIMELINE_SIZE
            timeline = HomeTimeline(authors, entries, complete=complete, built_at=now)
            self.timeline = timeline
        return TimelineSlice(entries=timeline.page(before, limit), authors=timeline.authors)

    async def _sync_directory(self) -> None:
        # _stale is only filled when there is a directory.
        while self._stale:
            ref = self._stale.pop()
            if ref not in self.sessions:
                await self._forget(ref)

    async def _forget(self, ref: SessionRef) -> None:
        self.sessions.discard(ref)
        if self._directory is not None:
            await self._directory.remove(self.key.id, ref)

    def _require_user(self) -> UserRecord:
        if self.user is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such user")
        return self.user

    async def _update_profile(self, update: ProfileUpdate, origin: SessionRef | None) -> UserRecord:
        self._require_user()
        updated = await self._store.users.update_profile(self.key.id, update)
        if updated is None:
            raise ProtocolError(ErrorCode.NOT_FOUND, "no such user")
        self.user = updated
        body = encode_event_body(accounts.ProfileUpdated(user=me_view(updated)))
        self._deliver([Delivery(body, origin)])
        return updated
