"""Paid tips in live chat and the marketplace's notifications, through the
real node on both storage backends (the ``live`` fixture of
``test_live.py``): a paid tip on a live stream is one highlighted line
(``ChatLine.tip``) in the stream's chat, however often it is announced,
past slow mode and mutes, and none on a stream that is not live; the
``order``, ``tip`` and ``payout`` notifications name their order or payout.

The orders are made here as the marketplace's service holds them once paid
(``OrderRecord``), since checkout is another module's."""

from __future__ import annotations

import time
from typing import Any

from actors.ids import new_id
from actors.live import PostTip, chat_author, stream_key
from actors.store.market import OrderRecord, PayoutRecord
from protocol.messages import live as m
from protocol.messages import notifications as n
from server.context import Caller
from server.handlers.live import announce_tip
from server.handlers.notices import notify_order_paid, notify_payout, notify_tip
from tests.harness import Node
from tests.test_live import go_live, live, of, say, settle
from tests.test_notifications import settle as settle_inbox

__all__ = ["live"]  # the fixture, shared


def paid(buyer: Caller, seller: Caller, **fields: Any) -> OrderRecord:
    """A paid order as the marketplace's service stores it: a tip unless
    ``kind`` says otherwise."""
    now = time.time()
    values: dict[str, Any] = {
        "id": new_id(),
        "kind": "tip",
        "buyer_id": buyer.user(),
        "seller_id": seller.user(),
        "client_key": f"k{new_id()}",
        "title": "Tip",
        "unit_price": 500,
        "amount": 500,
        "currency": "EUR",
        "state": "paid",
        "message": "great show",
        "paid_at": now,
        "created_at": now,
        "updated_at": now,
        "expires_at": now + 1800,
    }
    values.update(fields)
    return OrderRecord(**values)


def lines(caller: Caller) -> list[m.ChatLine]:
    return [line for batch in of(caller, m.ChatBatch) for line in batch.lines]


async def stream_with_viewer(node: Node) -> tuple[Caller, Caller, str]:
    host, fan = await node.user("host"), await node.user("fan")
    sid = (await go_live(node, host)).stream.id
    await node.send(fan, m.JoinStream, stream_id=sid)
    return host, fan, sid


# --------------------------------------------------------------- chat lines


async def test_a_paid_tip_is_one_highlighted_line_for_every_viewer(live: Node) -> None:
    host, fan, sid = await stream_with_viewer(live)
    order = paid(fan, host, stream_id=sid, amount=1250)
    await announce_tip(live.services, order)
    await announce_tip(live.services, order)  # the capture and PayPal's webhook both say so
    await settle()
    await announce_tip(live.services, order)  # after its tick too
    await settle()
    for caller in (host, fan):
        [line] = lines(caller)
        assert line.tip == m.ChatTip(amount=1250, currency="EUR", order_id=order.id)
        assert (line.text, line.author.username, line.stream_id) == ("great show", "fan", sid)
    stored = await live.store.stream_chat.recent(sid, 10)
    assert [(s.id, s.user_id, s.text) for s in stored] == [(order.id, fan.user(), "great show")]


async def test_a_newly_joining_viewer_gets_the_tip_line_in_the_recent_chat(live: Node) -> None:
    host, fan, sid = await stream_with_viewer(live)
    await say(live, fan, sid, "before")
    order = paid(fan, host, stream_id=sid)
    await announce_tip(live.services, order)
    await settle()
    late = await live.user("late")
    joined = await live.send(late, m.JoinStream, stream_id=sid)
    assert [(line.text, line.tip) for line in joined.recent] == [
        ("before", None),
        ("great show", m.ChatTip(amount=500, currency="EUR", order_id=order.id)),
    ]


async def test_a_tip_told_to_the_actor_passes_mutes_and_slow_mode(live: Node) -> None:
    host, fan, sid = await stream_with_viewer(live)
    await live.send(host, m.UpdateStream, stream_id=sid, slow_mode_seconds=60)
    await live.send(host, m.MuteChat, stream_id=sid, user_id=fan.user(), seconds=60)
    user = await live.store.users.get(fan.user())
    assert user is not None
    for text in ("one", "two"):
        order_id = new_id()
        tip = PostTip(
            order_id=order_id,
            user_id=fan.user(),
            author=chat_author(user),
            amount=100,
            currency="JPY",
            text=text,
        )
        live.services.actors.tell(stream_key(sid), tip)
    await settle()
    assert [(line.text, line.tip is not None) for line in lines(fan)] == [
        ("one", True),
        ("two", True),
    ]


async def test_a_stream_that_is_not_live_drops_the_tip(live: Node) -> None:
    host, fan, sid = await stream_with_viewer(live)
    planned = await live.send(
        host, m.ScheduleStream, title="later", scheduled_time=time.time() + 60
    )
    await announce_tip(live.services, paid(fan, host, stream_id=planned.id))
    await live.send(host, m.EndStream, stream_id=sid)
    await announce_tip(live.services, paid(fan, host, stream_id=sid))
    await announce_tip(live.services, paid(fan, host, stream_id=new_id()))  # no such stream
    await settle()
    assert lines(fan) == [] and lines(host) == []
    for stream_id in (sid, planned.id):
        assert await live.store.stream_chat.recent(stream_id, 10) == []


async def test_only_a_tip_on_a_stream_adds_a_line(live: Node) -> None:
    host, fan, sid = await stream_with_viewer(live)
    await announce_tip(live.services, paid(fan, host))  # on no stream (a post, or the creator)
    await announce_tip(live.services, paid(fan, host, kind="product", stream_id=sid))
    await settle()
    assert lines(fan) == []


# ------------------------------------------------------------ notifications


async def inbox(node: Node, caller: Caller) -> list[n.NotificationView]:
    await settle_inbox(node)
    page = await node.send(caller, n.ListNotifications)
    return page.notifications  # type: ignore[no-any-return]


async def test_order_and_tip_notifications_name_their_order_once(live: Node) -> None:
    seller, buyer = await live.user("seller"), await live.user("buyer")
    order = paid(buyer, seller, kind="product", title="Blue mug", message="")
    tip = paid(buyer, seller, message="thanks!")
    for _ in range(2):  # the capture and the webhook: one notification each
        notify_order_paid(live.services, order)
        notify_tip(live.services, tip)
    notify_order_paid(live.services, tip)  # a tip's paid order is its tip notification
    rows = await inbox(live, seller)
    assert sorted((r.kind, r.order_id, r.text, r.actor_count) for r in rows) == sorted(
        [("order", order.id, "Blue mug", 1), ("tip", tip.id, "thanks!", 1)]
    )
    assert all(r.payout_id is None and r.stream_id is None for r in rows)
    assert all([a.id for a in r.actors] == [buyer.user()] for r in rows)
    assert await inbox(live, buyer) == []


def payout(seller: Caller, status: str, payout_id: str) -> PayoutRecord:
    now = time.time()
    return PayoutRecord(
        id=payout_id,
        seller_id=seller.user(),
        client_key="k",
        amount=2500,
        currency="USD",
        paypal_email="s@example.com",
        status=status,
        created_at=now,
        updated_at=now,
    )


async def test_a_payout_notifies_where_it_ends_and_names_the_payout(live: Node) -> None:
    seller = await live.user("seller")
    payout_id = new_id()
    for status in ("requested", "sent", "unclaimed"):  # on its way: nothing yet
        notify_payout(live.services, payout(seller, status, payout_id))
    assert await inbox(live, seller) == []
    notify_payout(live.services, payout(seller, "succeeded", payout_id))
    notify_payout(live.services, payout(seller, "succeeded", payout_id))  # a repeat
    [row] = await inbox(live, seller)
    assert (row.kind, row.payout_id, row.order_id, row.text) == (
        "payout",
        payout_id,
        None,
        "succeeded",
    )
    assert row.actors == []  # no person did it
    notify_payout(live.services, payout(seller, "returned", payout_id))
    [row] = await inbox(live, seller)
    assert (row.payout_id, row.text) == (payout_id, "returned")
