"""Query plans of every read the MongoDB store sends (``grover db check`` on
``GROVER_MONGO_URL``).

How: a **scratch database** on the configured server (``<db>_dbcheck_<hex>``,
never the user's database, dropped at the end) is seeded through the ports
(:func:`server.storage.workload.seed`, as the SQLite path seeds), then a
:class:`~server.storage.mongo.MongoStore` whose client carries a
:class:`pymongo.monitoring.CommandListener` runs the workload of
:mod:`server.storage.workload`. Every command that selects documents
(:data:`CAPTURED`) is cut down to its *shape* (collection, command, the
filter's keys and operators with the values replaced, see :func:`normalise`),
deduplicated, and the first concrete command of each shape is explained
(``explain`` with ``verbosity: "queryPlanner"``): the values stay in what is
explained because partial indexes match on them, as SQLite's check explains
its first concrete statement too.

A *collection scan* is a ``COLLSCAN`` stage anywhere in a winning plan (the
shards' too, under ``SHARDING_FILTER`` and ``OR`` wrappers). It fails the
check unless the collection is tiny (fewer than :data:`TINY_DOCUMENTS`
documents after seeding) or :data:`ALLOWED` names its port method and
collection with a reason. ``$text`` and ``$near``/``$geoNear`` have their own
stages (``TEXT_MATCH``, ``GEO_NEAR_2DSPHERE``) and pass.

Tested here only on explain documents written from MongoDB's documented
output: no MongoDB server runs on the development machine, and the in-process
stand-in neither explains nor emits command events.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import bson
from pymongo import AsyncMongoClient
from pymongo.errors import OperationFailure, PyMongoError
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from server.storage.mongo import MongoStore
from server.storage.workload import World, run, seed

__all__ = [
    "ALLOWED",
    "CAPTURED",
    "TINY_DOCUMENTS",
    "CommandRecorder",
    "MongoCheckReport",
    "MongoUnavailable",
    "Shape",
    "check_mongo",
    "classify",
    "normalise",
    "plan_lines",
    "shapes_of",
    "winning_plans",
]

#: Deliberate collection scans: ``(port method, collection)`` → why it is
#: fine, as :data:`server.storage.sqlite.plans.ALLOWED`. A new entry needs an
#: honest reason. Empty: every query is meant to have its index
#: (:mod:`server.storage.mongo.indexes`).
ALLOWED: Final[dict[tuple[str, str], str]] = {}

#: Commands that select documents, hence have a plan. ``count_documents``
#: is an ``aggregate`` on the wire; inserts select nothing.
CAPTURED: Final = frozenset(
    ["find", "aggregate", "count", "distinct", "findAndModify", "update", "delete"]
)

#: A collection with fewer documents than this after seeding is *tiny*: its
#: scan is reported, not failed. The seed puts about ``rows`` documents in
#: most collections, so :func:`check_mongo` seeds at least twice this.
TINY_DOCUMENTS: Final = 100

#: How long to wait for the server before saying it cannot be reached.
CONNECT_TIMEOUT_MS = 5000

#: Fields of a sent command that ``explain`` refuses inside it or that
#: belong to the session, not to the query.
_NOT_EXPLAINED: Final = frozenset(
    [
        "lsid",
        "txnNumber",
        "autocommit",
        "startTransaction",
        "writeConcern",
        "readConcern",
        "apiVersion",
        "apiStrict",
        "apiDeprecationErrors",
    ]
)
#: Keys whose value is a sort order: its directions decide which index
#: serves it, so they are kept as they are.
_ORDER_KEYS: Final = frozenset(["sort", "$sort"])
#: Parts of a command written in the code, not values: kept in the shape.
_VERBATIM_PARTS: Final = frozenset(["key", "sort", "hint"])
#: The parts of each command that decide its plan (the shape's parts).
_PLAN_PARTS: Final[dict[str, tuple[str, ...]]] = {
    "find": ("filter", "sort", "hint"),
    "aggregate": ("pipeline", "hint"),
    "count": ("query", "hint"),
    "distinct": ("key", "query", "hint"),
    "findAndModify": ("query", "sort", "hint"),
    "update": ("q", "hint"),
    "delete": ("q", "hint"),
}
#: Where a plan node keeps the nodes under it (classic and SBE ``queryPlan``,
#: sharded ``shards[].winningPlan``, ``$lookup``'s ``EQ_LOOKUP``).
_CHILDREN: Final = (
    "queryPlan",
    "inputStage",
    "inputStages",
    "innerStage",
    "outerStage",
    "thenStage",
    "elseStage",
    "shards",
    "winningPlan",
)


class MongoUnavailable(Exception):
    """The server cannot be reached or refuses ``explain``: nothing checked."""


# ------------------------------------------------------------------ shapes


def normalise(value: Any) -> Any:
    """``value`` (a filter, a pipeline) with every value replaced by ``"?"``:
    keys, operators (``$in``, ``$gt``...) and sort orders kept. A list of
    plain values becomes ``["?…"]`` whatever its length (an ``$in`` of one
    or of fifty is one shape); a list of documents keeps its order, with
    adjacent repeats folded to one and ``"…"``."""
    if isinstance(value, Mapping):
        return {
            str(key): (dict(item) if isinstance(item, Mapping) else item)
            if key in _ORDER_KEYS
            else normalise(item)
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        shaped = [normalise(item) for item in value]
        if all(not isinstance(item, dict | list) for item in shaped):
            return ["?…"] if shaped else []
        folded: list[Any] = []
        for item in shaped:
            if len(folded) > 1 and folded[-1] == "…" and folded[-2] == item:
                continue
            folded.append("…" if folded and folded[-1] == item else item)
        return folded
    return "?"


def _explainable(command: Mapping[str, Any]) -> dict[str, Any]:
    """``command`` without its session and ``$``-fields, first key kept first."""
    return {
        key: value
        for key, value in command.items()
        if key not in _NOT_EXPLAINED and not key.startswith("$")
    }


def shapes_of(name: str, command: Mapping[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """The shapes of one sent command as ``(collection, shape, explainable
    command)``: one per statement of an ``update``/``delete`` (``explain``
    takes one statement; a ``bulk_write`` sends several), none for a
    command that is not in :data:`CAPTURED` or names no collection."""
    collection = command.get(name)
    if name not in CAPTURED or not isinstance(collection, str):
        return []
    parts = _PLAN_PARTS[name]
    if name in ("update", "delete"):
        field_name = "updates" if name == "update" else "deletes"
        base = _explainable({k: v for k, v in command.items() if k != field_name})
        found = []
        for statement in command.get(field_name, []):
            shape = {part: _part(part, statement[part]) for part in parts if part in statement}
            explained = {**base, field_name: [dict(statement)]}
            found.append((collection, _render(collection, name, shape), explained))
        return found
    shape = {part: _part(part, command[part]) for part in parts if part in command}
    explained = _explainable(command)
    if name == "aggregate":
        explained.setdefault("cursor", {})
    return [(collection, _render(collection, name, shape), explained)]


def _part(name: str, value: Any) -> Any:
    """A plan part in the shape: code's own constants (the distinct field,
    sort orders, a hint) as they are, anything else normalised."""
    if name in _VERBATIM_PARTS:
        return dict(value) if isinstance(value, Mapping) else value
    return normalise(value)


def _render(collection: str, name: str, shape: dict[str, Any]) -> str:
    return f"{collection}.{name} {json.dumps(shape, ensure_ascii=False, default=str)}"


# ------------------------------------------------------------------ plans


def winning_plans(explained: Any) -> list[dict[str, Any]]:
    """Every ``queryPlanner.winningPlan`` in an explain document, wherever
    it sits: at the top (find, update...), under an aggregate's
    ``stages[].$cursor``, or per shard (``shards.<name>``)."""
    found: list[dict[str, Any]] = []

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            planner = node.get("queryPlanner")
            if isinstance(planner, Mapping) and isinstance(planner.get("winningPlan"), Mapping):
                found.append(dict(planner["winningPlan"]))
            for key, value in node.items():
                if key not in ("queryPlanner", "command", "rejectedPlans"):
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(explained)
    return found


def _nodes(plan: Mapping[str, Any], depth: int = 0) -> Iterator[tuple[int, Mapping[str, Any]]]:
    """The stage nodes of a plan tree with their depth; wrappers without a
    ``stage`` (SBE's ``queryPlan`` holder, a shard's entry) add none."""
    has_stage = isinstance(plan.get("stage"), str)
    if has_stage:
        yield depth, plan
    below = depth + 1 if has_stage else depth
    for key in _CHILDREN:
        child = plan.get(key)
        for item in child if isinstance(child, list) else [child]:
            if isinstance(item, Mapping):
                yield from _nodes(item, below)


def plan_lines(explained: Mapping[str, Any]) -> list[str]:
    """The winning plans' stages, one line each, indented by depth, with the
    index each index stage uses."""
    lines: list[str] = []
    for plan in winning_plans(explained):
        for depth, node in _nodes(plan):
            index = node.get("indexName")
            shard = node.get("shardName")
            detail = f" {index}" if index else ""
            detail += f" (shard {shard})" if shard else ""
            lines.append("  " * depth + str(node["stage"]) + detail)
    return lines


def classify(explained: Mapping[str, Any]) -> tuple[set[str], bool]:
    """``(every stage of the winning plans, whether one is a COLLSCAN)``.
    Raises :class:`ValueError` when the document has no winning plan (an
    answer this checker cannot read is not a pass)."""
    plans = winning_plans(explained)
    if not plans:
        raise ValueError("no queryPlanner.winningPlan in the explain output")
    stages = {str(node["stage"]) for plan in plans for _, node in _nodes(plan)}
    return stages, "COLLSCAN" in stages


# ------------------------------------------------------------------ capture


@dataclass
class Shape:
    """One command shape: the port methods that sent it and its plan."""

    collection: str
    shape: str
    example: dict[str, Any]
    ports: list[str] = field(default_factory=list)
    runs: int = 0
    plan: list[str] = field(default_factory=list)
    stages: set[str] = field(default_factory=set)
    scan: bool = False
    documents: int | None = None
    allowed: str | None = None
    error: str | None = None

    @property
    def tiny(self) -> bool:
        return self.documents is not None and self.documents < TINY_DOCUMENTS

    @property
    def failing(self) -> bool:
        return self.scan and not self.tiny and self.allowed is None


class CommandRecorder(CommandListener):
    """Collects the shapes of the commands sent to ``database``, by the
    workload entry running (:attr:`current`; ``""``: not recording)."""

    def __init__(self, database: str) -> None:
        self.database = database
        self.current = ""
        self._lock = threading.Lock()  # events may come from pymongo's threads
        self.seen: dict[str, Shape] = {}

    def started(self, event: CommandStartedEvent) -> None:
        port = self.current
        if not port or event.database_name != self.database or event.command_name not in CAPTURED:
            return
        # A copy through BSON: the event's command may be reused by the driver.
        command = bson.decode(bson.encode(event.command))
        for collection, shape, explained in shapes_of(event.command_name, command):
            with self._lock:
                entry = self.seen.get(shape)
                if entry is None:
                    entry = self.seen[shape] = Shape(collection, shape, explained)
                entry.runs += 1
                if port not in entry.ports:
                    entry.ports.append(port)

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass


def judge(shape: Shape, explained: Mapping[str, Any], documents: int | None) -> None:
    """Fill ``shape``'s plan and verdict from its explain document."""
    shape.documents = documents
    try:
        shape.stages, shape.scan = classify(explained)
    except ValueError as exc:
        shape.error = str(exc)
        return
    shape.plan = plan_lines(explained)
    if shape.scan:
        # Allowed only if every port method that sends it is.
        reasons = {ALLOWED.get((port, shape.collection)) for port in shape.ports}
        if None not in reasons:
            shape.allowed = "; ".join(sorted(r for r in reasons if r))


@dataclass
class MongoCheckReport:
    shapes: list[Shape]
    failures: list[tuple[str, Exception]]
    seeded: int
    database: str
    """The scratch database (dropped by the time the report is read)."""

    @property
    def collection_scans(self) -> list[Shape]:
        return [s for s in self.shapes if s.failing]

    @property
    def ok(self) -> bool:
        return (
            not self.collection_scans
            and not self.failures
            and not any(s.error for s in self.shapes)
        )


# ------------------------------------------------------------------ the run


def scratch_name(db_name: str) -> str:
    """A new database name next to ``db_name`` (MongoDB allows 63 bytes)."""
    return f"{db_name[:40]}_dbcheck_{secrets.token_hex(4)}"


async def _explain(db: Any, command: dict[str, Any]) -> dict[str, Any]:
    reply = await db.command({"explain": command, "verbosity": "queryPlanner"})
    return dict(reply)


async def check_mongo(url: str, db_name: str, *, rows: int = 2000) -> MongoCheckReport:
    """Seed a scratch database next to ``db_name`` on the server at ``url``
    with about ``rows`` documents per collection (at least twice
    :data:`TINY_DOCUMENTS`), run the workload with a recorder on the
    store's client, explain every shape, and drop the scratch database.
    Raises :class:`MongoUnavailable` when the server cannot be reached or
    refuses ``explain``."""
    rows = max(rows, 2 * TINY_DOCUMENTS)
    try:
        admin: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            url, tz_aware=True, serverSelectionTimeoutMS=CONNECT_TIMEOUT_MS
        )
    except (PyMongoError, ValueError) as exc:  # pymongo says ValueError for a bad port
        raise MongoUnavailable(f"cannot use the MongoDB URL: {exc}") from exc
    try:
        try:
            await admin.admin.command("ping")
        except PyMongoError as exc:
            raise MongoUnavailable(f"cannot reach the MongoDB server: {exc}") from exc
        name = scratch_name(db_name)
        assert name != db_name
        try:
            report = await _check(url, admin, name, rows)
        except BaseException:
            # The first error is the one to report; a failed drop must not hide it.
            with contextlib.suppress(PyMongoError):
                await admin.drop_database(name)
            raise
        await admin.drop_database(name)
        return report
    finally:
        await admin.close()


async def _check(
    url: str, admin: AsyncMongoClient[dict[str, Any]], name: str, rows: int
) -> MongoCheckReport:
    db = admin[name]
    try:  # before seeding: a refusal costs nothing then
        await _explain(db, {"find": "users", "filter": {}})
    except OperationFailure as exc:
        raise MongoUnavailable(f"the MongoDB server refuses explain: {exc}") from exc
    # One store seeds and then runs the workload: its recorder records only
    # while an entry runs, so the seed's commands (and open's) are not kept.
    recorder = CommandRecorder(name)
    store = MongoStore(url, db_name=name, event_listeners=[recorder])
    await store.open()
    try:
        await seed(store, rows)

        def on_entry(key: str) -> None:
            recorder.current = key

        failures = await run(store, World(), on_entry=on_entry)
    finally:
        recorder.current = ""
        await store.close()
    shapes = sorted(recorder.seen.values(), key=lambda s: (s.ports[0], s.shape))
    counts: dict[str, int] = {}
    for shape in shapes:
        if shape.collection not in counts:
            counts[shape.collection] = await db[shape.collection].estimated_document_count()
        try:
            explained = await _explain(db, shape.example)
        except OperationFailure as exc:
            shape.error = f"explain failed: {exc}"
            continue
        judge(shape, explained, counts[shape.collection])
    return MongoCheckReport(shapes, failures, rows, name)
