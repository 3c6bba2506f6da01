"""MongoDB stores of the marketplace's catalogue and orders
(:mod:`actors.store.market`) on ``products`` and ``orders``; the ledger's
steps are :class:`~server.storage.mongo.ledger.LedgerWriter`'s.

Without multi-document transactions, each port method is an ordered
sequence of single-document atomic writes, each safe to run again; what a
crash between two of them leaves, and how :meth:`MongoOrderStore.repair`
(run by :meth:`~server.storage.mongo.MongoStore.open`, on what is older than
:data:`~server.storage.mongo.ledger.REPAIR_GRACE`) puts it right:

**Order create.** (1) An order of this buyer and client key is the answer.
(2) For a product with a stock count, one ``find_one_and_update`` on the
product guarded by ``status: "active"`` and ``stock >= quantity`` takes the
items and records a *hold* ``{order, n, at}`` in the product (guarded by
``holds.order $nin``, so it happens once); no match is
:class:`ProductUnavailable` or :class:`OutOfStock` and nothing changed.
(3) The order is inserted; a duplicate client key (a concurrent retry won)
gives the items back with the hold and answers the other order. (4) The
hold is pulled. *Crash after (2)*: a hold whose order does not exist: repair
gives its items back; a hold whose order exists: repair pulls it.

**Order update.** (0) A known ledger transaction id raises
:class:`DuplicateTransaction` before anything is written. (1) A
compare-and-set on ``version`` writes the order with ``pending: {tx,
release, product_id, since}`` (:func:`~server.storage.mongo.ledger.cas_write`).
(2) The transaction is inserted and applied (the ledger's own steps).
(3) The released items go back to the product with a ``$inc`` guarded by a
token ``<order id>:<version>`` in the product's ``released`` list.
(4) ``pending`` is cleared. (5) The token is pulled. *Crash after (1)*: an
order with a ``pending``: repair (or the next update of that order, which
finds it at its expected version) runs (2) to (5) again; each is a no-op when
done. *Crash after (4)*: a stale token in ``released``: repair pulls it.

Between the steps a reader may see the order written and its transaction
not yet (or partly) applied; the consistency the port promises holds once
the sequence (or its repair) has finished.
"""

from __future__ import annotations

import time
from typing import Final

import msgspec
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from actors.store import Conflict
from actors.store.market import (
    LedgerTransaction,
    OrderRecord,
    OutOfStock,
    ProductChanges,
    ProductRecord,
    ProductUnavailable,
    apply_changes,
)
from actors.store.search import query_words
from actors.store.social import PageKey
from server.storage.mongo.documents import Document, keyset, to_record
from server.storage.mongo.ledger import LedgerWriter, cas_write, deep_document

__all__ = ["MongoOrderStore", "MongoProductStore"]

_NEWEST_FIRST: Final = [("created_at", DESCENDING), ("_id", DESCENDING)]
_ROLE_FIELD: Final = {"buyer": "buyer_id", "seller": "seller_id"}


def _to_product(doc: Document) -> ProductRecord:
    return to_record(ProductRecord, doc)


def _to_order(doc: Document) -> OrderRecord:
    return to_record(OrderRecord, doc)


class MongoProductStore:
    """:class:`actors.store.market.ProductStore` on ``products`` (``_id`` =
    product id; unique on ``(seller_id, client_key)``; a text index over
    title and description)."""

    def __init__(self, products: AsyncCollection[Document]) -> None:
        self._products = products

    async def create(self, product: ProductRecord) -> ProductRecord:
        """Insert; a duplicate client key (a retry, maybe concurrent) answers
        the stored product."""
        existing = await self._by_client_key(product)
        if existing is not None:
            return existing
        try:
            await self._products.insert_one(deep_document(product))
        except DuplicateKeyError as exc:
            existing = await self._by_client_key(product)
            if existing is not None:
                return existing
            raise Conflict("id") from exc
        return product

    async def _by_client_key(self, product: ProductRecord) -> ProductRecord | None:
        doc = await self._products.find_one(
            {"seller_id": product.seller_id, "client_key": product.client_key}
        )
        return None if doc is None else _to_product(doc)

    async def get(self, product_id: str) -> ProductRecord | None:
        doc = await self._products.find_one({"_id": product_id})
        return None if doc is None else _to_product(doc)

    async def edit(self, product_id: str, changes: ProductChanges) -> ProductRecord | None:
        """``$set`` of the changed fields only, so that a concurrent stock
        reservation (a ``$inc``) is not overwritten unless the edit sets the
        stock itself."""
        current = await self.get(product_id)
        if current is None or current.status == "deleted":
            return None
        edited = apply_changes(current, changes)
        fields = {
            name: getattr(edited, name)
            for name in ProductRecord.__struct_fields__
            if getattr(edited, name) != getattr(current, name)
        }
        fields["updated_at"] = changes.at
        doc = await self._products.find_one_and_update(
            {"_id": product_id, "status": {"$ne": "deleted"}},
            {"$set": fields},
            return_document=True,
        )
        return None if doc is None else _to_product(doc)

    async def by_seller(
        self, seller_id: str, *, include_paused: bool, before: PageKey | None, limit: int
    ) -> list[ProductRecord]:
        if limit <= 0:
            return []
        statuses = ["active", "paused"] if include_paused else ["active"]
        cursor = (
            self._products.find(
                {
                    "seller_id": seller_id,
                    "status": {"$in": statuses},
                    **keyset(before, "_id", newest_first=True),
                }
            )
            .sort(_NEWEST_FIRST)
            .limit(limit)
        )
        return [_to_product(doc) async for doc in cursor]

    async def search(self, query: str, *, offset: int, limit: int) -> list[ProductRecord]:
        """``$text`` over title and description (any word), best score first,
        ties newest first. Built only from
        :func:`~actors.store.search.query_words`, as post search."""
        words = query_words(query)
        if not words or limit <= 0:
            return []
        pipeline: list[Document] = [
            {"$match": {"$text": {"$search": " ".join(words)}, "status": "active"}},
            {"$addFields": {"score": {"$meta": "textScore"}}},
            {"$sort": {"score": -1, "created_at": -1, "_id": -1}},
            {"$skip": max(offset, 0)},
            {"$limit": limit},
        ]
        cursor = await self._products.aggregate(pipeline)
        return [_to_product(doc) async for doc in cursor]


class MongoOrderStore:
    """:class:`actors.store.market.OrderStore` on ``orders`` (``_id`` = order
    id), ``products`` (stock) and the ledger; the steps are the module's."""

    def __init__(
        self,
        orders: AsyncCollection[Document],
        products: AsyncCollection[Document],
        writer: LedgerWriter,
    ) -> None:
        self._orders = orders
        self._products = products
        self._writer = writer

    async def create(self, order: OrderRecord) -> tuple[OrderRecord, bool]:
        existing = await self._by_client_key(order)
        if existing is not None:
            return existing, False
        reserved = 0
        if order.kind == "product":
            reserved = await self._reserve(order)
        created = msgspec.structs.replace(order, stock_reserved=reserved)
        try:
            await self._orders.insert_one({**deep_document(created), "pending": None})
        except DuplicateKeyError as exc:
            await self._give_back(order)
            existing = await self._by_client_key(order)
            if existing is not None:
                return existing, False
            raise Conflict("id") from exc
        if reserved:
            await self._products.update_one(
                {"_id": order.product_id}, {"$pull": {"holds": {"order": order.id}}}
            )
        return created, True

    async def _reserve(self, order: OrderRecord) -> int:
        """Step (2): the items taken (0 for an unlimited product)."""
        if order.product_id is None:
            raise ProductUnavailable("")
        hold = {"order": order.id, "n": order.quantity, "at": time.time()}
        taken = await self._products.find_one_and_update(
            {
                "_id": order.product_id,
                "status": "active",
                "stock": {"$gte": order.quantity},
                "holds.order": {"$nin": [order.id]},
            },
            {"$inc": {"stock": -order.quantity}, "$push": {"holds": hold}},
            projection={"_id": 1},
        )
        if taken is not None:
            return order.quantity
        product = await self._products.find_one(
            {"_id": order.product_id}, {"status": 1, "stock": 1}
        )
        if product is None or product.get("status") != "active":
            raise ProductUnavailable(order.product_id)
        if product.get("stock") is None:
            return 0
        raise OutOfStock(order.product_id)

    async def _give_back(self, order: OrderRecord) -> None:
        """Undo step (2) for an order that was not inserted: once, with the hold."""
        if order.product_id is None:
            return
        await self._products.update_one(
            {"_id": order.product_id, "holds.order": order.id},
            {"$inc": {"stock": order.quantity}, "$pull": {"holds": {"order": order.id}}},
        )

    async def _by_client_key(self, order: OrderRecord) -> OrderRecord | None:
        doc = await self._orders.find_one(
            {"buyer_id": order.buyer_id, "client_key": order.client_key}
        )
        return None if doc is None else _to_order(doc)

    async def get(self, order_id: str) -> OrderRecord | None:
        return await self._one({"_id": order_id})

    async def by_paypal_order(self, paypal_order_id: str) -> OrderRecord | None:
        return await self._one({"paypal_order_id": paypal_order_id})

    async def by_capture(self, capture_id: str) -> OrderRecord | None:
        return await self._one({"capture_id": capture_id})

    async def _one(self, query: Document) -> OrderRecord | None:
        doc = await self._orders.find_one(query)
        return None if doc is None else _to_order(doc)

    async def update(
        self,
        order: OrderRecord,
        *,
        expected_version: int,
        ledger: LedgerTransaction | None = None,
        release_stock: int = 0,
    ) -> bool:
        """Steps (0) to (5) of the module docstring."""
        pending: Document | None = None
        tx = None if ledger is None else await self._writer.pending_tx(ledger)
        if tx is not None or (release_stock > 0 and order.product_id is not None):
            pending = {
                "tx": tx,
                "release": release_stock,
                "product_id": order.product_id,
                "since": time.time(),
            }
        return await cas_write(
            self._orders,
            order,
            expected_version=expected_version,
            pending=pending,
            finish=self._finish,
        )

    async def _finish(self, doc: Document) -> None:
        """Steps (2) to (5) for an order written with ``doc["pending"]``."""
        pending: Document = doc["pending"]
        tx: Document | None = pending.get("tx")
        if tx is not None:
            await self._writer.insert(tx, replay=True)
            await self._writer.apply(tx["_id"])
        product_id, release = pending.get("product_id"), int(pending.get("release") or 0)
        token = f"{doc['_id']}:{doc['version']}"
        if release > 0 and product_id is not None:
            await self._products.update_one(
                {"_id": product_id, "stock": {"$type": "number"}, "released": {"$nin": [token]}},
                {"$inc": {"stock": release}, "$push": {"released": token}},
            )
        await self._orders.update_one(
            {"_id": doc["_id"], "version": doc["version"]}, {"$set": {"pending": None}}
        )
        if release > 0 and product_id is not None:
            await self._products.update_one({"_id": product_id}, {"$pull": {"released": token}})

    async def _settle_hold(self, product_id: str, hold: Document) -> None:
        """A stale hold: its items go back if its order was never inserted;
        either way the hold is pulled."""
        pull = {"$pull": {"holds": {"order": hold["order"]}}}
        if await self._orders.find_one({"_id": hold["order"]}, {"_id": 1}) is None:
            await self._products.update_one(
                {"_id": product_id, "holds.order": hold["order"]},
                {"$inc": {"stock": hold["n"]}, **pull},
            )
        else:
            await self._products.update_one({"_id": product_id}, pull)

    async def list_by(
        self, user_id: str, role: str, *, before: PageKey | None, limit: int
    ) -> list[OrderRecord]:
        field = _ROLE_FIELD.get(role)
        if field is None:
            raise ValueError(f"role {role!r}: 'buyer' or 'seller'")
        if limit <= 0:
            return []
        cursor = (
            self._orders.find({field: user_id, **keyset(before, "_id", newest_first=True)})
            .sort(_NEWEST_FIRST)
            .limit(limit)
        )
        return [_to_order(doc) async for doc in cursor]

    async def expiring(self, now: float, limit: int) -> list[OrderRecord]:
        return await self._sweep(
            {"state": {"$in": ["created", "approved"]}, "expires_at": {"$lte": now}},
            "expires_at",
            limit,
        )

    async def releasing(self, now: float, limit: int) -> list[OrderRecord]:
        return await self._sweep({"release_at": {"$lte": now}}, "release_at", limit)

    async def _sweep(self, query: Document, field: str, limit: int) -> list[OrderRecord]:
        if limit <= 0:
            return []
        cursor = self._orders.find(query).sort([(field, ASCENDING), ("_id", ASCENDING)])
        return [_to_order(doc) async for doc in cursor.limit(limit)]

    async def repair(self, before: float) -> int:
        """Finish the orders left with a ``pending``, settle the holds and
        pull the stale release tokens, of what was written before ``before``
        (wall clock). Returns how many things it touched."""
        touched = 0
        async for doc in self._orders.find({"pending.since": {"$lt": before}}):
            await self._finish(doc)
            touched += 1
        products = self._products.find({"holds.at": {"$lt": before}}, {"holds": 1})
        async for product in products:
            for hold in product["holds"]:
                if hold["at"] < before:
                    touched += 1
                    await self._settle_hold(product["_id"], hold)
        async for product in self._products.find({"released": {"$type": "string"}}):
            for token in product["released"]:
                order_id, _, version = token.rpartition(":")
                order = await self._orders.find_one({"_id": order_id}, {"version": 1, "pending": 1})
                if order is None or order.get("version") != int(version) or not order["pending"]:
                    touched += 1
                    await self._products.update_one(
                        {"_id": product["_id"]}, {"$pull": {"released": token}}
                    )
        return touched
