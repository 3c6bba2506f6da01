"""``grover db check`` and ``grover db stats``: the query plans of every
statement the store runs, and the database's sizes and index use.

The work is in :mod:`server.storage.sqlite.plans` (SQLite),
:mod:`server.storage.mongo.plans` (MongoDB, ``check`` only) and
:mod:`server.storage.workload` (what runs); this module parses the flags
and prints. Exit codes: 0 fine, 1 a full scan (or a workload call failed),
2 not available: the MongoDB server cannot be reached or refuses
``explain``, or ``stats`` on MongoDB (:data:`MONGO_STATS_NOT_AVAILABLE`).
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import sqlite3
import sys
from typing import TextIO

from pymongo.errors import PyMongoError

from actors.store import StoreError
from server import config
from server.config import Settings
from server.storage import SQLITE_FILE_NAME
from server.storage.mongo.plans import MongoCheckReport, MongoUnavailable, check_mongo
from server.storage.sqlite.plans import CheckReport, check_database

__all__ = ["add_commands", "run"]

DEFAULT_ROWS = 2000
"""Rows per table seeded when there is no database to copy."""

#: ``db stats`` reads SQLite's files and ``dbstat``; MongoDB has no such
#: report here, and says so rather than print something else.
MONGO_STATS_NOT_AVAILABLE = (
    "grover db stats: not available on the MongoDB backend (only `grover db check` "
    "is). Nothing was read."
)


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``db check`` and ``db stats`` to the ``grover`` parser."""
    db = commands.add_parser("db", help="query plans (check) and sizes and index use (stats)")
    actions = db.add_subparsers(dest="db_command", required=True)
    check = actions.add_parser(
        "check",
        help="print the plan of every query the store runs; exit 1 on a full table scan",
    )
    stats = actions.add_parser("stats", help="rows, sizes and index use per table")
    for parser in (check, stats):
        config.add_arguments(parser)
        parser.add_argument(
            "--rows",
            type=int,
            default=DEFAULT_ROWS,
            help=f"rows per table to seed when there is no database (default: {DEFAULT_ROWS})",
        )


def run(settings: Settings, args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Run ``grover db <command>``, printing to ``out`` (stdout); the exit code."""
    out = out or sys.stdout  # looked up now, not at import (tests swap it)
    if settings.mongo_url:
        return _run_mongo(settings.mongo_url, settings.mongo_db, args, out)
    path = settings.data_dir / SQLITE_FILE_NAME
    try:
        report = asyncio.run(check_database(path, rows=max(int(args.rows), 2)))
    except (sqlite3.Error, StoreError) as exc:  # not a database, or a newer schema
        print(f"grover db: cannot check {path}: {exc}", file=sys.stderr)
        return 1
    if args.db_command == "stats":
        print_stats(report, path, out)
        return 0
    print_check(report, path, out)
    return 0 if report.ok else 1


def _run_mongo(url: str, db_name: str, args: argparse.Namespace, out: TextIO) -> int:
    if args.db_command == "stats":
        print(MONGO_STATS_NOT_AVAILABLE, file=sys.stderr)
        return 2
    try:
        report = asyncio.run(check_mongo(url, db_name, rows=int(args.rows)))
    except MongoUnavailable as exc:
        print(f"grover db: {exc}. Nothing was checked.", file=sys.stderr)
        return 2
    except PyMongoError as exc:  # a bad URL, lost server, no right to write the scratch db
        print(f"grover db: the MongoDB check could not finish: {exc!r}", file=sys.stderr)
        return 2
    print_mongo_check(report, db_name, out)
    return 0 if report.ok else 1


def print_mongo_check(report: MongoCheckReport, db_name: str, out: TextIO) -> None:
    ports = {port for s in report.shapes for port in s.ports}
    print(
        f"Query plans (explain, queryPlanner) on the scratch database {report.database}, "
        f"seeded with about {report.seeded} documents per collection and dropped "
        f"({db_name} itself is not touched):",
        file=out,
    )
    print(f"{len(report.shapes)} command shapes sent by {len(ports)} port methods.\n", file=out)
    for shape in report.shapes:
        print(f"[{', '.join(shape.ports)}] sent {shape.runs}x", file=out)
        print(f"  {shape.shape}", file=out)
        for line in shape.plan:
            print(f"    {line}", file=out)
        if shape.error:
            print(f"    !! {shape.error}", file=out)
        if shape.scan and shape.allowed is not None:
            print(f"    (COLLSCAN of {shape.collection} allowed: {shape.allowed})", file=out)
        elif shape.scan and shape.tiny:
            print(
                f"    (COLLSCAN of {shape.collection} passed: tiny, {shape.documents} documents)",
                file=out,
            )
        elif shape.failing:
            print(f"    !! COLLSCAN of {shape.collection}", file=out)
        print(file=out)
    for key, exc in report.failures:
        print(f"!! workload call {key} failed: {exc!r}", file=out)
    scans = report.collection_scans
    for shape in scans:
        print(f"COLLSCAN by {', '.join(shape.ports)}: {shape.shape}", file=out)
    errors = [s for s in report.shapes if s.error]
    if report.ok:
        print("OK: no query scans a whole collection.", file=out)
    else:
        print(
            f"FAILED: {len(scans)} collection scans, {len(report.failures)} failed workload "
            f"calls, {len(errors)} commands that could not be explained.",
            file=out,
        )


def _source(report: CheckReport, path: pathlib.Path) -> str:
    if report.seeded is None:
        return f"a scratch copy of {path} (the file itself is only read)"
    return f"a fresh database seeded with about {report.seeded} rows per table ({path} not found)"


def print_check(report: CheckReport, path: pathlib.Path, out: TextIO) -> None:
    ports = {port for s in report.statements for port in s.ports}
    print(f"Query plans on {_source(report, path)}:", file=out)
    print(f"{len(report.statements)} statements run by {len(ports)} port methods.\n", file=out)
    for statement in report.statements:
        print(f"[{', '.join(statement.ports)}] traced {statement.runs}x", file=out)
        print(f"  {statement.sql}", file=out)
        for line in statement.plan:
            print(f"    {line}", file=out)
        if statement.error:
            print(f"    !! {statement.error}", file=out)
        for table, reason in statement.allowed.items():
            print(f"    (full scan of {table} allowed: {reason})", file=out)
        for table in statement.failing_scans:
            print(f"    !! FULL SCAN of {table}", file=out)
        print(file=out)
    for key, exc in report.failures:
        print(f"!! workload call {key} failed: {exc!r}", file=out)
    scans = report.full_scans
    for statement in scans:
        print(
            f"FULL SCAN of {', '.join(statement.failing_scans)} by "
            f"{', '.join(statement.ports)}: {statement.sql}",
            file=out,
        )
    errors = [s for s in report.statements if s.error]
    if report.ok:
        print("OK: no query scans a whole table.", file=out)
    else:
        print(
            f"FAILED: {len(scans)} full scans, {len(report.failures)} failed workload calls, "
            f"{len(errors)} statements that could not be explained.",
            file=out,
        )


def _size(value: int | None) -> str:
    if value is None:
        return "n/a"
    size = float(value)
    for unit in ("B", "KiB", "MiB"):
        if size < 1024:
            return f"{size:.0f} B" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def print_stats(report: CheckReport, path: pathlib.Path, out: TextIO) -> None:
    used = report.used_indexes
    print(f"Database: {path}", file=out)
    for suffix in ("", "-wal", "-shm"):
        file = path.with_name(path.name + suffix)
        size = file.stat().st_size if file.exists() else None
        print(f"  {file.name}: {'absent' if size is None else _size(size)}", file=out)
    count, size = report.pages
    print(f"  {count} pages of {size} B: {_size(count * size)}", file=out)
    if report.table_stats and report.table_stats[0].size is None:
        print("  (per-table sizes need SQLite's dbstat table, not compiled in here)", file=out)
    print(f"Tables (of {_source(report, path)}):", file=out)
    for table in report.table_stats:
        print(f"  {table.name}: {table.rows} rows, {_size(table.size)}", file=out)
        for index, size in table.indexes.items():
            mark = "used" if index in used else "UNUSED by the checked queries"
            print(f"    index {index}: {_size(size)}, {mark}", file=out)
    unused = sorted(set(report.indexes) - used)
    print(f"Indexes no checked query plan uses ({len(unused)}):", file=out)
    for index in unused:
        print(f"  {index} (on {report.indexes[index]})", file=out)
    print(
        "(Unique indexes may be unused by plans and still needed: they enforce uniqueness.)",
        file=out,
    )
