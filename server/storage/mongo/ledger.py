"""MongoDB stores of the marketplace's money (:mod:`actors.store.market`): the
ledger (``ledger`` and ``ledger_balances``), payouts and the payment
provider's events; and :class:`LedgerWriter`, the ordered, idempotent steps
that post a transaction, which the order and payout stores share.

There are no multi-document transactions (the stand-in has none, and the
design does not need a replica set), so each write is a sequence of
single-document atomic steps, each one safe to run again:

1. **insert the transaction document** (``_id`` = its id, the postings
   embedded, ``state: "new"``). A known id is
   :class:`~actors.store.market.DuplicateTransaction` for a new post; a
   replay of our own (after a crash) finds it there and goes on.
2. **move each balance** ``{_id: "<currency>:<account>", balance, txs}``
   with one ``update_one`` guarded by ``txs: {$nin: [tx id]}`` that
   ``$inc``-s the balance and ``$push``-es the id: a replay of a step
   already done matches nothing. A payout's debit of the seller's available
   balance goes first and is also guarded by ``balance >= amount``, so two
   payouts can never both take the same money (the loser changed nothing).
3. **mark the transaction** ``applied``; 4. **``$pull`` its id** from each
   balance's ``txs`` (so the lists only hold transactions in flight);
   5. **mark it** ``done``.

A crash between two steps leaves a transaction whose ``state`` is not
``done``: :meth:`LedgerWriter.repair` runs steps 2 to 5 again (2 only while
``new``; the ``txs`` guard makes a step already done a no-op). A balance may
be read between steps 2 and 5 with part of a transaction applied: the
kept balances are exact once every transaction is ``done``.

Payouts and orders carry a ``pending`` field while the writes that go with
their compare-and-set are unfinished (see :class:`MongoPayoutStore` and
:mod:`server.storage.mongo.market`). Repair only touches what was written
more than :data:`REPAIR_GRACE` seconds (wall clock) ago, so that it never
races a live writer.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any, Final

import msgspec
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from actors.market import check_balanced, payout_reserve, seller_account
from actors.store import Conflict
from actors.store.market import (
    DuplicateTransaction,
    InsufficientBalance,
    LedgerTransaction,
    PaymentEventRecord,
    PayoutRecord,
)
from actors.store.social import PageKey
from server.storage.mongo.documents import Document, keyset, to_record

__all__ = [
    "REPAIR_GRACE",
    "LedgerWriter",
    "MongoLedgerStore",
    "MongoPaymentEventStore",
    "MongoPayoutStore",
    "cas_write",
    "deep_document",
    "tx_document",
]

#: Seconds after which an unfinished write is taken for a crashed one.
REPAIR_GRACE: Final = 120.0
_OPEN_PAYOUTS: Final = ["requested", "sent", "unclaimed"]
_NEWEST_FIRST: Final = [("created_at", DESCENDING), ("_id", DESCENDING)]


def balance_id(account: str, currency: str) -> str:
    """A balance document's ``_id``; the currency (fixed width) first, so the
    two parts cannot be confused whatever the account's characters."""
    return f"{currency}:{account}"


def deep_document(record: msgspec.Struct) -> Document:
    """The record as a document with nested structs (postings, an order's
    history) as sub-documents too, ``id`` as ``_id``; bytes stay bytes."""
    doc: Document = msgspec.to_builtins(record, builtin_types=(bytes,))
    doc["_id"] = doc.pop("id")
    return doc


def tx_document(tx: LedgerTransaction) -> Document:
    """Step 1's document: the transaction, ``state: "new"`` and when it was
    stored (wall clock, for repair's grace)."""
    return {**deep_document(tx), "state": "new", "stored_at": time.time()}


def _to_tx(doc: Document) -> LedgerTransaction:
    return to_record(LedgerTransaction, doc)


class LedgerWriter:
    """The steps of posting a transaction (see the module docstring)."""

    def __init__(
        self, ledger: AsyncCollection[Document], balances: AsyncCollection[Document]
    ) -> None:
        self.ledger = ledger
        self.balances = balances

    async def exists(self, tx_id: str) -> bool:
        return await self.ledger.find_one({"_id": tx_id}, {"_id": 1}) is not None

    async def insert(self, doc: Document, *, replay: bool) -> None:
        """Step 1; a known id is :class:`DuplicateTransaction` unless ``replay``."""
        try:
            await self.ledger.insert_one(dict(doc))
        except DuplicateKeyError:
            if not replay:
                raise DuplicateTransaction(doc["_id"]) from None

    async def apply(self, tx_id: str, *, guard: str | None = None) -> None:
        """Steps 2 to 5, from the stored document's state. ``guard``: an account
        whose debit must not take its balance below zero (applied first;
        :class:`InsufficientBalance` when it would, with nothing applied)."""
        doc = await self.ledger.find_one({"_id": tx_id})
        if doc is None or doc.get("state") == "done":
            return
        nets: dict[tuple[str, str], int] = {}
        for posting in doc["postings"]:
            key = (posting["account"], posting["currency"])
            nets[key] = nets.get(key, 0) + posting["amount"]
        if doc.get("state") == "new":
            for account, currency in sorted(nets, key=lambda k: k[0] != guard):
                amount = nets[(account, currency)]
                if account == guard and amount < 0:
                    await self._debit(account, currency, -amount, tx_id)
                else:
                    await self._move(account, currency, amount, tx_id)
            await self.ledger.update_one(
                {"_id": tx_id, "state": "new"}, {"$set": {"state": "applied"}}
            )
        for account, currency in nets:
            await self.balances.update_one(
                {"_id": balance_id(account, currency)}, {"$pull": {"txs": tx_id}}
            )
        await self.ledger.update_one({"_id": tx_id}, {"$set": {"state": "done"}})

    async def _applied(self, key: str, tx_id: str) -> bool:
        doc = await self.balances.find_one({"_id": key}, {"txs": 1})
        return doc is not None and tx_id in doc.get("txs", [])

    async def _move(self, account: str, currency: str, amount: int, tx_id: str) -> None:
        """Step 2 for one balance, created when missing. Two first writers of
        one balance race on the upsert: the loser's duplicate key is retried
        (the document exists then) unless this transaction is in it."""
        key = balance_id(account, currency)
        while True:
            try:
                await self.balances.update_one(
                    {"_id": key, "txs": {"$nin": [tx_id]}},
                    {
                        "$inc": {"balance": amount},
                        "$push": {"txs": tx_id},
                        "$setOnInsert": {"account": account, "currency": currency},
                    },
                    upsert=True,
                )
                return
            except DuplicateKeyError:
                if await self._applied(key, tx_id):
                    return

    async def _debit(self, account: str, currency: str, amount: int, tx_id: str) -> None:
        """Step 2 for the guarded balance: only if it holds ``amount``."""
        key = balance_id(account, currency)
        done = await self.balances.update_one(
            {"_id": key, "txs": {"$nin": [tx_id]}, "balance": {"$gte": amount}},
            {"$inc": {"balance": -amount}, "$push": {"txs": tx_id}},
        )
        if not done.matched_count and not await self._applied(key, tx_id):
            raise InsufficientBalance(f"{account} holds less than {amount}")

    async def post(self, tx: LedgerTransaction) -> None:
        check_balanced(tx.postings)
        await self.insert(tx_document(tx), replay=False)
        await self.apply(tx.id)

    async def pending_tx(self, tx: LedgerTransaction) -> Document:
        """``tx``'s step-1 document for a compare-and-set's ``pending``, once
        its postings balance and its id is new (else
        :class:`DuplicateTransaction`, before anything is written: a pending
        transaction is inserted as a replay, which would accept a known id)."""
        check_balanced(tx.postings)
        if await self.exists(tx.id):
            raise DuplicateTransaction(tx.id)
        return tx_document(tx)

    async def balance(self, account: str, currency: str) -> int:
        doc = await self.balances.find_one({"_id": balance_id(account, currency)}, {"balance": 1})
        return 0 if doc is None else int(doc["balance"])

    async def repair(self, before: float) -> int:
        """Finish the transactions stored before ``before`` and not ``done``."""
        cursor = self.ledger.find(
            {"state": {"$in": ["new", "applied"]}, "stored_at": {"$lt": before}}, {"_id": 1}
        )
        stuck = [doc["_id"] async for doc in cursor]
        for tx_id in stuck:
            await self.apply(tx_id)
        return len(stuck)


async def cas_write(
    records: AsyncCollection[Document],
    record: msgspec.Struct,
    *,
    expected_version: int,
    pending: Document | None,
    finish: Callable[[Document], Awaitable[None]],
) -> bool:
    """A compare-and-set on ``version`` of ``record``'s document (its fields
    as :func:`deep_document` makes them) that also records ``pending`` (the
    writes that go with it), then runs ``finish`` on the written document
    (which sets ``pending`` back to ``None`` as its last step). A document
    left with a ``pending`` at the expected version by a crashed writer is
    finished first, then the set is tried again."""
    fields = deep_document(record)
    record_id = fields.pop("_id")
    for attempt in range(2):
        written = await records.update_one(
            {"_id": record_id, "version": expected_version, "pending": None},
            {"$set": {**fields, "version": expected_version + 1, "pending": pending}},
        )
        if written.matched_count:
            break
        current = await records.find_one({"_id": record_id}, {"version": 1, "pending": 1})
        if (
            attempt
            or current is None
            or current.get("version") != expected_version
            or current.get("pending") is None
        ):
            return False
        await finish(current)
    if pending is not None:
        await finish({"_id": record_id, "version": expected_version + 1, "pending": pending})
    return True


class MongoLedgerStore:
    """:class:`actors.store.market.LedgerStore` on ``ledger`` and ``ledger_balances``."""

    def __init__(self, writer: LedgerWriter) -> None:
        self._writer = writer

    async def post(self, tx: LedgerTransaction) -> None:
        await self._writer.post(tx)

    async def get(self, tx_id: str) -> LedgerTransaction | None:
        doc = await self._writer.ledger.find_one({"_id": tx_id})
        return None if doc is None else _to_tx(doc)

    async def balance(self, account: str, currency: str) -> int:
        return await self._writer.balance(account, currency)

    async def balances(self, account_prefix: str) -> dict[tuple[str, str], int]:
        """An anchored, escaped regex on ``account`` (a range of its index)."""
        query: Document = {}
        if account_prefix:
            query = {"account": {"$regex": "^" + re.escape(account_prefix)}}
        cursor = self._writer.balances.find(query, {"account": 1, "currency": 1, "balance": 1})
        return {(doc["account"], doc["currency"]): int(doc["balance"]) async for doc in cursor}

    async def transactions(self, *, after: str | None, limit: int) -> list[LedgerTransaction]:
        if limit <= 0:
            return []
        query: Document = {} if after is None else {"_id": {"$gt": after}}
        cursor = self._writer.ledger.find(query).sort("_id", ASCENDING).limit(limit)
        return [_to_tx(doc) async for doc in cursor]


def _to_payout(doc: Document) -> PayoutRecord:
    return to_record(PayoutRecord, doc)


class MongoPayoutStore:
    """:class:`actors.store.market.PayoutStore` on ``payouts`` and the ledger.

    ``create``: (1) a payout of this seller and client key is the answer;
    (2) the amount, checked against the available balance as read; (3) the
    payout inserted with ``pending: {tx, reserve: true}`` (a concurrent retry
    that lost the unique index returns it); (4) the transaction inserted and
    applied, the seller's available balance debited first under its
    ``balance >= amount`` guard; if that guard refuses (another payout took
    the money since step 2), the transaction and the payout are deleted and
    :class:`InsufficientBalance` raised; (5) ``pending`` cleared. A crash
    leaves a payout with a ``pending``: :meth:`repair` runs (4) to (5) again,
    which either completes the reservation or removes the payout. Until then
    the payout is visible (``get``, ``list_by``) though not yet funded.
    ``update`` is :func:`cas_write` with the settling transaction pending.
    """

    def __init__(self, payouts: AsyncCollection[Document], writer: LedgerWriter) -> None:
        self._payouts = payouts
        self._writer = writer

    async def create(
        self, payout: PayoutRecord, *, take_all: bool, minimum: int, ledger_id: str
    ) -> tuple[PayoutRecord, bool]:
        """As the class docstring; an amount of zero or less is refused like
        one below ``minimum``."""
        existing = await self._by_client_key(payout)
        if existing is not None:
            return existing, False
        account = seller_account(payout.seller_id, "available")
        available = await self._writer.balance(account, payout.currency)
        amount = available if take_all else payout.amount
        if amount < max(minimum, 1) or amount > available:
            raise InsufficientBalance(f"payout of {amount}: {available} available")
        if await self._writer.exists(ledger_id):
            raise DuplicateTransaction(ledger_id)
        created = msgspec.structs.replace(payout, amount=amount)
        tx = payout_reserve(
            tx_id=ledger_id,
            payout_id=created.id,
            seller_id=created.seller_id,
            currency=created.currency,
            amount=amount,
            at=created.created_at,
        )
        pending = {"tx": tx_document(tx), "reserve": True, "since": time.time()}
        doc = {**deep_document(created), "pending": pending}
        try:
            await self._payouts.insert_one(doc)
        except DuplicateKeyError as exc:
            existing = await self._by_client_key(payout)
            if existing is not None:
                return existing, False
            raise Conflict("id") from exc
        await self._finish(doc)
        return created, True

    async def _by_client_key(self, payout: PayoutRecord) -> PayoutRecord | None:
        doc = await self._payouts.find_one(
            {"seller_id": payout.seller_id, "client_key": payout.client_key}
        )
        return None if doc is None else _to_payout(doc)

    async def _finish(self, doc: Document) -> None:
        """Steps (4) to (5) of the class docstring, or of an update's pending."""
        pending: Document = doc["pending"]
        tx: Document | None = pending.get("tx")
        if tx is not None:
            await self._writer.insert(tx, replay=True)
            guard = None
            if pending.get("reserve"):
                guard = seller_account(doc.get("seller_id") or await self._seller(doc), "available")
            try:
                await self._writer.apply(tx["_id"], guard=guard)
            except InsufficientBalance:
                await self._writer.ledger.delete_one({"_id": tx["_id"], "state": "new"})
                await self._payouts.delete_one({"_id": doc["_id"], "pending.reserve": True})
                raise
        await self._payouts.update_one(
            {"_id": doc["_id"], "version": doc["version"]}, {"$set": {"pending": None}}
        )

    async def _seller(self, doc: Document) -> str:
        found = await self._payouts.find_one({"_id": doc["_id"]}, {"seller_id": 1})
        return "" if found is None else str(found["seller_id"])

    async def get(self, payout_id: str) -> PayoutRecord | None:
        doc = await self._payouts.find_one({"_id": payout_id})
        return None if doc is None else _to_payout(doc)

    async def by_paypal_batch(self, paypal_batch_id: str) -> PayoutRecord | None:
        doc = await self._payouts.find_one({"paypal_batch_id": paypal_batch_id})
        return None if doc is None else _to_payout(doc)

    async def update(
        self,
        payout: PayoutRecord,
        *,
        expected_version: int,
        ledger: LedgerTransaction | None = None,
    ) -> bool:
        """A known transaction id is refused before the payout is written."""
        pending: Document | None = None
        if ledger is not None:
            pending = {"tx": await self._writer.pending_tx(ledger), "since": time.time()}
        return await cas_write(
            self._payouts,
            payout,
            expected_version=expected_version,
            pending=pending,
            finish=self._settle,
        )

    async def _settle(self, doc: Document) -> None:
        """:meth:`_finish` for :func:`cas_write`: a creation that another
        payout's debit left unfundable is removed, and the set then fails."""
        with contextlib.suppress(InsufficientBalance):
            await self._finish(doc)

    async def list_by(
        self, seller_id: str, *, before: PageKey | None, limit: int
    ) -> list[PayoutRecord]:
        if limit <= 0:
            return []
        cursor = (
            self._payouts.find({"seller_id": seller_id, **keyset(before, "_id", newest_first=True)})
            .sort(_NEWEST_FIRST)
            .limit(limit)
        )
        return [_to_payout(doc) async for doc in cursor]

    async def open(self, limit: int) -> list[PayoutRecord]:
        if limit <= 0:
            return []
        cursor = (
            self._payouts.find({"status": {"$in": _OPEN_PAYOUTS}})
            .sort([("created_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [_to_payout(doc) async for doc in cursor]

    async def repair(self, before: float) -> int:
        """Finish (or undo) the payouts left with a ``pending`` before ``before``."""
        cursor = self._payouts.find({"pending.since": {"$lt": before}})
        stuck = [doc async for doc in cursor]
        for doc in stuck:
            # A reservation that cannot be made any more removes the payout.
            with contextlib.suppress(InsufficientBalance):
                await self._finish(doc)
        return len(stuck)


class MongoPaymentEventStore:
    """:class:`actors.store.market.PaymentEventStore` on ``payment_events``
    (``_id`` = the event id)."""

    def __init__(self, events: AsyncCollection[Document]) -> None:
        self._events = events

    async def record(self, event: PaymentEventRecord) -> bool:
        try:
            await self._events.insert_one(deep_document(event))
        except DuplicateKeyError:
            return False
        return True

    async def get(self, event_id: str) -> PaymentEventRecord | None:
        doc = await self._events.find_one({"_id": event_id})
        return None if doc is None else _event(doc)

    async def unapplied(self, limit: int) -> list[PaymentEventRecord]:
        if limit <= 0:
            return []
        cursor = (
            self._events.find({"applied_at": None})
            .sort([("received_at", ASCENDING), ("_id", ASCENDING)])
            .limit(limit)
        )
        return [_event(doc) async for doc in cursor]

    async def mark_applied(self, event_id: str, outcome: str, at: float) -> None:
        await self._events.update_one(
            {"_id": event_id}, {"$set": {"applied_at": at, "outcome": outcome}}
        )


def _event(doc: Document) -> PaymentEventRecord:
    fields: dict[str, Any] = dict(doc)
    fields["body"] = bytes(fields["body"])
    return to_record(PaymentEventRecord, fields)
