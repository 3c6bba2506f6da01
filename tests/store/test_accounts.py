"""Contract of the accounts ports (users and their search, login sessions,
blocks), run against every backend (see ``tests/store/backends.py``)."""

from __future__ import annotations

import asyncio

import pytest

from actors.ids import new_id
from actors.store import Conflict, Store
from actors.store.accounts import AuthSessionRecord, ProfileUpdate
from actors.store.search import MAX_QUERY_TERMS, query_words, search_key
from tests.store.backends import STANDIN_NO_TEXT, Backend
from tests.store.records import T0, make_session, make_user, usernames

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


def test_query_words_keep_words_only() -> None:
    """The one tokenising rule both backends build their text query from:
    engine syntax (quotes, ``*``, ``-``, ``NEAR(…)``, ``column:``, ``^``) is
    reduced to separators, so it can reach neither FTS5 nor ``$text``."""
    assert query_words('bob "builder" OR x* -y NEAR(a b) name:eve ^z') == [
        "bob",
        "builder",
        "OR",
        "x",
        "y",
        "NEAR",
        "a",
        "b",
        "name",
        "eve",
        "z",
    ]
    assert query_words("Élodie d_x 42") == ["Élodie", "d_x", "42"]
    assert query_words('  -- () "*:^ ') == []
    many = " ".join(f"w{i}" for i in range(MAX_QUERY_TERMS + 5))
    assert query_words(many) == [f"w{i}" for i in range(MAX_QUERY_TERMS)]
    assert search_key("ÉLODIE Ünd") == "élodie ünd"  # Unicode-aware, unlike SQLite's lower()


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


# --------------------------------------------------------------------------- blocks


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


# --------------------------------------------------------------------------- persistence


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
