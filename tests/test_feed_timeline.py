"""The hot home timeline (``actors/feed.py``), engine-free: its pages follow
the store's keyset rule, pushes land in order without repeats, and a window
that no longer holds everything says so."""

from __future__ import annotations

from actors.feed import TIMELINE_SIZE, TIMELINE_TTL, HomeTimeline


def test_pages_are_newest_first_with_ties_by_id_and_strictly_after_the_key() -> None:
    entries = [(1.0, "a1"), (2.0, "b2"), (2.0, "b3"), (3.0, "c4")]
    timeline = HomeTimeline(["u"], entries, complete=True, built_at=0.0)
    assert timeline.page(None, 2) == [(3.0, "c4"), (2.0, "b3")]
    assert timeline.page((2.0, "b3"), 2) == [(2.0, "b2"), (1.0, "a1")]
    assert timeline.page((1.0, "a1"), 5) == []
    # A key that is not an entry (a post deleted since) still cuts right.
    assert timeline.page((2.5, "zz"), 5) == [(2.0, "b3"), (2.0, "b2"), (1.0, "a1")]


def test_pushes_go_in_order_once_and_the_oldest_falls_off() -> None:
    entries = [(float(i), f"p{i:04d}") for i in range(TIMELINE_SIZE)]
    timeline = HomeTimeline(["u"], entries, complete=True, built_at=0.0)
    timeline.add(1e9, "new")
    timeline.add(1e9, "new")
    timeline.add(5.5, "late")  # published late: lands at its time, not at the top
    assert len(timeline) == TIMELINE_SIZE
    assert timeline.page(None, 1) == [(1e9, "new")]
    assert (5.5, "late") in (timeline.page((6.0, "p0006"), 2) or [])
    # The two oldest fell off, so the window no longer knows what is below it.
    assert not timeline.complete
    assert timeline.page((3.0, "p0003"), 5) is None


def test_an_incomplete_window_defers_pages_it_cannot_fill_to_the_store() -> None:
    entries = [(float(i), f"p{i}") for i in range(10)]
    timeline = HomeTimeline(["u"], entries, complete=False, built_at=0.0)
    assert timeline.page(None, 10) is not None
    assert timeline.page(None, 11) is None
    assert timeline.page((5.0, "p5"), 5) == [(float(i), f"p{i}") for i in (4, 3, 2, 1, 0)]
    assert timeline.page((5.0, "p5"), 6) is None


def test_a_timeline_goes_stale_after_its_ttl() -> None:
    timeline = HomeTimeline([], [], complete=True, built_at=100.0)
    assert not timeline.stale(100.0 + TIMELINE_TTL - 1)
    assert timeline.stale(100.0 + TIMELINE_TTL)
