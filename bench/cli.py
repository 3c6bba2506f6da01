"""``python -m bench``: run a suite against the targets and write the results.

Examples::

    python -m bench --suite standard                  # what `make bench` runs
    python -m bench --suite quick --targets bare      # seconds
    python -m bench --only echo_100,fanout_1000 --rounds 5
    python -m bench --targets grover,grover-cluster --cluster-nodes 3
    python -m bench --list

SIGTERM or SIGINT (Ctrl-C) stops every server, generator and Redis the run
started, by pid, and exits with 128 + the signal number without writing
results; a second signal kills them without waiting.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import uvloop

from bench import report
from bench.clients import CLIENT_NAMES
from bench.machine import machine_info
from bench.procs import CHILDREN, REPO_ROOT
from bench.runner import Interrupted, RunOptions, run_interruptible
from bench.spec import KINDS, CaseSpec
from bench.suites import SUITES, build_cases, suite_defaults, with_timing
from bench.targets import TARGET_NAMES, get_target
from bench.targets.grover_cluster import DEFAULT_KINDS, DEFAULT_NODES


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x)


def _kinds(text: str) -> tuple[str, ...]:
    kinds = tuple(x for x in text.split(",") if x)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown kind(s) {unknown}; known: {', '.join(KINDS)}")
    return kinds


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--suite", choices=SUITES, default="standard")
    p.add_argument(
        "--targets",
        default=",".join(TARGET_NAMES),
        help="comma-separated, run in this order within each case",
    )
    p.add_argument("--only", default="", help="comma-separated case names (see --list)")
    p.add_argument("--rounds", type=int, default=None)
    p.add_argument("--warmup", type=float, default=None, help="seconds before each window")
    p.add_argument("--window", type=float, default=None, help="seconds measured per case")
    p.add_argument(
        "--client",
        choices=CLIENT_NAMES,
        default="picows",
        help="generator's websocket client layer",
    )
    p.add_argument("--no-pin", action="store_true", help="do not pin with taskset")
    p.add_argument("--bare-fanout", choices=("send", "broadcast"), default="send")
    cluster = p.add_argument_group("grover-cluster target")
    cluster.add_argument(
        "--cluster-nodes", type=int, default=DEFAULT_NODES, help="Grover nodes (plus one Redis)"
    )
    cluster.add_argument(
        "--cluster-kinds",
        type=_kinds,
        default=DEFAULT_KINDS,
        help=f"scenario kinds it runs (default: {','.join(DEFAULT_KINDS)})",
    )
    cluster.add_argument(
        "--cluster-redis-pool",
        type=int,
        default=None,
        help="Redis connections per node (?max_connections=N in its Redis URL); "
        "default: the node's own",
    )
    cluster.add_argument(
        "--cluster-rounds",
        type=int,
        default=None,
        help="take part in the first N rounds only (default: the suite's)",
    )
    p.add_argument("--out-dir", type=Path, default=REPO_ROOT / "bench" / "results")
    p.add_argument("--name", default="latest", help="output files are NAME.{json,md,png}")
    p.add_argument("--list", action="store_true", help="print the cases and exit")
    p.add_argument("--max-retries", type=int, default=1, help="repeats of a disturbed run")
    p.add_argument(
        "--quiet-threshold",
        type=float,
        default=25.0,
        help="machine CPU %% below which a case may start (bounded wait)",
    )
    sizes = p.add_argument_group("sizes (default: the suite's)")
    sizes.add_argument("--echo-conns", type=_ints, default=None, help="e.g. 100,1000")
    sizes.add_argument("--fanout-subscribers", type=_ints, default=None, help="e.g. 250,1000")
    sizes.add_argument("--fanout-rate", type=float, default=None, help="publishes/s")
    sizes.add_argument("--storm-conns", type=int, default=None)
    sizes.add_argument("--storm-rate", type=float, default=None, help="connects/s, 0 = max")
    sizes.add_argument("--chat-pairs", type=int, default=None)
    sizes.add_argument("--group-count", type=int, default=None)
    sizes.add_argument("--group-size", type=int, default=None)
    sizes.add_argument("--mixed-conns", type=int, default=None)
    sizes.add_argument("--mixed-load", type=float, default=None)
    sizes.add_argument("--post-followers", type=int, default=None, help="post_fanout")
    sizes.add_argument("--post-connected", type=int, default=None, help="post_fanout")
    sizes.add_argument("--post-rate", type=float, default=None, help="post_fanout: posts/s")
    sizes.add_argument("--feed-authors", type=int, default=None, help="home_feed")
    sizes.add_argument("--feed-posts-per-author", type=int, default=None, help="home_feed")
    sizes.add_argument("--feed-readers", type=int, default=None, help="home_feed")
    sizes.add_argument("--feed-follows", type=int, default=None, help="home_feed")
    sizes.add_argument("--feed-pages", type=int, default=None, help="home_feed: pages per pass")
    sizes.add_argument("--like-authors", type=int, default=None, help="like_notify")
    sizes.add_argument("--like-likers", type=int, default=None, help="like_notify")
    sizes.add_argument(
        "--like-rate", type=float, default=None, help="like_notify: likes/s, 0 = closed loop"
    )
    sizes.add_argument("--live-viewers", type=int, default=None, help="live_chat")
    sizes.add_argument("--live-chatters", type=int, default=None, help="live_chat")
    sizes.add_argument(
        "--live-rate", type=float, default=None, help="live_chat: chat lines/s in all"
    )
    return p


def select_cases(args: argparse.Namespace) -> tuple[list[CaseSpec], int]:
    defaults = suite_defaults(args.suite)
    base_sizes, base_timing, rounds = defaults.sizes, defaults.timing, defaults.rounds
    overrides = {
        field: getattr(args, field)
        for field in (
            "echo_conns",
            "fanout_subscribers",
            "fanout_rate",
            "storm_conns",
            "storm_rate",
            "chat_pairs",
            "group_count",
            "group_size",
            "mixed_conns",
            "mixed_load",
            "post_followers",
            "post_connected",
            "post_rate",
            "feed_authors",
            "feed_posts_per_author",
            "feed_readers",
            "feed_follows",
            "feed_pages",
            "like_authors",
            "like_likers",
            "like_rate",
            "live_viewers",
            "live_chatters",
            "live_rate",
        )
        if getattr(args, field) is not None
    }
    sizes = replace(base_sizes, **overrides)
    cases = build_cases(sizes, with_timing(base_timing, args.warmup, args.window))
    if args.only:
        wanted = [n for n in args.only.split(",") if n]
        names = {c.name for c in cases}
        unknown = [n for n in wanted if n not in names]
        if unknown:
            raise SystemExit(f"unknown case(s) {unknown}; known: {sorted(names)}")
        cases = [c for c in cases if c.name in wanted]
    return cases, args.rounds if args.rounds is not None else rounds


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    cases, rounds = select_cases(args)
    if args.list:
        for case in cases:
            print(f"{case.name:28} {case.title}")
        return 0
    cluster_rounds = args.cluster_rounds
    if cluster_rounds is None:
        cluster_rounds = suite_defaults(args.suite).cluster_rounds
    try:
        targets = [
            get_target(
                name,
                bare_fanout=args.bare_fanout,
                cluster_nodes=args.cluster_nodes,
                cluster_kinds=args.cluster_kinds,
                cluster_rounds=cluster_rounds,
                cluster_redis_pool=args.cluster_redis_pool,
            )
            for name in args.targets.split(",")
            if name
        ]
    except ValueError as exc:
        raise SystemExit(str(exc)) from None
    options = RunOptions(
        rounds=rounds,
        client=args.client,
        pin=not args.no_pin,
        quiet_threshold_pct=args.quiet_threshold,
        max_retries=args.max_retries,
    )
    machine = machine_info()
    print(
        f"bench: suite {args.suite}, {len(cases)} cases x {len(targets)} targets x "
        f"{rounds} rounds on {machine['cpu_model']} ({machine['logical_cores']} cores)",
        file=sys.stderr,
        flush=True,
    )
    for target in targets:
        if target.max_rounds is not None and target.max_rounds < rounds:
            print(
                f"bench: {target.name} takes part in the first {target.max_rounds} of "
                f"{rounds} rounds only (--cluster-rounds), to keep the suite short",
                file=sys.stderr,
                flush=True,
            )
    try:
        run = uvloop.run(run_interruptible(cases, targets, options))
    except Interrupted as exc:
        print(f"bench: {exc}; no results written", file=sys.stderr, flush=True)
        return 128 + exc.signum
    finally:
        # Last resort (an exception escaping the loop, a signal in a gap):
        # nothing this run started may outlive it.
        CHILDREN.kill_all()
    document = report.to_document(run, args.suite, machine)
    paths = report.write_all(document, args.out_dir, args.name)
    print(report.to_markdown(document))
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    failed = [r for r in run.records if r.result.get("error")]
    return 1 if failed and len(failed) == len(run.records) else 0
