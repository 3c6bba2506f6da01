"""The report's sections for the Grover-only social cases: post fan-out
beside the baselines' room fan-out, the home feed's pages, a like's cost
with its notification, and live chat beside the room fan-out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from bench.fmt import ms, num


def social_section(summary: dict[str, Any], targets: list[str]) -> list[str]:
    """The Grover-only social cases: a post's fan-out beside the baselines'
    room fan-out (``fanout_*``), compared by server CPU per delivery; the
    home feed's pages."""
    kinds = {entry["kind"] for entry in summary.values()}
    lines: list[str] = []
    if "post_fanout" in kinds:
        lines += [
            "",
            "## Post fan-out beside room fan-out",
            "",
            "`post_fanout` pushes each post to the creator's connected followers "
            "(the fan-out also walks the offline ones); `fanout_*` relays a publish to "
            "a room's subscribers, the only fan-out the baselines have. Offered loads "
            "differ (a fixed post rate against a closed loop or a fixed publish rate), "
            "so compare the server CPU one delivery costs.",
            "",
            "| scenario | target | offered/s | deliveries/s | delivery p50 ms | p99 ms "
            "| server CPU | server µs per delivery |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        rows = [(n, e) for n, e in summary.items() if e["kind"] == "post_fanout"]
        rows += [(n, e) for n, e in summary.items() if e["kind"] == "fanout"]
        for name, target, t, deliveries, server, per, offered in _delivery_rows(rows, targets):
            lines.append(
                f"| {name} | {target} | {'closed loop' if not offered else num(offered)} "
                f"| {num(deliveries)} | {ms(t.get('delivery_p50_ms'))} "
                f"| {ms(t.get('delivery_p99_ms'))} | {num(server)}% | {num(per)} |"
            )
    feeds = [(n, e) for n, e in summary.items() if e["kind"] == "home_feed"]
    if feeds:
        lines += [
            "",
            "## Home feed",
            "",
            "Readers page `feed.home` closed loop (first page, `next_cursor` a few "
            "pages deep, again); latency is one page's request to its reply.",
            "",
            "| scenario | target | pages/s | page p50 ms | p99 ms | p99.9 ms | server CPU "
            "| server µs per page | bound |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
        ]
        for name, entry in feeds:
            for target in targets:
                t = entry["targets"].get(target, {})
                if t.get("available"):
                    lines.append(
                        f"| {name} | {target} | {num(t['acks_per_s'])} "
                        f"| {ms(t['ack_p50_ms'])} | {ms(t['ack_p99_ms'])} "
                        f"| {ms(t['ack_p999_ms'])} | {num(t['server_pct'])}% "
                        f"| {num(t['cpu_us_per_ack'])} | {t['bound']} |"
                    )
    lines += _like_section(summary, targets)
    lines += _live_section(summary, targets)
    return lines


def _live_section(summary: dict[str, Any], targets: list[str]) -> list[str]:
    """``live_chat`` beside the baselines' room fan-out of the same run."""
    rows = [(n, e) for n, e in summary.items() if e["kind"] == "live_chat"]
    if not rows:
        return []
    rows += [(n, e) for n, e in summary.items() if e["kind"] == "fanout"]
    lines = [
        "",
        "## Live chat beside room fan-out",
        "",
        "`live_chat`: one stream, its viewers joined, some of them chatting at a fixed "
        "total rate; each tick (~150 ms) every viewer gets one `chat.updated` frame with "
        "that tick's lines. A delivery is one line at one viewer (frames apart); latency "
        "runs from the line's send to its frame's arrival. `fanout_*`: the baselines' "
        "room relay, one frame per message per subscriber. Loads differ (a fixed line "
        "rate against a closed loop), so compare server µs per delivery.",
        "",
        "| scenario | target | offered/s | deliveries/s | frames/s | lines per frame "
        "| delivery p50 ms | p99 ms | server CPU | server µs per delivery | errors |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, target, t, deliveries, server, per, offered in _delivery_rows(rows, targets):
        lines.append(
            f"| {name} | {target} | {'closed loop' if not offered else num(offered)} "
            f"| {num(deliveries)} | {num(t.get('frames_per_s'))} "
            f"| {num(t.get('lines_per_frame'))} | {ms(t.get('delivery_p50_ms'))} "
            f"| {ms(t.get('delivery_p99_ms'))} | {num(server)}% | {num(per)} "
            f"| {t.get('errors_total', 0)} |"
        )
    return lines


def _like_section(summary: dict[str, Any], targets: list[str]) -> list[str]:
    """``like_notify``: a like's ack and its notification at the author."""
    rows = [(n, e) for n, e in summary.items() if e["kind"] == "like_notify"]
    if not rows:
        return []
    lines = [
        "",
        "## Like → notification",
        "",
        "Likers like a random post of a connected author, then unlike it. **Like ack**: "
        "`post.like` sent → its reply. **Notification**: the same send → the author's "
        "`notification.new` naming the liker (a like's push, told apart from the re-pushes "
        "unlikes cause by its `actor_count`). **Server µs per like**: server CPU over "
        "likes/s, its unlike included.",
        "",
        "| scenario | target | offered likes/s | likes/s | like ack p50 ms | p99 ms "
        "| notification p50 ms | p99 ms | server CPU | server µs per like | bound |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for name, entry in rows:
        for target in targets:
            t = entry["targets"].get(target, {})
            if not t.get("available"):
                continue
            offered = t.get("offered_rate")
            lines.append(
                f"| {name} | {target} | {'closed loop' if not offered else num(offered)} "
                f"| {num(t.get('likes_per_s'))} | {ms(t.get('like_ack_p50_ms'))} "
                f"| {ms(t.get('like_ack_p99_ms'))} | {ms(t.get('delivery_p50_ms'))} "
                f"| {ms(t.get('delivery_p99_ms'))} | {num(t.get('server_pct'))}% "
                f"| {num(t.get('server_us_per_like'))} | {t.get('bound')} |"
            )
    return lines


def _delivery_rows(
    rows: list[tuple[str, dict[str, Any]]], targets: list[str]
) -> Iterator[tuple[str, str, dict[str, Any], Any, Any, float | None, Any]]:
    """Per case and available target: its figures, deliveries/s, server CPU
    %, server µs per delivery and the offered rate (the fan-out tables' row)."""
    for name, entry in rows:
        for target in targets:
            t = entry["targets"].get(target, {})
            if not t.get("available"):
                continue
            deliveries, server = t.get("deliveries_per_s"), t.get("server_pct")
            per = server * 1e4 / deliveries if deliveries and server is not None else None
            yield name, target, t, deliveries, server, per, t.get("offered_rate")
