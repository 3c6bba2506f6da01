"""Query plans of every statement the SQLite store runs (``grover db check``)
and the database's sizes and index use (``grover db stats``).

How: the configured database is copied with SQLite's backup API into a
temporary file (read through a ``mode=ro`` connection: the user's file is
never written), or, when there is none, a temporary database is seeded
through the ports (:func:`server.storage.workload.seed`). A
:class:`~server.storage.sqlite.SqliteStore` over the copy gets a trace
callback on each of its connections (the writer and every reader), and the
workload of :mod:`server.storage.workload` calls every port method. Each
traced statement is normalised (literals, i.e. the bound parameters, back to
``?``), deduplicated, and ``EXPLAIN QUERY PLAN``-ed.

Which text is explained: ``set_trace_callback`` hands over the *expanded*
SQL (parameters inlined as literals), and a literal cannot be told from a
parameter there, so the first concrete statement of each normalised one is
explained. Literals written in the code matter to the planner (partial
indexes such as ``WHERE read = 0`` are usable only then), and bound values
almost never do without ``SQLITE_ENABLE_STAT4``; explaining the ``?`` form
would report partial-index queries as scans that production does not make.

``ANALYZE`` is not run on the copy: Grover never runs it, so production's
planner works from the schema alone, and that is the plan to check. A
database that has ``sqlite_stat1`` (someone ran ``ANALYZE``) keeps it in
the copy, and is checked as it is. The seed's size (``--rows``) therefore
matters little to the plans; it is there so that reads return rows and
writes take their "found" branches.

A *full scan* is a plan step ``SCAN <table>`` with no index on a real
table (not a virtual table, CTE or subquery). Each is a failure unless
:data:`ALLOWED` names its port method and table with a reason.
"""

from __future__ import annotations

import pathlib
import re
import sqlite3
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from server.storage.sqlite import SqliteStore
from server.storage.workload import World, run, seed

__all__ = [
    "ALLOWED",
    "CheckReport",
    "Statement",
    "TableStats",
    "check_database",
    "full_scans",
    "normalise",
    "scratch_copy",
]

#: Deliberate full scans: ``(port method, table)`` → why it is fine. Keep
#: each reason honest; a new entry needs one. Empty: on the schema at
#: version 10 no statement of any port scans a real table without an index
#: (each sweep has its partial index: ``orders_expiring``, ``payouts_open``,
#: ``payment_events_unapplied``, ``media_unattached``...). The migrations'
#: bookkeeping (``schema_version``) runs before tracing starts, and FTS5's own
#: statements on its shadow tables are left out (:data:`_FTS_INTERNAL`).
#: Triggers' statements are not explained: the trace only names them.
ALLOWED: Final[dict[tuple[str, str], str]] = {}

#: Statements worth a plan; transaction control, PRAGMAs and the "-- TRIGGER"
#: notes of the trace are not.
_QUERY_START = re.compile(r"^\s*(SELECT|INSERT|UPDATE|DELETE|WITH|REPLACE)\b", re.IGNORECASE)
_TOKEN = re.compile(
    r"""(?P<str>'(?:[^']|'')*')"""
    r"""|(?P<blob>[xX]'[0-9a-fA-F]*')"""
    r"""|(?P<ident>"(?:[^"]|"")*"|[A-Za-z_][A-Za-z_0-9$]*)"""
    r"""|(?P<num>\b\d+(?:\.\d*)?(?:[eE][-+]?\d+)?)"""
)
#: FTS5's own statements on its shadow tables (``'main'.'posts_fts_config'``),
#: which the trace reports too: SQLite's, keyed by rowid, not ours to index.
_FTS_INTERNAL = re.compile(r"'\w+'\.'\w+_(?:config|data|idx|docsize|content)'")
_IN_LIST = re.compile(r"\bIN\s*\(\s*\?(?:\s*,\s*\?)*\s*\)", re.IGNORECASE)
_REPEATED_ROWS = re.compile(r"(\([^()]*\))(?:\s*,\s*\1)+")
_BARE_SCAN = re.compile(r"^SCAN (?:\w+\.)?(\S+)$")
_USES_INDEX = re.compile(r"USING (?:COVERING )?INDEX (\S+)")
_SOURCE = re.compile(
    r"\b(?:FROM|JOIN|UPDATE|INTO)\s+(\"?\w+\"?)(?:\s+(?:AS\s+)?(\w+))?", re.IGNORECASE
)
_NOT_ALIASES = frozenset(
    [
        "where",
        "join",
        "on",
        "using",
        "order",
        "group",
        "limit",
        "set",
        "left",
        "inner",
        "cross",
        "natural",
        "indexed",
        "not",
        "values",
        "select",
        "default",
        "as",
        "union",
        "except",
        "intersect",
        "having",
        "window",
        "returning",
    ]
)


def normalise(sql: str) -> str:
    """``sql`` with every literal as ``?``, ``IN`` lists and repeated
    ``VALUES`` rows folded, and whitespace collapsed: the statement's shape."""

    def token(match: re.Match[str]) -> str:
        return match.group() if match.lastgroup == "ident" else "?"

    shaped = " ".join(_TOKEN.sub(token, sql).split())
    shaped = _IN_LIST.sub("IN (?…)", shaped)
    return _REPEATED_ROWS.sub(r"\1, …", shaped)


def _aliases(sql: str) -> dict[str, str]:
    """Alias (or name) → table name, for reading ``SCAN <alias>`` plan steps."""
    found: dict[str, str] = {}
    for match in _SOURCE.finditer(sql):
        name = match.group(1).strip('"')
        found[name] = name
        alias = match.group(2)
        if alias and alias.lower() not in _NOT_ALIASES:
            found[alias] = name
    return found


def full_scans(plan: list[str], sql: str, tables: set[str]) -> list[str]:
    """The tables that ``plan`` (its detail lines) reads whole, without an
    index: bare ``SCAN x`` steps whose ``x`` is, or aliases, a real table."""
    aliases = _aliases(sql)
    scanned: list[str] = []
    for step in plan:
        match = _BARE_SCAN.match(step.strip())
        if match is None:
            continue
        table = aliases.get(match.group(1), match.group(1))
        if table in tables and table not in scanned:
            scanned.append(table)
    return scanned


def indexes_used(plan: list[str]) -> set[str]:
    return {m.group(1) for step in plan for m in _USES_INDEX.finditer(step)}


def scratch_copy(source: pathlib.Path, target: pathlib.Path) -> None:
    """Copy the database at ``source`` (with what its WAL holds) into
    ``target`` through the backup API, reading ``source`` read-only."""
    reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True)
    try:
        writer = sqlite3.connect(target)
        try:
            reader.backup(writer)
        finally:
            writer.close()
    finally:
        reader.close()


@dataclass
class Statement:
    """One statement shape: the port methods that ran it and its plan."""

    sql: str
    example: str
    ports: list[str] = field(default_factory=list)
    runs: int = 0
    plan: list[str] = field(default_factory=list)
    scans: list[str] = field(default_factory=list)
    allowed: dict[str, str] = field(default_factory=dict)
    error: str | None = None

    @property
    def failing_scans(self) -> list[str]:
        return [table for table in self.scans if table not in self.allowed]


@dataclass
class TableStats:
    """One table: its rows, its bytes (``None`` without ``dbstat``) and its
    indexes with theirs."""

    name: str
    rows: int
    size: int | None
    indexes: dict[str, int | None]


def table_stats(conn: sqlite3.Connection) -> list[TableStats]:
    """Rows and sizes of every table of ``conn``'s main database. Sizes come
    from the ``dbstat`` virtual table when SQLite was built with it (the
    bytes of every page of each b-tree), else they are ``None``."""
    try:
        sizes: dict[str, int] | None = {
            str(name): int(size)
            for name, size in conn.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name")
        }
    except sqlite3.Error:  # not compiled in
        sizes = None
    names = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table'"
            " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name"
        )
    ]
    found: list[TableStats] = []
    for name in names:
        count = int(conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0])
        indexes = {
            str(index): None if sizes is None else sizes.get(str(index), 0)
            for (index,) in conn.execute(
                "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?"
                " ORDER BY name",
                (name,),
            )
        }
        size = None if sizes is None else sizes.get(name, 0)
        found.append(TableStats(name, count, size, indexes))
    return found


@dataclass
class CheckReport:
    statements: list[Statement]
    failures: list[tuple[str, Exception]]
    seeded: int | None
    """Rows seeded into a fresh database; ``None``: a copy of the user's."""
    indexes: dict[str, str]
    """Every index of the checked database → its table."""
    tables: set[str]
    table_stats: list[TableStats]
    """Of the checked database before the workload ran (a copy: the user's)."""
    pages: tuple[int, int]
    """Its ``(page_count, page_size)``: the size when ``dbstat`` is missing."""

    @property
    def full_scans(self) -> list[Statement]:
        return [s for s in self.statements if s.failing_scans]

    @property
    def used_indexes(self) -> set[str]:
        return {name for s in self.statements for name in indexes_used(s.plan)}

    @property
    def ok(self) -> bool:
        return (
            not self.full_scans and not self.failures and not any(s.error for s in self.statements)
        )


class _Tracer:
    """Collects the statements of a store's connections, by port method."""

    def __init__(self) -> None:
        self.current = ""  # the workload entry running; "" while not recording
        self._lock = threading.Lock()  # callbacks come from the database threads
        self.seen: dict[str, Statement] = {}

    def __call__(self, sql: str) -> None:
        port = self.current
        if not port or not _QUERY_START.match(sql) or _FTS_INTERNAL.search(sql):
            return
        shape = normalise(sql)
        with self._lock:
            statement = self.seen.get(shape)
            if statement is None:
                statement = self.seen[shape] = Statement(sql=shape, example=sql)
            statement.runs += 1
            if port not in statement.ports:
                statement.ports.append(port)

    def install(self, store: SqliteStore) -> None:
        """Trace every connection ``store`` opens. The engine makes them in
        ``_open_connections`` (after migrating, so the schema's DDL is not
        traced); wrapping that one instance keeps the engine untouched."""
        db = store.db
        opener: Callable[[], tuple[sqlite3.Connection, list[sqlite3.Connection]]]
        opener = db._open_connections

        def traced() -> tuple[sqlite3.Connection, list[sqlite3.Connection]]:
            writer, readers = opener()
            for conn in (writer, *readers):
                conn.set_trace_callback(self)
            return writer, readers

        setattr(db, "_open_connections", traced)  # noqa: B010 - an instance, not the class


def _schema(conn: sqlite3.Connection) -> tuple[set[str], dict[str, str]]:
    rows = conn.execute("SELECT type, name, tbl_name FROM sqlite_schema").fetchall()
    tables = {name for kind, name, _ in rows if kind == "table"}
    indexes = {name: table for kind, name, table in rows if kind == "index"}
    return tables, indexes


def explain(conn: sqlite3.Connection, sql: str) -> list[str]:
    """The detail lines of ``EXPLAIN QUERY PLAN sql``, indented by depth."""
    rows = conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()
    depth: dict[int, int] = {0: -1}
    lines: list[str] = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + str(detail))
    return lines


async def _trace_workload(path: pathlib.Path, tracer: _Tracer) -> list[tuple[str, Exception]]:
    store = SqliteStore(path)
    tracer.install(store)
    await store.open()
    try:

        def on_entry(key: str) -> None:
            tracer.current = key

        return await run(store, World(), on_entry=on_entry)
    finally:
        tracer.current = ""
        await store.close()


async def _seed(path: pathlib.Path, rows: int) -> None:
    store = SqliteStore(path)
    await store.open()
    try:
        await seed(store, rows)
    finally:
        await store.close()


async def check_database(
    source: pathlib.Path | None,
    *,
    rows: int = 2000,
    prepare: Callable[[sqlite3.Connection], None] | None = None,
) -> CheckReport:
    """Run the workload on a scratch copy of ``source`` (or, if ``None`` or
    missing, on a fresh database seeded with ``rows``) and explain what it
    ran. ``prepare`` may change the scratch database first (tests drop an
    index with it). The scratch files are deleted on return."""
    with tempfile.TemporaryDirectory(prefix="grover-dbcheck-") as tmp:
        scratch = pathlib.Path(tmp) / "scratch.sqlite3"
        seeded: int | None = None
        if source is not None and source.exists():  # noqa: ASYNC240 - one stat, once
            scratch_copy(source, scratch)
        else:
            seeded = rows
            await _seed(scratch, rows)
        if prepare is not None:
            conn = sqlite3.connect(scratch, isolation_level=None)
            try:
                prepare(conn)
            finally:
                conn.close()
        conn = sqlite3.connect(f"{scratch.as_uri()}?mode=ro", uri=True)
        try:
            before = table_stats(conn)
            pages = (
                int(conn.execute("PRAGMA page_count").fetchone()[0]),
                int(conn.execute("PRAGMA page_size").fetchone()[0]),
            )
        finally:
            conn.close()
        tracer = _Tracer()
        failures = await _trace_workload(scratch, tracer)
        conn = sqlite3.connect(f"{scratch.as_uri()}?mode=ro", uri=True)
        try:
            tables, indexes = _schema(conn)
            statements = sorted(tracer.seen.values(), key=lambda s: (s.ports[0], s.sql))
            for statement in statements:
                try:
                    statement.plan = explain(conn, statement.example)
                except sqlite3.Error as exc:
                    statement.error = f"EXPLAIN failed: {exc}"
                    continue
                statement.scans = full_scans(statement.plan, statement.example, tables)
                for table in statement.scans:
                    # Allowed only if every port method that runs it is.
                    reasons = {ALLOWED.get((port, table)) for port in statement.ports}
                    if None not in reasons:
                        statement.allowed[table] = "; ".join(sorted(r for r in reasons if r))
        finally:
            conn.close()
    return CheckReport(statements, failures, seeded, indexes, tables, before, pages)
