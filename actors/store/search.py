"""What a search query means, for every backend: the words of a text query and
the case-folded form of names for prefix search.

These rules live with the ports, not in one backend, because they are part of
the contract: a user's query must find the same people on SQLite and on
MongoDB, and the syntax of either engine (FTS5's quotes, ``*``, ``NEAR``,
``-``, ``column:`` filters; MongoDB ``$text``'s phrases and negation) must
never reach it from user input. Each backend builds its engine's query only
from what these pure functions return, and the contract tests check the
functions once, engine-free.
"""

from __future__ import annotations

import re
from typing import Final

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
