"""The timing points: requests (timed by the gateway's request task, which
calls :func:`request_finished`) and store port calls (wrapped once at
wiring). Each reads the clock twice, feeds a cached histogram child
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

import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import msgspec

from actors.store import Store
from server.observability.logs import request_type
from server.observability.metrics import Metrics

slow_log = logging.getLogger("grover.slow")

SLOW_LOG_INTERVAL = 1.0
"""Seconds between two slow-operation lines for the same request type or operation."""

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


class _RequestPoint:
    """The timing point of one request type: its histogram and counter keys,
    bound once (the first time the type is seen), and its slow-log throttle."""

    __slots__ = ("hist", "name", "ok", "throttle")

    def __init__(self, kind: type, metrics: Metrics) -> None:
        self.name = request_type(kind)
        self.hist = metrics.request_seconds.child(self.name)
        self.ok = (self.name, "ok")
        self.throttle = _SlowLog()


def request_finished(metrics: Metrics, request: msgspec.Struct, took: float, outcome: str) -> None:
    """Count and time a request the gateway answered (``outcome``: ``ok`` or
    the error code it was answered with). Called from the connection's own
    request task: no wrapper coroutine around the handler."""
    points: dict[type, _RequestPoint] = metrics.request_points
    point = points.get(type(request))
    if point is None:
        point = points[type(request)] = _RequestPoint(type(request), metrics)
    point.hist.observe(took)
    key = point.ok if outcome == "ok" else (point.name, outcome)
    counts = metrics.requests.values
    counts[key] = counts.get(key, 0) + 1
    if took >= metrics.slow_request_s and point.throttle.due():
        slow_log.warning(
            "slow request %s: %.1f ms",
            point.name,
            took * 1000,
            extra={
                "slow": {
                    "request_type": point.name,
                    "duration_ms": round(took * 1000, 3),
                    "outcome": outcome,
                    "shape": request_shape(request),
                    "suppressed": point.throttle.take_suppressed(),
                }
            },
        )


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
