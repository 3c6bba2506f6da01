"""Identifiers: entity ids (24 hex characters, time-sortable like a MongoDB
ObjectId) and actor keys."""

from __future__ import annotations

import random
import time
from typing import NamedTuple

_random = random.Random()
"""Seeded from the OS once, per process: ids must not collide, but they are
not secrets (knowing one grants nothing), and ``secrets`` costs a system call
per id, which showed in the chat profile (one id per message). Secrets, such
as session ids and tokens, come from :mod:`secrets`."""


def new_id() -> str:
    """A new id: 48 bits of milliseconds since the epoch, then 48 random bits."""
    return f"{int(time.time() * 1000):012x}{_random.getrandbits(48):012x}"


class ActorKey(NamedTuple):
    """An actor's address: its kind (``user``, ``conversation``, ...) and entity id."""

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"
