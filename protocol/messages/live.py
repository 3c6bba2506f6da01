"""Live: streams (schedule, go live, end), viewers with RTC tokens, and the
live chat of a stream, over the same socket as everything else.

A stream is ``scheduled`` → ``live`` → ``ended``. Its host goes live with
``stream.start`` and gets a *publisher* token; a viewer ``stream.join``s and
gets a *subscriber* token, the stream as it is and its recent chat. Video and
audio flow through Agora (the tokens are Agora AccessToken2 tokens, or
development tokens when no Agora project is configured: ``development`` is
then true and no RTC service accepts them). Tokens are short-lived: renew
with ``stream.renew_token`` before ``expires_at``; a banned viewer, a viewer
the host blocked, and everyone once the stream ended, are refused.

While joined, a session gets ``stream.updated`` (viewer counts and settings,
at most once per second), ``chat.updated`` (the chat: new lines, reaction
counts and deletions of one tick of the stream, about 150 ms, in one
frame), ``chat.pinned`` and ``stream.ended``. Joining ends with
``stream.leave``, with the session, or with a ban (``stream.banned``).
Followers of a host who goes live get ``stream.started`` on their online
sessions and a ``stream_live`` notification.

Chat is a public room: every joined session sees every line (blocks between
viewers are not applied line by line; a user the host blocked, or who blocks
the host, cannot join at all). The host and the moderators the host names
may delete lines, mute and ban; they are never slowed by slow mode.

Lists page with an opaque ``cursor`` (see :mod:`protocol.messages.social`).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from protocol import limits
from protocol.frames import Event, ObjectId, Request, Url
from protocol.messages.accounts import UserProfile

ClientKey = Annotated[str, Meta(min_length=1, max_length=limits.CLIENT_KEY_MAX)]
Cursor = Annotated[str, Meta(min_length=1, max_length=limits.CURSOR_MAX)]
PageLimit = Annotated[int, Meta(ge=1, le=limits.PAGE_LIMIT_MAX)]
Title = Annotated[str, Meta(min_length=1, max_length=limits.TITLE_MAX)]
Description = Annotated[str, Meta(max_length=limits.STREAM_DESCRIPTION_MAX)]
Tag = Annotated[str, Meta(min_length=1, max_length=limits.TAG_MAX, pattern=limits.TAG_PATTERN)]
Tags = Annotated[list[Tag], Meta(max_length=limits.STREAM_TAGS_MAX)]
ChatText = Annotated[str, Meta(min_length=1, max_length=limits.CHAT_TEXT_MAX)]
Time = Annotated[float, Meta(ge=0, le=limits.TIME_MAX)]
SlowMode = Annotated[int, Meta(ge=0, le=limits.SLOW_MODE_MAX)]
MuteSeconds = Annotated[int, Meta(ge=1, le=limits.MUTE_MAX)]
Moderators = Annotated[list[ObjectId], Meta(max_length=limits.STREAM_MODERATORS_MAX)]
StreamStatus = Literal["scheduled", "live", "ended"]
StreamVisibility = Literal["public", "followers"]
"""Who may watch: everyone, or the host's followers only."""
ChatMode = Literal["everyone", "followers"]
"""Who may chat among the viewers: everyone, or the host's followers only."""
Reaction = Literal["heart", "fire", "clap", "laugh", "wow"]
"""The fixed set of reactions (``chat.react``)."""
LiveRole = Literal["publisher", "subscriber"]


# --------------------------------------------------------------------- views


class ChatAuthor(msgspec.Struct, kw_only=True):
    """Who wrote a chat line: the little a chat row shows."""

    id: str
    username: str
    display_name: str
    avatar_url: str


class ChatTip(msgspec.Struct, kw_only=True):
    """The paid tip a highlighted chat line announces (minor units)."""

    amount: int
    currency: str
    order_id: str


class ChatLine(msgspec.Struct, kw_only=True):
    id: str
    stream_id: str
    author: ChatAuthor
    text: str
    created_at: float
    tip: ChatTip | None = None
    """Set on the line a paid tip adds to the stream's chat (its author is the
    tipper, its text the tip's message): show it highlighted."""


class StreamView(msgspec.Struct, kw_only=True):
    """A stream as anyone allowed to see it sees it. ``duration`` is seconds
    live so far (until ``end_time`` once ended; 0 while scheduled).
    ``viewer_count`` counts users watching now (one user on two devices
    counts once), ``peak_viewers`` the most at once, ``unique_viewers``
    everyone who ever joined. In events (``stream.started``,
    ``stream.updated``, ``stream.ended``) the host's ``i_follow`` and
    ``follows_me`` are always false: one body goes to every session."""

    id: str
    host: UserProfile
    title: str
    description: str
    tags: list[str]
    thumbnail_url: str
    status: StreamStatus
    channel: str
    """The RTC channel (what the tokens are for)."""
    scheduled_time: float | None
    start_time: float | None
    end_time: float | None
    viewer_count: int
    peak_viewers: int
    unique_viewers: int
    duration: float
    visibility: StreamVisibility
    chat_mode: ChatMode
    slow_mode_seconds: int
    moderators: list[str]
    """User ids of the moderators the host named."""
    pinned: ChatLine | None


class LiveTokenView(msgspec.Struct, kw_only=True):
    """What a client passes to its RTC SDK to join ``channel`` as ``account``
    (a Grover user id, Agora's *user account*). ``app_id`` is empty and
    ``development`` true for development tokens."""

    token: str
    app_id: str
    channel: str
    account: str
    role: LiveRole
    expires_at: float
    """Unix seconds; renew (``stream.renew_token``) before then."""
    development: bool


class HostedStream(msgspec.Struct, kw_only=True):
    """The stream just started, and the host's publisher token."""

    stream: StreamView
    token: LiveTokenView


class JoinedStream(msgspec.Struct, kw_only=True):
    stream: StreamView
    token: LiveTokenView
    """A subscriber token (a publisher token for the host's own stream)."""
    recent: list[ChatLine]
    """The newest chat lines (up to 50), oldest first."""


class StreamPage(msgspec.Struct, kw_only=True):
    """A short page is not the end; ``next_cursor`` is (``None``: last page)."""

    streams: list[StreamView]
    next_cursor: str | None


class ViewerPage(msgspec.Struct, kw_only=True):
    viewer_count: int
    users: list[UserProfile]
    next_cursor: str | None


class ChatSent(msgspec.Struct, kw_only=True):
    line: ChatLine


class Changed(msgspec.Struct, kw_only=True):
    changed: bool
    """``False`` when it was already so (a repeated ban, a deleted line)."""


class ReactionCount(msgspec.Struct, kw_only=True):
    reaction: Reaction
    count: int


# ----------------------------------------------------------------- requests


class ScheduleStream(Request, tag="stream.schedule", kw_only=True):
    """Announce a stream for ``scheduled_time`` (Unix seconds, in the future
    and at most a year ahead: else ``invalid_field``). The host's followers
    see it in ``stream.list_scheduled``; start it with ``stream.start``."""

    title: Title
    description: Description = ""
    tags: Tags = []
    thumbnail_url: Url = ""
    scheduled_time: Time
    visibility: StreamVisibility = "public"
    chat_mode: ChatMode = "everyone"

    reply = StreamView


class StartStream(Request, tag="stream.start", kw_only=True):
    """Go live: the host's scheduled stream ``stream_id``, or without it a
    new stream now (``title`` required then). A host has one live stream at a
    time: another is ``forbidden``. The starting session is the host's
    presence: when every session of the host that started or joined the
    stream has gone for the grace period (``live_host_grace``, 60 s), the
    stream ends by itself. Followers get ``stream.started``."""

    stream_id: ObjectId | None = None
    title: Title | None = None
    description: Description = ""
    tags: Tags = []
    thumbnail_url: Url = ""
    visibility: StreamVisibility = "public"
    chat_mode: ChatMode = "everyone"

    reply = HostedStream


class EndStream(Request, tag="stream.end", kw_only=True):
    """The host ends a live (or cancels a scheduled) stream; every joined
    session gets ``stream.ended``. Ending an ended stream changes nothing."""

    stream_id: ObjectId

    reply = StreamView


class GetStream(Request, tag="stream.get", kw_only=True):
    """A stream's page: ``not_found`` if unknown, hidden by a block either
    way, or followers-only for a non-follower."""

    stream_id: ObjectId

    reply = StreamView


class JoinStream(Request, tag="stream.join", kw_only=True):
    """Watch a live stream: a token, the stream, the recent chat, and from
    now on its events. ``not_found`` when unknown or hidden (a block either
    way, followers-only for a non-follower); ``forbidden`` when it is not
    live or the caller is banned from it. Joining twice is harmless; the
    same user on several sessions counts as one viewer."""

    stream_id: ObjectId

    reply = JoinedStream


class LeaveStream(Request, tag="stream.leave", kw_only=True):
    stream_id: ObjectId


class ListViewers(Request, tag="stream.list_viewers", kw_only=True):
    """Who is watching now, by user id; the host and moderators only
    (``forbidden`` otherwise)."""

    stream_id: ObjectId
    cursor: Cursor | None = None
    limit: PageLimit = 50

    reply = ViewerPage


class RenewToken(Request, tag="stream.renew_token", kw_only=True):
    """A fresh token for a stream the caller may still watch (or hosts):
    ``forbidden`` once ended or banned, ``not_found`` when blocked."""

    stream_id: ObjectId

    reply = LiveTokenView


class SendChat(Request, tag="chat.send", kw_only=True):
    """Say something in a stream the session joined (``forbidden`` if not
    joined, muted, or not a follower in a followers-only chat;
    ``rate_limited`` with ``retry_after`` faster than slow mode). A retry
    with the same ``client_key`` returns the first line and sends nothing.
    The line reaches everyone, this session included, in the next
    ``chat.updated``."""

    stream_id: ObjectId
    text: ChatText
    client_key: ClientKey

    reply = ChatSent


class React(Request, tag="chat.react", kw_only=True):
    """A reaction: counted, and the counts of each second sent to everyone
    in ``chat.updated`` (not one event per reaction)."""

    stream_id: ObjectId
    reaction: Reaction


class PinChat(Request, tag="chat.pin", kw_only=True):
    """Pin a line of the stream's chat (host and moderators), or with no
    ``line_id`` unpin. Everyone gets ``chat.pinned``."""

    stream_id: ObjectId
    line_id: ObjectId | None = None


class DeleteChat(Request, tag="chat.delete", kw_only=True):
    """Delete a line: its author, the host or a moderator. It leaves the
    recent history, and the next ``chat.updated`` names it in ``deleted``."""

    stream_id: ObjectId
    line_id: ObjectId

    reply = Changed


class MuteChat(Request, tag="chat.mute", kw_only=True):
    """Host or moderators: ``user_id`` may not chat for ``seconds``. The
    host and moderators cannot be muted (``forbidden``)."""

    stream_id: ObjectId
    user_id: ObjectId
    seconds: MuteSeconds


class BanViewer(Request, tag="stream.ban", kw_only=True):
    """Host or moderators: ``user_id`` is removed from the stream (their
    sessions get ``stream.banned``), cannot join again and gets no more
    tokens. The host and moderators cannot be banned."""

    stream_id: ObjectId
    user_id: ObjectId

    reply = Changed


class SetModerators(Request, tag="stream.set_moderators", kw_only=True):
    """The host only: replace the moderators (users who may see the stream)."""

    stream_id: ObjectId
    user_ids: Moderators

    reply = StreamView


class UpdateStream(Request, tag="stream.update", kw_only=True):
    """The host (or a moderator, for the chat settings) changes what is
    given; ``title``, ``description`` and ``thumbnail_url`` are the host's."""

    stream_id: ObjectId
    title: Title | None = None
    description: Description | None = None
    thumbnail_url: Url | None = None
    slow_mode_seconds: SlowMode | None = None
    chat_mode: ChatMode | None = None

    reply = StreamView


class LiveNow(Request, tag="stream.list_live", kw_only=True):
    """Live streams the caller may watch, most viewers first."""

    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = StreamPage


class ScheduledStreams(Request, tag="stream.list_scheduled", kw_only=True):
    """Scheduled streams of the people the caller follows, soonest first
    (the first ``limit``: no further page)."""

    limit: PageLimit = 20

    reply = StreamPage


class HostStreams(Request, tag="stream.by_host", kw_only=True):
    """A host's streams (past, live and scheduled), newest first."""

    user_id: ObjectId
    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = StreamPage


# ------------------------------------------------------------------- events


class StreamStarted(Event, tag="stream.started", kw_only=True):
    """Someone the user follows went live (to their online sessions)."""

    stream: StreamView


class StreamUpdated(Event, tag="stream.updated", kw_only=True):
    """A joined stream changed: its counts or settings (coalesced: the
    latest state, at most once per second)."""

    stream: StreamView


class StreamEnded(Event, tag="stream.ended", kw_only=True):
    """A joined stream ended: the session is no longer joined."""

    stream: StreamView


class StreamBanned(Event, tag="stream.banned", kw_only=True):
    """The user was banned from the stream and removed from it."""

    stream_id: str


class ChatBatch(Event, tag="chat.updated", kw_only=True):
    """One tick of a stream's chat in one frame: the lines accepted since
    the last one (oldest first), the reactions counted since the last
    counts were sent (at most once per second), and lines deleted."""

    stream_id: str
    lines: list[ChatLine]
    reactions: list[ReactionCount]
    deleted: list[str]


class ChatPinned(Event, tag="chat.pinned", kw_only=True):
    stream_id: str
    line: ChatLine | None
    """``None``: unpinned."""


REQUESTS: tuple[type[Request], ...] = (
    ScheduleStream,
    StartStream,
    EndStream,
    GetStream,
    JoinStream,
    LeaveStream,
    ListViewers,
    RenewToken,
    SendChat,
    React,
    PinChat,
    DeleteChat,
    MuteChat,
    BanViewer,
    SetModerators,
    UpdateStream,
    LiveNow,
    ScheduledStreams,
    HostStreams,
)
EVENTS: tuple[type[Event], ...] = (
    StreamStarted,
    StreamUpdated,
    StreamEnded,
    StreamBanned,
    ChatBatch,
    ChatPinned,
)
