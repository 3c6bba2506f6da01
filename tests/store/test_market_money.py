"""Contract of the marketplace's money ports (:mod:`actors.store.market`), on
both backends: the ledger (post, get, balances, the audit walk, refusals),
payouts (the reservation, its refusals and its race, compare-and-set with
the settling transaction, lookups and lists), the payment provider's events,
and the tip fields of a chat line. The ledger's invariants are checked after
every test that posts."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from actors import market
from actors.store import Store
from actors.store.market import (
    DuplicateTransaction,
    InsufficientBalance,
    LedgerTransaction,
    PayoutRecord,
    Posting,
)
from tests.store.ledger_check import assert_ledger_consistent
from tests.store.market_records import fund, make_event, make_payout, transfer
from tests.store.records import T0, make_line

AVAILABLE = market.seller_account("s1", "available")
IN_PAYOUT = market.seller_account("s1", "in_payout")


def ids(payouts: list[PayoutRecord]) -> list[str]:
    return [p.id for p in payouts]


# -------------------------------------------------------------------- ledger


async def test_post_get_and_balances(store: Store) -> None:
    first = transfer("tx:a", "world", "seller:s1:available", 700)
    two_currencies = LedgerTransaction(
        id="tx:b",
        kind="payment",
        order_id="o1",
        postings=[
            Posting(account="world", currency="USD", amount=-300),
            Posting(account="seller:s1:pending", currency="USD", amount=250),
            Posting(account="platform:revenue", currency="USD", amount=50),
            Posting(account="world", currency="EUR", amount=-90),
            Posting(account="seller:s10:pending", currency="EUR", amount=90),
        ],
        at=T0 + 1,
    )
    await store.ledger.post(first)
    await store.ledger.post(two_currencies)
    assert await store.ledger.get("tx:a") == first
    assert await store.ledger.get("tx:b") == two_currencies
    assert await store.ledger.get("tx:none") is None
    assert await store.ledger.balance("world", "USD") == -1000
    assert await store.ledger.balance("world", "EUR") == -90
    assert await store.ledger.balance("world", "JPY") == 0
    assert await store.ledger.balance("nobody", "USD") == 0
    assert await store.ledger.balances("seller:s1:") == {
        ("seller:s1:available", "USD"): 700,
        ("seller:s1:pending", "USD"): 250,
    }
    assert await store.ledger.balances("seller:s1") == {
        ("seller:s1:available", "USD"): 700,
        ("seller:s1:pending", "USD"): 250,
        ("seller:s10:pending", "EUR"): 90,
    }
    assert len(await store.ledger.balances("")) == 6
    assert await store.ledger.balances("x") == {}
    # Postings of one account add up.
    await store.ledger.post(transfer("tx:c", "seller:s1:available", "world", 200))
    assert await store.ledger.balance("seller:s1:available", "USD") == 500
    await assert_ledger_consistent(store)


async def test_duplicate_and_unbalanced_posts_are_refused(store: Store) -> None:
    tx = transfer("tx:a", "world", "platform:revenue", 100)
    await store.ledger.post(tx)
    with pytest.raises(DuplicateTransaction):
        await store.ledger.post(transfer("tx:a", "world", "platform:revenue", 999))
    assert await store.ledger.get("tx:a") == tx
    assert await store.ledger.balance("platform:revenue", "USD") == 100
    unbalanced = LedgerTransaction(
        id="tx:bad",
        kind="payment",
        postings=[
            Posting(account="world", currency="USD", amount=-100),
            Posting(account="platform:revenue", currency="EUR", amount=100),
        ],
        at=T0,
    )
    with pytest.raises(ValueError):
        await store.ledger.post(unbalanced)
    assert await store.ledger.get("tx:bad") is None
    assert await store.ledger.balance("platform:revenue", "EUR") == 0
    await assert_ledger_consistent(store)


async def test_transactions_walk_in_id_order(store: Store) -> None:
    names = [f"tx:{i:03d}" for i in (5, 1, 9, 3, 7, 2)]
    for name in names:
        await store.ledger.post(transfer(name, "world", "fees:paypal", 1))
    walked: list[str] = []
    after = None
    while True:
        page = await store.ledger.transactions(after=after, limit=4)
        walked += [tx.id for tx in page]
        if len(page) < 4:
            break
        after = page[-1].id
    assert walked == sorted(names)
    assert await store.ledger.transactions(after=None, limit=0) == []
    first = (await store.ledger.transactions(after=None, limit=1))[0]
    assert first == transfer("tx:001", "world", "fees:paypal", 1)
    await assert_ledger_consistent(store)


# ------------------------------------------------------------------- payouts


async def test_payout_reserves_the_amount(store: Store) -> None:
    await fund(store, "s1", 5000)
    payout = make_payout("s1", amount=1200)
    created, new = await store.payouts.create(
        payout, take_all=False, minimum=100, ledger_id="payout:p1:reserve"
    )
    assert new and created == payout
    assert await store.payouts.get(payout.id) == payout
    assert await store.ledger.balance(AVAILABLE, "USD") == 3800
    assert await store.ledger.balance(IN_PAYOUT, "USD") == 1200
    tx = await store.ledger.get("payout:p1:reserve")
    assert tx is not None and tx.payout_id == payout.id and tx.kind == "payout"
    # A retry returns the first payout and moves nothing.
    retry = msgspec.structs.replace(make_payout("s1", amount=50), client_key=payout.client_key)
    again, new = await store.payouts.create(
        retry, take_all=True, minimum=100, ledger_id="payout:p2:reserve"
    )
    assert not new and again == payout
    assert await store.payouts.get(retry.id) is None
    assert await store.ledger.get("payout:p2:reserve") is None
    assert await store.ledger.balance(AVAILABLE, "USD") == 3800
    await assert_ledger_consistent(store)


async def test_payout_take_all(store: Store) -> None:
    await fund(store, "s1", 2345)
    payout = make_payout("s1", amount=0)
    created, new = await store.payouts.create(payout, take_all=True, minimum=100, ledger_id="r1")
    assert new and created == msgspec.structs.replace(payout, amount=2345)
    assert await store.payouts.get(payout.id) == created
    assert await store.ledger.balance(AVAILABLE, "USD") == 0
    assert await store.ledger.balance(IN_PAYOUT, "USD") == 2345
    # Nothing left: take_all is below any minimum.
    with pytest.raises(InsufficientBalance):
        await store.payouts.create(make_payout("s1"), take_all=True, minimum=1, ledger_id="r2")
    await assert_ledger_consistent(store)


async def test_payout_refusals_change_nothing(store: Store) -> None:
    await fund(store, "s1", 1000)
    before = await store.ledger.balances("")
    attempts = [
        (make_payout("s1", amount=99), False, 100),  # below the minimum
        (make_payout("s1", amount=1001), False, 100),  # above available
        (make_payout("s2", amount=10), False, 1),  # s2 has nothing
        (make_payout("s2"), True, 1),  # take_all of nothing
    ]
    for n, (payout, take_all, minimum) in enumerate(attempts):
        with pytest.raises(InsufficientBalance):
            await store.payouts.create(
                payout, take_all=take_all, minimum=minimum, ledger_id=f"r{n}"
            )
        assert await store.payouts.get(payout.id) is None
        assert await store.ledger.get(f"r{n}") is None
    assert await store.ledger.balances("") == before
    exact = make_payout("s1", amount=1000)
    assert (await store.payouts.create(exact, take_all=False, minimum=100, ledger_id="ok"))[1]
    await assert_ledger_consistent(store)


async def test_concurrent_payouts_of_the_whole_balance(store: Store) -> None:
    await fund(store, "s1", 3000)
    results = await asyncio.gather(
        store.payouts.create(make_payout("s1", amount=3000), take_all=False, minimum=1,
                             ledger_id="ra"),
        store.payouts.create(make_payout("s1"), take_all=True, minimum=1, ledger_id="rb"),
        return_exceptions=True,
    )  # fmt: skip
    won = [r for r in results if isinstance(r, tuple)]
    assert len(won) == 1 and won[0][1] and won[0][0].amount == 3000
    assert [type(r) for r in results if not isinstance(r, tuple)] == [InsufficientBalance]
    assert await store.ledger.balance(AVAILABLE, "USD") == 0
    assert await store.ledger.balance(IN_PAYOUT, "USD") == 3000
    assert len(await store.payouts.list_by("s1", before=None, limit=10)) == 1
    await assert_ledger_consistent(store)


async def test_payout_update_is_compare_and_set_with_its_ledger(store: Store) -> None:
    await fund(store, "s1", 1000)
    payout, _ = await store.payouts.create(
        make_payout("s1", amount=800), take_all=False, minimum=1, ledger_id="r"
    )
    sent = msgspec.structs.replace(
        payout, status="sent", paypal_batch_id="B-1", paypal_item_id="I-1", updated_at=T0 + 1
    )
    assert await store.payouts.update(sent, expected_version=0)
    assert await store.payouts.get(payout.id) == msgspec.structs.replace(sent, version=1)
    assert await store.payouts.by_paypal_batch("B-1") == msgspec.structs.replace(sent, version=1)
    assert await store.payouts.by_paypal_batch("B-2") is None
    settled = market.payout_settled(
        payout_id=payout.id, seller_id="s1", currency="USD", amount=800, succeeded=True, at=T0 + 2
    )
    done = msgspec.structs.replace(sent, status="succeeded", updated_at=T0 + 2)
    assert not await store.payouts.update(done, expected_version=0, ledger=settled)
    assert await store.ledger.get(settled.id) is None
    assert await store.payouts.update(done, expected_version=1, ledger=settled)
    assert await store.ledger.balance(IN_PAYOUT, "USD") == 0
    assert await store.ledger.balance("world", "USD") == -200
    # The same transaction again: refused, the payout unchanged.
    again = msgspec.structs.replace(done, failure="x")
    with pytest.raises(DuplicateTransaction):
        await store.payouts.update(again, expected_version=2, ledger=settled)
    assert await store.payouts.get(payout.id) == msgspec.structs.replace(done, version=2)
    await assert_ledger_consistent(store)


async def test_payout_lists(store: Store) -> None:
    await fund(store, "s1", 10_000)
    await fund(store, "s2", 10_000)
    made: list[PayoutRecord] = []
    for i, seller in enumerate(["s1", "s1", "s2", "s1", "s1"]):
        payout, _ = await store.payouts.create(
            make_payout(seller, amount=100, at=T0 + i), take_all=False, minimum=1, ledger_id=f"r{i}"
        )
        made.append(payout)
    statuses = ["sent", "succeeded", "unclaimed", "failed", "requested"]
    for payout, status in zip(made, statuses, strict=True):
        assert await store.payouts.update(
            msgspec.structs.replace(payout, status=status), expected_version=0
        )
    mine = [p for p in made if p.seller_id == "s1"]
    walked: list[str] = []
    before = None
    while True:
        page = await store.payouts.list_by("s1", before=before, limit=3)
        walked += ids(page)
        if len(page) < 3:
            break
        before = (page[-1].created_at, page[-1].id)
    assert walked == [p.id for p in reversed(mine)]
    assert ids(await store.payouts.open(10)) == [made[0].id, made[2].id, made[4].id]
    assert ids(await store.payouts.open(1)) == [made[0].id]
    assert await store.payouts.open(0) == []
    await assert_ledger_consistent(store)


# -------------------------------------------------------------------- events


async def test_payment_events(store: Store) -> None:
    first = make_event("WH-1", at=T0)
    second = make_event("WH-2", at=T0 + 1)
    assert await store.payment_events.record(second)
    assert await store.payment_events.record(first)
    redelivery = msgspec.structs.replace(first, body=b"other", received_at=T0 + 5)
    assert not await store.payment_events.record(redelivery)
    assert await store.payment_events.get("WH-1") == first
    assert await store.payment_events.get("WH-none") is None
    assert [e.id for e in await store.payment_events.unapplied(10)] == ["WH-1", "WH-2"]
    assert [e.id for e in await store.payment_events.unapplied(1)] == ["WH-1"]
    await store.payment_events.mark_applied("WH-1", "applied", T0 + 9)
    applied = await store.payment_events.get("WH-1")
    assert applied == msgspec.structs.replace(first, applied_at=T0 + 9, outcome="applied")
    assert [e.id for e in await store.payment_events.unapplied(10)] == ["WH-2"]
    await store.payment_events.mark_applied("WH-none", "ignored", T0)  # no error
    assert await store.payment_events.unapplied(0) == []


# ---------------------------------------------------------------- chat tips


async def test_chat_line_tip_fields_round_trip(store: Store) -> None:
    plain = make_line("st1", at=T0)
    tip = msgspec.structs.replace(
        make_line("st1", "u2", at=T0 + 1, text="thanks!"),
        tip_amount=500,
        tip_currency="USD",
        tip_order_id="o1",
    )
    await store.stream_chat.append([plain, tip])
    assert await store.stream_chat.get(tip.id) == tip
    assert await store.stream_chat.get(plain.id) == plain
    assert await store.stream_chat.recent("st1", 10) == [plain, tip]
    assert await store.stream_chat.page("st1", after=None, limit=10) == [plain, tip]
