"""``grover db check`` on MongoDB (:mod:`server.storage.mongo.plans`).

What runs here: the plan classifier on explain documents written from
MongoDB's documented ``explain`` output (classic ``winningPlan`` trees, the
slot-based engine's ``queryPlan``, aggregates' ``$cursor`` stages, sharded
``shards`` entries), the command normaliser, the allow-list, the recorder
on driver events built by hand, and the exit codes when no server answers.
The check itself against a server runs only with ``GROVER_MONGO_URL`` set:
no MongoDB server exists on the development machine, and the stand-in
cannot explain (see the skip reasons).
"""

from __future__ import annotations

import asyncio
import io
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.monitoring import CommandStartedEvent
from pymongo_async_mock import AsyncMongoMockClient

from server.cli import main
from server.dbcheck import print_mongo_check
from server.storage.mongo import MongoStore, plans
from server.storage.mongo.plans import (
    CommandRecorder,
    MongoCheckReport,
    MongoUnavailable,
    Shape,
    check_mongo,
    classify,
    judge,
    normalise,
    plan_lines,
    shapes_of,
)
from server.storage.workload import entries
from tests.store.backends import MONGO_URL

STANDIN_NO_EVENTS = (
    "the MongoDB stand-in (pymongo_async_mock/mongomock) accepts event_listeners but "
    "sends no wire commands, so it emits no command-monitoring events and cannot run "
    "explain; only a real MongoDB server (set GROVER_MONGO_URL) can show the capture"
)
NO_SERVER = (
    "grover db check on MongoDB needs a real MongoDB server (set GROVER_MONGO_URL); "
    "the stand-in (pymongo_async_mock/mongomock) cannot run explain"
)
#: Nothing listens there: connections are refused at once.
UNREACHABLE = "mongodb://127.0.0.1:9"

# ------------------------------------------------------------------ explain documents
# Written from MongoDB's documented explain output (queryPlanner verbosity).


def _ixscan(index: str, keys: dict[str, Any]) -> dict[str, Any]:
    return {
        "stage": "IXSCAN",
        "keyPattern": keys,
        "indexName": index,
        "isMultiKey": False,
        "isUnique": False,
        "isSparse": False,
        "isPartial": False,
        "indexVersion": 2,
        "direction": "forward",
        "indexBounds": {key: ["[MinKey, MaxKey]"] for key in keys},
    }


def _collscan() -> dict[str, Any]:
    return {"stage": "COLLSCAN", "filter": {"status": {"$eq": "open"}}, "direction": "forward"}


def _find(winning: dict[str, Any], rejected: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {
        "explainVersion": "1",
        "queryPlanner": {
            "namespace": "grover.posts",
            "indexFilterSet": False,
            "parsedQuery": {"user_id": {"$eq": "u1"}},
            "planCacheKey": "7A8D6F3B",
            "maxIndexedOrSolutionsReached": False,
            "winningPlan": winning,
            "rejectedPlans": rejected or [],
        },
        "command": {"find": "posts", "filter": {"user_id": "u1"}, "$db": "grover"},
        "serverInfo": {"host": "db", "port": 27017, "version": "7.0.14"},
        "ok": 1.0,
    }


FETCH_IXSCAN = _find(
    {
        "stage": "LIMIT",
        "limitAmount": 20,
        "inputStage": {
            "stage": "FETCH",
            "inputStage": _ixscan("user_id_1_created_at_-1", {"user_id": 1, "created_at": -1}),
        },
    },
    # A rejected plan scans: only the winner counts.
    rejected=[{"stage": "SORT", "sortPattern": {"created_at": -1}, "inputStage": _collscan()}],
)
COLLSCAN = _find(_collscan())
SORT_COLLSCAN = _find(
    {"stage": "SORT", "sortPattern": {"created_at": -1}, "memLimit": 104857600, "type": "simple",
     "inputStage": _collscan()}
)  # fmt: skip
OR_INDEXED = _find(
    {
        "stage": "SUBPLAN",
        "inputStage": {
            "stage": "FETCH",
            "inputStage": {
                "stage": "OR",
                "inputStages": [
                    _ixscan("user_id_1", {"user_id": 1}),
                    {"stage": "FETCH", "inputStage": _ixscan("parent_id_1", {"parent_id": 1})},
                ],
            },
        },
    }
)
OR_MIXED = _find(
    {
        "stage": "OR",
        "inputStages": [
            {"stage": "FETCH", "inputStage": _ixscan("user_id_1", {"user_id": 1})},
            _collscan(),
        ],
    }
)
#: ``$text`` in an aggregate: the query layer's part under ``stages[0].$cursor``.
TEXT_MATCH = {
    "explainVersion": "1",
    "stages": [
        {
            "$cursor": {
                "queryPlanner": {
                    "namespace": "grover.posts",
                    "winningPlan": {
                        "stage": "TEXT_MATCH",
                        "indexPrefix": {},
                        "indexName": "text_text",
                        "parsedTextQuery": {"terms": ["hello"], "negatedTerms": []},
                        "textIndexVersion": 3,
                        "inputStage": {
                            "stage": "FETCH",
                            "inputStage": {
                                "stage": "OR",
                                "inputStages": [_ixscan("text_text", {"_fts": "text", "_ftsx": 1})],
                            },
                        },
                    },
                    "rejectedPlans": [],
                }
            }
        },
        {"$sort": {"sortKey": {"score": {"$meta": "textScore"}}}},
    ],
    "ok": 1.0,
}
GEO_NEAR = {
    "explainVersion": "1",
    "queryPlanner": {
        "namespace": "grover.posts",
        "winningPlan": {
            "stage": "PROJECTION_DEFAULT",
            "inputStage": {
                "stage": "GEO_NEAR_2DSPHERE",
                "keyPattern": {"location": "2dsphere"},
                "indexName": "location_2dsphere",
                "indexVersion": 2,
                "inputStages": [
                    _ixscan("location_2dsphere", {"location": "2dsphere"}),
                    _ixscan("location_2dsphere", {"location": "2dsphere"}),
                ],
            },
        },
        "rejectedPlans": [],
    },
    "ok": 1.0,
}
#: MongoDB 4.x put ``$geoNear``'s plan under ``$geoNearCursor``.
GEO_NEAR_CURSOR = {"stages": [{"$geoNearCursor": {"queryPlanner": GEO_NEAR["queryPlanner"]}}]}


def _shard(name: str, plan: dict[str, Any]) -> dict[str, Any]:
    return {
        "shardName": name,
        "connectionString": f"{name}/db:27018",
        "namespace": "grover.posts",
        "winningPlan": {"stage": "SHARDING_FILTER", "inputStage": plan},
        "rejectedPlans": [],
    }


SHARDED_INDEXED = {
    "queryPlanner": {
        "mongosPlannerVersion": 1,
        "winningPlan": {
            "stage": "SINGLE_SHARD",
            "shards": [_shard("rs0", {"stage": "FETCH", "inputStage": _ixscan("a_1", {"a": 1})})],
        },
    },
    "ok": 1.0,
}
SHARDED_ONE_SCANS = {
    "queryPlanner": {
        "mongosPlannerVersion": 1,
        "winningPlan": {
            "stage": "SHARD_MERGE",
            "shards": [
                _shard("rs0", {"stage": "FETCH", "inputStage": _ixscan("a_1", {"a": 1})}),
                _shard("rs1", _collscan()),
            ],
        },
    },
    "ok": 1.0,
}
#: A sharded aggregate: per shard, by name, each with its own stages.
SHARDED_AGGREGATE_SCANS = {
    "mergeType": "mongos",
    "shards": {
        "rs0": {"host": "db:27018", "stages": [{"$cursor": {"queryPlanner": {
            "winningPlan": {"stage": "SHARDING_FILTER", "inputStage": _collscan()}}}}]},
    },
    "ok": 1.0,
}  # fmt: skip
#: The slot-based engine (explainVersion 2) nests the tree under ``queryPlan``.
SBE_GROUP_COLLSCAN = {
    "explainVersion": "2",
    "queryPlanner": {
        "namespace": "grover.likes",
        "winningPlan": {
            "queryPlan": {"stage": "GROUP", "planNodeId": 2, "inputStage": _collscan()},
            "slotBasedPlan": {"slots": "$$RESULT=s5", "stages": "[2] group [] ..."},
        },
        "rejectedPlans": [],
    },
    "ok": 1.0,
}
SBE_COUNT_SCAN = {
    "explainVersion": "2",
    "queryPlanner": {
        "winningPlan": {
            "queryPlan": {"stage": "GROUP", "inputStage": {"stage": "COUNT_SCAN",
                          "indexName": "post_id_1", "keyPattern": {"post_id": 1}}},
            "slotBasedPlan": {"slots": "", "stages": ""},
        },
    },
}  # fmt: skip
EXPRESS = _find({"stage": "EXPRESS_IXSCAN", "keyPattern": "{ _id: 1 }", "indexName": "_id_"})
IDHACK = _find({"stage": "IDHACK"})
EMPTY_COLLECTION = _find({"stage": "EOF"})


@pytest.mark.parametrize(
    ("document", "scans", "stage"),
    [
        (FETCH_IXSCAN, False, "IXSCAN"),
        (COLLSCAN, True, "COLLSCAN"),
        (SORT_COLLSCAN, True, "SORT"),
        (OR_INDEXED, False, "OR"),
        (OR_MIXED, True, "OR"),
        (TEXT_MATCH, False, "TEXT_MATCH"),
        (GEO_NEAR, False, "GEO_NEAR_2DSPHERE"),
        (GEO_NEAR_CURSOR, False, "GEO_NEAR_2DSPHERE"),
        (SHARDED_INDEXED, False, "SHARDING_FILTER"),
        (SHARDED_ONE_SCANS, True, "SHARD_MERGE"),
        (SHARDED_AGGREGATE_SCANS, True, "SHARDING_FILTER"),
        (SBE_GROUP_COLLSCAN, True, "GROUP"),
        (SBE_COUNT_SCAN, False, "COUNT_SCAN"),
        (EXPRESS, False, "EXPRESS_IXSCAN"),
        (IDHACK, False, "IDHACK"),
        (EMPTY_COLLECTION, False, "EOF"),
    ],
    ids=lambda v: "" if isinstance(v, dict) else str(v),
)
def test_classify_winning_plans(document: dict[str, Any], scans: bool, stage: str) -> None:
    stages, scanned = classify(document)
    assert scanned is scans
    assert stage in stages


def test_rejected_plans_do_not_count() -> None:
    assert "COLLSCAN" not in classify(FETCH_IXSCAN)[0]


def test_no_winning_plan_is_not_a_pass() -> None:
    with pytest.raises(ValueError, match="winningPlan"):
        classify({"ok": 1.0, "stages": [{"$documents": {}}]})


def test_plan_lines_are_indented_by_depth() -> None:
    assert plan_lines(FETCH_IXSCAN) == ["LIMIT", "  FETCH", "    IXSCAN user_id_1_created_at_-1"]
    assert plan_lines(SHARDED_ONE_SCANS) == [
        "SHARD_MERGE",
        "  SHARDING_FILTER",
        "    FETCH",
        "      IXSCAN a_1",
        "  SHARDING_FILTER",
        "    COLLSCAN",
    ]


# ------------------------------------------------------------------ shapes


def test_normalise_replaces_values_and_keeps_keys_and_operators() -> None:
    query = {"user_id": "u1", "created_at": {"$lt": 5.0}, "read": False, "to": {"kind": "post"}}
    assert normalise(query) == {
        "user_id": "?",
        "created_at": {"$lt": "?"},
        "read": "?",
        "to": {"kind": "?"},
    }


def test_normalise_folds_value_lists_of_any_length() -> None:
    assert normalise({"_id": {"$in": ["a"]}}) == normalise({"_id": {"$in": ["a", "b", "c"]}})
    assert normalise({"_id": {"$in": ["a", "b"]}}) == {"_id": {"$in": ["?…"]}}
    assert normalise({"_id": {"$nin": []}}) == {"_id": {"$nin": []}}


def test_normalise_keeps_document_lists_and_sort_orders() -> None:
    pipeline = [
        {"$match": {"$or": [{"a": 1}, {"b": {"$gt": 2}}]}},
        {"$sort": {"created_at": -1, "_id": -1}},
        {"$limit": 20},
    ]
    assert normalise(pipeline) == [
        {"$match": {"$or": [{"a": "?"}, {"b": {"$gt": "?"}}]}},
        {"$sort": {"created_at": -1, "_id": -1}},
        {"$limit": "?"},
    ]
    assert normalise({"sort": {"score": {"$meta": "textScore"}}}) == {
        "sort": {"score": {"$meta": "textScore"}}
    }


def test_normalise_folds_adjacent_repeats() -> None:
    assert normalise([{"a": 1}, {"a": 2}, {"a": 3}, {"b": 1}]) == [{"a": "?"}, "…", {"b": "?"}]


def test_shapes_of_a_find_explains_the_concrete_command_without_its_session() -> None:
    sent = {
        "find": "posts",
        "filter": {"user_id": "u1"},
        "sort": {"created_at": -1},
        "limit": 20,
        "lsid": {"id": "x"},
        "$db": "grover",
        "$clusterTime": {},
        "readConcern": {"level": "majority"},
    }
    [(collection, shape, explained)] = shapes_of("find", sent)
    assert collection == "posts"
    assert shape == 'posts.find {"filter": {"user_id": "?"}, "sort": {"created_at": -1}}'
    assert explained == {
        "find": "posts",
        "filter": {"user_id": "u1"},
        "sort": {"created_at": -1},
        "limit": 20,
    }
    assert next(iter(explained)) == "find"  # the command name stays first


def test_shapes_of_updates_and_deletes_are_one_per_statement() -> None:
    sent = {
        "update": "users",
        "ordered": False,
        "writeConcern": {"w": 1},
        "updates": [
            {"q": {"_id": "a"}, "u": {"$inc": {"n": 1}}},
            {"q": {"_id": "b"}, "u": {"$inc": {"n": 1}}},
            {"q": {"handle": "c"}, "u": {"$set": {"x": 1}}, "upsert": True},
        ],
    }
    found = shapes_of("update", sent)
    assert [shape for _, shape, _ in found] == [
        'users.update {"q": {"_id": "?"}}',
        'users.update {"q": {"_id": "?"}}',
        'users.update {"q": {"handle": "?"}}',
    ]
    assert found[2][2] == {
        "update": "users",
        "ordered": False,
        "updates": [{"q": {"handle": "c"}, "u": {"$set": {"x": 1}}, "upsert": True}],
    }
    [(_, shape, explained)] = shapes_of("delete", {"delete": "keys", "deletes": [
        {"q": {"expires_at": {"$lt": 3}}, "limit": 0}]})  # fmt: skip
    assert shape == 'keys.delete {"q": {"expires_at": {"$lt": "?"}}}'
    assert explained["deletes"] == [{"q": {"expires_at": {"$lt": 3}}, "limit": 0}]


def test_shapes_of_other_commands() -> None:
    assert shapes_of("insert", {"insert": "posts", "documents": [{}]}) == []
    assert shapes_of("aggregate", {"aggregate": 1, "pipeline": [{"$currentOp": {}}]}) == []
    [(_, shape, explained)] = shapes_of(
        "aggregate", {"aggregate": "likes", "pipeline": [{"$match": {"post_id": "p"}}]}
    )
    assert shape == 'likes.aggregate {"pipeline": [{"$match": {"post_id": "?"}}]}'
    assert explained["cursor"] == {}  # explain of an aggregate wants one
    [(_, shape, _)] = shapes_of("distinct", {"distinct": "tags", "key": "name", "query": {"n": 1}})
    assert shape == 'tags.distinct {"key": "name", "query": {"n": "?"}}'
    [(_, shape, _)] = shapes_of(
        "findAndModify", {"findAndModify": "orders", "query": {"_id": "o"}, "update": {}}
    )
    assert shape == 'orders.findAndModify {"query": {"_id": "?"}}'


# ------------------------------------------------------------------ recorder


def _event(command: dict[str, Any], database: str = "scratch") -> CommandStartedEvent:
    return CommandStartedEvent({**command, "$db": database}, database, 1, ("127.0.0.1", 27017), 1)


def test_recorder_attributes_shapes_to_the_running_entry() -> None:
    recorder = CommandRecorder("scratch")
    recorder.started(_event({"find": "posts", "filter": {"user_id": "u1"}}))  # not recording
    recorder.current = "posts.by_user"
    recorder.started(_event({"find": "posts", "filter": {"user_id": "u1"}}))
    recorder.started(_event({"find": "posts", "filter": {"user_id": "u2"}}))
    recorder.started(_event({"find": "posts", "filter": {"user_id": "u3"}}, database="grover"))
    recorder.started(_event({"insert": "posts", "documents": [{"_id": "p"}]}))
    recorder.current = "views.profile"
    recorder.started(_event({"find": "posts", "filter": {"user_id": "u4"}}))
    [shape] = recorder.seen.values()
    assert shape.ports == ["posts.by_user", "views.profile"]
    assert shape.runs == 3
    assert shape.example == {"find": "posts", "filter": {"user_id": "u1"}}  # the first


def test_store_passes_event_listeners_to_the_client_it_makes() -> None:
    recorder = CommandRecorder("scratch")
    store = MongoStore(UNREACHABLE, db_name="scratch", event_listeners=[recorder])
    client: AsyncMongoClient[Any] = store._client
    listeners: list[Any] = list(client.options.event_listeners)
    assert listeners == [recorder]
    plain: AsyncMongoClient[Any] = MongoStore(UNREACHABLE)._client  # the default path
    assert list(plain.options.event_listeners) == []
    with pytest.raises(ValueError, match="event_listeners"):
        MongoStore(client=client, event_listeners=[recorder])

    async def close() -> None:
        await client.close()
        await plain.close()

    asyncio.run(close())


def test_capture_on_the_standin() -> None:
    """Runs the capture for real if the stand-in ever emits events."""
    recorder = CommandRecorder("scratch")
    recorder.current = "posts.by_user"

    async def go() -> None:
        client = AsyncMongoMockClient(event_listeners=[recorder])
        await client["scratch"]["posts"].insert_one({"user_id": "u1"})
        assert await client["scratch"]["posts"].find_one({"user_id": "u1"}) is not None
        client.close()

    asyncio.run(go())
    if not recorder.seen:
        pytest.skip(STANDIN_NO_EVENTS)
    assert 'posts.find {"filter": {"user_id": "?"}' in next(iter(recorder.seen))


class _StandinClient:
    """What :func:`check_mongo` and :class:`MongoStore` use of a client, over
    one shared stand-in (whose own ``close`` is synchronous)."""

    def __init__(self, standin: AsyncMongoMockClient) -> None:
        self._standin = standin

    def __getitem__(self, name: str) -> Any:
        return self._standin[name]

    @property
    def admin(self) -> Any:
        return self._standin["admin"]

    async def drop_database(self, name: str) -> None:
        await self._standin.drop_database(name)

    async def close(self) -> None:
        pass


def test_the_run_on_the_standin(monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's plumbing (probe, seed, workload, drop) on the stand-in, with
    explain answered from a document: it records no shapes (no events)."""
    standin = AsyncMongoMockClient()
    made: list[dict[str, Any]] = []

    def client(url: str, **options: Any) -> _StandinClient:
        made.append(options)
        return _StandinClient(standin)

    async def explain(db: Any, command: dict[str, Any]) -> dict[str, Any]:
        return FETCH_IXSCAN

    monkeypatch.setattr(plans, "AsyncMongoClient", client)
    monkeypatch.setattr("server.storage.mongo.AsyncMongoClient", client)
    monkeypatch.setattr(plans, "_explain", explain)
    # The stand-in is slow with thousands of documents: a smaller run.
    monkeypatch.setattr(plans, "TINY_DOCUMENTS", 3)
    monkeypatch.setattr(entries, "FEED_FILL", 10)
    standin["grover"]["users"].delegate.insert_one({"_id": "the user's"})
    report = asyncio.run(check_mongo("mongodb://standin", "grover", rows=2))
    assert report.seeded == 6  # at least twice TINY_DOCUMENTS
    assert report.database.startswith("grover_dbcheck_")
    # Only what the stand-in cannot do ($text, $geoNear) fails.
    assert all(isinstance(exc, NotImplementedError) for _, exc in report.failures), report.failures
    assert any(isinstance(o.get("event_listeners", [None])[0], CommandRecorder) for o in made)
    names = asyncio.run(standin.list_database_names())
    assert report.database not in names  # dropped
    assert standin["grover"]["users"].delegate.count_documents({}) == 1  # untouched
    assert report.shapes == []  # the stand-in emits no events (STANDIN_NO_EVENTS)


# ------------------------------------------------------------------ verdicts


def _shape(ports: list[str], collection: str = "posts") -> Shape:
    return Shape(collection, f"{collection}.find {{}}", {"find": collection}, ports=ports)


def test_a_collscan_fails_unless_tiny_or_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    scanning = _shape(["posts.by_user"])
    judge(scanning, COLLSCAN, documents=5000)
    assert scanning.failing and scanning.plan == ["COLLSCAN"]
    tiny = _shape(["posts.by_user"])
    judge(tiny, COLLSCAN, documents=plans.TINY_DOCUMENTS - 1)
    assert tiny.scan and not tiny.failing
    indexed = _shape(["posts.by_user"])
    judge(indexed, FETCH_IXSCAN, documents=5000)
    assert not indexed.scan and not indexed.failing
    monkeypatch.setitem(plans.ALLOWED, ("posts.by_user", "posts"), "a bounded admin listing")
    allowed = _shape(["posts.by_user"])
    judge(allowed, COLLSCAN, documents=5000)
    assert allowed.allowed == "a bounded admin listing" and not allowed.failing
    shared = _shape(["posts.by_user", "posts.feed"])  # one of its ports is not allowed
    judge(shared, COLLSCAN, documents=5000)
    assert shared.allowed is None and shared.failing


def test_report_and_its_printout() -> None:
    scanning, indexed, unreadable = _shape(["a.x"]), _shape(["b.y"], "likes"), _shape(["c.z"])
    judge(scanning, SORT_COLLSCAN, documents=500)
    judge(indexed, FETCH_IXSCAN, documents=500)
    judge(unreadable, {"ok": 1.0}, documents=500)
    report = MongoCheckReport([scanning, indexed, unreadable], [], 2000, "grover_dbcheck_1")
    assert not report.ok and report.collection_scans == [scanning]
    out = io.StringIO()
    print_mongo_check(report, "grover", out)
    text = out.getvalue()
    assert "!! COLLSCAN of posts" in text
    assert "    IXSCAN user_id_1_created_at_-1" in text
    assert "!! no queryPlanner.winningPlan" in text
    assert "FAILED: 1 collection scans, 0 failed workload calls, 1 commands" in text
    assert MongoCheckReport([indexed], [], 2000, "d").ok


# ------------------------------------------------------------------ the command


def test_unreachable_server_exits_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(plans, "CONNECT_TIMEOUT_MS", 300)
    assert main(["db", "check", "--mongo-url", UNREACHABLE]) == 2
    err = capsys.readouterr().err
    assert "cannot reach the MongoDB server" in err
    assert "Nothing was checked" in err


def test_stats_is_not_available_on_mongo(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "stats", "--mongo-url", UNREACHABLE]) == 2
    assert "not available on the MongoDB backend" in capsys.readouterr().err


@pytest.mark.skipif(MONGO_URL is None, reason=NO_SERVER)
def test_check_on_a_real_server() -> None:
    assert MONGO_URL is not None

    async def go() -> tuple[MongoCheckReport, list[str]]:
        report = await check_mongo(MONGO_URL, "grover_test", rows=2 * plans.TINY_DOCUMENTS)
        client: AsyncMongoClient[Any] = AsyncMongoClient(MONGO_URL)
        try:
            return report, await client.list_database_names()
        finally:
            await client.close()

    try:
        report, databases = asyncio.run(go())
    except MongoUnavailable as exc:  # e.g. a server whose user may not explain
        pytest.fail(f"GROVER_MONGO_URL is set but the check could not run: {exc}")
    assert report.database not in databases  # the scratch database was dropped
    ports = {port for shape in report.shapes for port in shape.ports}
    assert "posts.by_user" in ports or len(ports) > 20
    assert all(shape.plan or shape.error for shape in report.shapes)
    assert report.ok, [s.shape for s in report.collection_scans] + [
        f"{s.shape}: {s.error}" for s in report.shapes if s.error
    ]


def test_a_bad_url_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["db", "check", "--mongo-url", "mongodb://127.0.0.1:notaport"]) == 2
    assert "cannot use the MongoDB URL" in capsys.readouterr().err


def test_printout_of_passing_scans(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(plans.ALLOWED, ("a.x", "posts"), "an admin listing, bounded")
    allowed, tiny = _shape(["a.x"]), _shape(["b.y"], "tags")
    judge(allowed, COLLSCAN, documents=5000)
    judge(tiny, COLLSCAN, documents=3)
    out = io.StringIO()
    print_mongo_check(MongoCheckReport([allowed, tiny], [], 200, "g_dbcheck_1"), "g", out)
    text = out.getvalue()
    assert "(COLLSCAN of posts allowed: an admin listing, bounded)" in text
    assert "(COLLSCAN of tags passed: tiny, 3 documents)" in text
    assert "!!" not in text and text.endswith("OK: no query scans a whole collection.\n")
