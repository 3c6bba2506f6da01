"""Request handlers: one coroutine per request type, ``(connection, request)
-> reply struct``. Stateless ones talk to the store; stateful ones ask the
entity's actor. Refusals are raised as :class:`protocol.errors.ProtocolError`.

Each feature module exports ``HANDLERS``; :data:`HANDLERS` here is their union
and covers every request type but ``hello``, which the connection handles.
"""

from __future__ import annotations

from server.gateway import Handler
from server.handlers import accounts, messaging

HANDLERS: dict[type, Handler] = {**accounts.HANDLERS, **messaging.HANDLERS}
