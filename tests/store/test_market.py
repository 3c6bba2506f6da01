"""Contract of the marketplace's catalogue and orders (:mod:`actors.store.market`),
on both backends: products (idempotent create, edit, the seller's list,
search) and orders (stock reservation and its race, compare-and-set with its
ledger transaction and the stock it gives back, the lookups, lists and
sweeps). The ledger's invariants are checked after every test that posts
(:func:`tests.store.ledger_check.assert_ledger_consistent`)."""

from __future__ import annotations

import asyncio

import msgspec
import pytest

from actors import market
from actors.store import Store
from actors.store.market import (
    DuplicateTransaction,
    LedgerTransaction,
    OrderRecord,
    OutOfStock,
    ProductChanges,
    ProductRecord,
    ProductUnavailable,
)
from tests.store.backends import STANDIN_NO_TEXT, Backend
from tests.store.ledger_check import assert_ledger_consistent
from tests.store.market_records import make_order, make_product, transfer
from tests.store.records import T0


def ids(records: list[ProductRecord] | list[OrderRecord]) -> list[str]:
    return [r.id for r in records]


async def stock_of(store: Store, product_id: str) -> int | None:
    product = await store.products.get(product_id)
    assert product is not None
    return product.stock


def paid(order: OrderRecord, at: float = T0 + 10) -> tuple[OrderRecord, LedgerTransaction]:
    """The order paid with a capture (fees: 50 PayPal, 10% platform)."""
    return market.paid(
        order,
        capture_id=f"CAP-{order.id}",
        paypal_fee=50,
        fee_bps=1000,
        hold=3600,
        cause="capture",
        at=at,
    )


# ------------------------------------------------------------------ products


async def test_product_create_is_idempotent_on_client_key(store: Store) -> None:
    product = make_product(description="a blue mug")
    assert await store.products.create(product) == product
    assert await store.products.get(product.id) == product
    retry = msgspec.structs.replace(make_product(title="Other"), client_key=product.client_key)
    assert await store.products.create(retry) == product
    assert await store.products.get(retry.id) is None
    # The same key of another seller is another product.
    other = msgspec.structs.replace(retry, seller_id="s2")
    assert await store.products.create(other) == other
    assert await store.products.get("nope") is None


async def test_product_edit(store: Store) -> None:
    product = make_product(stock=5)
    await store.products.create(product)
    changes = ProductChanges(
        title="Big mug",
        description="now bigger",
        media_ids=[],
        media_urls=[],
        media_types=[],
        price=2000,
        stock=7,
        at=T0 + 1,
    )
    edited = await store.products.edit(product.id, changes)
    expected = msgspec.structs.replace(
        product,
        title="Big mug",
        description="now bigger",
        media_ids=[],
        media_urls=[],
        media_types=[],
        price=2000,
        stock=7,
        updated_at=T0 + 1,
    )
    assert edited == expected
    assert await store.products.get(product.id) == expected
    # None leaves a field; set_stock writes stock even when it is None.
    kept = await store.products.edit(product.id, ProductChanges(at=T0 + 2))
    assert kept == msgspec.structs.replace(expected, updated_at=T0 + 2)
    unlimited = await store.products.edit(product.id, ProductChanges(set_stock=True, at=T0 + 3))
    assert unlimited is not None and unlimited.stock is None
    assert await stock_of(store, product.id) is None
    paused = await store.products.edit(product.id, ProductChanges(status="paused", at=T0 + 4))
    assert paused is not None and paused.status == "paused"
    await store.products.edit(product.id, ProductChanges(status="deleted", at=T0 + 5))
    assert await store.products.edit(product.id, ProductChanges(title="x", at=T0 + 6)) is None
    deleted = await store.products.get(product.id)
    assert deleted is not None and deleted.status == "deleted" and deleted.title == "Big mug"
    assert await store.products.edit("nope", ProductChanges(title="x", at=T0)) is None


async def test_by_seller_pages_newest_first_and_filters(store: Store) -> None:
    made = [make_product("s1", at=T0 + i) for i in range(5)]
    made.append(make_product("s1", at=T0 + 2))  # a tie on created_at
    made.append(make_product("s2", at=T0 + 9))
    for product in made:
        await store.products.create(product)
    await store.products.edit(made[1].id, ProductChanges(status="paused", at=T0 + 10))
    await store.products.edit(made[3].id, ProductChanges(status="deleted", at=T0 + 10))
    mine = [p for p in made if p.seller_id == "s1" and p.id != made[3].id]
    newest = sorted(mine, key=lambda p: (p.created_at, p.id), reverse=True)
    pages: list[str] = []
    before = None
    while True:
        page = await store.products.by_seller("s1", include_paused=True, before=before, limit=2)
        pages += ids(page)
        if len(page) < 2:
            break
        before = (page[-1].created_at, page[-1].id)
    assert pages == ids(newest)
    active = await store.products.by_seller("s1", include_paused=False, before=None, limit=10)
    assert ids(active) == [p.id for p in newest if p.id != made[1].id]
    assert await store.products.by_seller("s1", include_paused=True, before=None, limit=0) == []


async def test_product_search(store: Store, backend: Backend) -> None:
    backend.skip_on_standin(STANDIN_NO_TEXT)
    mug = make_product(title="Ceramic mug", description="holds coffee", at=T0)
    cup = make_product(title="Coffee cup", description="coffee coffee", at=T0 + 1)
    tee = make_product(title="T-shirt", description="cotton", at=T0 + 2)
    twin = make_product(title="Coffee cup", description="coffee coffee", at=T0 + 3)
    paused = make_product(title="Coffee machine", status="paused", at=T0 + 4)
    deleted = make_product(title="Coffee grinder", at=T0 + 5)
    for product in (mug, cup, tee, twin, paused, deleted):
        await store.products.create(product)
    await store.products.edit(deleted.id, ProductChanges(status="deleted", at=T0 + 6))
    found = await store.products.search("COFFEE", offset=0, limit=10)
    # Best first (coffee in the title and thrice), ties newest first; active only.
    assert ids(found) == [twin.id, cup.id, mug.id]
    assert ids(await store.products.search("coffee", offset=1, limit=1)) == [cup.id]
    # Any word; punctuation and engine syntax are separators.
    assert set(ids(await store.products.search('cotton OR "mug', offset=0, limit=10))) == {
        tee.id,
        mug.id,
    }
    assert await store.products.search('"* NEAR( -', offset=0, limit=10) == []
    assert await store.products.search("", offset=0, limit=10) == []
    # An edit of the title moves the index.
    await store.products.edit(tee.id, ProductChanges(title="Coffee tee", at=T0 + 7))
    assert tee.id in ids(await store.products.search("coffee", offset=0, limit=10))
    assert await store.products.search("shirt", offset=0, limit=10) == []


# -------------------------------------------------------------------- create


async def test_create_reserves_stock_once(store: Store) -> None:
    product = make_product(stock=5)
    await store.products.create(product)
    order = make_order("b1", product, quantity=2)
    created, new = await store.orders.create(order)
    assert new and created == msgspec.structs.replace(order, stock_reserved=2)
    assert await store.orders.get(order.id) == created
    assert await stock_of(store, product.id) == 3
    retry = msgspec.structs.replace(make_order("b1", product, quantity=2), client_key="k")
    retry = msgspec.structs.replace(retry, client_key=order.client_key)
    again, new = await store.orders.create(retry)
    assert not new and again == created
    assert await store.orders.get(retry.id) is None
    assert await stock_of(store, product.id) == 3


async def test_create_refusals_change_nothing(store: Store) -> None:
    paused = make_product(status="paused", stock=5)
    deleted = make_product(stock=5)
    low = make_product(stock=2)
    for product in (paused, deleted, low):
        await store.products.create(product)
    await store.products.edit(deleted.id, ProductChanges(status="deleted", at=T0 + 1))
    for product in (paused, deleted):
        order = make_order("b1", product)
        with pytest.raises(ProductUnavailable):
            await store.orders.create(order)
        assert await store.orders.get(order.id) is None
        assert await stock_of(store, product.id) == 5
    ghost = msgspec.structs.replace(make_order("b1", low), product_id="nope")
    with pytest.raises(ProductUnavailable):
        await store.orders.create(ghost)
    greedy = make_order("b1", low, quantity=3)
    with pytest.raises(OutOfStock):
        await store.orders.create(greedy)
    assert await store.orders.get(greedy.id) is None
    assert await stock_of(store, low.id) == 2
    exact, _ = await store.orders.create(make_order("b1", low, quantity=2))
    assert exact.stock_reserved == 2 and await stock_of(store, low.id) == 0
    with pytest.raises(OutOfStock):
        await store.orders.create(make_order("b2", low))
    assert await stock_of(store, low.id) == 0


async def test_unlimited_stock_and_tips(store: Store) -> None:
    product = make_product(stock=None)
    await store.products.create(product)
    created, new = await store.orders.create(make_order("b1", product, quantity=1000))
    assert new and created.stock_reserved == 0
    assert await stock_of(store, product.id) is None
    tip = make_order("b1", seller="host", amount=500)
    created, new = await store.orders.create(tip)
    assert new and created == tip and created.product_id is None
    assert await store.orders.get(tip.id) == tip


async def test_concurrent_creates_never_oversell(store: Store) -> None:
    product = make_product(stock=10)
    await store.products.create(product)
    orders = [make_order(f"b{i}", product) for i in range(50)]
    results = await asyncio.gather(
        *(store.orders.create(o) for o in orders), return_exceptions=True
    )
    won = [r for r in results if isinstance(r, tuple)]
    lost = [r for r in results if not isinstance(r, tuple)]
    assert len(won) == 10 and all(new for _, new in won)
    assert len(lost) == 40 and all(isinstance(r, OutOfStock) for r in lost)
    assert await stock_of(store, product.id) == 0
    for won_order, _ in won:
        assert await store.orders.get(won_order.id) == won_order
    for order in orders:
        if order.id not in {o.id for o, _ in won}:
            assert await store.orders.get(order.id) is None


# -------------------------------------------------------------------- update


async def test_update_is_compare_and_set(store: Store) -> None:
    order, _ = await store.orders.create(make_order("b1", seller="s1"))
    approved = market.transition(order, market.APPROVED, "approve", T0 + 1)
    approved = msgspec.structs.replace(approved, paypal_order_id="PP-1")
    assert await store.orders.update(approved, expected_version=0)
    stored = await store.orders.get(order.id)
    assert stored == msgspec.structs.replace(approved, version=1)
    # A stale writer (it read version 0) changes nothing, ledger included.
    stale, tx = paid(order)
    assert not await store.orders.update(stale, expected_version=0, ledger=tx)
    assert await store.orders.get(order.id) == stored
    assert await store.ledger.get(tx.id) is None
    assert await store.ledger.balances("") == {}
    assert not await store.orders.update(approved, expected_version=7)
    ghost = make_order("b9")
    assert not await store.orders.update(ghost, expected_version=0)
    assert await store.orders.get(ghost.id) is None


async def test_update_posts_its_transaction_with_the_order(store: Store) -> None:
    order, _ = await store.orders.create(make_order("b1", seller="s1", amount=1000))
    moved, tx = paid(order)
    assert await store.orders.update(moved, expected_version=0, ledger=tx)
    stored = await store.orders.get(order.id)
    assert stored is not None and stored.state == market.PAID and stored.version == 1
    assert await store.ledger.get(tx.id) == tx
    pending = market.seller_account("s1", "pending")
    assert await store.ledger.balance(pending, "USD") == moved.seller_share == 850
    released, release_tx = market.released(stored, T0 + 4000)
    assert release_tx is not None
    assert await store.orders.update(released, expected_version=1, ledger=release_tx)
    assert await store.ledger.balance(pending, "USD") == 0
    available = market.seller_account("s1", "available")
    assert await store.ledger.balance(available, "USD") == 850
    await assert_ledger_consistent(store)


async def test_duplicate_transaction_refuses_the_whole_update(store: Store) -> None:
    order, _ = await store.orders.create(make_order("b1", seller="s1"))
    moved, tx = paid(order)
    await store.ledger.post(tx)
    before = await store.ledger.balances("")
    with pytest.raises(DuplicateTransaction):
        await store.orders.update(moved, expected_version=0, ledger=tx)
    assert await store.orders.get(order.id) == order
    assert await store.ledger.balances("") == before
    # The order is still writable at its version.
    cancelled = market.transition(order, market.CANCELLED, "buyer", T0 + 1)
    assert await store.orders.update(cancelled, expected_version=0)
    await assert_ledger_consistent(store)


async def test_unbalanced_update_is_refused(store: Store) -> None:
    order, _ = await store.orders.create(make_order("b1"))
    bad = transfer("bad", "world", "platform:revenue", 5)
    bad = msgspec.structs.replace(bad, postings=bad.postings[:1])
    with pytest.raises(ValueError):
        await store.orders.update(order, expected_version=0, ledger=bad)
    assert await store.orders.get(order.id) == order
    assert await store.ledger.get("bad") is None


async def test_update_releases_stock(store: Store) -> None:
    counted = make_product(stock=4)
    unlimited = make_product(stock=None)
    await store.products.create(counted)
    await store.products.create(unlimited)
    order, _ = await store.orders.create(make_order("b1", counted, quantity=3))
    assert await stock_of(store, counted.id) == 1
    expired = market.transition(order, market.EXPIRED, "sweep", T0 + 4000)
    expired = msgspec.structs.replace(expired, stock_reserved=0)
    # A stale write gives nothing back.
    assert not await store.orders.update(expired, expected_version=5, release_stock=3)
    assert await stock_of(store, counted.id) == 1
    assert await store.orders.update(expired, expected_version=0, release_stock=3)
    assert await stock_of(store, counted.id) == 4
    stored = await store.orders.get(order.id)
    assert stored is not None and stored.stock_reserved == 0 and stored.version == 1
    free, _ = await store.orders.create(make_order("b1", unlimited, quantity=2))
    gone = market.transition(free, market.CANCELLED, "buyer", T0 + 1)
    assert await store.orders.update(gone, expected_version=0, release_stock=2)
    assert await stock_of(store, unlimited.id) is None


# ------------------------------------------------------- lookups and lists


async def test_by_paypal_order_and_by_capture(store: Store) -> None:
    order, _ = await store.orders.create(make_order("b1"))
    other, _ = await store.orders.create(make_order("b2"))
    assert await store.orders.by_paypal_order("PP-1") is None
    with_pp = msgspec.structs.replace(order, paypal_order_id="PP-1", approval_url="https://pp/a")
    assert await store.orders.update(with_pp, expected_version=0)
    found = await store.orders.by_paypal_order("PP-1")
    assert found is not None and found.id == order.id and found.approval_url == "https://pp/a"
    moved, tx = paid(found)
    assert await store.orders.update(moved, expected_version=1, ledger=tx)
    captured = await store.orders.by_capture(f"CAP-{order.id}")
    assert captured is not None and captured.id == order.id and captured.version == 2
    assert await store.orders.by_capture("CAP-none") is None
    assert await store.orders.by_paypal_order(other.id) is None
    await assert_ledger_consistent(store)


async def test_list_by_buyer_and_seller(store: Store) -> None:
    made = [make_order("b1", seller=f"s{i % 2}", at=T0 + i) for i in range(5)]
    made.append(make_order("b1", seller="s0", at=T0 + 2))  # a tie on created_at
    made.append(make_order("b2", seller="s0", at=T0 + 3))
    for order in made:
        await store.orders.create(order)

    async def walk(user: str, role: str) -> list[str]:
        pages: list[str] = []
        before = None
        while True:
            page = await store.orders.list_by(user, role, before=before, limit=2)
            pages += ids(page)
            if len(page) < 2:
                return pages
            before = (page[-1].created_at, page[-1].id)

    def newest(orders: list[OrderRecord]) -> list[str]:
        return ids(sorted(orders, key=lambda o: (o.created_at, o.id), reverse=True))

    assert await walk("b1", "buyer") == newest([o for o in made if o.buyer_id == "b1"])
    assert await walk("s0", "seller") == newest([o for o in made if o.seller_id == "s0"])
    assert await walk("s1", "buyer") == []
    assert await store.orders.list_by("b1", "buyer", before=None, limit=0) == []


async def test_expiring_and_releasing(store: Store) -> None:
    due = make_order("b1", at=T0)  # expires T0 + 3600
    later = make_order("b2", at=T0 + 100)
    approved_due = make_order("b3", at=T0 + 10)
    paid_one = make_order("b4", at=T0 + 20)
    for order in (due, later, approved_due, paid_one):
        await store.orders.create(order)
    approved = market.transition(approved_due, market.APPROVED, "approve", T0 + 11)
    assert await store.orders.update(approved, expected_version=0)
    moved, tx = paid(paid_one, at=T0 + 30)  # release_at = T0 + 3630
    assert await store.orders.update(moved, expected_version=0, ledger=tx)
    expiring = await store.orders.expiring(T0 + 3650, 10)
    assert ids(expiring) == [due.id, approved_due.id]
    assert ids(await store.orders.expiring(T0 + 3650, 1)) == [due.id]
    assert await store.orders.expiring(T0, 10) == []
    assert len(await store.orders.expiring(T0 + 10_000, 10)) == 3
    assert ids(await store.orders.releasing(T0 + 3630, 10)) == [paid_one.id]
    assert await store.orders.releasing(T0 + 3629, 10) == []
    stored = await store.orders.get(paid_one.id)
    assert stored is not None
    released, release_tx = market.released(stored, T0 + 3700)
    assert await store.orders.update(released, expected_version=1, ledger=release_tx)
    assert await store.orders.releasing(T0 + 10_000, 10) == []
    await assert_ledger_consistent(store)
