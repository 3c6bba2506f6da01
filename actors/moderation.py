"""The moderation domain's rules: who is an admin, what a suspension refuses,
and the views of reports and audit entries. Pure: no I/O, no state."""

from __future__ import annotations

from typing import Final

from actors.store.accounts import UserRecord
from actors.store.moderation import AuditRecord, ReportRecord, Target
from protocol.errors import ErrorCode, ProtocolError
from protocol.messages import moderation as m

ADMIN: Final = "admin"
USER: Final = "user"
ROLES: Final = (USER, ADMIN)

SUSPENDED_MESSAGE: Final = "this account is suspended"
PREVIEW_CHARS: Final = 200
"""How much of a reported text ``admin.list_reports`` shows."""


def is_admin(user: UserRecord | None) -> bool:
    """An admin who is not suspended (a suspension outranks the role)."""
    return user is not None and user.role == ADMIN and not user.suspended


def refuse_if_suspended(user: UserRecord) -> None:
    """``suspended`` for a suspended account: what ``auth.login`` and a
    ``hello`` with its token answer."""
    if user.suspended:
        raise ProtocolError(ErrorCode.SUSPENDED, SUSPENDED_MESSAGE)


def preview(text: str) -> str:
    return text if len(text) <= PREVIEW_CHARS else text[: PREVIEW_CHARS - 1] + "…"


def seq_view(target: Target) -> int | None:
    return target.seq if target.kind == "message" else None


def kind_view(target: Target) -> m.TargetKind:
    match target.kind:
        case "post" | "comment" | "message" | "user" as kind:
            return kind
    raise ValueError(f"unknown target kind {target.kind!r}")


def report_view(report: ReportRecord) -> m.ReportView:
    return m.ReportView(
        reporter_id=report.reporter_id,
        reason=report.reason,
        text=report.text,
        created_at=report.created_at,
    )


def reasons_by_frequency(reports: list[ReportRecord]) -> list[str]:
    """Each reason once, the most frequent first (ties: the newest first,
    as ``reports`` come newest first)."""
    counts: dict[str, int] = {}
    for report in reports:
        counts[report.reason] = counts.get(report.reason, 0) + 1
    return sorted(counts, key=lambda reason: -counts[reason])


def audit_view(entry: AuditRecord) -> m.AuditEntry:
    return m.AuditEntry(
        id=entry.id,
        admin_id=entry.admin_id,
        action=entry.action,
        kind=kind_view(entry.target),
        target_id=entry.target.id,
        seq=seq_view(entry.target),
        reason=entry.reason,
        created_at=entry.created_at,
    )
