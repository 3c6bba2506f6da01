"""Storage ports of the moderation domain: reports, the report queue (one
case per reported target), the admin actions (hide, restore, dismiss,
suspend) and the audit log they write.

A *target* is what a report names: a post, a comment or a user by id, or a
message by its conversation id and ``seq`` (:class:`Target`). Its
:attr:`Target.key` is one string for all four, the identity reports are
deduplicated on and cases are keyed by.

Each admin action is one port method that changes the target, closes its
open reports and appends its audit entry in one consistency boundary: one
SQLite transaction; on MongoDB (no transactions) the target first, then the
reports, then the entry, and only when the target write changed something,
so a retried action never logs twice. A crash in between can leave an
action without its entry; never an entry without its action.
"""

from __future__ import annotations

from typing import Protocol

import msgspec

from actors.store.accounts import UserRecord
from actors.store.social import PageKey

TARGET_KINDS = ("post", "comment", "message", "user")
CONTENT_KINDS = ("post", "comment")
"""The kinds that can be hidden (``posts.hidden``, ``comments.hidden``)."""


class Target(msgspec.Struct, frozen=True, kw_only=True):
    kind: str
    """One of :data:`TARGET_KINDS`."""
    id: str
    """The post, comment or user id; for a message, its conversation id."""
    seq: int = 0
    """A message's ``seq``; 0 for the other kinds."""

    @property
    def key(self) -> str:
        """``post:<id>``, ``comment:<id>``, ``user:<id>`` or
        ``message:<conversation id>:<seq>``."""
        if self.kind == "message":
            return f"message:{self.id}:{self.seq}"
        return f"{self.kind}:{self.id}"


class ReportRecord(msgspec.Struct, kw_only=True):
    id: str
    reporter_id: str
    target: Target
    reason: str
    text: str = ""
    created_at: float
    open: bool = True
    """Until an admin acts on the target (hide, restore, dismiss, suspend)."""


class ReportOutcome(msgspec.Struct, kw_only=True):
    created: bool
    """``False``: the reporter had reported this target before (any status);
    nothing was written."""
    open_count: int
    """Open reports of the target after the call."""
    hidden: bool
    """This call hid the target (it reached the threshold and was shown)."""


class CaseRecord(msgspec.Struct, kw_only=True):
    """The open reports of one target, summed up (kept in the same write as
    the reports): the admins' queue, oldest ``first_at`` first."""

    target: Target
    open_count: int
    first_at: float
    last_at: float

    @property
    def page_key(self) -> PageKey:
        return self.first_at, self.target.key


class AuditRecord(msgspec.Struct, kw_only=True):
    id: str
    admin_id: str | None
    """``None``: done automatically (``auto_hide`` at the report threshold)."""
    action: str
    target: Target
    reason: str = ""
    created_at: float


class ActionResult(msgspec.Struct, kw_only=True):
    changed: bool
    """The target changed (for ``dismiss``: there were open reports)."""
    reports_closed: int


class ReportStore(Protocol):
    async def create(self, report: ReportRecord, *, hide_at: int) -> ReportOutcome:
        """Store the report unless ``(reporter_id, target)`` has one already,
        and count it in the target's case. When the case reaches ``hide_at``
        open reports and the target is a post or comment that is shown, hide
        it and append an ``auto_hide`` audit entry (``admin_id`` ``None``).
        The target's existence is the caller's check."""

    async def cases(self, *, after: PageKey | None, limit: int) -> list[CaseRecord]:
        """Targets with open reports, by ``(first_at, key)`` ascending,
        strictly after ``after``."""

    async def open_reports(self, keys: list[str], per_target: int) -> list[ReportRecord]:
        """The newest ``per_target`` open reports of each target key, newest
        first within a target (one query)."""

    async def for_target(self, target: Target) -> list[ReportRecord]:
        """Every report of the target, open or closed, oldest first."""


class ModerationStore(Protocol):
    """The admin actions; each also closes the target's open reports and
    appends ``audit`` (whose ``target`` is the action's), only when it
    changed something."""

    async def set_hidden(
        self, target: Target, hidden: bool, audit: AuditRecord
    ) -> ActionResult | None:
        """Hide or show a post or comment; ``None`` when it does not exist."""

    async def set_suspended(
        self, user_id: str, suspended: bool, audit: AuditRecord
    ) -> ActionResult | None:
        """Suspend a user or lift it; ``None`` when there is no such user."""

    async def dismiss(self, target: Target, audit: AuditRecord) -> ActionResult:
        """Close the target's open reports, nothing else; the entry is
        written only when there were some."""

    async def set_role(self, username: str, role: str) -> UserRecord | None:
        """Set a user's role (``"user"`` or ``"admin"``) by username (stored
        lower-case); the user as now stored, ``None`` if absent. Not audited:
        it is run by an operator on the server (``grover admin``), not over
        the protocol."""


class AuditStore(Protocol):
    async def list(self, *, before: PageKey | None, limit: int) -> list[AuditRecord]:
        """Entries newest first by ``(created_at, id)``, strictly before ``before``."""
