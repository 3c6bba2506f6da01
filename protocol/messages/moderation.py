"""Moderation: reports by users, and what admins do about them.

Anyone logged in may ``report.create`` a post, a comment, a message or a
user they can see. Reports are kept once per reporter and target (a repeat
answers ``duplicate`` and changes nothing). A post or comment reported by
``report_hide_threshold`` distinct users (a server setting, default 3) is
hidden pending review: left out of every list, and ``post.get`` answers
``not_found`` to everyone but its author and admins. Messages and users are
never hidden automatically; their reports wait for an admin.

The ``admin.*`` requests are for accounts with the admin role (granted with
``grover admin grant USERNAME`` on the server); anyone else gets
``forbidden`` and nothing changes. Every admin action that changes something
is written to the audit log (``admin.audit_log``) in the same write.
A suspended user's sessions are closed with 4004, and ``auth.login`` and
``hello`` with their token answer ``suspended`` until ``admin.unsuspend``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from msgspec import Meta

from protocol import limits
from protocol.frames import Event, ObjectId, PositiveSeq, Request

Cursor = Annotated[str, Meta(min_length=1, max_length=limits.CURSOR_MAX)]
PageLimit = Annotated[int, Meta(ge=1, le=limits.PAGE_LIMIT_MAX)]
ReasonText = Annotated[str, Meta(max_length=limits.REPORT_TEXT_MAX)]
TargetKind = Literal["post", "comment", "message", "user"]
ContentKind = Literal["post", "comment"]
"""What can be hidden: messages are reviewed, never hidden (see
``docs/decisions.md``); users are suspended instead."""
Reason = Literal["spam", "harassment", "nudity", "violence", "hate", "other"]


# --------------------------------------------------------------------- views


class ReportAck(msgspec.Struct, kw_only=True):
    duplicate: bool
    """The caller had reported this target before: nothing was stored."""


class ReportView(msgspec.Struct, kw_only=True):
    reporter_id: str
    reason: str
    text: str
    created_at: float


class ReportCase(msgspec.Struct, kw_only=True):
    """The open reports of one target. A message is ``target_id`` (its
    conversation) and ``seq``; ``seq`` is ``None`` for the other kinds."""

    kind: TargetKind
    target_id: str
    seq: int | None
    count: int
    """Distinct users with an open report of it."""
    reasons: list[str]
    """The reasons given, each once, most frequent first."""
    first_at: float
    last_at: float
    reports: list[ReportView]
    """The latest few reports (at most 5), newest first."""
    exists: bool
    """False when the target was deleted since it was reported."""
    hidden: bool
    """A post or comment is hidden, or a user is suspended."""
    author_id: str | None
    """Who wrote the post, comment or message (the user, for a user)."""
    preview: str
    """The start of its text (a user: the username)."""


class ReportCasePage(msgspec.Struct, kw_only=True):
    """Targets with open reports, the oldest first report first (a queue)."""

    cases: list[ReportCase]
    next_cursor: str | None


class ModerationResult(msgspec.Struct, kw_only=True):
    changed: bool
    """``False`` when the target was already so. The action is written to
    the audit log when it changed the target or closed reports."""
    reports_closed: int
    """Open reports of the target this action closed."""


class AuditEntry(msgspec.Struct, kw_only=True):
    id: str
    admin_id: str | None
    """``None`` for the automatic hiding at the report threshold."""
    action: str
    """``hide``, ``restore``, ``dismiss``, ``suspend``, ``unsuspend`` or
    ``auto_hide``."""
    kind: TargetKind
    target_id: str
    seq: int | None
    reason: str
    created_at: float


class AuditPage(msgspec.Struct, kw_only=True):
    """Newest first."""

    entries: list[AuditEntry]
    next_cursor: str | None


# ----------------------------------------------------------------- requests


class CreateReport(Request, tag="report.create", kw_only=True):
    """Report a post, comment or user by id, or a message by its
    conversation (``target_id``) and ``seq``. ``not_found`` for anything the
    caller cannot see (unknown, deleted, hidden by a block or by
    visibility, a conversation they are not in); ``invalid_field`` for one's
    own content or account, or a message without ``seq``. A second report
    of the same target by the same user answers ``duplicate`` and changes
    nothing, whatever its reason."""

    kind: TargetKind
    target_id: ObjectId
    seq: PositiveSeq | None = None
    reason: Reason
    text: ReasonText = ""

    reply = ReportAck


class ListReports(Request, tag="admin.list_reports", kw_only=True):
    """Admins only: targets with open reports, grouped, with their counts."""

    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = ReportCasePage


class Hide(Request, tag="admin.hide", kw_only=True):
    """Admins only: hide a post or comment (``not_found`` if it does not
    exist) and close its open reports."""

    kind: ContentKind
    target_id: ObjectId
    reason: ReasonText = ""

    reply = ModerationResult


class Restore(Request, tag="admin.restore", kw_only=True):
    """Admins only: show a hidden post or comment again and close its open
    reports (reviewed, acceptable)."""

    kind: ContentKind
    target_id: ObjectId
    reason: ReasonText = ""

    reply = ModerationResult


class Dismiss(Request, tag="admin.dismiss", kw_only=True):
    """Admins only: close the open reports of a target and change nothing
    else (the way to clear reports of a message or a user that need no
    action). ``changed`` is whether there were any."""

    kind: TargetKind
    target_id: ObjectId
    seq: PositiveSeq | None = None
    reason: ReasonText = ""

    reply = ModerationResult


class Suspend(Request, tag="admin.suspend", kw_only=True):
    """Admins only: suspend a user. Their sessions are closed with 4004,
    logging in is refused with ``suspended``, and their profile, posts and
    comments are hidden from everyone until ``admin.unsuspend``; their open
    reports are closed. An admin cannot be suspended (revoke the role
    first: ``forbidden``), nor can oneself (``invalid_field``)."""

    user_id: ObjectId
    reason: ReasonText = ""

    reply = ModerationResult


class Unsuspend(Request, tag="admin.unsuspend", kw_only=True):
    """Admins only: lift a suspension; the user may log in again (tokens
    issued before the suspension that have not expired work again)."""

    user_id: ObjectId
    reason: ReasonText = ""

    reply = ModerationResult


class AuditLog(Request, tag="admin.audit_log", kw_only=True):
    """Admins only: every moderation action, newest first."""

    cursor: Cursor | None = None
    limit: PageLimit = 20

    reply = AuditPage


REQUESTS: tuple[type[Request], ...] = (
    CreateReport,
    ListReports,
    Hide,
    Restore,
    Dismiss,
    Suspend,
    Unsuspend,
    AuditLog,
)
EVENTS: tuple[type[Event], ...] = ()
