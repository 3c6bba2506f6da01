"""Seed a fresh data dir for a social case before its server starts:
``python -m bench.seed --kind post_fanout --params '{...}' --data-dir DIR``
(``post_fanout``, ``home_feed``, ``post_search``, ``like_notify``, ``live_chat``)
prints one JSON line (what it wrote and how long each part took).

Through the store API (:func:`server.storage.make_store`), not the socket:
registering 5,000 followers and their follows over websockets would need
thousands of extra connections or log-out/log-in rounds per account and
costs tens of seconds, and 200,000 posts through ``post.create`` minutes;
the store's own group commit takes them in batches of 512 and the whole
seed takes seconds. Every account gets one password hash, made once with
the bench's cheap argon2 (the server verifies with the parameters inside
the hash), so generator sessions log in with ``auth.login``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import msgspec

from actors.ids import new_id
from actors.store import Store
from actors.store.accounts import UserRecord
from actors.store.social import GeoPoint, PostRecord
from bench.payload import TEXT
from bench.social_plan import PASSWORD, FanoutPlan, FeedPlan, LikePlan, LivePlan, SearchPlan
from server.auth import Passwords
from server.storage import make_store

SEEDED_KINDS = ("post_fanout", "home_feed", "post_search", "like_notify", "live_chat")

CHUNK = 4096
"""Store calls in flight at once: several group-commit batches' worth."""

T = TypeVar("T")


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


async def _users(store: Store, names: list[str], password_hash: str, now: float) -> list[str]:
    ids = [new_id() for _ in names]

    async def one(pair: tuple[str, str]) -> None:
        user_id, name = pair
        await store.users.create(
            UserRecord(
                id=user_id,
                username=name,
                email=f"{name}@bench.invalid",
                password_hash=password_hash,
                created_at=now,
            )
        )

    await _chunked(zip(ids, names, strict=True), one)
    return ids


async def seed_post_fanout(store: Store, plan: FanoutPlan, password_hash: str) -> dict[str, Any]:
    now = time.time()
    started = time.perf_counter()
    names = [plan.creator] + [plan.follower(i) for i in range(plan.followers)]
    creator, *followers = await _users(store, names, password_hash, now)
    users_s = time.perf_counter() - started

    async def follow(follower: str) -> None:
        await store.follows.follow(follower, creator, now)

    edges = await _chunked(followers, follow)
    return {
        "users": len(names),
        "follows": edges,
        "users_s": round(users_s, 2),
        "follows_s": round(time.perf_counter() - started - users_s, 2),
    }


async def seed_home_feed(store: Store, plan: FeedPlan, password_hash: str) -> dict[str, Any]:
    now = time.time()
    started = time.perf_counter()
    authors = await _users(store, [plan.author(a) for a in range(plan.authors)], password_hash, now)
    readers = await _users(store, [plan.reader(r) for r in range(plan.readers)], password_hash, now)
    users_s = time.perf_counter() - started

    async def follow(pair: tuple[str, str]) -> None:
        await store.follows.follow(pair[0], pair[1], now)

    edges = await _chunked(
        ((readers[r], authors[a]) for r in range(plan.readers) for a in plan.followees(r)),
        follow,
    )
    follows_s = time.perf_counter() - started - users_s

    # Distinct times, interleaved over the authors, older going back: the
    # newest post of every author is among the first ones of a feed.
    def posts() -> Iterable[PostRecord]:
        for p in range(plan.posts_per_author):
            for a, author in enumerate(authors):
                yield PostRecord(
                    id=new_id(),
                    user_id=author,
                    text=f"0:{a}:{p}:{TEXT}",
                    created_at=now - 60 - (p * plan.authors + a) * 0.01,
                )

    count = await _chunked(posts(), store.posts.create)
    posts_s = time.perf_counter() - started - users_s - follows_s
    return {
        "users": plan.authors + plan.readers,
        "follows": edges,
        "posts": count,
        "users_s": round(users_s, 2),
        "follows_s": round(follows_s, 2),
        "posts_s": round(posts_s, 2),
    }


async def seed_post_search(store: Store, plan: SearchPlan, password_hash: str) -> dict[str, Any]:
    now = time.time()
    started = time.perf_counter()
    authors = await _users(store, [plan.author(a) for a in range(plan.authors)], password_hash, now)
    await _users(store, [plan.reader(r) for r in range(plan.readers)], password_hash, now)
    users_s = time.perf_counter() - started

    def posts() -> Iterable[PostRecord]:
        for i in range(plan.posts):
            text, tag, lat, lon = plan.post(i)
            yield PostRecord(
                id=new_id(),
                user_id=authors[i % plan.authors],
                text=f"{text} #{tag}",
                tags=[tag],
                location=GeoPoint(latitude=lat, longitude=lon),
                created_at=now - 60 - (plan.posts - i) * 0.01,
            )

    count = await _chunked(posts(), store.posts.create)
    return {
        "users": plan.authors + plan.readers,
        "posts": count,
        "users_s": round(users_s, 2),
        "posts_s": round(time.perf_counter() - started - users_s, 2),
    }


async def seed_like_notify(store: Store, plan: LikePlan, password_hash: str) -> dict[str, Any]:
    """The authors (one post each) and the likers; no likes yet."""
    now = time.time()
    started = time.perf_counter()
    authors = await _users(store, [plan.author(a) for a in range(plan.authors)], password_hash, now)
    await _users(store, [plan.liker(i) for i in range(plan.likers)], password_hash, now)
    users_s = time.perf_counter() - started
    count = await _chunked(
        (
            PostRecord(id=new_id(), user_id=author, text=f"0:{a}:0:{TEXT}", created_at=now - 60)
            for a, author in enumerate(authors)
        ),
        store.posts.create,
    )
    return {
        "users": plan.authors + plan.likers,
        "posts": count,
        "users_s": round(users_s, 2),
        "posts_s": round(time.perf_counter() - started - users_s, 2),
    }


async def seed_live_chat(store: Store, plan: LivePlan, password_hash: str) -> dict[str, Any]:
    """The host and the viewers' accounts; the stream is started over the socket."""
    started = time.perf_counter()
    names = [plan.host] + [plan.viewer(i) for i in range(plan.viewers)]
    await _users(store, names, password_hash, time.time())
    return {"users": len(names), "users_s": round(time.perf_counter() - started, 2)}


async def seed(kind: str, params: dict[str, Any], data_dir: Path) -> dict[str, Any]:
    """Write ``kind``'s accounts, follows and posts into ``data_dir``'s store."""
    started = time.perf_counter()
    # The server is started with these argon2 settings too (bench accounts).
    password_hash = await Passwords(time_cost=1, memory_kib=64).hash(PASSWORD)
    store = make_store(data_dir=data_dir, mongo_url=None)
    await store.open()
    try:
        if kind == "post_fanout":
            info = await seed_post_fanout(store, FanoutPlan.from_params(params), password_hash)
        elif kind == "home_feed":
            info = await seed_home_feed(store, FeedPlan.from_params(params), password_hash)
        elif kind == "post_search":
            info = await seed_post_search(store, SearchPlan.from_params(params), password_hash)
        elif kind == "like_notify":
            info = await seed_like_notify(store, LikePlan.from_params(params), password_hash)
        elif kind == "live_chat":
            info = await seed_live_chat(store, LivePlan.from_params(params), password_hash)
        else:
            raise ValueError(f"nothing to seed for {kind!r}")
    finally:
        await store.close()
    info["seconds"] = round(time.perf_counter() - started, 2)
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kind", required=True, choices=SEEDED_KINDS)
    parser.add_argument("--params", default="{}", help="the case's params as JSON")
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    params: dict[str, Any] = msgspec.json.decode(args.params)
    args.data_dir.mkdir(parents=True, exist_ok=True)
    info = asyncio.run(seed(args.kind, params, args.data_dir))
    sys.stdout.write(msgspec.json.encode(info).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
