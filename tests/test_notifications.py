"""The notification inbox through the handlers on both backends (grouping,
undo, exact badge under concurrency, kinds, mutes, blocks, read marks), and
over a real socket: a notification that arrives while the socket is down is
delivered exactly once on resume."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from actors.inbox import Notify
from actors.user import ListSessions, user_key
from protocol import codec
from protocol.errors import ErrorCode
from protocol.frames import EventFrame
from protocol.messages import accounts
from protocol.messages import notifications as n
from protocol.messages import session as wire_session
from protocol.messages import social as m
from server.app import Grover
from server.context import Caller
from tests.conftest import Connect, register
from tests.harness import Node, events
from tests.test_gateway import RawConnect, raw_connect, raw_hello, recv_frame
from tests.test_social import post, refused, social
from tests.test_social_threads import comment

__all__ = ["raw_connect", "social"]  # fixtures


def pushed(caller: Caller) -> list[Any]:
    return [
        e
        for e in events(caller)
        if isinstance(e, n.NotificationNew | n.NotificationDeleted | n.BadgeUpdated)
    ]


async def settle(node: Node) -> None:
    """Notices are tells: wait until the recipient's actor has handled them."""
    await asyncio.sleep(0.05)
    for key in list(node.services.actors.active_keys()):
        if key.kind == "user":
            await node.services.actors.ask(key, ListSessions())  # after what was told


async def inbox(node: Node, caller: Caller) -> n.NotificationPage:
    return await node.call(caller, n.ListNotifications)  # type: ignore[no-any-return]


async def test_likes_group_into_one_notification_and_undo_takes_them_back(social: Node) -> None:
    ada, bob, eve = [await social.user(x) for x in ("ada", "bob", "eve")]
    target = await post(social, ada, "like me")
    await social.call(bob, m.LikePost, post_id=target.id)
    await social.call(eve, m.LikePost, post_id=target.id)
    await settle(social)
    page = await inbox(social, ada)
    [row] = page.notifications
    assert (row.kind, row.actor_count, row.post_id, page.unread) == ("like_post", 2, target.id, 1)
    assert [a.username for a in row.actors] == ["eve", "bob"]
    live = pushed(ada)
    assert [type(e) for e in live] == [n.NotificationNew, n.BadgeUpdated] * 2
    assert live[0].notification.id == live[2].notification.id == row.id
    await social.call(eve, m.UnlikePost, post_id=target.id)
    await social.call(bob, m.UnlikePost, post_id=target.id)
    await settle(social)
    assert (await inbox(social, ada)).notifications == []
    tail = pushed(ada)[-2:]
    assert tail == [n.NotificationDeleted(notification_id=row.id), n.BadgeUpdated(unread=0)]


async def test_the_group_and_badge_stay_exact_under_concurrent_likes(social: Node) -> None:
    ada = await social.user("ada")
    fans = [await social.user(f"fan{i}") for i in range(12)]
    target = await post(social, ada, "popular")
    await asyncio.gather(*(social.call(f, m.LikePost, post_id=target.id) for f in fans))
    await asyncio.gather(
        *(social.call(f, m.UnlikePost, post_id=target.id) for f in fans[:4]),
        *(social.call(f, m.LikePost, post_id=target.id) for f in fans[4:]),  # retries
    )
    await settle(social)
    page = await inbox(social, ada)
    [row] = page.notifications
    liked = (await social.call(ada, m.GetPost, post_id=target.id)).like_count
    assert row.actor_count == liked == 8 and page.unread == 1
    assert pushed(ada)[-1] == n.BadgeUpdated(unread=1)


async def test_follows_comments_replies_and_mentions_notify_the_right_people(
    social: Node,
) -> None:
    ada, bob, eve = [await social.user(x) for x in ("ada", "bob", "eve")]
    await social.call(bob, m.Follow, user_id=ada.user())
    target = await post(social, ada, "hi @eve")
    top = await comment(social, bob, target.id, "nice post @eve")
    await comment(social, ada, target.id, "thanks", parent_comment_id=top.id)
    await comment(social, eve, target.id, "me too", parent_comment_id=top.id)
    await comment(social, ada, target.id, "my own")  # not notified to oneself
    await settle(social)
    kinds = {x: sorted(r.kind for r in (await inbox(social, c)).notifications) for x, c in
             (("ada", ada), ("bob", bob), ("eve", eve))}  # fmt: skip
    assert kinds == {
        "ada": ["comment", "follow"],
        "bob": ["reply"],
        "eve": ["mention", "mention"],
    }
    [replies] = (await inbox(social, bob)).notifications
    assert replies.actor_count == 2 and replies.comment_id is not None
    [comments] = [r for r in (await inbox(social, ada)).notifications if r.kind == "comment"]
    assert (comments.actor_count, comments.text) == (2, "me too")
    await social.call(bob, m.Unfollow, user_id=ada.user())
    await settle(social)
    assert [r.kind for r in (await inbox(social, ada)).notifications] == ["comment"]


async def test_mutes_and_blocks_keep_notifications_out(social: Node) -> None:
    ada, bob, eve = [await social.user(x) for x in ("ada", "bob", "eve")]
    settings = await social.send(ada, n.UpdateSettings, muted=["like_post"])
    assert settings.muted == ["like_post"]
    assert (await social.call(ada, n.GetSettings)).muted == ["like_post"]
    target = await post(social, ada, "p")
    await social.call(bob, m.LikePost, post_id=target.id)
    await social.call(bob, m.Follow, user_id=ada.user())
    await social.call(ada, accounts.BlockUser, user_id=eve.user())
    # Eve can no longer reach ada's posts; a notice that still comes (a
    # race, another node) is dropped by ada's inbox itself.
    now = time.time()
    social.services.actors.tell(
        user_key(ada.user()),
        Notify(kind="follow", group_key=f"follow:{ada.user()}", actor_id=eve.user(), at=now),
    )
    await settle(social)
    assert [r.kind for r in (await inbox(social, ada)).notifications] == ["follow"]
    await refused(ErrorCode.INVALID_FIELD, social.send(ada, n.UpdateSettings, muted=["spam"]))


async def test_read_marks_one_up_to_a_cursor_or_all_and_only_ones_own(social: Node) -> None:
    ada = await social.user("ada")
    fans = [await social.user(f"fan{i}") for i in range(5)]
    for fan in fans:
        await social.call(fan, m.Follow, user_id=ada.user())
        target = await post(social, ada, f"post by ada for {fan.user()}")
        await social.call(fan, m.LikePost, post_id=target.id)
    await settle(social)
    first = await social.call(ada, n.ListNotifications, limit=2)
    assert first.unread == 6 and first.next_cursor is not None  # 1 follow group + 5 likes
    other = fans[0]
    mine = first.notifications[0].id
    assert (await social.send(other, n.MarkRead, notification_id=mine)).unread == 0
    assert (await inbox(social, ada)).unread == 6
    assert (await social.send(ada, n.MarkRead, notification_id=mine)).unread == 5
    second = await social.call(ada, n.ListNotifications, limit=2, cursor=first.next_cursor)
    assert second.read_cursor is not None
    # The second page's rows and everything older; the first page's second row stays.
    badge = await social.send(ada, n.MarkRead, up_to_cursor=second.read_cursor)
    assert badge.unread == 1
    await refused(
        ErrorCode.INVALID_FIELD, social.send(ada, n.MarkRead, up_to_cursor=first.next_cursor[:-3])
    )
    # A new follower joins the unread follow group and moves it to the top,
    # above the first page's read cursor: marking up to it leaves it unread.
    late = await social.user("late")
    await social.call(late, m.Follow, user_id=ada.user())
    await settle(social)
    [top, *_] = (await inbox(social, ada)).notifications
    assert (top.kind, top.actor_count, top.read) == ("follow", 6, False)
    assert (await social.send(ada, n.MarkRead, up_to_cursor=first.read_cursor)).unread == 1
    assert (await social.send(ada, n.MarkRead)).unread == 0
    page = await social.call(ada, n.ListNotifications, limit=100)
    assert all(row.read for row in page.notifications) and page.unread == 0


async def test_a_notification_missed_while_offline_arrives_once_on_resume(
    grover: Grover, connect: Connect, raw_connect: RawConnect
) -> None:
    bob = await connect()
    await register(bob, "bob")
    ada_client = await connect()
    ada = await register(ada_client, "ada")
    mine = (await ada_client.request("post.create", client_key="k", text="like me")).id
    await ada_client.close()
    ws = await raw_connect()
    welcome = await raw_hello(ws, token=ada.token)
    ws.transport.abort()  # ada's socket drops; bob likes her post meanwhile
    await bob.request("post.like", post_id=mine)
    again = await raw_connect()
    resumed = await raw_hello(
        again,
        token=ada.token,
        resume=wire_session.Resume(session_id=welcome.session_id, last_seq=0),
    )
    assert resumed.resumed and not resumed.resync
    got = []
    for _ in range(2):
        frame = await recv_frame(again)
        assert isinstance(frame, EventFrame)
        got.append(codec.decode_event(frame.event))
    assert isinstance(got[0], n.NotificationNew) and got[0].notification.kind == "like_post"
    assert got[1] == n.BadgeUpdated(unread=1)
    try:
        async with asyncio.timeout(0.2):
            extra = await recv_frame(again)
        raise AssertionError(f"delivered twice: {extra}")
    except TimeoutError:
        pass
