"""Smoke tests of the bench harness itself: real sockets against the bare
baseline server, short windows, and the report writers; the grover-cluster
target against a real Redis and two nodes; and the runner stopping every
process it started when it is signalled. Numbers are not asserted against
targets here (the bench reports them); only that they are sane: something
was measured, percentiles are ordered, nothing failed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import psutil
import pytest

from bench import report
from bench.generator import run_case
from bench.machine import machine_info
from bench.procs import CHILDREN, REPO_ROOT, ServerProcess, free_port
from bench.runner import RunOptions, RunRecord, run_suite
from bench.scenarios.notify import LikeMatcher
from bench.scenarios.social import FeedCheck, FeedReader
from bench.session import Recorder, Session
from bench.spec import CaseSpec, Timing
from bench.stats import Histogram
from bench.suites import build_cases, suite_defaults
from bench.targets import get_dialect, get_target
from bench.targets.grover import ActorLite, NotificationGone, NotificationLite

pytestmark = pytest.mark.slow

T = TypeVar("T")

TIMING = Timing(warmup=0.2, window=0.6, drain=1.0, connect_timeout=10.0, per_conn_timeout=5.0)


def _case(name: str, kind: str, **params: Any) -> CaseSpec:
    return CaseSpec(name, kind, name.replace("_", " "), params, TIMING)


CASES = [
    _case("connect_storm_100", "connect_storm", conns=100),
    _case("echo_8", "echo", conns=8, inflight=2),
    _case("echo_8_rate", "echo", conns=8, inflight=8, rate=2000.0),
    _case("fanout_20", "fanout", subscribers=20, inflight=2),
    _case("chat_direct_4", "chat_direct", pairs=4, inflight=1),
    _case("chat_group_2x4", "chat_group", groups=2, size=4, inflight=1),
    _case("mixed_40", "mixed", conns=40, load=5.0, group_size=4),
]


@pytest.fixture(scope="module")
async def bare_server(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[str, int]]:
    target = get_target("bare")
    port = free_port()
    server = ServerProcess(
        target.command(port, Path()), tmp_path_factory.mktemp("bare") / "server.log"
    )
    try:
        await server.wait_listening(port, 15.0)
        yield target.url(port), server.pid
    finally:
        await server.stop()


async def _run(spec: CaseSpec, bare_server: tuple[str, int]) -> dict[str, Any]:
    url, pid = bare_server
    async with asyncio.timeout(20):
        return await run_case(spec, "bare", url, server_pid=pid)


def _assert_sane_latency(summary: dict[str, Any]) -> None:
    assert summary["count"] > 0
    assert 0 < summary["p50_ms"] <= summary["p99_ms"] <= summary["p999_ms"] <= summary["max_ms"]


def test_histogram_percentiles_are_close_and_ordered() -> None:
    hist = Histogram()
    for micros in range(1, 10_001):  # 1 µs .. 10 ms, uniform
        hist.record_ns(micros * 1000)
    p50, p99 = hist.percentile_ms(0.5), hist.percentile_ms(0.99)
    assert p50 is not None and p99 is not None
    assert p50 == pytest.approx(5.0, rel=0.01)
    assert p99 == pytest.approx(9.9, rel=0.01)
    later = hist.copy()
    later.record_ns(50_000_000)
    assert later.minus(hist).total == 1
    assert later.minus(hist).percentile_ms(0.5) == pytest.approx(50.0, rel=0.01)


async def test_echo_measures_the_server(bare_server: tuple[str, int]) -> None:
    result = await _run(CASES[1], bare_server)
    assert result["ok"], result
    assert result["errors_total"] == 0, result["errors"]
    assert result["metrics"]["acks_per_s"] > 100
    _assert_sane_latency(result["metrics"]["ack"])
    assert result["cpu"]["server_pct"] > 0
    assert result["cpu"]["server_rss_bytes"] > 0
    assert result["intervals"], "progress samples were taken"
    assert 150 <= result["request_bytes"] <= 260  # the ~200-byte payload frame


async def test_open_loop_echo_holds_the_offered_rate(bare_server: tuple[str, int]) -> None:
    result = await _run(CASES[2], bare_server)
    assert result["ok"] and result["errors_total"] == 0, result
    assert result["metrics"]["acks_per_s"] == pytest.approx(2000, rel=0.25)
    assert result["metrics"]["skipped"] == 0


async def test_fanout_delivers_every_message_with_latency(bare_server: tuple[str, int]) -> None:
    result = await _run(CASES[3], bare_server)
    assert result["ok"] and result["errors_total"] == 0, result
    assert result["missing_deliveries"] == result["extra_deliveries"] == 0
    metrics = result["metrics"]
    # Every acked publish reached all 20 subscribers (window edges blur it a little).
    assert metrics["deliveries_per_s"] == pytest.approx(metrics["acks_per_s"] * 20, rel=0.2)
    _assert_sane_latency(metrics["delivery"])
    _assert_sane_latency(metrics["ack"])


@pytest.mark.parametrize("index", [4, 5])
async def test_chat_scenarios_deliver_to_the_other_members(
    bare_server: tuple[str, int], index: int
) -> None:
    result = await _run(CASES[index], bare_server)
    assert result["ok"] and result["errors_total"] == 0, result
    assert result["missing_deliveries"] == result["extra_deliveries"] == 0
    assert result["metrics"]["acks_per_s"] > 100
    _assert_sane_latency(result["metrics"]["delivery"])


async def test_mixed_blend_runs_every_role(bare_server: tuple[str, int]) -> None:
    result = await _run(CASES[6], bare_server)
    assert result["ok"] and result["errors_total"] == 0, result
    for role in ("echo", "direct", "group", "live"):
        assert result["roles"][role]["acks_per_s"] > 0, role
    assert result["missing_deliveries"] == result["extra_deliveries"] == 0


async def test_connect_storm_weighs_idle_connections(bare_server: tuple[str, int]) -> None:
    result = await _run(CASES[0], bare_server)
    assert result["ok"] and result["errors_total"] == 0, result
    assert result["connect"]["opened"] == 100
    assert result["metrics"]["conns_per_s"] > 50
    # Some memory per connection, and not absurdly much (1 KB .. 1 MB).
    assert 1_000 < result["metrics"]["rss_per_conn_bytes"] < 1_000_000
    _assert_sane_latency(result["metrics"]["ack"])


async def test_runner_and_writers_end_to_end(tmp_path: Path) -> None:
    """The real path: server and generator as pinned subprocesses, then the
    JSON, markdown and PNG files, checked for what they claim to contain."""
    cases = [CASES[1], _case("echo_8_half", "echo", conns=8, inflight=8, rate_of="echo_8")]
    options = RunOptions(rounds=1, quiet_threshold_pct=100.0, max_retries=0)
    async with asyncio.timeout(40):
        run = await run_suite(cases, [get_target("bare")], options)
    assert [r.result.get("ok") for r in run.records] == [True, True], run.records
    half = run.records[1].result
    peak = run.records[0].result["metrics"]["acks_per_s"]
    assert half["offered_rate"] == pytest.approx(peak / 2, rel=0.01)

    # A second, unavailable target shows up as such rather than as a number.
    run.targets.append(get_target("grover"))
    unavailable = {"case": "echo_8", "target": "grover", "ok": False}
    unavailable["unavailable"] = "not available: test"
    run.records.append(
        RunRecord(
            round=0,
            case="echo_8",
            target="grover",
            attempt=0,
            loadavg_before=[0.0, 0.0, 0.0],
            cpu_before_pct=0.0,
            started_at=time.time(),
            result=unavailable,
        )
    )
    document = report.to_document(run, "smoke", machine_info())
    # File writes and reads block: keep them off the event loop.
    await asyncio.to_thread(_check_written_files, document, tmp_path, peak)


def _check_written_files(document: dict[str, Any], tmp_path: Path, peak: float) -> None:
    json_path, md_path, png_path = report.write_all(document, tmp_path, "smoke")

    loaded = json.loads(json_path.read_text())
    assert loaded["machine"]["logical_cores"] >= 1
    assert loaded["machine"]["packages"]["websockets"]
    assert len(loaded["runs"]) == 3
    assert all("loadavg_before" in r for r in loaded["runs"])
    bare = loaded["summary"]["echo_8"]["targets"]["bare"]
    assert bare["available"] and bare["primary"] == pytest.approx(peak)
    assert bare["latency_p50_ms"] <= bare["latency_p99_ms"]
    assert loaded["summary"]["echo_8"]["targets"]["grover"] == {
        "available": False,
        "reason": "not available: test",
    }

    markdown = md_path.read_text()
    assert "| scenario | metric | bare | grover |" in markdown
    assert "| echo_8 |" in markdown and "| echo_8_half |" in markdown
    assert "echo_8 · grover: not available: test" in markdown
    assert report._num(peak) in markdown
    assert loaded["machine"]["cpu_model"] in markdown

    assert png_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(tmp_path.glob("*.tmp"))


def test_case_spec_round_trips_through_json() -> None:
    spec = CASES[3]
    assert CaseSpec.from_json(spec.to_json()) == spec
    with pytest.raises(ValueError, match="unknown scenario kind"):
        CaseSpec("x", "nope", "x")


# ------------------------------------------------------------------ cluster


needs_redis = pytest.mark.skipif(
    shutil.which("redis-server") is None, reason="redis-server is not installed"
)


@needs_redis
async def test_cluster_target_spreads_chat_over_its_nodes(tmp_path: Path) -> None:
    """Both chat kinds against Redis + 2 nodes beside one node: every message
    delivered, both nodes busy (connections went round-robin), Redis's CPU
    reported on its own, other kinds skipped before anything starts, and the
    report puts the cluster beside one node with its ratio."""
    cases = [CASES[1], CASES[4], CASES[5]]  # echo_8, chat_direct_4, chat_group_2x4
    targets = [get_target("grover"), get_target("grover-cluster", cluster_nodes=2)]
    options = RunOptions(rounds=1, quiet_threshold_pct=100.0, max_retries=0)
    before = CHILDREN.roles()  # the module's bare server may be running
    async with asyncio.timeout(120):
        run = await run_suite(cases, targets, options)
    assert CHILDREN.roles() == before, "every process the run started was stopped"
    results = {(r.case, r.target): r.result for r in run.records}
    assert results["echo_8", "grover-cluster"]["unavailable"].startswith("not run:")
    for case in ("chat_direct_4", "chat_group_2x4"):
        single, cluster = results[case, "grover"], results[case, "grover-cluster"]
        assert single["ok"] and single["errors_total"] == 0, single
        assert cluster["ok"] and cluster["errors_total"] == 0, cluster
        assert cluster["missing_deliveries"] == cluster["extra_deliveries"] == 0
        assert cluster["metrics"]["acks_per_s"] > 50
        _assert_sane_latency(cluster["metrics"]["delivery"])
        cpu = cluster["cpu"]
        assert len(cpu["nodes_pct"]) == 2
        # Heartbeats alone stay near 0%: each node carried part of the load.
        assert all(pct > 5 for pct in cpu["nodes_pct"]), cpu
        assert cpu["redis_pct"] is not None and cpu["redis_pct"] > 0
        assert cpu["server_pct"] == pytest.approx(sum(cpu["nodes_pct"]) + cpu["redis_pct"], abs=0.5)
        assert single["cpu"]["redis_pct"] is None
        # The nodes' own counters over the window, per acked message: every
        # message crossed nodes, so it took entries and round trips.
        stats = cluster["server_stats"]
        assert len(stats["nodes"]) == 2 and stats["messages"] > 0, stats
        cost = stats["per_message"]
        assert cost["entries"] > 0 and cost["bytes"] > cost["entries"], cost
        assert cost["redis_round_trips"] == pytest.approx(
            cost["flushes"] + cost["reads"] + cost["limiter_calls"], abs=0.01
        )
        # Every request is counted, the calls of one turn share a script call.
        assert 0 < cost["limiter_calls"] <= 1.2, cost
        assert cost["write_jobs"] > 0, cost
        alone = single["server_stats"]["per_message"]
        assert alone["write_jobs"] > 0 and "redis_round_trips" not in alone, alone

    document = report.to_document(run, "smoke", machine_info())
    markdown = report.to_markdown(document)
    header = next(line for line in markdown.splitlines() if line.startswith("| scenario | metric"))
    assert "| grover | grover-cluster | grover-cluster/grover |" in header
    assert "## Cluster" in markdown
    assert "echo_8 · grover-cluster: not run:" in markdown
    ratio = document["summary"]["chat_direct_4"]["ratios"]["grover-cluster/grover"]["median"]
    assert ratio is not None and ratio > 0
    entry = document["summary"]["chat_direct_4"]
    assert entry["targets"]["grover-cluster"]["per_message"]["entries"] > 0
    assert len(entry["extra_cpu_us_per_msg"]["grover-cluster/grover"]["rounds"]) == 1
    assert "| scenario | target | Redis round trips |" in markdown


# ------------------------------------------------------------------ signals


def _marked(marker: str) -> dict[int, str]:
    """pid -> command line of every process whose environment holds
    ``marker`` (the runner passes its environment on to all it starts)."""
    found: dict[int, str] = {}
    needle = marker.encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle not in (entry / "environ").read_bytes().split(b"\0"):
                continue
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:  # gone meanwhile, or not ours to read
            continue
        found[int(entry.name)] = cmdline.decode(errors="replace")
    return found


def _reported(log: Path) -> dict[str, int]:
    """role -> pid from the runner's "started <role> pid <pid>, ..." lines.
    Needed besides the marker: redis-server rewrites its process title over
    its environment, so /proc no longer shows the marker for it."""
    text = log.read_text(errors="replace")
    return {m[1]: int(m[2]) for m in re.finditer(r"(?:started |, )([\w-]+) pid (\d+)", text)}


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _wait_for(check: Callable[[], T], timeout: float, step: float = 0.1) -> T:
    """``check()`` until it returns something truthy, at most ``timeout`` s."""
    for _ in range(int(timeout / step)):
        value = check()
        if value:
            return value
        time.sleep(step)
    return check()


def _signal_mid_run(tmp_path: Path, signum: int, argv: list[str], roles: list[str]) -> None:
    """Start the runner with a unique marker in its environment; once it has
    reported starting every role in ``roles`` and its generator runs, signal
    it. It must exit with 128 + signum, write no results, and leave neither a
    marked process nor any process it reported."""
    name, value = "GROVER_BENCH_SMOKE", uuid.uuid4().hex
    marker = f"{name}={value}"
    env = {**os.environ, name: value, "PYTHONPATH": str(REPO_ROOT)}
    log_path = tmp_path / "runner.log"
    log = log_path.open("wb")
    runner = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bench",
            "--out-dir",
            str(tmp_path),
            "--quiet-threshold",
            "100",
            *argv,
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:

        def mid_case() -> dict[int, str]:
            marked = _marked(marker)
            generator = any("bench.generator" in line for line in marked.values())
            started = set(roles) <= set(_reported(log_path))
            return marked if generator and started else {}

        before = _wait_for(mid_case, 60.0)
        assert before, log_path.read_text()
        pids = _reported(log_path)
        assert all(_alive(pid) for pid in pids.values()), (pids, log_path.read_text())
        runner.send_signal(signum)
        code = runner.wait(30)
        assert code == 128 + signum, log_path.read_text()
        # The runner waited for its children: nothing should be left at all.
        assert _wait_for(lambda: _marked(marker) == {}, 5.0), (_marked(marker), before)
        assert not [pid for pid in pids.values() if _alive(pid)], (pids, log_path.read_text())
        assert not (tmp_path / "latest.json").exists()
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait(10)
        # Only when the test failed: leak nothing into the next tests.
        for pid in [*_marked(marker), *_reported(log_path).values()]:
            with contextlib.suppress(OSError):
                if _alive(pid):
                    os.kill(pid, signal.SIGKILL)
        log.close()


def test_sigterm_stops_every_process_the_runner_started(tmp_path: Path) -> None:
    _signal_mid_run(tmp_path, signal.SIGTERM, ["--suite", "quick", "--targets", "bare"], ["bare"])


@needs_redis
def test_sigint_stops_a_cluster_with_its_redis(tmp_path: Path) -> None:
    _signal_mid_run(
        tmp_path,
        signal.SIGINT,
        ["--suite", "quick", "--targets", "grover-cluster", "--only", "chat_group_3x5"],
        ["redis", "n1", "n2"],
    )


# ------------------------------------------------------------------ social


def _quick_case(kind: str) -> CaseSpec:
    """The quick suite's case of ``kind``, with its sizes and timing."""
    defaults = suite_defaults("quick")
    return next(c for c in build_cases(defaults.sizes, defaults.timing) if c.kind == kind)


async def test_social_cases_seed_fan_out_and_page(tmp_path: Path) -> None:
    """The quick suite's post_fanout and home_feed against Grover (seeded
    before the server starts) and the bare relay (unavailable, nothing
    started): every connected follower got every post once, and every page
    was non-empty, newest first, without repeats and from followees only."""
    fanout_case, feed_case = _quick_case("post_fanout"), _quick_case("home_feed")
    options = RunOptions(rounds=1, quiet_threshold_pct=100.0, max_retries=0)
    before = CHILDREN.roles()
    async with asyncio.timeout(120):
        run = await run_suite(
            [fanout_case, feed_case], [get_target("bare"), get_target("grover")], options
        )
    assert CHILDREN.roles() == before, "seeder, server and generator all stopped"
    results = {(r.case, r.target): r.result for r in run.records}
    for case in (fanout_case, feed_case):
        assert "has no follows or posts" in results[case.name, "bare"]["unavailable"]

    fanout = results[fanout_case.name, "grover"]
    assert fanout["ok"] and fanout["errors_total"] == 0, fanout
    connected = fanout_case.params["connected"]
    assert fanout["connected_followers"] == connected
    assert fanout["seed"]["follows"] == fanout_case.params["followers"]
    assert fanout["posts_acked"] > 0
    assert fanout["expected_deliveries"] == fanout["posts_acked"] * connected
    assert fanout["missing_deliveries"] == fanout["extra_deliveries"] == 0
    assert fanout["unexpected_deliveries"] == 0
    _assert_sane_latency(fanout["metrics"]["delivery"])
    counters = fanout["server_fanout"]
    assert counters["fanout.posts"] == fanout["posts_acked"], counters
    assert counters["fanout.dropped_posts"] == counters["fanout.failed_pushes"] == 0
    # The fan-out walked every follower of every post, offline ones too.
    assert counters["fanout.followers_scanned"] == (
        fanout["posts_acked"] * fanout_case.params["followers"]
    )

    feed = results[feed_case.name, "grover"]
    assert feed["ok"] and feed["errors_total"] == 0, feed
    assert feed["seed"]["posts"] == (
        feed_case.params["authors"] * feed_case.params["posts_per_author"]
    )
    assert feed["metrics"]["acks_per_s"] > 10
    _assert_sane_latency(feed["metrics"]["ack"])
    summary = feed["feed"]
    assert summary["pages_read"] > 0 and summary["passes"] > 0
    assert summary["posts_per_page"] == feed["page_limit"]
    assert summary["passes_ended_early"] == 0

    markdown = report.to_markdown(report.to_document(run, "smoke", machine_info()))
    assert "## Post fan-out beside room fan-out" in markdown
    assert f"| {feed_case.name} | grover |" in markdown


def test_feed_check_flags_bad_pages() -> None:
    """What the home_feed check counts as errors, on hand-made pages."""
    recorder = Recorder()
    check = FeedCheck(recorder, pages=3)
    reader = FeedReader({"a", "b"})

    def page(*posts: tuple[str, str, float], more: bool = True) -> msgspec.Raw:
        return msgspec.Raw(
            msgspec.msgpack.encode(
                {
                    "posts": [
                        {"id": i, "author": {"username": u}, "created_at": t} for i, u, t in posts
                    ],
                    "next_cursor": "c" if more else None,
                }
            )
        )

    check.page(reader, page(("p3", "a", 3.0), ("p2", "b", 2.0)))
    assert not recorder.errors and reader.cursor == "c"
    check.page(reader, page(("p2", "b", 2.0), ("p9", "z", 9.0)))
    assert recorder.errors == {"feed_repeat": 1, "feed_order": 2, "feed_foreign_author": 1}
    check.page(reader, page())  # the third page: the pass starts over
    assert recorder.errors["feed_empty_page"] == 1
    assert reader.cursor is None and not reader.shown and check.passes == 1
    check.page(reader, page(("p1", "a", 1.0), more=False))
    assert check.ended_early == 1 and check.passes == 2


async def test_search_case_seeds_and_searches_by_words_tag_and_place(tmp_path: Path) -> None:
    """The quick suite's post_search against Grover: seeded posts, readers
    searching by each kind closed loop, no error, a rate per kind."""
    case = _quick_case("post_search")
    options = RunOptions(rounds=1, quiet_threshold_pct=100.0, max_retries=0)
    before = CHILDREN.roles()
    async with asyncio.timeout(120):
        run = await run_suite([case], [get_target("grover")], options)
    assert CHILDREN.roles() == before, "seeder, server and generator all stopped"
    [record] = run.records
    result = record.result
    assert result["ok"] and result["errors_total"] == 0, result
    assert result["seed"]["posts"] == case.params["posts"]
    for kind in ("text", "tag", "near"):
        assert result["pages"][kind] > 0
        assert result["roles"][kind]["acks_per_s"] > 0


async def test_like_notify_pairs_every_like_with_its_notification(tmp_path: Path) -> None:
    """The quick suite's like_notify against Grover (authors and likers
    seeded, all connected) and the bare relay (unavailable, nothing
    started): every like that changed something produced exactly one
    ``notification.new`` at its post's author, every unlike one undo push,
    and nothing was an error."""
    case = _quick_case("like_notify")
    options = RunOptions(rounds=1, quiet_threshold_pct=100.0, max_retries=0)
    before = CHILDREN.roles()
    async with asyncio.timeout(120):
        run = await run_suite([case], [get_target("bare"), get_target("grover")], options)
    assert CHILDREN.roles() == before, "seeder, server and generator all stopped"
    results = {r.target: r.result for r in run.records}
    assert "has no posts, likes or notifications" in results["bare"]["unavailable"]

    result = results["grover"]
    assert result["ok"] and result["errors_total"] == 0, result
    assert result["seed"]["posts"] == case.params["authors"]
    notify = result["notify"]
    assert notify["likes_changed"] > 0
    assert notify["like_pushes"] == notify["likes_changed"], notify
    assert notify["missing_notifications"] == notify["likes_unmatched"] == 0
    assert notify["undo_pushes"] == notify["unlikes_changed"] > 0
    metrics = result["metrics"]
    assert metrics["likes_per_s"] > 10 and metrics["server_us_per_like"] > 0
    _assert_sane_latency(metrics["like_ack"])
    _assert_sane_latency(metrics["notification"])
    assert metrics["notification"] == metrics["delivery"]

    markdown = report.to_markdown(report.to_document(run, "smoke", machine_info()))
    assert "## Like → notification" in markdown
    assert f"| {case.name} | grover | closed loop |" in markdown


def test_like_matcher_tells_like_pushes_from_undo_pushes() -> None:
    """How like_notify pairs pushes with likes, on hand-made pushes: a
    higher ``actor_count`` is a like's push (timed, oldest send first), a
    lower one or a deletion an unlike's; gaps, strays and pushes at the
    wrong author are errors."""
    recorder = Recorder()
    matcher = LikeMatcher(recorder, {"p": 0})
    author = Session(0, get_dialect("grover"), recorder)

    def push(count: int, *actors: str, post: str = "p", row: str = "n1") -> None:
        matcher.on_push(author, NotificationLite(row, [ActorLite(a) for a in actors], count, post))

    matcher.like_sent("a", "p", 1)
    matcher.like_sent("b", "p", 2)
    matcher.like_sent("a", "p", 3)  # a likes p again before its first push came
    push(1, "a")
    push(2, "b", "a")
    push(1, "a")  # b unliked: a is named first again, not a like
    assert (matcher.like_pushes, matcher.undo_pushes) == (2, 1)
    assert list(matcher.waiting["a", "p"]) == [3]
    matcher.on_push(author, NotificationGone("n1"))  # a unliked
    push(1, "a", row="n2")  # a's second like: a new row
    assert matcher.like_pushes == 3 and not matcher.waiting["a", "p"]
    assert recorder.delivery_hist.total == 3 and not recorder.errors

    push(3, "c", row="n2")  # count jumped, and nobody named c sent a like
    push(1, "a", row="n3", post="q")  # q is not author 0's post
    assert recorder.errors == {
        "notification_gap": 1,
        "unexpected_notification": 2,
        "misdirected_notification": 1,
    }
    for _ in range(4):
        matcher.like_acked("a", "p", 0, changed=True)
    matcher.unlike_acked(changed=True)
    matcher.unlike_acked(changed=False)
    check = matcher.check()
    assert check["missing_notifications"] == 1 and recorder.errors["missing_notification"] == 1
    assert recorder.errors["unlike_unchanged"] == 1
    assert recorder.errors["extra_undo_push"] == 1  # two undo pushes, one unlike acked


async def test_live_chat_delivers_every_line_to_every_viewer_once(tmp_path: Path) -> None:
    """The quick suite's live_chat against Grover (host and viewers seeded,
    all logged in and joined) and the bare relay (unavailable, nothing
    started): the stream counts every viewer, and every viewer got every
    acked line once, in the stream's order, several lines to a frame."""
    case = _quick_case("live_chat")
    options = RunOptions(rounds=1, quiet_threshold_pct=100.0, max_retries=0)
    before = CHILDREN.roles()
    async with asyncio.timeout(120):
        run = await run_suite([case], [get_target("bare"), get_target("grover")], options)
    assert CHILDREN.roles() == before, "seeder, server and generator all stopped"
    results = {r.target: r.result for r in run.records}
    assert "has no live streams" in results["bare"]["unavailable"]

    result = results["grover"]
    assert result["ok"] and result["errors_total"] == 0, result
    viewers = case.params["viewers"]
    assert result["seed"]["users"] == viewers + 1
    assert result["viewer_count"] == viewers
    assert result["lines_acked"] > 0
    assert result["expected_deliveries"] == result["lines_acked"] * viewers
    assert result["missing_deliveries"] == result["extra_deliveries"] == 0
    assert result["unacked_lines"] == result["out_of_order"] == 0
    metrics = result["metrics"]
    assert metrics["frames_per_s"] > 0 and metrics["lines_per_frame"] >= 1
    assert metrics["deliveries_per_s"] > metrics["frames_per_s"] * 0.9
    _assert_sane_latency(metrics["delivery"])

    markdown = report.to_markdown(report.to_document(run, "smoke", machine_info()))
    assert "## Live chat beside room fan-out" in markdown
    assert f"| {case.name} | grover | 50 |" in markdown
