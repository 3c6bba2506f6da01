"""Identifiers: entity ids (24 hex characters, time-sortable like a MongoDB
ObjectId) and actor keys."""

from __future__ import annotations

import secrets
import time
from typing import NamedTuple


def new_id() -> str:
    """A new id: 48 bits of milliseconds since the epoch, then 48 random bits."""
    return f"{int(time.time() * 1000):012x}{secrets.token_hex(6)}"


class ActorKey(NamedTuple):
    """An actor's address: its kind (``user``, ``conversation``, ...) and entity id."""

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"
