"""What a search query means, for every backend: the words of a text query,
the case-folded form of names for prefix search, the distance and bounding
box of a query near a point; and the port of post search.

These rules live with the ports, not in one backend, because they are part of
the contract: a user's query must find the same people on SQLite and on
MongoDB, and the syntax of either engine (FTS5's quotes, ``*``, ``NEAR``,
``-``, ``column:`` filters; MongoDB ``$text``'s phrases and negation) must
never reach it from user input. Each backend builds its engine's query only
from what these pure functions return, and the contract tests check the
functions once, engine-free.
"""

from __future__ import annotations

import math
import re
from typing import Final, NamedTuple, Protocol

import msgspec

from actors.store.social import PageKey, PostRecord

#: A word: a run of Unicode letters, digits or underscores. Everything else
#: (punctuation, quotes, operators) only separates words.
_WORD_RE: Final = re.compile(r"\w+")
#: Words of a text query beyond this many are ignored (bounds the query's cost).
MAX_QUERY_TERMS: Final = 16


def query_words(text: str) -> list[str]:
    """The words of a free-text query, in order, at most
    :data:`MAX_QUERY_TERMS`; a backend matches documents containing ANY of
    them (whole words, case- and diacritic-insensitive). Empty when the text
    has no word: the search then finds nothing."""
    return _WORD_RE.findall(text)[:MAX_QUERY_TERMS]


def search_key(text: str) -> str:
    """``text`` case-folded for prefix search: what is stored next to a
    display name (``display_name_key``) and what a prefix is compared with.
    Usernames are already stored in this form. ``str.lower`` (Unicode-aware)
    rather than the engines' own folding: SQLite's ``lower()`` folds ASCII
    only."""
    return text.lower()


# --------------------------------------------------------------------- posts

#: The mean Earth radius (IUGG), the sphere every distance of the contract is
#: measured on.
EARTH_RADIUS_KM: Final = 6371.0088


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance between two points (degrees), in km."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dlat, dlon = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dlat / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


class BoundingBox(NamedTuple):
    """Every point within a radius of a centre lies in ``lat_low..lat_high``
    and in one of ``lon_ranges`` (one range, or two when the circle crosses
    the antimeridian, or the whole ``-180..180`` when it reaches a pole)."""

    lat_low: float
    lat_high: float
    lon_ranges: tuple[tuple[float, float], ...]


def bounding_box(latitude: float, longitude: float, radius_km: float) -> BoundingBox:
    """The smallest latitude/longitude box holding the spherical cap of
    ``radius_km`` around the point (J. Matuschek's method): the latitudes
    ``latitude ± r`` (``r`` the angular radius), and the longitudes ``± asin(sin
    r / cos latitude)``. A cap that contains a pole spans every longitude; one
    that crosses ±180° is split in two ranges, so neither edge of the map is a
    blind spot."""
    r = radius_km / EARTH_RADIUS_KM
    lat = math.radians(latitude)
    lat_low, lat_high = math.degrees(lat - r), math.degrees(lat + r)
    if lat_low <= -90 or lat_high >= 90 or r >= math.pi / 2:
        return BoundingBox(max(lat_low, -90.0), min(lat_high, 90.0), ((-180.0, 180.0),))
    dlon = math.degrees(math.asin(min(1.0, math.sin(r) / math.cos(lat))))
    west, east = longitude - dlon, longitude + dlon
    if west < -180:
        ranges: tuple[tuple[float, float], ...] = ((west + 360, 180.0), (-180.0, east))
    elif east > 180:
        ranges = ((west, 180.0), (-180.0, east - 360))
    else:
        ranges = ((west, east),)
    return BoundingBox(lat_low, lat_high, ranges)


def normalise_tag(text: str) -> str:
    """A tag as stored (lower-case, without a leading ``#``), the same rule
    as the tags of a post (``actors.social.normalise_tags``)."""
    return text.strip().removeprefix("#").lower()


class PostHit(msgspec.Struct, kw_only=True):
    """A post found near a point, and its distance from it in km."""

    post: PostRecord
    distance_km: float


class TagCount(msgspec.Struct, kw_only=True):
    tag: str
    post_count: int
    """Posts carrying the tag now, followers-only ones included."""


#: How many tags of a prefix's range :meth:`PostSearchStore.tag_prefix` reads
#: (in tag order) before ranking them by count: exact for any prefix shared by
#: fewer tags, bounded work for a one-letter prefix of a huge vocabulary.
TAG_SCAN_MAX: Final = 5000


BEST_WINDOW: Final = 2000
"""Matches a best-first text search ranks (see :meth:`PostSearchStore.text_best`)."""


class PostSearchStore(Protocol):
    """Queries over every post: words, tags, places. Each method is one
    query (one read snapshot on SQLite). Visibility and blocks are the
    caller's filter: these return every matching post."""

    async def text_newest(
        self, query: str, *, before: PageKey | None, limit: int
    ) -> list[PostRecord]:
        """Posts whose text has any word of ``query`` (:func:`query_words`),
        newest first by ``(created_at, id)``, strictly after ``before``.
        No words: nothing."""

    async def text_best(self, query: str, *, offset: int, limit: int) -> list[PostRecord]:
        """The most recent :data:`BEST_WINDOW` matches (by when they were
        stored), best first (SQLite bm25, MongoDB ``textScore``; ties newest
        id first), from ``offset``: a rank is not a stable key (any write
        moves it), so this list pages by position. Ranking only recent
        matches keeps a common word's cost bounded (every match scored and
        sorted took 30-50 ms on 200,000 posts), and favours fresh posts as
        a feed's "top" does."""

    async def by_tag(self, tag: str, *, before: PageKey | None, limit: int) -> list[PostRecord]:
        """Posts carrying ``tag`` (normalised, exact), newest first."""

    async def near(
        self, latitude: float, longitude: float, radius_km: float, *, offset: int, limit: int
    ) -> list[PostHit]:
        """Posts located within ``radius_km`` (great-circle, :func:`haversine_km`)
        of the point, nearest first, from ``offset``. Ties in no given order."""

    async def tag_prefix(self, prefix: str, limit: int) -> list[TagCount]:
        """Tags starting with ``prefix`` (normalised; every character
        literal) that some post carries, most posts first (ties by tag),
        among the first :data:`TAG_SCAN_MAX` of the prefix in tag order."""
