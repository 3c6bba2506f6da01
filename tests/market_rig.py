"""A node with payments against the fake PayPal of ``tests/fake_paypal.py``,
on each storage backend, and the helpers the marketplace suites share."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from actors.store.market import OrderRecord
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import market as m
from server.context import Caller
from server.market.worker import MarketWorker
from tests.fake_paypal import FakePayPal
from tests.harness import Node, events, next_id, open_node
from tests.store.backends import BACKENDS, backend_context
from tests.store.ledger_check import assert_ledger_consistent
from tests.test_notifications import settle


@dataclass
class Placed:
    """A seller's product and a buyer's order of it, waiting to be paid."""

    seller: Caller
    buyer: Caller
    product: m.ProductView
    order: m.OrderView
    record: OrderRecord
    paypal_order_id: str


@dataclass
class Rig:
    node: Node
    paypal: FakePayPal
    worker: MarketWorker

    async def product(self, seller: Caller, **fields: Any) -> m.ProductView:
        fields.setdefault("client_key", f"p{next_id()}")
        fields.setdefault("title", "Print")
        fields.setdefault("price", 2500)
        fields.setdefault("currency", "USD")
        return await self.node.send(seller, m.CreateProduct, **fields)  # type: ignore[no-any-return]

    async def order(self, buyer: Caller, product_id: str, **fields: Any) -> m.OrderView:
        fields.setdefault("client_key", f"o{next_id()}")
        return await self.node.send(  # type: ignore[no-any-return]
            buyer, m.CreateOrder, product_id=product_id, **fields
        )

    async def record(self, order_id: str) -> OrderRecord:
        record = await self.node.store.orders.get(order_id)
        assert record is not None
        return record

    async def placed(self, stock: int = 1) -> Placed:
        """Two new users, a product of the first, an order of it by the second."""
        seller, buyer = await self.node.user(), await self.node.user()
        product = await self.product(seller, stock=stock)
        order = await self.order(buyer, product.id)
        record = await self.record(order.id)
        assert record.paypal_order_id is not None
        return Placed(seller, buyer, product, order, record, record.paypal_order_id)

    async def pay(self, buyer: Caller, order: m.OrderView) -> m.OrderView:
        """The buyer approves on PayPal and comes back: the app captures."""
        record = await self.record(order.id)
        assert record.paypal_order_id is not None
        self.paypal.approve(record.paypal_order_id)
        return await self.node.send(buyer, m.CaptureOrder, order_id=order.id)  # type: ignore[no-any-return]

    async def balances(self, seller: Caller) -> dict[str, m.Balance]:
        reply = await self.node.send(seller, m.GetBalances)
        return {b.currency: b for b in reply.balances}

    async def settle(self) -> None:
        """Events and notices are tells: wait until the users' actors took them."""
        await settle(self.node)

    async def check(self) -> None:
        """The ledger's invariants, and nothing PayPal would have refused."""
        await assert_ledger_consistent(self.node.store)
        assert self.paypal.violations == []


@pytest.fixture(params=BACKENDS)
async def rig(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> AsyncIterator[Rig]:
    """A node without sockets, paying through the fake PayPal, on each
    backend; the ledger is checked after every test."""
    async with (
        FakePayPal() as paypal,
        backend_context(request.param, tmp_path) as backend,
    ):
        store = backend.new_store()
        await store.open()
        try:
            async with open_node(
                tmp_path, store=store, **paypal_settings(paypal, tmp_path)
            ) as node:
                rig = Rig(node, paypal, MarketWorker(node.services))
                yield rig
                await rig.check()
        finally:
            await store.close()


def paypal_settings(paypal: FakePayPal, folder: pathlib.Path, **overrides: Any) -> dict[str, Any]:
    ca_file = folder / "paypal-root.pem"
    ca_file.write_bytes(paypal.root_pem)
    settings: dict[str, Any] = {
        "paypal_client_id": paypal.client_id,
        "paypal_client_secret": paypal.client_secret,
        "paypal_webhook_id": paypal.webhook_id,
        "paypal_api_url": paypal.base_url,
        "paypal_ca_file": str(ca_file),
        "payout_hold": 3600.0,
        # The fake answers in milliseconds; a hung call is one the test made hang.
        "paypal_timeout": 1.0,
    }
    settings.update(overrides)
    return settings


async def refused(code: ErrorCode, call: Any) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        await call
    assert caught.value.code is code, caught.value
    return caught.value


def order_events(caller: Caller) -> list[m.OrderView]:
    return [e.order for e in events(caller) if isinstance(e, m.OrderUpdated)]


def states(caller: Caller, order_id: str) -> list[str]:
    return [o.state for o in order_events(caller) if o.id == order_id]
