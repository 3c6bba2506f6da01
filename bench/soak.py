"""Soak: ``python -m bench.soak`` (``make soak``). Mixed traffic against one
``grover serve`` subprocess for ``--minutes`` (default 30), sampling the
server's memory; fails when memory grows without bound.

Traffic, two parts, both from a fixed population of users (so that any state
that should be bounded is bounded, and growth means a leak):

- **the bench's mixed scenario** (``bench/scenarios/mixed.py``), run by the
  bench's generator process (``python -m bench.generator``) as one case
  whose measured window is the whole soak: ``--conns`` connections (10%
  request/reply at 2/s, 20% in 1:1 pairs, 20% in groups of 10, the rest an
  audience of live rooms), every rate times ``--load``. The chat rates are
  raised from the bench's (``--direct-rate 7 --group-rate 1.4 --live-rate
  14``: ~14 messages/s per conversation) so that each conversation's bounded
  caches (its last 4096 client keys and 1024 messages) are full within about
  5 minutes: at the bench's rates a 1:1 conversation would take 34 minutes,
  and a soak cannot tell a cache filling from a leak;
- **churn**, from this process with the SDK (``protocol.client.Client``):
  ``--churners`` accounts that keep reconnecting (``--churn-rate``
  connections per second in all): log in by token, ping, read a profile, list
  conversations, send a message, read history, search users, then close, or
  drop the socket without a close half of the time (sessions left to expire).

The server runs with the bench's settings plus ``--resume-ttl`` and
``--actor-idle-timeout`` of ``--expiry`` seconds (default 60), so that dropped
sessions and idle actors expire within the run rather than after it. Bounded
state still takes time to fill: each session keeps its last 512 events for
resume (``--resume-buffer``), 80-150 MB over the blend's 500 sessions. A run
much shorter than 30 minutes judges that fill, not a leak: shrink the buffer
for short runs (``--minutes 3 --resume-buffer 32``), and read a short run's
verdict with the caches' 5 minutes in mind.

Every ``--sample-every`` seconds (default 10) the server's RSS, private
memory (RSS less file-backed pages), open files and CPU are sampled into a
CSV; the report has one row per minute. **Criterion**: the run fails when,
over its second half, a least-squares line through the RSS samples rises
faster than ``--max-slope`` KB/min (default 256) *and* the median RSS of the
last quarter exceeds that of the second quarter by more than
``--max-growth`` percent (default 10) plus ``--margin`` MB (default 8). The
first quarter is warm-up (connections opening, caches and arenas filling).
It also fails when the server dies or the traffic does not run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import shutil
import signal
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import psutil
import uvloop

from bench.procs import CHILDREN, REPO_ROOT, ServerProcess, free_port, run_to_end
from bench.spec import CaseSpec, Timing
from bench.targets.grover import GroverTarget
from protocol.client import Client, GroverError

RESULTS = REPO_ROOT / "bench" / "results"


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@dataclass
class Sample:
    t: float
    rss_kb: int
    private_kb: int
    fds: int
    cpu_pct: float


@dataclass
class Verdict:
    ok: bool
    slope_kb_min: float
    q2_rss_kb: float
    q4_rss_kb: float
    reasons: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ analysis


def fit_slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of y over x (0 for fewer than 2 points)."""
    if len(points) < 2:
        return 0.0
    mx = statistics.fmean(x for x, _ in points)
    my = statistics.fmean(y for _, y in points)
    var = sum((x - mx) ** 2 for x, _ in points)
    if var == 0:
        return 0.0
    return sum((x - mx) * (y - my) for x, y in points) / var


def judge(
    samples: list[Sample], duration: float, max_slope: float, max_growth: float, margin_mb: float
) -> Verdict:
    """Apply the criterion of the module docstring to RSS samples."""

    def between(a: float, b: float) -> list[Sample]:
        return [s for s in samples if a * duration <= s.t <= b * duration]

    second_half = between(0.5, 1.0)
    q2, q4 = between(0.25, 0.5), between(0.75, 1.0)
    if len(second_half) < 4 or not q2 or not q4:
        return Verdict(False, 0.0, 0.0, 0.0, ["too few samples to judge"])
    slope = fit_slope([(s.t / 60, s.rss_kb) for s in second_half])
    q2_rss = statistics.median(s.rss_kb for s in q2)
    q4_rss = statistics.median(s.rss_kb for s in q4)
    limit = q2_rss * (1 + max_growth / 100) + margin_mb * 1024
    growing = slope > max_slope and q4_rss > limit
    reasons = []
    if growing:
        reasons.append(
            f"memory grows: {slope:.0f} KB/min over the second half (limit {max_slope:g}) "
            f"and last-quarter median {q4_rss / 1024:.1f} MB > {limit / 1024:.1f} MB"
        )
    return Verdict(not growing, slope, q2_rss, q4_rss, reasons)


# ------------------------------------------------------------------- traffic


async def run_generator(url: str, pid: int, spec: CaseSpec) -> dict[str, Any]:
    """The bench's generator process running the mixed scenario; its
    progress lines are relayed, its JSON result returned."""
    argv = [sys.executable, "-m", "bench.generator", "--target", "grover", "--url", url]
    argv += ["--server-pid", str(pid), "--spec", spec.to_json(), "--label", "soak mixed"]
    output = await run_to_end(argv, role="soak-generator", hard_limit=spec.timing.hard_limit() + 15)
    if output is None:
        return {"ok": False, "error": "generator exceeded its hard limit"}
    returncode, lines = output
    if not lines:
        return {"ok": False, "error": f"generator exited with {returncode}, no result"}
    result: dict[str, Any] = msgspec.json.decode(lines[-1])
    return result


@dataclass
class Churn:
    cycles: int = 0
    requests: int = 0
    errors: dict[str, int] = field(default_factory=dict)

    def error(self, what: str) -> None:
        self.errors[what] = self.errors.get(what, 0) + 1


async def run_churn(url: str, churners: int, rate: float, deadline: float, churn: Churn) -> None:
    """Accounts that keep reconnecting and doing a bit of everything."""
    run = f"{time.time_ns() % 10**8:x}"
    accounts: list[tuple[str, str]] = []
    for i in range(churners):
        client = Client(reconnect=False)
        await client.connect(url)
        name = f"soak{run}_{i}"
        auth = await client.request(
            "auth.register", username=name, email=f"{name}@soak.invalid", password="soak-pass-1"
        )
        accounts.append((auth.token, auth.user.id))
        await client.close()
    period = churners / rate

    async def churner(i: int) -> None:
        token = accounts[i][0]
        peer_id = accounts[(i + 1) % churners][1]
        client = Client(reconnect=False)
        await client.connect(url, token=token)
        conv = await client.request("conversation.open_direct", user_id=peer_id)
        await client.close()
        await asyncio.sleep(period * i / churners)
        n = 0
        while time.monotonic() < deadline:
            started = time.monotonic()
            n += 1
            client = Client(reconnect=False)
            try:
                await client.connect(url, token=token)
                await client.request("ping")
                await client.request("profile.get", user_id=peer_id)
                await client.request("conversation.list", limit=20)
                await client.request(
                    "message.send", conversation_id=conv.id, client_key=f"{i}.{n}", text="soak"
                )
                await client.request("message.history", conversation_id=conv.id, limit=20)
                await client.request("user.search", query="soak")
                churn.requests += 6
                churn.cycles += 1
            except GroverError as exc:
                churn.error(str(exc.code))
            except Exception as exc:
                churn.error(type(exc).__name__)
            finally:
                if n % 2:
                    await client.drop()
                with contextlib.suppress(Exception):
                    async with asyncio.timeout(5.0):
                        await client.close()
            await asyncio.sleep(max(0.0, period - (time.monotonic() - started)))

    await asyncio.gather(*(churner(i) for i in range(churners)))


# -------------------------------------------------------------------- sampling


async def sample_memory(
    pid: int, every: float, deadline: float, started: float, samples: list[Sample]
) -> None:
    proc = psutil.Process(pid)
    proc.cpu_percent(None)
    next_print = 0.0
    while time.monotonic() < deadline:
        await asyncio.sleep(every)
        try:
            mem = proc.memory_info()
            sample = Sample(
                t=round(time.monotonic() - started, 1),
                rss_kb=mem.rss // 1024,
                private_kb=(mem.rss - getattr(mem, "shared", 0)) // 1024,
                fds=proc.num_fds(),
                cpu_pct=proc.cpu_percent(None),
            )
        except psutil.Error:
            return
        samples.append(sample)
        if sample.t >= next_print:
            next_print = sample.t + 60
            _log(
                f"soak: t={sample.t:.0f}s rss={sample.rss_kb / 1024:.1f} MB "
                f"private={sample.private_kb / 1024:.1f} MB fds={sample.fds} "
                f"cpu={sample.cpu_pct:.0f}%"
            )


# -------------------------------------------------------------------- report


def minute_table(samples: list[Sample]) -> list[str]:
    rows = [
        "| minute | RSS min | RSS median | RSS max | private median | fds | CPU |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    minutes: dict[int, list[Sample]] = {}
    for s in samples:
        minutes.setdefault(int(s.t // 60), []).append(s)
    for minute, group in sorted(minutes.items()):
        rss = [s.rss_kb / 1024 for s in group]
        rows.append(
            f"| {minute + 1} | {min(rss):.1f} MB | {statistics.median(rss):.1f} MB "
            f"| {max(rss):.1f} MB | {statistics.median(s.private_kb for s in group) / 1024:.1f} MB "
            f"| {max(s.fds for s in group)} | {statistics.fmean(s.cpu_pct for s in group):.0f}% |"
        )
    return rows


def write_outputs(out: Path, samples: list[Sample], summary: list[str]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.with_suffix(".csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["t_s", "rss_kb", "private_kb", "fds", "cpu_pct"])
        for s in samples:
            writer.writerow([s.t, s.rss_kb, s.private_kb, s.fds, s.cpu_pct])
    out.with_suffix(".md").write_text("\n".join(summary) + "\n")


# ---------------------------------------------------------------------- main


async def soak(args: argparse.Namespace) -> bool:
    duration = args.minutes * 60
    workdir = Path(tempfile.mkdtemp(prefix="grover-soak-"))
    port = free_port()
    expiry = str(args.expiry)
    extra = ["--resume-ttl", expiry, "--actor-idle-timeout", expiry]
    if args.resume_buffer is not None:
        extra += ["--resume-buffer", str(args.resume_buffer)]
    argv = GroverTarget().node_command(port, free_port(), workdir, *extra)
    server = ServerProcess(argv, workdir / "server.log", role="soak-server")
    samples: list[Sample] = []
    churn = Churn()
    mixed: dict[str, Any] = {}
    try:
        await server.wait_listening(port, 30.0)
        url = f"ws://127.0.0.1:{port}/"
        _log(f"soak: grover pid {server.pid} on {url}, {args.minutes:g} min; log {server.log_path}")
        started = time.monotonic()
        deadline = started + duration
        spec = CaseSpec(
            "soak_mixed",
            "mixed",
            "soak: mixed blend",
            {
                "conns": args.conns,
                "load": args.load,
                "direct_rate": args.direct_rate,
                "group_rate": args.group_rate,
                "live_rate": args.live_rate,
            },
            # The window ends a little before the soak so that the drain fits.
            Timing(warmup=1.0, window=max(5.0, duration - 10), drain=3.0, progress_every=60.0),
        )
        tasks = [
            run_generator(url, server.pid, spec),
            run_churn(url, args.churners, args.churn_rate, deadline, churn),
            sample_memory(server.pid, args.sample_every, deadline, started, samples),
        ]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        mixed = results[0] if isinstance(results[0], dict) else {"ok": False, "error": results[0]}
        for outcome in results[1:]:
            if isinstance(outcome, BaseException):
                churn.error(f"{type(outcome).__name__}: {outcome}")
        alive = server.proc.poll() is None
    finally:
        exit_code = await server.stop()
        warnings = server.log_warnings()
    verdict = judge(samples, duration, args.max_slope, args.max_growth, args.margin)
    if not alive:
        verdict.ok = False
        verdict.reasons.append(f"the server died (exit {exit_code}): {server.log_tail(400)}")
    if not mixed.get("ok"):
        verdict.ok = False
        verdict.reasons.append(f"mixed traffic failed: {mixed.get('error')}")
    if churn.cycles == 0:
        verdict.ok = False
        verdict.reasons.append(f"no churn cycle completed: {churn.errors}")
    metrics = mixed.get("metrics", {})
    summary = [
        f"# Soak: {args.minutes:g} min, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
        "",
        f"- mixed: {args.conns} connections at load {args.load:g}: "
        f"{metrics.get('acks_per_s', '?')} acks/s, {metrics.get('deliveries_per_s', '?')} "
        f"deliveries/s, ack latency {metrics.get('ack', '?')}, "
        f"errors {mixed.get('errors', '?')}",
        f"- churn: {args.churners} accounts, {churn.cycles} reconnect cycles, "
        f"{churn.requests} requests, errors {churn.errors or 0}",
        f"- server warnings: {dict(warnings.most_common(5)) or 'none'}",
        f"- RSS: second-quarter median {verdict.q2_rss_kb / 1024:.1f} MB, last-quarter "
        f"median {verdict.q4_rss_kb / 1024:.1f} MB, slope over the second half "
        f"{verdict.slope_kb_min:.0f} KB/min (limit {args.max_slope:g} KB/min, growth "
        f"{args.max_growth:g}% + {args.margin:g} MB)",
        f"- verdict: **{'PASS' if verdict.ok else 'FAIL'}**"
        + "".join(f"\n  - {r}" for r in verdict.reasons),
        "",
        *minute_table(samples),
    ]
    if verdict.ok:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        summary.append(f"\n(server log and data kept in {workdir})")
    write_outputs(Path(args.out), samples, summary)
    print("\n".join(summary))
    print(f"\n(samples: {Path(args.out).with_suffix('.csv')})")
    return verdict.ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--sample-every", type=float, default=10.0, help="seconds")
    parser.add_argument("--conns", type=int, default=500, help="mixed-scenario connections")
    parser.add_argument("--load", type=float, default=1.0, help="mixed-scenario rate factor")
    # Faster than the bench's blend (1, 0.5, 5): every conversation gets ~14
    # messages/s, so that its bounded caches (the last 4096 client keys and
    # 1024 messages, actors/conversation.py) are full within 5 minutes.
    parser.add_argument("--direct-rate", type=float, default=7.0, help="msg/s per pair member")
    parser.add_argument("--group-rate", type=float, default=1.4, help="msg/s per group member")
    parser.add_argument("--live-rate", type=float, default=14.0, help="msg/s per live host")
    parser.add_argument("--churners", type=int, default=20)
    parser.add_argument("--churn-rate", type=float, default=5.0, help="reconnects per second")
    parser.add_argument("--expiry", type=float, default=60.0, help="server resume TTL, idle")
    parser.add_argument(
        "--resume-buffer",
        type=int,
        default=None,
        help="server's events kept per session (default: the server's, 512)",
    )
    parser.add_argument("--max-slope", type=float, default=256.0, help="KB/min")
    parser.add_argument("--max-growth", type=float, default=10.0, help="percent")
    parser.add_argument("--margin", type=float, default=8.0, help="MB")
    parser.add_argument("--out", default=str(RESULTS / "soak"), help="path of soak.csv/.md")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.sample_every <= 0 or args.churners < 2:
        parser.error("--minutes and --sample-every must be > 0, --churners >= 2")

    async def run() -> bool:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await soak(args)

    try:
        ok = uvloop.run(run())
    finally:
        with contextlib.suppress(Exception):
            CHILDREN.kill_all()
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
