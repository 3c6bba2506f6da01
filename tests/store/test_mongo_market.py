"""What is particular to the MongoDB marketplace stores: without transactions
their writes are ordered steps, so these tests stop a write between two
steps (a step that raises, as a crash would) and check what repair does:
the write is finished exactly once, or undone, and the ledger stays
consistent. Run against the stand-in, or a real server when
``GROVER_MONGO_URL`` is set."""

from __future__ import annotations

import asyncio
import inspect
import random
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import msgspec
import pytest

from actors import market
from actors.store.market import InsufficientBalance, LedgerTransaction, OrderRecord, OutOfStock
from server.storage.mongo import MongoStore
from server.storage.mongo.ledger import REPAIR_GRACE, LedgerWriter, MongoPayoutStore
from server.storage.mongo.market import MongoOrderStore
from tests.store.backends import Backend
from tests.store.ledger_check import assert_ledger_consistent
from tests.store.market_records import fund, make_order, make_payout, make_product, transfer
from tests.store.records import T0

AVAILABLE = market.seller_account("s1", "available")
IN_PAYOUT = market.seller_account("s1", "in_payout")


class Crash(Exception):
    """Stands for the process dying between two steps."""


@pytest.fixture
async def store(mongo: Backend) -> AsyncIterator[MongoStore]:
    opened = cast(MongoStore, mongo.new_store())
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def later() -> float:
    """A repair time past the grace of everything written so far."""
    return time.time() + REPAIR_GRACE + 1


def crash_on(monkeypatch: pytest.MonkeyPatch, target: object, name: str, after: int = 0) -> None:
    """Make ``target.name`` raise :class:`Crash` once it has run ``after`` times."""
    original = getattr(target, name)
    calls = {"n": 0}

    async def step(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] > after:
            raise Crash(name)
        return await original(*args, **kwargs)

    monkeypatch.setattr(target, name, step)


async def paid_order(store: MongoStore) -> tuple[OrderRecord, LedgerTransaction]:
    order, _ = await store.orders.create(make_order("b1", seller="s1", amount=1000))
    return market.paid(
        order, capture_id="CAP-1", paypal_fee=50, fee_bps=1000, hold=60, cause="c", at=T0 + 1
    )


async def test_order_update_stopped_before_its_transaction(
    store: MongoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved, tx = await paid_order(store)
    with monkeypatch.context() as patch:
        crash_on(patch, LedgerWriter, "insert")
        with pytest.raises(Crash):
            await store.orders.update(moved, expected_version=0, ledger=tx)
    stored = await store.orders.get(moved.id)
    assert stored is not None and stored.version == 1  # written, money not yet
    assert await store.ledger.get(tx.id) is None
    assert await store.repair(now=time.time()) == 0  # within the grace: left alone
    assert await store.repair(now=later()) >= 1
    assert await store.ledger.get(tx.id) == tx
    assert await store.ledger.balance(market.seller_account("s1", "pending"), "USD") == 850
    assert await store.repair(now=later()) == 0
    await assert_ledger_consistent(store)


async def test_next_update_finishes_a_stopped_one_first(
    store: MongoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved, tx = await paid_order(store)
    with monkeypatch.context() as patch:
        crash_on(patch, LedgerWriter, "apply")
        with pytest.raises(Crash):
            await store.orders.update(moved, expected_version=0, ledger=tx)
    stored = await store.orders.get(moved.id)
    assert stored is not None
    fulfilled = market.transition(stored, market.FULFILLED, "seller", T0 + 2)
    assert await store.orders.update(fulfilled, expected_version=1)
    assert await store.ledger.balance(market.seller_account("s1", "pending"), "USD") == 850
    await assert_ledger_consistent(store)


async def test_a_transaction_stopped_midway_is_applied_once(
    store: MongoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    moved, tx = await paid_order(store)
    with monkeypatch.context() as patch:
        crash_on(patch, LedgerWriter, "_move", after=2)  # two balances moved, then the crash
        with pytest.raises(Crash):
            await store.orders.update(moved, expected_version=0, ledger=tx)
    assert await store.repair(now=later()) >= 1
    assert await store.ledger.balance("world", "USD") == -1000
    assert await store.ledger.balance(market.seller_account("s1", "pending"), "USD") == 850
    # Running the steps again changes nothing.
    await store._writer.apply(tx.id)
    assert await store.ledger.balance("world", "USD") == -1000
    await assert_ledger_consistent(store)
    balances = await store.db["ledger_balances"].find({"txs.0": {"$exists": True}}).to_list()
    assert balances == []


class StopBeforeClearing:
    """A collection whose step "clear ``pending``" crashes (the others run)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def update_one(self, query: Any, update: Any, **kwargs: Any) -> Any:
        if update == {"$set": {"pending": None}}:
            raise Crash("clear pending")
        return await self.inner.update_one(query, update, **kwargs)


async def test_a_crash_after_giving_stock_back_gives_it_back_once(
    store: MongoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    product = make_product(stock=5)
    await store.products.create(product)
    order, _ = await store.orders.create(make_order("b1", product, quantity=2))
    expired = market.transition(order, market.EXPIRED, "sweep", T0 + 1)
    expired = msgspec.structs.replace(expired, stock_reserved=0)
    orders = cast(MongoOrderStore, store.orders)
    with monkeypatch.context() as patch:
        patch.setattr(orders, "_orders", StopBeforeClearing(orders._orders))
        with pytest.raises(Crash):
            await store.orders.update(expired, expected_version=0, release_stock=2)
    stored = await store.products.get(product.id)
    assert stored is not None and stored.stock == 5  # given back, pending still set
    assert await store.repair(now=later()) == 1
    stored = await store.products.get(product.id)
    assert stored is not None and stored.stock == 5
    doc = await store.db["products"].find_one({"_id": product.id})
    assert doc is not None and doc["released"] == []
    order_doc = await store.db["orders"].find_one({"_id": order.id})
    assert order_doc is not None and order_doc["pending"] is None


async def test_a_stale_release_token_is_pulled(store: MongoStore) -> None:
    product = make_product(stock=5)
    await store.products.create(product)
    order, _ = await store.orders.create(make_order("b1", product))
    # Step (5) never ran: the order's pending is cleared, its token is left.
    token = f"{order.id}:1"
    await store.db["products"].update_one({"_id": product.id}, {"$push": {"released": token}})
    assert await store.repair(now=later()) == 1
    doc = await store.db["products"].find_one({"_id": product.id})
    assert doc is not None and doc["released"] == [] and doc["stock"] == 4


async def test_a_reservation_without_its_order_is_given_back(store: MongoStore) -> None:
    product = make_product(stock=5)
    await store.products.create(product)
    lost = make_order("b1", product, quantity=3)
    orders = cast(MongoOrderStore, store.orders)
    assert await orders._reserve(lost) == 3  # the process dies before the insert
    kept = make_order("b2", product, quantity=1)
    assert await orders._reserve(kept) == 1
    await store.db["orders"].insert_one({"_id": kept.id, "pending": None})  # inserted, hold kept
    stored = await store.products.get(product.id)
    assert stored is not None and stored.stock == 1
    assert await store.repair(now=later()) == 2
    stored = await store.products.get(product.id)
    assert stored is not None and stored.stock == 4
    doc = await store.db["products"].find_one({"_id": product.id})
    assert doc is not None and doc["holds"] == []
    assert await store.repair(now=later()) == 0


async def test_a_payout_stopped_midway_is_finished_or_removed(
    store: MongoStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await fund(store, "s1", 1000)
    first, second = make_payout("s1", amount=600), make_payout("s1", amount=700)
    with monkeypatch.context() as patch:
        crash_on(patch, LedgerWriter, "apply")
        for payout, tx_id in ((first, "r1"), (second, "r2")):
            with pytest.raises(Crash):
                await store.payouts.create(payout, take_all=False, minimum=1, ledger_id=tx_id)
    assert await store.ledger.balance(AVAILABLE, "USD") == 1000  # nothing moved yet
    await store.repair(now=later())
    # The older one gets the money; the other cannot be funded any more.
    assert await store.payouts.get(first.id) == first
    assert await store.payouts.get(second.id) is None
    assert await store.ledger.get("r2") is None
    assert await store.ledger.balance(AVAILABLE, "USD") == 400
    assert await store.ledger.balance(IN_PAYOUT, "USD") == 600
    await assert_ledger_consistent(store)


async def test_a_guarded_debit_refuses_what_is_not_there(store: MongoStore) -> None:
    await fund(store, "s1", 100)
    writer = store._writer
    tx = transfer("t1", AVAILABLE, IN_PAYOUT, 150)
    await writer.insert({**msgspec.to_builtins(tx), "_id": "t1", "state": "new"}, replay=False)
    with pytest.raises(InsufficientBalance):
        await writer.apply("t1", guard=AVAILABLE)
    assert await store.ledger.balance(AVAILABLE, "USD") == 100
    assert await store.ledger.balance(IN_PAYOUT, "USD") == 0


class Interleaved:
    """A collection whose every operation first yields to the event loop a
    random number of times. The stand-in never suspends inside an operation,
    so without this concurrent port calls would run one after the other and
    a race test would prove nothing; with it their steps interleave."""

    def __init__(self, inner: Any, rng: random.Random) -> None:
        self.inner = inner
        self.rng = rng

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self.inner, name)
        if not inspect.iscoroutinefunction(attribute):
            return attribute

        async def operation(*args: Any, **kwargs: Any) -> Any:
            for _ in range(self.rng.randrange(4)):
                await asyncio.sleep(0)
            return await attribute(*args, **kwargs)

        return operation


def interleave(monkeypatch: pytest.MonkeyPatch, store: MongoStore, seed: int) -> None:
    rng = random.Random(seed)
    orders = cast(MongoOrderStore, store.orders)
    payouts = cast(MongoPayoutStore, store.payouts)
    for owner, name in (
        (orders, "_orders"),
        (orders, "_products"),
        (payouts, "_payouts"),
        (store._writer, "ledger"),
        (store._writer, "balances"),
    ):
        monkeypatch.setattr(owner, name, Interleaved(getattr(owner, name), rng))


@pytest.mark.parametrize("seed", range(5))
async def test_interleaved_creates_never_oversell(
    store: MongoStore, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    product = make_product(stock=10)
    await store.products.create(product)
    interleave(monkeypatch, store, seed)
    orders = [make_order(f"b{i}", product) for i in range(50)]
    # Every fifth buyer also retries at once with the same client key.
    retries = [msgspec.structs.replace(make_order(o.buyer_id, product), client_key=o.client_key)
               for o in orders[::5]]  # fmt: skip
    results = await asyncio.gather(
        *(store.orders.create(o) for o in orders + retries), return_exceptions=True
    )
    assert all(isinstance(r, (tuple, OutOfStock)) for r in results), results
    won = {r[0].id for r in results if isinstance(r, tuple)}
    stored = [o for o in orders + retries if await store.orders.get(o.id) is not None]
    assert len(won) == len(stored) == 10
    left = await store.products.get(product.id)
    assert left is not None and left.stock == 0
    doc = await store.db["products"].find_one({"_id": product.id})
    assert doc is not None and doc["holds"] == []


@pytest.mark.parametrize("seed", range(5))
async def test_interleaved_payouts_take_the_money_once(
    store: MongoStore, monkeypatch: pytest.MonkeyPatch, seed: int
) -> None:
    await fund(store, "s1", 3000)
    interleave(monkeypatch, store, seed)
    results = await asyncio.gather(
        *(
            store.payouts.create(make_payout("s1"), take_all=True, minimum=1, ledger_id=f"r{i}")
            for i in range(4)
        ),
        return_exceptions=True,
    )
    won = [r for r in results if isinstance(r, tuple)]
    assert len(won) == 1 and won[0][0].amount == 3000
    assert all(isinstance(r, InsufficientBalance) for r in results if not isinstance(r, tuple))
    assert await store.ledger.balance(AVAILABLE, "USD") == 0
    assert len(await store.payouts.list_by("s1", before=None, limit=10)) == 1
    await assert_ledger_consistent(store)
