"""Live streaming through its handlers on both storage backends (lifecycle,
tokens, viewers, chat and its batching, moderation, discovery and every bad
input of issue 13), then once over real sockets."""

from __future__ import annotations

import asyncio
import pathlib
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest

from actors.live import stream_key
from protocol import limits
from protocol.client import Client
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import accounts, notifications, social
from protocol.messages import live as m
from server.context import Caller, session_ended
from server.live_tokens.agora import RtcPrivilege, parse_token
from server.live_tokens.dev import DevTokenIssuer
from tests.conftest import Connect, register
from tests.harness import Node, events, next_id, open_node
from tests.store.backends import BACKENDS, backend_context

APP_ID = "0123456789abcdef0123456789abcdef"
CERT = "fedcba9876543210fedcba9876543210"
GRACE = 0.3


@pytest.fixture(params=BACKENDS)
async def live(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> AsyncIterator[Node]:
    """A node without sockets on each storage backend (development tokens)."""
    async with backend_context(request.param, tmp_path) as backend:
        store = backend.new_store()
        await store.open()
        try:
            async with open_node(tmp_path, store=store, live_host_grace=GRACE) as node:
                yield node
        finally:
            await store.close()


async def refused(code: ErrorCode, call: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        await call
    assert caught.value.code is code, caught.value
    return caught.value


async def go_live(node: Node, host: Caller, **fields: Any) -> m.HostedStream:
    fields.setdefault("title", "hello")
    return await node.send(host, m.StartStream, **fields)  # type: ignore[no-any-return]


async def say(node: Node, caller: Caller, stream_id: str, text: str = "hi") -> m.ChatSent:
    return await node.send(  # type: ignore[no-any-return]
        caller, m.SendChat, stream_id=stream_id, text=text, client_key=f"k{next_id()}"
    )


def of(caller: Caller, kind: type[Any]) -> list[Any]:
    return [e for e in events(caller) if isinstance(e, kind)]


async def settle(seconds: float = 0.25) -> None:
    """Longer than a chat tick."""
    await asyncio.sleep(seconds)


# ---------------------------------------------------------------- lifecycle


async def test_schedule_start_end_and_a_hosts_streams(live: Node) -> None:
    host = await live.user("host")
    at = time.time() + 3600
    planned = await live.send(host, m.ScheduleStream, title="Q&A", scheduled_time=at, tags=["#Art"])
    assert (planned.status, planned.scheduled_time, planned.tags) == ("scheduled", at, ["art"])
    started = await live.send(host, m.StartStream, stream_id=planned.id)
    assert started.stream.status == "live" and started.stream.start_time is not None
    assert started.token.role == "publisher" and started.token.development
    assert started.token.channel == planned.channel and started.token.account == host.user()
    ended = await live.send(host, m.EndStream, stream_id=planned.id)
    assert ended.status == "ended" and ended.end_time is not None and ended.duration >= 0
    again = await live.send(host, m.EndStream, stream_id=planned.id)
    assert again.end_time == ended.end_time  # ending twice changes nothing
    page = await live.send(host, m.HostStreams, user_id=host.user())
    assert [s.id for s in page.streams] == [planned.id]
    await refused(ErrorCode.FORBIDDEN, live.send(host, m.StartStream, stream_id=planned.id))


async def test_scheduling_in_the_past_or_ten_years_ahead_is_refused(live: Node) -> None:
    host = await live.user("host")
    now = time.time()
    for at in (now - 60, now + 10 * 365 * 24 * 3600):
        await refused(
            ErrorCode.INVALID_FIELD,
            live.send(host, m.ScheduleStream, title="x", scheduled_time=at),
        )
    assert (await live.send(host, m.HostStreams, user_id=host.user())).streams == []


async def test_a_second_live_stream_of_a_host_is_refused(live: Node) -> None:
    host = await live.user("host")
    first = await go_live(live, host)
    planned = await live.send(
        host, m.ScheduleStream, title="later", scheduled_time=time.time() + 60
    )
    await refused(ErrorCode.FORBIDDEN, go_live(live, host, title="second"))
    await refused(ErrorCode.FORBIDDEN, live.send(host, m.StartStream, stream_id=planned.id))
    assert (await live.send(host, m.GetStream, stream_id=planned.id)).status == "scheduled"
    now_live = await live.store.streams.live_of_host(host.user())
    assert now_live is not None and now_live.id == first.stream.id
    assert len((await live.send(host, m.HostStreams, user_id=host.user())).streams) == 2


async def test_start_needs_a_title_and_only_the_host_starts_or_ends(live: Node) -> None:
    host, other = await live.user("host"), await live.user("other")
    await refused(ErrorCode.INVALID_FIELD, live.send(host, m.StartStream))
    planned = await live.send(host, m.ScheduleStream, title="x", scheduled_time=time.time() + 60)
    await refused(ErrorCode.FORBIDDEN, live.send(other, m.StartStream, stream_id=planned.id))
    await refused(ErrorCode.FORBIDDEN, live.send(other, m.EndStream, stream_id=planned.id))
    await refused(ErrorCode.NOT_FOUND, live.send(host, m.StartStream, stream_id="nope"))


async def test_the_stream_ends_when_its_host_is_gone_past_the_grace(live: Node) -> None:
    host, fan = await live.user("host"), await live.user("fan")
    hosted = await go_live(live, host)
    await live.send(fan, m.JoinStream, stream_id=hosted.stream.id)
    session_ended(live.services.actors, host.session)
    await asyncio.sleep(GRACE / 3)
    assert (await live.send(fan, m.GetStream, stream_id=hosted.stream.id)).status == "live"
    await asyncio.sleep(GRACE * 2)
    assert (await live.send(fan, m.GetStream, stream_id=hosted.stream.id)).status == "ended"
    [ended] = of(fan, m.StreamEnded)
    assert ended.stream.id == hosted.stream.id


async def test_a_host_back_within_the_grace_keeps_the_stream(live: Node) -> None:
    host = await live.user("host")
    hosted = await go_live(live, host)
    session_ended(live.services.actors, host.session)
    twin = live.caller()
    await live.call(twin, accounts.Login, login="host", password="x" * 8)
    await live.send(twin, m.JoinStream, stream_id=hosted.stream.id)
    await asyncio.sleep(GRACE * 2)
    assert (await live.send(twin, m.GetStream, stream_id=hosted.stream.id)).status == "live"


# ------------------------------------------------------------------- tokens


async def test_agora_tokens_verify_offline(tmp_path: pathlib.Path) -> None:
    async with open_node(tmp_path, agora_app_id=APP_ID, agora_app_certificate=CERT) as node:
        host, fan = await node.user("host"), await node.user("fan")
        hosted = await go_live(node, host)
        joined = await node.send(fan, m.JoinStream, stream_id=hosted.stream.id)
        renewed = await node.send(fan, m.RenewToken, stream_id=hosted.stream.id)
        for view, user, role in (
            (hosted.token, host, "publisher"),
            (joined.token, fan, "subscriber"),
            (renewed, fan, "subscriber"),
        ):
            assert (view.app_id, view.role, view.development) == (APP_ID, role, False)
            parsed = parse_token(view.token, CERT)
            assert parsed.verified and parsed.app_id == APP_ID
            rtc = parsed.services[1]
            assert rtc.fields == (hosted.stream.channel.encode(), user.user().encode())
            privileges = set(rtc.privileges)
            if role == "publisher":
                assert RtcPrivilege.PUBLISH_VIDEO in privileges
            else:
                assert privileges == {RtcPrivilege.JOIN_CHANNEL}
            assert abs(parsed.issue_ts + parsed.expire - view.expires_at) < 1


async def test_development_tokens_verify_with_their_issuer(live: Node) -> None:
    issuer = live.services.live_tokens
    assert isinstance(issuer, DevTokenIssuer)
    host, fan = await live.user("host"), await live.user("fan")
    hosted = await go_live(live, host)
    joined = await live.send(fan, m.JoinStream, stream_id=hosted.stream.id)
    claims = issuer.verify(joined.token.token)
    assert (claims.channel, claims.account, claims.role) == (
        hosted.stream.channel,
        fan.user(),
        "subscriber",
    )
    assert joined.token.app_id == "" and joined.token.development


async def test_no_token_for_an_unknown_or_ended_stream(live: Node) -> None:
    host, fan = await live.user("host"), await live.user("fan")
    await refused(ErrorCode.NOT_FOUND, live.send(fan, m.JoinStream, stream_id="nope"))
    await refused(ErrorCode.NOT_FOUND, live.send(fan, m.RenewToken, stream_id="nope"))
    hosted = await go_live(live, host)
    await live.send(fan, m.JoinStream, stream_id=hosted.stream.id)
    await live.send(host, m.EndStream, stream_id=hosted.stream.id)
    await refused(ErrorCode.FORBIDDEN, live.send(fan, m.JoinStream, stream_id=hosted.stream.id))
    await refused(ErrorCode.FORBIDDEN, live.send(fan, m.RenewToken, stream_id=hosted.stream.id))
    await refused(ErrorCode.FORBIDDEN, live.send(host, m.RenewToken, stream_id=hosted.stream.id))
    planned = await live.send(host, m.ScheduleStream, title="x", scheduled_time=time.time() + 60)
    await refused(ErrorCode.FORBIDDEN, live.send(fan, m.JoinStream, stream_id=planned.id))


async def test_no_viewer_token_for_a_blocked_user_either_way(live: Node) -> None:
    host, fan, other = await live.user("host"), await live.user("fan"), await live.user("oth")
    hosted = await go_live(live, host)
    sid = hosted.stream.id
    await live.send(other, m.JoinStream, stream_id=sid)
    await live.call(host, accounts.BlockUser, user_id=fan.user())
    await live.call(other, accounts.BlockUser, user_id=host.user())
    for caller in (fan, other):
        await refused(ErrorCode.NOT_FOUND, live.send(caller, m.JoinStream, stream_id=sid))
        await refused(ErrorCode.NOT_FOUND, live.send(caller, m.RenewToken, stream_id=sid))
    assert live.actor(stream_key(sid)).viewers.keys() == {other.user()}  # joined before


async def test_followers_only_streams_are_for_followers(live: Node) -> None:
    host, fan, other = await live.user("host"), await live.user("fan"), await live.user("oth")
    await live.call(fan, social.Follow, user_id=host.user())
    hosted = await go_live(live, host, visibility="followers")
    sid = hosted.stream.id
    assert (await live.send(fan, m.JoinStream, stream_id=sid)).token.role == "subscriber"
    await refused(ErrorCode.NOT_FOUND, live.send(other, m.JoinStream, stream_id=sid))
    await refused(ErrorCode.NOT_FOUND, live.send(other, m.GetStream, stream_id=sid))
    assert (await live.send(other, m.LiveNow)).streams == []


# ------------------------------------------------------------------ viewers


async def test_two_sessions_of_one_user_count_once_and_leaving_counts(live: Node) -> None:
    host, fan = await live.user("host"), await live.user("fan")
    twin = live.caller()
    await live.call(twin, accounts.Login, login="fan", password="x" * 8)
    sid = (await go_live(live, host)).stream.id
    await live.send(fan, m.JoinStream, stream_id=sid)
    joined = await live.send(twin, m.JoinStream, stream_id=sid)
    assert (joined.stream.viewer_count, joined.stream.unique_viewers) == (1, 1)
    await live.send(fan, m.LeaveStream, stream_id=sid)
    assert (await live.send(host, m.GetStream, stream_id=sid)).viewer_count == 1
    session_ended(live.services.actors, twin.session)  # a dropped session past resume
    await settle(0.05)
    state = await live.send(host, m.GetStream, stream_id=sid)
    assert (state.viewer_count, state.peak_viewers, state.unique_viewers) == (0, 1, 1)
    page = await live.send(host, m.ListViewers, stream_id=sid)
    assert (page.viewer_count, page.users) == (0, [])


async def test_viewers_page_for_the_host_and_moderators_only(live: Node) -> None:
    host = await live.user("host")
    fans = [await live.user(f"fan{i}") for i in range(5)]
    sid = (await go_live(live, host)).stream.id
    for fan in fans:
        await live.send(fan, m.JoinStream, stream_id=sid)
    first = await live.send(host, m.ListViewers, stream_id=sid, limit=3)
    assert first.viewer_count == 5 and len(first.users) == 3 and first.next_cursor
    rest = await live.send(host, m.ListViewers, stream_id=sid, cursor=first.next_cursor)
    ids = [u.id for u in first.users + rest.users]
    assert ids == sorted(f.user() for f in fans) and rest.next_cursor is None
    await refused(ErrorCode.FORBIDDEN, live.send(fans[0], m.ListViewers, stream_id=sid))
    await live.send(host, m.SetModerators, stream_id=sid, user_ids=[fans[0].user()])
    assert (await live.send(fans[0], m.ListViewers, stream_id=sid)).viewer_count == 5


async def test_count_updates_are_coalesced_to_one_per_second(live: Node) -> None:
    host = await live.user("host")
    sid = (await go_live(live, host)).stream.id
    fans = [await live.user(f"fan{i}") for i in range(6)]
    for fan in fans:
        await live.send(fan, m.JoinStream, stream_id=sid)
    await asyncio.sleep(0.2)
    assert len(of(host, m.StreamUpdated)) == 1  # the first at once, the rest wait
    await asyncio.sleep(1.1)
    updates = of(host, m.StreamUpdated)
    assert len(updates) == 2 and updates[-1].stream.viewer_count == 6
    assert updates[-1].stream.peak_viewers == 6


# --------------------------------------------------------------------- chat


async def test_lines_of_one_tick_arrive_in_one_batch_with_reactions(live: Node) -> None:
    host, fan, other = await live.user("host"), await live.user("fan"), await live.user("oth")
    sid = (await go_live(live, host)).stream.id
    await live.send(fan, m.JoinStream, stream_id=sid)
    await live.send(other, m.JoinStream, stream_id=sid)
    sent = await asyncio.gather(
        say(live, fan, sid, "one"),
        say(live, other, sid, "two"),
        say(live, host, sid, "three"),
        *(live.send(c, m.React, stream_id=sid, reaction="fire") for c in (fan, other, fan)),
        live.send(other, m.React, stream_id=sid, reaction="heart"),
    )
    for caller in (host, fan, other):
        [batch] = of(caller, m.ChatBatch)
        assert [line.text for line in batch.lines] == ["one", "two", "three"]
        assert [(r.reaction, r.count) for r in batch.reactions] == [("fire", 3), ("heart", 1)]
    assert sent[0].line.author.username == "fan"
    stored = await live.store.stream_chat.recent(sid, 10)
    assert [line.text for line in stored] == ["one", "two", "three"]
    late = live.caller()
    await live.call(late, accounts.Login, login="oth", password="x" * 8)
    joined = await live.send(late, m.JoinStream, stream_id=sid)
    assert [line.text for line in joined.recent] == ["one", "two", "three"]


async def test_reaction_counts_go_out_at_most_once_per_second(live: Node) -> None:
    host, fan = await live.user("host"), await live.user("fan")
    sid = (await go_live(live, host)).stream.id
    await live.send(fan, m.JoinStream, stream_id=sid)
    await live.send(fan, m.React, stream_id=sid, reaction="clap")
    await settle()
    for _ in range(4):
        await live.send(fan, m.React, stream_id=sid, reaction="clap")
    await settle()
    assert len(of(fan, m.ChatBatch)) == 1  # the second second's counts wait
    await asyncio.sleep(1.0)
    batches = of(fan, m.ChatBatch)
    assert [b.reactions[0].count for b in batches] == [1, 4]


async def test_a_retried_send_returns_the_first_line(live: Node) -> None:
    host, fan = await live.user("host"), await live.user("fan")
    sid = (await go_live(live, host)).stream.id
    await live.send(fan, m.JoinStream, stream_id=sid)
    first = await live.send(fan, m.SendChat, stream_id=sid, text="a", client_key="same")
    again = await live.send(fan, m.SendChat, stream_id=sid, text="a", client_key="same")
    assert first.line.id == again.line.id
    assert len(await live.store.stream_chat.recent(sid, 10)) == 1


async def test_chat_needs_a_join_and_oversized_chat_is_refused(live: Node) -> None:
    host, fan = await live.user("host"), await live.user("fan")
    sid = (await go_live(live, host)).stream.id
    await refused(ErrorCode.FORBIDDEN, say(live, fan, sid))
    await live.send(fan, m.JoinStream, stream_id=sid)
    await refused(ErrorCode.INVALID_FIELD, say(live, fan, sid, "x" * (limits.CHAT_TEXT_MAX + 1)))
    await refused(ErrorCode.INVALID_FIELD, live.send(fan, m.React, stream_id=sid, reaction="poop"))
    await settle()
    assert await live.store.stream_chat.recent(sid, 10) == []


async def test_slow_mode_slows_viewers_but_not_the_host_or_moderators(live: Node) -> None:
    host, fan, mod = await live.user("host"), await live.user("fan"), await live.user("mod")
    sid = (await go_live(live, host)).stream.id
    for caller in (fan, mod):
        await live.send(caller, m.JoinStream, stream_id=sid)
    await live.send(host, m.SetModerators, stream_id=sid, user_ids=[mod.user()])
    await refused(
        ErrorCode.FORBIDDEN, live.send(fan, m.UpdateStream, stream_id=sid, slow_mode_seconds=30)
    )
    view = await live.send(mod, m.UpdateStream, stream_id=sid, slow_mode_seconds=30)
    assert view.slow_mode_seconds == 30
    await say(live, fan, sid)
    error = await refused(ErrorCode.RATE_LIMITED, say(live, fan, sid))
    assert error.retry_after is not None and 0 < error.retry_after <= 30
    for caller in (host, host, mod, mod):
        await say(live, caller, sid)
    await settle()
    assert len(await live.store.stream_chat.recent(sid, 10)) == 5


async def test_followers_only_chat(live: Node) -> None:
    host, fan, other = await live.user("host"), await live.user("fan"), await live.user("oth")
    await live.call(fan, social.Follow, user_id=host.user())
    sid = (await go_live(live, host, chat_mode="followers")).stream.id
    for caller in (fan, other):
        await live.send(caller, m.JoinStream, stream_id=sid)
    await say(live, fan, sid)
    await refused(ErrorCode.FORBIDDEN, say(live, other, sid))


async def test_mute_and_ban_by_someone_not_host_or_moderator_are_refused(live: Node) -> None:
    host, fan, other = await live.user("host"), await live.user("fan"), await live.user("oth")
    sid = (await go_live(live, host)).stream.id
    for caller in (fan, other):
        await live.send(caller, m.JoinStream, stream_id=sid)
    mute = live.send(fan, m.MuteChat, stream_id=sid, user_id=other.user(), seconds=60)
    await refused(ErrorCode.FORBIDDEN, mute)
    await refused(
        ErrorCode.FORBIDDEN, live.send(fan, m.BanViewer, stream_id=sid, user_id=other.user())
    )
    await refused(
        ErrorCode.FORBIDDEN, live.send(fan, m.BanViewer, stream_id=sid, user_id=host.user())
    )
    await say(live, other, sid)  # nothing changed
    assert not await live.store.stream_bans.is_banned(sid, other.user())
    assert (await live.send(host, m.GetStream, stream_id=sid)).viewer_count == 2


async def test_a_moderator_mutes_and_bans(live: Node) -> None:
    host, mod, fan = await live.user("host"), await live.user("mod"), await live.user("fan")
    sid = (await go_live(live, host)).stream.id
    await live.send(host, m.SetModerators, stream_id=sid, user_ids=[mod.user()])
    for caller in (mod, fan):
        await live.send(caller, m.JoinStream, stream_id=sid)
    await live.send(mod, m.MuteChat, stream_id=sid, user_id=fan.user(), seconds=60)
    await refused(ErrorCode.FORBIDDEN, say(live, fan, sid))
    await refused(
        ErrorCode.FORBIDDEN,
        live.send(mod, m.MuteChat, stream_id=sid, user_id=host.user(), seconds=5),
    )
    banned = await live.send(mod, m.BanViewer, stream_id=sid, user_id=fan.user())
    again = await live.send(mod, m.BanViewer, stream_id=sid, user_id=fan.user())
    assert (banned.changed, again.changed) == (True, False)
    assert [e.stream_id for e in of(fan, m.StreamBanned)] == [sid]
    assert (await live.send(host, m.GetStream, stream_id=sid)).viewer_count == 1
    await refused(ErrorCode.FORBIDDEN, live.send(fan, m.JoinStream, stream_id=sid))
    await refused(ErrorCode.FORBIDDEN, live.send(fan, m.RenewToken, stream_id=sid))
    await refused(ErrorCode.FORBIDDEN, say(live, fan, sid))


async def test_delete_and_pin_lines(live: Node) -> None:
    host, fan, other = await live.user("host"), await live.user("fan"), await live.user("oth")
    sid = (await go_live(live, host)).stream.id
    for caller in (fan, other):
        await live.send(caller, m.JoinStream, stream_id=sid)
    mine = (await say(live, fan, sid, "mine")).line
    theirs = (await say(live, other, sid, "theirs")).line
    await refused(ErrorCode.FORBIDDEN, live.send(fan, m.PinChat, stream_id=sid, line_id=mine.id))
    await live.send(host, m.PinChat, stream_id=sid, line_id=theirs.id)
    assert (await live.send(fan, m.GetStream, stream_id=sid)).pinned == theirs
    await refused(
        ErrorCode.FORBIDDEN, live.send(fan, m.DeleteChat, stream_id=sid, line_id=theirs.id)
    )
    assert (await live.send(fan, m.DeleteChat, stream_id=sid, line_id=mine.id)).changed
    assert (await live.send(host, m.DeleteChat, stream_id=sid, line_id=theirs.id)).changed
    await settle()
    assert await live.store.stream_chat.recent(sid, 10) == []
    assert (await live.send(fan, m.GetStream, stream_id=sid)).pinned is None
    pins = of(fan, m.ChatPinned)
    assert [p.line.id if p.line else None for p in pins] == [theirs.id, None]
    deleted = [d for b in of(fan, m.ChatBatch) for d in b.deleted]
    assert deleted == [mine.id, theirs.id]


# ----------------------------------------------------- going live, discovery


async def test_going_live_tells_online_followers_and_notifies_all(live: Node) -> None:
    host, fan = await live.user("host"), await live.user("fan")
    await live.call(fan, social.Follow, user_id=host.user())
    hosted = await go_live(live, host, title="tonight")
    await live.services.fanout.idle()
    await settle(0.1)
    [started] = of(fan, m.StreamStarted)
    assert started.stream.id == hosted.stream.id and started.stream.host.id == host.user()
    page = await live.send(fan, notifications.ListNotifications)
    [row] = page.notifications
    assert (row.kind, row.stream_id, row.text) == ("stream_live", hosted.stream.id, "tonight")


async def test_discovery_live_now_scheduled_and_by_host(live: Node) -> None:
    a, b, me, blocked = [await live.user(n) for n in ("aaa", "bbb", "me", "blk")]
    sa = (await go_live(live, a)).stream.id
    sb = (await go_live(live, b)).stream.id
    sc = (await go_live(live, blocked)).stream.id
    await live.call(blocked, accounts.BlockUser, user_id=me.user())
    for viewer in (await live.user("v1"), await live.user("v2")):
        await live.send(viewer, m.JoinStream, stream_id=sb)
    for actor_key in (stream_key(sa), stream_key(sb)):
        await live.actor(actor_key)._save()  # white-box: counts are saved within 5 s
    page = await live.send(me, m.LiveNow)
    assert [s.id for s in page.streams] == [sb, sa] and sc not in [s.id for s in page.streams]
    await live.call(me, social.Follow, user_id=a.user())
    soon = await live.send(a, m.ScheduleStream, title="s", scheduled_time=time.time() + 60)
    later = await live.send(a, m.ScheduleStream, title="s", scheduled_time=time.time() + 600)
    await live.send(b, m.ScheduleStream, title="s", scheduled_time=time.time() + 30)
    scheduled = await live.send(me, m.ScheduledStreams)
    assert [s.id for s in scheduled.streams] == [soon.id, later.id]
    await refused(ErrorCode.NOT_FOUND, live.send(me, m.HostStreams, user_id=blocked.user()))
    await refused(ErrorCode.NOT_FOUND, live.send(me, m.GetStream, stream_id=sc))


# ------------------------------------------------------------ real sockets


async def test_a_stream_over_real_sockets(connect: Connect) -> None:
    host, fan = await connect(), await connect()
    host_id = (await register(host, "host")).user.id
    await register(fan, "fan")
    await fan.request("follow.create", user_id=host_id)
    hosted = await host.request("stream.start", title="live!")
    started = await next_of(fan, m.StreamStarted)
    assert started.stream.id == hosted.stream.id
    joined = await fan.request("stream.join", stream_id=hosted.stream.id)
    assert joined.token.role == "subscriber" and joined.stream.viewer_count == 1
    await fan.request("chat.send", stream_id=hosted.stream.id, text="hey", client_key="c1")
    batch = await next_of(host, m.ChatBatch)
    assert [line.text for line in batch.lines] == ["hey"]
    await host.request("stream.end", stream_id=hosted.stream.id)
    assert (await next_of(fan, m.StreamEnded)).stream.status == "ended"


async def next_of(client: Client, kind: type[Any], timeout: float = 10.0) -> Any:
    async with asyncio.timeout(timeout):
        while True:
            event = await client.next_event(timeout)
            if isinstance(event, kind):
                return event
