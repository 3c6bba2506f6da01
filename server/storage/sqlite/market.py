"""SQLite stores of the marketplace's catalogue and orders
(:mod:`actors.store.market`) on ``products`` (with ``products_fts``) and
``orders`` (migration 10); the ledger, payouts and payment events are in
:mod:`server.storage.sqlite.ledger`.

Every port method is one write job, hence one transaction: an order's
insert and its stock reservation, or an order's compare-and-set, its ledger
transaction and the stock it gives back, commit together or not at all (a
refusal raised inside the job rolls its savepoint back). The single writer
thread runs jobs one after the other, so "check the stock, then take it"
inside a job cannot interleave with another order's.

Product search follows post search: engine queries only from
:func:`~server.storage.sqlite.accounts.fts_query` (each word quoted) and
bound parameters.
"""

from __future__ import annotations

import sqlite3
from typing import Final

import msgspec

from actors.market import check_balanced
from actors.store.market import (
    LedgerTransaction,
    OrderRecord,
    OutOfStock,
    ProductChanges,
    ProductRecord,
    ProductUnavailable,
    apply_changes,
)
from actors.store.social import PageKey
from server.storage.sqlite.accounts import fts_query
from server.storage.sqlite.database import SqliteDatabase
from server.storage.sqlite.ledger import (
    assignments_of,
    columns_of,
    from_row,
    placeholders_of,
    post_transaction,
    values_of,
)
from server.storage.sqlite.rows import conflicts, keyset, prefixed

__all__ = ["PRODUCT_SEARCH_SQL", "SqliteOrderStore", "SqliteProductStore"]

PRODUCT_COLUMNS: Final = columns_of(ProductRecord)
_PRODUCT_PLACEHOLDERS: Final = placeholders_of(ProductRecord)
_PRODUCT_ASSIGNMENTS: Final = assignments_of(ProductRecord)
_PRODUCT_LISTS: Final = ("media_ids", "media_urls", "media_types")

#: Active matches, best (bm25: lower is better) first, ties newest first;
#: paged by position (a rank is no stable key).
PRODUCT_SEARCH_SQL: Final = (
    f"SELECT {prefixed(PRODUCT_COLUMNS, 'p')} FROM (SELECT rowid AS seq,"
    " bm25(products_fts) AS score FROM products_fts WHERE products_fts MATCH :match) AS m"
    " JOIN products AS p ON p.seq = m.seq WHERE p.status = 'active'"
    " ORDER BY m.score, p.created_at DESC, p.id DESC LIMIT :limit OFFSET :offset"
)

ORDER_COLUMNS: Final = columns_of(OrderRecord)
_ORDER_PLACEHOLDERS: Final = placeholders_of(OrderRecord)
_ORDER_ASSIGNMENTS: Final = assignments_of(OrderRecord)
_ORDER_LISTS: Final = ("refund_ids", "history")
#: ``list_by``'s index per role.
_ROLE_COLUMN: Final = {"buyer": "buyer_id", "seller": "seller_id"}


def _to_product(row: sqlite3.Row) -> ProductRecord:
    return from_row(ProductRecord, row, _PRODUCT_LISTS)


def _to_order(row: sqlite3.Row) -> OrderRecord:
    return from_row(OrderRecord, row, _ORDER_LISTS)


def _product(conn: sqlite3.Connection, product_id: str) -> ProductRecord | None:
    row = conn.execute(
        f"SELECT {PRODUCT_COLUMNS} FROM products WHERE id = ?", (product_id,)
    ).fetchone()
    return None if row is None else _to_product(row)


class SqliteProductStore:
    """:class:`actors.store.market.ProductStore` on ``products`` and ``products_fts``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, product: ProductRecord) -> ProductRecord:
        """Insert, or the seller's row of the same client key (one job, so a
        concurrent retry cannot insert twice)."""
        values = values_of(product, _PRODUCT_LISTS)

        def job(conn: sqlite3.Connection) -> ProductRecord:
            row = conn.execute(
                f"SELECT {PRODUCT_COLUMNS} FROM products WHERE seller_id = ? AND client_key = ?",
                (product.seller_id, product.client_key),
            ).fetchone()
            if row is not None:
                return _to_product(row)
            with conflicts():
                conn.execute(
                    f"INSERT INTO products ({PRODUCT_COLUMNS}) VALUES ({_PRODUCT_PLACEHOLDERS})",
                    values,
                )
            return product

        return await self._db.write(job)

    async def get(self, product_id: str) -> ProductRecord | None:
        return await self._db.read(lambda conn: _product(conn, product_id))

    async def edit(self, product_id: str, changes: ProductChanges) -> ProductRecord | None:
        """Read, apply, rewrite in one job (the FTS trigger follows title and
        description)."""

        def job(conn: sqlite3.Connection) -> ProductRecord | None:
            product = _product(conn, product_id)
            if product is None or product.status == "deleted":
                return None
            edited = apply_changes(product, changes)
            conn.execute(
                f"UPDATE products SET {_PRODUCT_ASSIGNMENTS} WHERE id = ?",
                [*values_of(edited, _PRODUCT_LISTS)[1:], product_id],
            )
            return edited

        return await self._db.write(job)

    async def by_seller(
        self, seller_id: str, *, include_paused: bool, before: PageKey | None, limit: int
    ) -> list[ProductRecord]:
        """A backward range of ``products_by_seller``, filtered by status."""
        if limit <= 0:
            return []
        clause, args = keyset("created_at, id", before, "<")
        statuses = "('active', 'paused')" if include_paused else "('active')"
        sql = (
            f"SELECT {PRODUCT_COLUMNS} FROM products WHERE seller_id = :seller"
            f" AND status IN {statuses}{clause} ORDER BY created_at DESC, id DESC LIMIT :limit"
        )
        args |= {"seller": seller_id, "limit": limit}
        return await self._db.read(
            lambda conn: [_to_product(row) for row in conn.execute(sql, args)]
        )

    async def search(self, query: str, *, offset: int, limit: int) -> list[ProductRecord]:
        """:data:`PRODUCT_SEARCH_SQL`; nothing for a query without a word."""
        match = fts_query(query)
        if match is None or limit <= 0:
            return []
        args = {"match": match, "limit": limit, "offset": max(offset, 0)}
        return await self._db.read(
            lambda conn: [_to_product(row) for row in conn.execute(PRODUCT_SEARCH_SQL, args)]
        )


class SqliteOrderStore:
    """:class:`actors.store.market.OrderStore` on ``orders``, ``products``
    (stock) and the ledger tables."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, order: OrderRecord) -> tuple[OrderRecord, bool]:
        """One job: the retry check, the product's status and stock, the
        decrement and the insert."""

        def job(conn: sqlite3.Connection) -> tuple[OrderRecord, bool]:
            row = conn.execute(
                f"SELECT {ORDER_COLUMNS} FROM orders WHERE buyer_id = ? AND client_key = ?",
                (order.buyer_id, order.client_key),
            ).fetchone()
            if row is not None:
                return _to_order(row), False
            created = msgspec.structs.replace(order, stock_reserved=0)
            if order.kind == "product":
                product = None if order.product_id is None else _product(conn, order.product_id)
                if product is None or product.status != "active":
                    raise ProductUnavailable(order.product_id or "")
                if product.stock is not None:
                    if product.stock < order.quantity:
                        raise OutOfStock(product.id)
                    conn.execute(
                        "UPDATE products SET stock = stock - ? WHERE id = ?",
                        (order.quantity, product.id),
                    )
                    created = msgspec.structs.replace(order, stock_reserved=order.quantity)
            with conflicts():
                conn.execute(
                    f"INSERT INTO orders ({ORDER_COLUMNS}) VALUES ({_ORDER_PLACEHOLDERS})",
                    values_of(created, _ORDER_LISTS),
                )
            return created, True

        return await self._db.write(job)

    async def get(self, order_id: str) -> OrderRecord | None:
        return await self._one("id = ?", order_id)

    async def by_paypal_order(self, paypal_order_id: str) -> OrderRecord | None:
        return await self._one("paypal_order_id = ?", paypal_order_id)

    async def by_capture(self, capture_id: str) -> OrderRecord | None:
        return await self._one("capture_id = ?", capture_id)

    async def _one(self, where: str, value: str) -> OrderRecord | None:
        def job(conn: sqlite3.Connection) -> OrderRecord | None:
            row = conn.execute(
                f"SELECT {ORDER_COLUMNS} FROM orders WHERE {where} LIMIT 1", (value,)
            ).fetchone()
            return None if row is None else _to_order(row)

        return await self._db.read(job)

    async def update(
        self,
        order: OrderRecord,
        *,
        expected_version: int,
        ledger: LedgerTransaction | None = None,
        release_stock: int = 0,
    ) -> bool:
        """Compare-and-set, the transaction and the stock in one job; a
        product without a stock count (unlimited) takes nothing back."""
        if ledger is not None:
            check_balanced(ledger.postings)
        written = msgspec.structs.replace(order, version=expected_version + 1)
        values = [*values_of(written, _ORDER_LISTS)[1:], order.id, expected_version]

        def job(conn: sqlite3.Connection) -> bool:
            changed = conn.execute(
                f"UPDATE orders SET {_ORDER_ASSIGNMENTS} WHERE id = ? AND version = ?", values
            ).rowcount
            if not changed:
                return False
            if ledger is not None:
                post_transaction(conn, ledger)
            if release_stock > 0 and order.product_id is not None:
                conn.execute(
                    "UPDATE products SET stock = stock + ? WHERE id = ? AND stock IS NOT NULL",
                    (release_stock, order.product_id),
                )
            return True

        return await self._db.write(job)

    async def list_by(
        self, user_id: str, role: str, *, before: PageKey | None, limit: int
    ) -> list[OrderRecord]:
        """A backward range of ``orders_by_buyer`` or ``orders_by_seller``."""
        column = _ROLE_COLUMN.get(role)
        if column is None:
            raise ValueError(f"role {role!r}: 'buyer' or 'seller'")
        if limit <= 0:
            return []
        clause, args = keyset("created_at, id", before, "<")
        sql = (
            f"SELECT {ORDER_COLUMNS} FROM orders WHERE {column} = :user{clause}"
            " ORDER BY created_at DESC, id DESC LIMIT :limit"
        )
        args |= {"user": user_id, "limit": limit}
        return await self._db.read(lambda conn: [_to_order(row) for row in conn.execute(sql, args)])

    async def expiring(self, now: float, limit: int) -> list[OrderRecord]:
        """A range of the partial index ``orders_expiring``, oldest deadline first."""
        return await self._sweep(
            "state IN ('created', 'approved') AND expires_at <= ? ORDER BY expires_at, id",
            now,
            limit,
        )

    async def releasing(self, now: float, limit: int) -> list[OrderRecord]:
        """A range of the partial index ``orders_releasing``, soonest due first."""
        return await self._sweep(
            "release_at IS NOT NULL AND release_at <= ? ORDER BY release_at, id", now, limit
        )

    async def _sweep(self, where: str, now: float, limit: int) -> list[OrderRecord]:
        if limit <= 0:
            return []
        sql = f"SELECT {ORDER_COLUMNS} FROM orders WHERE {where} LIMIT ?"
        return await self._db.read(
            lambda conn: [_to_order(row) for row in conn.execute(sql, (now, limit))]
        )
