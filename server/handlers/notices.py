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


def _tell(services: Services, recipient: str, message: Message) -> None:
    try:
        services.actors.tell(user_key(recipient), message)
    except ActorError:
        log.warning("a notification could not be queued", exc_info=True)
