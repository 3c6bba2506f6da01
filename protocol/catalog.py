"""The catalog: every request and event of the protocol, gathered from the
domain modules of :mod:`protocol.messages`.

Each domain module declares its messages once, in its ``REQUESTS`` and
``EVENTS`` tuples; everything here (the decoding unions, lookup by wire tag) is
derived from those, so adding a message means adding it to its domain's list
and nowhere else. Building the catalog fails at import when two messages share
a wire tag.

Naming rule for wire tags: every request and event type is
``<entity>.<action>``. The entity is a singular noun that belongs to one domain
(``conversation``, ``message``, ``profile``...). A request's action is a verb
(``message.send``, ``conversation.mark_read``); an event's action is a past
participle, or ``new`` for something created (``profile.updated``,
``message.new``). A request and an event never share a name. The session
handshake and keepalive, ``hello`` and ``ping``, keep bare names.
"""

from __future__ import annotations

from collections.abc import Iterable
from types import ModuleType
from typing import Any, Union

from protocol.frames import Event, Request
from protocol.messages import (
    accounts,
    discovery,
    live,
    market,
    messaging,
    moderation,
    notifications,
    search,
    session,
    social,
)

DOMAINS: tuple[ModuleType, ...] = (
    session,
    accounts,
    messaging,
    social,
    notifications,
    search,
    discovery,
    moderation,
    live,
    market,
)
"""The domain modules, in the order the docs present them."""


def index_by_tag(
    requests: Iterable[type[Request]], events: Iterable[type[Event]]
) -> tuple[dict[str, type[Request]], dict[str, type[Event]]]:
    """Map wire tags to request and event types. Raises ``ValueError`` when a
    tag is used twice, among requests, among events or across the two: the
    codec would silently decode one of them as the other."""
    owners: dict[str, str] = {}

    def claim(cls: type[Request] | type[Event]) -> str:
        tag = cls.__struct_config__.tag
        if not isinstance(tag, str):
            raise ValueError(f"{cls.__qualname__} has no string wire tag")
        if tag in owners:
            raise ValueError(
                f"wire tag {tag!r} is used by both {owners[tag]} and {cls.__qualname__}"
            )
        owners[tag] = cls.__qualname__
        return tag

    by_request = {claim(cls): cls for cls in requests}
    by_event = {claim(cls): cls for cls in events}
    return by_request, by_event


REQUEST_TYPES: tuple[type[Request], ...] = tuple(
    cls for domain in DOMAINS for cls in domain.REQUESTS
)
EVENT_TYPES: tuple[type[Event], ...] = tuple(cls for domain in DOMAINS for cls in domain.EVENTS)

REQUESTS_BY_TYPE, EVENTS_BY_TYPE = index_by_tag(REQUEST_TYPES, EVENT_TYPES)

# Built from the tuples at runtime, so a static checker cannot see the members;
# typed ``Any`` because they are only handed to msgspec decoders.
AnyRequest: Any = Union[REQUEST_TYPES]  # noqa: UP007
AnyEvent: Any = Union[EVENT_TYPES]  # noqa: UP007
