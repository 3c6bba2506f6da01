"""SQLite stores of the marketplace's money (:mod:`actors.store.market`): the
ledger (``ledger_transactions``, ``ledger_postings`` and the kept
``ledger_balances``), payouts and the payment provider's events (migration 10).

:func:`post_transaction` is the one way a transaction is written: inside a
write job, it inserts the transaction (its id is the primary key: a known id
is :class:`~actors.store.market.DuplicateTransaction`), its postings, and
adds each posting to its account's balance row. Callers run it in the same
job as the record it goes with (an order, a payout), so the job's savepoint
makes the pair one transaction: a refusal leaves neither.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Final, TypeVar

import msgspec

from actors.market import check_balanced, payout_reserve, seller_account
from actors.store.market import (
    DuplicateTransaction,
    InsufficientBalance,
    LedgerTransaction,
    PaymentEventRecord,
    PayoutRecord,
    Posting,
)
from actors.store.social import PageKey
from server.storage.sqlite.accounts import prefix_upper_bound
from server.storage.sqlite.database import SqliteDatabase
from server.storage.sqlite.rows import conflicts, keyset

__all__ = [
    "SqliteLedgerStore",
    "SqlitePaymentEventStore",
    "SqlitePayoutStore",
    "assignments_of",
    "columns_of",
    "from_row",
    "placeholders_of",
    "post_transaction",
    "values_of",
]

_RecordT = TypeVar("_RecordT", bound=msgspec.Struct)


def columns_of(cls: type[msgspec.Struct]) -> str:
    """Every field of ``cls`` as a column list (the tables name them alike)."""
    return ", ".join(cls.__struct_fields__)


def placeholders_of(cls: type[msgspec.Struct]) -> str:
    """One ``?`` per column of :func:`columns_of`, for an ``INSERT``."""
    return ", ".join("?" for _ in cls.__struct_fields__)


def assignments_of(cls: type[msgspec.Struct]) -> str:
    """``name = ?`` for every column but ``id`` (the first), for an ``UPDATE``
    by id with ``values_of(...)[1:]``."""
    return ", ".join(f"{name} = ?" for name in cls.__struct_fields__ if name != "id")


def values_of(record: msgspec.Struct, json_fields: tuple[str, ...] = ()) -> list[Any]:
    """The values of :func:`columns_of`, in order; ``json_fields`` (lists,
    lists of structs) as JSON text."""
    return [
        msgspec.json.encode(value).decode() if name in json_fields else value
        for name, value in zip(
            type(record).__struct_fields__, msgspec.structs.astuple(record), strict=True
        )
    ]


def from_row(cls: type[_RecordT], row: sqlite3.Row, json_fields: tuple[str, ...] = ()) -> _RecordT:
    """The record ``cls`` from a row of :func:`columns_of` (JSON fields decoded)."""
    fields = {name: row[name] for name in cls.__struct_fields__}
    for name in json_fields:
        fields[name] = msgspec.json.decode(fields[name])
    return msgspec.convert(fields, cls, strict=False)


# ------------------------------------------------------------------- ledger


def post_transaction(conn: sqlite3.Connection, tx: LedgerTransaction) -> None:
    """Inside a write job: insert ``tx`` and its postings and move the kept
    balances. :class:`DuplicateTransaction` for a known id (raise out of the
    job so that its savepoint drops what the job wrote before). The caller
    has checked the postings balance (:func:`actors.market.check_balanced`)."""
    inserted = conn.execute(
        "INSERT INTO ledger_transactions (id, kind, order_id, payout_id, at)"
        " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (tx.id, tx.kind, tx.order_id, tx.payout_id, tx.at),
    ).rowcount
    if not inserted:
        raise DuplicateTransaction(tx.id)
    conn.executemany(
        "INSERT INTO ledger_postings (tx_id, n, account, currency, amount) VALUES (?, ?, ?, ?, ?)",
        [(tx.id, n, p.account, p.currency, p.amount) for n, p in enumerate(tx.postings)],
    )
    conn.executemany(
        "INSERT INTO ledger_balances (account, currency, balance) VALUES (?, ?, ?)"
        " ON CONFLICT (account, currency) DO UPDATE SET balance = balance + excluded.balance",
        [(p.account, p.currency, p.amount) for p in tx.postings],
    )


def balance_of(conn: sqlite3.Connection, account: str, currency: str) -> int:
    row = conn.execute(
        "SELECT balance FROM ledger_balances WHERE account = ? AND currency = ?",
        (account, currency),
    ).fetchone()
    return 0 if row is None else int(row[0])


def _transactions(conn: sqlite3.Connection, rows: list[sqlite3.Row]) -> list[LedgerTransaction]:
    """The transactions of ``rows`` with their postings (one statement)."""
    if not rows:
        return []
    ids = msgspec.json.encode([row["id"] for row in rows]).decode()
    postings: dict[str, list[Posting]] = {row["id"]: [] for row in rows}
    for tx_id, account, currency, amount in conn.execute(
        "SELECT tx_id, account, currency, amount FROM ledger_postings"
        " WHERE tx_id IN (SELECT value FROM json_each(?)) ORDER BY tx_id, n",
        (ids,),
    ):
        postings[tx_id].append(Posting(account=account, currency=currency, amount=amount))
    return [
        LedgerTransaction(
            id=row["id"],
            kind=row["kind"],
            order_id=row["order_id"],
            payout_id=row["payout_id"],
            postings=postings[row["id"]],
            at=row["at"],
        )
        for row in rows
    ]


_TX_COLUMNS: Final = "id, kind, order_id, payout_id, at"


class SqliteLedgerStore:
    """:class:`actors.store.market.LedgerStore` on the three ledger tables."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def post(self, tx: LedgerTransaction) -> None:
        """``ValueError`` (before any write) for unbalanced postings."""
        check_balanced(tx.postings)
        await self._db.write(lambda conn: post_transaction(conn, tx))

    async def get(self, tx_id: str) -> LedgerTransaction | None:
        def job(conn: sqlite3.Connection) -> LedgerTransaction | None:
            rows = conn.execute(
                f"SELECT {_TX_COLUMNS} FROM ledger_transactions WHERE id = ?", (tx_id,)
            ).fetchall()
            found = _transactions(conn, rows)
            return found[0] if found else None

        return await self._db.read(job)

    async def balance(self, account: str, currency: str) -> int:
        return await self._db.read(lambda conn: balance_of(conn, account, currency))

    async def balances(self, account_prefix: str) -> dict[tuple[str, str], int]:
        """A range ``prefix <= account < upper`` of the balances' primary key."""
        high = prefix_upper_bound(account_prefix)
        sql = "SELECT account, currency, balance FROM ledger_balances WHERE account >= ?"
        args: list[str] = [account_prefix]
        if high is not None:
            sql += " AND account < ?"
            args.append(high)

        def job(conn: sqlite3.Connection) -> dict[tuple[str, str], int]:
            return {(a, c): b for a, c, b in conn.execute(sql, args)}

        return await self._db.read(job)

    async def transactions(self, *, after: str | None, limit: int) -> list[LedgerTransaction]:
        if limit <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[LedgerTransaction]:
            rows = conn.execute(
                f"SELECT {_TX_COLUMNS} FROM ledger_transactions WHERE id > ? ORDER BY id LIMIT ?",
                ("" if after is None else after, limit),
            ).fetchall()
            return _transactions(conn, rows)

        return await self._db.read(job)


# ------------------------------------------------------------------ payouts

PAYOUT_COLUMNS: Final = columns_of(PayoutRecord)
_PAYOUT_PLACEHOLDERS: Final = placeholders_of(PayoutRecord)
_PAYOUT_ASSIGNMENTS: Final = assignments_of(PayoutRecord)


def _to_payout(row: sqlite3.Row) -> PayoutRecord:
    return from_row(PayoutRecord, row)


class SqlitePayoutStore:
    """:class:`actors.store.market.PayoutStore` on ``payouts`` and the ledger."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(
        self, payout: PayoutRecord, *, take_all: bool, minimum: int, ledger_id: str
    ) -> tuple[PayoutRecord, bool]:
        """One write job: the retry check, the balance read, the payout row
        and the reservation's postings. The writer thread runs jobs one at a
        time, so two payouts of the same balance see each other's debit.
        An amount of zero or less is refused like one below ``minimum``."""

        def job(conn: sqlite3.Connection) -> tuple[PayoutRecord, bool]:
            row = conn.execute(
                f"SELECT {PAYOUT_COLUMNS} FROM payouts WHERE seller_id = ? AND client_key = ?",
                (payout.seller_id, payout.client_key),
            ).fetchone()
            if row is not None:
                return _to_payout(row), False
            available = balance_of(
                conn, seller_account(payout.seller_id, "available"), payout.currency
            )
            amount = available if take_all else payout.amount
            if amount < max(minimum, 1) or amount > available:
                raise InsufficientBalance(f"payout of {amount}: {available} available")
            created = msgspec.structs.replace(payout, amount=amount)
            with conflicts():
                conn.execute(
                    f"INSERT INTO payouts ({PAYOUT_COLUMNS}) VALUES ({_PAYOUT_PLACEHOLDERS})",
                    values_of(created),
                )
            tx = payout_reserve(
                tx_id=ledger_id,
                payout_id=created.id,
                seller_id=created.seller_id,
                currency=created.currency,
                amount=amount,
                at=created.created_at,
            )
            post_transaction(conn, tx)
            return created, True

        return await self._db.write(job)

    async def get(self, payout_id: str) -> PayoutRecord | None:
        return await self._one("id = ?", payout_id)

    async def by_paypal_batch(self, paypal_batch_id: str) -> PayoutRecord | None:
        return await self._one("paypal_batch_id = ?", paypal_batch_id)

    async def _one(self, where: str, value: str) -> PayoutRecord | None:
        def job(conn: sqlite3.Connection) -> PayoutRecord | None:
            row = conn.execute(
                f"SELECT {PAYOUT_COLUMNS} FROM payouts WHERE {where} LIMIT 1", (value,)
            ).fetchone()
            return None if row is None else _to_payout(row)

        return await self._db.read(job)

    async def update(
        self,
        payout: PayoutRecord,
        *,
        expected_version: int,
        ledger: LedgerTransaction | None = None,
    ) -> bool:
        """Compare-and-set and the transaction in one write job."""
        if ledger is not None:
            check_balanced(ledger.postings)
        written = msgspec.structs.replace(payout, version=expected_version + 1)
        values = [*values_of(written)[1:], payout.id, expected_version]

        def job(conn: sqlite3.Connection) -> bool:
            changed = conn.execute(
                f"UPDATE payouts SET {_PAYOUT_ASSIGNMENTS} WHERE id = ? AND version = ?", values
            ).rowcount
            if not changed:
                return False
            if ledger is not None:
                post_transaction(conn, ledger)
            return True

        return await self._db.write(job)

    async def list_by(
        self, seller_id: str, *, before: PageKey | None, limit: int
    ) -> list[PayoutRecord]:
        """A backward range of ``payouts_by_seller``."""
        if limit <= 0:
            return []
        clause, args = keyset("created_at, id", before, "<")
        sql = (
            f"SELECT {PAYOUT_COLUMNS} FROM payouts WHERE seller_id = :seller{clause}"
            " ORDER BY created_at DESC, id DESC LIMIT :limit"
        )
        args |= {"seller": seller_id, "limit": limit}
        return await self._db.read(
            lambda conn: [_to_payout(row) for row in conn.execute(sql, args)]
        )

    async def open(self, limit: int) -> list[PayoutRecord]:
        """A forward range of the partial index ``payouts_open``."""
        if limit <= 0:
            return []
        sql = (
            f"SELECT {PAYOUT_COLUMNS} FROM payouts"
            " WHERE status IN ('requested', 'sent', 'unclaimed')"
            " ORDER BY created_at, id LIMIT ?"
        )
        return await self._db.read(
            lambda conn: [_to_payout(row) for row in conn.execute(sql, (limit,))]
        )


# ------------------------------------------------------------------- events

EVENT_COLUMNS: Final = columns_of(PaymentEventRecord)


class SqlitePaymentEventStore:
    """:class:`actors.store.market.PaymentEventStore` on ``payment_events``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def record(self, event: PaymentEventRecord) -> bool:
        """Insert unless the id is known (the first delivery is kept as it came)."""
        values = values_of(event)

        def job(conn: sqlite3.Connection) -> bool:
            return bool(
                conn.execute(
                    f"INSERT INTO payment_events ({EVENT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    values,
                ).rowcount
            )

        return await self._db.write(job)

    async def get(self, event_id: str) -> PaymentEventRecord | None:
        def job(conn: sqlite3.Connection) -> PaymentEventRecord | None:
            row = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM payment_events WHERE id = ?", (event_id,)
            ).fetchone()
            return None if row is None else from_row(PaymentEventRecord, row)

        return await self._db.read(job)

    async def unapplied(self, limit: int) -> list[PaymentEventRecord]:
        """A forward range of the partial index ``payment_events_unapplied``."""
        if limit <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[PaymentEventRecord]:
            rows = conn.execute(
                f"SELECT {EVENT_COLUMNS} FROM payment_events WHERE applied_at IS NULL"
                " ORDER BY received_at, id LIMIT ?",
                (limit,),
            ).fetchall()
            return [from_row(PaymentEventRecord, row) for row in rows]

        return await self._db.read(job)

    async def mark_applied(self, event_id: str, outcome: str, at: float) -> None:
        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE payment_events SET applied_at = ?, outcome = ? WHERE id = ?",
                (at, outcome, event_id),
            )

        await self._db.write(job)
