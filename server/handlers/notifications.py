"""Handlers of the notification inbox: the page is read from the store; read
marks and mute settings go through the user's actor, the inbox's only
writer, which pushes the new badge to the user's other sessions."""

from __future__ import annotations

from actors.inbox import MarkRead, SetMuted, notification_view
from actors.user import user_key
from protocol.messages import notifications as n
from server.context import Caller, Handler, Services
from server.handlers.social_views import Viewer, page_of


async def list_notifications(
    services: Services, caller: Caller, req: n.ListNotifications
) -> n.NotificationPage:
    me = caller.user()
    inbox, viewer = services.store.notifications, Viewer(services.store, me)
    scope = f"notifications:{me}"
    before = await services.cursors.decode(scope, req.cursor)
    rows = await inbox.page(me, before=before, limit=req.limit + 1)
    actors = await viewer.authors([a for row in rows[: req.limit] for a in row.actor_ids])
    views = [notification_view(row, actors) for row in rows]
    shown, next_cursor = await page_of(
        services.cursors,
        scope,
        rows,
        limit=req.limit,
        key=lambda row: (row.updated_at, row.id),
        views=views,
    )
    unread = await inbox.unread_count(me)
    head = rows[0] if rows else None
    read_cursor = await services.cursors.encode(scope, (head.updated_at, head.id)) if head else None
    return n.NotificationPage(
        notifications=shown, next_cursor=next_cursor, read_cursor=read_cursor, unread=unread
    )


async def mark_read(services: Services, caller: Caller, req: n.MarkRead) -> n.Badge:
    me = caller.user()
    up_to = await services.cursors.decode(f"notifications:{me}", req.up_to_cursor)
    ids = [req.notification_id] if req.notification_id is not None else None
    message = MarkRead(ids=ids, up_to=up_to if ids is None else None, origin=caller.ref)
    return n.Badge(unread=await services.actors.ask(user_key(me), message))


async def get_settings(
    services: Services, caller: Caller, req: n.GetSettings
) -> n.NotificationSettings:
    muted = await services.store.notifications.muted(caller.user())
    return n.NotificationSettings(muted=muted)  # type: ignore[arg-type]  # stored from Kind


async def update_settings(
    services: Services, caller: Caller, req: n.UpdateSettings
) -> n.NotificationSettings:
    muted = await services.actors.ask(user_key(caller.user()), SetMuted(kinds=list(req.muted)))
    return n.NotificationSettings(muted=muted)  # type: ignore[arg-type]  # stored from Kind


HANDLERS: dict[type, Handler] = {
    n.ListNotifications: list_notifications,
    n.MarkRead: mark_read,
    n.GetSettings: get_settings,
    n.UpdateSettings: update_settings,
}
