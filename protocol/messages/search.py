"""Search: users, posts (by words, by tag, near a place) and tags (autocomplete),
all through one request, ``search.query``, whose ``kind`` says what to find.

What each kind does:

* ``users``: ``query`` matched against usernames and display names, both as
  a prefix and as words; people the caller follows come first, then prefix
  matches, then word matches. At most ``limit`` users and no cursor (narrow
  the query instead).
* ``posts`` with ``query`` (and neither ``tag`` nor ``near``): posts whose
  text has any word of the query, whole words, case- and
  diacritic-insensitive. ``order`` ``"best"`` (relevance) or ``"newest"``.
* ``posts`` with ``tag``: posts carrying exactly this tag (``#`` and case
  ignored), newest first.
* ``posts`` with ``near``: posts located within ``radius_km`` of the point,
  nearest first; ``distances_km`` gives each one's distance.
* ``tags``: ``query`` is a prefix (a leading ``#`` is ignored); tags that
  start with it, most used first, with their post counts.

A query is plain text, never an engine's syntax: quotes, ``*``, ``-``,
``NEAR(``, ``AND``/``OR``, ``^``, ``column:``, parentheses, ``%`` and ``_``
are ordinary characters (punctuation separates words). A query with no word
finds nothing. Posts a caller may not see (followers-only posts of people
they do not follow) and users on either side of a block are left out.

Paging: ``next_cursor`` as in the social lists (signed, bound to this
search: another query's cursor is ``invalid_field``). Newest-first and tag
lists are keyset pages (no skip, no repeat while posts arrive). Best-first
and nearest-first lists page by position, because a rank is not a stable
key: a post published or edited meanwhile can shift a later page by one.
They stop at ``SEARCH_DEPTH_MAX`` results.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from protocol import limits
from protocol.frames import Event, Request
from protocol.messages.accounts import UserProfile
from protocol.messages.social import Cursor, PostView, Tag


class Near(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A circle on the globe: its centre and its radius in km (great-circle)."""

    latitude: Annotated[float, Meta(ge=-90, le=90)]
    longitude: Annotated[float, Meta(ge=-180, le=180)]
    radius_km: Annotated[float, Meta(gt=0, le=limits.RADIUS_KM_MAX)]


class TagCount(msgspec.Struct, kw_only=True):
    tag: str
    post_count: int
    """Posts that carry the tag, followers-only ones included."""


class SearchResults(msgspec.Struct, kw_only=True):
    """The list of the requested ``kind`` (the others stay empty). Like every
    page, it may be short because some results were hidden or the reply
    reached ``MAX_REPLY_BYTES``: ``next_cursor`` tells whether there is more."""

    users: list[UserProfile] = []
    posts: list[PostView] = []
    distances_km: list[float] = []
    """For a ``near`` search: the distance of each post, parallel to ``posts``."""
    tags: list[TagCount] = []
    next_cursor: str | None = None


class Search(Request, tag="search.query", kw_only=True):
    """Find users, posts or tags (see the module). For ``posts``, give one of
    ``query``, ``tag`` or ``near`` (more than one is ``invalid_field``; a
    ``query`` is ignored beside none of them only when it is empty).
    ``order`` applies to a posts ``query``. ``query`` longer than
    ``SEARCH_TEXT_MAX``, a radius of 0 or over ``RADIUS_KM_MAX`` km, a
    latitude out of -90..90 and a cursor of another search are
    ``invalid_field``."""

    kind: Literal["users", "posts", "tags"]
    query: Annotated[str, Meta(max_length=limits.SEARCH_TEXT_MAX)] = ""
    order: Literal["best", "newest"] = "best"
    tag: Tag | None = None
    near: Near | None = None
    cursor: Cursor | None = None
    limit: Annotated[int, Meta(ge=1, le=limits.SEARCH_LIMIT_MAX)] = 20

    reply = SearchResults


REQUESTS: tuple[type[Request], ...] = (Search,)
EVENTS: tuple[type[Event], ...] = ()
