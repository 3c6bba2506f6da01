"""Placement: where an actor key lives, and the guard of single activation.

The port and its in-process implementation are here; the Redis cluster's
implementation is :class:`server.cluster.placement.ClusterPlacement`.
"""

from __future__ import annotations

from typing import Any, Protocol

from actors.ids import ActorKey
from actors.message import Message


class Placement(Protocol):
    """Decides where an actor key lives and guards single activation.

    The in-process implementation owns everything; the Redis cluster maps keys
    to nodes and holds a lease per activation.
    """

    def is_local(self, key: ActorKey) -> bool: ...

    async def forward(self, key: ActorKey, message: Message, *, reply: bool, timeout: float) -> Any:
        """Deliver to the node that owns ``key``; with ``reply`` wait for the answer."""

    async def acquire(self, key: ActorKey) -> None:
        """Called before activation; raises if this node may not activate ``key``."""

    async def release(self, key: ActorKey) -> None:
        """Called after passivation."""

    def holds(self, key: ActorKey) -> bool:
        """Whether this node may still handle messages for ``key`` (its lease
        has not lapsed). Checked before every message: this is the fence that
        stops a node that lost a lease before another node takes over."""


class LocalPlacement:
    """Every actor lives in this process."""

    def is_local(self, key: ActorKey) -> bool:
        return True

    async def forward(self, key: ActorKey, message: Message, *, reply: bool, timeout: float) -> Any:
        raise AssertionError("LocalPlacement owns every key; nothing is forwarded")

    async def acquire(self, key: ActorKey) -> None:
        return None

    async def release(self, key: ActorKey) -> None:
        return None

    def holds(self, key: ActorKey) -> bool:
        return True
