"""The marketplace's pure rules (actors/market.py): money conversion, the fee
split, the state machine and the postings of every money movement."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors import market as rules
from actors.store.market import OrderChangeRecord, OrderRecord, Posting
from protocol.messages.market import CURRENCY_DIGITS


def _order(amount: int = 10_000, state: str = "created", **changes: object) -> OrderRecord:
    record = OrderRecord(
        id="o1",
        kind="product",
        buyer_id="b",
        seller_id="s",
        client_key="k",
        title="Mug",
        unit_price=amount,
        amount=amount,
        currency="USD",
        state=state,
        created_at=1.0,
        updated_at=1.0,
        expires_at=100.0,
        history=[OrderChangeRecord(from_state=None, to_state="created", cause="request:b", at=1)],
    )
    return msgspec.structs.replace(record, **changes)  # type: ignore[arg-type]


def _sums(postings: list[Posting]) -> dict[str, int]:
    out: dict[str, int] = {}
    for p in postings:
        out[p.currency] = out.get(p.currency, 0) + p.amount
    return out


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [(1999, "USD", "19.99"), (5, "EUR", "0.05"), (1000, "JPY", "1000"), (-250, "GBP", "-2.50")],
)
def test_decimal_strings_round_trip(amount: int, currency: str, text: str) -> None:
    assert rules.to_decimal(amount, currency) == text
    assert rules.from_decimal(text, currency) == amount


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("1.005", "USD"),
        ("1.5", "JPY"),
        ("abc", "USD"),
        ("NaN", "USD"),
        ("Infinity", "EUR"),
        ("1", "XXX"),
    ],
)
def test_malformed_amounts_are_refused(text: str, currency: str) -> None:
    with pytest.raises(ValueError):
        rules.from_decimal(text, currency)


@given(st.integers(0, 10**12), st.sampled_from(sorted(CURRENCY_DIGITS)))
def test_every_amount_survives_a_round_trip(amount: int, currency: str) -> None:
    assert rules.from_decimal(rules.to_decimal(amount, currency), currency) == amount


def test_the_split_gives_the_seller_the_rest_and_never_less_than_nothing() -> None:
    assert rules.split(10_000, 320, 1000) == (1000, 8680)
    # A payment smaller than the fees: the platform takes less.
    assert rules.split(100, 80, 5000) == (20, 0)


def test_transitions_follow_the_table_and_record_their_cause() -> None:
    order = _order()
    approved = rules.transition(order, "approved", "paypal:WH-1", 5.0)
    assert approved.state == "approved"
    assert approved.history[-1] == OrderChangeRecord(
        from_state="created", to_state="approved", cause="paypal:WH-1", at=5.0
    )
    with pytest.raises(rules.TransitionRefused):
        rules.transition(order, "fulfilled", "x", 5.0)
    with pytest.raises(rules.TransitionRefused):
        rules.transition(_order(state="refunded"), "paid", "x", 5.0)


def test_payment_refund_and_release_postings_balance() -> None:
    paid, tx = rules.paid(
        _order(), capture_id="C1", paypal_fee=320, fee_bps=1000, hold=60, cause="capture", at=10
    )
    assert paid.state == "paid" and paid.release_at == 70
    assert paid.seller_share == paid.seller_pending == 8680
    assert _sums(tx.postings) == {"USD": 0}
    assert {p.account: p.amount for p in tx.postings} == {
        "world": -10_000,
        "fees:paypal": 320,
        "platform:revenue": 1000,
        "seller:s:pending": 8680,
    }
    # Refund 40%: the platform gives back its fee pro rata, the seller the rest.
    part, refund = rules.refunded(
        paid, refund_id="R1", amount=4000, paypal_fee_returned=0, cause="x", at=11
    )
    assert part.state == "partially_refunded" and part.refunded == 4000
    assert {p.account: p.amount for p in refund.postings} == {
        "world": 4000,
        "platform:revenue": -400,
        "seller:s:pending": -3600,
    }
    assert part.seller_pending == 8680 - 3600
    released, release = rules.released(part, 80)
    assert release is not None and released.seller_pending == 0
    assert {p.account: p.amount for p in release.postings} == {
        "seller:s:pending": -5080,
        "seller:s:available": 5080,
    }
    # The rest, after release: out of available.
    full, last = rules.refunded(
        released, refund_id="R2", amount=6000, paypal_fee_returned=0, cause="x", at=90
    )
    assert full.state == "refunded"
    assert _sums(last.postings) == {"USD": 0}
    assert {p.account: p.amount for p in last.postings}["seller:s:available"] == -5400
    with pytest.raises(ValueError):
        rules.refunded(full, refund_id="R3", amount=1, paypal_fee_returned=0, cause="x", at=91)


@given(
    amount=st.integers(1, 10**8),
    fee=st.integers(0, 10**6),
    bps=st.integers(0, 5000),
    refunds=st.lists(st.integers(1, 10**8), max_size=6),
)
def test_any_sequence_of_refunds_keeps_the_money_whole(
    amount: int, fee: int, bps: int, refunds: list[int]
) -> None:
    """Whatever the refunds, each transaction balances, the platform never
    gives back more than it took, and a full refund returns the buyer's
    money exactly."""
    fee = min(fee, amount)
    order, tx = rules.paid(
        _order(amount), capture_id="C", paypal_fee=fee, fee_bps=bps, hold=1, cause="c", at=1
    )
    balances: dict[str, int] = {}
    for p in tx.postings:
        balances[p.account] = balances.get(p.account, 0) + p.amount
    for n, wanted in enumerate(refunds):
        left = rules.refundable(order)
        if left == 0:
            break
        order, tx = rules.refunded(
            order,
            refund_id=f"R{n}",
            amount=min(wanted, left),
            paypal_fee_returned=0,
            cause="c",
            at=2,
        )
        assert _sums(tx.postings) == {"USD": 0}
        for p in tx.postings:
            balances[p.account] = balances.get(p.account, 0) + p.amount
    assert sum(balances.values()) == 0
    assert 0 <= balances.get("platform:revenue", 0) <= order.platform_fee
    if order.refunded == amount:
        assert balances["world"] == 0
        assert balances.get("platform:revenue", 0) == 0


def test_payout_postings() -> None:
    reserve = rules.payout_reserve(
        tx_id="t", payout_id="p", seller_id="s", currency="EUR", amount=500, at=1
    )
    paid = rules.payout_settled(
        payout_id="p", seller_id="s", currency="EUR", amount=500, succeeded=True, at=2
    )
    back = rules.payout_settled(
        payout_id="p", seller_id="s", currency="EUR", amount=500, succeeded=False, at=2
    )
    for tx in (reserve, paid, back):
        assert _sums(tx.postings) == {"EUR": 0}
    assert {p.account: p.amount for p in back.postings} == {
        "seller:s:in_payout": -500,
        "seller:s:available": 500,
    }
    with pytest.raises(ValueError):
        rules.check_balanced([Posting(account="world", currency="USD", amount=1)])
