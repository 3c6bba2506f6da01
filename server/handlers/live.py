"""Handlers of the live domain: streams, viewers, tokens, chat, discovery.

Everything that changes a stream goes through its StreamActor
(``stream:<id>``), the single writer of the record and the hub of its
viewers and chat, so that it holds in a cluster as on one node. Handlers do
what needs the caller's point of view: blocks and visibility (through
:class:`~server.handlers.social_views.Viewer`), tokens (the node's
:class:`~actors.ports.LiveTokenIssuer`), the followers' fan-out of going
live, and the session's list of joined streams (which end with it).
"""

from __future__ import annotations

import contextlib
import logging
import time

from actors.errors import ActorError
from actors.ids import new_id
from actors.inbox import Notify
from actors.live import (
    RECENT_LINES,
    AddReaction,
    Admit,
    Ban,
    Create,
    DeleteLine,
    End,
    Get,
    Join,
    Leave,
    Mute,
    Pin,
    PostTip,
    Say,
    SetModerators,
    Start,
    StreamState,
    Update,
    Viewers,
    channel_of,
    chat_author,
    check_schedule,
    line_view,
    normalise_tags,
    stream_key,
    stream_view,
)
from actors.ports import LiveRole
from actors.sessions import Delivery
from actors.store.live import StreamRecord
from actors.store.market import OrderRecord
from actors.user import PushMany
from protocol import limits
from protocol.codec import encode_event_body
from protocol.errors import ErrorCode, ProtocolError
from protocol.frames import Empty
from protocol.messages import live as m
from server.context import Caller, Handler, Services
from server.handlers.social_views import Viewer, page_of

log = logging.getLogger("grover.live")

# ---------------------------------------------------------------- helpers


async def _visible(viewer: Viewer, stream: StreamRecord) -> bool:
    """Whether ``viewer.me`` may see the stream: the host is not blocked
    either way nor suspended, and a followers-only stream needs a follow.
    Raises ``not_found`` otherwise (its existence is not revealed)."""
    if stream.host_id == viewer.me:
        return True
    await viewer.user(stream.host_id)
    follows = bool(await viewer.store.follows.following_among(viewer.me, [stream.host_id]))
    if stream.visibility == "followers" and not follows:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such stream")
    return follows


async def _stored(services: Services, viewer: Viewer, stream_id: str) -> tuple[StreamRecord, bool]:
    """The stored stream if ``viewer`` may see it (else ``not_found``) and
    whether they follow its host."""
    stream = await services.store.streams.get(stream_id)
    if stream is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such stream")
    return stream, await _visible(viewer, stream)


async def _view(viewer: Viewer, state: StreamState) -> m.StreamView:
    hosts = await viewer.authors([state.stream.host_id])
    host = hosts.get(state.stream.host_id)
    if host is None:
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such stream")
    return stream_view(state.stream, host, state.pinned, time.time())


async def _views(viewer: Viewer, streams: list[StreamRecord]) -> list[m.StreamView | None]:
    """Views of the streams ``viewer`` may see, in order (``None``: hidden);
    three reads whatever the number."""
    if not streams:
        return []
    hosts = await viewer.visible_profiles([s.host_id for s in streams])
    others = sorted({s.host_id for s in streams} - {viewer.me})
    following = await viewer.store.follows.following_among(viewer.me, others) if others else set()
    now = time.time()
    return [
        stream_view(s, hosts[s.host_id], None, now)
        if s.host_id in hosts
        and (s.visibility == "public" or s.host_id == viewer.me or s.host_id in following)
        else None
        for s in streams
    ]


def _token(services: Services, stream: StreamRecord, user_id: str) -> m.LiveTokenView:
    role: LiveRole = "publisher" if user_id == stream.host_id else "subscriber"
    token = services.live_tokens.issue(
        stream.channel, user_id, role, services.settings.live_token_ttl
    )
    return m.LiveTokenView(
        token=token.token,
        app_id=token.app_id,
        channel=token.channel,
        account=token.account,
        role=token.role,
        expires_at=token.expires_at,
        development=token.development,
    )


def _joined(caller: Caller, stream_id: str) -> None:
    """Remember the joined stream on the session: it is left when the
    session ends or logs out (``server.context.forget_streams``)."""
    session = caller.session
    joined = session.live_streams or set()
    joined.add(stream_id)
    session.live_streams = joined


async def _announce(services: Services, state: StreamState) -> None:
    """Going live: ``stream.started`` to the host's online followers and a
    ``stream_live`` notification to every follower (see docs/decisions.md)."""
    stream = state.stream
    viewer = Viewer(services.store, stream.host_id)
    hosts = await viewer.authors([stream.host_id])
    host = hosts.get(stream.host_id)
    if host is None:
        return
    body = encode_event_body(m.StreamStarted(stream=stream_view(stream, host, None, time.time())))
    notice = Notify(
        kind="stream_live",
        group_key=f"stream_live:{stream.id}",
        actor_id=stream.host_id,
        at=time.time(),
        text=stream.title,
    )
    services.fanout.announce(stream.host_id, PushMany([Delivery(body)]), notice)


# -------------------------------------------------------------- lifecycle


def _new_record(me: str, req: m.ScheduleStream | m.StartStream, title: str) -> StreamRecord:
    stream_id = new_id()
    return StreamRecord(
        id=stream_id,
        host_id=me,
        title=title,
        description=req.description,
        tags=normalise_tags(list(req.tags)),
        thumbnail_url=req.thumbnail_url,
        visibility=req.visibility,
        chat_mode=req.chat_mode,
        channel=channel_of(stream_id),
        created_at=time.time(),
    )


async def schedule(services: Services, caller: Caller, req: m.ScheduleStream) -> m.StreamView:
    me = caller.user()
    check_schedule(req.scheduled_time, time.time())
    record = _new_record(me, req, req.title)
    record.scheduled_time = req.scheduled_time
    state = await services.actors.ask(stream_key(record.id), Create(stream=record))
    return await _view(Viewer(services.store, me), state)


async def start(services: Services, caller: Caller, req: m.StartStream) -> m.HostedStream:
    me = caller.user()
    if req.stream_id is not None:
        state = await services.actors.ask(stream_key(req.stream_id), Start(me, caller.ref))
    else:
        if req.title is None:
            raise ProtocolError(ErrorCode.INVALID_FIELD, "a new stream needs a title")
        record = _new_record(me, req, req.title)
        record.status, record.start_time = "live", record.created_at
        state = await services.actors.ask(
            stream_key(record.id), Create(stream=record, session=caller.ref)
        )
    _joined(caller, state.stream.id)
    if state.started:
        await _announce(services, state)
    view = await _view(Viewer(services.store, me), state)
    return m.HostedStream(stream=view, token=_token(services, state.stream, me))


async def end(services: Services, caller: Caller, req: m.EndStream) -> m.StreamView:
    me = caller.user()
    state = await services.actors.ask(stream_key(req.stream_id), End(me))
    return await _view(Viewer(services.store, me), state)


async def get(services: Services, caller: Caller, req: m.GetStream) -> m.StreamView:
    viewer = Viewer(services.store, caller.user())
    await _stored(services, viewer, req.stream_id)
    state = await services.actors.ask(stream_key(req.stream_id), Get())
    return await _view(viewer, state)


# ---------------------------------------------------------------- viewers


async def join(services: Services, caller: Caller, req: m.JoinStream) -> m.JoinedStream:
    me = caller.user()
    viewer = Viewer(services.store, me)
    stored, follower = await _stored(services, viewer, req.stream_id)
    user = await services.store.users.get(me)
    if user is None:
        raise ProtocolError(ErrorCode.UNAUTHENTICATED, "no such account")
    state = await services.actors.ask(
        stream_key(stored.id),
        Join(user_id=me, session=caller.ref, author=chat_author(user), follower=follower),
    )
    _joined(caller, stored.id)
    lines = await services.store.stream_chat.recent(stored.id, RECENT_LINES)
    authors = await services.store.users.get_many(sorted({line.user_id for line in lines}))
    recent = [
        line_view(line, chat_author(authors[line.user_id]))
        for line in lines
        if line.user_id in authors
    ]
    return m.JoinedStream(
        stream=await _view(viewer, state),
        token=_token(services, state.stream, me),
        recent=recent,
    )


async def leave(services: Services, caller: Caller, req: m.LeaveStream) -> Empty:
    caller.user()
    joined = caller.session.live_streams or set()
    if req.stream_id in joined:
        joined.discard(req.stream_id)
        with contextlib.suppress(ActorError):  # it goes with the session anyway
            services.actors.tell(stream_key(req.stream_id), Leave(caller.ref))
    return Empty()


async def list_viewers(services: Services, caller: Caller, req: m.ListViewers) -> m.ViewerPage:
    me = caller.user()
    viewer = Viewer(services.store, me)
    scope = f"viewers:{req.stream_id}"
    before = await services.cursors.decode(scope, req.cursor)
    after = before[1] if before is not None else None
    found = await services.actors.ask(
        stream_key(req.stream_id), Viewers(user_id=me, after=after, limit=req.limit)
    )
    ids = found.user_ids
    users = await services.store.users.get_many(ids)
    shown = {p.id: p for p in await viewer.profiles(await viewer.users(list(users.values())))}
    profiles, next_cursor = await page_of(
        services.cursors,
        scope,
        ids,
        limit=req.limit,
        key=lambda user_id: (0.0, user_id),
        views=[shown.get(i) for i in ids],
    )
    return m.ViewerPage(viewer_count=found.viewer_count, users=profiles, next_cursor=next_cursor)


async def renew_token(services: Services, caller: Caller, req: m.RenewToken) -> m.LiveTokenView:
    me = caller.user()
    await _stored(services, Viewer(services.store, me), req.stream_id)
    state = await services.actors.ask(stream_key(req.stream_id), Admit(me))
    return _token(services, state.stream, me)


# ------------------------------------------------------------------- chat


async def send_chat(services: Services, caller: Caller, req: m.SendChat) -> m.ChatSent:
    me = caller.user()
    line = await services.actors.ask(
        stream_key(req.stream_id), Say(user_id=me, text=req.text, client_key=req.client_key)
    )
    return m.ChatSent(line=line)


async def announce_tip(services: Services, order: OrderRecord) -> None:
    """A paid tip on a live stream: its highlighted line in the stream's chat
    (a tell to the stream's actor, which drops it unless the stream is live,
    and adds it once however often this is called). Nothing for a tip
    without a stream, or an order that is no tip; call it once it is paid."""
    if order.kind != "tip" or order.stream_id is None:
        return
    tipper = await services.store.users.get(order.buyer_id)
    if tipper is None:  # a deleted account: its lines are not shown either
        return
    message = PostTip(
        order_id=order.id,
        user_id=order.buyer_id,
        author=chat_author(tipper),
        amount=order.amount,
        currency=order.currency,
        text=order.message,
    )
    try:
        services.actors.tell(stream_key(order.stream_id), message)
    except ActorError:  # the tip is paid either way; the notification tells the creator
        log.warning("a tip's chat line could not be queued", exc_info=True)


async def react(services: Services, caller: Caller, req: m.React) -> Empty:
    me = caller.user()
    await services.actors.ask(stream_key(req.stream_id), AddReaction(me, req.reaction))
    return Empty()


async def pin(services: Services, caller: Caller, req: m.PinChat) -> Empty:
    me = caller.user()
    await services.actors.ask(stream_key(req.stream_id), Pin(me, req.line_id))
    return Empty()


async def delete_chat(services: Services, caller: Caller, req: m.DeleteChat) -> m.Changed:
    me = caller.user()
    changed = await services.actors.ask(stream_key(req.stream_id), DeleteLine(me, req.line_id))
    return m.Changed(changed=changed)


async def mute(services: Services, caller: Caller, req: m.MuteChat) -> Empty:
    me = caller.user()
    await services.actors.ask(stream_key(req.stream_id), Mute(me, req.user_id, req.seconds))
    return Empty()


async def ban(services: Services, caller: Caller, req: m.BanViewer) -> m.Changed:
    me = caller.user()
    if req.user_id == me:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "you cannot ban yourself")
    changed = await services.actors.ask(stream_key(req.stream_id), Ban(me, req.user_id))
    return m.Changed(changed=changed)


async def set_moderators(services: Services, caller: Caller, req: m.SetModerators) -> m.StreamView:
    me = caller.user()
    viewer = Viewer(services.store, me)
    wanted = sorted(set(req.user_ids))
    users = await viewer.users(list((await services.store.users.get_many(wanted)).values()))
    if len(users) != len(wanted):
        raise ProtocolError(ErrorCode.NOT_FOUND, "no such user")
    state = await services.actors.ask(stream_key(req.stream_id), SetModerators(me, wanted))
    return await _view(viewer, state)


async def update(services: Services, caller: Caller, req: m.UpdateStream) -> m.StreamView:
    me = caller.user()
    message = Update(
        user_id=me,
        title=req.title,
        description=req.description,
        thumbnail_url=req.thumbnail_url,
        slow_mode_seconds=req.slow_mode_seconds,
        chat_mode=req.chat_mode,
    )
    state = await services.actors.ask(stream_key(req.stream_id), message)
    return await _view(Viewer(services.store, me), state)


# -------------------------------------------------------------- discovery


async def list_live(services: Services, caller: Caller, req: m.LiveNow) -> m.StreamPage:
    viewer = Viewer(services.store, caller.user())
    before = await services.cursors.decode("live_now", req.cursor)
    rows = await services.store.streams.live_now(before=before, limit=req.limit + 1)
    streams, next_cursor = await page_of(
        services.cursors,
        "live_now",
        rows,
        limit=req.limit,
        key=lambda s: (float(s.viewer_count), s.id),
        views=await _views(viewer, rows),
    )
    return m.StreamPage(streams=streams, next_cursor=next_cursor)


async def list_scheduled(
    services: Services, caller: Caller, req: m.ScheduledStreams
) -> m.StreamPage:
    me = caller.user()
    viewer = Viewer(services.store, me)
    hosts = await services.store.follows.following_ids(me, limits.FOLLOWING_MAX)
    rows = await services.store.streams.scheduled_by_hosts(hosts, req.limit) if hosts else []
    views = await _views(viewer, rows)
    return m.StreamPage(streams=[v for v in views if v is not None], next_cursor=None)


async def by_host(services: Services, caller: Caller, req: m.HostStreams) -> m.StreamPage:
    viewer = Viewer(services.store, caller.user())
    await viewer.user(req.user_id)
    scope = f"streams:{req.user_id}"
    before = await services.cursors.decode(scope, req.cursor)
    rows = await services.store.streams.by_host(req.user_id, before=before, limit=req.limit + 1)
    streams, next_cursor = await page_of(
        services.cursors,
        scope,
        rows,
        limit=req.limit,
        key=lambda s: (s.created_at, s.id),
        views=await _views(viewer, rows),
    )
    return m.StreamPage(streams=streams, next_cursor=next_cursor)


HANDLERS: dict[type, Handler] = {
    m.ScheduleStream: schedule,
    m.StartStream: start,
    m.EndStream: end,
    m.GetStream: get,
    m.JoinStream: join,
    m.LeaveStream: leave,
    m.ListViewers: list_viewers,
    m.RenewToken: renew_token,
    m.SendChat: send_chat,
    m.React: react,
    m.PinChat: pin,
    m.DeleteChat: delete_chat,
    m.MuteChat: mute,
    m.BanViewer: ban,
    m.SetModerators: set_moderators,
    m.UpdateStream: update,
    m.LiveNow: list_live,
    m.ScheduledStreams: list_scheduled,
    m.HostStreams: by_host,
}
