"""Named suites: lists of cases with their sizes. Sizes are overridable from
the command line (see ``python -m bench --help``)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from bench.spec import CaseSpec, Timing


@dataclass(frozen=True)
class Sizes:
    echo_conns: tuple[int, ...] = (100, 1000)
    fanout_subscribers: tuple[int, ...] = (250, 1000)
    """250 fits one Grover group (cap 256); 1000 is live-stream scale."""
    fanout_rate: float = 10.0
    storm_conns: int = 3000
    storm_rate: float = 0.0
    chat_pairs: int = 500
    group_count: int = 50
    group_size: int = 20
    mixed_conns: int = 1000
    mixed_load: float = 1.0
    half_load_fraction: float = 0.5
    post_followers: int = 5000
    """post_fanout: the creator's followers (seeded), of which..."""
    post_connected: int = 1000
    """...these are connected during the case."""
    post_rate: float = 2.0
    """post_fanout: posts/s."""
    feed_authors: int = 2000
    feed_posts_per_author: int = 100
    feed_readers: int = 200
    """home_feed: connected readers, each reading closed loop."""
    feed_follows: int = 500
    """home_feed: authors each reader follows."""
    feed_pages: int = 5
    """home_feed: pages read per pass before starting over from the first."""
    search_posts: int = 200_000
    """post_search: seeded posts (words, a tag and a location each)."""
    search_readers: int = 60
    """post_search: connected readers, a third per kind of query, closed loop."""
    like_authors: int = 200
    """like_notify: connected authors, one seeded post each."""
    like_likers: int = 200
    """like_notify: connected likers, each liking a random post, then unliking it."""
    like_rate: float = 0.0
    """like_notify: likes/s in all (each followed by its unlike); 0: closed loop."""
    live_viewers: int = 5000
    """live_chat: viewers connected to and joined in the one stream."""
    live_chatters: int = 50
    """live_chat: viewers (of those) who chat..."""
    live_rate: float = 100.0
    """...at this many lines/s in all."""


STANDARD_TIMING = Timing(warmup=0.75, window=2.0, drain=3.0)
QUICK_TIMING = Timing(warmup=0.3, window=1.0, drain=1.0, connect_timeout=15.0)

QUICK_SIZES = Sizes(
    echo_conns=(10,),
    fanout_subscribers=(50,),
    fanout_rate=20.0,
    storm_conns=200,
    chat_pairs=10,
    group_count=3,
    group_size=5,
    mixed_conns=60,
    post_followers=200,
    post_connected=50,
    post_rate=5.0,
    feed_authors=50,
    feed_posts_per_author=20,
    feed_readers=20,
    feed_follows=20,
    search_posts=3000,
    search_readers=6,
    like_authors=20,
    like_likers=20,
    live_viewers=50,
    live_chatters=5,
    live_rate=50.0,
)


def build_cases(sizes: Sizes, timing: Timing) -> list[CaseSpec]:
    cases = [
        CaseSpec(
            f"connect_storm_{sizes.storm_conns}",
            "connect_storm",
            f"connect storm: {sizes.storm_conns} connections",
            {"conns": sizes.storm_conns, "rate": sizes.storm_rate},
            timing,
        )
    ]
    for conns in sizes.echo_conns:
        cases.append(
            CaseSpec(
                f"echo_{conns}",
                "echo",
                f"request/reply, {conns} connections, 1 in flight each",
                {"conns": conns, "inflight": 1},
                timing,
            )
        )
    first = sizes.echo_conns[0]
    cases.append(
        CaseSpec(
            f"echo_{first}_half",
            "echo",
            f"request/reply, {first} connections, open loop at "
            f"{sizes.half_load_fraction:g}x each target's own peak",
            # The rate is resolved by the runner from this round's peak.
            {
                "conns": first,
                "inflight": 8,
                "rate_of": f"echo_{first}",
                "rate_fraction": sizes.half_load_fraction,
            },
            timing,
        )
    )
    for subs in sizes.fanout_subscribers:
        cases.append(
            CaseSpec(
                f"fanout_{subs}",
                "fanout",
                f"fan-out: 1 publisher (4 in flight) to {subs} subscribers",
                {"subscribers": subs, "inflight": 4},
                timing,
            )
        )
    subs = sizes.fanout_subscribers[0]
    cases += [
        CaseSpec(
            f"fanout_{subs}_{sizes.fanout_rate:g}hz",
            "fanout",
            f"fan-out: {sizes.fanout_rate:g} publishes/s to {subs} subscribers",
            {"subscribers": subs, "inflight": 8, "rate": sizes.fanout_rate},
            timing,
        ),
        CaseSpec(
            f"chat_direct_{sizes.chat_pairs}",
            "chat_direct",
            f"1:1 chat: {sizes.chat_pairs} pairs, each side 1 message in flight",
            {"pairs": sizes.chat_pairs, "inflight": 1},
            timing,
        ),
        CaseSpec(
            f"chat_group_{sizes.group_count}x{sizes.group_size}",
            "chat_group",
            f"group chat: {sizes.group_count} groups of {sizes.group_size}, "
            "each member 1 message in flight",
            {"groups": sizes.group_count, "size": sizes.group_size, "inflight": 1},
            timing,
        ),
        CaseSpec(
            f"mixed_{sizes.mixed_conns}",
            "mixed",
            f"mixed blend, {sizes.mixed_conns} connections, fixed load x{sizes.mixed_load:g}",
            {"conns": sizes.mixed_conns, "load": sizes.mixed_load},
            timing,
        ),
        CaseSpec(
            f"post_fanout_{sizes.post_followers}",
            "post_fanout",
            f"post fan-out: {sizes.post_rate:g} posts/s to {sizes.post_followers} followers, "
            f"{sizes.post_connected} connected (Grover only; beside fanout_*)",
            {
                "followers": sizes.post_followers,
                "connected": sizes.post_connected,
                "rate": sizes.post_rate,
            },
            timing,
        ),
        CaseSpec(
            f"home_feed_{sizes.feed_readers}",
            "home_feed",
            f"home feed: {sizes.feed_readers} readers following {sizes.feed_follows} of "
            f"{sizes.feed_authors} authors ({sizes.feed_authors * sizes.feed_posts_per_author} "
            f"posts), {sizes.feed_pages} pages deep, closed loop (Grover only)",
            {
                "authors": sizes.feed_authors,
                "posts_per_author": sizes.feed_posts_per_author,
                "readers": sizes.feed_readers,
                "follows": sizes.feed_follows,
                "pages": sizes.feed_pages,
            },
            timing,
        ),
        CaseSpec(
            f"post_search_{sizes.search_posts}",
            "post_search",
            f"search: {sizes.search_readers} readers, a third each by words, tag and "
            f"place, over {sizes.search_posts} posts, closed loop (Grover only)",
            {"posts": sizes.search_posts, "readers": sizes.search_readers},
            timing,
        ),
        CaseSpec(
            f"like_notify_{sizes.like_likers}",
            "like_notify",
            f"like → notification: {sizes.like_likers} likers liking and unliking posts of "
            f"{sizes.like_authors} connected authors, "
            + (f"{sizes.like_rate:g} likes/s" if sizes.like_rate > 0 else "closed loop")
            + " (Grover only)",
            {"authors": sizes.like_authors, "likers": sizes.like_likers, "rate": sizes.like_rate},
            timing,
        ),
        CaseSpec(
            f"live_chat_{sizes.live_viewers}",
            "live_chat",
            f"live chat: one stream, {sizes.live_viewers} viewers joined, "
            f"{sizes.live_chatters} of them chatting at {sizes.live_rate:g} lines/s in all "
            "(Grover only; beside fanout_*)",
            {
                "viewers": sizes.live_viewers,
                "chatters": sizes.live_chatters,
                "rate": sizes.live_rate,
            },
            timing,
        ),
    ]
    return cases


SUITES = ("quick", "standard")


@dataclass(frozen=True)
class SuiteDefaults:
    sizes: Sizes
    timing: Timing
    rounds: int
    cluster_rounds: int | None = None
    """Rounds the grover-cluster target takes part in (the first ones); None: all."""


def suite_defaults(name: str) -> SuiteDefaults:
    """Sizes, timing and rounds of a named suite."""
    if name == "quick":
        return SuiteDefaults(QUICK_SIZES, QUICK_TIMING, 1)
    if name == "standard":
        # A cluster chat case costs ~13 s (three processes to start, 1000
        # accounts to register across nodes) against ~9 s for one node: two
        # rounds keep `make bench` within minutes.
        return SuiteDefaults(Sizes(), STANDARD_TIMING, 3, cluster_rounds=2)
    raise ValueError(f"unknown suite {name!r} ({', '.join(SUITES)})")


def with_timing(timing: Timing, warmup: float | None, window: float | None) -> Timing:
    return replace(
        timing,
        warmup=timing.warmup if warmup is None else warmup,
        window=timing.window if window is None else window,
    )
