"""Handlers of the moderation domain: reports by anyone, and the admin
requests (the queue of reported targets, hide, restore, dismiss, suspend,
the audit log).

A report is checked against what the reporter may see (through
:class:`~server.handlers.social_views.Viewer`, or membership for a message)
and written by one store call that also counts it and, at the threshold,
hides the target. An admin request first re-reads the caller's account
(a role revoked a moment ago counts at once), then makes one store call
that changes the target, closes its reports and logs the action together;
the actors are told afterwards (a suspended user's actor closes their
sessions; a hidden post's actor tells its watchers it is gone).
"""

from __future__ import annotations

import time

from actors.ids import new_id
from actors.moderation import (
    audit_view,
    is_admin,
    kind_view,
    preview,
    reasons_by_frequency,
    report_view,
    seq_view,
)
from actors.social import Broadcast, Gone, post_key
from actors.store.moderation import (
    ActionResult,
    AuditRecord,
    CaseRecord,
    ReportRecord,
    Target,
)
from actors.store.social import PageKey
from actors.user import Refresh, user_key
from protocol.codec import encode_event_body
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import moderation as m
from protocol.messages import social
from server.context import Caller, Handler, Services
from server.handlers.social_views import Viewer, page_of

REPORTS_PER_CASE = 5
"""Reports shown per target in ``admin.list_reports`` (the newest)."""


def _target(kind: str, target_id: str, seq: int | None) -> Target:
    """The target a request names; ``invalid_field`` when ``seq`` is missing
    for a message or given for anything else."""
    if (kind == "message") != (seq is not None):
        raise ProtocolError(
            ErrorCode.INVALID_FIELD, "seq names a message's position; give it for messages only"
        )
    return Target(kind=kind, id=target_id, seq=seq or 0)


def _not_found(what: str) -> ProtocolError:
    return ProtocolError(ErrorCode.NOT_FOUND, f"no such {what}")


# ------------------------------------------------------------------ reports


async def create_report(services: Services, caller: Caller, req: m.CreateReport) -> m.ReportAck:
    me = caller.user()
    target = _target(req.kind, req.target_id, req.seq)
    author = await _reportable(services, Viewer(services.store, me), target)
    if author == me:
        raise ProtocolError(
            ErrorCode.INVALID_FIELD, "you cannot report yourself or your own content"
        )
    report = ReportRecord(
        id=new_id(),
        reporter_id=me,
        target=target,
        reason=req.reason,
        text=req.text,
        created_at=time.time(),
    )
    outcome = await services.store.reports.create(
        report, hide_at=services.settings.report_hide_threshold
    )
    if outcome.hidden:
        await _tell_hidden(services, target)
    return m.ReportAck(duplicate=not outcome.created)


async def _reportable(services: Services, viewer: Viewer, target: Target) -> str:
    """The author of a target ``viewer.me`` may see (the user, for a user);
    ``not_found`` for anything else."""
    match target.kind:
        case "post":
            return (await viewer.post(target.id)).user_id
        case "comment":
            return (await viewer.comment(target.id)).user_id
        case "user":
            return (await viewer.user(target.id)).id
    # A message: members may report what they can read (blocks do not hide
    # messages, so a blocker can report what was sent before the block).
    store = services.store
    if await store.conversations.get_member(target.id, viewer.me) is None:
        raise _not_found("message")
    sender = await _message_sender(services, target)
    if sender is None:
        raise _not_found("message")
    return sender


async def _message_sender(services: Services, target: Target) -> str | None:
    """The sender of the message at ``target``, ``None`` when there is no
    message there (a deleted one, an edit's log entry, past the end)."""
    entries = await services.store.messages.since(target.id, target.seq - 1, 1)
    if not entries or entries[0].seq != target.seq:
        return None
    entry = entries[0]
    return entry.sender_id if entry.kind == "message" and not entry.deleted else None


async def _tell_hidden(services: Services, target: Target) -> None:
    """A post or comment was just hidden: its watchers see it go, as for a
    delete (a restore pushes nothing: it comes back on the next read)."""
    if target.kind == "post":
        body = encode_event_body(social.PostDeleted(post_id=target.id))
        services.actors.tell(post_key(target.id), Gone(body))
    elif target.kind == "comment":
        comment = await services.store.comments.get(target.id)
        if comment is not None:
            event = social.CommentDeleted(
                post_id=comment.post_id, comment_id=comment.id, tombstone=False
            )
            message = Broadcast(encode_event_body(event), comment.user_id)
            services.actors.tell(post_key(comment.post_id), message)


# -------------------------------------------------------------------- admin


async def _admin(services: Services, caller: Caller) -> str:
    """The caller's id if their account is an admin's now; else ``forbidden``."""
    me = caller.user()
    if not is_admin(await services.store.users.get(me)):
        raise ProtocolError(ErrorCode.FORBIDDEN, "admins only")
    return me


def _audit(admin: str, action: str, target: Target, reason: str) -> AuditRecord:
    return AuditRecord(
        id=new_id(),
        admin_id=admin,
        action=action,
        target=target,
        reason=reason,
        created_at=time.time(),
    )


def _result(result: ActionResult) -> m.ModerationResult:
    return m.ModerationResult(changed=result.changed, reports_closed=result.reports_closed)


async def hide(services: Services, caller: Caller, req: m.Hide) -> m.ModerationResult:
    admin = await _admin(services, caller)
    target = _target(req.kind, req.target_id, None)
    audit = _audit(admin, "hide", target, req.reason)
    result = await services.store.moderation.set_hidden(target, True, audit)
    if result is None:
        raise _not_found(req.kind)
    if result.changed:
        await _tell_hidden(services, target)
    return _result(result)


async def restore(services: Services, caller: Caller, req: m.Restore) -> m.ModerationResult:
    admin = await _admin(services, caller)
    target = _target(req.kind, req.target_id, None)
    audit = _audit(admin, "restore", target, req.reason)
    result = await services.store.moderation.set_hidden(target, False, audit)
    if result is None:
        raise _not_found(req.kind)
    return _result(result)


async def dismiss(services: Services, caller: Caller, req: m.Dismiss) -> m.ModerationResult:
    """``not_found`` only for a target that neither exists nor has open
    reports: reports of something deleted since can still be cleared."""
    admin = await _admin(services, caller)
    target = _target(req.kind, req.target_id, req.seq)
    result = await services.store.moderation.dismiss(
        target, _audit(admin, "dismiss", target, req.reason)
    )
    if not result.changed and not await _exists(services, target):
        raise _not_found(req.kind)
    return _result(result)


async def _exists(services: Services, target: Target) -> bool:
    store = services.store
    match target.kind:
        case "post":
            return await store.posts.get(target.id) is not None
        case "comment":
            return await store.comments.get(target.id) is not None
        case "user":
            return await store.users.get(target.id) is not None
    return await _message_sender(services, target) is not None


async def suspend(services: Services, caller: Caller, req: m.Suspend) -> m.ModerationResult:
    return await _suspend(services, caller, req.user_id, req.reason, suspended=True)


async def unsuspend(services: Services, caller: Caller, req: m.Unsuspend) -> m.ModerationResult:
    return await _suspend(services, caller, req.user_id, req.reason, suspended=False)


async def _suspend(
    services: Services, caller: Caller, user_id: str, reason: str, *, suspended: bool
) -> m.ModerationResult:
    """Write the flag (with its audit entry), then have the user's actor
    re-read the account: on suspension it closes every session with 4004
    and refuses any that attaches later. The actor is told even when
    nothing changed, so a retry repairs an actor a failure left stale."""
    admin = await _admin(services, caller)
    if user_id == admin:
        raise ProtocolError(ErrorCode.INVALID_FIELD, "you cannot suspend yourself")
    store = services.store
    user = await store.users.get(user_id)
    if user is None:
        raise _not_found("user")
    if suspended and user.role == "admin":
        raise ProtocolError(ErrorCode.FORBIDDEN, "revoke the admin role before suspending")
    target = Target(kind="user", id=user_id)
    action = "suspend" if suspended else "unsuspend"
    result = await store.moderation.set_suspended(
        user_id, suspended, _audit(admin, action, target, reason)
    )
    if result is None:
        raise _not_found("user")
    await services.actors.ask(user_key(user_id), Refresh())
    return _result(result)


async def list_reports(services: Services, caller: Caller, req: m.ListReports) -> m.ReportCasePage:
    await _admin(services, caller)
    scope = "reports"
    after = await services.cursors.decode(scope, req.cursor)
    rows = await services.store.reports.cases(after=after, limit=req.limit + 1)
    views = await _case_views(services, rows[: req.limit])

    def key(case: CaseRecord) -> PageKey:
        return case.page_key

    cases, next_cursor = await page_of(
        services.cursors, scope, rows, limit=req.limit, key=key, views=views
    )
    return m.ReportCasePage(cases=cases, next_cursor=next_cursor)


async def _case_views(services: Services, cases: list[CaseRecord]) -> list[m.ReportCase | None]:
    """A view per case: the newest reports and what the target is now (a
    read per kind, and one per reported message)."""
    store = services.store
    reports = await store.reports.open_reports([c.target.key for c in cases], REPORTS_PER_CASE)
    ids: dict[str, list[str]] = {"post": [], "comment": [], "user": []}
    for case in cases:
        ids.get(case.target.kind, []).append(case.target.id)
    posts = await store.posts.get_many(ids["post"])
    comments = await store.comments.get_many(ids["comment"])
    users = await store.users.get_many(ids["user"])
    views: list[m.ReportCase | None] = []
    for case in cases:
        t = case.target
        author: str | None = None
        text, hidden, exists = "", False, True
        if t.kind == "post" and t.id in posts:
            author, text, hidden = posts[t.id].user_id, posts[t.id].text, posts[t.id].hidden
        elif t.kind == "comment" and t.id in comments:
            c = comments[t.id]
            author, text, hidden = c.user_id, c.text, c.hidden
        elif t.kind == "user" and t.id in users:
            author, text, hidden = t.id, users[t.id].username, users[t.id].suspended
        elif t.kind == "message":
            found = await store.messages.since(t.id, t.seq - 1, 1)
            entry = found[0] if found and found[0].seq == t.seq else None
            exists = entry is not None and not entry.deleted
            if entry is not None:
                author, text = entry.sender_id, entry.text
        else:
            exists = False
        mine = [r for r in reports if r.target == t]
        views.append(
            m.ReportCase(
                kind=kind_view(t),
                target_id=t.id,
                seq=seq_view(t),
                count=case.open_count,
                reasons=reasons_by_frequency(mine),
                first_at=case.first_at,
                last_at=case.last_at,
                reports=[report_view(r) for r in mine],
                exists=exists,
                hidden=hidden,
                author_id=author,
                preview=preview(text),
            )
        )
    return views


async def audit_log(services: Services, caller: Caller, req: m.AuditLog) -> m.AuditPage:
    await _admin(services, caller)
    scope = "audit"
    before = await services.cursors.decode(scope, req.cursor)
    rows = await services.store.audit.list(before=before, limit=req.limit + 1)
    entries, next_cursor = await page_of(
        services.cursors,
        scope,
        rows,
        limit=req.limit,
        key=lambda entry: (entry.created_at, entry.id),
        views=[audit_view(entry) for entry in rows],
    )
    return m.AuditPage(entries=entries, next_cursor=next_cursor)


HANDLERS: dict[type, Handler] = {
    m.CreateReport: create_report,
    m.ListReports: list_reports,
    m.Hide: hide,
    m.Restore: restore,
    m.Dismiss: dismiss,
    m.Suspend: suspend,
    m.Unsuspend: unsuspend,
    m.AuditLog: audit_log,
}
