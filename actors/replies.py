"""How answers reach askers: settling, timing out and forwarding the futures
of :meth:`actors.runtime.ActorSystem.ask` (helpers of the runtime)."""

from __future__ import annotations

import asyncio
import functools
import logging
from typing import Any

from actors.errors import AskTimeout, SystemStopped
from actors.ids import ActorKey

log = logging.getLogger("grover.actors")


def expire(future: asyncio.Future[Any], key: ActorKey, limit: float) -> None:
    if not future.done():
        future.set_exception(AskTimeout(f"{key} did not answer within {limit}s"))


def forward(source: asyncio.Future[Any], target: asyncio.Future[Any]) -> None:
    """Give ``target`` the outcome of ``source``, now or when it comes."""
    if source.done():
        _copy(target, source)
    else:
        source.add_done_callback(functools.partial(_copy, target))


def _copy(target: asyncio.Future[Any], source: asyncio.Future[Any]) -> None:
    if source.cancelled():
        settle(target, SystemStopped("the reply was cancelled"))
        return
    exc = source.exception()  # retrieved even when nobody waits any more
    if target.done():
        return
    if exc is not None:
        target.set_exception(exc)
    else:
        target.set_result(source.result())


def settle(reply: asyncio.Future[Any] | None, exc: BaseException) -> None:
    if reply is not None and not reply.done():
        reply.set_exception(exc)


def log_forward_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("forwarded tell failed: %s", task.exception())
