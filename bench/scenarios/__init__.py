"""Scenarios: each is ``async def run(ctx) -> dict`` over a CaseContext."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from bench.scenarios import (
    chat,
    connect_storm,
    fanout,
    live,
    mixed,
    notify,
    request_reply,
    search,
    social,
)
from bench.scenarios.base import CaseContext

Scenario = Callable[[CaseContext], Awaitable[dict[str, Any]]]

SCENARIOS: dict[str, Scenario] = {
    "connect_storm": connect_storm.run,
    "echo": request_reply.run,
    "fanout": fanout.run,
    "chat_direct": chat.run,
    "chat_group": chat.run,
    "mixed": mixed.run,
    "post_fanout": social.run_post_fanout,
    "home_feed": social.run_home_feed,
    "post_search": search.run_post_search,
    "like_notify": notify.run_like_notify,
    "live_chat": live.run_live_chat,
}


def get_scenario(kind: str) -> Scenario:
    try:
        return SCENARIOS[kind]
    except KeyError:
        raise ValueError(f"unknown scenario kind {kind!r}") from None
