"""What one ``trend.tags`` and one ``suggestion.users`` cost on a seeded store:
``python -m bench.discovery [--data-dir DIR] [--posts 200000] [--users 5000]``
prints one JSON line.

The seed goes through the store API (as :mod:`bench.seed` does): users, a
follow graph skewed toward a few popular accounts, posts over the last 48
hours with tags drawn from a skewed vocabulary, and the trend rows those
posts make (summed per tag and hour, as the handlers' bumps would leave
them). The requests then run through their handlers on one node without
sockets (no network, no codec): the numbers are the server's work per
request, reads from a warm SQLite file, median and max of ``--rounds``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from actors.ids import new_id
from actors.store import Store
from actors.store.accounts import UserRecord
from actors.store.discovery import BUCKET_SECONDS, bucket_of
from actors.store.social import PostRecord
from protocol.messages import discovery as d
from server.config import Settings
from server.context import Caller, session_ended
from server.gateway.sessions import SessionRegistry
from server.handlers import HANDLERS
from server.storage import make_store
from server.wiring import make_actor_system, make_directory, make_log_reader, make_services

T = TypeVar("T")
CHUNK = 4096


async def _chunked(items: Iterable[T], call: Callable[[T], Awaitable[object]]) -> int:
    batch: list[Awaitable[object]] = []
    done = 0
    for item in items:
        batch.append(call(item))
        if len(batch) >= CHUNK:
            await asyncio.gather(*batch)
            done += len(batch)
            batch = []
    await asyncio.gather(*batch)
    return done + len(batch)


async def seed(store: Store, users: int, posts: int, rng: random.Random) -> dict[str, Any]:
    now = time.time()
    started = time.perf_counter()
    ids = [new_id() for _ in range(users)]
    await _chunked(
        range(users),
        lambda i: store.users.create(
            UserRecord(
                id=ids[i],
                username=f"user{i}",
                email=f"user{i}@bench.invalid",
                password_hash="x",
                created_at=now,
            )
        ),
    )
    # Follows: each user follows 20..120 accounts, a third of them among the
    # 200 most popular (user0..user199 by weight), the rest at random. The
    # bench's caller (user0's neighbour user1) follows 1,000: past the
    # sample of 200, as for someone who follows thousands.
    popular = ids[:200]
    edges: set[tuple[str, str]] = set()
    for i, user in enumerate(ids):
        many = 1000 if i == 1 else rng.randint(20, 120)
        for _ in range(many):
            other = rng.choice(popular) if rng.random() < 0.33 else rng.choice(ids)
            if other != user:
                edges.add((user, other))
    follows_at = {edge: now - rng.uniform(0, 30 * 86400) for edge in edges}
    await _chunked(edges, lambda e: store.follows.follow(e[0], e[1], follows_at[e]))
    follows_s = time.perf_counter() - started

    # Posts over the last 48 hours; 0..3 tags each from 20,000 tags, Zipf-like.
    vocabulary = [f"tag{i}" for i in range(20_000)]
    weights = [1 / (i + 1) for i in range(len(vocabulary))]
    trend: Counter[tuple[str, int]] = Counter()
    records: list[PostRecord] = []
    for _ in range(posts):
        at = now - rng.uniform(0, 48 * BUCKET_SECONDS)
        tags = sorted(set(rng.choices(vocabulary, weights, k=rng.randint(0, 3))))
        records.append(
            PostRecord(id=new_id(), user_id=rng.choice(ids), text="bench", tags=tags, created_at=at)
        )
        for tag in tags:
            trend[(tag, bucket_of(at))] += 1
    await _chunked(records, store.posts.create)
    posts_s = time.perf_counter() - started - follows_s
    await _chunked(
        trend.items(),
        lambda item: store.trends.bump(
            [item[0][0]], item[0][1] * BUCKET_SECONDS, float(item[1]), item[1]
        ),
    )
    return {
        "users": users,
        "follows": len(edges),
        "posts": posts,
        "trend_rows": len(trend),
        "seed_follows_s": round(follows_s, 1),
        "seed_posts_s": round(posts_s, 1),
        "caller": ids[1],
    }


async def run(data_dir: Path, users: int, posts: int, rounds: int) -> dict[str, Any]:
    rng = random.Random(11)
    store = make_store(data_dir=data_dir, mongo_url=None)
    await store.open()
    settings = Settings(data_dir=data_dir)
    sessions = SessionRegistry(
        settings.node,
        buffer_size=10,
        resume_ttl=1.0,
        on_expire=lambda session: session_ended(actors, session),
        read_log=make_log_reader(store),
    )
    directory = make_directory(None)
    actors = make_actor_system(settings, store, sessions, None, directory)
    services = make_services(settings, store, actors, None, directory)
    try:
        seeded = await seed(store, users, posts, rng)
        caller = Caller(sessions.create(), "127.0.0.1", actors)
        caller.session.log_in(seeded.pop("caller"), None)
        result: dict[str, Any] = {**seeded}
        for name, request in (
            ("trend_tags", d.TrendTags(id=1, limit=20)),
            ("suggestion_users", d.SuggestUsers(id=2, limit=20)),
        ):
            handler = HANDLERS[type(request)]
            times = []
            reply: Any = None
            for _ in range(rounds):
                started = time.perf_counter()
                reply = await handler(services, caller, request)
                times.append((time.perf_counter() - started) * 1000)
            result[f"{name}_ms_median"] = round(statistics.median(times), 2)
            result[f"{name}_ms_max"] = round(max(times), 2)
            items = reply.tags if name == "trend_tags" else reply.users
            result[f"{name}_items"] = len(items)
        return result
    finally:
        await services.fanout.stop()
        await actors.stop()
        await sessions.stop()
        await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.discovery", description=__doc__)
    parser.add_argument("--data-dir", type=Path, default=None)
    parser.add_argument("--users", type=int, default=5000)
    parser.add_argument("--posts", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="grover-discovery-") as tmp:
        data_dir = args.data_dir or Path(tmp)
        result = asyncio.run(run(data_dir, args.users, args.posts, args.rounds))
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
