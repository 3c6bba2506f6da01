"""A GC callback may run at the bottom of a stack that a hostile frame drove to
the recursion limit; nothing it does there may escape (``make fuzz`` found
CPython printing an unraisable RecursionError from the GC-pause watcher)."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Callable
from typing import Any

import pytest

from server.observability import gcwatch


def _near_the_recursion_limit(call: Callable[[], None], left: int = 12) -> None:
    """Run ``call`` with ``left`` frames of stack left: enough to enter a
    function, not enough to format a log line."""

    def descend(remaining: int) -> None:
        if remaining <= 0:
            call()
        else:
            descend(remaining - 1)

    in_use = len(traceback.extract_stack())
    descend(sys.getrecursionlimit() - in_use - left)


def test_a_slow_pause_at_the_recursion_limit_is_counted_and_reported_later(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(gcwatch, "SLOW_PAUSE", 0.0)
    monkeypatch.setattr(gcwatch, "_unreported", [0], raising=False)
    info: dict[str, Any] = {"generation": 1, "collected": 0}
    raised: list[BaseException] = []

    def slow_collection() -> None:
        try:
            gcwatch._callback("start", info)
            gcwatch._callback("stop", info)
        except BaseException as exc:  # what would escape into the collector
            raised.append(exc)

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(400)
    try:
        with caplog.at_level(logging.WARNING, logger="grover.gc"):
            _near_the_recursion_limit(slow_collection)
    finally:
        sys.setrecursionlimit(limit)
    assert raised == []
    assert gcwatch._unreported == [1]
    with caplog.at_level(logging.WARNING, logger="grover.gc"):
        slow_collection()
    reported = [r for r in caplog.records if r.name == "grover.gc"]
    assert [getattr(r, "unreported", None) for r in reported][-1] == 1
    assert gcwatch._unreported == [0]
