"""A user's notification inbox, as their UserActor runs it.

The UserActor is the inbox's only writer, so grouping ("ada and 41 others"),
undo and the unread badge need no coordination between nodes or requests:
each change is one store call followed by a badge count, both in the
actor's turn. What changed is pushed to every session of the user as
``notification.new`` / ``notification.deleted`` and ``badge.updated``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import msgspec

from actors.ids import new_id
from actors.message import Ask, Message
from actors.sessions import Delivery, SessionRef
from actors.store import Store
from actors.store.notifications import NewNotification, NotificationRecord
from protocol.codec import encode_event_body
from protocol.messages import accounts
from protocol.messages import notifications as n

GROUP_WINDOW: Final = 24 * 3600.0
"""Seconds after its newest actor during which an unread notification still
takes more actors of the same kind and target."""
TEXT_CHARS: Final = 100
"""Characters of a comment or post kept as a notification's snippet."""


class Notify(Message, frozen=True):
    """``actor_id`` did ``kind`` to this user's target (``group_key``)."""

    kind: str
    group_key: str
    actor_id: str
    at: float
    post_id: str | None = None
    comment_id: str | None = None
    text: str = ""


class Unnotify(Message, frozen=True):
    """``actor_id`` undid it (an unlike, an unfollow)."""

    group_key: str
    actor_id: str


class MarkRead(Ask[int], frozen=True):
    """Answers the unread count after (see ``NotificationStore.mark_read``)."""

    ids: list[str] | None = None
    up_to: tuple[float, str] | None = None
    origin: SessionRef | None = None


class SetMuted(Ask[list[str]], frozen=True):
    kinds: list[str]


MESSAGES: tuple[type[Message], ...] = (Notify, Unnotify, MarkRead, SetMuted)


TARGET_FIELDS: Final[dict[str, str]] = {
    "stream_live": "stream_id",
    "order": "order_id",
    "tip": "order_id",
    "payout": "payout_id",
}
"""The view field that names the target of a kind whose group key is
``<kind>:<target id>`` (``stream_live:<stream>``, ``order:<order>``,
``tip:<order>``, ``payout:<payout>``)."""


def notification_view(
    record: NotificationRecord, profiles: dict[str, accounts.UserProfile]
) -> n.NotificationView:
    field = TARGET_FIELDS.get(record.kind)
    target = record.group_key.partition(":")[2]
    return n.NotificationView(
        id=record.id,
        kind=record.kind,  # type: ignore[arg-type]  # only Kind values are stored
        actors=[profiles[a] for a in record.actor_ids if a in profiles],
        actor_count=record.actor_count,
        post_id=record.post_id,
        comment_id=record.comment_id,
        text=record.text,
        read=record.read,
        created_at=record.created_at,
        updated_at=record.updated_at,
        stream_id=target if field == "stream_id" else None,
        order_id=target if field == "order_id" else None,
        payout_id=target if field == "payout_id" else None,
    )


async def profiles_of(store: Store, ids: list[str]) -> dict[str, accounts.UserProfile]:
    users = await store.users.get_many(sorted(set(ids)))
    return {
        uid: msgspec.convert(user, accounts.UserProfile, from_attributes=True)
        for uid, user in users.items()
    }


class Inbox:
    """The inbox logic of one UserActor; ``deliver`` pushes encoded events to
    the user's sessions (the actor's own delivery)."""

    def __init__(
        self, user_id: str, store: Store, deliver: Callable[[list[Delivery]], None]
    ) -> None:
        self._user_id = user_id
        self._store = store
        self._deliver = deliver
        self._muted: set[str] | None = None

    async def notify(self, message: Notify) -> None:
        me = self._user_id
        if message.actor_id == me or message.kind in await self._muted_kinds():
            return
        if await self._store.blocks.is_blocked(me, message.actor_id):
            return
        new = NewNotification(
            id=new_id(),
            recipient_id=me,
            kind=message.kind,
            group_key=message.group_key,
            actor_id=message.actor_id,
            post_id=message.post_id,
            comment_id=message.comment_id,
            text=message.text[:TEXT_CHARS],
            at=message.at,
        )
        row = await self._store.notifications.add(new, window=GROUP_WINDOW)
        if row is not None:
            await self._push_row(row)

    async def unnotify(self, message: Unnotify) -> None:
        removed = await self._store.notifications.remove(
            self._user_id, message.group_key, message.actor_id
        )
        if removed is None:
            return
        notification_id, row = removed
        if row is None:
            event = n.NotificationDeleted(notification_id=notification_id)
            await self._push([encode_event_body(event)])
        else:
            await self._push_row(row)

    async def mark_read(self, message: MarkRead) -> int:
        unread = await self._store.notifications.mark_read(
            self._user_id, ids=message.ids, up_to=message.up_to
        )
        body = encode_event_body(n.BadgeUpdated(unread=unread))
        self._deliver([Delivery(body, message.origin)])
        return unread

    async def set_muted(self, kinds: list[str]) -> list[str]:
        await self._store.notifications.set_muted(self._user_id, kinds)
        self._muted = set(kinds)
        return sorted(self._muted)

    async def _muted_kinds(self) -> set[str]:
        if self._muted is None:
            self._muted = set(await self._store.notifications.muted(self._user_id))
        return self._muted

    async def _push_row(self, row: NotificationRecord) -> None:
        profiles = await profiles_of(self._store, row.actor_ids)
        event = n.NotificationNew(notification=notification_view(row, profiles))
        await self._push([encode_event_body(event)])

    async def _push(self, bodies: list[bytes]) -> None:
        unread = await self._store.notifications.unread_count(self._user_id)
        bodies.append(encode_event_body(n.BadgeUpdated(unread=unread)))
        self._deliver([Delivery(body) for body in bodies])
