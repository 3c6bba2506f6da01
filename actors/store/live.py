"""Storage ports of live streaming: streams, their chat log, bans and the
viewers each stream ever had.

A stream is written by its StreamActor (``stream:<id>``) only, which keeps
the hot state (viewers, chat pacing) and saves the record at each change of
lifecycle and at most every few seconds while live. Chat lines are appended
in batches (one write per tick of the actor, not one per line).
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from actors.store.social import PageKey


class StreamRecord(msgspec.Struct, kw_only=True):
    id: str
    host_id: str
    title: str
    description: str = ""
    tags: list[str] = []
    thumbnail_url: str = ""
    visibility: str = "public"
    """``"public"`` or ``"followers"`` (who may watch)."""
    chat_mode: str = "everyone"
    """``"everyone"`` or ``"followers"`` (who may chat)."""
    slow_mode_seconds: int = 0
    status: str = "scheduled"
    """``"scheduled"``, ``"live"`` or ``"ended"``."""
    channel: str
    """The Agora channel name (derived from the id)."""
    scheduled_time: float | None = None
    start_time: float | None = None
    end_time: float | None = None
    viewer_count: int = 0
    peak_viewers: int = 0
    unique_viewers: int = 0
    moderators: list[str] = []
    pinned_message_id: str | None = None
    created_at: float


class ChatLineRecord(msgspec.Struct, kw_only=True):
    id: str
    stream_id: str
    user_id: str
    text: str
    client_key: str | None = None
    created_at: float
    deleted: bool = False
    tip_amount: int | None = None
    """Set on the highlighted line of a paid tip (minor units), with
    ``tip_currency`` and ``tip_order_id``."""
    tip_currency: str | None = None
    tip_order_id: str | None = None


class StreamStore(Protocol):
    async def create(self, stream: StreamRecord) -> None:
        """Insert; ``Conflict("id")`` for a taken id; ``Conflict("live")``
        when the record is live and its host already has a live stream."""

    async def get(self, stream_id: str) -> StreamRecord | None: ...

    async def get_many(self, stream_ids: list[str]) -> dict[str, StreamRecord]: ...

    async def save(self, stream: StreamRecord) -> None:
        """Replace the record (the actor's single writer). ``Conflict("live")``
        when it makes a second live stream of its host (nothing changes)."""

    async def live_of_host(self, host_id: str) -> StreamRecord | None:
        """The host's live stream, if any."""

    async def live_now(self, *, before: PageKey | None, limit: int) -> list[StreamRecord]:
        """Live streams, most viewers first; the key is ``(viewer_count, id)``."""

    async def scheduled_by_hosts(self, host_ids: list[str], limit: int) -> list[StreamRecord]:
        """Scheduled streams of these hosts, soonest first."""

    async def by_host(
        self, host_id: str, *, before: PageKey | None, limit: int
    ) -> list[StreamRecord]:
        """The host's streams, newest ``created_at`` first."""

    async def add_viewer(self, stream_id: str, user_id: str, at: float) -> bool:
        """Record that ``user_id`` watched; ``True`` the first time (the
        stream's unique viewers)."""


class ChatStore(Protocol):
    async def append(self, lines: list[ChatLineRecord]) -> None:
        """Store a batch (one write); a line whose ``(stream_id, user_id,
        client_key)`` exists is skipped (a retried send)."""

    async def recent(self, stream_id: str, limit: int) -> list[ChatLineRecord]:
        """The newest lines that are not deleted, oldest first."""

    async def get(self, line_id: str) -> ChatLineRecord | None: ...

    async def delete(self, line_id: str) -> bool:
        """Mark deleted; ``True`` if it was not already."""

    async def page(
        self, stream_id: str, *, after: PageKey | None, limit: int
    ) -> list[ChatLineRecord]:
        """The full log, oldest first (deleted lines included, flagged)."""


class StreamBanStore(Protocol):
    async def ban(self, stream_id: str, user_id: str, at: float) -> bool:
        """``True`` when new."""

    async def is_banned(self, stream_id: str, user_id: str) -> bool: ...
