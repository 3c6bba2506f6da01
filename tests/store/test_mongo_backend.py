"""What is particular to the MongoDB backend: its indexes, the mapping of
duplicate-key errors to conflicts, and writes that race without transactions.
Run against the stand-in, or a real server when ``GROVER_MONGO_URL`` is set."""

from __future__ import annotations

from typing import Any, cast

import pytest
from pymongo.errors import BulkWriteError, DuplicateKeyError

from server.storage.mongo import INDEXES
from server.storage.mongo.accounts import MongoUserStore
from server.storage.mongo.documents import conversation_document
from server.storage.mongo.indexes import CONFLICT_FIELDS, conflict_of, conflicts
from server.storage.mongo.messaging import MongoConversationStore, MongoMessageStore
from tests.store.backends import Backend
from tests.store.records import make_conversation, make_entry, make_member, pair_key


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


# No test of the 2dsphere index here: a query on a raw collection would test
# MongoDB, not Grover. The geo contract test (a ``$near`` query through the
# posts port, skipped on the stand-in with ``STANDIN_NO_GEO``) belongs next to
# the posts port, in ``tests/store/test_posts.py``, when that port exists.


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


def test_mongo_conflict_table_lists_every_unique_index_of_a_port_write() -> None:
    """Each entry of CONFLICT_FIELDS is a unique index of INDEXES (or ``_id``),
    and every unique index of those collections is in it: a new one must say
    which Conflict it means."""
    for collection, fields in CONFLICT_FIELDS.items():
        unique = {
            tuple(key for key, _ in keys)
            for keys, options in INDEXES.get(collection, ())
            if options.get("unique")
        }
        assert set(fields) - {("_id",)} == unique, collection


class RecordingUsers:
    """Stands in for the ``users`` collection: records each ``find`` filter
    and finds nothing."""

    def __init__(self) -> None:
        self.filters: list[dict[str, Any]] = []

    def find(self, query: dict[str, Any], *args: Any, **kwargs: Any) -> RecordingUsers:
        self.filters.append(query)
        return self

    def sort(self, *args: Any, **kwargs: Any) -> RecordingUsers:
        return self

    def limit(self, count: int) -> RecordingUsers:
        return self

    def __aiter__(self) -> RecordingUsers:
        return self

    async def __anext__(self) -> Any:
        raise StopAsyncIteration


async def test_mongo_text_search_gets_bare_words_only() -> None:
    """What ``$text`` receives (the stand-in cannot run it, so the query is
    checked as sent): the words of the shared rule, with no phrase quotes or
    negation left."""
    recorder = RecordingUsers()
    users = MongoUserStore(cast(Any, recorder))

    assert await users.search_text('"eve online" -troll name:x* NEAR(a)', 10) == []
    assert await users.search_text('"()*:^', 10) == []  # no words: no query at all

    assert recorder.filters == [{"$text": {"$search": "eve online troll name x NEAR a"}}]


@pytest.mark.parametrize(
    ("message", "details", "collection", "expected"),
    [
        (  # a real server's message and details
            "E11000 duplicate key error collection: grover.users index: email_1 dup key: "
            '{ email: "a@b.c" }',
            {"keyPattern": {"email": 1}, "keyValue": {"email": "a@b.c"}},
            "users",
            "email",
        ),
        (  # no details: the message still names the key
            "E11000 duplicate key error collection: grover.users index: username_1 dup key: "
            '{ username: "al" }',
            None,
            "users",
            "username",
        ),
        (  # nothing to go on, but the collection has one unique index
            "E11000 Duplicate Key Error",
            None,
            "auth_sessions",
            "token_hash",
        ),
    ],
)
def test_mongo_duplicate_key_maps_to_conflict(
    message: str, details: dict[str, Any] | None, collection: str, expected: str
) -> None:
    conflict = conflict_of(DuplicateKeyError(message, 11000, details), collection)
    assert conflict is not None and conflict.field == expected


def test_mongo_duplicate_key_that_cannot_be_told_is_reraised() -> None:
    exc = DuplicateKeyError("E11000 Duplicate Key Error", 11000, None)
    assert conflict_of(exc, "users") is None
    with pytest.raises(DuplicateKeyError) as caught, conflicts("users"):
        raise exc
    assert caught.value is exc


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
    conflict = conflict_of(bulk_duplicate(error), "messages")
    assert conflict is not None and conflict.field == expected


def test_mongo_other_write_errors_are_not_conflicts() -> None:
    other = BulkWriteError({"writeErrors": [{"index": 0, "code": 2, "errmsg": "bad value"}]})
    assert conflict_of(other, "messages") is None
    unknown = bulk_duplicate({"errmsg": "E11000 something about { _id: 1 }"})
    assert conflict_of(unknown, "messages") is None


class CountingCalls:
    """Forwards to a collection and counts the calls of each method."""

    def __init__(self, collection: Any) -> None:
        self._collection = collection
        self.calls: dict[str, int] = {}

    def __getattr__(self, name: str) -> Any:
        self.calls[name] = self.calls.get(name, 0) + 1
        return getattr(self._collection, name)


async def test_mongo_unread_counts_of_a_page_is_one_aggregate(
    mongo: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = mongo.new_store()
    await store.open()
    try:
        groups = [make_conversation("ann") for _ in range(3)]
        for group in groups:
            await store.conversations.create(group, [make_member(group.id, "ann")])
            await store.messages.append(group.id, [make_entry(group.id, 1, "ben")], {}, None)
        messages = store.messages
        assert isinstance(messages, MongoMessageStore)
        counting = CountingCalls(mongo.mongo_db["messages"])
        monkeypatch.setattr(messages, "_messages", counting)

        counts = await messages.unread_counts("ann", {g.id: 0 for g in groups})

        assert counts == {g.id: 1 for g in groups}
        assert counting.calls == {"aggregate": 1}
    finally:
        await store.close()


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
            LosingUpsert(mongo.mongo_db["conversations"], conversation_document(rival)),
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
