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
from pymongo.errors import DuplicateKeyError

from actors.ids import new_id
from actors.store import (
    AuthSessionRecord,
    Conflict,
    ProfileUpdate,
    Store,
    StoreError,
    UserRecord,
)
from server.storage import SQLITE_FILE_NAME, MongoStore, SqliteStore, make_store
from server.storage.mongo import INDEXES
from server.storage.mongo import _conflict as mongo_conflict
from server.storage.sqlite import (
    SCHEMA_VERSION,
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
