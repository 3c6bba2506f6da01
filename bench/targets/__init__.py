"""The targets a run compares: the two baselines and Grover."""

from __future__ import annotations

from bench.targets.bare import BareTarget
from bench.targets.base import Dialect, Room, Target
from bench.targets.grover import GroverTarget
from bench.targets.socketio import SocketioTarget

TARGET_NAMES = ("bare", "socketio", "grover")


def get_target(name: str, *, bare_fanout: str = "send") -> Target:
    if name == "bare":
        return BareTarget(fanout=bare_fanout)
    if name == "socketio":
        return SocketioTarget()
    if name == "grover":
        return GroverTarget()
    raise ValueError(f"unknown target {name!r} ({', '.join(TARGET_NAMES)})")


def get_dialect(name: str) -> Dialect:
    return get_target(name).dialect()


__all__ = ["TARGET_NAMES", "Dialect", "Room", "Target", "get_dialect", "get_target"]
