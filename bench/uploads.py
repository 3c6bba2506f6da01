"""Upload bench: ``python -m bench.uploads [--photos N] [--clients K]``.

Starts one Grover server process (``python -m server.cli serve``, SQLite,
local media storage) on free ports, registers K accounts over the websocket
(``auth.register`` gives the bearer token), then K concurrent aiohttp clients
upload N photo-like 1 MB JPEGs (generated with Pillow) to ``POST /v1/media``
with processing on (decode, resize, WEBP, thumbnail, BlurHash). Meanwhile a
separate websocket session sends ``ping`` every 10 ms: its worst round trip
is the event loop's worst stall during the burst (processing runs in worker
threads, so it should stay small). Prints one JSON line: uploads/s, p50/p99
latency, ping p50/max. Bounded: at most ``--limit`` seconds; the server is
stopped by its pid on every path out.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
from PIL import Image

from bench.procs import ServerProcess, free_port
from protocol.client import Client

PYTHON = sys.executable
UNLIMITED = "1000000/1000000"


def photo(index: int, target: int = 1024 * 1024) -> bytes:
    """A ~1 MB JPEG of noise (photos compress about as badly), 1600x1200."""
    image = Image.effect_noise((1600, 1200), 40 + index % 20).convert("RGB")
    for quality in (95, 90, 85, 80, 70):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        if out.tell() <= target * 1.2:
            break
    return out.getvalue()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else 0.0


async def _pinger(url: str, stop: asyncio.Event, rtts: list[float]) -> None:
    client = Client()
    await client.connect(url)
    try:
        while not stop.is_set():
            started = time.perf_counter()
            await client.request("ping")
            rtts.append(time.perf_counter() - started)
            await asyncio.sleep(0.01)
    finally:
        await client.close()


async def _client(
    sidecar: str, token: str, photos: list[bytes], latencies: list[float], errors: list[int]
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    async with aiohttp.ClientSession() as http:
        for body in photos:
            started = time.perf_counter()
            async with http.post(f"{sidecar}/v1/media", data=body, headers=headers) as response:
                await response.read()
                if response.status != 201:
                    errors.append(response.status)
                    continue
            latencies.append(time.perf_counter() - started)


async def run(photos: int, clients: int, workdir: Path) -> dict[str, Any]:
    port, sidecar_port = free_port(), free_port()
    argv = [
        PYTHON,
        "-m",
        "server.cli",
        "serve",
        *("--port", str(port), "--sidecar-port", str(sidecar_port)),
        *("--data-dir", str(workdir / "data"), "--log-level", "WARNING"),
        *("--drain-seconds", "0"),  # no load balancer in front: stop at once
        *("--rate-register", UNLIMITED, "--rate-request", UNLIMITED),
        *("--upload-rate", UNLIMITED, "--upload-daily-bytes", str(1 << 40)),
        *("--argon2-time-cost", "1", "--argon2-memory-kib", "64"),
    ]
    server = ServerProcess(argv, workdir / "server.log")
    try:
        await server.wait_listening(sidecar_port, 30.0)
        await server.wait_listening(port, 30.0)
        url, sidecar = f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{sidecar_port}"
        tokens = []
        for i in range(clients):
            session = Client()
            await session.connect(url)
            reply = await session.request(
                "auth.register", username=f"up{i}", email=f"up{i}@example.com", password="x" * 12
            )
            tokens.append(str(reply.token))
            await session.close()
        bodies = await asyncio.to_thread(lambda: [photo(i) for i in range(min(photos, 16))])
        shares = [
            [bodies[j % len(bodies)] for j in range(i, photos, clients)] for i in range(clients)
        ]
        latencies: list[float] = []
        errors: list[int] = []
        rtts: list[float] = []
        stop = asyncio.Event()
        pinger = asyncio.create_task(_pinger(url, stop, rtts))
        await asyncio.sleep(0.2)  # the pinger's baseline
        started = time.perf_counter()
        await asyncio.gather(
            *(
                _client(sidecar, t, share, latencies, errors)
                for t, share in zip(tokens, shares, strict=True)
            )
        )
        elapsed = time.perf_counter() - started
        stop.set()
        await pinger
        return {
            "photos": photos,
            "clients": clients,
            "photo_bytes": round(statistics.mean(len(b) for b in bodies)),
            "ok": len(latencies),
            "errors": errors[:10],
            "uploads_per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": round(percentile(latencies, 0.5) * 1000, 1),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
            "ping_p50_ms": round(percentile(rtts, 0.5) * 1000, 2),
            "ping_max_ms": round(max(rtts, default=0.0) * 1000, 2),
            "pings": len(rtts),
        }
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.uploads")
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--limit", type=float, default=300.0, help="seconds at most")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-uploads-") as tmp:
        try:
            result = asyncio.run(
                asyncio.wait_for(run(args.photos, args.clients, Path(tmp)), args.limit)
            )
        except TimeoutError:
            print(f"bench.uploads: over {args.limit:.0f}s, stopped", file=sys.stderr)
            return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
