"""Turning a suite run into numbers people read: medians over rounds, ratios
between targets from the same round, and the JSON / markdown / PNG files."""

from __future__ import annotations

import dataclasses
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec
from matplotlib.figure import Figure

from bench.fmt import ms as _ms
from bench.fmt import num as _num
from bench.fmt import per as _per
from bench.fmt import ratio as _ratio
from bench.report_social import social_section
from bench.runner import SuiteRun
from bench.stats import median, ratio

RATIO_PAIRS = (
    ("grover", "bare"),
    ("grover", "socketio"),
    ("bare", "socketio"),
    ("grover-cluster", "grover"),
    ("grover-cluster", "bare"),
    ("grover-cluster", "socketio"),
    ("grover-picows", "bare"),
    ("grover-picows", "grover"),
)
"""Ratios of the headline metric computed for every case; the tables show
those whose two targets took part in the run."""

CLUSTER_TARGETS = ("grover-cluster",)

_PRIMARY_LABEL = {
    "acks_per_s": "round trips or messages/s",
    "deliveries_per_s": "deliveries/s",
    "conns_per_s": "connections/s",
    "work_per_server_core": "work per server core (frames/s at 100% CPU)",
    "likes_per_s": "likes/s (each with its unlike)",
}


def _get(result: dict[str, Any], *path: str) -> Any:
    value: Any = result
    for key in path:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _latency_key(kind: str) -> str:
    """Which latency tells the story of a scenario kind."""
    delivered = (
        "fanout",
        "chat_direct",
        "chat_group",
        "mixed",
        "post_fanout",
        "like_notify",
        "live_chat",
    )
    return "delivery" if kind in delivered else "ack"


def summarize(run: SuiteRun) -> dict[str, Any]:
    """Per case and target: medians over the rounds that produced numbers,
    and per-round ratios of the headline metric (then their median)."""
    summary: dict[str, Any] = {}
    for case in run.cases:
        per_target: dict[str, Any] = {}
        for target in run.targets:
            finals = [run.final(r, case.name, target.name) for r in range(run.options.rounds)]
            results = [f.result for f in finals if f is not None]
            per_target[target.name] = _target_summary(case.kind, results, finals)
        ratios: dict[str, Any] = {}
        for top, bottom in RATIO_PAIRS:
            per_round = []
            for r in range(run.options.rounds):
                a = run.final(r, case.name, top)
                b = run.final(r, case.name, bottom)
                if a is None or b is None:
                    continue
                value = ratio(
                    _get(a.result, "primary", "value"), _get(b.result, "primary", "value")
                )
                if value is not None:
                    per_round.append(round(value, 3))
            ratios[f"{top}/{bottom}"] = {"median": median(per_round), "rounds": per_round}
        summary[case.name] = {
            "kind": case.kind,
            "title": case.title,
            "targets": per_target,
            "ratios": ratios,
            "extra_cpu_us_per_msg": {
                f"{target}/grover": _extra_cpu(run, case.name, target) for target in CLUSTER_TARGETS
            },
        }
    return summary


def _cpu_us_per_ack(result: dict[str, Any]) -> float | None:
    """Server CPU (every node and Redis) per acked message or request, in
    µs: the share of a core over the window divided by acks per second."""
    server_pct, acks = _get(result, "cpu", "server_pct"), _get(result, "metrics", "acks_per_s")
    if server_pct is None or not acks:
        return None
    return float(server_pct) * 1e4 / float(acks)


def _extra_cpu(run: SuiteRun, case: str, target: str) -> dict[str, Any]:
    """What a message costs ``target`` in server CPU beyond what it costs
    one Grover node, per round (both back to back), and the median."""
    per_round = []
    for r in range(run.options.rounds):
        a, b = run.final(r, case, target), run.final(r, case, "grover")
        if a is None or b is None:
            continue
        cost, base = _cpu_us_per_ack(a.result), _cpu_us_per_ack(b.result)
        if cost is not None and base is not None:
            per_round.append(round(cost - base, 1))
    return {"median": median(per_round), "rounds": per_round}


def _target_summary(
    kind: str, results: list[dict[str, Any]], finals: Sequence[Any]
) -> dict[str, Any]:
    measured = [r for r in results if "metrics" in r]
    reasons = sorted({r["unavailable"] for r in results if r.get("unavailable")})
    failures = sorted({r["error"] for r in results if r.get("error")})
    if not measured:
        return {"available": False, "reason": "; ".join(reasons or failures or ["no result"])}
    lat = _latency_key(kind)

    def med(*path: str) -> float | None:
        return median(_get(r, *path) for r in measured)

    bounds = Counter(r.get("bound") for r in measured)
    return {
        "available": True,
        "rounds_measured": len(measured),
        "rounds_disturbed": sum(1 for f in finals if f is not None and f.disturbed),
        "primary_metric": measured[0]["primary"]["metric"],
        "primary": med("primary", "value"),
        "acks_per_s": med("metrics", "acks_per_s"),
        "deliveries_per_s": med("metrics", "deliveries_per_s"),
        "conns_per_s": med("metrics", "conns_per_s"),
        "time_to_n_s": med("metrics", "time_to_n_s"),
        "connections": med("connect", "opened"),
        "rss_per_conn_bytes": med("metrics", "rss_per_conn_bytes"),
        "latency_kind": "connect" if kind == "connect_storm" else lat,
        "latency_p50_ms": med("metrics", "ack" if kind == "connect_storm" else lat, "p50_ms"),
        "latency_p99_ms": med("metrics", "ack" if kind == "connect_storm" else lat, "p99_ms"),
        "latency_p999_ms": med("metrics", "ack" if kind == "connect_storm" else lat, "p999_ms"),
        "ack_p50_ms": med("metrics", "ack", "p50_ms"),
        "ack_p99_ms": med("metrics", "ack", "p99_ms"),
        "ack_p999_ms": med("metrics", "ack", "p999_ms"),
        "delivery_p50_ms": med("metrics", "delivery", "p50_ms"),
        "delivery_p99_ms": med("metrics", "delivery", "p99_ms"),
        "delivery_p999_ms": med("metrics", "delivery", "p999_ms"),
        "server_pct": med("cpu", "server_pct"),
        "cpu_us_per_ack": median(_cpu_us_per_ack(r) for r in measured),
        "per_message": _median_per_message(measured),
        "redis_pct": med("cpu", "redis_pct"),
        "nodes_pct": _median_per_node(measured),
        "generator_pct": med("cpu", "generator_pct"),
        "other_pct": med("cpu", "other_pct"),
        "bound": bounds.most_common(1)[0][0],
        "errors_total": sum(int(r.get("errors_total") or 0) for r in measured),
        "error_kinds": sorted({k for r in measured for k in (r.get("errors") or {})}),
        "request_bytes": measured[0].get("request_bytes"),
        "server_warnings": _sum_warnings(results),
        "offered_rate": med("offered_rate"),
        "failures": failures,
        # like_notify: a like's own ack (its unlike's apart) and CPU per like.
        "likes_per_s": med("metrics", "likes_per_s"),
        "like_ack_p50_ms": med("metrics", "like_ack", "p50_ms"),
        "like_ack_p99_ms": med("metrics", "like_ack", "p99_ms"),
        "server_us_per_like": med("metrics", "server_us_per_like"),
        # live_chat: chat.updated frames (several lines each).
        "frames_per_s": med("metrics", "frames_per_s"),
        "lines_per_frame": med("metrics", "lines_per_frame"),
    }


def _sum_warnings(results: list[dict[str, Any]]) -> dict[str, int]:
    """What the server logged at warning level or above, summed over rounds."""
    total: Counter[str] = Counter()
    for result in results:
        total.update(result.get("server_warnings") or {})
    return dict(total.most_common())


def _median_per_message(measured: list[dict[str, Any]]) -> dict[str, float | None]:
    """Median over the rounds of each per-message figure the nodes' own
    counters gave (``server_stats``, Grover only)."""
    rounds = [_get(r, "server_stats", "per_message") or {} for r in measured]
    figures = {figure for per_message in rounds for figure in per_message}
    return {f: median(p.get(f) for p in rounds) for f in sorted(figures)}


def _median_per_node(measured: list[dict[str, Any]]) -> list[float | None]:
    """Median CPU of node 1, node 2, ... over the rounds."""
    per_round = [_get(r, "cpu", "nodes_pct") or [] for r in measured]
    count = max((len(nodes) for nodes in per_round), default=0)
    return [median(nodes[i] for nodes in per_round if len(nodes) > i) for i in range(count)]


# ------------------------------------------------------------------ JSON


def to_document(run: SuiteRun, suite: str, machine: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": 1,
        "suite": suite,
        "machine": machine,
        "options": dataclasses.asdict(run.options),
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "duration_s": round((run.finished_at or time.time()) - run.started_at, 1),
        "layout": "server side (a cluster's nodes and Redis too) pinned to core 0, "
        "generator to core 1 (taskset)"
        if run.options.pin
        else "unpinned",
        "targets": {
            t.name: {
                "label": t.label,
                "settings": t.describe(),
                "rounds": min(run.options.rounds, t.max_rounds or run.options.rounds),
            }
            for t in run.targets
        },
        "cases": [msgspec.to_builtins(c) for c in run.cases],
        "runs": [dataclasses.asdict(r) for r in run.records],
        "summary": summarize(run),
    }


def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_json(document: dict[str, Any], path: Path) -> None:
    _write_atomic(path, msgspec.json.format(msgspec.json.encode(document), indent=1) + b"\n")


# ------------------------------------------------------------------ markdown


def _redis_short(version: str) -> str:
    """``Redis server v=7.0.15 sha=...`` -> ``redis-server 7.0.15``."""
    for word in version.split():
        if word.startswith("v="):
            return f"redis-server {word[2:]}"
    return version


def _code_line(machine: dict[str, Any]) -> str:
    """Which code was measured: the commit, and uncommitted server-side edits
    (the servers run from the working tree, edits included)."""
    commit = (machine.get("git_commit") or "unknown")[:10]
    dirty = [
        path for path in machine.get("git_dirty") or [] if not path.startswith(("bench/", "tests/"))
    ]
    if not dirty:
        return f"Code: commit `{commit}`."
    return (
        f"Code: commit `{commit}` plus uncommitted changes to {', '.join(dirty)} "
        "(the servers ran from the working tree)."
    )


def to_markdown(document: dict[str, Any]) -> str:
    machine = document["machine"]
    targets = list(document["targets"])
    summary: dict[str, Any] = document["summary"]
    pkgs = machine["packages"]
    pairs = [f"{a}/{b}" for a, b in RATIO_PAIRS if a in targets and b in targets]
    rounds = document["options"]["rounds"]
    fewer = [
        f"{name}: {info['rounds']}"
        for name, info in document["targets"].items()
        if info.get("rounds", rounds) < rounds
    ]
    lines = [
        f"# Grover bench: suite `{document['suite']}`",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime(document['started_at']))}, "
        f"{document['duration_s']:.0f} s. **Machine:** {machine['cpu_model']}, "
        f"{machine['logical_cores']} logical cores, Python {machine['python']}, "
        f"{machine['platform']}. {document['layout']}; generator client "
        f"`{document['options']['client']}`. Medians of {rounds} round(s)"
        + (f" ({', '.join(fewer)}, to keep the suite short)" if fewer else "")
        + "; each ratio is the median of ratios between runs made back to back "
        "in the same round.",
        "",
        "Versions: "
        + ", ".join(f"{k} {v}" for k, v in pkgs.items() if v)
        + (f"; {_redis_short(machine['redis_server'])}" if machine.get("redis_server") else "")
        + ".",
        "",
        _code_line(machine),
        "",
        "## Headline",
        "",
        "| scenario | metric | " + " | ".join([*targets, *pairs]) + " |",
        "| --- | --- | " + " | ".join("---:" for _ in [*targets, *pairs]) + " |",
    ]
    for name, entry in summary.items():
        cells = []
        metric = ""
        for target in targets:
            t = entry["targets"].get(target, {})
            if not t.get("available"):
                cells.append("n/a")
                continue
            metric = metric or _PRIMARY_LABEL.get(t["primary_metric"], t["primary_metric"])
            cells.append(_num(t["primary"]))
        ratios = [_ratio(entry["ratios"].get(pair, {}).get("median")) for pair in pairs]
        lines.append(f"| {name} | {metric} | " + " | ".join([*cells, *ratios]) + " |")
    clustered = [t for t in targets if t in CLUSTER_TARGETS]
    redis_col = bool(clustered)
    lines += [
        "",
        "## Latency, CPU, bounds",
        "",
        "Latency is the reply to a request (ack), the arrival at a receiver of a "
        "message it did not send (delivery, from the send timestamp inside the "
        "payload), or the connect+handshake time (connect storm). CPU is percent "
        "of one core over the measured window; **bound** says which process was "
        "saturated (≥90%): a result is the server's only when it says `server`."
        + (
            " A cluster's server CPU is the sum of its nodes and its Redis, all on "
            "the server core; Redis's part is also shown on its own."
            if redis_col
            else ""
        ),
        "",
        "| scenario | target | throughput | latency | p50 ms | p99 ms | p99.9 ms | server CPU "
        + ("| of which Redis " if redis_col else "")
        + "| generator CPU | other CPU | bound | errors |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | "
        + ("---: | " if redis_col else "")
        + "---: | ---: | --- | ---: |",
    ]
    for name, entry in summary.items():
        for target in targets:
            t = entry["targets"].get(target, {})
            if not t.get("available"):
                continue
            throughput = (
                f"{_num(t['deliveries_per_s'])} deliv/s, {_num(t['acks_per_s'])} acks/s"
                if t["deliveries_per_s"]
                else f"{_num(t['conns_per_s'])} conn/s"
                if t["conns_per_s"]
                else f"{_num(t['acks_per_s'])} acks/s"
            )
            redis = t.get("redis_pct")
            lines.append(
                f"| {name} | {target} | {throughput} | {t['latency_kind']} "
                f"| {_ms(t['latency_p50_ms'])} | {_ms(t['latency_p99_ms'])} "
                f"| {_ms(t['latency_p999_ms'])} | {_num(t['server_pct'])}% "
                + (f"| {'-' if redis is None else _num(redis) + '%'} " if redis_col else "")
                + f"| {_num(t['generator_pct'])}% | {_num(t['other_pct'])}% | {t['bound']} "
                f"| {t['errors_total']} |"
            )
    if clustered:
        lines += _cluster_section(summary, document["targets"], clustered)
    lines += social_section(summary, targets)
    storm = [(n, e) for n, e in summary.items() if e["kind"] == "connect_storm"]
    if storm:
        lines += [
            "",
            "## Memory per idle connection",
            "",
            "| scenario | target | connections | time to N | connections/s "
            "| server RSS per connection |",
            "| --- | --- | ---: | ---: | ---: | ---: |",
        ]
        for name, entry in storm:
            for target in targets:
                t = entry["targets"].get(target, {})
                if t.get("available"):
                    kb = t["rss_per_conn_bytes"]
                    lines.append(
                        f"| {name} | {target} | {_num(t['connections'])} "
                        f"| {_ms(t['time_to_n_s'])} s | {_num(t['conns_per_s'])} "
                        f"| {'-' if kb is None else f'{kb / 1024:.1f} KB'} |"
                    )
    warned = [
        (name, target, t["server_warnings"])
        for name, entry in summary.items()
        for target, t in entry["targets"].items()
        if t.get("server_warnings")
    ]
    if warned:
        lines += [
            "",
            "## Server log warnings",
            "",
            "Warnings and errors the server logged during a case (setup, window and "
            "shutdown), summed over its rounds: a server that degraded shows it here "
            "even when no client saw an error.",
            "",
        ]
        for name, target, warnings in warned:
            top = "; ".join(f"{count} x {text}" for text, count in list(warnings.items())[:4])
            lines.append(f"- {name} · {target}: {sum(warnings.values())} ({top})")
    # One line per target and reason: a target that skips most cases on
    # purpose (the cluster) would otherwise fill a screen.
    missing: dict[tuple[str, str], list[str]] = {}
    for name, entry in summary.items():
        for target, t in entry["targets"].items():
            if not t.get("available"):
                missing.setdefault((target, str(t.get("reason"))), []).append(name)
    if missing:
        lines += ["", "## Not measured", ""]
        lines += [
            f"- {', '.join(names)} · {target}: {reason}"
            for (target, reason), names in missing.items()
        ]
    notes = ["", "## Notes", ""]
    for target, info in document["targets"].items():
        settings = "; ".join(f"{k}: {v}" for k, v in info["settings"].items())
        notes.append(f"- **{target}** ({info['label']}){': ' + settings if settings else ''}.")
    sizes = {
        target: t.get("request_bytes")
        for entry in summary.values()
        if entry["kind"] == "echo"
        for target, t in entry["targets"].items()
        if t.get("available")
    }
    if sizes:
        notes.append(
            "- Request/reply frame sizes: "
            + ", ".join(f"{k} {v} B" for k, v in sizes.items() if v)
            + " (Grover's `ping` carries no payload)."
        )
    disturbed = sum(1 for r in document["runs"] if r["disturbed"])
    notes.append(f"- Runs repeated or kept although disturbed by other processes: {disturbed}.")
    lines += notes
    return "\n".join(lines) + "\n"


def _cluster_section(
    summary: dict[str, Any], targets: dict[str, Any], clustered: list[str]
) -> list[str]:
    """Where a cluster's server CPU went (per node, Redis) and how its
    throughput compares with one node on the same core."""
    lines = [
        "",
        "## Cluster",
        "",
        "Every node and the Redis run on the one server core, so these are per-core "
        "figures: what spreading a conversation's members over nodes costs, not how "
        "adding machines scales. Messages/s are acked sends; deliveries/s below "
        "messages/s times (members - 1) mean cross-node delivery lagged the acks.",
        "",
        "| scenario | target | messages/s | deliveries/s | server CPU | per node | Redis "
        "| vs grover | rounds |",
        "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for name, entry, target, t in _measured(summary, clustered):
        nodes = " + ".join(f"{_num(pct)}%" for pct in t.get("nodes_pct") or [])
        redis = t.get("redis_pct")
        versus = entry["ratios"].get(f"{target}/grover", {}).get("median")
        lines.append(
            f"| {name} | {target} | {_num(t['acks_per_s'])} | {_num(t['deliveries_per_s'])} "
            f"| {_num(t['server_pct'])}% | {nodes} "
            f"| {'-' if redis is None else _num(redis) + '%'} | {_ratio(versus)} "
            f"| {t['rounds_measured']} |"
        )
    lines += [
        "",
        "Cost per acked message, from each node's `/stats` read at both ends of the "
        "window (summed over nodes; medians over rounds). Redis round trips are "
        "pipelined flushes (one per event-loop turn with something to send: XADDs "
        "and XACKs) + XREADGROUP reads of the inboxes + the shared rate limiter's "
        "script calls (one per loop turn of requests); entries are XADDs (one per "
        "destination node per flush); bytes are the entries' encoded size. Extra CPU "
        "is the server CPU per message (nodes and Redis) minus one Grover node's in "
        "the same round.",
        "",
        "| scenario | target | Redis round trips | flushes / reads / limiter | XADD entries "
        "| pushes | bytes | server CPU µs | one node's µs | extra CPU µs |",
        "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, entry, target, t in _measured(summary, clustered):
        cost = t.get("per_message") or {}
        single = entry["targets"].get("grover", {})
        extra = entry.get("extra_cpu_us_per_msg", {}).get(f"{target}/grover", {})
        parts = " / ".join(_per(cost.get(k)) for k in ("flushes", "reads", "limiter_calls"))
        lines.append(
            f"| {name} | {target} | {_per(cost.get('redis_round_trips'))} | {parts} "
            f"| {_per(cost.get('entries'))} | {_per(cost.get('pushes'))} "
            f"| {_num(cost.get('bytes'))} | {_num(t.get('cpu_us_per_ack'))} "
            f"| {_num(single.get('cpu_us_per_ack') if single.get('available') else None)} "
            f"| {_num(extra.get('median'))} |"
        )
    return lines


def _measured(
    summary: dict[str, Any], clustered: list[str]
) -> Iterator[tuple[str, dict[str, Any], str, dict[str, Any]]]:
    """(case, its summary, cluster target, the target's figures) for every
    clustered target that ran in the case."""
    for name, entry in summary.items():
        for target in clustered:
            figures = entry["targets"].get(target, {})
            if figures.get("available"):
                yield name, entry, target, figures


def write_markdown(document: dict[str, Any], path: Path) -> None:
    _write_atomic(path, to_markdown(document).encode())


# ------------------------------------------------------------------ plot


def write_plot(document: dict[str, Any], path: Path) -> None:
    summary: dict[str, Any] = document["summary"]
    targets = list(document["targets"])
    names = list(summary)
    colors = {
        "bare": "#4C72B0",
        "socketio": "#C44E52",
        "grover": "#55A868",
        "grover-cluster": "#8172B2",
        "grover-picows": "#DD8452",
    }
    # The object API renders with Agg directly: no pyplot state, no backend switch.
    fig = Figure(figsize=(max(8.0, 1.3 * len(names) + 3), 8.5))
    top, bottom = fig.subplots(2, 1)
    width = 0.8 / max(len(targets), 1)
    for row, (axis, key, title) in enumerate(
        (
            (top, "primary", "headline metric (higher is better; unit per scenario, see table)"),
            (bottom, "latency_p99_ms", "p99 latency, ms (lower is better)"),
        )
    ):
        for i, target in enumerate(targets):
            xs: list[float] = []
            ys: list[float] = []
            for x, name in enumerate(names):
                t = summary[name]["targets"].get(target, {})
                value = t.get(key) if t.get("available") else None
                if value:
                    xs.append(x + (i - (len(targets) - 1) / 2) * width)
                    ys.append(value)
            axis.bar(xs, ys, width, label=target, color=colors.get(target))
            for bar_x, bar_y in zip(xs, ys, strict=True):
                label = _num(bar_y) if row == 0 else _ms(bar_y)
                axis.annotate(
                    label, (bar_x, bar_y), ha="center", va="bottom", fontsize=6, rotation=90
                )
        for x, name in enumerate(names):
            for i, target in enumerate(targets):
                if not summary[name]["targets"].get(target, {}).get("available"):
                    axis.annotate(
                        "n/a",
                        (x + (i - (len(targets) - 1) / 2) * width, 0),
                        xycoords=("data", "axes fraction"),
                        ha="center",
                        va="bottom",
                        fontsize=6,
                        color="gray",
                    )
        axis.set_yscale("log")
        low, high = axis.get_ylim()
        axis.set_ylim(low, high * 3)  # room for the value labels above the bars
        axis.set_title(title, fontsize=10)
        axis.set_xticks(range(len(names)))
        axis.set_xticklabels(names, rotation=20, ha="right", fontsize=8)
        axis.grid(axis="y", alpha=0.3)
    top.legend(fontsize=8)
    machine = document["machine"]
    fig.suptitle(
        f"Grover bench ({document['suite']}): {machine['cpu_model']}, "
        f"{machine['logical_cores']} cores, medians of {document['options']['rounds']} round(s)",
        fontsize=11,
    )
    fig.tight_layout()
    tmp = path.with_name(path.name + ".tmp")
    fig.savefig(tmp, dpi=110, format="png")
    os.replace(tmp, path)


def write_all(document: dict[str, Any], out_dir: Path, name: str = "latest") -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{name}.json", out_dir / f"{name}.md", out_dir / f"{name}.png"]
    write_json(document, paths[0])
    write_markdown(document, paths[1])
    write_plot(document, paths[2])
    return paths
