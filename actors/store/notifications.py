"""Storage ports of notifications: each user's inbox of grouped notifications
and their per-kind mute settings.

A notification is one row per *group*: the same ``group_key`` (a kind and its
target, e.g. ``like_post:<post id>``) while the row is unread and younger
than the grouping window. Each actor of a group is a row of its own (so an
undo removes exactly that actor, and ``actor_count`` is exact); the newest
few are shown. Every method of :class:`NotificationStore` is called by the
recipient's UserActor only (one writer per inbox), so a method is one
consistency boundary on SQLite and a short ordered sequence on MongoDB
without races between writers.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from actors.store.social import PageKey

SHOWN_ACTORS = 3
"""Actors a notification names ("ada, bob and 40 others"); the rest are counted."""


class NotificationRecord(msgspec.Struct, kw_only=True):
    id: str
    recipient_id: str
    kind: str
    group_key: str
    actor_ids: list[str]
    """The newest actors first, at most :data:`SHOWN_ACTORS`."""
    actor_count: int
    post_id: str | None = None
    comment_id: str | None = None
    text: str = ""
    """A snippet of what caused it (a comment's start), for the inbox row."""
    read: bool = False
    created_at: float
    updated_at: float
    """Its place in the inbox: the time its newest actor joined."""


class NewNotification(msgspec.Struct, kw_only=True):
    """What happened: ``actor_id`` did ``kind`` to the recipient's target."""

    id: str
    """The id of the row if a new one is made."""
    recipient_id: str
    kind: str
    group_key: str
    actor_id: str
    post_id: str | None = None
    comment_id: str | None = None
    text: str = ""
    at: float


class NotificationStore(Protocol):
    async def add(self, new: NewNotification, *, window: float) -> NotificationRecord | None:
        """Join ``new.actor_id`` to the recipient's unread row of
        ``new.group_key`` last updated within ``window`` seconds of
        ``new.at`` (count + 1, actor first, ``updated_at`` = ``new.at``,
        ``text``/``comment_id`` replaced), or make a new row with id
        ``new.id``. ``None`` when the actor is already in that row (a
        repeat: nothing changes). Returns the row as stored."""

    async def remove(
        self, recipient_id: str, group_key: str, actor_id: str
    ) -> tuple[str, NotificationRecord | None] | None:
        """Take ``actor_id`` out of the recipient's *unread* row of
        ``group_key`` (the newest one holding that actor): ``(id, row)`` with
        the row as it is now, or ``(id, None)`` when it had no other actor
        and was deleted. ``None`` when no unread row holds the actor (read
        notifications stay as they were)."""

    async def page(
        self, recipient_id: str, *, before: PageKey | None, limit: int
    ) -> list[NotificationRecord]:
        """The inbox, newest ``updated_at`` first (ties by id, descending);
        ``before`` is the ``(updated_at, id)`` of the previous page's last row."""

    async def mark_read(
        self,
        recipient_id: str,
        *,
        ids: list[str] | None = None,
        up_to: PageKey | None = None,
    ) -> int:
        """Mark the recipient's rows read: those of ``ids`` (others' ids are
        ignored), or every row at or older than ``up_to``, or (neither given)
        all. Returns the unread count after."""

    async def unread_count(self, recipient_id: str) -> int: ...

    async def muted(self, user_id: str) -> list[str]:
        """The kinds the user does not want notified (none by default)."""

    async def set_muted(self, user_id: str, kinds: list[str]) -> None: ...
