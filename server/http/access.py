"""The sidecar's access lines and its unhandled errors.

:class:`AccessLogger` writes one JSON line per answered request on the
``grover.access`` logger: method, path (never the query string, which may
carry a token), status, duration in ms, bytes sent and the peer; never a
header (an upload's ``Authorization`` stays out). ``bytes`` counts what
was written, headers included (aiohttp's own count). aiohttp calls it once the
response is written, so bytes and duration are what the client got.

:func:`errors` answers an unhandled exception with a JSON 500 and logs it at
ERROR with the route, which is what reaches Sentry (see
:mod:`server.observability.sentry`).
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from aiohttp.typedefs import Handler

__all__ = ["ACCESS_LOGGER", "AccessLogger", "errors", "route_of"]

ACCESS_LOGGER = logging.getLogger("grover.access")
log = logging.getLogger("grover.http")


def route_of(request: web.BaseRequest) -> str:
    """The route's template (``/media/{id}/{file}``): ids stay out of tags."""
    info = getattr(request, "match_info", None)
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    return str(resource.canonical) if resource is not None else "unmatched"


class AccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %d",
            request.method,
            request.path,
            response.status,
            extra={
                "method": request.method,
                "path": request.path,
                "status": response.status,
                "duration_ms": round(time * 1000, 3),
                "bytes": response.body_length,
                "peer": request.remote,
            },
        )

    @property
    def enabled(self) -> bool:
        return self.logger.isEnabledFor(logging.INFO)


@web.middleware
async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception:
        route = route_of(request)
        log.exception("%s %s failed", request.method, route, extra={"route": route})
        return web.json_response(
            {"error": {"code": "internal", "message": "internal error"}}, status=500
        )
