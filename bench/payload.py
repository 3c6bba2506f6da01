"""The chat-like payload every target carries: ~200 bytes of msgpack per
frame, with the send time inside so a receiver can measure delivery latency."""

from __future__ import annotations

import time

import msgspec

# A realistic chat line; its length makes a bare echo frame ~200 bytes.
_TEXT = (
    "hey! are we still on for tonight? I found a place near the station that "
    "does late ramen, want to meet there around 9? bring the charger pls"
)


class Payload(msgspec.Struct):
    ts: int
    """Sender's ``time.monotonic_ns()`` (one clock for every process on a host)."""
    src: int
    """Sending connection's index."""
    n: int
    """Sender's running count."""
    text: str


class SentAt(msgspec.Struct):
    """What a receiver needs of a payload; other fields are skipped unread."""

    ts: int = 0


def make_payload(src: int, n: int) -> Payload:
    return Payload(ts=time.monotonic_ns(), src=src, n=n, text=_TEXT)


TEXT = _TEXT
