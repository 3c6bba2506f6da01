"""Grover as a cluster on one machine: a private ``redis-server`` and N nodes
(``python -m server.cli serve --redis-url ... --node-id nI``) sharing one
data dir, hence one SQLite file in WAL mode (issue 5's deployment, minus the
load balancer). The generator spreads its connections over the nodes
round-robin, so the members of a conversation sit on different nodes and
every message crosses nodes through Redis.

All of it (nodes and Redis) is pinned to the single server core, as the
single-node server is: on a 2-core machine the other core drives the load,
so nodes cannot each have a core. The figures are therefore per server core
and answer "what does spreading users over nodes cost", not "how far does
adding machines scale". Server CPU is the sum over nodes and Redis; Redis's
part is reported on its own.

Speaks the same dialect as :mod:`bench.targets.grover`.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.procs import ServerProcess, free_port, pinned
from bench.serverstats import stats_url
from bench.spec import CaseSpec
from bench.targets.base import Deployment
from bench.targets.grover import GroverTarget

DEFAULT_NODES = 2
DEFAULT_KINDS = ("chat_direct", "chat_group")
"""The scenarios a cluster is for: conversations whose members sit on
different nodes. The others measure one node's gateway and are left out to
keep the standard suite short (``--cluster-kinds`` adds them)."""

CONVERGE_TIMEOUT = 20.0
"""For every node to list every other as live (heartbeats are 1 s apart)."""


def redis_binary() -> str | None:
    return shutil.which("redis-server")


def redis_command(binary: str, port: int, workdir: Path) -> list[str]:
    """A private Redis: loopback only, no persistence (the bench never
    restarts it), files (none expected) in ``workdir``."""
    return [
        binary,
        "--port", str(port),
        "--bind", "127.0.0.1",
        "--save", "",
        "--appendonly", "no",
        "--dir", str(workdir),
    ]  # fmt: skip


class GroverClusterTarget(GroverTarget):
    name = "grover-cluster"

    def __init__(
        self,
        nodes: int = DEFAULT_NODES,
        kinds: tuple[str, ...] = DEFAULT_KINDS,
        max_rounds: int | None = None,
        redis_pool: int | None = None,
    ) -> None:
        """``redis_pool``: when set, each node's Redis URL carries
        ``?max_connections=N`` (redis-py reads it from the URL); None leaves
        the node's client at its own default."""
        if nodes < 1:
            raise ValueError("a cluster needs at least one node")
        if redis_pool is not None and redis_pool < 1:
            raise ValueError("the Redis pool needs at least one connection")
        self.nodes = nodes
        self.kinds = kinds
        self.max_rounds = max_rounds
        self.redis_pool = redis_pool
        self.label = f"Grover, {nodes}-node cluster over Redis"

    def skip(self, spec: CaseSpec) -> str | None:
        if spec.kind not in self.kinds:
            return f"not run: the cluster target runs {', '.join(self.kinds)} only"
        if redis_binary() is None:
            return "not available: redis-server is not installed (make redis-server)"
        return None

    async def start(self, workdir: Path, core: int | None) -> Deployment:
        binary = redis_binary()
        if binary is None:
            raise RuntimeError("redis-server is not installed")
        (workdir / "redis").mkdir(parents=True, exist_ok=True)
        redis_port = free_port()
        redis = ServerProcess(
            pinned(redis_command(binary, redis_port, workdir / "redis"), core),
            workdir / "redis.log",
            "redis",
        )
        deployment = Deployment([], [], redis)
        try:
            await redis.wait_listening(redis_port, 10.0)
            url = f"redis://127.0.0.1:{redis_port}/0"
            if self.redis_pool is not None:
                url += f"?max_connections={self.redis_pool}"
            sidecars = await self._start_nodes(deployment, url, workdir, core)
            deployment.stats_urls = [stats_url(port) for port in sidecars]
            await _converge(sidecars, [f"n{i + 1}" for i in range(self.nodes)])
        except BaseException:
            await deployment.stop()
            raise
        return deployment

    async def _start_nodes(
        self, deployment: Deployment, redis_url: str, workdir: Path, core: int | None
    ) -> list[int]:
        """Start the nodes into ``deployment`` (so a failure stops them too);
        return their sidecar ports."""
        sidecars: list[int] = []
        ports: list[int] = []
        for i in range(self.nodes):
            node_id = f"n{i + 1}"
            port, sidecar = free_port(), free_port()
            argv = self.node_command(
                port, sidecar, workdir / "data", "--redis-url", redis_url, "--node-id", node_id
            )
            deployment.nodes.append(
                ServerProcess(pinned(argv, core), workdir / f"{node_id}.log", node_id)
            )
            deployment.urls.append(self.url(port))
            sidecars.append(sidecar)
            ports.append(port)
            if i == 0:
                # The first node creates the SQLite schema; the others, started
                # after it listens, find it instead of racing to create it.
                await deployment.nodes[0].wait_listening(port, self.startup_timeout())
        await asyncio.gather(
            *(
                node.wait_listening(port, self.startup_timeout())
                for node, port in zip(deployment.nodes[1:], ports[1:], strict=True)
            )
        )
        return sidecars

    def describe(self) -> dict[str, Any]:
        return {
            "nodes": f"{self.nodes} (n1..n{self.nodes}), one private redis-server "
            "(no persistence), one SQLite file shared through the data dir (WAL)",
            "connections": "round-robin over the nodes: members of a conversation "
            "sit on different nodes",
            "cpu": "nodes and Redis all pinned to the server core; server CPU is their "
            "sum, Redis's part shown separately",
            "redis_pool": "the node's default (redis-py asyncio: 100 connections)"
            if self.redis_pool is None
            else f"max_connections={self.redis_pool} per node (--cluster-redis-pool)",
            "cases": ", ".join(self.kinds),
            "rounds": "all" if self.max_rounds is None else f"first {self.max_rounds}",
            **{k: v for k, v in super().describe().items() if k != "store"},
        }


async def _converge(sidecars: list[int], expected: list[str]) -> None:
    """Wait (bounded) until every node's /readyz is ready and lists every
    node as live, so no case starts while placement still sees a partial
    cluster."""
    want = sorted(expected)
    last: list[Any] = []
    deadline = time.monotonic() + CONVERGE_TIMEOUT
    timeout = aiohttp.ClientTimeout(total=2.0)
    async with aiohttp.ClientSession(timeout=timeout) as http:
        while time.monotonic() < deadline:
            last = [await _members(http, port) for port in sidecars]
            if all(members == want for members in last):
                return
            await asyncio.sleep(0.1)
    raise TimeoutError(
        f"cluster did not converge on {want} within {CONVERGE_TIMEOUT:.0f}s: the nodes saw {last}"
    )


async def _members(http: aiohttp.ClientSession, sidecar: int) -> list[str] | str:
    """One node's view of the live members, or why it has none yet."""
    try:
        async with http.get(f"http://127.0.0.1:{sidecar}/readyz") as response:
            body = await response.json()
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return f"{type(exc).__name__}"
    cluster = body.get("cluster") or {}
    if body.get("status") != "ready":
        return f"not ready: {cluster}"
    return sorted(cluster.get("members") or [])
