"""``python -m bench``: run a suite against the targets and write the results.

Examples::

    python -m bench --suite standard                  # what `make bench` runs
    python -m bench --suite quick --targets bare      # seconds
    python -m bench --only echo_100,fanout_1000 --rounds 5
    python -m bench --list
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
from bench.procs import REPO_ROOT
from bench.runner import RunOptions, run_suite
from bench.spec import CaseSpec
from bench.suites import SUITES, build_cases, suite_defaults, with_timing
from bench.targets import TARGET_NAMES, get_target


def _ints(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in text.split(",") if x)


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
    return p


def select_cases(args: argparse.Namespace) -> tuple[list[CaseSpec], int]:
    base_sizes, base_timing, rounds = suite_defaults(args.suite)
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
    targets = [get_target(n, bare_fanout=args.bare_fanout) for n in args.targets.split(",") if n]
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
    run = uvloop.run(run_suite(cases, targets, options))
    document = report.to_document(run, args.suite, machine)
    paths = report.write_all(document, args.out_dir, args.name)
    print(report.to_markdown(document))
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    failed = [r for r in run.records if r.result.get("error")]
    return 1 if failed and len(failed) == len(run.records) else 0
