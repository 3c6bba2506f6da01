"""The SQLite engine: one file, one writer thread with group commit, a pool of
reader threads.

:class:`SqliteDatabase` knows nothing about users or messages: it runs *jobs*
(plain functions of a ``sqlite3.Connection``) either on the single writer
thread, with **group commit**, or on a small pool of reader threads. The
stores (``accounts.py``, ``messaging.py``, ``social.py``, ``posts.py``)
implement the ports with SQL run through those jobs; a port method that
writes several rows does it in ONE write job, so it commits with its group
or leaves nothing.

Durability: the file is in WAL mode with ``synchronous=FULL``, so a write whose
:meth:`SqliteDatabase.write` has returned is on disk (the WAL is fsynced at
every commit) and survives a crash of the process or the machine.
"""

from __future__ import annotations

import asyncio
import logging
import pathlib
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final, Generic, TypeVar

from actors.store import StoreError
from server.observability.instruments import SIZE_BUCKETS, Hist
from server.storage.sqlite.migrations import SCHEMA_VERSION, migrate

__all__ = ["SqliteDatabase", "WriteStats"]

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Largest number of jobs committed in one transaction. Bounds how long one
#: transaction holds the write lock and how much work one failure can undo.
DEFAULT_MAX_BATCH: Final = 512
DEFAULT_READERS: Final = 4
#: The writer's page cache (negative: KiB), against SQLite's 2 MiB default: a
#: batch of a chat load touches a leaf page per conversation, and the default
#: cache re-read them from the OS at every batch.
WRITER_CACHE_KIB: Final = -65536
#: WAL pages before a commit checkpoints them into the database (SQLite's
#: default is 1000, ~4 MiB): the same hot pages are written by batch after
#: batch, and a checkpoint copies each once however often it changed, so
#: rarer checkpoints copy less. The WAL file grows to ~40 MiB between them.
#: Together with the cache, the writer thread's CPU on the direct chat bench
#: went from 29% to 23% of the core (bench/README.md, experiments).
WAL_CHECKPOINT_PAGES: Final = 10_000
#: How long a connection waits for another process's lock before SQLITE_BUSY.
DEFAULT_BUSY_TIMEOUT_MS: Final = 5000


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
        else:
            conn.execute(f"PRAGMA cache_size = {WRITER_CACHE_KIB}")
            conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_CHECKPOINT_PAGES}")
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
        self.batch_sizes = Hist(SIZE_BUCKETS)
        """Jobs per transaction (metrics)."""
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
            before = migrate(writer)
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
        self.batch_sizes.observe(len(batch))
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
