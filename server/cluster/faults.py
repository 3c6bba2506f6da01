"""Known transient Redis states versus real failures, for honest logs.

Redis that restarts, fails over, is cut off or is loading its dataset after a
restart with persistence answers with connection errors, timeouts or
``LOADING`` for a while. Every retry loop of the cluster meets those states and
simply retries, so they are warnings: one line, no traceback, logged when a
loop enters a state (and again only when the state changes), and one info
line when it recovers. Anything else (a script error, a reply of the wrong
type, a bug of ours) is unexpected: an error with its traceback, each time.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import BusyLoadingError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


def transient_kind(exc: BaseException) -> str | None:
    """What known transient state ``exc`` shows (``"loading"``,
    ``"unreachable"``, ``"timeout"``, ``"lost a stream"``), or ``None`` if it
    is not one."""
    # BusyLoadingError derives from redis's ConnectionError: test it first.
    if isinstance(exc, BusyLoadingError):
        return "loading"
    if isinstance(exc, ResponseError) and str(exc).startswith("NOGROUP"):
        # Redis restarted without its data, or a reclaim deleted the inbox
        # of a node taken for dead: the reader makes the stream again.
        return "lost a stream"
    if isinstance(exc, RedisTimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, RedisConnectionError | OSError):
        return "unreachable"
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether ``exc`` is a known transient state of Redis (see the module doc)."""
    return transient_kind(exc) is not None


class FaultLog:
    """The log lines of one retry loop (or one kind of call made from many
    places): :meth:`failed` for each failure, :meth:`succeeded` after each
    success. Transient failures are logged once per state, not once per
    retry, so that a minute of Redis loading is two lines, not hundreds."""

    def __init__(self, log: logging.Logger, what: str, **extra: Any) -> None:
        self._log = log
        self._what = what
        self._extra = extra
        self._state: str | None = None
        """The transient state last reported, ``"unexpected"``, or ``None`` (healthy)."""
        self.failures = 0
        """Failures since the last success."""

    @property
    def failing(self) -> bool:
        return self._state is not None

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        kind = transient_kind(exc)
        if kind is None:
            self._state = "unexpected"
            self._log.error("%s failed", self._what, exc_info=exc, extra=self._extra)
        elif kind != self._state:
            self._state = kind
            self._log.warning(
                "%s failed, retrying (Redis %s): %s", self._what, kind, exc, extra=self._extra
            )

    def succeeded(self) -> None:
        if self._state is not None:
            self._log.info(
                "%s recovered after %d failures", self._what, self.failures, extra=self._extra
            )
        self._state = None
        self.failures = 0
