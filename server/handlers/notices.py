"""Telling a user's inbox what happened to them (``actors.inbox``): the social
handlers call these after their write changed something. A notice is a tell:
the action it reports has already succeeded and is not undone if the notice
cannot be queued (a full mailbox, a node stopping); that is logged."""

from __future__ import annotations

import logging
import time

from actors.errors import ActorError
from actors.inbox import Notify, Unnotify
from actors.message import Message
from actors.store.market import OrderRecord, PayoutRecord
from actors.user import user_key
from server.context import Services

log = logging.getLogger("grover.notices")


def notify(
    services: Services,
    recipient: str,
    kind: str,
    target: str,
    actor: str,
    *,
    post_id: str | None = None,
    comment_id: str | None = None,
    text: str = "",
) -> None:
    """``actor`` did ``kind`` to ``recipient``'s ``target`` (grouped by both)."""
    if recipient == actor:
        return
    message = Notify(
        kind=kind,
        group_key=f"{kind}:{target}",
        actor_id=actor,
        at=time.time(),
        post_id=post_id,
        comment_id=comment_id,
        text=text,
    )
    _tell(services, recipient, message)


def unnotify(services: Services, recipient: str, kind: str, target: str, actor: str) -> None:
    """``actor`` undid it: the unread notification takes them back."""
    if recipient != actor:
        _tell(services, recipient, Unnotify(group_key=f"{kind}:{target}", actor_id=actor))


PAYOUT_ENDS = frozenset({"succeeded", "failed", "returned"})
"""The payout statuses its seller is notified of (where a payout ends, or
comes back as ``returned`` after it succeeded)."""


def notify_order_paid(services: Services, order: OrderRecord) -> None:
    """The seller's ``order`` notification when an order is paid (its buyer
    as actor, the product's title as text); a tip's is :func:`notify_tip`.
    Safe to call twice: the same buyer in the same group is a repeat."""
    if order.kind == "tip":
        notify_tip(services, order)
        return
    notify(services, order.seller_id, "order", order.id, order.buyer_id, text=order.title)


def notify_tip(services: Services, order: OrderRecord) -> None:
    """The creator's ``tip`` notification for a paid tip (the tip's message
    as text, its post if any); safe to call twice."""
    notify(
        services,
        order.seller_id,
        "tip",
        order.id,
        order.buyer_id,
        post_id=order.post_id,
        text=order.message,
    )


def notify_payout(services: Services, payout: PayoutRecord) -> None:
    """The seller's ``payout`` notification when a payout ends (its status as
    text); other statuses notify nobody. A payout has no person behind it:
    its status stands as the actor, so the same status twice is a repeat
    and a later one (``returned`` after ``succeeded``) updates the row."""
    if payout.status in PAYOUT_ENDS:
        actor = f"payout:{payout.status}"
        notify(services, payout.seller_id, "payout", payout.id, actor, text=payout.status)


def _tell(services: Services, recipient: str, message: Message) -> None:
    try:
        services.actors.tell(user_key(recipient), message)
    except ActorError:
        log.warning("a notification could not be queued", exc_info=True)
