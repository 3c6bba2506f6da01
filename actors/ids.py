"""Identifiers: 24 hex characters, time-sortable like a MongoDB ObjectId."""

from __future__ import annotations

import secrets
import time


def new_id() -> str:
    """A new id: 48 bits of milliseconds since the epoch, then 48 random bits."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(6)}"
