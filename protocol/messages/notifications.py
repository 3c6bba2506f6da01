"""Notifications: each user's inbox, grouped the way people expect ("ada and
41 others liked your post"), with an exact unread badge, read marks and
per-kind mute settings. New and grown notifications are pushed live to every
session of the recipient (and covered by resume like every event).

A notification is one row per kind and target while it is unread and within
a day of its newest actor; each further actor joins the row (``actor_count``
+ 1, named first in ``actors``) and moves it to the top. An undo (an unlike,
an unfollow) takes the actor back out of an unread row, and removes the row
with its last actor. Nothing is notified to a user who blocks the actor, or
of a kind the user muted, or of one's own actions.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from protocol import limits
from protocol.frames import Event, ObjectId, Request
from protocol.messages.accounts import UserProfile

Kind = Literal[
    "follow",
    "like_post",
    "like_comment",
    "comment",
    "reply",
    "mention",
    "stream_live",
    "order",
    "payout",
    "tip",
]
"""``follow``: someone followed you. ``like_post``/``like_comment``: a like of
your post or comment. ``comment``: a comment on your post. ``reply``: a reply
to your comment. ``mention``: your ``@username`` in a post or a comment.
``stream_live``: someone you follow went live (``stream_id``; the title is
``text``). ``order``: one of your products was paid for (``order_id``, the
product's title in ``text``). ``payout``: a payout of yours ended (succeeded,
failed or returned; ``payout_id``). ``tip``: someone tipped you (``order_id``;
the tip's message in ``text``)."""
Cursor = Annotated[str, Meta(min_length=1, max_length=limits.CURSOR_MAX)]


class NotificationView(msgspec.Struct, kw_only=True):
    id: str
    kind: Kind
    actors: list[UserProfile]
    """The newest actors first, at most three."""
    actor_count: int
    """Every actor of the group ("ada and ``actor_count - 1`` others")."""
    post_id: str | None
    comment_id: str | None
    text: str
    """The start of the comment or post that caused it, when there is one."""
    read: bool
    created_at: float
    updated_at: float
    stream_id: str | None = None
    """The stream of a ``stream_live`` notification (its title is ``text``)."""
    order_id: str | None = None
    """The order of an ``order`` or ``tip`` notification."""
    payout_id: str | None = None
    """The payout of a ``payout`` notification."""


class NotificationPage(msgspec.Struct, kw_only=True):
    notifications: list[NotificationView]
    next_cursor: str | None
    read_cursor: str | None
    """The position of this page's first (newest) row: pass it to
    ``notification.mark_read`` as ``up_to_cursor`` to mark read what the
    first page showed and everything older, but not what arrived since."""
    unread: int
    """The badge: unread notifications in all."""


class Badge(msgspec.Struct, kw_only=True):
    unread: int


class NotificationSettings(msgspec.Struct, kw_only=True):
    muted: list[Kind]


class ListNotifications(Request, tag="notification.list", kw_only=True):
    """The inbox, most recently active first."""

    cursor: Cursor | None = None
    limit: Annotated[int, Meta(ge=1, le=limits.PAGE_LIMIT_MAX)] = 20

    reply = NotificationPage


class MarkRead(Request, tag="notification.mark_read", kw_only=True):
    """Mark notifications read: ``notification_id`` (one of the caller's;
    another user's id changes nothing), or every notification at or older
    than ``up_to_cursor`` (a page's ``read_cursor``), or with neither, all.
    The caller's other sessions get ``badge.updated``."""

    notification_id: ObjectId | None = None
    up_to_cursor: Cursor | None = None

    reply = Badge


class GetSettings(Request, tag="notification.get_settings", kw_only=True):
    reply = NotificationSettings


class UpdateSettings(Request, tag="notification.update_settings", kw_only=True):
    """Replace the muted kinds: muted kinds are neither stored nor pushed."""

    muted: Annotated[list[Kind], Meta(max_length=16)]

    reply = NotificationSettings


class NotificationNew(Event, tag="notification.new", kw_only=True):
    """A new notification, or one that grew (same ``id``: replace it)."""

    notification: NotificationView


class NotificationDeleted(Event, tag="notification.deleted", kw_only=True):
    """An undo took the notification's last actor back."""

    notification_id: str


class BadgeUpdated(Event, tag="badge.updated", kw_only=True):
    unread: int


REQUESTS: tuple[type[Request], ...] = (ListNotifications, MarkRead, GetSettings, UpdateSettings)
EVENTS: tuple[type[Event], ...] = (NotificationNew, NotificationDeleted, BadgeUpdated)
