"""Structured logs: one JSON object per line on stderr.

Each line names what it belongs to, from context variables (see
:mod:`actors.logctx`) or from ``extra={...}`` at the call, which wins:
``node`` (set for each node's tasks), ``session`` and ``user`` (set by the
gateway for a connection), ``request`` and ``request_type`` (set by the
gateway for each request, and carried by the actor runtime with the messages
a request causes), ``actor`` (the actor whose task writes the line, else the
first actor the request addressed) and ``task`` (a background task).
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from typing import Any

import orjson

from actors.logctx import RequestInfo, actor_var, node_var, request_var, task_var

session_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "session_id", default=None
)
user_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar("user_id", default=None)

_CONTEXT_FIELDS = (
    "session",
    "user",
    "actor",
    "node",
    "peer",
    "request",
    "request_type",
    "task",
    "route",
    "code",
    "order_id",
    "payout_id",
    "event_id",
    "event_type",
    "method",
    "path",
    "status",
    "duration_ms",
    "bytes",
    "queued_frames",
    "queued_bytes",
    "suppressed_since_last",
    "unreported",
    "slow",
)
"""Fields of ``extra={...}`` that reach the JSON line (others are dropped)."""


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": round(record.created, 6),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        node = node_var.get()
        if node is not None:
            entry["node"] = node
        info = request_var.get()
        session = session_id_var.get()
        user = user_id_var.get()
        if info is not None:
            entry["request"] = info.id
            entry["request_type"] = info.kind
            # The connection's own variables are fresher (a login changes the
            # user mid-request); an actor's task has only what the request carried.
            session = session or info.session
            user = user or info.user
        if session is not None:
            entry["session"] = session
        if user is not None:
            entry["user"] = user
        actor = actor_var.get() or (info.actor if info is not None else None)
        if actor is not None:
            entry["actor"] = actor
        task = task_var.get()
        if task is not None:
            entry["task"] = task
        fields = record.__dict__
        for name in _CONTEXT_FIELDS:
            value = fields.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


def request_type(kind: type) -> str:
    """The wire name of a request type (``message.send``): its struct's tag."""
    config = getattr(kind, "__struct_config__", None)
    tag = config.tag if config is not None else None
    return str(tag) if tag is not None else kind.__name__


def begin_request(request: Any, session: str | None, user: str | None) -> None:
    """Name ``request`` in the current task's context: called by the gateway at
    the start of the task that handles it (the task ends with the request)."""
    request_var.set(RequestInfo(request.id, request_type(type(request)), session, user))


def background_task(name: str) -> None:
    """Name the current task a background task (``market``, ``fanout``...):
    its lines and error reports say so, and none of the request whose task
    happened to start it (a lazily started worker inherits that context)."""
    task_var.set(name)
    request_var.set(None)
    session_id_var.set(None)
    user_id_var.set(None)


def configure(level: str) -> None:
    """Send every ``grover.*`` log line to stderr as JSON at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # websockets logs every failed handshake at INFO: keep ours readable.
    logging.getLogger("websockets").setLevel(max(logging.WARNING, root.level))
    logging.Formatter.converter = time.gmtime
