"""Request handlers, one module per domain: ``async (services, caller,
request) -> reply`` (see :mod:`server.context`). Stateless features go to the
store; an entity with an actor is changed only through its actor.

Each domain module exports ``HANDLERS``; :data:`HANDLERS` merges them, failing
on a request type handled twice, and covers every request type but ``hello``,
which the connection handles.
"""

from __future__ import annotations

from server.context import Handler, merge_handlers
from server.handlers import (
    accounts,
    comments,
    discovery,
    live,
    messaging,
    moderation,
    notifications,
    orders,
    products,
    search,
    session,
    social,
)

HANDLERS: dict[type, Handler] = merge_handlers(
    session.HANDLERS,
    accounts.HANDLERS,
    messaging.HANDLERS,
    social.HANDLERS,
    comments.HANDLERS,
    moderation.HANDLERS,
    discovery.HANDLERS,
    notifications.HANDLERS,
    search.HANDLERS,
    live.HANDLERS,
    products.HANDLERS,
    orders.HANDLERS,
)
