"""The hot home timeline an online user's actor keeps (hybrid fan-out).

A user who reads their home feed gets a :class:`HomeTimeline` in their
UserActor: the ``(created_at, post id)`` of the newest posts of the people
they follow and their own, built once from the store, then kept current by
fan-out (a new post of a followee is prepended as it is published). Pages
are cut from it with the same keyset rule as the store's, so a page read
from the hot timeline and the next one read from the store join without a
gap or a repeat. Deleted or hidden posts are filtered when a page is turned
into views, not here. Pure: no I/O.
"""

from __future__ import annotations

import bisect
from typing import Final

import msgspec

from actors.store.social import PageKey

TIMELINE_SIZE: Final = 300
"""Entries kept per online user: about 15 pages of 20, ~30 KB."""
TIMELINE_TTL: Final = 60.0
"""Seconds a hot timeline serves before the next read rebuilds it from the
store. A push can be lost (the fan-out's node crashed mid-way, its queue was
full, a mailbox was full); this bounds how long a lost one stays missing."""


class TimelineSlice(msgspec.Struct, kw_only=True):
    """A page of the hot timeline (``(created_at, post id)``, newest first),
    or ``entries`` ``None`` when the page runs below what the hot timeline
    holds: then read it from the store, by ``authors``."""

    entries: list[PageKey] | None
    authors: list[str]


class HomeTimeline:
    """Entries newest first, unique by post id, at most :data:`TIMELINE_SIZE`.

    ``complete`` is true when the entries are every post of the authors (the
    store had fewer than the window): a page past the last entry is then
    empty rather than a store read.
    """

    __slots__ = ("_keys", "authors", "built_at", "complete")

    def __init__(
        self, authors: list[str], entries: list[PageKey], complete: bool, built_at: float
    ) -> None:
        self.authors = authors
        self.built_at = built_at
        """When it was read from the store (``time.monotonic()``)."""
        # Stored ascending, negated, so that bisect finds "strictly older than".
        self._keys: list[tuple[float, str]] = sorted((-at, _neg(pid)) for at, pid in entries)
        del self._keys[TIMELINE_SIZE:]
        self.complete = complete

    def __len__(self) -> int:
        return len(self._keys)

    def stale(self, now: float) -> bool:
        return now - self.built_at >= TIMELINE_TTL

    def add(self, created_at: float, post_id: str) -> None:
        """Insert a new post (usually at the front); the oldest falls off."""
        key = (-created_at, _neg(post_id))
        at = bisect.bisect_left(self._keys, key)
        if at < len(self._keys) and self._keys[at] == key:
            return
        self._keys.insert(at, key)
        if len(self._keys) > TIMELINE_SIZE:
            self._keys.pop()
            self.complete = False

    def page(self, before: PageKey | None, limit: int) -> list[PageKey] | None:
        """Up to ``limit`` entries strictly older than ``before``, newest first;
        ``None`` when the window cannot tell (the page would run past the last
        entry of an incomplete timeline)."""
        start = (
            0 if before is None else bisect.bisect_right(self._keys, (-before[0], _neg(before[1])))
        )
        end = start + limit
        if end > len(self._keys) and not self.complete:
            return None
        return [(-at, _neg(pid)) for at, pid in self._keys[start:end]]


def _neg(post_id: str) -> str:
    """An id whose order is reversed (ids are printable ASCII): with the
    negated time, ascending order of the pair is newest first, ties by id
    descending, as the store pages."""
    return post_id.translate(_FLIP)


_FLIP: Final = str.maketrans({chr(c): chr(0x7E + 0x21 - c) for c in range(0x21, 0x7F)})
