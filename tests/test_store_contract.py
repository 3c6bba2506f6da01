"""One contract suite for every storage backend (see ``tests/store_backends.py``),
then what is particular to each: SQLite's group commit and threads, MongoDB's
indexes and error mapping.
"""

from __future__ import annotations

import asyncio
import pathlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from pymongo.errors import BulkWriteError, DuplicateKeyError

from actors.ids import new_id
from actors.store import Conflict, Store, StoreError
from actors.store.accounts import AuthSessionRecord, ProfileUpdate, UserRecord
from actors.store.messaging import (
    ConversationRecord,
    ConversationSummaryUpdate,
    MemberRecord,
    MessageRecord,
)
from server.storage import SQLITE_FILE_NAME, MongoStore, SqliteStore, make_store
from server.storage.mongo import INDEXES, MongoConversationStore
from server.storage.mongo import _conflict as mongo_conflict
from server.storage.mongo import _conversation_document as mongo_conversation_document
from server.storage.mongo import _message_conflict as mongo_message_conflict
from server.storage.sqlite import (
    CLIENT_KEY_SQL,
    HISTORY_SQL,
    LAST_SEQ_SQL,
    MIGRATIONS,
    SCHEMA_VERSION,
    SINCE_SQL,
    UNREAD_SQL,
    SqliteDatabase,
    fts_query,
    prefix_upper_bound,
)
from tests.store_backends import (
    BACKENDS,
    STANDIN_NO_GEO,
    STANDIN_NO_TEXT,
    Backend,
    backend_context,
)

WAIT = 10.0  # seconds; generous upper bound for anything that should be quick


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> AsyncIterator[Backend]:
    async with backend_context(request.param, tmp_path) as value:
        yield value


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    opened = backend.new_store()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


def make_user(username: str, *, email: str | None = None, display_name: str = "") -> UserRecord:
    """A user as the domain would build it: username and email lower-cased."""
    return UserRecord(
        id=new_id(),
        username=username.lower(),
        email=(email or f"{username}@example.com").lower(),
        password_hash="argon2id$fake",
        display_name=display_name,
        created_at=1_700_000_000.5,
    )


def usernames(users: list[UserRecord]) -> list[str]:
    return [user.username for user in users]


# --------------------------------------------------------------------------- users


async def test_create_then_get_by_id_username_and_email(store: Store) -> None:
    alice = make_user("Alice", display_name="Alice A.")
    alice.bio = "hi"
    alice.avatar_url = "https://img.example/a.webp"
    await store.users.create(alice)

    assert await store.users.get(alice.id) == alice
    assert await store.users.get_by_username("alice") == alice
    assert await store.users.get_by_email("alice@example.com") == alice
    assert await store.users.get(new_id()) is None
    assert await store.users.get_by_username("nobody") is None
    assert await store.users.get_by_email("nobody@example.com") is None


@pytest.mark.parametrize("field", ["username", "email"])
async def test_duplicate_is_a_conflict_naming_the_field_and_changes_nothing(
    store: Store, field: str
) -> None:
    original = make_user("alice", email="alice@example.com", display_name="Alice")
    await store.users.create(original)
    # The domain lower-cases, so "ALICE" and "Alice@Example.COM" collide.
    clash = make_user(
        "ALICE" if field == "username" else "bob",
        email="Alice@Example.COM" if field == "email" else "bob@example.com",
        display_name="Impostor",
    )

    with pytest.raises(Conflict) as caught:
        await store.users.create(clash)

    assert caught.value.field == field
    assert await store.users.get(clash.id) is None
    assert await store.users.get_by_username("alice") == original
    assert await store.users.get_by_email("alice@example.com") == original
    if field == "email":
        assert await store.users.get_by_username("bob") is None
    assert usernames(await store.users.search_prefix("", 10)) == ["alice"]


async def test_concurrent_creates_one_conflict_others_stored(store: Store) -> None:
    users = [make_user(f"user{i:02d}") for i in range(20)]
    clash = make_user("user07", email="other@example.com")

    results = await asyncio.gather(
        *(store.users.create(user) for user in [*users, clash]), return_exceptions=True
    )

    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1
    assert isinstance(errors[0], Conflict) and errors[0].field == "username"
    for user in users:
        assert await store.users.get(user.id) == user
    assert await store.users.get(clash.id) is None


async def test_update_profile_sets_only_given_fields(store: Store) -> None:
    user = make_user("carol", display_name="Carol")
    user.bio = "old bio"
    await store.users.create(user)

    updated = await store.users.update_profile(user.id, ProfileUpdate(display_name="Caro"))
    assert updated is not None
    assert (updated.display_name, updated.bio, updated.avatar_url) == ("Caro", "old bio", "")
    assert await store.users.get(user.id) == updated

    updated = await store.users.update_profile(
        user.id, ProfileUpdate(bio="", avatar_url="https://img.example/c.webp")
    )
    assert updated is not None
    assert (updated.display_name, updated.bio, updated.avatar_url) == (
        "Caro",
        "",
        "https://img.example/c.webp",
    )
    # Untouched fields keep their values, identity fields included.
    assert (updated.id, updated.username, updated.email, updated.created_at) == (
        user.id,
        user.username,
        user.email,
        user.created_at,
    )
    assert await store.users.update_profile(user.id, ProfileUpdate()) == updated
    assert await store.users.get(user.id) == updated


async def test_update_profile_of_missing_user_is_none(store: Store) -> None:
    assert await store.users.update_profile(new_id(), ProfileUpdate(bio="x")) is None
    assert await store.users.update_profile(new_id(), ProfileUpdate()) is None


async def test_update_profile_moves_display_name_in_prefix_search(store: Store) -> None:
    user = make_user("dave", display_name="Zebra")
    await store.users.create(user)
    assert usernames(await store.users.search_prefix("zeb", 10)) == ["dave"]

    await store.users.update_profile(user.id, ProfileUpdate(display_name="Yak"))

    assert await store.users.search_prefix("zeb", 10) == []
    assert usernames(await store.users.search_prefix("YA", 10)) == ["dave"]


# --------------------------------------------------------------------------- search


async def test_search_prefix_matches_username_or_display_name_case_insensitively(
    store: Store,
) -> None:
    for username, display in [
        ("alice", "Alice Liddell"),
        ("alina", "Zed"),
        ("bob", "Alfred Smith"),
        ("zoe", "Élodie"),
        ("mallory", "Mal"),
    ]:
        await store.users.create(make_user(username, display_name=display))

    assert usernames(await store.users.search_prefix("AL", 10)) == ["alice", "alina", "bob"]
    assert usernames(await store.users.search_prefix("al", 2)) == ["alice", "alina"]
    assert usernames(await store.users.search_prefix("ÉL", 10)) == ["zoe"]
    assert usernames(await store.users.search_prefix("él", 10)) == ["zoe"]
    # A prefix, not a substring: "Smith" is inside bob's display name.
    assert await store.users.search_prefix("smith", 10) == []
    assert await store.users.search_prefix("al", 0) == []
    assert usernames(await store.users.search_prefix("", 3)) == ["alice", "alina", "bob"]


async def test_search_prefix_treats_wildcards_and_regex_characters_literally(
    store: Store,
) -> None:
    for username, display in [
        ("a_b", ""),
        ("axb", ""),
        ("a%b", ""),
        ("aab", ""),
        ("plain", "50% off"),
        ("plain2", "500 off"),
        ("dot", "a.b"),
        ("star", "a*b"),
    ]:
        await store.users.create(make_user(username, display_name=display))

    assert usernames(await store.users.search_prefix("a_", 10)) == ["a_b"]
    assert usernames(await store.users.search_prefix("a%", 10)) == ["a%b"]
    assert usernames(await store.users.search_prefix("50%", 10)) == ["plain"]
    assert usernames(await store.users.search_prefix("a.", 10)) == ["dot"]
    assert usernames(await store.users.search_prefix("a*", 10)) == ["star"]
    assert await store.users.search_prefix("(", 10) == []
    assert await store.users.search_prefix("\\", 10) == []


async def test_search_text_ranks_best_match_first(backend: Backend, store: Store) -> None:
    backend.skip_on_standin(STANDIN_NO_TEXT)
    for username, display in [
        ("bob", "Builder Bob"),
        ("carl", "Bob Marley"),
        ("alice", "Alice Wonderland"),
        ("zoe", "Élodie Martin"),
    ]:
        await store.users.create(make_user(username, display_name=display))

    found = usernames(await store.users.search_text("bob builder", 10))
    assert found[0] == "bob"
    assert sorted(found) == ["bob", "carl"]
    assert usernames(await store.users.search_text("WONDERLAND", 10)) == ["alice"]
    # Diacritics are folded, like MongoDB's version-3 text index.
    assert usernames(await store.users.search_text("elodie", 10)) == ["zoe"]
    assert len(await store.users.search_text("bob builder", 1)) == 1
    assert await store.users.search_text("nobody", 10) == []


async def test_search_text_input_syntax_is_inert(backend: Backend, store: Store) -> None:
    backend.skip_on_standin(STANDIN_NO_TEXT)
    await store.users.create(make_user("eve", display_name="Eve Online"))

    assert usernames(await store.users.search_text('"eve', 10)) == ["eve"]
    assert usernames(await store.users.search_text("-online eve", 10)) == ["eve"]
    assert usernames(await store.users.search_text("eve* AND NOT (", 10)) == ["eve"]
    assert await store.users.search_text("", 10) == []
    assert await store.users.search_text('"()*:^', 10) == []


async def test_search_text_follows_profile_updates(backend: Backend, store: Store) -> None:
    backend.skip_on_standin(STANDIN_NO_TEXT)
    user = make_user("frank", display_name="Sailor")
    await store.users.create(user)
    assert usernames(await store.users.search_text("sailor", 10)) == ["frank"]

    await store.users.update_profile(user.id, ProfileUpdate(display_name="Pilot"))

    assert await store.users.search_text("sailor", 10) == []
    assert usernames(await store.users.search_text("pilot", 10)) == ["frank"]


# --------------------------------------------------------------------------- sessions


def make_session(user_id: str, *, expires_at: float = 2_000_000_000.0) -> AuthSessionRecord:
    return AuthSessionRecord(
        token_hash=new_id() + new_id(),
        user_id=user_id,
        created_at=1_700_000_000.0,
        expires_at=expires_at,
    )


async def test_session_create_get_delete(store: Store) -> None:
    session = make_session(new_id())
    await store.auth_sessions.create(session)

    assert await store.auth_sessions.get(session.token_hash) == session
    assert await store.auth_sessions.get("0" * 64) is None
    assert await store.auth_sessions.delete(session.token_hash) is True
    assert await store.auth_sessions.get(session.token_hash) is None
    assert await store.auth_sessions.delete(session.token_hash) is False


async def test_duplicate_session_is_a_conflict_and_changes_nothing(store: Store) -> None:
    session = make_session("u1")
    await store.auth_sessions.create(session)
    clash = AuthSessionRecord(
        token_hash=session.token_hash, user_id="u2", created_at=1.0, expires_at=2.0
    )

    with pytest.raises(Conflict) as caught:
        await store.auth_sessions.create(clash)

    assert caught.value.field == "token_hash"
    assert await store.auth_sessions.get(session.token_hash) == session


async def test_delete_sessions_of_one_user(store: Store) -> None:
    mine = [make_session("me") for _ in range(3)]
    theirs = make_session("them")
    for session in [*mine, theirs]:
        await store.auth_sessions.create(session)

    assert await store.auth_sessions.delete_for_user("me") == 3
    assert await store.auth_sessions.delete_for_user("me") == 0
    for session in mine:
        assert await store.auth_sessions.get(session.token_hash) is None
    assert await store.auth_sessions.get(theirs.token_hash) == theirs


async def test_delete_expired_removes_up_to_and_including_now(store: Store) -> None:
    now = 1_800_000_000.0
    past = make_session("u", expires_at=now - 60)
    exactly_now = make_session("u", expires_at=now)
    future = make_session("u", expires_at=now + 0.001)
    for session in (past, exactly_now, future):
        await store.auth_sessions.create(session)

    # get() returns a session whether or not it has expired.
    assert await store.auth_sessions.get(past.token_hash) == past
    assert await store.auth_sessions.delete_expired(now) == 2
    assert await store.auth_sessions.get(past.token_hash) is None
    assert await store.auth_sessions.get(exactly_now.token_hash) is None
    assert await store.auth_sessions.get(future.token_hash) == future
    assert await store.auth_sessions.delete_expired(now) == 0


# --------------------------------------------------------------------------- lifecycle


async def test_open_twice_and_data_survives_close_and_reopen(backend: Backend) -> None:
    first = backend.new_store()
    await first.open()
    await first.open()  # idempotent on the same handle
    user = make_user("grace", display_name="Grace")
    session = make_session(user.id)
    await first.users.create(user)
    await first.auth_sessions.create(session)
    await first.close()
    await first.close()  # idempotent

    second = backend.new_store()
    await second.open()  # schema and indexes already there: no error, no loss
    try:
        assert await second.users.get(user.id) == user
        assert await second.auth_sessions.get(session.token_hash) == session
        assert usernames(await second.users.search_prefix("gr", 10)) == ["grace"]
        with pytest.raises(Conflict):
            await second.users.create(make_user("grace", email="g2@example.com"))
    finally:
        await second.close()


async def test_ping_until_closed(backend: Backend) -> None:
    opened = backend.new_store()
    await opened.open()
    assert await opened.ping() is True
    await opened.close()
    assert await opened.ping() is False


async def test_make_store_picks_backend(tmp_path: pathlib.Path) -> None:
    sqlite_store = make_store(data_dir=tmp_path / "data", mongo_url=None)
    assert isinstance(sqlite_store, SqliteStore)
    assert sqlite_store.db.path == tmp_path / "data" / SQLITE_FILE_NAME
    await sqlite_store.open()
    assert (tmp_path / "data" / SQLITE_FILE_NAME).is_file()
    await sqlite_store.close()

    # The client connects lazily: building and closing needs no server.
    mongo_store = make_store(
        data_dir=tmp_path, mongo_url="mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=100"
    )
    assert isinstance(mongo_store, MongoStore)
    assert mongo_store.db.name == "grover"
    assert await mongo_store.ping() is False  # nothing listens on port 1
    await mongo_store.close()


# --------------------------------------------------------------------------- messaging

T0 = 1_700_000_000.0


def pair_key(a: str, b: str) -> str:
    low, high = sorted((a, b))
    return f"{low}:{high}"


def make_conversation(
    creator: str,
    *,
    kind: str = "group",
    direct_key: str | None = None,
    at: float = T0,
    title: str = "",
) -> ConversationRecord:
    return ConversationRecord(
        id=new_id(),
        kind=kind,
        title=title,
        created_by=creator,
        created_at=at,
        direct_key=direct_key,
        last_activity_at=at,
    )


def make_member(
    conversation_id: str, user_id: str, *, role: str = "member", joined_at: float = T0
) -> MemberRecord:
    return MemberRecord(
        conversation_id=conversation_id, user_id=user_id, role=role, joined_at=joined_at
    )


def make_entry(
    conversation_id: str,
    seq: int,
    sender: str,
    *,
    kind: str = "message",
    text: str = "",
    media_url: str = "",
    client_key: str | None = None,
    target_seq: int | None = None,
) -> MessageRecord:
    return MessageRecord(
        conversation_id=conversation_id,
        seq=seq,
        id=new_id(),
        kind=kind,
        sender_id=sender,
        client_key=client_key,
        text=text,
        media_url=media_url,
        created_at=T0 + seq,
        target_seq=target_seq,
    )


def summary_of(entries: list[MessageRecord]) -> ConversationSummaryUpdate:
    """What the ConversationActor writes for a batch: the last entry's seq and
    time, and the last message's preview and sender (``None`` if none)."""
    messages = [e for e in entries if e.kind == "message"]
    return ConversationSummaryUpdate(
        last_seq=entries[-1].seq,
        last_activity_at=entries[-1].created_at,
        last_preview=messages[-1].text if messages else None,
        last_sender_id=messages[-1].sender_id if messages else None,
    )


async def new_group(store: Store, *users: str, at: float = T0) -> ConversationRecord:
    conversation = make_conversation(users[0], at=at)
    await store.conversations.create(
        conversation, [make_member(conversation.id, u, joined_at=at) for u in users]
    )
    return conversation


def seqs(entries: list[MessageRecord]) -> list[int]:
    return [entry.seq for entry in entries]


async def test_conversation_create_get_and_members(store: Store) -> None:
    group = make_conversation("carol", title="Friends")
    # Ordered by joined_at, then user id: bob and dave joined at the same time.
    members = [
        make_member(group.id, "dave", joined_at=T0 + 1),
        make_member(group.id, "carol", role="admin", joined_at=T0),
        make_member(group.id, "bob", joined_at=T0 + 1),
    ]
    await store.conversations.create(group, members)

    assert await store.conversations.get(group.id) == group
    assert await store.conversations.get(new_id()) is None
    assert [m.user_id for m in await store.conversations.members(group.id)] == [
        "carol",
        "bob",
        "dave",
    ]
    assert await store.conversations.get_member(group.id, "carol") == members[1]
    assert await store.conversations.get_member(group.id, "eve") is None
    assert await store.conversations.members(new_id()) == []

    # Groups have no direct_key: any number of them coexist.
    other = make_conversation("carol")
    await store.conversations.create(other, [])
    assert await store.conversations.get(other.id) == other

    await store.conversations.set_title(group.id, "Best friends")
    stored = await store.conversations.get(group.id)
    assert stored is not None and stored.title == "Best friends"
    await store.conversations.set_title(new_id(), "nobody")  # no-op, no error


async def test_second_direct_conversation_for_a_pair_is_a_conflict(store: Store) -> None:
    key = pair_key("ann", "ben")
    first = make_conversation("ann", kind="direct", direct_key=key)
    await store.conversations.create(
        first, [make_member(first.id, "ann"), make_member(first.id, "ben")]
    )
    second = make_conversation("ben", kind="direct", direct_key=key)

    with pytest.raises(Conflict) as caught:
        await store.conversations.create(second, [make_member(second.id, "ben")])

    assert caught.value.field == "direct_key"
    assert await store.conversations.get(second.id) is None
    assert await store.conversations.members(second.id) == []
    assert await store.conversations.get(first.id) == first


async def test_get_or_create_direct_creates_exactly_once_under_concurrency(
    store: Store,
) -> None:
    key = pair_key("uma", "vic")
    attempts = [make_conversation("uma", kind="direct", direct_key=key) for _ in range(20)]

    results = await asyncio.gather(
        *(
            store.conversations.get_or_create_direct(
                c, [make_member(c.id, "uma"), make_member(c.id, "vic")]
            )
            for c in attempts
        )
    )

    winners = [record for record, created in results if created]
    assert len(winners) == 1
    winner = winners[0]
    assert {record.id for record, _ in results} == {winner.id}
    assert all(record == winner for record, _ in results)
    assert await store.conversations.get(winner.id) == winner
    assert [m.user_id for m in await store.conversations.members(winner.id)] == ["uma", "vic"]
    for attempt in attempts:
        if attempt.id != winner.id:
            assert await store.conversations.get(attempt.id) is None
            assert await store.conversations.members(attempt.id) == []

    late = make_conversation("vic", kind="direct", direct_key=key)
    again, created = await store.conversations.get_or_create_direct(
        late, [make_member(late.id, "vic")]
    )
    assert (again, created) == (winner, False)


async def test_get_or_create_direct_with_a_taken_id_is_a_conflict(store: Store) -> None:
    group = await new_group(store, "ann")
    direct = make_conversation("ann", kind="direct", direct_key=pair_key("ann", "ben"))
    direct.id = group.id

    with pytest.raises(Conflict) as caught:
        await store.conversations.get_or_create_direct(direct, [make_member(group.id, "ben")])

    assert caught.value.field == "id"
    assert await store.conversations.get(group.id) == group
    assert [m.user_id for m in await store.conversations.members(group.id)] == ["ann"]
    fresh = make_conversation("ann", kind="direct", direct_key=direct.direct_key)
    record, created = await store.conversations.get_or_create_direct(fresh, [])
    assert (record, created) == (fresh, True)


async def test_add_members_is_idempotent_and_remove_member_reports(store: Store) -> None:
    group = await new_group(store, "ann", "ben")
    await store.messages.append(group.id, [], {"ben": 4}, None)

    # ben again (another role and read position: ignored), cid twice, dan.
    await store.conversations.add_members(
        [
            make_member(group.id, "ben", role="admin", joined_at=T0 + 9),
            make_member(group.id, "cid", joined_at=T0 + 2),
            make_member(group.id, "cid", joined_at=T0 + 3),
            make_member(group.id, "dan", joined_at=T0 + 1),
        ]
    )
    await store.conversations.add_members([])

    members = await store.conversations.members(group.id)
    assert [(m.user_id, m.joined_at) for m in members] == [
        ("ann", T0),
        ("ben", T0),
        ("dan", T0 + 1),
        ("cid", T0 + 2),
    ]
    ben = await store.conversations.get_member(group.id, "ben")
    assert ben is not None and (ben.role, ben.read_seq) == ("member", 4)

    assert await store.conversations.remove_member(group.id, "ben") is True
    assert await store.conversations.remove_member(group.id, "ben") is False
    assert await store.conversations.get_member(group.id, "ben") is None
    assert [m.user_id for m in await store.conversations.members(group.id)] == [
        "ann",
        "dan",
        "cid",
    ]


async def test_list_for_user_pages_by_activity_with_a_cursor(store: Store) -> None:
    # Activity times; two conversations share T0 + 30, so their ids break the tie.
    times = [T0 + 10, T0 + 30, T0 + 20, T0 + 30, T0 + 5]
    conversations = [await new_group(store, "me", "you", at=at) for at in times]
    await new_group(store, "you", "them", at=T0 + 99)  # not mine
    expected = sorted(conversations, key=lambda c: (c.last_activity_at, c.id), reverse=True)

    pages: list[list[str]] = []
    before: tuple[float, str] | None = None
    while True:
        page = await store.conversations.list_for_user("me", before=before, limit=2)
        if not page:
            break
        assert all(member.user_id == "me" for _, member in page)
        assert all(member.conversation_id == c.id for c, member in page)
        pages.append([c.id for c, _ in page])
        last = page[-1][0]
        before = (last.last_activity_at, last.id)

    assert [len(page) for page in pages] == [2, 2, 1]
    assert [cid for page in pages for cid in page] == [c.id for c in expected]
    assert await store.conversations.list_for_user("me", before=None, limit=0) == []
    assert await store.conversations.list_for_user("nobody", before=None, limit=10) == []

    # A message moves its conversation to the front, with the new summary.
    oldest = expected[-1]
    entry = make_entry(oldest.id, 1, "you", text="wake up")
    entry.created_at = T0 + 100
    await store.messages.append(oldest.id, [entry], {"me": 1}, summary_of([entry]))
    first, member = (await store.conversations.list_for_user("me", before=None, limit=1))[0]
    assert first.id == oldest.id
    assert (first.last_seq, first.last_activity_at, first.last_preview) == (
        1,
        T0 + 100,
        "wake up",
    )
    assert first.last_sender_id == "you"
    assert member.read_seq == 1


async def test_changed_since_is_inclusive_and_oldest_first(store: Store) -> None:
    times = [T0 + 30, T0 + 10, T0 + 20, T0 + 20, T0 + 5]
    conversations = [await new_group(store, "me", at=at) for at in times]
    await new_group(store, "other", at=T0 + 20)

    changed = await store.conversations.changed_since("me", T0 + 10, 10)
    expected = sorted(
        (c for c in conversations if c.last_activity_at >= T0 + 10),
        key=lambda c: (c.last_activity_at, c.id),
    )
    assert [c.id for c, _ in changed] == [c.id for c in expected]
    assert all(member.user_id == "me" for _, member in changed)
    assert [c.id for c, _ in await store.conversations.changed_since("me", T0 + 10, 2)] == [
        c.id for c in expected[:2]
    ]
    assert await store.conversations.changed_since("me", T0 + 31, 10) == []
    assert await store.conversations.changed_since("me", T0, 0) == []


async def test_append_batches_then_read_the_log(store: Store) -> None:
    group = await new_group(store, "ann", "ben")
    cid = group.id
    first = [
        make_entry(cid, 1, "ann", text="hello", client_key="k1"),
        make_entry(cid, 2, "ben", text="hi", media_url="https://m.example/1.webp"),
        make_entry(cid, 3, "ann", text="third", client_key="k3"),
    ]
    await store.messages.append(cid, first, {"ann": 3}, summary_of(first))
    second = [
        make_entry(cid, 4, "ann", kind="edit", text="hello!", target_seq=1),
        make_entry(cid, 5, "ben", kind="delete", target_seq=2),
        make_entry(cid, 6, "ben", text="later", client_key="k1"),  # same key, other sender
    ]
    await store.messages.append(cid, second, {"ben": 6, "stranger": 9}, summary_of(second))
    # An edit of an older message: the preview stays.
    third = [make_entry(cid, 7, "ann", kind="edit", text="3rd", target_seq=3)]
    await store.messages.append(cid, third, {}, summary_of(third))

    # History: messages only, newest first, as they are now.
    history = await store.messages.history(cid, before_seq=None, limit=10)
    assert seqs(history) == [6, 3, 2, 1]
    by_seq = {m.seq: m for m in history}
    assert (by_seq[1].text, by_seq[1].edited_at, by_seq[1].deleted) == ("hello!", T0 + 4, False)
    assert (by_seq[2].text, by_seq[2].media_url, by_seq[2].deleted) == ("", "", True)
    assert (by_seq[3].text, by_seq[3].edited_at) == ("3rd", T0 + 7)
    assert by_seq[6] == second[2]
    assert seqs(await store.messages.history(cid, before_seq=3, limit=10)) == [2, 1]
    assert seqs(await store.messages.history(cid, before_seq=7, limit=2)) == [6, 3]
    assert await store.messages.history(cid, before_seq=1, limit=10) == []
    assert await store.messages.history(cid, before_seq=None, limit=0) == []

    # Since: every kind, oldest first.
    log = await store.messages.since(cid, 0, 100)
    assert seqs(log) == [1, 2, 3, 4, 5, 6, 7]
    assert [m.kind for m in log] == ["message"] * 3 + ["edit", "delete", "message", "edit"]
    assert log[3] == second[0] and log[4] == second[1] and log[6] == third[0]
    assert seqs(await store.messages.since(cid, 4, 2)) == [5, 6]
    assert await store.messages.since(cid, 7, 10) == []

    assert await store.messages.get(cid, 4) == second[0]
    assert await store.messages.get(cid, 99) is None
    assert await store.messages.get(new_id(), 1) is None
    found = await store.messages.get_by_client_key(cid, "ann", "k1")
    assert found is not None and (found.seq, found.text) == (1, "hello!")
    assert await store.messages.get_by_client_key(cid, "ben", "k1") == second[2]
    assert await store.messages.get_by_client_key(cid, "ben", "k3") is None
    assert await store.messages.last_seq(cid) == 7
    assert await store.messages.last_seq(new_id()) == 0

    # Unread: messages, not deleted, from others, after read_seq.
    assert await store.messages.unread_count(cid, "ann", 0) == 1  # 6 (2 is deleted)
    assert await store.messages.unread_count(cid, "ben", 0) == 2  # 1 and 3
    assert await store.messages.unread_count(cid, "ben", 1) == 1
    assert await store.messages.unread_count(cid, "ben", 7) == 0

    members = {m.user_id: m.read_seq for m in await store.conversations.members(cid)}
    assert members == {"ann": 3, "ben": 6}  # no member made for "stranger"
    summary = await store.conversations.get(cid)
    assert summary is not None
    assert (summary.last_seq, summary.last_activity_at) == (7, T0 + 7)
    assert (summary.last_preview, summary.last_sender_id) == ("later", "ben")


async def test_edit_applies_to_live_messages_only(store: Store) -> None:
    group = await new_group(store, "ann")
    cid = group.id
    batch = [
        make_entry(cid, 1, "ann", text="one"),
        make_entry(cid, 2, "ann", text="two"),
        make_entry(cid, 3, "ann", kind="delete", target_seq=2),
        make_entry(cid, 4, "ann", kind="edit", text="uno", target_seq=1),
        make_entry(cid, 5, "ann", kind="edit", text="eins", target_seq=1),  # last one wins
        make_entry(cid, 6, "ann", kind="edit", text="zwei", target_seq=2),  # deleted: stays
        make_entry(cid, 7, "ann", kind="edit", text="x", target_seq=4),  # not a message
        make_entry(cid, 8, "ann", kind="delete", target_seq=99),  # no such entry
    ]
    await store.messages.append(cid, batch, {}, summary_of(batch))

    one, two, edit = [await store.messages.get(cid, seq) for seq in (1, 2, 4)]
    assert one is not None and (one.text, one.edited_at) == ("eins", T0 + 5)
    assert two is not None and (two.text, two.deleted, two.edited_at) == ("", True, None)
    assert edit == batch[3]
    assert await store.messages.last_seq(cid) == 8


async def test_duplicate_client_key_fails_the_whole_batch(store: Store) -> None:
    group = await new_group(store, "ann", "ben")
    cid = group.id
    first = [make_entry(cid, 1, "ann", text="hello", client_key="k1")]
    await store.messages.append(cid, first, {"ann": 1}, summary_of(first))
    before = await store.conversations.get(cid)

    clash = [
        make_entry(cid, 2, "ann", text="new", client_key="k2"),
        make_entry(cid, 3, "ann", kind="edit", text="changed", target_seq=1),
        make_entry(cid, 4, "ann", text="retry", client_key="k1"),
        make_entry(cid, 5, "ben", text="after"),
    ]
    with pytest.raises(Conflict) as caught:
        await store.messages.append(cid, clash, {"ben": 5}, summary_of(clash))

    assert caught.value.field == "client_key"
    assert await store.messages.since(cid, 1, 10) == []
    assert await store.messages.last_seq(cid) == 1
    assert await store.messages.get_by_client_key(cid, "ann", "k2") is None
    assert await store.messages.get(cid, 1) == first[0]  # the edit was not applied
    ben = await store.conversations.get_member(cid, "ben")
    assert ben is not None and ben.read_seq == 0
    assert await store.conversations.get(cid) == before

    # Two entries of one batch with the same key: the same, nothing stored.
    twice = [
        make_entry(cid, 2, "ben", client_key="kb"),
        make_entry(cid, 3, "ben", client_key="kb"),
    ]
    with pytest.raises(Conflict) as caught:
        await store.messages.append(cid, twice, {}, summary_of(twice))
    assert caught.value.field == "client_key"
    assert await store.messages.last_seq(cid) == 1

    # The batch without the duplicate, renumbered, goes through.
    retry = [clash[0], clash[1], clash[3]]
    for seq, entry in enumerate(retry, start=2):
        entry.seq = seq
    await store.messages.append(cid, retry, {"ben": 4}, summary_of(retry))
    assert seqs(await store.messages.since(cid, 0, 10)) == [1, 2, 3, 4]
    assert await store.messages.get_by_client_key(cid, "ann", "k2") == retry[0]


async def test_duplicate_seq_fails_the_whole_batch(store: Store) -> None:
    group = await new_group(store, "ann", "ben")
    cid = group.id
    first = [make_entry(cid, 1, "ann", text="one"), make_entry(cid, 2, "ben", text="two")]
    await store.messages.append(cid, first, {}, summary_of(first))
    before = await store.conversations.get(cid)

    # seq 3 is new and goes in first on MongoDB; seq 2 is taken (by another writer).
    clash = [make_entry(cid, 3, "ann", text="three"), make_entry(cid, 2, "ann", text="dup")]
    with pytest.raises(Conflict) as caught:
        await store.messages.append(cid, clash, {"ann": 3}, summary_of(clash))

    assert caught.value.field == "seq"
    assert await store.messages.since(cid, 0, 10) == first  # theirs untouched, ours gone
    assert await store.messages.last_seq(cid) == 2
    assert await store.conversations.get(cid) == before
    ann = await store.conversations.get_member(cid, "ann")
    assert ann is not None and ann.read_seq == 0

    with pytest.raises(Conflict) as caught:
        await store.messages.append(cid, [make_entry(cid, 1, "ben")], {}, None)
    assert caught.value.field == "seq"
    assert await store.messages.since(cid, 0, 10) == first


async def test_read_seq_is_never_lowered(store: Store) -> None:
    group = await new_group(store, "ann", "ben")

    await store.messages.append(group.id, [], {"ann": 5, "ben": 2}, None)
    await store.messages.append(group.id, [], {"ann": 3, "ben": 4}, None)

    reads = {m.user_id: m.read_seq for m in await store.conversations.members(group.id)}
    assert reads == {"ann": 5, "ben": 4}
    await store.messages.append(group.id, [], {"ann": 7}, None)
    ann = await store.conversations.get_member(group.id, "ann")
    assert ann is not None and ann.read_seq == 7


async def test_summary_last_seq_is_never_lowered(store: Store) -> None:
    group = await new_group(store, "ann")
    await store.messages.append(
        group.id,
        [],
        {},
        ConversationSummaryUpdate(
            last_seq=9, last_activity_at=T0 + 9, last_preview="p9", last_sender_id="ann"
        ),
    )
    await store.messages.append(
        group.id, [], {}, ConversationSummaryUpdate(last_seq=4, last_activity_at=T0 + 10)
    )
    stored = await store.conversations.get(group.id)
    assert stored is not None
    assert (stored.last_seq, stored.last_activity_at) == (9, T0 + 10)
    assert (stored.last_preview, stored.last_sender_id) == ("p9", "ann")


async def test_append_refuses_entries_of_another_conversation(store: Store) -> None:
    group = await new_group(store, "ann")
    stray = make_entry(new_id(), 1, "ann")
    with pytest.raises(ValueError):
        await store.messages.append(group.id, [stray], {}, None)
    assert await store.messages.last_seq(group.id) == 0
    assert await store.messages.last_seq(stray.conversation_id) == 0


async def test_blocks_are_directional_and_idempotent(store: Store) -> None:
    assert await store.blocks.is_blocked("ann", "ben") is False
    await store.blocks.block("ann", "ben", T0)
    await store.blocks.block("ann", "ben", T0 + 1)  # no-op

    assert await store.blocks.is_blocked("ann", "ben") is True
    assert await store.blocks.is_blocked("ben", "ann") is False

    await store.blocks.unblock("ann", "ben")
    await store.blocks.unblock("ann", "ben")  # no-op
    await store.blocks.unblock("cid", "dan")  # never blocked: no-op
    assert await store.blocks.is_blocked("ann", "ben") is False
    await store.blocks.block("ann", "ben", T0 + 2)
    assert await store.blocks.is_blocked("ann", "ben") is True


async def test_messaging_data_survives_close_and_reopen(backend: Backend) -> None:
    first = backend.new_store()
    await first.open()
    direct = make_conversation("ann", kind="direct", direct_key=pair_key("ann", "ben"))
    members = [make_member(direct.id, "ann"), make_member(direct.id, "ben")]
    await first.conversations.create(direct, members)
    batch = [
        make_entry(direct.id, 1, "ann", text="persist me", client_key="k"),
        make_entry(direct.id, 2, "ann", kind="edit", text="persisted", target_seq=1),
    ]
    await first.messages.append(direct.id, batch, {"ben": 2}, summary_of(batch))
    await first.blocks.block("ben", "ann", T0)
    stored = await first.conversations.get(direct.id)
    log = await first.messages.since(direct.id, 0, 10)
    await first.close()

    second = backend.new_store()
    await second.open()
    try:
        assert await second.conversations.get(direct.id) == stored
        assert [m.read_seq for m in await second.conversations.members(direct.id)] == [0, 2]
        assert await second.messages.since(direct.id, 0, 10) == log
        assert await second.messages.last_seq(direct.id) == 2
        assert await second.blocks.is_blocked("ben", "ann") is True
        again, created = await second.conversations.get_or_create_direct(
            make_conversation("ben", kind="direct", direct_key=direct.direct_key), []
        )
        assert (again, created) == (stored, False)
        with pytest.raises(Conflict):
            await second.messages.append(
                direct.id, [make_entry(direct.id, 3, "ann", client_key="k")], {}, None
            )
    finally:
        await second.close()


# --------------------------------------------------------------------------- SQLite


@pytest.fixture
async def db(tmp_path: pathlib.Path) -> AsyncIterator[SqliteDatabase]:
    database = SqliteDatabase(tmp_path / "jobs.sqlite3", max_batch=8)
    await database.open()

    def create(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)")

    await database.write(create)
    try:
        yield database
    finally:
        await database.close()


def insert(k: int, v: str = "x") -> Callable[[sqlite3.Connection], int]:
    def job(conn: sqlite3.Connection) -> int:
        conn.execute("INSERT INTO t (k, v) VALUES (?, ?)", (k, v))
        return k

    return job


def all_keys(conn: sqlite3.Connection) -> list[int]:
    return [row[0] for row in conn.execute("SELECT k FROM t ORDER BY k")]


class WriterGate:
    """A write job that holds the writer thread until released, so that the
    test can queue jobs behind it and know they form the next batch."""

    def __init__(self, before: Callable[[sqlite3.Connection], Any] | None = None) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self._before = before

    def __call__(self, conn: sqlite3.Connection) -> None:
        if self._before is not None:
            self._before(conn)
        self.entered.set()
        if not self.release.wait(WAIT):
            raise TimeoutError("gate never released")

    async def hold(self, db: SqliteDatabase) -> asyncio.Task[None]:
        task = asyncio.create_task(db.write(self))
        assert await asyncio.to_thread(self.entered.wait, WAIT)
        return task


async def queue_behind_gate(
    db: SqliteDatabase, jobs: list[Callable[[sqlite3.Connection], Any]]
) -> list[asyncio.Task[Any]]:
    tasks = [asyncio.create_task(db.write(job)) for job in jobs]
    await asyncio.sleep(0)  # every task runs up to its await: its job is queued
    assert db.pending_writes == len(jobs)
    return tasks


async def test_group_commit_one_failing_job_rolls_back_alone(db: SqliteDatabase) -> None:
    await db.write(insert(1000))  # job 3 below will collide with this key
    before = db.stats.batches
    gate = WriterGate()
    held = await gate.hold(db)
    jobs = [insert(k) for k in range(8)]
    jobs[3] = insert(1000)
    tasks = await queue_behind_gate(db, jobs)

    gate.release.set()
    await held
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(results[3], sqlite3.IntegrityError)
    assert [r for i, r in enumerate(results) if i != 3] == [0, 1, 2, 4, 5, 6, 7]
    assert db.stats.batches == before + 2  # the gate's, then all eight in one transaction
    assert await db.read(all_keys) == [0, 1, 2, 4, 5, 6, 7, 1000]


async def test_group_commit_rolls_back_partial_work_of_a_failing_job(
    db: SqliteDatabase,
) -> None:
    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (k, v) VALUES (50, 'partial')")
        conn.execute("UPDATE t SET v = 'clobbered'")
        raise ValueError("domain rule broken halfway")

    gate = WriterGate()
    held = await gate.hold(db)
    tasks = await queue_behind_gate(db, [insert(1), half_done, insert(2)])
    gate.release.set()
    await held
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], ValueError) and str(results[1]) == "domain rule broken halfway"

    def rows(conn: sqlite3.Connection) -> list[tuple[int, str]]:
        return [(row[0], row[1]) for row in conn.execute("SELECT k, v FROM t ORDER BY k")]

    assert await db.read(rows) == [(1, "x"), (2, "x")]


async def test_job_that_fills_the_disk_fails_with_the_jobs_sharing_its_transaction(
    db: SqliteDatabase,
) -> None:
    """SQLITE_FULL makes SQLite abandon the whole transaction (savepoints too):
    jobs already done in it must fail as well, never be reported written; the
    jobs after it run in a new transaction. ``max_page_count`` makes the file
    "full" for real."""

    def cap_size(conn: sqlite3.Connection) -> None:
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
        conn.execute(f"PRAGMA max_page_count = {pages + 4}")

    await db.write(cap_size)
    gate = WriterGate()
    held = await gate.hold(db)
    tasks = await queue_behind_gate(db, [insert(1), insert(2, "x" * 200_000), insert(3)])
    gate.release.set()
    await held
    first, huge, after = await asyncio.gather(*tasks, return_exceptions=True)

    assert isinstance(huge, sqlite3.OperationalError) and "full" in str(huge)
    assert first is huge  # lost with the transaction it shared
    assert after == 3
    assert await db.read(all_keys) == [3]


async def test_writer_crash_fails_every_waiting_job_and_closes(tmp_path: pathlib.Path) -> None:
    threads_before = set(threading.enumerate())
    database = SqliteDatabase(tmp_path / "crash.sqlite3")
    await database.open()
    await database.write(lambda conn: conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v)"))

    def crash(conn: sqlite3.Connection) -> None:
        raise SystemExit("a job must never do this")

    gate = WriterGate()
    held = await gate.hold(database)
    tasks = await queue_behind_gate(database, [insert(1), crash, insert(2)])
    gate.release.set()
    await held
    results = await asyncio.gather(*tasks, return_exceptions=True)

    assert all(isinstance(r, StoreError) and "crashed" in str(r) for r in results)
    with pytest.raises(StoreError):
        await database.write(insert(3))
    with pytest.raises(StoreError, match="crashed"):
        await database.open()
    await database.close()  # still joins the reader threads
    assert set(threading.enumerate()) <= threads_before
    reopened = SqliteDatabase(tmp_path / "crash.sqlite3")
    await reopened.open()
    try:
        assert await reopened.read(all_keys) == []  # nothing of the batch was committed
    finally:
        await reopened.close()


async def test_group_commit_batches_are_bounded(db: SqliteDatabase) -> None:
    before = db.stats.batches
    gate = WriterGate()
    held = await gate.hold(db)
    tasks = await queue_behind_gate(db, [insert(k) for k in range(20)])

    gate.release.set()
    await held
    assert await asyncio.gather(*tasks) == list(range(20))

    assert db.max_batch == 8
    assert db.stats.batches == before + 1 + 3  # the gate's, then 8 + 8 + 4
    assert db.stats.largest_batch == 8


async def test_many_concurrent_writes_share_transactions(tmp_path: pathlib.Path) -> None:
    store = SqliteStore(tmp_path / "many.sqlite3")
    await store.open()
    try:
        users = [make_user(f"bulk{i:03d}") for i in range(300)]
        await asyncio.gather(*(store.users.create(user) for user in users))
        assert store.db.stats.jobs == 300
        assert store.db.stats.batches < 300  # fsyncs were shared
        assert len(await store.users.search_prefix("bulk", 1000)) == 300
    finally:
        await store.close()


async def test_reads_proceed_while_a_write_transaction_is_open(db: SqliteDatabase) -> None:
    gate = WriterGate(before=insert(7))
    held = await gate.hold(db)  # the writer sits inside its transaction

    async with asyncio.timeout(WAIT / 2):
        assert await db.read(all_keys) == []  # the uncommitted row is invisible

    gate.release.set()
    await held
    assert await db.read(all_keys) == [7]


async def test_odd_exceptions_from_jobs_reach_the_caller_safely(db: SqliteDatabase) -> None:
    """StopIteration cannot be set on a future, and a SystemExit raised in a
    database thread must not reach the event loop: both arrive as StoreError,
    and the threads keep serving."""

    def stop(conn: sqlite3.Connection) -> None:
        raise StopIteration

    def leave(conn: sqlite3.Connection) -> None:
        raise SystemExit(3)

    with pytest.raises(StoreError, match="StopIteration"):
        await db.write(stop)
    with pytest.raises(StoreError, match="StopIteration"):
        await db.read(stop)
    with pytest.raises(StoreError, match="SystemExit"):
        await db.read(leave)
    assert await db.write(insert(1)) == 1
    assert await db.read(all_keys) == [1]


async def test_reader_connections_cannot_write(db: SqliteDatabase) -> None:
    with pytest.raises(sqlite3.OperationalError, match=r"readonly"):
        await db.read(insert(1))
    assert await db.read(all_keys) == []


async def test_closed_database_rejects_jobs_after_finishing_queued_ones(
    tmp_path: pathlib.Path,
) -> None:
    threads_before = set(threading.enumerate())
    database = SqliteDatabase(tmp_path / "c.sqlite3")
    with pytest.raises(StoreError):
        await database.write(all_keys)  # not open yet
    await database.open()
    await database.write(lambda conn: conn.execute("CREATE TABLE t (k INTEGER PRIMARY KEY, v)"))
    queued = [asyncio.create_task(database.write(insert(k))) for k in range(5)]
    await asyncio.sleep(0)  # let them enqueue

    await database.close()

    assert await asyncio.gather(*queued) == list(range(5))
    assert set(threading.enumerate()) <= threads_before  # writer and readers joined
    with pytest.raises(StoreError):
        await database.write(insert(9))
    with pytest.raises(StoreError):
        await database.read(all_keys)
    with pytest.raises(StoreError):
        await database.open()


async def test_durability_settings_and_schema_version(db: SqliteDatabase) -> None:
    def settings(conn: sqlite3.Connection) -> tuple[str, int, int, int, int]:
        return (
            conn.execute("PRAGMA journal_mode").fetchone()[0],
            conn.execute("PRAGMA synchronous").fetchone()[0],
            conn.execute("PRAGMA foreign_keys").fetchone()[0],
            conn.execute("PRAGMA busy_timeout").fetchone()[0],
            conn.execute("SELECT version FROM schema_version").fetchone()[0],
        )

    journal, synchronous, foreign_keys, busy_timeout, version = await db.write(settings)
    assert journal == "wal"
    assert synchronous == 2  # FULL
    assert foreign_keys == 1
    assert busy_timeout >= 1000
    assert version == SCHEMA_VERSION


async def test_newer_schema_version_is_refused(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "future.sqlite3"
    database = SqliteDatabase(path)
    await database.open()

    def bump(conn: sqlite3.Connection) -> None:
        conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION + 1,))

    await database.write(bump)
    await database.close()

    threads_before = set(threading.enumerate())
    with pytest.raises(StoreError, match="newer"):
        await SqliteDatabase(path).open()
    assert set(threading.enumerate()) <= threads_before  # no thread started


async def test_two_handles_on_one_file_see_each_others_writes(tmp_path: pathlib.Path) -> None:
    """Several nodes (processes) may share the file; two handles stand in here."""
    one = SqliteStore(tmp_path / "shared.sqlite3")
    two = SqliteStore(tmp_path / "shared.sqlite3")
    await asyncio.gather(one.open(), two.open())
    try:
        a, b = make_user("node1"), make_user("node2")
        await asyncio.gather(one.users.create(a), two.users.create(b))
        assert await two.users.get(a.id) == a
        assert await one.users.get(b.id) == b
        with pytest.raises(Conflict):
            await two.users.create(make_user("node1", email="n@example.com"))
    finally:
        await asyncio.gather(one.close(), two.close())


async def test_message_batches_share_the_group_commit_and_fail_alone(
    tmp_path: pathlib.Path,
) -> None:
    """Each append is one job: it commits in the same transaction as the
    other queued writes, and a conflicting batch rolls back alone."""
    store = SqliteStore(tmp_path / "batches.sqlite3")
    await store.open()
    try:
        group = await new_group(store, "ann", "ben")
        cid = group.id
        good = [make_entry(cid, 1, "ann", text="one")]
        clash = [make_entry(cid, 2, "ben", text="lost"), make_entry(cid, 1, "ben")]
        after = [make_entry(cid, 2, "ann", text="two")]
        user = make_user("batchmate")
        before = store.db.stats.batches
        gate = WriterGate()
        held = await gate.hold(store.db)
        tasks = [
            asyncio.create_task(store.messages.append(cid, good, {"ann": 1}, summary_of(good))),
            asyncio.create_task(store.users.create(user)),
            asyncio.create_task(store.messages.append(cid, clash, {"ben": 2}, summary_of(clash))),
            asyncio.create_task(store.messages.append(cid, after, {}, summary_of(after))),
        ]
        await asyncio.sleep(0)  # every task has queued its job
        assert store.db.pending_writes == len(tasks)

        gate.release.set()
        await held
        results = await asyncio.gather(*tasks, return_exceptions=True)

        assert results[0] is None and results[1] is None and results[3] is None
        assert isinstance(results[2], Conflict) and results[2].field == "seq"
        # The gate's transaction, then the four jobs in one.
        assert store.db.stats.batches == before + 2
        assert store.db.stats.largest_batch == len(tasks)
        assert await store.messages.since(cid, 0, 10) == good + after
        ben = await store.conversations.get_member(cid, "ben")
        assert ben is not None and ben.read_seq == 0
        stored = await store.conversations.get(cid)
        assert stored is not None and (stored.last_seq, stored.last_preview) == (2, "two")
        assert await store.users.get(user.id) == user
    finally:
        await store.close()


async def test_schema_version_1_file_is_upgraded_in_place(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for statement in MIGRATIONS[0][1]:
            conn.execute(statement)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version (version) VALUES (1)")
        conn.execute(
            "INSERT INTO users (id, username, email, password_hash, created_at)"
            " VALUES ('u1', 'old', 'old@example.com', 'h', 1.0)"
        )
    finally:
        conn.close()

    store = SqliteStore(path)
    await store.open()
    try:
        version = await store.db.read(
            lambda c: c.execute("SELECT version FROM schema_version").fetchone()[0]
        )
        assert version == SCHEMA_VERSION
        old = await store.users.get("u1")
        assert old is not None and old.username == "old"
        group = await new_group(store, "u1")
        await store.messages.append(group.id, [make_entry(group.id, 1, "u1")], {}, None)
        assert await store.messages.last_seq(group.id) == 1
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("sql", "args", "index"),
    [
        (LAST_SEQ_SQL, ("c",), "PRIMARY KEY"),
        (HISTORY_SQL, ("c", 10, 5), "PRIMARY KEY"),
        (SINCE_SQL, ("c", 10, 5), "PRIMARY KEY"),
        (UNREAD_SQL, ("c", 10, "u"), "PRIMARY KEY"),
        (CLIENT_KEY_SQL, ("c", "u", "k"), "INDEX messages_client_key"),
    ],
)
async def test_message_log_reads_are_index_served(
    tmp_path: pathlib.Path, sql: str, args: tuple[Any, ...], index: str
) -> None:
    store = SqliteStore(tmp_path / "plans.sqlite3")
    await store.open()
    try:
        plan = await store.db.read(
            lambda c: [str(row[3]) for row in c.execute(f"EXPLAIN QUERY PLAN {sql}", args)]
        )
    finally:
        await store.close()
    # One index search on the conversation, and no sort step (no TEMP B-TREE).
    assert len(plan) == 1, plan
    assert plan[0].startswith(f"SEARCH messages USING {index} (conversation_id=?"), plan


def test_prefix_upper_bound_is_the_exact_successor() -> None:
    assert prefix_upper_bound("") is None
    assert prefix_upper_bound("ab") == "ac"
    assert prefix_upper_bound("a\U0010ffff") == "b"
    assert prefix_upper_bound("\U0010ffff") is None
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"
    bound = prefix_upper_bound("a_")
    assert bound is not None
    for s in ["a_", "a_b", "a_\U0010ffff"]:
        assert "a_" <= s < bound
    for s in ["a", "a^", "a`", "ab", "b"]:
        assert not ("a_" <= s < bound)


def test_fts_query_quotes_words() -> None:
    assert fts_query('bob "builder" OR x*') == '"bob" OR "builder" OR "OR" OR "x"'
    assert fts_query("  -- () ") is None


# --------------------------------------------------------------------------- MongoDB


def index_shape(index: dict[str, Any]) -> tuple[Any, ...]:
    """An index as comparable data: ``("text", fields)`` for a text index (a
    real server reports it as ``{_fts: "text", _ftsx: 1}`` plus ``weights``, the
    stand-in keeps the spec as given), else its ``(field, direction)`` pairs."""
    key = dict(index["key"])
    if "_fts" in key:
        return ("text", frozenset(index["weights"]))
    if "text" in key.values():
        return ("text", frozenset(field for field, kind in key.items() if kind == "text"))
    return tuple(key.items())


@pytest.fixture
async def mongo(tmp_path: pathlib.Path) -> AsyncIterator[Backend]:
    async with backend_context("mongo", tmp_path) as value:
        yield value


async def test_mongo_open_creates_every_index_idempotently(mongo: Backend) -> None:
    store = mongo.new_store()
    await store.open()
    await store.close()
    again = mongo.new_store()
    await again.open()
    await again.close()

    for name, specs in INDEXES.items():
        cursor = await mongo.mongo_db[name].list_indexes()
        present = {index_shape(index): bool(index.get("unique")) async for index in cursor}
        for keys, options in specs:
            shape = index_shape({"key": dict(keys)})
            assert shape in present, (name, keys)
            assert present[shape] == bool(options.get("unique")), (name, keys)


async def test_mongo_geo_index_serves_near_queries(mongo: Backend) -> None:
    mongo.skip_on_standin(STANDIN_NO_GEO)
    store = mongo.new_store()
    await store.open()
    try:
        posts = mongo.mongo_db["posts"]
        near = {"type": "Point", "coordinates": [2.35, 48.85]}
        far = {"type": "Point", "coordinates": [139.69, 35.68]}
        await posts.insert_many(
            [{"_id": "far", "location": far}, {"_id": "near", "location": near}]
        )
        query = {"location": {"$near": {"$geometry": near, "$maxDistance": 1000}}}
        assert [doc["_id"] async for doc in posts.find(query)] == ["near"]
    finally:
        await store.close()


async def test_standin_still_lacks_text_search(mongo: Backend) -> None:
    """A canary: the stand-in fails loudly on ``$text`` rather than answering
    wrongly, which is why the text-search contract is skipped on it. If this
    starts failing, the stand-in learnt ``$text``: drop those skips."""
    if not mongo.standin:
        pytest.skip("a check of the MongoDB stand-in; a real server is configured")
    store = mongo.new_store()
    await store.open()
    try:
        with pytest.raises(NotImplementedError):
            await store.users.search_text("anything", 10)
    finally:
        await store.close()


@pytest.mark.parametrize(
    ("message", "details", "fields", "expected"),
    [
        (  # a real server's message and details
            "E11000 duplicate key error collection: grover.users index: email_1 dup key: "
            '{ email: "a@b.c" }',
            {"keyPattern": {"email": 1}, "keyValue": {"email": "a@b.c"}},
            {"_id": "id", "username": "username", "email": "email"},
            "email",
        ),
        (  # no details: the message still names the key
            "E11000 duplicate key error collection: grover.users index: username_1 dup key: "
            '{ username: "al" }',
            None,
            {"_id": "id", "username": "username", "email": "email"},
            "username",
        ),
        (  # nothing to go on, but the collection has one unique index
            "E11000 Duplicate Key Error",
            None,
            {"_id": "token_hash"},
            "token_hash",
        ),
    ],
)
def test_mongo_duplicate_key_maps_to_conflict(
    message: str, details: dict[str, Any] | None, fields: dict[str, str], expected: str
) -> None:
    assert mongo_conflict(DuplicateKeyError(message, 11000, details), fields).field == expected


def test_mongo_duplicate_key_that_cannot_be_told_is_reraised() -> None:
    exc = DuplicateKeyError("E11000 Duplicate Key Error", 11000, None)
    with pytest.raises(DuplicateKeyError):
        mongo_conflict(exc, {"_id": "id", "username": "username"})


def bulk_duplicate(error: dict[str, Any]) -> BulkWriteError:
    return BulkWriteError({"writeErrors": [{"index": 1, "code": 11000, **error}], "nInserted": 1})


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (  # a real server: keyPattern in the write error
            {
                "errmsg": "E11000 duplicate key error collection: grover.messages index: "
                'conversation_id_1_seq_1 dup key: { conversation_id: "c", seq: 2 }',
                "keyPattern": {"conversation_id": 1, "seq": 1},
                "keyValue": {"conversation_id": "c", "seq": 2},
            },
            "seq",
        ),
        (  # a real server without keyPattern: the message names the keys
            {
                "errmsg": "E11000 duplicate key error collection: grover.messages index: "
                "conversation_id_1_sender_id_1_client_key_1 dup key: "
                '{ conversation_id: "c", sender_id: "u", client_key: "k" }',
            },
            "client_key",
        ),
        (  # the stand-in: keyPattern only inside the message
            {
                "errmsg": "E11000 Duplicate Key Error, full error: {'keyValue': "
                "{'conversation_id': 'c', 'seq': 1}, "
                "'keyPattern': {'conversation_id': 1, 'seq': 1}}"
            },
            "seq",
        ),
        (  # a client key that looks like another key is still a client-key conflict
            {
                "errmsg": "E11000 Duplicate Key Error, full error: {'keyValue': "
                "{'conversation_id': 'c', 'sender_id': 'u', 'client_key': 'seq: 1'}}"
            },
            "client_key",
        ),
    ],
)
def test_mongo_message_write_errors_map_to_conflicts(error: dict[str, Any], expected: str) -> None:
    conflict = mongo_message_conflict(bulk_duplicate(error))
    assert conflict is not None and conflict.field == expected


def test_mongo_other_write_errors_are_not_conflicts() -> None:
    other = BulkWriteError({"writeErrors": [{"index": 0, "code": 2, "errmsg": "bad value"}]})
    assert mongo_message_conflict(other) is None
    unknown = bulk_duplicate({"errmsg": "E11000 something about { _id: 1 }"})
    assert mongo_message_conflict(unknown) is None


class LosingUpsert:
    """Stands in for the ``conversations`` collection of a caller whose upsert
    loses a race: a rival's document lands first, without its members yet
    (its creator is between its two writes), and the upsert fails with the
    duplicate-key error a server can return. Everything else is forwarded."""

    def __init__(self, collection: Any, rival: dict[str, Any]) -> None:
        self._collection = collection
        self._rival = rival

    async def update_one(self, *args: Any, **kwargs: Any) -> Any:
        await self._collection.insert_one(self._rival)
        raise DuplicateKeyError(
            "E11000 duplicate key error", 11000, {"keyPattern": {"direct_key": 1}}
        )

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)


async def test_mongo_losing_upsert_returns_the_winner_with_members(
    mongo: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = mongo.new_store()
    await store.open()
    try:
        conversations = store.conversations
        assert isinstance(conversations, MongoConversationStore)
        key = pair_key("ann", "ben")
        rival = make_conversation("ben", kind="direct", direct_key=key)
        monkeypatch.setattr(
            conversations,
            "_conversations",
            LosingUpsert(mongo.mongo_db["conversations"], mongo_conversation_document(rival)),
        )
        mine = make_conversation("ann", kind="direct", direct_key=key)

        record, created = await conversations.get_or_create_direct(
            mine, [make_member(mine.id, "ann"), make_member(mine.id, "ben")]
        )

        assert (record, created) == (rival, False)
        members = await conversations.members(rival.id)
        assert [(m.conversation_id, m.user_id) for m in members] == [
            (rival.id, "ann"),
            (rival.id, "ben"),
        ]
        assert await conversations.members(mine.id) == []
    finally:
        await store.close()
