"""The live domain's rules and the StreamActor's interface: the lifecycle and
scheduling rules, who may moderate, the views made from records, and the
messages a stream's actor takes. Pure: no I/O, no state.
"""

from __future__ import annotations

from typing import Final

import msgspec

from actors.ids import ActorKey
from actors.message import Ask, Message
from actors.sessions import SessionRef
from actors.store.accounts import UserRecord
from actors.store.live import ChatLineRecord, StreamRecord
from protocol import limits
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import accounts
from protocol.messages import live as m

KIND = "stream"

TICK: Final = 0.15
"""Seconds between two ``chat.updated`` frames of a stream while it has
something to send: lines wait at most this long, and every viewer session
gets one frame per tick whatever the number of lines."""
REACTIONS_INTERVAL: Final = 1.0
"""Seconds between two sets of reaction counts (the issue's "per second")."""
UPDATE_INTERVAL: Final = 1.0
"""Seconds between two ``stream.updated`` of one stream (so per viewer)."""
SAVE_INTERVAL: Final = 5.0
"""Seconds between two saves of a live stream's counts (lifecycle changes and
settings are saved at once)."""
RECENT_LINES: Final = 50
"""Chat lines a joining session gets (``JoinedStream.recent``)."""
CLIENT_KEYS_KEPT: Final = 10_000
"""Recent ``(user, client_key)`` pairs a stream remembers to answer a
retried ``chat.send`` with the first line."""


def stream_key(stream_id: str) -> ActorKey:
    return ActorKey(KIND, stream_id)


def channel_of(stream_id: str) -> str:
    """The RTC channel of a stream: its id, which Agora's channel alphabet
    accepts, prefixed so that channels of other products never collide."""
    return f"grover-{stream_id}"


def check_schedule(scheduled_time: float, now: float) -> None:
    """A stream is scheduled in the future and at most a year ahead."""
    if scheduled_time <= now:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "scheduled_time is in the past")
    if scheduled_time > now + limits.SCHEDULE_AHEAD_MAX:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "a stream is scheduled at most a year ahead")


def normalise_tags(tags: list[str]) -> list[str]:
    """Lower-case, without ``#`` or duplicates, in order."""
    return list(dict.fromkeys(tag.removeprefix("#").lower() for tag in tags))


def is_staff(stream: StreamRecord, user_id: str) -> bool:
    """The host or one of the moderators the host named."""
    return user_id == stream.host_id or user_id in stream.moderators


def require_staff(stream: StreamRecord, user_id: str) -> None:
    if not is_staff(stream, user_id):
        raise ProtocolError(ErrorCode.FORBIDDEN, "only the host and moderators may do that")


def require_host(stream: StreamRecord, user_id: str) -> None:
    if user_id != stream.host_id:
        raise ProtocolError(ErrorCode.FORBIDDEN, "only the host may do that")


def not_live(stream: StreamRecord) -> ProtocolError:
    what = "has ended" if stream.status == "ended" else "is not live yet"
    return ProtocolError(ErrorCode.FORBIDDEN, f"the stream {what}")


def one_live_stream() -> ProtocolError:
    return ProtocolError(ErrorCode.FORBIDDEN, "you already have a live stream")


def duration(stream: StreamRecord, now: float) -> float:
    if stream.start_time is None:
        return 0.0
    end = stream.end_time if stream.end_time is not None else now
    return max(0.0, end - stream.start_time)


def chat_author(user: UserRecord) -> m.ChatAuthor:
    return m.ChatAuthor(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        avatar_url=user.avatar_url,
    )


def line_view(line: ChatLineRecord, author: m.ChatAuthor) -> m.ChatLine:
    tip = None
    if line.tip_amount is not None and line.tip_currency and line.tip_order_id:
        tip = m.ChatTip(
            amount=line.tip_amount, currency=line.tip_currency, order_id=line.tip_order_id
        )
    return m.ChatLine(
        id=line.id,
        stream_id=line.stream_id,
        author=author,
        text=line.text,
        created_at=line.created_at,
        tip=tip,
    )


def stream_view(
    stream: StreamRecord, host: accounts.UserProfile, pinned: m.ChatLine | None, now: float
) -> m.StreamView:
    return m.StreamView(
        id=stream.id,
        host=host,
        title=stream.title,
        description=stream.description,
        tags=list(stream.tags),
        thumbnail_url=stream.thumbnail_url,
        status=stream.status,  # type: ignore[arg-type]  # only StreamStatus values are stored
        channel=stream.channel,
        scheduled_time=stream.scheduled_time,
        start_time=stream.start_time,
        end_time=stream.end_time,
        viewer_count=stream.viewer_count,
        peak_viewers=stream.peak_viewers,
        unique_viewers=stream.unique_viewers,
        duration=duration(stream, now),
        visibility="followers" if stream.visibility == "followers" else "public",
        chat_mode="followers" if stream.chat_mode == "followers" else "everyone",
        slow_mode_seconds=stream.slow_mode_seconds,
        moderators=list(stream.moderators),
        pinned=pinned,
    )


# ---------------------------------------------------------------- messages


class StreamState(msgspec.Struct, kw_only=True):
    """What the actor answers: the record as it is and the pinned line."""

    stream: StreamRecord
    pinned: m.ChatLine | None = None
    started: bool = False
    """This very request made it live (followers are told once)."""


class ViewerSlice(msgspec.Struct, kw_only=True):
    viewer_count: int
    user_ids: list[str]
    """Watching users after the asked one, by id, at most ``limit + 1``."""


class Create(Ask[StreamState], frozen=True):
    """Create the stream (``scheduled``, or ``live`` now with ``session`` as
    the host's presence)."""

    stream: StreamRecord
    session: SessionRef | None = None


class Start(Ask[StreamState], frozen=True):
    """The host's scheduled stream goes live (a live one stays so: a retry,
    or another device of the host, which joins the host's presence)."""

    user_id: str
    session: SessionRef


class End(Ask[StreamState], frozen=True):
    user_id: str


class Get(Ask[StreamState], frozen=True):
    pass


class Join(Ask[StreamState], frozen=True):
    """``session`` of ``user_id`` watches (the handler checked blocks and
    visibility; the actor checks the lifecycle and bans). ``follower``:
    whether the user follows the host (for followers-only chat)."""

    user_id: str
    session: SessionRef
    author: m.ChatAuthor
    follower: bool


class Leave(Message, frozen=True):
    """The session stops watching (``stream.leave``, logout, session ended)."""

    session: SessionRef


class Admit(Ask[StreamState], frozen=True):
    """May ``user_id`` get a token now (``stream.renew_token``)? Answers the
    stream when it is live and the user is not banned."""

    user_id: str


class Say(Ask[m.ChatLine], frozen=True):
    user_id: str
    text: str
    client_key: str


class PostTip(Message, frozen=True):
    """A paid tip on this stream: a highlighted line by the tipper (a tell;
    the order is paid already). Bypasses slow mode, mutes and followers-only
    chat; dropped when the stream is not live. Idempotent on ``order_id``:
    the line's id is the order's (not a client key, which a client could
    send first), so a repeat adds nothing."""

    order_id: str
    user_id: str
    author: m.ChatAuthor
    amount: int
    currency: str
    text: str


class AddReaction(Ask[None], frozen=True):
    user_id: str
    reaction: str


class Pin(Ask[None], frozen=True):
    user_id: str
    line_id: str | None


class DeleteLine(Ask[bool], frozen=True):
    user_id: str
    line_id: str


class Mute(Ask[None], frozen=True):
    user_id: str
    target: str
    seconds: int


class Ban(Ask[bool], frozen=True):
    user_id: str
    target: str


class SetModerators(Ask[StreamState], frozen=True):
    user_id: str
    moderators: list[str]


class Update(Ask[StreamState], frozen=True):
    user_id: str
    title: str | None = None
    description: str | None = None
    thumbnail_url: str | None = None
    slow_mode_seconds: int | None = None
    chat_mode: str | None = None


class Viewers(Ask[ViewerSlice], frozen=True):
    user_id: str
    after: str | None
    limit: int


class Tick(Message, frozen=True):
    """The actor's own timer: send the chat gathered since the last tick."""


class FlushUpdate(Message, frozen=True):
    """The actor's own timer: send the pending ``stream.updated``."""


class SaveCounts(Message, frozen=True):
    """The actor's own timer: save the counts that changed since the last save."""


class HostCheck(Message, frozen=True):
    """The actor's own timer: end the stream if its host is still away."""


MESSAGES: tuple[type[Message], ...] = (
    Create,
    Start,
    End,
    Get,
    Join,
    Leave,
    Admit,
    Say,
    PostTip,
    AddReaction,
    Pin,
    DeleteLine,
    Mute,
    Ban,
    SetModerators,
    Update,
    Viewers,
    Tick,
    FlushUpdate,
    SaveCounts,
    HostCheck,
)
"""Every message a StreamActor takes (the cluster's wire registry is built from it)."""
