"""Pages bounded in bytes as well as in items.

A page request names how many items it wants (``limit``); the reply must also
stay within :data:`protocol.limits.MAX_REPLY_BYTES`, because a client caps
the frames it accepts and because the server's memory per connection is
bounded in bytes (its outbox). :func:`fit` keeps the longest prefix that
fits; the handler then answers ``has_more`` (or a cursor) as for a short page.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import msgspec

from protocol import limits
from protocol.codec import encode

T = TypeVar("T", bound=msgspec.Struct)

PAGE_BUDGET = limits.MAX_REPLY_BYTES - 1024
"""Bytes the items of one page may take: the reply frame's envelope and the
page's other fields (a cursor of at most 128 chars, ``has_more``) fit in the
kilobyte left over."""


def fit(items: Sequence[T], budget: int | None = None) -> tuple[list[T], bool]:
    """The longest prefix of ``items`` whose msgpack encodings fit in
    ``budget`` bytes (default :data:`PAGE_BUDGET`), and whether items were
    left out. The first item is kept whatever its size, so that paging always
    moves forward (the protocol's bounds keep any single item far below the
    budget)."""
    if budget is None:
        budget = PAGE_BUDGET
    used = 0
    for count, item in enumerate(items):
        used += len(encode(item))
        if used > budget and count > 0:
            return list(items[:count]), True
    return list(items), False
