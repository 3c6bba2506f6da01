"""Contract of the moderation ports (reports and their cases, admin actions,
the audit log) and of the fields they add to users, posts and comments, run
against every backend (see ``tests/store/backends.py``)."""

from __future__ import annotations

import sqlite3

from actors.ids import new_id
from actors.store import Store
from actors.store.accounts import UserRecord
from actors.store.moderation import AuditRecord, ReportRecord, Target
from server.storage.sqlite.migrations import MIGRATIONS, migrate
from tests.store.records import T0, make_comment, make_post, make_user


async def users(store: Store, count: int) -> list[UserRecord]:
    made = [make_user(f"mod{new_id()[-8:]}{i}") for i in range(count)]
    for user in made:
        await store.users.create(user)
    return made


def report(reporter: str, target: Target, at: float = T0, reason: str = "spam") -> ReportRecord:
    return ReportRecord(
        id=new_id(), reporter_id=reporter, target=target, reason=reason, created_at=at
    )


def audit(admin: str | None, action: str, target: Target, at: float = T0) -> AuditRecord:
    return AuditRecord(
        id=new_id(), admin_id=admin, action=action, target=target, reason="why", created_at=at
    )


async def test_new_records_are_users_shown_and_not_suspended(store: Store) -> None:
    [ada] = await users(store, 1)
    post = make_post(ada.id)
    await store.posts.create(post)
    stored = await store.users.get(ada.id)
    assert stored is not None and (stored.role, stored.suspended) == ("user", False)
    got = await store.posts.get(post.id)
    assert got is not None and not got.hidden


async def test_a_second_report_by_the_same_user_changes_nothing(store: Store) -> None:
    ada, bob = await users(store, 2)
    target = Target(kind="user", id=bob.id)
    first = await store.reports.create(report(ada.id, target), hide_at=3)
    again = await store.reports.create(report(ada.id, target, reason="other"), hide_at=3)
    assert (first.created, first.open_count) == (True, 1)
    assert (again.created, again.open_count, again.hidden) == (False, 1, False)
    [only] = await store.reports.for_target(target)
    assert only.reason == "spam" and only.open


async def test_the_threshold_hides_a_post_once_and_logs_it(store: Store) -> None:
    ada, *reporters = await users(store, 5)
    post = make_post(ada.id)
    await store.posts.create(post)
    target = Target(kind="post", id=post.id)
    outcomes = [
        await store.reports.create(report(r.id, target, T0 + i), hide_at=3)
        for i, r in enumerate(reporters)
    ]
    assert [(o.open_count, o.hidden) for o in outcomes] == [
        (1, False),
        (2, False),
        (3, True),
        (4, False),
    ]
    got = await store.posts.get(post.id)
    assert got is not None and got.hidden
    [entry] = await store.audit.list(before=None, limit=10)
    assert (entry.admin_id, entry.action, entry.target) == (None, "auto_hide", target)


async def test_comments_hide_at_the_threshold_but_messages_and_users_never(store: Store) -> None:
    ada, bob, cy = await users(store, 3)
    post = make_post(ada.id)
    await store.posts.create(post)
    comment = make_comment(post.id, ada.id)
    assert await store.comments.create(comment) == 1
    for target in (
        Target(kind="comment", id=comment.id),
        Target(kind="message", id="conv", seq=4),
        Target(kind="user", id=ada.id),
    ):
        outcomes = [await store.reports.create(report(r.id, target), hide_at=1) for r in (bob, cy)]
        assert [o.hidden for o in outcomes] == [target.kind == "comment", False]
    got = await store.comments.get(comment.id)
    assert got is not None and got.hidden
    [listed] = await store.comments.list(post.id, None, after=None, limit=10)
    assert listed.hidden  # the store lists it; the viewer leaves it out
    user = await store.users.get(ada.id)
    assert user is not None and not user.suspended


async def test_cases_are_a_queue_by_first_report_with_the_latest_reports(store: Store) -> None:
    reporters = await users(store, 3)
    targets = [Target(kind="user", id=f"u{i}") for i in range(3)] + [
        Target(kind="message", id="c1", seq=9)
    ]
    for i, target in enumerate(targets):
        for j, r in enumerate(reporters[: i % 3 + 1]):
            await store.reports.create(report(r.id, target, T0 + 10 * i + j), hide_at=99)
    first = await store.reports.cases(after=None, limit=3)
    rest = await store.reports.cases(after=first[-1].page_key, limit=3)
    assert [c.target for c in first + rest] == targets
    assert [c.open_count for c in first + rest] == [1, 2, 3, 1]
    assert (first[2].first_at, first[2].last_at) == (T0 + 20, T0 + 22)
    latest = await store.reports.open_reports([targets[2].key, targets[0].key], per_target=2)
    assert [(r.target, r.created_at) for r in latest] == [
        (targets[2], T0 + 22),
        (targets[2], T0 + 21),
        (targets[0], T0),
    ]


async def test_hide_and_restore_close_reports_and_log_only_what_they_did(store: Store) -> None:
    admin, ada, bob = await users(store, 3)
    post = make_post(ada.id)
    await store.posts.create(post)
    target = Target(kind="post", id=post.id)
    await store.reports.create(report(bob.id, target), hide_at=3)
    hid = await store.moderation.set_hidden(target, True, audit(admin.id, "hide", target, T0 + 1))
    assert hid is not None and (hid.changed, hid.reports_closed) == (True, 1)
    assert await store.reports.cases(after=None, limit=10) == []
    [closed] = await store.reports.for_target(target)
    assert not closed.open
    again = await store.moderation.set_hidden(target, True, audit(admin.id, "hide", target, T0 + 2))
    assert again is not None and (again.changed, again.reports_closed) == (False, 0)
    shown = await store.moderation.set_hidden(
        target, False, audit(admin.id, "restore", target, T0 + 3)
    )
    assert shown is not None and shown.changed
    got = await store.posts.get(post.id)
    assert got is not None and not got.hidden
    log = await store.audit.list(before=None, limit=10)
    assert [e.action for e in log] == ["restore", "hide"]
    # A closed report still counts as made: the same user cannot report again,
    # a new reporter opens a new case.
    assert not (await store.reports.create(report(bob.id, target), hide_at=3)).created
    fresh = await store.reports.create(report(admin.id, target, T0 + 5), hide_at=3)
    assert (fresh.created, fresh.open_count) == (True, 1)


async def test_actions_on_unknown_targets_change_nothing(store: Store) -> None:
    [admin] = await users(store, 1)
    for kind in ("post", "comment"):
        target = Target(kind=kind, id="nope")
        assert (
            await store.moderation.set_hidden(target, True, audit(admin.id, "hide", target)) is None
        )
    user = Target(kind="user", id="nope")
    assert (
        await store.moderation.set_suspended("nope", True, audit(admin.id, "suspend", user)) is None
    )
    assert await store.audit.list(before=None, limit=10) == []


async def test_suspension_flips_the_user_and_closes_their_reports(store: Store) -> None:
    admin, ada, bob = await users(store, 3)
    target = Target(kind="user", id=ada.id)
    await store.reports.create(report(bob.id, target), hide_at=3)
    done = await store.moderation.set_suspended(ada.id, True, audit(admin.id, "suspend", target))
    assert done is not None and (done.changed, done.reports_closed) == (True, 1)
    got = await store.users.get(ada.id)
    assert got is not None and got.suspended
    twice = await store.moderation.set_suspended(ada.id, True, audit(admin.id, "suspend", target))
    assert twice is not None and not twice.changed
    lifted = await store.moderation.set_suspended(
        ada.id, False, audit(admin.id, "unsuspend", target, T0 + 1)
    )
    assert lifted is not None and lifted.changed
    got = await store.users.get(ada.id)
    assert got is not None and not got.suspended
    assert [e.action for e in await store.audit.list(before=None, limit=10)] == [
        "unsuspend",
        "suspend",
    ]


async def test_dismiss_closes_reports_and_logs_only_when_there_were_some(store: Store) -> None:
    admin, bob = await users(store, 2)
    target = Target(kind="message", id="conv", seq=3)
    await store.reports.create(report(bob.id, target), hide_at=1)
    done = await store.moderation.dismiss(target, audit(admin.id, "dismiss", target))
    assert (done.changed, done.reports_closed) == (True, 1)
    nothing = await store.moderation.dismiss(target, audit(admin.id, "dismiss", target))
    assert (nothing.changed, nothing.reports_closed) == (False, 0)
    assert len(await store.audit.list(before=None, limit=10)) == 1


async def test_set_role_by_username(store: Store) -> None:
    [ada] = await users(store, 1)
    granted = await store.moderation.set_role(ada.username, "admin")
    assert granted is not None and granted.id == ada.id and granted.role == "admin"
    got = await store.users.get(ada.id)
    assert got is not None and got.role == "admin"
    assert await store.moderation.set_role("nobody", "admin") is None


async def test_the_audit_log_pages_newest_first(store: Store) -> None:
    [admin] = await users(store, 1)
    for i in range(5):
        target = Target(kind="message", id="c", seq=i + 1)
        await store.reports.create(report(admin.id, target), hide_at=9)
        await store.moderation.dismiss(target, audit(admin.id, "dismiss", target, T0 + i // 2))
    first = await store.audit.list(before=None, limit=2)
    key = (first[-1].created_at, first[-1].id)
    rest = await store.audit.list(before=key, limit=10)
    entries = first + rest
    assert len(entries) == 5 and len({e.id for e in entries}) == 5
    keys = [(e.created_at, e.id) for e in entries]
    assert keys == sorted(keys, reverse=True)


def test_migrate_applies_version_5_over_a_gap(tmp_path: object) -> None:
    """The list has no version 4 on this branch: a file at version 3 goes
    to 5, and one at 5 is left alone."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    versions = [version for version, _ in MIGRATIONS]
    assert 5 in versions and versions == sorted(versions)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    for version, statements in MIGRATIONS:
        if version <= 3:
            for statement in statements:
                conn.execute(statement)
    conn.execute("INSERT INTO schema_version VALUES (3)")
    assert migrate(conn) == 3
    columns = {row[1] for row in conn.execute("PRAGMA table_info(posts)")}
    assert "hidden" in columns
    assert migrate(conn) == versions[-1]
