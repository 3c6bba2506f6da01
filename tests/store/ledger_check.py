"""The ledger's invariants, checked through the :class:`~actors.store.market.LedgerStore`
port only (so any suite, on any backend, can call it after posting)."""

from __future__ import annotations

from actors.store import Store


async def assert_ledger_consistent(store: Store, *, page: int = 100) -> None:
    """Every transaction's postings sum to zero per currency, and every kept
    balance equals the sum of its account's postings (an account with
    postings but no kept balance counts as a kept balance of 0)."""
    sums: dict[tuple[str, str], int] = {}
    after: str | None = None
    seen: set[str] = set()
    while True:
        batch = await store.ledger.transactions(after=after, limit=page)
        for tx in batch:
            assert tx.id not in seen, f"transaction {tx.id} listed twice"
            assert after is None or tx.id > after, "transactions out of id order"
            seen.add(tx.id)
            per_currency: dict[str, int] = {}
            for p in tx.postings:
                per_currency[p.currency] = per_currency.get(p.currency, 0) + p.amount
                key = (p.account, p.currency)
                sums[key] = sums.get(key, 0) + p.amount
            unbalanced = {c: s for c, s in per_currency.items() if s}
            assert not unbalanced, f"transaction {tx.id} does not balance: {unbalanced}"
            after = tx.id
        if len(batch) < page:
            break
    kept = await store.ledger.balances("")
    wrong = {
        key: (kept.get(key, 0), sums.get(key, 0))
        for key in set(kept) | set(sums)
        if kept.get(key, 0) != sums.get(key, 0)
    }
    assert not wrong, f"kept balance != sum of postings (kept, summed): {wrong}"
    for (account, currency), value in kept.items():
        assert await store.ledger.balance(account, currency) == value
