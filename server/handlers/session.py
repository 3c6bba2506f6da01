"""Handlers of the session domain. ``hello`` is the connection's own business
(:meth:`server.gateway.connection.Connection._hello`); ``ping`` is here."""

from __future__ import annotations

import time

from protocol.messages import session as m
from server.context import Caller, Handler, Services


async def ping(services: Services, caller: Caller, req: m.Ping) -> m.Pong:
    return m.Pong(server_time=time.time())


HANDLERS: dict[type, Handler] = {m.Ping: ping}
