"""MongoDB stores of the moderation domain (:mod:`actors.store.moderation`).

Documents: ``reports`` ``{_id: "<target key>|<reporter id>", id,
reporter_id, target_key, target_kind, target_id, target_seq, reason, text,
created_at, open}`` (the ``_id`` is the deduplication, so two racing
reports of one user cannot both land); ``report_cases`` ``{_id: <target
key>, target_kind, target_id, target_seq, open_count, first_at, last_at}``;
``audit_log`` the :class:`~actors.store.moderation.AuditRecord` fields with
``id`` as ``_id`` and the target flattened like a report's.

Without transactions, each method is an ordered sequence in which only the
caller whose write changed something goes on: the report, then its case's
``$inc``, then the hide, then the audit entry; an action's target, then its
case (removed first, so that a report racing the action opens a new case
rather than being counted in one that is about to go), then the reports,
then the entry. A crash midway can leave a case whose reports are closed (an
admin dismisses it) or an action without its entry, never an entry
without its action.
"""

from __future__ import annotations

from typing import Any, Final

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from actors.store.accounts import UserRecord
from actors.store.moderation import (
    ActionResult,
    AuditRecord,
    CaseRecord,
    ReportOutcome,
    ReportRecord,
    Target,
)
from actors.store.social import PageKey
from server.storage.mongo.documents import Document, keyset, to_user

__all__ = ["MongoAuditStore", "MongoModerationStore", "MongoReportStore"]

#: Attempts of a case upsert: two first reports of a target racing each
#: other can both try to insert the case; the loser retries as an update.
_UPSERT_TRIES: Final = 3


def _target_fields(target: Target) -> Document:
    return {"target_kind": target.kind, "target_id": target.id, "target_seq": target.seq}


def _target(doc: dict[str, Any]) -> Target:
    return Target(kind=doc["target_kind"], id=doc["target_id"], seq=doc.get("target_seq", 0))


def _report(doc: dict[str, Any]) -> ReportRecord:
    return ReportRecord(
        id=doc["id"],
        reporter_id=doc["reporter_id"],
        target=_target(doc),
        reason=doc["reason"],
        text=doc.get("text", ""),
        created_at=doc["created_at"],
        open=bool(doc.get("open", False)),
    )


def _audit_document(entry: AuditRecord) -> Document:
    return {
        "_id": entry.id,
        "admin_id": entry.admin_id,
        "action": entry.action,
        **_target_fields(entry.target),
        "reason": entry.reason,
        "created_at": entry.created_at,
    }


def _audit(doc: dict[str, Any]) -> AuditRecord:
    return AuditRecord(
        id=doc["_id"],
        admin_id=doc.get("admin_id"),
        action=doc["action"],
        target=_target(doc),
        reason=doc.get("reason", ""),
        created_at=doc["created_at"],
    )


class _Collections:
    def __init__(
        self,
        reports: AsyncCollection[Document],
        cases: AsyncCollection[Document],
        posts: AsyncCollection[Document],
        comments: AsyncCollection[Document],
        audit: AsyncCollection[Document],
    ) -> None:
        self._reports = reports
        self._cases = cases
        self._content = {"post": posts, "comment": comments}
        self._audit = audit

    async def _close(self, target: Target) -> int:
        """Drop the case, then close the open reports; how many closed."""
        await self._cases.delete_one({"_id": target.key})
        result = await self._reports.update_many(
            {"target_key": target.key, "open": True}, {"$set": {"open": False}}
        )
        return int(result.modified_count)

    async def _finish(
        self, target: Target, changed: bool, audit: AuditRecord, close: bool = True
    ) -> ActionResult:
        closed = await self._close(target) if close else 0
        if changed or closed:
            await self._audit.insert_one(_audit_document(audit))
        return ActionResult(changed=changed, reports_closed=closed)


class MongoReportStore(_Collections):
    """:class:`actors.store.moderation.ReportStore` on ``reports`` and ``report_cases``."""

    async def create(self, report: ReportRecord, *, hide_at: int) -> ReportOutcome:
        t = report.target
        doc = {
            "_id": f"{t.key}|{report.reporter_id}",
            "id": report.id,
            "reporter_id": report.reporter_id,
            "target_key": t.key,
            **_target_fields(t),
            "reason": report.reason,
            "text": report.text,
            "created_at": report.created_at,
            "open": True,
        }
        try:
            await self._reports.insert_one(doc)
        except DuplicateKeyError:
            case = await self._cases.find_one({"_id": t.key})
            count = int(case["open_count"]) if case else 0
            return ReportOutcome(created=False, open_count=count, hidden=False)
        count = await self._count(report)
        hidden = False
        content = self._content.get(t.kind)
        if content is not None and count >= hide_at:
            result = await content.update_one(
                {"_id": t.id, "hidden": {"$ne": True}}, {"$set": {"hidden": True}}
            )
            hidden = result.modified_count > 0
            if hidden:
                entry = AuditRecord(
                    id=f"auto-{report.id}",
                    admin_id=None,
                    action="auto_hide",
                    target=t,
                    reason=f"{count} reports",
                    created_at=report.created_at,
                )
                await self._audit.insert_one(_audit_document(entry))
        return ReportOutcome(created=True, open_count=count, hidden=hidden)

    async def _count(self, report: ReportRecord) -> int:
        """``$inc`` the case (made on the first report); its new count."""
        t = report.target
        for attempt in range(_UPSERT_TRIES):
            try:
                case = await self._cases.find_one_and_update(
                    {"_id": t.key},
                    {
                        "$inc": {"open_count": 1},
                        "$max": {"last_at": report.created_at},
                        "$setOnInsert": {**_target_fields(t), "first_at": report.created_at},
                    },
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                if attempt + 1 == _UPSERT_TRIES:
                    raise
                continue
            assert case is not None  # an upsert returns the document AFTER
            return int(case["open_count"])
        raise AssertionError("unreachable")

    async def cases(self, *, after: PageKey | None, limit: int) -> list[CaseRecord]:
        if limit <= 0:
            return []
        query: Document = {}
        if after is not None:
            at, key = after
            query = {
                "first_at": {"$gte": at},
                "$or": [{"first_at": {"$gt": at}}, {"first_at": at, "_id": {"$gt": key}}],
            }
        cursor = (
            self._cases.find(query).sort([("first_at", ASCENDING), ("_id", ASCENDING)]).limit(limit)
        )
        return [
            CaseRecord(
                target=_target(doc),
                open_count=int(doc["open_count"]),
                first_at=doc["first_at"],
                last_at=doc["last_at"],
            )
            async for doc in cursor
        ]

    async def open_reports(self, keys: list[str], per_target: int) -> list[ReportRecord]:
        found: list[ReportRecord] = []
        if per_target <= 0:
            return found
        for key in dict.fromkeys(keys):
            cursor = (
                self._reports.find({"target_key": key, "open": True})
                .sort("created_at", DESCENDING)
                .limit(per_target)
            )
            found.extend([_report(doc) async for doc in cursor])
        return found

    async def for_target(self, target: Target) -> list[ReportRecord]:
        cursor = self._reports.find({"target_key": target.key}).sort(
            [("created_at", ASCENDING), ("id", ASCENDING)]
        )
        return [_report(doc) async for doc in cursor]


class MongoModerationStore(_Collections):
    """:class:`actors.store.moderation.ModerationStore`."""

    def __init__(
        self,
        reports: AsyncCollection[Document],
        cases: AsyncCollection[Document],
        posts: AsyncCollection[Document],
        comments: AsyncCollection[Document],
        audit: AsyncCollection[Document],
        *,
        users: AsyncCollection[Document],
    ) -> None:
        super().__init__(reports, cases, posts, comments, audit)
        self._users = users

    async def set_hidden(
        self, target: Target, hidden: bool, audit: AuditRecord
    ) -> ActionResult | None:
        content = self._content[target.kind]
        return await self._flip(content, target, "hidden", hidden, audit, close=True)

    async def set_suspended(
        self, user_id: str, suspended: bool, audit: AuditRecord
    ) -> ActionResult | None:
        target = Target(kind="user", id=user_id)
        # Lifting a suspension leaves reports alone: any filed since are new.
        return await self._flip(self._users, target, "suspended", suspended, audit, close=suspended)

    async def _flip(
        self,
        collection: AsyncCollection[Document],
        target: Target,
        field: str,
        value: bool,
        audit: AuditRecord,
        *,
        close: bool,
    ) -> ActionResult | None:
        if await collection.find_one({"_id": target.id}, {"_id": 1}) is None:
            return None
        current = {"$ne": True} if value else True
        result = await collection.update_one(
            {"_id": target.id, field: current}, {"$set": {field: value}}
        )
        return await self._finish(target, result.modified_count > 0, audit, close=close)

    async def dismiss(self, target: Target, audit: AuditRecord) -> ActionResult:
        result = await self._finish(target, False, audit)
        result.changed = result.reports_closed > 0
        return result

    async def set_role(self, username: str, role: str) -> UserRecord | None:
        doc = await self._users.find_one_and_update(
            {"username": username}, {"$set": {"role": role}}, return_document=ReturnDocument.AFTER
        )
        return to_user(doc) if doc is not None else None


class MongoAuditStore:
    """:class:`actors.store.moderation.AuditStore` on ``audit_log``."""

    def __init__(self, audit: AsyncCollection[Document]) -> None:
        self._audit = audit

    async def list(self, *, before: PageKey | None, limit: int) -> list[AuditRecord]:
        if limit <= 0:
            return []
        cursor = (
            self._audit.find(keyset(before, "_id", newest_first=True))
            .sort([("created_at", DESCENDING), ("_id", DESCENDING)])
            .limit(limit)
        )
        return [_audit(doc) async for doc in cursor]
