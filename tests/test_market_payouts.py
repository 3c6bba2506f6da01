"""Creator payouts on both backends against the fake PayPal: the available
balance and its minimum, two payouts at once, the batch id that makes a
resend safe, outcomes by polling and by webhook events (succeeded, failed,
unclaimed then returned, returned after success), and the money coming back.
The ledger's invariants are checked after each test (``tests/market_rig.py``)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from protocol.errors import ErrorCode
from protocol.messages import market as m
from protocol.messages import notifications as n
from server.context import Caller
from server.market import events
from server.payments.events import parse_event
from tests.harness import events as pushed
from tests.market_rig import Rig, refused, rig
from tests.paypal_events import event, payout_batch_resource, payout_item_resource

__all__ = ["rig"]


async def earn(rig: Rig, seller: Caller, price: int = 10_000) -> int:
    """A paid order of ``seller``'s, its hold over: returns what became available."""
    buyer = await rig.node.user()
    order = await rig.pay(
        buyer, await rig.order(buyer, (await rig.product(seller, price=price)).id)
    )
    record = await rig.record(order.id)
    assert record.release_at is not None
    await rig.worker.sweep_once(now=record.release_at + 1)
    return record.seller_share


async def payout(rig: Rig, seller: Caller, **fields: Any) -> m.PayoutView:
    fields.setdefault("client_key", f"p{len(rig.paypal.calls)}-{id(fields)}")
    fields.setdefault("currency", "USD")
    fields.setdefault("paypal_email", "seller@example.com")
    return await rig.node.send(seller, m.RequestPayout, **fields)  # type: ignore[no-any-return]


async def deliver(rig: Rig, event_type: str, resource: dict[str, Any]) -> str:
    """A verified event applied as the worker applies it (the HTTP path and
    its verification are tested in test_market_webhooks.py)."""
    notice = parse_event(orjson.dumps(event(event_type, resource)))
    return await events.apply(rig.node.services, notice)


async def test_a_payout_sends_the_available_balance_once_and_settles_by_polling(
    rig: Rig,
) -> None:
    node, paypal = rig.node, rig.paypal
    ada = await node.user()
    earned = await earn(rig, ada)
    sent = await payout(rig, ada, client_key="pay-1")
    assert (sent.amount, sent.status) == (earned, "sent")
    balance = (await rig.balances(ada))["USD"]
    assert (balance.available, balance.in_payout) == (0, earned)
    # The batch id is the payout's id: PayPal refuses a second batch with it.
    (call,) = paypal.calls_to("payout")
    assert call.request_id == sent.id
    assert [b["sender_batch_header"]["sender_batch_id"] for b in paypal.batches.values()] == [
        sent.id
    ]
    again = await payout(rig, ada, client_key="pay-1")
    assert again.id == sent.id and len(paypal.payments_sent) == 1

    await rig.worker.sweep_once()
    (listed,) = (await node.send(ada, m.ListPayouts)).payouts
    assert listed.status == "succeeded"
    balance = (await rig.balances(ada))["USD"]
    assert (balance.available, balance.in_payout) == (0, 0)
    assert await node.store.ledger.balance("world", "USD") == -10_000 + earned
    await rig.settle()
    updates = [e.payout.status for e in pushed(ada) if isinstance(e, m.PayoutUpdated)]
    assert updates[-1] == "succeeded"
    inbox = await node.send(ada, n.ListNotifications)
    assert ("payout", sent.id) in [(x.kind, x.payout_id) for x in inbox.notifications]


async def test_payouts_above_the_balance_below_the_minimum_or_twice_at_once_are_refused(
    rig: Rig,
) -> None:
    node = rig.node
    ada = await node.user()
    await refused(ErrorCode.INSUFFICIENT_BALANCE, payout(rig, ada))  # nothing earned
    earned = await earn(rig, ada)
    await refused(ErrorCode.INSUFFICIENT_BALANCE, payout(rig, ada, amount=earned + 1))
    await refused(ErrorCode.INSUFFICIENT_BALANCE, payout(rig, ada, amount=99))  # minimum 100
    await refused(ErrorCode.INVALID_FIELD, payout(rig, ada, amount=-5))
    await refused(ErrorCode.INVALID_FIELD, payout(rig, ada, amount=10.5))
    await refused(ErrorCode.INVALID_FIELD, payout(rig, ada, paypal_email="not-an-email"))
    results = await asyncio.gather(
        payout(rig, ada, client_key="a"), payout(rig, ada, client_key="b"), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, m.PayoutView)]
    assert len(won) == 1 and won[0].amount == earned
    (lost,) = [r for r in results if not isinstance(r, m.PayoutView)]
    assert getattr(lost, "code", None) is ErrorCode.INSUFFICIENT_BALANCE
    assert len(rig.paypal.payments_sent) == 1


async def test_a_failed_item_gives_the_money_back(rig: Rig) -> None:
    node = rig.node
    ada = await node.user()
    earned = await earn(rig, ada)
    rig.paypal.set_payout_outcome("nobody@example.com", "FAILED", "RECEIVER_UNREGISTERED")
    sent = await payout(rig, ada, paypal_email="nobody@example.com", amount=earned - 1000)
    await rig.worker.sweep_once()
    (failed,) = (await node.send(ada, m.ListPayouts)).payouts
    assert (failed.id, failed.status, failed.failure) == (
        sent.id,
        "failed",
        "RECEIVER_UNREGISTERED",
    )
    balance = (await rig.balances(ada))["USD"]
    assert (balance.available, balance.in_payout) == (earned, 0)
    # The money is there to be paid again, to a good address.
    again = await payout(rig, ada, client_key="second")
    assert again.amount == earned


async def test_webhook_events_settle_payouts_in_any_order_and_only_once(rig: Rig) -> None:
    node = rig.node
    ada = await node.user()
    earned = await earn(rig, ada)
    rig.paypal.set_payout_outcome("slow@example.com", "UNCLAIMED")
    sent = await payout(rig, ada, paypal_email="slow@example.com")
    record = await node.store.payouts.get(sent.id)
    assert record is not None and record.paypal_batch_id is not None
    batch_id = record.paypal_batch_id

    def item(status: str, error: str | None = None) -> dict[str, Any]:
        return payout_item_resource("ITEM1", batch_id, sent.id, status, amount=earned, error=error)

    assert await deliver(rig, "PAYMENT.PAYOUTS-ITEM.UNCLAIMED", item("UNCLAIMED")) == "applied"
    assert await deliver(rig, "PAYMENT.PAYOUTS-ITEM.UNCLAIMED", item("UNCLAIMED")) == "no_change"
    assert (await rig.balances(ada))["USD"].in_payout == earned
    # 30 days later PayPal gives it back.
    assert await deliver(rig, "PAYMENT.PAYOUTS-ITEM.RETURNED", item("RETURNED")) == "applied"
    # A stale success arriving after that changes nothing.
    assert await deliver(rig, "PAYMENT.PAYOUTS-ITEM.SUCCEEDED", item("SUCCESS")) == "no_change"
    balance = (await rig.balances(ada))["USD"]
    assert (balance.available, balance.in_payout) == (earned, 0)
    assert (await node.store.payouts.get(sent.id)).status == "returned"  # type: ignore[union-attr]


async def test_a_payout_returned_after_it_succeeded_comes_back(rig: Rig) -> None:
    node = rig.node
    ada = await node.user()
    earned = await earn(rig, ada)
    sent = await payout(rig, ada)
    batch_event = payout_batch_resource("B-UNKNOWN-TO-US", "nobody")
    assert await deliver(rig, "PAYMENT.PAYOUTSBATCH.SUCCESS", batch_event) == "unknown_payout"
    record = await node.store.payouts.get(sent.id)
    assert record is not None and record.paypal_batch_id is not None
    # A batch event carries no items: the node asks PayPal for them.
    batch = payout_batch_resource(record.paypal_batch_id, sent.id)
    assert await deliver(rig, "PAYMENT.PAYOUTSBATCH.SUCCESS", batch) == "applied"
    assert (await rig.balances(ada))["USD"].in_payout == 0
    returned = payout_item_resource(
        "ITEM1", record.paypal_batch_id, sent.id, "RETURNED", amount=earned
    )
    assert await deliver(rig, "PAYMENT.PAYOUTS-ITEM.RETURNED", returned) == "applied"
    balance = (await rig.balances(ada))["USD"]
    assert (balance.available, balance.in_payout) == (earned, 0)


async def test_paypal_down_leaves_the_payout_requested_and_the_sweep_sends_it_once(
    rig: Rig,
) -> None:
    node, paypal = rig.node, rig.paypal
    ada = await node.user()
    await earn(rig, ada)
    paypal.fail_next("payout", 20, status=503)
    waiting = await payout(rig, ada)
    assert waiting.status == "requested" and paypal.batches == {}
    paypal._faults.clear()
    # The answer to the resend is lost: the next sweep sends again, and
    # PayPal's refusal of the known batch id leads to that batch, not a payment.
    paypal.hang_next("payout", 1, after=True)
    await rig.worker.sweep_once()
    await rig.worker.sweep_once()
    await rig.worker.sweep_once()
    assert len(paypal.payments_sent) == 1
    (settled,) = (await node.send(ada, m.ListPayouts)).payouts
    assert settled.status == "succeeded"
