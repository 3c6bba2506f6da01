"""Bounds that are part of the contract. The schemas in :mod:`protocol.frames`
and :mod:`protocol.messages` use these, so a frame that breaks one is refused at
decode time."""

from __future__ import annotations

MAX_FRAME_BYTES = 64 * 1024
"""Largest websocket frame the server accepts; larger ones close with 1009."""

MAX_REPLY_BYTES = 256 * 1024
"""The largest frame the server sends. Pages (``message.history``,
``message.since``, ``conversation.list``, ``conversation.sync``,
``user.search``) stop early, with ``has_more`` or a cursor, rather than grow
past it; an event is far smaller (one message or one conversation). Well under
the 1 MiB that client websocket stacks commonly accept."""

MAX_INT = 2**63 - 1
"""Largest value of any integer field of a request: what the stores hold
(SQLite INTEGER and MongoDB int64 are signed 64-bit). Larger values are
refused with ``invalid_field`` at decode time."""

MAX_REQUEST_ID = 2**53 - 1
"""Request ids are non-negative integers that fit a JavaScript number."""

USERNAME_MIN = 3
USERNAME_MAX = 30
USERNAME_PATTERN = r"^[A-Za-z0-9_.]+\Z"
"""Usernames are stored lower-case; uniqueness is therefore case-insensitive."""

EMAIL_MAX = 254
PASSWORD_MIN = 8
PASSWORD_MAX = 128
DISPLAY_NAME_MAX = 64
BIO_MAX = 500
URL_MAX = 2048
TOKEN_MAX = 128
SESSION_ID_MAX = 64
SEARCH_QUERY_MAX = 64
SEARCH_LIMIT_MAX = 50
SEARCH_TEXT_MAX = 256
"""Characters of a ``search.query`` query (``user.search`` keeps ``SEARCH_QUERY_MAX``)."""
SEARCH_DEPTH_MAX = 500
"""How deep ``search.query`` pages by position (posts best first, posts near a
point) go: past this many results there is no ``next_cursor``."""
RADIUS_KM_MAX = 1000
VERSIONS_MAX = 8
CLIENT_NAME_MAX = 64

MESSAGE_TEXT_MAX = 4000
CLIENT_KEY_MAX = 64
TITLE_MAX = 100
GROUP_MEMBERS_MAX = 256
"""Upper bound of ``group_max_members`` (a server setting, default 100)."""
PAGE_LIMIT_MAX = 100

POST_TEXT_MAX = 2200
POST_MEDIA_MAX = 10
POST_TAGS_MAX = 30
"""Tags of a post in all: its ``#hashtags`` and the explicit ones, after
normalising and removing duplicates."""
TAG_MAX = 64
POST_MENTIONS_MAX = 20
"""Distinct ``@usernames`` of a text that are resolved; later ones stay text."""
PLACE_NAME_MAX = 200
COMMENT_TEXT_MAX = 2200
CURSOR_MAX = 256
WATCH_MAX = 50
"""Posts one session may watch at once (``post.watch``)."""
FOLLOWING_MAX = 7500
"""Accounts one user may follow: bounds the authors of a home feed."""

REPORT_TEXT_MAX = 500
"""The free text of a report, and the reason an admin gives for an action."""

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]+\Z"
URL_PATTERN = r"^(https?://\S+)?\Z"
HTTPS_URL_PATTERN = r"^https://\S+\Z"
TAG_PATTERN = r"^#?\w+\Z"
"""A tag: word characters (Unicode letters, digits, ``_``), optionally after a ``#``."""
r"""Patterns end in ``\Z``, not ``$``: msgspec matches them with ``re.search``,
where ``$`` also matches before a final newline ("ada\n" would pass)."""

CHAT_TEXT_MAX = 500
"""Characters of one live-chat line (``chat.send``)."""
STREAM_DESCRIPTION_MAX = 2000
STREAM_TAGS_MAX = 10
STREAM_MODERATORS_MAX = 20
"""Moderators one stream's host may name (``stream.set_moderators``)."""
SLOW_MODE_MAX = 3600
"""Seconds between two chat lines of one viewer at most (slow mode)."""
MUTE_MAX = 7 * 24 * 3600
"""Seconds a moderator may mute a viewer for at once (``chat.mute``)."""
SCHEDULE_AHEAD_MAX = 365 * 24 * 3600
"""How far ahead a stream may be scheduled (``stream.schedule``), seconds."""
TIME_MAX = 1e11
"""Largest Unix time a request may carry (year 5138): a bound for decoding;
the domain's own rules are narrower."""
PRICE_MAX = 100_000_000
"""Largest price or tip in minor units (1,000,000.00 of a two-digit currency)."""
PRODUCT_DESCRIPTION_MAX = 5000
PRODUCT_MEDIA_MAX = 10
STOCK_MAX = 1_000_000
ORDER_QUANTITY_MAX = 100
TIP_MESSAGE_MAX = 200
