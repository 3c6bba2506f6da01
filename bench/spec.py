"""A case: one scenario with its sizes, run against each target in turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec

SOCIAL_KINDS = ("post_fanout", "home_feed", "post_search", "like_notify", "live_chat")
"""Cases only Grover can run (the baselines have no follows, posts, likes,
notifications or live streams); they need a seeded store, written before the server starts
(:mod:`bench.seed`)."""
KINDS = ("connect_storm", "echo", "fanout", "chat_direct", "chat_group", "mixed", *SOCIAL_KINDS)


@dataclass(frozen=True)
class Timing:
    """Bounds of a case: every phase has a limit, and so does the whole case."""

    warmup: float = 1.0
    window: float = 3.0
    drain: float = 2.0
    connect_timeout: float = 60.0
    """For opening all of a case's connections."""
    per_conn_timeout: float = 10.0
    """For one connection's websocket and protocol handshake."""
    concurrency: int = 100
    """Handshakes in progress at once (beyond that a SYN backlog overflows)."""
    max_sends: int = 5_000_000
    """Cap on requests one case may send, whatever the window."""
    progress_every: float = 1.0

    def hard_limit(self) -> float:
        """Seconds after which the runner kills the generator."""
        return self.connect_timeout * 2 + self.warmup + self.window + self.drain + 30


@dataclass(frozen=True)
class CaseSpec:
    name: str
    """Unique within a suite, e.g. ``echo_100``."""
    kind: str
    title: str
    """Human description for the report."""
    params: dict[str, Any] = field(default_factory=dict)
    timing: Timing = field(default_factory=Timing)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown scenario kind {self.kind!r}")

    def to_json(self) -> str:
        return msgspec.json.encode(self).decode()

    @classmethod
    def from_json(cls, text: str | bytes) -> CaseSpec:
        return msgspec.json.decode(text, type=cls)

    def with_params(self, **changes: Any) -> CaseSpec:
        return CaseSpec(self.name, self.kind, self.title, {**self.params, **changes}, self.timing)
