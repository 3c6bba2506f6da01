"""Moderation through its handlers, on both storage backends: reports and
their deduplication, hiding at the threshold, admin requests (and their
refusal to everyone else), suspension closing real sessions, the audit log;
one test over a real socket for the close code and the refused ``hello``,
and one of ``grover admin grant`` on a real SQLite file."""

from __future__ import annotations

import asyncio
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from actors.user import ListSessions, user_key
from protocol import limits
from protocol.client import Client, GroverError
from protocol.errors import CloseCode, ErrorCode
from protocol.messages import accounts, messaging, social
from protocol.messages import moderation as m
from server import cli
from server.app import Grover
from server.context import Caller
from server.storage import make_store
from tests.conftest import Connect, register, ws_url
from tests.harness import Node, events, open_node
from tests.store.backends import BACKENDS, backend_context
from tests.test_gateway import wait_for
from tests.test_social import post, refused

PASSWORD = "x" * 8


@pytest.fixture(params=BACKENDS)
async def mod(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> AsyncIterator[Node]:
    """A node without sockets on each storage backend, hiding at 3 reports."""
    async with backend_context(request.param, tmp_path) as backend:
        store = backend.new_store()
        await store.open()
        try:
            async with open_node(tmp_path, store=store, report_hide_threshold=3) as node:
                yield node
        finally:
            await store.close()


async def admin_of(node: Node, name: str = "root") -> Caller:
    caller = await node.user(name)
    assert await node.store.moderation.set_role(name, "admin") is not None
    return caller


async def report(node: Node, caller: Caller, kind: str, target_id: str, **fields: Any) -> Any:
    fields.setdefault("reason", "spam")
    return await node.send(caller, m.CreateReport, kind=kind, target_id=target_id, **fields)


async def audit_actions(node: Node, admin: Caller) -> list[tuple[str, str]]:
    page = await node.call(admin, m.AuditLog, limit=100)
    return [(entry.action, entry.target_id) for entry in page.entries]


async def username(node: Node, caller: Caller) -> str:
    user = await node.store.users.get(caller.user())
    assert user is not None
    return user.username


# ------------------------------------------------------------------ reports


async def test_reporting_the_same_thing_twice_says_so_and_changes_nothing(mod: Node) -> None:
    ada, bob, root = await mod.user(), await mod.user(), await admin_of(mod)
    p = await post(mod, ada)
    first = await report(mod, bob, "post", p.id, text="buy my stuff")
    again = await report(mod, bob, "post", p.id, reason="other", text="really")
    assert (first.duplicate, again.duplicate) == (False, True)
    [case] = (await mod.call(root, m.ListReports)).cases
    assert (case.kind, case.target_id, case.count, case.reasons) == ("post", p.id, 1, ["spam"])
    assert [r.text for r in case.reports] == ["buy my stuff"]
    assert (case.author_id, case.preview, case.exists, case.hidden) == (
        ada.user(),
        "hello",
        True,
        False,
    )


async def test_three_reporters_hide_a_post_from_everyone_but_its_author_and_admins(
    mod: Node,
) -> None:
    ada, root = await mod.user(), await admin_of(mod)
    fans = [await mod.user() for _ in range(3)]
    for fan in fans:
        await mod.call(fan, social.Follow, user_id=ada.user())
    p = await post(mod, ada, "questionable")
    kept = await post(mod, ada, "fine")
    for fan in fans:
        assert not (await report(mod, fan, "post", p.id, reason="nudity")).duplicate
    await refused(ErrorCode.NOT_FOUND, mod.call(fans[0], social.GetPost, post_id=p.id))
    await refused(ErrorCode.NOT_FOUND, mod.call(fans[0], social.LikePost, post_id=p.id))
    own = await mod.call(ada, social.GetPost, post_id=p.id)
    assert own.hidden and own.text == "questionable"
    assert (await mod.call(root, social.GetPost, post_id=p.id)).hidden
    for viewer in (ada, fans[0], root):  # every list leaves it out, the author's too
        by_user = await mod.call(viewer, social.UserPosts, user_id=ada.user())
        assert [x.id for x in by_user.posts] == [kept.id]
    feed = await mod.call(fans[1], social.HomeFeed)
    assert [x.id for x in feed.posts] == [kept.id]
    assert ("auto_hide", p.id) in await audit_actions(mod, root)
    [case] = (await mod.call(root, m.ListReports)).cases
    assert (case.count, case.hidden) == (3, True)
    # The admin restores it: shown again, reports closed, the queue empty.
    restored = await mod.call(root, m.Restore, kind="post", target_id=p.id, reason="art")
    assert (restored.changed, restored.reports_closed) == (True, 3)
    assert not (await mod.call(fans[0], social.GetPost, post_id=p.id)).hidden
    assert (await mod.call(root, m.ListReports)).cases == []


async def test_a_hidden_comment_leaves_the_thread(mod: Node) -> None:
    ada, bob = await mod.user(), await mod.user()
    p = await post(mod, ada)
    c = await mod.call(bob, social.CreateComment, post_id=p.id, text="rude", client_key="c1")
    other = await mod.call(bob, social.CreateComment, post_id=p.id, text="ok", client_key="c2")
    for _ in range(3):
        await report(mod, await mod.user(), "comment", c.id, reason="harassment")
    page = await mod.call(ada, social.ListComments, post_id=p.id)
    assert [x.id for x in page.comments] == [other.id]
    await refused(ErrorCode.NOT_FOUND, mod.call(bob, social.EditComment, comment_id=c.id, text="x"))


async def test_messages_and_users_are_reported_but_never_hidden_automatically(mod: Node) -> None:
    ada, bob, root = await mod.user(), await mod.user(), await admin_of(mod)
    conv = await mod.call(ada, messaging.OpenDirect, user_id=bob.user())
    sent = await mod.call(
        ada, messaging.SendMessage, conversation_id=conv.id, client_key="k", text="threat"
    )
    assert not (await report(mod, bob, "message", conv.id, seq=sent.seq)).duplicate
    assert (await report(mod, bob, "message", conv.id, seq=sent.seq)).duplicate
    for _ in range(3):
        await report(mod, await mod.user(), "user", ada.user(), reason="harassment")
    assert (await mod.call(bob, accounts.GetProfile, user_id=ada.user())).id == ada.user()
    cases = (await mod.call(root, m.ListReports)).cases
    by_kind = {case.kind: case for case in cases}
    assert (by_kind["message"].seq, by_kind["message"].preview) == (sent.seq, "threat")
    assert (by_kind["user"].count, by_kind["user"].hidden) == (3, False)
    dismissed = await mod.call(
        root, m.Dismiss, kind="message", target_id=conv.id, seq=sent.seq, reason="banter"
    )
    assert (dismissed.changed, dismissed.reports_closed) == (True, 1)
    assert [c.kind for c in (await mod.call(root, m.ListReports)).cases] == ["user"]


async def test_reporting_what_one_cannot_see_or_ones_own_is_refused(mod: Node) -> None:
    ada, bob, eve, root = await mod.user(), await mod.user(), await mod.user(), await admin_of(mod)
    secret = await post(mod, ada, "followers only", visibility="followers")
    mine = await post(mod, bob)
    conv = await mod.call(ada, messaging.OpenDirect, user_id=bob.user())
    sent = await mod.call(
        ada, messaging.SendMessage, conversation_id=conv.id, client_key="k", text="hi"
    )
    await mod.call(eve, accounts.BlockUser, user_id=bob.user())
    not_found = [
        ("post", "nope", {}),
        ("comment", "nope", {}),
        ("user", "nope", {}),
        ("post", secret.id, {}),  # followers-only, bob does not follow
        ("user", eve.user(), {}),  # a block either way hides
        ("message", conv.id, {"seq": sent.seq + 5}),
    ]
    for kind, target_id, extra in not_found:
        await refused(ErrorCode.NOT_FOUND, report(mod, bob, kind, target_id, **extra))
    # Not a member of the conversation.
    await refused(ErrorCode.NOT_FOUND, report(mod, eve, "message", conv.id, seq=sent.seq))
    invalid = [
        ("post", mine.id, {}),
        ("user", bob.user(), {}),
        ("message", conv.id, {}),  # no seq
        ("post", mine.id, {"seq": 1}),  # seq for a post
        ("user", ada.user(), {"text": "x" * (limits.REPORT_TEXT_MAX + 1)}),
        ("user", ada.user(), {"reason": "boring"}),
        ("planet", ada.user(), {}),
    ]
    for kind, target_id, extra in invalid:
        await refused(ErrorCode.INVALID_FIELD, report(mod, bob, kind, target_id, **extra))
    assert (await mod.call(root, m.ListReports)).cases == []
    assert (await mod.call(root, m.AuditLog)).entries == []


# -------------------------------------------------------------------- admin


async def test_a_non_admin_gets_forbidden_for_every_admin_request_and_nothing_changes(
    mod: Node,
) -> None:
    ada, bob, root = await mod.user(), await mod.user(), await admin_of(mod)
    p = await post(mod, ada)
    await report(mod, bob, "post", p.id)
    calls: list[tuple[type, dict[str, Any]]] = [
        (m.ListReports, {}),
        (m.Hide, {"kind": "post", "target_id": p.id}),
        (m.Restore, {"kind": "post", "target_id": p.id}),
        (m.Dismiss, {"kind": "post", "target_id": p.id}),
        (m.Suspend, {"user_id": ada.user()}),
        (m.Unsuspend, {"user_id": ada.user()}),
        (m.AuditLog, {}),
    ]
    assert {cls for cls, _ in calls} == set(m.REQUESTS) - {m.CreateReport}
    for cls, fields in calls:
        await refused(ErrorCode.FORBIDDEN, mod.send(bob, cls, **fields))
    # A revoked admin is refused at once.
    await mod.store.moderation.set_role(await username(mod, root), "user")
    await refused(ErrorCode.FORBIDDEN, mod.call(root, m.Hide, kind="post", target_id=p.id))
    await mod.store.moderation.set_role(await username(mod, root), "admin")
    assert not (await mod.call(bob, social.GetPost, post_id=p.id)).hidden
    assert (await mod.call(root, m.ListReports)).cases[0].count == 1
    assert (await mod.call(root, m.AuditLog)).entries == []
    assert (await mod.call(ada, accounts.GetProfile, user_id=bob.user())).id == bob.user()


async def test_admin_actions_on_unknown_targets_are_not_found(mod: Node) -> None:
    root = await admin_of(mod)
    for cls, fields in [
        (m.Hide, {"kind": "post", "target_id": "nope"}),
        (m.Hide, {"kind": "comment", "target_id": "nope"}),
        (m.Restore, {"kind": "post", "target_id": "nope"}),
        (m.Dismiss, {"kind": "user", "target_id": "nope"}),
        (m.Dismiss, {"kind": "message", "target_id": "nope", "seq": 1}),
        (m.Suspend, {"user_id": "nope"}),
        (m.Unsuspend, {"user_id": "nope"}),
    ]:
        await refused(ErrorCode.NOT_FOUND, mod.send(root, cls, **fields))
    await refused(ErrorCode.INVALID_FIELD, mod.send(root, m.Hide, kind="user", target_id="x"))
    await refused(
        ErrorCode.INVALID_FIELD,
        mod.send(root, m.Suspend, user_id="x", reason="x" * (limits.REPORT_TEXT_MAX + 1)),
    )
    await refused(ErrorCode.INVALID_FIELD, mod.call(root, m.Suspend, user_id=root.user()))
    assert (await mod.call(root, m.AuditLog)).entries == []


async def test_hide_pushes_the_post_away_from_watchers_and_logs_once(mod: Node) -> None:
    ada, bob, root = await mod.user(), await mod.user(), await admin_of(mod)
    p = await post(mod, ada)
    await mod.call(bob, social.WatchPosts, post_ids=[p.id])
    hid = await mod.call(root, m.Hide, kind="post", target_id=p.id, reason="gore")
    again = await mod.call(root, m.Hide, kind="post", target_id=p.id, reason="gore")
    assert (hid.changed, again.changed) == (True, False)
    await wait_for(lambda: any(isinstance(e, social.PostDeleted) for e in events(bob)))
    [entry] = (await mod.call(root, m.AuditLog)).entries
    assert (entry.admin_id, entry.action, entry.kind, entry.reason) == (
        root.user(),
        "hide",
        "post",
        "gore",
    )
    eve = await mod.user()
    await refused(ErrorCode.NOT_FOUND, mod.call(eve, social.WatchPosts, post_ids=[p.id]))


async def test_suspension_closes_every_session_refuses_login_and_hides_the_user(
    mod: Node,
) -> None:
    ada, bob, root = await mod.user("ada"), await mod.user(), await admin_of(mod)
    ada_id = ada.user()
    second = mod.caller()
    await mod.call(second, accounts.Login, login="ada", password=PASSWORD)
    p = await post(mod, ada)
    await mod.call(bob, social.Follow, user_id=ada.user())
    sessions = await mod.services.actors.ask(user_key(ada_id), ListSessions())
    assert len(sessions) == 2
    other_admin = await admin_of(mod, "root2")
    await refused(ErrorCode.FORBIDDEN, mod.call(other_admin, m.Suspend, user_id=root.user()))
    done = await mod.call(root, m.Suspend, user_id=ada_id, reason="spam bot")
    assert (done.changed, done.reports_closed) == (True, 0)
    for caller in (ada, second):
        assert caller.user_id is None  # both sessions ended
        await refused(ErrorCode.UNAUTHENTICATED, mod.call(caller, social.HomeFeed))
    assert await mod.services.actors.ask(user_key(ada_id), ListSessions()) == []
    await refused(
        ErrorCode.SUSPENDED, mod.call(mod.caller(), accounts.Login, login="ada", password=PASSWORD)
    )
    # A wrong password still says only that.
    await refused(
        ErrorCode.INVALID_CREDENTIALS,
        mod.call(mod.caller(), accounts.Login, login="ada", password="wrong password"),
    )
    await refused(ErrorCode.NOT_FOUND, mod.call(bob, accounts.GetProfile, user_id=ada_id))
    assert (await mod.call(bob, social.HomeFeed)).posts == []
    found = await mod.call(bob, accounts.SearchUsers, query="ada")
    assert found.users == []
    lifted = await mod.call(root, m.Unsuspend, user_id=ada_id, reason="appeal")
    assert lifted.changed
    back = mod.caller()
    await mod.call(back, accounts.Login, login="ada", password=PASSWORD)
    assert [x.id for x in (await mod.call(bob, social.HomeFeed)).posts] == [p.id]
    assert [a for a, _ in await audit_actions(mod, root)] == ["unsuspend", "suspend"]


async def test_cases_and_the_audit_log_page_with_cursors(mod: Node) -> None:
    root, bob = await admin_of(mod), await mod.user()
    authors = [await mod.user() for _ in range(5)]
    for author in authors:
        await report(mod, bob, "user", author.user())
    first = await mod.call(root, m.ListReports, limit=2)
    seen = [c.target_id for c in first.cases]
    cursor = first.next_cursor
    while cursor is not None:
        page = await mod.call(root, m.ListReports, limit=2, cursor=cursor)
        seen += [c.target_id for c in page.cases]
        cursor = page.next_cursor
    assert seen == [a.user() for a in authors]
    for author in authors:
        await mod.call(root, m.Dismiss, kind="user", target_id=author.user())
    page = await mod.call(root, m.AuditLog, limit=3)
    rest = await mod.call(root, m.AuditLog, limit=3, cursor=page.next_cursor)
    ids = [e.target_id for e in page.entries + rest.entries]
    assert ids == [a.user() for a in reversed(authors)] and rest.next_cursor is None
    await refused(ErrorCode.INVALID_FIELD, mod.call(root, m.AuditLog, cursor=first.next_cursor))


# ---------------------------------------------------- socket and command line


async def test_suspension_closes_the_socket_with_4004_and_hello_is_refused(
    grover: Grover, connect: Connect
) -> None:
    admin = await connect()
    admin_reply = await register(admin)
    await grover.store.moderation.set_role(admin_reply.user.username, "admin")
    target = await connect(reconnect=False)
    reply = await register(target)
    result = await admin.request("admin.suspend", user_id=reply.user.id, reason="abuse")
    assert result.changed
    await wait_for(lambda: target.close_code is not None)
    assert target.close_code == CloseCode.SUSPENDED
    with pytest.raises(GroverError) as caught:
        await Client(reconnect=False).connect(ws_url(grover), token=reply.token)
    assert caught.value.code == ErrorCode.SUSPENDED
    await admin.request("admin.unsuspend", user_id=reply.user.id)
    again = await connect(token=reply.token, reconnect=False)
    assert again.welcome is not None and again.welcome.user is not None
    assert again.welcome.user.id == reply.user.id


def test_grover_admin_grant_and_revoke_on_a_sqlite_file(
    tmp_path: pathlib.Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command as an operator runs it (in-process: ``main`` runs its own
    event loop), on the SQLite file a node made under ``--data-dir``."""

    async def sign_up() -> None:
        async with open_node(tmp_path) as node:
            await node.user("grace")

    async def role() -> str:
        store = make_store(data_dir=tmp_path, mongo_url=None)
        await store.open()
        try:
            user = await store.users.get_by_username("grace")
            assert user is not None
            return user.role
        finally:
            await store.close()

    asyncio.run(sign_up())
    data_dir = ["--data-dir", str(tmp_path)]
    assert cli.main(["admin", "grant", "GRACE", *data_dir]) == 0
    assert "grace is now an admin" in capsys.readouterr().out
    assert asyncio.run(role()) == "admin"
    assert cli.main(["admin", "grant", "nobody", *data_dir]) == 1
    assert "no user named 'nobody'" in capsys.readouterr().err
    assert cli.main(["admin", "revoke", "grace", *data_dir]) == 0
    assert asyncio.run(role()) == "user"
