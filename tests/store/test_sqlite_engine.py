"""What is particular to the SQLite backend: the group-commit engine
(:class:`SqliteDatabase`: batches, failures, threads, durability settings),
schema migrations, query plans of the hot reads, and its query helpers."""

from __future__ import annotations

import asyncio
import json
import pathlib
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest

from actors.store import Conflict, StoreError
from server.storage import SqliteStore
from server.storage.sqlite import posts as sqlite_posts
from server.storage.sqlite.accounts import fts_query, prefix_upper_bound
from server.storage.sqlite.database import SqliteDatabase
from server.storage.sqlite.messaging import (
    CLIENT_KEY_SQL,
    HISTORY_SQL,
    LAST_SEQ_SQL,
    SINCE_SQL,
    UNREAD_COUNTS_SQL,
)
from server.storage.sqlite.migrations import MIGRATIONS, SCHEMA_VERSION
from server.storage.sqlite.posts import (
    AUTHOR_KEYS_SQL,
    BY_AUTHOR_SQL,
    BY_AUTHORS_RECENT_SQL,
    COMMENTS_SQL,
)
from server.storage.sqlite.rows import CONFLICT_FIELDS, keyset
from server.storage.sqlite.social import FOLLOWER_IDS_SQL, FOLLOWERS_SQL, LIKED_POSTS_SQL
from tests.store.records import make_entry, make_post, make_user, new_group, summary_of

WAIT = 10.0  # seconds; generous upper bound for anything that should be quick


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


async def test_a_failing_job_alone_in_its_transaction_leaves_nothing(db: SqliteDatabase) -> None:
    """A batch of one (the usual case at low load): its failure undoes all
    it did, and the next job finds a clean transaction. (Experiment 22 ran
    such batches without a savepoint; kept or not, this must hold.)"""
    before = db.stats.batches

    def half_done(conn: sqlite3.Connection) -> None:
        conn.execute("INSERT INTO t (k, v) VALUES (60, 'partial')")
        raise ValueError("alone and broken")

    with pytest.raises(ValueError, match="alone and broken"):
        await db.write(half_done)
    assert await db.write(insert(61)) == 61
    assert db.stats.batches == before + 2  # each was a batch of its own
    assert await db.read(all_keys) == [61]


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

    def database_threads() -> set[threading.Thread]:
        # The event loop's executor may start a worker for the open itself.
        return {t for t in threading.enumerate() if t.name.startswith("sqlite-")}

    threads_before = database_threads()
    with pytest.raises(StoreError, match="newer"):
        await SqliteDatabase(path).open()
    assert database_threads() <= threads_before  # no writer or reader thread started


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


async def test_posts_of_a_version_10_file_read_back_without_blurhashes(
    tmp_path: pathlib.Path,
) -> None:
    """Migration 11 adds ``posts.media_blurhashes``: the rows already there
    read back with none, their other media fields kept; new rows keep theirs."""
    path = tmp_path / "v10.sqlite3"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        for version, statements in MIGRATIONS:
            if version <= 10:
                for statement in statements:
                    conn.execute(statement)
        conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        conn.execute("INSERT INTO schema_version (version) VALUES (10)")
        conn.execute(
            "INSERT INTO posts (id, user_id, media_urls, media_types, created_at)"
            """ VALUES ('p1', 'u1', '["https://img.example/1.webp"]', '["image"]', 1.0)"""
        )
    finally:
        conn.close()

    store = SqliteStore(path)
    await store.open()
    try:
        old = await store.posts.get("p1")
        assert old is not None
        assert (old.media_urls, old.media_types, old.media_blurhashes) == (
            ["https://img.example/1.webp"],
            ["image"],
            [],
        )
        new = make_post("u1", at=2.0)
        new.media_urls = ["https://img.example/2.webp", "https://img.example/2.mp4"]
        new.media_types = ["image", "video"]
        new.media_blurhashes = ["LEHV6nWB2yk8pyo0adR*.7kCMdnj", ""]
        await store.posts.create(new)
        assert await store.posts.get(new.id) == new
    finally:
        await store.close()


PK_SEARCH = "SEARCH messages USING PRIMARY KEY (conversation_id=?"


@pytest.mark.parametrize(
    ("sql", "args", "outer", "search"),
    [
        (LAST_SEQ_SQL, ("c",), (), PK_SEARCH),
        (HISTORY_SQL, ("c", 10, 5), (), PK_SEARCH),
        (SINCE_SQL, ("c", 10, 5), (), PK_SEARCH),
        (
            UNREAD_COUNTS_SQL,
            {"user": "u", "reads": json.dumps({"c1": 10, "c2": 0})},
            ("SCAN r VIRTUAL TABLE", "CORRELATED SCALAR SUBQUERY"),
            f"{PK_SEARCH} AND seq>?)",
        ),
        (
            CLIENT_KEY_SQL,
            ("c", "u", "k"),
            (),
            "SEARCH messages USING INDEX messages_client_key (conversation_id=?",
        ),
    ],
)
async def test_message_log_reads_are_index_served(
    tmp_path: pathlib.Path, sql: str, args: Any, outer: tuple[str, ...], search: str
) -> None:
    """Each hot read of the log is one index search of ``messages``. The
    unread counts of a page are one statement: a scan of its (small) JSON
    list of conversations, and for each a range search of the primary key."""
    store = SqliteStore(tmp_path / "plans.sqlite3")
    await store.open()
    try:
        plan = await store.db.read(
            lambda c: [str(row[3]) for row in c.execute(f"EXPLAIN QUERY PLAN {sql}", args)]
        )
    finally:
        await store.close()
    # Exactly these steps: no scan of messages, no sort step (no TEMP B-TREE).
    assert len(plan) == len(outer) + 1, plan
    for step, expected in zip(plan, outer, strict=False):
        assert step.startswith(expected), plan
    assert plan[-1].startswith(search), plan


_KEY = keyset("created_at, id", (1.0, "x"), "<")
_FOLLOW_KEY = keyset("created_at, follower_id", (1.0, "x"), "<")
_LIKE_KEY = keyset("created_at, target_id", (1.0, "x"), "<")
_COMMENT_KEY = keyset("created_at, id", (1.0, "x"), ">")


@pytest.mark.parametrize(
    ("sql", "args", "searches"),
    [
        (
            BY_AUTHOR_SQL.format(keyset=_KEY[0]),
            {"user": "u", "limit": 20, **_KEY[1]},
            ["SEARCH posts USING INDEX posts_author (user_id=? AND (created_at,id)<(?,?))"],
        ),
        (
            AUTHOR_KEYS_SQL.format(keyset=_KEY[0]),
            {"user": "u", "limit": 20, **_KEY[1]},
            [
                "SEARCH posts USING COVERING INDEX posts_author"
                " (user_id=? AND (created_at,id)<(?,?))"
            ],
        ),
        (
            FOLLOWERS_SQL.format(keyset=_FOLLOW_KEY[0]),
            {"user": "u", "limit": 20, **_FOLLOW_KEY[1]},
            ["SEARCH follows USING COVERING INDEX follows_followers_page (followee_id=? AND"],
        ),
        (
            FOLLOWER_IDS_SQL,
            ("u", "a", 20),
            [
                "SEARCH follows USING COVERING INDEX follows_followee"
                " (followee_id=? AND follower_id>?)"
            ],
        ),
        (
            LIKED_POSTS_SQL.format(keyset=_LIKE_KEY[0]),
            {"user": "u", "limit": 20, **_LIKE_KEY[1]},
            ["SEARCH likes USING COVERING INDEX likes_recent (user_id=? AND target_kind=? AND"],
        ),
        (
            COMMENTS_SQL.format(keyset=_COMMENT_KEY[0]),
            {"post": "p", "parent": None, "limit": 20, **_COMMENT_KEY[1]},
            ["SEARCH comments USING INDEX comments_thread (post_id=? AND parent_comment_id=? AND"],
        ),
    ],
)
async def test_social_pages_are_index_ranges(
    tmp_path: pathlib.Path, sql: str, args: Any, searches: list[str]
) -> None:
    """Each page of a social list is one index range in the list's order: no
    scan, no sort (a NULL parent, i.e. top-level comments, included)."""
    store = SqliteStore(tmp_path / "plans.sqlite3")
    await store.open()
    try:
        plan = await store.db.read(
            lambda c: [str(row[3]) for row in c.execute(f"EXPLAIN QUERY PLAN {sql}", args)]
        )
    finally:
        await store.close()
    assert len(plan) == len(searches), plan
    for step, expected in zip(plan, searches, strict=True):
        assert step.startswith(expected), plan


async def test_by_authors_first_step_reads_a_bounded_index_range(tmp_path: pathlib.Path) -> None:
    """The window of the newest posts is a range of the covering index
    ``posts_recent`` (no table scan); only the matches (at most the window)
    are sorted, and each is joined to its row by rowid."""
    store = SqliteStore(tmp_path / "plans.sqlite3")
    await store.open()
    sql = BY_AUTHORS_RECENT_SQL.format(keyset=_KEY[0])
    args = {"authors": json.dumps(["a", "b"]), "window": 4000, "limit": 20, **_KEY[1]}
    try:
        plan = await store.db.read(
            lambda c: [str(row[3]) for row in c.execute(f"EXPLAIN QUERY PLAN {sql}", args)]
        )
    finally:
        await store.close()
    assert not [step for step in plan if step.startswith("SCAN posts")], plan
    assert any(
        step.startswith("SEARCH posts USING COVERING INDEX posts_recent ((created_at,id)<(?,?))")
        for step in plan
    ), plan
    assert any(step.startswith("SEARCH p USING INTEGER PRIMARY KEY") for step in plan), plan


@pytest.mark.parametrize("window", [5, 4000])
async def test_by_authors_falls_back_per_author_past_the_window(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, window: int
) -> None:
    """With a window smaller than the recent posts of strangers, step 1 finds
    too few and step 2 (one range per author, merged) must give the same
    pages as the plain window does."""
    monkeypatch.setattr(sqlite_posts, "RECENT_WINDOW", window)
    store = SqliteStore(tmp_path / "feed.sqlite3")
    await store.open()
    try:
        followed = ["f1", "f2", "f3"]
        wanted = [make_post(a, at=1000.0 + i % 3) for a in followed for i in range(4)]
        wanted.append(make_post("f2", at=5000.0))  # one post among the strangers'
        noise = [make_post(f"s{i}", at=4000.0 + i) for i in range(30)]
        await asyncio.gather(*(store.posts.create(p) for p in [*wanted, *noise]))
        expected = [p.id for p in sorted(wanted, key=lambda p: (p.created_at, p.id), reverse=True)]

        got: list[str] = []
        before: tuple[float, str] | None = None
        while page := await store.posts.by_authors(followed, before=before, limit=3):
            got += [p.id for p in page]
            before = (page[-1].created_at, page[-1].id)
        assert got == expected
    finally:
        await store.close()


async def test_conflict_table_lists_every_unique_index_of_a_port_write(
    tmp_path: pathlib.Path,
) -> None:
    """Each entry of CONFLICT_FIELDS is a unique index (or primary key) of the
    schema, and the only unique indexes not in it are those whose writes treat
    a duplicate as "already there" (ON CONFLICT DO NOTHING): a new one must
    say which Conflict it means."""
    store = SqliteStore(tmp_path / "unique.sqlite3")
    await store.open()

    def unique_indexes(conn: sqlite3.Connection) -> set[tuple[str, ...]]:
        found: set[tuple[str, ...]] = set()
        tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (table,) in tables:
            if "_fts_" in table:  # FTS5's own shadow tables
                continue
            for index in conn.execute(f"PRAGMA index_list('{table}')").fetchall():
                if index["unique"]:
                    columns = conn.execute(f"PRAGMA index_info('{index['name']}')").fetchall()
                    found.add(tuple(f"{table}.{column['name']}" for column in columns))
        return found

    try:
        unique = await store.db.read(unique_indexes)
    finally:
        await store.close()
    ignored = {
        ("members.conversation_id", "members.user_id"),
        ("blocks.user_id", "blocks.blocked_id"),
        ("follows.follower_id", "follows.followee_id"),
        ("likes.user_id", "likes.target_kind", "likes.target_id"),
        ("post_tags.tag", "post_tags.created_at", "post_tags.post_id"),
        ("keys.name",),
        ("reports.target_key", "reports.reporter_id"),
        ("report_cases.target_key",),
        ("tag_trends.tag", "tag_trends.bucket"),  # an upsert: a duplicate adds to the row
        ("notification_actors.notification_id", "notification_actors.actor_id"),
        ("notification_settings.user_id",),
        ("tags.tag",),  # written only by the post_tags triggers, as an upsert
        # A chat line already there (its id, or a retried client key) is skipped.
        ("stream_chat.id",),
        ("stream_chat.stream_id", "stream_chat.user_id", "stream_chat.client_key"),
        ("stream_bans.stream_id", "stream_bans.user_id"),
        ("stream_viewers.stream_id", "stream_viewers.user_id"),
        # Marketplace: a retry's client key is looked up first in the same
        # write job (the answer is the first record); a known transaction id
        # is DuplicateTransaction (ON CONFLICT DO NOTHING, then raised);
        # postings of a new transaction cannot repeat; balances are upserts;
        # a redelivered payment event is skipped.
        ("products.seller_id", "products.client_key"),
        ("orders.buyer_id", "orders.client_key"),
        ("payouts.seller_id", "payouts.client_key"),
        ("ledger_transactions.id",),
        ("ledger_postings.tx_id", "ledger_postings.n"),
        ("ledger_balances.account", "ledger_balances.currency"),
        ("payment_events.id",),
    }
    assert unique - ignored == set(CONFLICT_FIELDS)


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


def test_migration_versions_ascend_without_gaps() -> None:
    """A file records only its highest version, so an entry below another
    would be skipped by every file already past it: versions go up by one."""
    versions = [version for version, _ in MIGRATIONS]
    assert versions == list(range(1, len(versions) + 1))
