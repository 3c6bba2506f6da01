"""Orders and tips end to end through their handlers, on both storage
backends, paying through the fake PayPal (which checks auth, request ids and
amounts): checkout, capture, the fee split, stock never oversold, cancels,
declines, expiry, refunds, fulfilment, events and notifications, and every
bad input of issue 14. The ledger's invariants are checked after each test
(``tests/market_rig.py``)."""

from __future__ import annotations

import asyncio
import pathlib
import time

from protocol.errors import ErrorCode
from protocol.messages import accounts, live, social
from protocol.messages import market as m
from protocol.messages import notifications as n
from tests.harness import events, next_id, open_node
from tests.market_rig import Rig, order_events, refused, rig, states

__all__ = ["rig"]


# ------------------------------------------------------------ happy paths


async def test_an_order_is_reserved_checked_out_captured_and_split(rig: Rig) -> None:
    node, paypal = rig.node, rig.paypal
    ada, bob = await node.user("ada"), await node.user("bob")
    product = await rig.product(ada, price=2500, stock=3)
    order = await rig.order(bob, product.id, quantity=2, client_key="buy-1")
    assert (order.state, order.amount, order.currency) == ("created", 5000, "USD")
    assert order.approval_url is not None and "checkoutnow" in order.approval_url
    assert (await node.send(bob, m.GetProduct, product_id=product.id)).stock == 1

    # A retry (a lost reply) is the same order: nothing reserved or opened twice.
    again = await rig.order(bob, product.id, quantity=2, client_key="buy-1")
    assert again.id == order.id
    assert (await node.send(bob, m.GetProduct, product_id=product.id)).stock == 1
    assert len(paypal.orders) == 1
    created = next(iter(paypal.orders.values()))
    assert created["unit"]["custom_id"] == order.id
    assert created["unit"]["amount"]["value"] == "50.00"

    paid = await rig.pay(bob, order)
    assert paid.state == "paid" and paid.approval_url is None
    assert [c.to_state for c in paid.history] == ["created", "paid"]
    assert paid.history[-1].cause == "capture"
    record = await rig.record(order.id)
    fee = 5000 * paypal.fee_bps // 10_000 + paypal.fee_fixed
    assert (record.paypal_fee, record.platform_fee) == (fee, 500)
    assert record.seller_share == 5000 - fee - 500
    balance = (await rig.balances(ada))["USD"]
    assert (balance.pending, balance.available, balance.in_payout) == (record.seller_share, 0, 0)
    assert await node.store.ledger.balance("platform:revenue", "USD") == 500

    # Both parties saw it change on their sessions; the seller was notified.
    await rig.settle()
    assert states(bob, order.id)[-1] == states(ada, order.id)[-1] == "paid"
    inbox = await node.send(ada, n.ListNotifications)
    assert [(x.kind, x.order_id, x.text) for x in inbox.notifications] == [
        ("order", order.id, "Print")
    ]
    # Every POST carried a request id; the capture's is derived from our id.
    assert [c.request_id for c in paypal.calls_to("capture")] == [f"capture:{order.id}"]


async def test_a_capture_retried_by_the_app_pays_once(rig: Rig) -> None:
    node = rig.node
    ada, bob = await node.user(), await node.user()
    product = await rig.product(ada)
    order = await rig.order(bob, product.id)
    first = await rig.pay(bob, order)
    second = await node.send(bob, m.CaptureOrder, order_id=order.id)
    assert first.state == second.state == "paid"
    assert len(rig.paypal.captures) == 1
    payments = [
        tx
        for tx in await node.store.ledger.transactions(after=None, limit=100)
        if tx.kind == "payment"
    ]
    assert len(payments) == 1


async def test_digital_goods_are_fulfilled_by_payment_physical_ones_by_their_seller(
    rig: Rig,
) -> None:
    node = rig.node
    ada, bob = await node.user(), await node.user()
    ebook = await rig.product(ada, kind="digital")
    mug = await rig.product(ada, kind="physical")
    digital = await rig.pay(bob, await rig.order(bob, ebook.id))
    physical = await rig.pay(bob, await rig.order(bob, mug.id))
    assert (await node.send(bob, m.GetOrder, order_id=digital.id)).state == "fulfilled"
    assert physical.state == "paid"
    await refused(ErrorCode.FORBIDDEN, node.send(bob, m.FulfillOrder, order_id=physical.id))
    shipped = await node.send(ada, m.FulfillOrder, order_id=physical.id)
    assert shipped.state == "fulfilled"
    assert shipped.history[-1].cause == f"request:{ada.user()}"
    await rig.settle()
    assert states(bob, physical.id)[-1] == "fulfilled"


async def test_fifty_buyers_race_for_ten_items_and_exactly_ten_win(rig: Rig) -> None:
    node = rig.node
    seller = await node.user()
    buyers = [await node.user() for _ in range(50)]
    product = await rig.product(seller, stock=10)
    results = await asyncio.gather(
        *(rig.order(b, product.id) for b in buyers), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, m.OrderView)]
    lost = [r for r in results if not isinstance(r, m.OrderView)]
    assert len(won) == 10 and len(lost) == 40
    assert all(getattr(e, "code", None) is ErrorCode.OUT_OF_STOCK for e in lost)
    assert (await node.send(seller, m.GetProduct, product_id=product.id)).stock == 0
    # A cancel gives its item back, and one more buyer gets it.
    await node.send(buyers[results.index(won[0])], m.CancelOrder, order_id=won[0].id)
    assert (await node.send(seller, m.GetProduct, product_id=product.id)).stock == 1
    late = next(b for b, r in zip(buyers, results, strict=True) if r in lost)
    assert (await rig.order(late, product.id)).state == "created"
    await refused(ErrorCode.OUT_OF_STOCK, rig.order(buyers[-1], product.id))


# ------------------------------------------------------- failures and time


async def test_a_declined_payment_cancels_the_order_and_releases_the_stock(rig: Rig) -> None:
    node = rig.node
    placed = await rig.placed(stock=1)
    ada, bob, product, order = placed.seller, placed.buyer, placed.product, placed.order
    rig.paypal.decline(placed.paypal_order_id)
    await refused(ErrorCode.PAYMENT_DECLINED, rig.pay(bob, order))
    after = await node.send(bob, m.GetOrder, order_id=order.id)
    assert after.state == "cancelled"
    assert (await node.send(ada, m.GetProduct, product_id=product.id)).stock == 1
    assert await node.store.ledger.transactions(after=None, limit=10) == []


async def test_capturing_before_the_buyer_approved_changes_nothing(rig: Rig) -> None:
    node = rig.node
    ada, bob = await node.user(), await node.user()
    order = await rig.order(bob, (await rig.product(ada)).id)
    await refused(ErrorCode.INVALID_STATE, node.send(bob, m.CaptureOrder, order_id=order.id))
    assert (await rig.record(order.id)).state == "created"


async def test_paypal_failing_then_answering_is_retried_with_the_same_request_id(
    rig: Rig,
) -> None:
    node, paypal = rig.node, rig.paypal
    ada, bob = await node.user(), await node.user()
    order = await rig.order(bob, (await rig.product(ada)).id)
    paypal.fail_next("capture", 2, status=503)
    assert (await rig.pay(bob, order)).state == "paid"
    ids = {c.request_id for c in paypal.calls_to("capture")}
    assert ids == {f"capture:{order.id}"} and len(paypal.calls_to("capture")) == 3
    assert len(paypal.captures) == 1


async def test_paypal_down_leaves_the_order_to_a_retry_of_the_same_request(rig: Rig) -> None:
    node, paypal = rig.node, rig.paypal
    ada, bob = await node.user(), await node.user()
    product = await rig.product(ada, stock=2)
    paypal.fail_next("create_order", 10, status=500)
    await refused(ErrorCode.PAYMENT_PROVIDER_ERROR, rig.order(bob, product.id, client_key="k-down"))
    (record,) = await node.store.orders.list_by(bob.user(), "buyer", before=None, limit=5)
    assert record.paypal_order_id is None and record.stock_reserved == 1
    paypal._faults.clear()  # PayPal is back
    order = await rig.order(bob, product.id, client_key="k-down")
    assert order.id == record.id and order.approval_url is not None
    assert len(paypal.orders) == 1
    assert (await node.send(ada, m.GetProduct, product_id=product.id)).stock == 1


async def test_unpaid_orders_expire_and_give_their_stock_back(rig: Rig) -> None:
    node = rig.node
    ada, bob = await node.user(), await node.user()
    product = await rig.product(ada, stock=1)
    order = await rig.order(bob, product.id)
    report = await rig.worker.sweep_once(now=order.expires_at - 1)
    assert report.expired == 0
    report = await rig.worker.sweep_once(now=order.expires_at + 1)
    assert report.expired == 1
    expired = await node.send(bob, m.GetOrder, order_id=order.id)
    assert expired.state == "expired" and expired.history[-1].cause == "expiry"
    assert (await node.send(ada, m.GetProduct, product_id=product.id)).stock == 1
    await refused(ErrorCode.INVALID_STATE, node.send(bob, m.CancelOrder, order_id=order.id))


async def test_refunds_partial_then_full_and_never_above_what_was_paid(rig: Rig) -> None:
    node, paypal = rig.node, rig.paypal
    ada, bob = await node.user(), await node.user()
    order = await rig.pay(bob, await rig.order(bob, (await rig.product(ada, price=10_000)).id))
    await refused(
        ErrorCode.FORBIDDEN, node.send(bob, m.RefundOrder, order_id=order.id, client_key="r")
    )
    part = await node.send(ada, m.RefundOrder, order_id=order.id, amount=4000, client_key="r1")
    assert (part.state, part.refunded) == ("partially_refunded", 4000)
    # The same refund retried (its reply was lost): one refund at PayPal.
    again = await node.send(ada, m.RefundOrder, order_id=order.id, amount=4000, client_key="r1")
    assert again.refunded == 4000 and len(paypal.refunds) == 1
    await refused(
        ErrorCode.REFUND_EXCEEDS_PAID,
        node.send(ada, m.RefundOrder, order_id=order.id, amount=6001, client_key="r2"),
    )
    full = await node.send(ada, m.RefundOrder, order_id=order.id, client_key="r3")
    assert (full.state, full.refunded) == ("refunded", 10_000)
    assert [c.request_id for c in paypal.calls_to("refund")] == [
        f"refund:{order.id}:r1",
        f"refund:{order.id}:r1",
        f"refund:{order.id}:r3",
    ]
    await refused(
        ErrorCode.INVALID_STATE,
        node.send(ada, m.RefundOrder, order_id=order.id, amount=1, client_key="r4"),
    )
    # The buyer has every cent back; the platform returned its whole fee;
    # what PayPal kept of its fee (its refunds say), the seller bears.
    ledger = node.store.ledger
    assert await ledger.balance("world", "USD") == 0
    assert await ledger.balance("platform:revenue", "USD") == 0
    kept_fee = await ledger.balance("fees:paypal", "USD")
    assert 0 <= kept_fee <= (await rig.record(order.id)).paypal_fee
    balance = (await rig.balances(ada))["USD"]
    assert balance.pending + balance.available == -kept_fee


async def test_unpaid_orders_cannot_be_refunded_or_fulfilled(rig: Rig) -> None:
    node = rig.node
    ada, bob = await node.user(), await node.user()
    order = await rig.order(bob, (await rig.product(ada)).id)
    await refused(
        ErrorCode.INVALID_STATE,
        node.send(ada, m.RefundOrder, order_id=order.id, client_key="r"),
    )
    await refused(ErrorCode.INVALID_STATE, node.send(ada, m.FulfillOrder, order_id=order.id))
    await refused(ErrorCode.FORBIDDEN, node.send(ada, m.CancelOrder, order_id=order.id))


# ------------------------------------------------------------- bad input


async def test_orders_for_what_cannot_be_bought_are_refused_and_change_nothing(
    rig: Rig,
) -> None:
    node = rig.node
    ada, bob = await node.user(), await node.user()
    product = await rig.product(ada, stock=2)
    await refused(ErrorCode.FORBIDDEN, rig.order(ada, product.id))
    await refused(ErrorCode.OUT_OF_STOCK, rig.order(bob, product.id, quantity=3))
    await node.send(ada, m.EditProduct, product_id=product.id, status="paused")
    await refused(ErrorCode.PRODUCT_UNAVAILABLE, rig.order(bob, product.id))
    await node.send(ada, m.EditProduct, product_id=product.id, status="active")
    await node.send(ada, m.DeleteProduct, product_id=product.id)
    await refused(ErrorCode.NOT_FOUND, rig.order(bob, product.id))
    for quantity in (0, -1, 101, 1.5):
        await refused(ErrorCode.INVALID_FIELD, rig.order(bob, product.id, quantity=quantity))
    await refused(ErrorCode.NOT_FOUND, rig.order(bob, "nope"))
    blocked = await rig.product(ada)
    await node.call(ada, accounts.BlockUser, user_id=bob.user())
    await refused(ErrorCode.NOT_FOUND, rig.order(bob, blocked.id))
    assert await node.store.orders.list_by(bob.user(), "buyer", before=None, limit=5) == []
    assert rig.paypal.orders == {}


async def test_strangers_do_not_see_or_touch_an_order(rig: Rig) -> None:
    node = rig.node
    ada, bob, eve = await node.user(), await node.user(), await node.user()
    order = await rig.order(bob, (await rig.product(ada)).id)
    for request in (m.GetOrder, m.CaptureOrder, m.CancelOrder, m.FulfillOrder):
        await refused(ErrorCode.NOT_FOUND, node.send(eve, request, order_id=order.id))
    assert order_events(eve) == []


async def test_lists_page_each_side_of_an_order(rig: Rig) -> None:
    node = rig.node
    ada, bob = await node.user(), await node.user()
    product = await rig.product(ada)
    made = [await rig.order(bob, product.id) for _ in range(5)]
    first = await node.send(bob, m.ListOrders, role="buyer", limit=3)
    assert [o.id for o in first.orders] == [o.id for o in reversed(made)][:3]
    rest = await node.send(bob, m.ListOrders, role="buyer", limit=3, cursor=first.next_cursor)
    assert [o.id for o in rest.orders] == [o.id for o in reversed(made)][3:]
    assert rest.next_cursor is None
    sold = await node.send(ada, m.ListOrders, role="seller", limit=10)
    assert len(sold.orders) == 5
    assert (await node.send(ada, m.ListOrders, role="buyer")).orders == []
    await refused(
        ErrorCode.INVALID_FIELD,
        node.send(ada, m.ListOrders, role="seller", cursor=first.next_cursor),
    )


async def test_without_paypal_checkout_is_refused_and_the_shop_still_works(
    tmp_path: pathlib.Path,
) -> None:
    async with open_node(tmp_path) as node:
        ada, bob = await node.user(), await node.user()
        product = await node.send(
            ada, m.CreateProduct, client_key="k", title="Mug", price=100, currency="EUR", stock=1
        )
        await refused(
            ErrorCode.PAYMENTS_NOT_CONFIGURED,
            node.send(bob, m.CreateOrder, client_key="o", product_id=product.id),
        )
        await refused(
            ErrorCode.PAYMENTS_NOT_CONFIGURED,
            node.send(
                bob, m.CreateTip, client_key="t", creator_id=ada.user(), amount=100, currency="EUR"
            ),
        )
        await refused(
            ErrorCode.PAYMENTS_NOT_CONFIGURED,
            node.send(ada, m.RequestPayout, client_key="p", currency="EUR", paypal_email="a@b.co"),
        )
        assert (await node.send(bob, m.GetProduct, product_id=product.id)).stock == 1
        assert (await node.send(ada, m.GetBalances)).balances == []


# ------------------------------------------------------------------ tips


async def test_a_tip_on_a_post_is_paid_fulfilled_and_notified(rig: Rig) -> None:
    node = rig.node
    ada, bob = await node.user(), await node.user()
    post = await node.send(ada, social.CreatePost, client_key=f"c{next_id()}", text="hello")
    tip = await node.send(
        bob,
        m.CreateTip,
        client_key="t1",
        creator_id=ada.user(),
        amount=500,
        currency="EUR",
        post_id=post.id,
        message="thanks!",
    )
    assert (tip.kind, tip.title, tip.post_id, tip.amount) == ("tip", "Tip", post.id, 500)
    paid = await rig.pay(bob, tip)
    assert (await node.send(ada, m.GetOrder, order_id=paid.id)).state == "fulfilled"
    await rig.settle()
    inbox = await node.send(ada, n.ListNotifications)
    assert [(x.kind, x.order_id, x.text) for x in inbox.notifications] == [
        ("tip", tip.id, "thanks!")
    ]
    assert (await rig.balances(ada))["EUR"].pending > 0


async def test_bad_tips_are_refused(rig: Rig) -> None:
    node = rig.node
    ada, bob = await node.user(), await node.user()
    post = await node.send(bob, social.CreatePost, client_key=f"c{next_id()}", text="mine")

    def tip(**fields: object) -> object:
        fields.setdefault("client_key", f"t{next_id()}")
        fields.setdefault("creator_id", ada.user())
        fields.setdefault("amount", 100)
        fields.setdefault("currency", "USD")
        return node.send(bob, m.CreateTip, **fields)

    await refused(ErrorCode.FORBIDDEN, tip(creator_id=bob.user()))
    await refused(ErrorCode.INVALID_FIELD, tip(post_id=post.id))  # not the creator's post
    await refused(ErrorCode.INVALID_FIELD, tip(post_id=post.id, stream_id="s"))
    await refused(ErrorCode.NOT_FOUND, tip(stream_id="nope"))
    for amount in (0, -5, 2.5, 10**9):
        await refused(ErrorCode.INVALID_FIELD, tip(amount=amount))
    await refused(ErrorCode.INVALID_FIELD, tip(currency="XBT"))
    assert rig.paypal.orders == {}


async def test_order_events_reach_every_session_of_both_parties(rig: Rig) -> None:
    node = rig.node
    ada, bob = await node.user("ada2"), await node.user("bob2")
    bob_phone = node.caller()
    login = await node.call(bob_phone, accounts.Login, login="bob2", password="x" * 8)
    assert login is not None
    order = await rig.pay(bob, await rig.order(bob, (await rig.product(ada)).id))
    await rig.settle()
    assert states(bob_phone, order.id)[-1] == "paid"
    assert states(ada, order.id)[-1] == "paid"


async def test_held_earnings_become_available_after_the_hold(rig: Rig) -> None:
    node = rig.node
    ada, bob = await node.user(), await node.user()
    order = await rig.pay(bob, await rig.order(bob, (await rig.product(ada)).id))
    record = await rig.record(order.id)
    assert record.release_at is not None
    assert (await rig.worker.sweep_once(now=record.release_at - 1)).released == 0
    assert (await rig.worker.sweep_once(now=record.release_at + 1)).released == 1
    balance = (await rig.balances(ada))["USD"]
    assert (balance.pending, balance.available) == (0, record.seller_share)
    assert (await rig.worker.sweep_once(now=time.time() + 10**7)).released == 0


async def test_a_paid_tip_during_a_live_stream_is_a_highlighted_chat_line(rig: Rig) -> None:
    """The whole way: checkout, PayPal, capture, then the line every viewer
    of the live stream gets, and the creator's notification."""
    node = rig.node
    host, fan, banned = await node.user(), await node.user(), await node.user()
    hosted = await node.send(host, live.StartStream, title="live")
    stream_id = hosted.stream.id
    await node.send(fan, live.JoinStream, stream_id=stream_id)
    await node.send(banned, live.JoinStream, stream_id=stream_id)
    await node.send(host, live.BanViewer, stream_id=stream_id, user_id=banned.user())
    tip = await node.send(
        fan,
        m.CreateTip,
        client_key="live-tip",
        creator_id=host.user(),
        amount=300,
        currency="USD",
        stream_id=stream_id,
        message="love it",
    )
    await rig.pay(fan, tip)
    await asyncio.sleep(0.4)  # the stream's next chat tick (150 ms)
    lines = [
        line
        for e in events(fan)
        if isinstance(e, live.ChatBatch)
        for line in e.lines
        if line.tip is not None
    ]
    assert [(x.text, x.tip.amount, x.tip.order_id) for x in lines if x.tip] == [
        ("love it", 300, tip.id)
    ]
    await rig.settle()
    inbox = await node.send(host, n.ListNotifications)
    assert ("tip", tip.id) in [(x.kind, x.order_id) for x in inbox.notifications]
    # A viewer the host banned cannot tip their way back into the chat.
    await refused(
        ErrorCode.FORBIDDEN,
        node.send(
            banned,
            m.CreateTip,
            client_key="banned-tip",
            creator_id=host.user(),
            amount=300,
            currency="USD",
            stream_id=stream_id,
        ),
    )
