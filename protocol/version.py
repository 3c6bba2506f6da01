"""Protocol versions. A client offers the versions it speaks in ``hello``; the
server answers with the highest one both sides know."""

from __future__ import annotations

PROTOCOL_VERSION = 2
"""The newest version this build speaks."""

SUPPORTED_VERSIONS: frozenset[int] = frozenset({2})


def negotiate(offered: list[int]) -> int | None:
    """The highest version in ``offered`` that the server supports, or ``None``."""
    common = SUPPORTED_VERSIONS.intersection(offered)
    return max(common) if common else None
