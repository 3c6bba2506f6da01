"""Structured logs: one JSON object per line on stderr.

Session, user and actor ids are attached from context variables set by the
gateway while it handles a connection, or from ``extra={...}`` at the call.
"""

from __future__ import annotations

import contextvars
import logging
import sys
import time
from typing import Any

import orjson

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
    "code",
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
        session = session_id_var.get()
        if session is not None:
            entry["session"] = session
        user = user_id_var.get()
        if user is not None:
            entry["user"] = user
        for name in _CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(entry, default=str).decode()


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
