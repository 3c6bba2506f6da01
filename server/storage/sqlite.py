"""SQLite backend of the storage ports (:mod:`actors.store`), on the stdlib ``sqlite3``.

Two layers:

* :class:`SqliteDatabase` owns the file and its threads. It knows nothing about
  users or sessions: it runs *jobs* (plain functions of a ``sqlite3.Connection``)
  either on the single writer thread, with **group commit**, or on a small pool
  of reader threads. Later aggregates (message batches above all) build on it.
* :class:`SqliteStore` and its per-aggregate stores implement the ports with
  SQL executed through those jobs. A port method that writes several rows (a
  message batch, a conversation with its members) does it in ONE write job, so
  it is atomic: it commits with its group or leaves nothing.

Durability: the file is in WAL mode with ``synchronous=FULL``, so a write whose
:meth:`SqliteDatabase.write` has returned is on disk (the WAL is fsynced at
every commit) and survives a crash of the process or the machine.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import pathlib
import queue
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

import msgspec

from actors.store import Conflict, StoreError
from actors.store.accounts import (
    AuthSessionRecord,
    AuthSessionStore,
    BlockStore,
    ProfileUpdate,
    UserRecord,
    UserStore,
)
from actors.store.messaging import (
    ConversationRecord,
    ConversationStore,
    ConversationSummaryUpdate,
    MemberRecord,
    MessageRecord,
    MessageStore,
)

__all__ = ["SqliteDatabase", "SqliteStore", "WriteStats"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Largest number of jobs committed in one transaction. Bounds how long one
#: transaction holds the write lock and how much work one failure can undo.
DEFAULT_MAX_BATCH: Final = 512
DEFAULT_READERS: Final = 4
#: How long a connection waits for another process's lock before SQLITE_BUSY.
DEFAULT_BUSY_TIMEOUT_MS: Final = 5000


# --------------------------------------------------------------------------- schema

#: Migrations in order: ``(version, statements)``. Version 1 is the initial
#: schema. Append, never edit, a released entry; :meth:`SqliteDatabase.open`
#: applies those above the file's ``schema_version`` in one transaction.
MIGRATIONS: Final[tuple[tuple[int, tuple[str, ...]], ...]] = (
    (
        1,
        (
            # ``seq`` aliases the rowid so it never changes (VACUUM may renumber an
            # implicit rowid), which the external-content FTS index relies on.
            # ``display_name_key`` is ``display_name.lower()`` computed in Python:
            # SQLite's own lower() only folds ASCII.
            """
            CREATE TABLE IF NOT EXISTS users (
                seq INTEGER PRIMARY KEY,
                id TEXT NOT NULL UNIQUE,
                username TEXT NOT NULL UNIQUE,
                email TEXT NOT NULL UNIQUE,
                password_hash TEXT NOT NULL,
                display_name TEXT NOT NULL DEFAULT '',
                display_name_key TEXT NOT NULL DEFAULT '',
                bio TEXT NOT NULL DEFAULT '',
                avatar_url TEXT NOT NULL DEFAULT '',
                created_at REAL NOT NULL
            )
            """,
            "CREATE INDEX IF NOT EXISTS users_display_name_key ON users (display_name_key)",
            # No stemming (these are names); diacritics folded, like MongoDB's
            # text index with default_language "none".
            """
            CREATE VIRTUAL TABLE IF NOT EXISTS users_fts USING fts5 (
                username, display_name,
                content='users', content_rowid='seq',
                tokenize='unicode61 remove_diacritics 2'
            )
            """,
            """
            CREATE TRIGGER IF NOT EXISTS users_fts_insert AFTER INSERT ON users BEGIN
                INSERT INTO users_fts (rowid, username, display_name)
                VALUES (new.seq, new.username, new.display_name);
            END
            """,
            """
            CREATE TRIGGER IF NOT EXISTS users_fts_delete AFTER DELETE ON users BEGIN
                INSERT INTO users_fts (users_fts, rowid, username, display_name)
                VALUES ('delete', old.seq, old.username, old.display_name);
            END
            """,
            """
            CREATE TRIGGER IF NOT EXISTS users_fts_update
            AFTER UPDATE OF username, display_name ON users BEGIN
                INSERT INTO users_fts (users_fts, rowid, username, display_name)
                VALUES ('delete', old.seq, old.username, old.display_name);
                INSERT INTO users_fts (rowid, username, display_name)
                VALUES (new.seq, new.username, new.display_name);
            END
            """,
            # user_id is deliberately not a foreign key: the MongoDB backend cannot
            # enforce one and both backends must honour the same contract.
            """
            CREATE TABLE IF NOT EXISTS auth_sessions (
                token_hash TEXT PRIMARY KEY,
                user_id TEXT NOT NULL,
                created_at REAL NOT NULL,
                expires_at REAL NOT NULL
            ) WITHOUT ROWID
            """,
            "CREATE INDEX IF NOT EXISTS auth_sessions_user_id ON auth_sessions (user_id)",
            "CREATE INDEX IF NOT EXISTS auth_sessions_expires_at ON auth_sessions (expires_at)",
        ),
    ),
    (
        2,
        (
            # Messaging. No foreign keys, for the same reason as auth_sessions.
            # ``direct_key`` is NULL for groups; the partial unique index makes
            # it one conversation per pair and is the conflict target of
            # get_or_create_direct's INSERT ... ON CONFLICT. WITHOUT ROWID: the
            # summary written by every message batch is one b-tree seek.
            """
            CREATE TABLE IF NOT EXISTS conversations (
                id TEXT PRIMARY KEY NOT NULL,
                kind TEXT NOT NULL,
                title TEXT NOT NULL DEFAULT '',
                created_by TEXT NOT NULL,
                created_at REAL NOT NULL,
                direct_key TEXT,
                last_seq INTEGER NOT NULL DEFAULT 0,
                last_activity_at REAL NOT NULL,
                last_preview TEXT NOT NULL DEFAULT '',
                last_sender_id TEXT
            ) WITHOUT ROWID
            """,
            "CREATE UNIQUE INDEX IF NOT EXISTS conversations_direct_key"
            " ON conversations (direct_key) WHERE direct_key IS NOT NULL",
            # WITHOUT ROWID: rows clustered by conversation; the user_id index
            # carries the primary key, so it alone answers "my conversations".
            """
            CREATE TABLE IF NOT EXISTS members (
                conversation_id TEXT NOT NULL,
                user_id TEXT NOT NULL,
                role TEXT NOT NULL DEFAULT 'member',
                joined_at REAL NOT NULL,
                read_seq INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (conversation_id, user_id)
            ) WITHOUT ROWID
            """,
            "CREATE INDEX IF NOT EXISTS members_user_id ON members (user_id)",
            # The log, clustered by (conversation_id, seq): history and since
            # are range scans of the primary key. Messages are short (text is
            # bounded by protocol.limits.MESSAGE_TEXT_MAX); longer rows simply
            # spill to overflow pages.
            """
            CREATE TABLE IF NOT EXISTS messages (
                conversation_id TEXT NOT NULL,
                seq INTEGER NOT NULL,
                id TEXT NOT NULL,
                kind TEXT NOT NULL DEFAULT 'message',
                sender_id TEXT NOT NULL,
                client_key TEXT,
                text TEXT NOT NULL DEFAULT '',
                media_url TEXT NOT NULL DEFAULT '',
                created_at REAL NOT NULL,
                edited_at REAL,
                deleted INTEGER NOT NULL DEFAULT 0,
                target_seq INTEGER,
                PRIMARY KEY (conversation_id, seq)
            ) WITHOUT ROWID
            """,
            "CREATE UNIQUE INDEX IF NOT EXISTS messages_client_key"
            " ON messages (conversation_id, sender_id, client_key) WHERE client_key IS NOT NULL",
            """
            CREATE TABLE IF NOT EXISTS blocks (
                user_id TEXT NOT NULL,
                blocked_id TEXT NOT NULL,
                created_at REAL NOT NULL,
                PRIMARY KEY (user_id, blocked_id)
            ) WITHOUT ROWID
            """,
        ),
    ),
)

SCHEMA_VERSION: Final = MIGRATIONS[-1][0]


def _migrate(conn: sqlite3.Connection) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION` in one ``BEGIN IMMEDIATE``
    transaction (so concurrent processes opening the same file serialise here).

    Returns the version the file had before. Raises :class:`StoreError` if the
    file was written by newer code.
    """
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        before = int(row[0]) if row[0] is not None else 0
        if before > SCHEMA_VERSION:
            raise StoreError(
                f"database schema version {before} is newer than this code's {SCHEMA_VERSION}"
            )
        for version, statements in MIGRATIONS:
            if version <= before:
                continue
            for statement in statements:
                conn.execute(statement)
            conn.execute("DELETE FROM schema_version")
            conn.execute("INSERT INTO schema_version (version) VALUES (?)", (version,))
        conn.execute("COMMIT")
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    return before


def _set_wal(conn: sqlite3.Connection, busy_timeout_ms: int) -> str:
    """``PRAGMA journal_mode = WAL``; return the mode now in force.

    SQLite may answer SQLITE_BUSY ("database is locked") here at once, without
    waiting on the busy handler, while another connection holds the file's
    lock (e.g. a second process opening the same file while the first one
    migrates it). That is retried, with a short growing pause, for up to
    ``busy_timeout_ms``; after that the error is raised.
    """
    deadline = time.monotonic() + busy_timeout_ms / 1000
    pause = 0.005
    while True:
        try:
            return str(conn.execute("PRAGMA journal_mode = WAL").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _connect(path: pathlib.Path, busy_timeout_ms: int, *, query_only: bool) -> sqlite3.Connection:
    """A connection with this module's settings.

    ``isolation_level=None`` puts the sqlite3 module in autocommit mode so that
    transactions are exactly the ``BEGIN``/``COMMIT`` we issue. The connection is
    made in one thread and then used only by the thread it is handed to, hence
    ``check_same_thread=False``.
    """
    conn = sqlite3.connect(
        path, isolation_level=None, check_same_thread=False, timeout=busy_timeout_ms / 1000
    )
    try:
        # busy_timeout first: switching to WAL takes a lock another process may hold.
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        mode = _set_wal(conn, busy_timeout_ms)
        if str(mode).lower() != "wal":
            raise StoreError(f"{path}: cannot use WAL journal mode (got {mode!r})")
        # FULL: the WAL is fsynced at every commit, so an acknowledged write is durable.
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA foreign_keys = ON")
        if query_only:
            conn.execute("PRAGMA query_only = ON")
        conn.row_factory = sqlite3.Row
    except BaseException:
        conn.close()
        raise
    return conn


# --------------------------------------------------------------------------- jobs


class _Job(Generic[T]):
    """One unit of work for a database thread and the future of its caller."""

    __slots__ = ("fn", "future", "loop")

    def __init__(
        self,
        fn: Callable[[sqlite3.Connection], T],
        loop: asyncio.AbstractEventLoop,
        future: asyncio.Future[T],
    ) -> None:
        self.fn = fn
        self.loop = loop
        self.future = future


# What a thread hands back to the loop: the job's future, then either
# (True, result) or (False, exception).
_Outcome = tuple[asyncio.Future[Any], bool, Any]


def _settle(outcomes: Sequence[_Outcome]) -> None:
    """Resolve futures on their loop. A future already done was cancelled by its
    caller; the job ran anyway (a committed write stays committed)."""
    for future, ok, value in outcomes:
        if future.done():
            continue
        if ok:
            future.set_result(value)
        elif isinstance(value, StopIteration) or not isinstance(value, Exception):
            # A future refuses StopIteration, and a SystemExit or the like raised
            # in a database thread must not stop the event loop.
            future.set_exception(StoreError(f"job raised {value!r}"))
        else:
            future.set_exception(value)


def _deliver(outcomes: Sequence[tuple[asyncio.AbstractEventLoop, _Outcome]]) -> None:
    """From a database thread: one ``call_soon_threadsafe`` per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for loop, outcome in outcomes:
        by_loop.setdefault(loop, []).append(outcome)
    for loop, items in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, items)
        except RuntimeError:  # the loop was closed; nobody is waiting any more
            log.debug("dropping %d results for a closed event loop", len(items))


@dataclass
class WriteStats:
    """Counters of the writer thread (read them for metrics and tests).

    ``batches`` counts committed-or-attempted transactions, ``jobs`` every job
    run, ``failed_jobs`` those whose caller got an exception, ``largest_batch``
    the most jobs seen in one transaction.
    """

    batches: int = 0
    jobs: int = 0
    failed_jobs: int = 0
    largest_batch: int = 0


class SqliteDatabase:
    """A SQLite file shared by one writer thread and a pool of reader threads.

    **Writes: group commit.** :meth:`write` enqueues a job. The writer thread
    takes every job queued at that moment (at most ``max_batch``) and runs them
    in ONE transaction (``BEGIN IMMEDIATE`` … ``COMMIT``), each job inside its
    own ``SAVEPOINT``:

    * a job that raises is rolled back to its savepoint, alone: its caller gets
      the exception, the other jobs of the batch still commit;
    * a job that returns gets its result only after ``COMMIT`` has succeeded,
      i.e. once its changes are durable (``synchronous=FULL``);
    * if SQLite abandons the transaction because of a job (full disk, I/O
      error), the jobs already done in it get that error too, and the jobs
      after it run in a new transaction;
    * if the transaction machinery itself fails (``BEGIN`` after the busy
      timeout, ``COMMIT``), every job of the batch that had not failed on its
      own gets that error.

    So nothing is reported written that is not, and a job's result is never
    delivered before its transaction is durable.

    While one batch is being committed, new jobs queue up and form the next
    batch, so the cost of an fsync is shared by everyone who arrived meanwhile.
    Jobs run in the order they were enqueued. A job must be quick, must not
    touch the event loop, and must not issue ``BEGIN``/``COMMIT``/``ROLLBACK``
    (nested ``SAVEPOINT``s with other names are fine). Cancelling the awaiting
    task does not withdraw a job that was already enqueued.

    **Reads.** :meth:`read` runs a job on one of ``readers`` threads, each with
    its own read-only connection, inside one read transaction: the job sees a
    single consistent snapshot, including every write whose :meth:`write` has
    returned. WAL lets reads proceed while a write is in progress.
    """

    def __init__(
        self,
        path: pathlib.Path,
        *,
        readers: int = DEFAULT_READERS,
        max_batch: int = DEFAULT_MAX_BATCH,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> None:
        if readers < 1 or max_batch < 1:
            raise ValueError("readers and max_batch must be at least 1")
        self.path = path
        self.readers = readers
        self.max_batch = max_batch
        self.busy_timeout_ms = busy_timeout_ms
        self.stats = WriteStats()
        # ``None`` in a queue tells the thread that takes it to exit; the jobs
        # queued before it are done first.
        # The writer's queue takes lists: every write of one event-loop turn
        # travels in one put, because each put may wake the writer thread, and
        # a thread wake-up costs more CPU (tens of microseconds on a shared
        # core) than the job it carries.
        self._write_queue: queue.SimpleQueue[list[_Job[Any]] | None] = queue.SimpleQueue()
        self._staged: list[_Job[Any]] = []
        self._handoff_pending = False
        self._handed_over = 0  # jobs put on the queue and not yet taken
        self._read_queue: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._state_lock = threading.Lock()  # orders enqueue against close
        self._open_lock = asyncio.Lock()  # serialises open() and close()
        self._open = False  # threads started
        self._accepting = False  # jobs may be enqueued (open, not closing, writer alive)
        self._closed = False  # close() was called

    @property
    def is_open(self) -> bool:
        """Jobs are accepted: opened, not closed, and the writer has not crashed."""
        return self._accepting

    @property
    def pending_writes(self) -> int:
        """Write jobs submitted and not yet taken into a batch by the writer."""
        with self._state_lock:
            return len(self._staged) + self._handed_over

    async def open(self) -> None:
        """Create the directory and file if needed, switch to WAL, apply schema
        migrations, start the threads. Idempotent on an open database; a closed
        one cannot be reopened (make a new :class:`SqliteDatabase`)."""
        async with self._open_lock:
            await self._open_locked()

    async def _open_locked(self) -> None:
        if self._closed:
            raise StoreError("database was closed; open a new SqliteDatabase")
        if self._open:
            if not self._accepting:
                raise StoreError("the writer thread crashed; close and open a new SqliteDatabase")
            return
        writer, reader_conns = await asyncio.to_thread(self._open_connections)
        threads = [
            threading.Thread(
                target=self._writer_main, args=(writer,), name="sqlite-writer", daemon=True
            )
        ]
        threads += [
            threading.Thread(
                target=self._reader_main, args=(conn,), name=f"sqlite-reader-{i}", daemon=True
            )
            for i, conn in enumerate(reader_conns)
        ]
        for thread in threads:
            thread.start()
        self._threads = threads
        self._open = True
        self._accepting = True

    def _open_connections(self) -> tuple[sqlite3.Connection, list[sqlite3.Connection]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conns: list[sqlite3.Connection] = []
        try:
            writer = _connect(self.path, self.busy_timeout_ms, query_only=False)
            conns.append(writer)
            before = _migrate(writer)
            if before != SCHEMA_VERSION:
                log.info("sqlite %s: schema %d -> %d", self.path, before, SCHEMA_VERSION)
            for _ in range(self.readers):
                conns.append(_connect(self.path, self.busy_timeout_ms, query_only=True))
        except BaseException:
            for conn in conns:
                conn.close()
            raise
        return conns[0], conns[1:]

    async def close(self) -> None:
        """Stop accepting jobs, let the threads finish every job already queued,
        join them and close their connections. Idempotent, and safe after a
        writer crash."""
        async with self._open_lock:
            await self._close_locked()

    async def _close_locked(self) -> None:
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            self._accepting = False
            staged, self._staged = self._staged, []
        if not self._open:
            return
        if staged:
            with self._state_lock:
                self._handed_over += len(staged)
            self._write_queue.put(staged)
        self._write_queue.put(None)
        for _ in range(self.readers):
            self._read_queue.put(None)
        threads, self._threads = self._threads, []

        def join_all() -> None:
            for thread in threads:
                thread.join()

        await asyncio.to_thread(join_all)

    def _stage_write(self, fn: Callable[[sqlite3.Connection], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._state_lock:
            if not self._accepting:
                raise StoreError("database is not open")
            self._staged.append(_Job(fn, loop, future))
            if self._handoff_pending:
                return future
            self._handoff_pending = True
        loop.call_soon(self._handoff)
        return future

    def _handoff(self) -> None:
        """Give the writer what this event-loop turn staged, in one put."""
        with self._state_lock:
            jobs, self._staged = self._staged, []
            self._handoff_pending = False
            if jobs:
                self._handed_over += len(jobs)
                self._write_queue.put(jobs)

    def _enqueue(
        self, target: queue.SimpleQueue[_Job[Any] | None], fn: Callable[[sqlite3.Connection], T]
    ) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        with self._state_lock:
            if not self._accepting:
                raise StoreError("database is not open")
            target.put(_Job(fn, loop, future))
        return future

    async def write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` on the writer thread in the next group-commit
        batch; return its result once the batch is committed, or raise what
        ``fn`` raised (its changes rolled back), or the error that made the
        batch's transaction fail. Raises :class:`StoreError` if not open."""
        return await self._stage_write(fn)

    async def read(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn(connection)`` on a reader thread inside one read transaction
        (a consistent snapshot) and return its result or raise its exception.
        The connection is ``query_only``: writes through it fail."""
        return await self._enqueue(self._read_queue, fn)

    # -- threads ------------------------------------------------------------

    def _writer_main(self, conn: sqlite3.Connection) -> None:
        try:
            stopping = False
            carry: list[_Job[Any]] = []  # taken from the queue, beyond max_batch
            while not (stopping and not carry):
                if not carry:
                    first = self._write_queue.get()
                    if first is None:
                        break
                    carry = list(first)
                while len(carry) < self.max_batch and not stopping:
                    try:
                        item = self._write_queue.get_nowait()
                    except queue.Empty:
                        break
                    if item is None:
                        stopping = True
                    else:
                        carry.extend(item)
                batch, carry = carry[: self.max_batch], carry[self.max_batch :]
                with self._state_lock:
                    self._handed_over -= len(batch)
                try:
                    outcomes = self._run_batch(conn, batch)
                except BaseException as exc:
                    # Only a bug or a job raising a BaseException (SystemExit...)
                    # gets here, mid-transaction: callers are told it failed and
                    # nobody may be left waiting.
                    log.critical("sqlite %s: writer thread crashed", self.path, exc_info=True)
                    self._fail_queued(batch + carry, exc)
                    return  # the connection's finally rolls back what was not committed
                _deliver(outcomes)
        finally:
            conn.close()

    def _fail_queued(self, batch: list[_Job[Any]], exc: BaseException) -> None:
        """After a writer crash: refuse new jobs, fail ``batch`` and every job queued."""
        with self._state_lock:
            self._accepting = False
        jobs = list(batch)
        while True:
            try:
                item = self._write_queue.get_nowait()
            except queue.Empty:
                break
            if item is not None:
                jobs.extend(item)
        error = StoreError(f"sqlite writer crashed: {exc!r}")
        _deliver([(job.loop, (job.future, False, error)) for job in jobs])

    def _run_batch(
        self, conn: sqlite3.Connection, batch: list[_Job[Any]]
    ) -> list[tuple[asyncio.AbstractEventLoop, _Outcome]]:
        """Run ``batch``, normally in one transaction; one outcome per job, in order."""
        # (ok, value) per job; None until decided. A job's own failure is final;
        # a success only stands if its transaction commits.
        results: list[tuple[bool, Any] | None] = [None] * len(batch)
        start = 0
        while start < len(batch):
            start = self._run_transaction(conn, batch, start, results)
        stats = self.stats
        stats.batches += 1
        stats.jobs += len(batch)
        stats.failed_jobs += sum(1 for r in results if r is None or not r[0])
        stats.largest_batch = max(stats.largest_batch, len(batch))
        outcomes: list[tuple[asyncio.AbstractEventLoop, _Outcome]] = []
        for job, result in zip(batch, results, strict=True):
            assert result is not None
            outcomes.append((job.loop, (job.future, *result)))
        return outcomes

    def _run_transaction(
        self,
        conn: sqlite3.Connection,
        batch: list[_Job[Any]],
        start: int,
        results: list[tuple[bool, Any] | None],
    ) -> int:
        """Run ``batch[start:]`` in one transaction, filling ``results``; return
        where the next transaction must start (``len(batch)`` when finished).

        A new transaction is needed only when SQLite abandons the current one
        because of a job (SQLITE_FULL, SQLITE_IOERR, ... roll back the whole
        transaction, savepoints included): the jobs done in it are lost and
        fail with that error, the job that hit it fails with it too, and the
        jobs after it get a fresh transaction, so that one oversized write
        does not sink the rest of the batch.
        """
        done: list[int] = []  # succeeded in this transaction, pending COMMIT
        index = start
        try:
            conn.execute("BEGIN IMMEDIATE")
            while index < len(batch):
                conn.execute("SAVEPOINT grover_job")
                try:
                    value = batch[index].fn(conn)
                except Exception as exc:
                    results[index] = (False, exc)
                    index += 1
                    if not conn.in_transaction:
                        log.error("sqlite %s: transaction abandoned by SQLite: %r", self.path, exc)
                        for lost in done:
                            results[lost] = (False, exc)
                        return index
                    conn.execute("ROLLBACK TO grover_job")
                    conn.execute("RELEASE grover_job")
                else:
                    conn.execute("RELEASE grover_job")
                    results[index] = (True, value)
                    done.append(index)
                    index += 1
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            # BEGIN (lock wait timed out), SAVEPOINT/RELEASE or COMMIT failed:
            # nothing of this transaction is kept, and the rest of the batch
            # fails too rather than retrying into what is likely the same error.
            if conn.in_transaction:
                try:
                    conn.execute("ROLLBACK")
                except sqlite3.Error:
                    log.exception("sqlite %s: ROLLBACK failed", self.path)
            log.error("sqlite %s: transaction failed: %r", self.path, exc)
            for lost in done:
                results[lost] = (False, exc)
            for rest in range(start, len(batch)):
                if results[rest] is None:
                    results[rest] = (False, exc)
        return len(batch)

    def _reader_main(self, conn: sqlite3.Connection) -> None:
        try:
            while True:
                job = self._read_queue.get()
                if job is None:
                    break
                outcome: _Outcome
                try:
                    conn.execute("BEGIN")
                    try:
                        outcome = (job.future, True, job.fn(conn))
                    finally:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")  # read-only: nothing to keep
                except BaseException as exc:  # the caller gets it; this thread goes on
                    outcome = (job.future, False, exc)
                _deliver([(job.loop, outcome)])
        finally:
            conn.close()


# --------------------------------------------------------------------------- helpers

_UNIQUE_RE: Final = re.compile(r"UNIQUE constraint failed: (\w+)\.(\w+)")


def _conflict(exc: sqlite3.IntegrityError) -> Conflict | None:
    """The :class:`Conflict` a unique-constraint error means, or ``None`` if it is
    another kind of integrity error. Names the first column of the index."""
    match = _UNIQUE_RE.search(str(exc))
    return Conflict(match.group(2)) if match else None


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string greater than every string that starts with ``prefix``
    in code-point order, which is SQLite's BINARY order for UTF-8 text; ``None``
    if there is none (empty prefix, or only U+10FFFF characters).

    ``prefix <= s < bound`` holds exactly for the strings ``s`` starting with
    ``prefix``: a range an index can serve, with no wildcard to escape (unlike
    ``LIKE``, where ``%`` and ``_`` in the prefix would be patterns).
    """
    chars = list(prefix)
    while chars:
        code = ord(chars.pop()) + 1
        if 0xD800 <= code <= 0xDFFF:  # surrogates cannot be stored; skip over them
            code = 0xE000
        if code <= 0x10FFFF:
            return "".join(chars) + chr(code)
    return None


_WORD_RE: Final = re.compile(r"\w+")
#: Terms of a text query beyond this many are ignored (bounds the query's cost).
MAX_QUERY_TERMS: Final = 16


def fts_query(text: str) -> str | None:
    """An FTS5 MATCH expression for free text: its words, each quoted (so FTS5
    syntax in user input is inert), OR-ed together like MongoDB's ``$text``;
    ``None`` if the text has no words."""
    words = _WORD_RE.findall(text)[:MAX_QUERY_TERMS]
    if not words:
        return None
    return " OR ".join(f'"{word}"' for word in words)


_USER_COLUMNS: Final = (
    "id, username, email, password_hash, display_name, bio, avatar_url, created_at"
)


_RecordT = TypeVar("_RecordT", bound=msgspec.Struct)


def _record(cls: type[_RecordT], row: sqlite3.Row) -> _RecordT:
    """The record ``cls`` from the row's columns of the same names (extra
    columns are ignored; SQLite's 0/1 become bools)."""
    return msgspec.convert({name: row[name] for name in cls.__struct_fields__}, cls, strict=False)


_user = functools.partial(_record, UserRecord)
_session = functools.partial(_record, AuthSessionRecord)


_UNIQUE_COLUMNS_RE: Final = re.compile(r"UNIQUE constraint failed: ([\w.]+(?:, [\w.]+)*)")


def _unique_columns(exc: sqlite3.IntegrityError) -> list[str]:
    """The ``table.column`` names of the unique index a constraint error is
    about (all of them, in index order); empty for other integrity errors."""
    match = _UNIQUE_COLUMNS_RE.search(str(exc))
    return match.group(1).split(", ") if match else []


_CONVERSATION_COLUMNS: Final = (
    "id, kind, title, created_by, created_at, direct_key,"
    " last_seq, last_activity_at, last_preview, last_sender_id"
)
_MEMBER_COLUMNS: Final = "conversation_id, user_id, role, joined_at, read_seq"
_MESSAGE_COLUMNS: Final = (
    "conversation_id, seq, id, kind, sender_id, client_key, text, media_url,"
    " created_at, edited_at, deleted, target_seq"
)


def _prefixed(columns: str, alias: str) -> str:
    """``"a, b"`` → ``"x.a, x.b"`` for a join."""
    return ", ".join(f"{alias}.{column.strip()}" for column in columns.split(","))


_conversation = functools.partial(_record, ConversationRecord)
_member = functools.partial(_record, MemberRecord)
_message = functools.partial(_record, MessageRecord)


def _conversation_and_member(row: sqlite3.Row) -> tuple[ConversationRecord, MemberRecord]:
    """A row of ``SELECT c.<conversation columns>, m.role, m.joined_at,
    m.read_seq, m.user_id`` (``m.conversation_id`` is ``c.id``)."""
    member = MemberRecord(
        conversation_id=row["id"],
        user_id=row["user_id"],
        role=row["role"],
        joined_at=row["joined_at"],
        read_seq=row["read_seq"],
    )
    return _conversation(row), member


def _insert_members(conn: sqlite3.Connection, members: Sequence[MemberRecord]) -> None:
    """Insert ``members``, leaving any already present as they are."""
    conn.executemany(
        f"INSERT INTO members ({_MEMBER_COLUMNS}) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT (conversation_id, user_id) DO NOTHING",
        [(m.conversation_id, m.user_id, m.role, m.joined_at, m.read_seq) for m in members],
    )


def _insert_conversation(conn: sqlite3.Connection, c: ConversationRecord, upsert: str) -> int:
    """Insert ``c`` with ``upsert`` (an ``ON CONFLICT`` clause or ``""``)
    appended; return the number of rows inserted (0 or 1)."""
    cursor = conn.execute(
        f"INSERT INTO conversations ({_CONVERSATION_COLUMNS})"
        f" VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) {upsert}",
        (
            c.id,
            c.kind,
            c.title,
            c.created_by,
            c.created_at,
            c.direct_key,
            c.last_seq,
            c.last_activity_at,
            c.last_preview,
            c.last_sender_id,
        ),
    )
    return cursor.rowcount


# --------------------------------------------------------------------------- stores


class SqliteUserStore:
    """:class:`actors.store.UserStore` on the ``users`` table."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, user: UserRecord) -> None:
        """Insert; ``Conflict("username"|"email"|"id")`` if taken, nothing written."""

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO users (id, username, email, password_hash, display_name,"
                    " display_name_key, bio, avatar_url, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        user.id,
                        user.username,
                        user.email,
                        user.password_hash,
                        user.display_name,
                        user.display_name.lower(),
                        user.bio,
                        user.avatar_url,
                        user.created_at,
                    ),
                )
            except sqlite3.IntegrityError as exc:
                conflict = _conflict(exc)
                if conflict is None:
                    raise
                raise conflict from exc

        await self._db.write(job)

    async def _one(self, where: str, value: str) -> UserRecord | None:
        def job(conn: sqlite3.Connection) -> UserRecord | None:
            row = conn.execute(f"SELECT {_USER_COLUMNS} FROM users WHERE {where} = ?", (value,))
            found = row.fetchone()
            return _user(found) if found is not None else None

        return await self._db.read(job)

    async def get(self, user_id: str) -> UserRecord | None:
        return await self._one("id", user_id)

    async def get_by_username(self, username: str) -> UserRecord | None:
        """Exact match on the stored (lower-case) username."""
        return await self._one("username", username)

    async def get_by_email(self, email: str) -> UserRecord | None:
        """Exact match on the stored (lower-case) email."""
        return await self._one("email", email)

    async def update_profile(self, user_id: str, update: ProfileUpdate) -> UserRecord | None:
        """Set the non-``None`` fields (and the derived ``display_name_key``) in
        one statement; return the record as committed, ``None`` if no such user."""
        assignments: dict[str, str] = {}
        if update.display_name is not None:
            assignments["display_name"] = update.display_name
            assignments["display_name_key"] = update.display_name.lower()
        if update.bio is not None:
            assignments["bio"] = update.bio
        if update.avatar_url is not None:
            assignments["avatar_url"] = update.avatar_url

        def job(conn: sqlite3.Connection) -> UserRecord | None:
            if assignments:
                # Column names come from the fixed set above, never from input.
                sets = ", ".join(f"{column} = ?" for column in assignments)
                rows = conn.execute(
                    f"UPDATE users SET {sets} WHERE id = ? RETURNING {_USER_COLUMNS}",
                    (*assignments.values(), user_id),
                ).fetchall()  # fetchall: a RETURNING statement must finish before RELEASE
            else:
                rows = conn.execute(
                    f"SELECT {_USER_COLUMNS} FROM users WHERE id = ?", (user_id,)
                ).fetchall()
            return _user(rows[0]) if rows else None

        return await self._db.write(job)

    async def search_prefix(self, prefix: str, limit: int) -> list[UserRecord]:
        """Users whose username or display name starts with ``prefix`` compared
        lower-case (Unicode-aware), ordered by username, at most ``limit``.
        Every character of ``prefix`` is literal (``%``, ``_`` included)."""
        if limit <= 0:
            return []
        low = prefix.lower()
        high = prefix_upper_bound(low)

        def job(conn: sqlite3.Connection) -> list[UserRecord]:
            if high is None:  # empty prefix: everyone
                where, args = "username >= :low OR display_name_key >= :low", {"low": low}
            else:
                where = (
                    "(username >= :low AND username < :high)"
                    " OR (display_name_key >= :low AND display_name_key < :high)"
                )
                args = {"low": low, "high": high}
            rows = conn.execute(
                f"SELECT {_USER_COLUMNS} FROM users WHERE {where} ORDER BY username LIMIT :limit",
                {**args, "limit": limit},
            ).fetchall()
            return [_user(row) for row in rows]

        return await self._db.read(job)

    async def search_text(self, query: str, limit: int) -> list[UserRecord]:
        """Users matching any word of ``query`` in username or display name
        (FTS5, case- and diacritic-insensitive, whole words), best bm25 rank
        first, ties by username; at most ``limit``. No words: no results."""
        match = fts_query(query)
        if match is None or limit <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[UserRecord]:
            columns = ", ".join(f"u.{c.strip()}" for c in _USER_COLUMNS.split(","))
            rows = conn.execute(
                f"SELECT {columns} FROM users_fts JOIN users AS u ON u.seq = users_fts.rowid"
                " WHERE users_fts MATCH ? ORDER BY bm25(users_fts), u.username LIMIT ?",
                (match, limit),
            ).fetchall()
            return [_user(row) for row in rows]

        return await self._db.read(job)


class SqliteAuthSessionStore:
    """:class:`actors.store.AuthSessionStore` on the ``auth_sessions`` table."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, session: AuthSessionRecord) -> None:
        """Insert; ``Conflict("token_hash")`` if that hash exists, nothing written."""

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.execute(
                    "INSERT INTO auth_sessions (token_hash, user_id, created_at, expires_at)"
                    " VALUES (?, ?, ?, ?)",
                    (session.token_hash, session.user_id, session.created_at, session.expires_at),
                )
            except sqlite3.IntegrityError as exc:
                conflict = _conflict(exc)
                if conflict is None:
                    raise
                raise conflict from exc

        await self._db.write(job)

    async def get(self, token_hash: str) -> AuthSessionRecord | None:
        def job(conn: sqlite3.Connection) -> AuthSessionRecord | None:
            row = conn.execute(
                "SELECT token_hash, user_id, created_at, expires_at FROM auth_sessions"
                " WHERE token_hash = ?",
                (token_hash,),
            ).fetchone()
            return _session(row) if row is not None else None

        return await self._db.read(job)

    async def delete(self, token_hash: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM auth_sessions WHERE token_hash = ?", (token_hash,))
            return cursor.rowcount > 0

        return await self._db.write(job)

    async def delete_for_user(self, user_id: str) -> int:
        def job(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM auth_sessions WHERE user_id = ?", (user_id,)).rowcount

        return await self._db.write(job)

    async def delete_expired(self, now: float) -> int:
        """Remove sessions with ``expires_at <= now``; return how many."""

        def job(conn: sqlite3.Connection) -> int:
            return conn.execute("DELETE FROM auth_sessions WHERE expires_at <= ?", (now,)).rowcount

        return await self._db.write(job)


class SqliteConversationStore:
    """:class:`actors.store.ConversationStore` on ``conversations`` and ``members``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def create(self, conversation: ConversationRecord, members: list[MemberRecord]) -> None:
        """Insert the conversation and its members in one transaction;
        ``Conflict("direct_key")`` (or ``Conflict("id")``) and nothing written
        if taken. Duplicate members in ``members`` are stored once."""

        def job(conn: sqlite3.Connection) -> None:
            try:
                _insert_conversation(conn, conversation, "")
            except sqlite3.IntegrityError as exc:
                conflict = _conflict(exc)
                if conflict is None:
                    raise
                raise conflict from exc
            _insert_members(conn, members)

        await self._db.write(job)

    async def get_or_create_direct(
        self, conversation: ConversationRecord, members: list[MemberRecord]
    ) -> tuple[ConversationRecord, bool]:
        """One write job: ``INSERT ... ON CONFLICT (direct_key) DO NOTHING``,
        then the stored row, then ``members`` (idempotently, re-pointed at the
        stored id) if the insert happened or the stored conversation has no
        members — the same rule as the MongoDB backend, where that repairs a
        creation interrupted between its two writes. Jobs are serialised by the
        writer thread (and by ``BEGIN IMMEDIATE`` across processes), so racing
        callers all get the one row. ``ValueError`` without a ``direct_key``;
        ``Conflict("id")`` if ``conversation.id`` is taken by another
        conversation."""
        key = conversation.direct_key
        if key is None:
            raise ValueError("get_or_create_direct needs a direct_key")

        def job(conn: sqlite3.Connection) -> tuple[ConversationRecord, bool]:
            try:
                created = _insert_conversation(
                    conn,
                    conversation,
                    "ON CONFLICT (direct_key) WHERE direct_key IS NOT NULL DO NOTHING",
                )
            except sqlite3.IntegrityError as exc:
                conflict = _conflict(exc)
                if conflict is None:
                    raise
                raise conflict from exc
            row = conn.execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE direct_key = ?", (key,)
            ).fetchone()
            stored = _conversation(row)
            if (
                created
                or not conn.execute(
                    "SELECT 1 FROM members WHERE conversation_id = ? LIMIT 1", (stored.id,)
                ).fetchone()
            ):
                _insert_members(
                    conn, [msgspec.structs.replace(m, conversation_id=stored.id) for m in members]
                )
            return stored, bool(created)

        return await self._db.write(job)

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        def job(conn: sqlite3.Connection) -> ConversationRecord | None:
            row = conn.execute(
                f"SELECT {_CONVERSATION_COLUMNS} FROM conversations WHERE id = ?",
                (conversation_id,),
            ).fetchone()
            return _conversation(row) if row is not None else None

        return await self._db.read(job)

    async def members(self, conversation_id: str) -> list[MemberRecord]:
        """Current members, ordered by ``joined_at`` then user id."""

        def job(conn: sqlite3.Connection) -> list[MemberRecord]:
            rows = conn.execute(
                f"SELECT {_MEMBER_COLUMNS} FROM members WHERE conversation_id = ?"
                " ORDER BY joined_at, user_id",
                (conversation_id,),
            ).fetchall()
            return [_member(row) for row in rows]

        return await self._db.read(job)

    async def get_member(self, conversation_id: str, user_id: str) -> MemberRecord | None:
        def job(conn: sqlite3.Connection) -> MemberRecord | None:
            row = conn.execute(
                f"SELECT {_MEMBER_COLUMNS} FROM members WHERE conversation_id = ? AND user_id = ?",
                (conversation_id, user_id),
            ).fetchone()
            return _member(row) if row is not None else None

        return await self._db.read(job)

    async def add_members(self, members: list[MemberRecord]) -> None:
        """Insert members; those already present keep their role, ``joined_at``
        and ``read_seq``."""
        if not members:
            return
        await self._db.write(lambda conn: _insert_members(conn, members))

    async def remove_member(self, conversation_id: str, user_id: str) -> bool:
        """``True`` if the user was a member."""

        def job(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "DELETE FROM members WHERE conversation_id = ? AND user_id = ?",
                (conversation_id, user_id),
            )
            return cursor.rowcount > 0

        return await self._db.write(job)

    async def set_title(self, conversation_id: str, title: str) -> None:
        """Set the title; no-op for an unknown conversation."""

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id)
            )

        await self._db.write(job)

    async def list_for_user(
        self, user_id: str, *, before: tuple[float, str] | None, limit: int
    ) -> list[tuple[ConversationRecord, MemberRecord]]:
        """The user's conversations ordered by ``(last_activity_at, id)``
        descending, strictly after the ``before`` cursor; at most ``limit``.
        Served by ``members_user_id`` then a sort of the user's conversations."""
        if limit <= 0:
            return []
        where, args = "m.user_id = :user", {"user": user_id, "limit": limit}
        if before is not None:
            where += " AND (c.last_activity_at < :at OR (c.last_activity_at = :at AND c.id < :id))"
            args.update(at=before[0], id=before[1])

        def job(conn: sqlite3.Connection) -> list[tuple[ConversationRecord, MemberRecord]]:
            rows = conn.execute(
                f"SELECT {_prefixed(_CONVERSATION_COLUMNS, 'c')},"
                " m.user_id, m.role, m.joined_at, m.read_seq"
                " FROM members AS m JOIN conversations AS c ON c.id = m.conversation_id"
                f" WHERE {where} ORDER BY c.last_activity_at DESC, c.id DESC LIMIT :limit",
                args,
            ).fetchall()
            return [_conversation_and_member(row) for row in rows]

        return await self._db.read(job)

    async def changed_since(
        self, user_id: str, since: float, limit: int
    ) -> list[tuple[ConversationRecord, MemberRecord]]:
        """The user's conversations with ``last_activity_at >= since`` ordered
        by ``(last_activity_at, id)`` ascending; at most ``limit``."""
        if limit <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[tuple[ConversationRecord, MemberRecord]]:
            rows = conn.execute(
                f"SELECT {_prefixed(_CONVERSATION_COLUMNS, 'c')},"
                " m.user_id, m.role, m.joined_at, m.read_seq"
                " FROM members AS m JOIN conversations AS c ON c.id = m.conversation_id"
                " WHERE m.user_id = ? AND c.last_activity_at >= ?"
                " ORDER BY c.last_activity_at, c.id LIMIT ?",
                (user_id, since, limit),
            ).fetchall()
            return [_conversation_and_member(row) for row in rows]

        return await self._db.read(job)


#: The message log's hot reads, named so that a test can check they stay
#: served by the primary key ``(conversation_id, seq)`` or the client-key index.
LAST_SEQ_SQL: Final = "SELECT seq FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT 1"
HISTORY_SQL: Final = (
    f"SELECT {_MESSAGE_COLUMNS} FROM messages"
    " WHERE conversation_id = ? AND seq < ? AND kind = 'message' ORDER BY seq DESC LIMIT ?"
)
SINCE_SQL: Final = (
    f"SELECT {_MESSAGE_COLUMNS} FROM messages"
    " WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?"
)
UNREAD_SQL: Final = (
    "SELECT count(*) FROM messages WHERE conversation_id = ? AND seq > ?"
    " AND kind = 'message' AND deleted = 0 AND sender_id != ?"
)
CLIENT_KEY_SQL: Final = (
    f"SELECT {_MESSAGE_COLUMNS} FROM messages"
    " WHERE conversation_id = ? AND sender_id = ? AND client_key = ?"
)


def _message_conflict(exc: sqlite3.IntegrityError) -> Conflict | None:
    """``Conflict("client_key")`` or ``Conflict("seq")`` for a unique violation
    on ``messages``; ``None`` for any other integrity error."""
    columns = _unique_columns(exc)
    if "messages.client_key" in columns:
        return Conflict("client_key")
    if "messages.seq" in columns:
        return Conflict("seq")
    return None


class SqliteMessageStore:
    """:class:`actors.store.MessageStore` on ``messages`` (plus ``members`` and
    ``conversations`` for what a batch updates there)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def append(
        self,
        conversation_id: str,
        entries: list[MessageRecord],
        reads: dict[str, int],
        summary: ConversationSummaryUpdate | None,
    ) -> None:
        """The whole batch is ONE write job, so it shares the group-commit
        transaction with other callers' jobs and is all-or-nothing inside its
        savepoint: a uniqueness violation raises ``Conflict("seq")`` or
        ``Conflict("client_key")`` and leaves no trace of the batch.

        In order: insert ``entries``; for each edit (in batch order) set the
        target message's ``text`` and ``edited_at`` (the edit's ``created_at``),
        for each delete mark the target deleted and clear its text and media;
        only rows of kind ``message`` in this conversation are targets, and an
        edit leaves a deleted message as it is. Then ``read_seq =
        max(read_seq, value)`` for the members in ``reads`` (non-members are
        ignored), and the summary: ``last_seq = max(last_seq, summary.last_seq)``,
        ``last_activity_at``, and preview and sender only when
        ``summary.last_preview`` is not ``None``. ``ValueError`` if an entry
        belongs to another conversation."""
        for entry in entries:
            if entry.conversation_id != conversation_id:
                raise ValueError(f"entry {entry.seq} belongs to {entry.conversation_id!r}")
        rows = [
            (
                e.conversation_id,
                e.seq,
                e.id,
                e.kind,
                e.sender_id,
                e.client_key,
                e.text,
                e.media_url,
                e.created_at,
                e.edited_at,
                int(e.deleted),
                e.target_seq,
            )
            for e in entries
        ]

        def job(conn: sqlite3.Connection) -> None:
            try:
                conn.executemany(
                    f"INSERT INTO messages ({_MESSAGE_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            except sqlite3.IntegrityError as exc:
                conflict = _message_conflict(exc)
                if conflict is None:
                    raise
                raise conflict from exc
            for entry in entries:
                if entry.target_seq is None:
                    continue
                if entry.kind == "edit":
                    conn.execute(
                        "UPDATE messages SET text = ?, edited_at = ?"
                        " WHERE conversation_id = ? AND seq = ? AND kind = 'message'"
                        " AND deleted = 0",
                        (entry.text, entry.created_at, conversation_id, entry.target_seq),
                    )
                elif entry.kind == "delete":
                    conn.execute(
                        "UPDATE messages SET deleted = 1, text = '', media_url = ''"
                        " WHERE conversation_id = ? AND seq = ? AND kind = 'message'",
                        (conversation_id, entry.target_seq),
                    )
            conn.executemany(
                "UPDATE members SET read_seq = ?"
                " WHERE conversation_id = ? AND user_id = ? AND read_seq < ?",
                [(seq, conversation_id, user_id, seq) for user_id, seq in reads.items()],
            )
            if summary is None:
                return
            if summary.last_preview is None:
                conn.execute(
                    "UPDATE conversations SET last_seq = max(last_seq, ?), last_activity_at = ?"
                    " WHERE id = ?",
                    (summary.last_seq, summary.last_activity_at, conversation_id),
                )
            else:
                conn.execute(
                    "UPDATE conversations SET last_seq = max(last_seq, ?), last_activity_at = ?,"
                    " last_preview = ?, last_sender_id = ? WHERE id = ?",
                    (
                        summary.last_seq,
                        summary.last_activity_at,
                        summary.last_preview,
                        summary.last_sender_id,
                        conversation_id,
                    ),
                )

        await self._db.write(job)

    async def last_seq(self, conversation_id: str) -> int:
        """The highest ``seq`` of the log, 0 when empty (one primary-key seek)."""

        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute(LAST_SEQ_SQL, (conversation_id,)).fetchone()
            return int(row[0]) if row is not None else 0

        return await self._db.read(job)

    async def get(self, conversation_id: str, seq: int) -> MessageRecord | None:
        """The log entry at ``seq``, of any kind."""

        def job(conn: sqlite3.Connection) -> MessageRecord | None:
            row = conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND seq = ?",
                (conversation_id, seq),
            ).fetchone()
            return _message(row) if row is not None else None

        return await self._db.read(job)

    async def get_by_client_key(
        self, conversation_id: str, sender_id: str, client_key: str
    ) -> MessageRecord | None:
        def job(conn: sqlite3.Connection) -> MessageRecord | None:
            row = conn.execute(CLIENT_KEY_SQL, (conversation_id, sender_id, client_key)).fetchone()
            return _message(row) if row is not None else None

        return await self._db.read(job)

    async def history(
        self, conversation_id: str, *, before_seq: int | None, limit: int
    ) -> list[MessageRecord]:
        """Entries of kind ``message`` with ``seq < before_seq`` (all when
        ``None``), newest first, at most ``limit``: a backward scan of the
        primary key."""
        if limit <= 0:
            return []
        bound = before_seq if before_seq is not None else 2**63 - 1

        def job(conn: sqlite3.Connection) -> list[MessageRecord]:
            rows = conn.execute(HISTORY_SQL, (conversation_id, bound, limit)).fetchall()
            return [_message(row) for row in rows]

        return await self._db.read(job)

    async def since(self, conversation_id: str, after_seq: int, limit: int) -> list[MessageRecord]:
        """Entries of every kind with ``seq > after_seq``, oldest first, at most ``limit``."""
        if limit <= 0:
            return []

        def job(conn: sqlite3.Connection) -> list[MessageRecord]:
            rows = conn.execute(SINCE_SQL, (conversation_id, after_seq, limit)).fetchall()
            return [_message(row) for row in rows]

        return await self._db.read(job)

    async def unread_count(self, conversation_id: str, user_id: str, read_seq: int) -> int:
        """Entries of kind ``message``, not deleted, with ``seq > read_seq`` and
        a sender other than ``user_id`` (a primary-key range scan)."""

        def job(conn: sqlite3.Connection) -> int:
            row = conn.execute(UNREAD_SQL, (conversation_id, read_seq, user_id)).fetchone()
            return int(row[0])

        return await self._db.read(job)


class SqliteBlockStore:
    """:class:`actors.store.BlockStore` on ``blocks``."""

    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def block(self, user_id: str, blocked_id: str, at: float) -> None:
        """Record the block; blocking again keeps the first ``at``."""

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "INSERT INTO blocks (user_id, blocked_id, created_at) VALUES (?, ?, ?)"
                " ON CONFLICT (user_id, blocked_id) DO NOTHING",
                (user_id, blocked_id, at),
            )

        await self._db.write(job)

    async def unblock(self, user_id: str, blocked_id: str) -> None:
        """Remove the block; no-op if there is none."""

        def job(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM blocks WHERE user_id = ? AND blocked_id = ?", (user_id, blocked_id)
            )

        await self._db.write(job)

    async def is_blocked(self, user_id: str, blocked_id: str) -> bool:
        def job(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM blocks WHERE user_id = ? AND blocked_id = ?", (user_id, blocked_id)
            ).fetchone()
            return row is not None

        return await self._db.read(job)


class SqliteStore:
    """:class:`actors.store.Store` on one SQLite file.

    ``db`` is the shared :class:`SqliteDatabase`; later aggregates run their
    own jobs through it so that all writes share the group commit.
    """

    users: UserStore
    auth_sessions: AuthSessionStore
    conversations: ConversationStore
    messages: MessageStore
    blocks: BlockStore

    def __init__(
        self,
        path: pathlib.Path,
        *,
        readers: int = DEFAULT_READERS,
        max_batch: int = DEFAULT_MAX_BATCH,
        busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS,
    ) -> None:
        """Options as for :class:`SqliteDatabase`; nothing is touched until :meth:`open`."""
        self.db = SqliteDatabase(
            path, readers=readers, max_batch=max_batch, busy_timeout_ms=busy_timeout_ms
        )
        self.users = SqliteUserStore(self.db)
        self.auth_sessions = SqliteAuthSessionStore(self.db)
        self.conversations = SqliteConversationStore(self.db)
        self.messages = SqliteMessageStore(self.db)
        self.blocks = SqliteBlockStore(self.db)

    async def open(self) -> None:
        """Create the file, schema and indexes if needed; start the threads.
        Idempotent."""
        await self.db.open()

    async def close(self) -> None:
        """Finish queued jobs, stop and join the threads. Idempotent."""
        await self.db.close()

    async def ping(self) -> bool:
        """``True`` if a reader thread answers a trivial query."""
        if not self.db.is_open:
            return False

        def job(conn: sqlite3.Connection) -> bool:
            return bool(conn.execute("SELECT 1").fetchone()[0] == 1)

        try:
            return await self.db.read(job)
        except (sqlite3.Error, StoreError):
            return False
