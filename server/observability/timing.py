"""The timing points: request handlers and store port calls, wrapped once at
wiring. Each wrapper reads the clock twice, feeds a cached histogram child
(:class:`~server.observability.metrics.Metrics`), and when the call took
longer than the ``slow_request_ms`` / ``slow_store_ms`` settings logs it on
``grover.slow`` with its *shape*: the request type or the store's
``port.method``, the duration, the outcome, and per field or argument only
its type and length, never its value (a message's text or a password must
never reach a log line). Under overload every call is slow: at most one line
per second per request type or store operation is written, and the next one
says how many were left out (``suppressed``), so the log does not add to the
load it reports.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, TypeVar

import msgspec

from actors.errors import AskTimeout, MailboxFull
from actors.store import Store
from protocol.errors import ErrorCode, ProtocolError
from server.observability.metrics import Metrics

slow_log = logging.getLogger("grover.slow")

SLOW_LOG_INTERVAL = 1.0
"""Seconds between two slow-operation lines for the same request type or operation."""

H = TypeVar("H", bound=Callable[..., Awaitable[Any]])
S = TypeVar("S")


class _SlowLog:
    """Throttled ``grover.slow`` lines for one timing point."""

    __slots__ = ("last", "suppressed")

    def __init__(self) -> None:
        self.last = -SLOW_LOG_INTERVAL
        self.suppressed = 0

    def due(self) -> bool:
        now = time.monotonic()
        if now - self.last < SLOW_LOG_INTERVAL:
            self.suppressed += 1
            return False
        self.last = now
        return True

    def take_suppressed(self) -> int:
        count, self.suppressed = self.suppressed, 0
        return count


def shape_of(value: object) -> str:
    """A value's type, and its length when it has one: ``str[12]``."""
    name = type(value).__name__
    if isinstance(value, str | bytes | bytearray | list | tuple | dict | set | frozenset):
        return f"{name}[{len(value)}]"
    return name


def request_shape(request: msgspec.Struct) -> dict[str, str]:
    return {field: shape_of(getattr(request, field)) for field in request.__struct_fields__}


def outcome_of(exc: BaseException) -> str:
    """The error code a failed handler's request is answered with (as
    :meth:`server.gateway.connection.Connection._run` answers it)."""
    if isinstance(exc, ProtocolError):
        return str(exc.code)
    if isinstance(exc, MailboxFull):
        return str(ErrorCode.OVERLOADED)
    if isinstance(exc, AskTimeout):
        return str(ErrorCode.TIMEOUT)
    return str(ErrorCode.INTERNAL)


def instrument_handlers(handlers: Mapping[type, H], metrics: Metrics) -> dict[type, H]:
    """The handler table with every handler timed and counted by request
    type and outcome; label children are bound here, once per type."""
    return {kind: _timed_handler(kind, handler, metrics) for kind, handler in handlers.items()}


def _timed_handler(kind: type, handler: H, metrics: Metrics) -> H:
    config = getattr(kind, "__struct_config__", None)
    name = str(getattr(config, "tag", None) or kind.__name__)
    hist = metrics.request_seconds.child(name)
    counts = metrics.requests.values
    ok = (name, "ok")
    threshold = metrics.slow_request_s
    throttle = _SlowLog()

    @functools.wraps(handler)
    async def timed(services: Any, caller: Any, request: Any) -> Any:
        started = time.perf_counter()
        outcome = ok
        try:
            return await handler(services, caller, request)
        except BaseException as exc:
            outcome = (name, outcome_of(exc))
            raise
        finally:
            took = time.perf_counter() - started
            hist.observe(took)
            counts[outcome] = counts.get(outcome, 0) + 1
            if took >= threshold and throttle.due():
                slow_log.warning(
                    "slow request %s: %.1f ms",
                    name,
                    took * 1000,
                    extra={
                        "slow": {
                            "request_type": name,
                            "duration_ms": round(took * 1000, 3),
                            "outcome": outcome[1],
                            "shape": request_shape(request),
                            "suppressed": throttle.take_suppressed(),
                        }
                    },
                )

    return timed  # type: ignore[return-value]


class _TimedPort:
    """Stands in for one store port (``store.messages``): its coroutine
    methods are timed, everything else passes through. A method's wrapper is
    made on first use and kept in the instance, so later calls find it
    without ``__getattr__``."""

    def __init__(self, port: object, port_name: str, backend: str, metrics: Metrics) -> None:
        self._port = port
        self._port_name = port_name
        self._backend = backend
        self._metrics = metrics

    def __getattr__(self, attr: str) -> Any:
        target = getattr(self._port, attr)
        if not inspect.iscoroutinefunction(target):
            return target
        wrapped = _timed_call(f"{self._port_name}.{attr}", self._backend, target, self._metrics)
        self.__dict__[attr] = wrapped
        return wrapped


def _timed_call(
    operation: str, backend: str, call: Callable[..., Awaitable[Any]], metrics: Metrics
) -> Callable[..., Awaitable[Any]]:
    hist = metrics.store_seconds.child(operation, backend)
    threshold = metrics.slow_store_s
    throttle = _SlowLog()

    async def timed(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return await call(*args, **kwargs)
        finally:
            took = time.perf_counter() - started
            hist.observe(took)
            if took >= threshold and throttle.due():
                slow_log.warning(
                    "slow store operation %s: %.1f ms",
                    operation,
                    took * 1000,
                    extra={
                        "slow": {
                            "operation": operation,
                            "backend": backend,
                            "duration_ms": round(took * 1000, 3),
                            "args": [shape_of(a) for a in args],
                            "kwargs": {k: shape_of(v) for k, v in kwargs.items()},
                            "suppressed": throttle.take_suppressed(),
                        }
                    },
                )

    return timed


def instrument_store(store: S, backend: str, metrics: Metrics) -> S:
    """Put a timing proxy in front of every port of ``store`` (its
    attributes declared on :class:`actors.store.Store`), in place: the store
    keeps its type, and callers keep calling ``store.<port>.<method>``."""
    for port_name in inspect.get_annotations(Store):
        port = getattr(store, port_name, None)
        if port is not None and not isinstance(port, _TimedPort):
            setattr(store, port_name, _TimedPort(port, port_name, backend, metrics))
    return store
