"""The targets a run compares: the two baselines, Grover, and Grover as a
cluster of nodes over Redis; and, on request, the bare relay and Grover on
picows."""

from __future__ import annotations

from bench.spec import KINDS
from bench.targets.bare import BarePicowsTarget, BareTarget
from bench.targets.base import Deployment, Dialect, Room, Target
from bench.targets.grover import GroverPicowsTarget, GroverTarget
from bench.targets.grover_cluster import DEFAULT_KINDS, DEFAULT_NODES, GroverClusterTarget
from bench.targets.socketio import SocketioTarget

TARGET_NAMES = ("bare", "socketio", "grover", "grover-picows", "grover-cluster")
"""What ``make bench`` compares."""
EXTRA_TARGET_NAMES = ("bare-picows",)
"""Run only when asked (``--targets bare,bare-picows``)."""


def get_target(
    name: str,
    *,
    bare_fanout: str = "send",
    cluster_nodes: int = DEFAULT_NODES,
    cluster_kinds: tuple[str, ...] = DEFAULT_KINDS,
    cluster_rounds: int | None = None,
    cluster_redis_pool: int | None = None,
) -> Target:
    if name == "bare":
        return BareTarget(fanout=bare_fanout)
    if name == "bare-picows":
        return BarePicowsTarget()
    if name == "socketio":
        return SocketioTarget()
    if name == "grover":
        return GroverTarget()
    if name == "grover-picows":
        return GroverPicowsTarget()
    if name == "grover-cluster":
        unknown = sorted(set(cluster_kinds) - set(KINDS))
        if unknown:
            raise ValueError(f"unknown scenario kind(s) {unknown} ({', '.join(KINDS)})")
        return GroverClusterTarget(cluster_nodes, cluster_kinds, cluster_rounds, cluster_redis_pool)
    names = ", ".join(TARGET_NAMES + EXTRA_TARGET_NAMES)
    raise ValueError(f"unknown target {name!r} ({names})")


def get_dialect(name: str) -> Dialect:
    return get_target(name).dialect()


__all__ = [
    "TARGET_NAMES",
    "Deployment",
    "Dialect",
    "Room",
    "Target",
    "get_dialect",
    "get_target",
]
