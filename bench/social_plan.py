"""What the social cases' seeded store holds, derived from the case's
params alone: the seeder (:mod:`bench.seed`, before the server starts)
writes it and the generator (:mod:`bench.scenarios.social`) logs in and
checks against it, so nothing but the params passes between them.

Light on purpose (no server imports): the generator imports it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PASSWORD = "bench-password-1"
"""Every seeded account's password (hashed once with the bench's cheap argon2)."""


@dataclass(frozen=True)
class FanoutPlan:
    """``post_fanout``: one creator followed by ``followers`` accounts, of which
    ``connected`` log in during the case; the others exist only as follow
    edges (the fan-out still walks them)."""

    followers: int
    connected: int

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> FanoutPlan:
        plan = cls(int(params.get("followers", 5000)), int(params.get("connected", 1000)))
        if not 0 < plan.connected <= plan.followers:
            raise ValueError(f"connected ({plan.connected}) must be 1..followers")
        return plan

    creator = "pf_creator"

    @staticmethod
    def follower(i: int) -> str:
        return f"pf_{i}"

    def connected_indices(self) -> list[int]:
        """Spread over the followers: ids are time-sortable and the fan-out
        walks followers by id in batches, so the first ``connected`` would all
        sit in the first batches; these are spread over every batch."""
        return [i * self.followers // self.connected for i in range(self.connected)]


@dataclass(frozen=True)
class FeedPlan:
    """``home_feed``: ``authors`` accounts with ``posts_per_author`` posts each,
    and ``readers`` accounts that each follow ``follows`` of the authors (and
    post nothing)."""

    authors: int
    posts_per_author: int
    readers: int
    follows: int

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> FeedPlan:
        plan = cls(
            int(params.get("authors", 2000)),
            int(params.get("posts_per_author", 100)),
            int(params.get("readers", 200)),
            int(params.get("follows", 500)),
        )
        if not 0 < plan.follows <= plan.authors:
            raise ValueError(f"follows ({plan.follows}) must be 1..authors ({plan.authors})")
        return plan

    @property
    def posts(self) -> int:
        return self.authors * self.posts_per_author

    @staticmethod
    def author(a: int) -> str:
        return f"hf_a{a}"

    @staticmethod
    def reader(r: int) -> str:
        return f"hf_r{r}"

    def followees(self, r: int) -> list[int]:
        """The authors reader ``r`` follows: a window of ``follows``
        consecutive authors, shifted per reader so readers overlap partly."""
        stride = max(1, self.authors // max(1, self.readers))
        return [(r * stride + j) % self.authors for j in range(self.follows)]


#: The words of the search case's posts (and of its text queries).
SEARCH_WORDS = (
    "sunset",
    "beach",
    "coffee",
    "mountain",
    "river",
    "city",
    "night",
    "market",
    "garden",
    "music",
    "street",
    "bread",
    "rain",
    "snow",
    "forest",
    "harbour",
    "bridge",
    "festival",
    "train",
    "museum",
)
#: Its tags: each post carries one.
SEARCH_TAGS = tuple(f"{word}{n}" for word in ("travel", "food", "art", "sport") for n in range(10))


@dataclass(frozen=True)
class SearchPlan:
    """``post_search``: ``posts`` posts by ``authors`` accounts, each with
    three words of :data:`SEARCH_WORDS`, one tag of :data:`SEARCH_TAGS` and a
    location spread uniformly over a region of ``region_deg`` degrees square
    (from 43°N 0°E: southern France); ``readers`` accounts search."""

    posts: int
    authors: int
    readers: int
    region_deg: float = 6.0

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> SearchPlan:
        return cls(
            int(params.get("posts", 200_000)),
            int(params.get("authors", 500)),
            int(params.get("readers", 60)),
        )

    @staticmethod
    def author(a: int) -> str:
        return f"ps_a{a}"

    @staticmethod
    def reader(r: int) -> str:
        return f"ps_r{r}"

    def post(self, i: int) -> tuple[str, str, float, float]:
        """Post ``i``'s text, tag, latitude and longitude (a cheap hash of ``i``)."""
        h = (i * 2654435761) & 0xFFFFFFFF
        words = [SEARCH_WORDS[(h >> s) % len(SEARCH_WORDS)] for s in (0, 7, 14)]
        tag = SEARCH_TAGS[(h >> 21) % len(SEARCH_TAGS)]
        lat = 43 + self.region_deg * ((h * 7919) % 10007) / 10007
        lon = self.region_deg * ((h * 104729) % 10009) / 10009
        return " ".join(words), tag, lat, lon


@dataclass(frozen=True)
class LikePlan:
    """``like_notify``: ``authors`` accounts with one post each and ``likers``
    accounts that like and unlike them; all of them connected during the case."""

    authors: int
    likers: int

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> LikePlan:
        plan = cls(int(params.get("authors", 200)), int(params.get("likers", 200)))
        if plan.authors < 1 or plan.likers < 1:
            raise ValueError(f"like_notify needs authors and likers ({plan})")
        return plan

    @staticmethod
    def author(a: int) -> str:
        return f"ln_a{a}"

    @staticmethod
    def liker(i: int) -> str:
        return f"ln_l{i}"


@dataclass(frozen=True)
class LivePlan:
    """``live_chat``: a host and ``viewers`` accounts, all connected; the host
    goes live, every viewer joins, and ``chatters`` of the viewers (spread
    over them) send chat lines at ``rate`` lines/s in all."""

    viewers: int
    chatters: int
    rate: float

    @classmethod
    def from_params(cls, params: dict[str, Any]) -> LivePlan:
        plan = cls(
            int(params.get("viewers", 5000)),
            int(params.get("chatters", 50)),
            float(params.get("rate", 100.0)),
        )
        if not 0 < plan.chatters <= plan.viewers or plan.rate <= 0:
            raise ValueError(f"live_chat needs 1..viewers chatters and a rate > 0 ({plan})")
        return plan

    host = "lc_host"

    @staticmethod
    def viewer(i: int) -> str:
        return f"lc_v{i}"

    def chatter_indices(self) -> list[int]:
        """Which viewers chat: spread over them (and so over a cluster's nodes)."""
        return [i * self.viewers // self.chatters for i in range(self.chatters)]
