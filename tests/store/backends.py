"""Storage backends for contract suites: one real SQLite file, and MongoDB.

MongoDB is a real server when ``GROVER_MONGO_URL`` is set (each use gets a
database of its own, dropped afterwards), otherwise the in-process stand-in
``pymongo_async_mock`` (mongomock behind PyMongo's async API). Checks that
only a real server can show are skipped on the stand-in with one of the
``STANDIN_*`` reasons below, never faked.

The suites of ``tests/store/`` get them through the fixtures of its
``conftest.py``; a suite elsewhere can reuse :func:`backend_context` from its
own fixture, e.g.::

    @pytest.fixture(params=BACKENDS)
    async def backend(request, tmp_path):
        async with backend_context(request.param, tmp_path) as b:
            yield b
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from mongomock.collection import BulkOperationBuilder
from pymongo import AsyncMongoClient
from pymongo_async_mock import AsyncMongoMockClient

from actors.ids import new_id
from actors.store import Store
from server.storage import MongoStore, make_store

BACKENDS = ("sqlite", "mongo")

#: A real MongoDB server for the ``mongo`` backend, if set.
MONGO_URL = os.environ.get("GROVER_MONGO_URL") or None

STANDIN_NO_TEXT = (
    "the MongoDB stand-in (pymongo_async_mock/mongomock) does not implement $text; "
    "only a real MongoDB server (set GROVER_MONGO_URL) can show text search"
)
#: For the geo contract of the posts port (``$near``), when that port exists.
STANDIN_NO_GEO = (
    "the MongoDB stand-in (pymongo_async_mock/mongomock) records 2dsphere indexes but "
    "cannot run $near queries; only a real MongoDB server (set GROVER_MONGO_URL) can"
)


def _install_standin_bulk_patch_once() -> None:
    """Work around a stand-in bug. ``pymongo_async_mock`` wraps mongomock's
    ``BulkOperationBuilder.add_update`` (to drop a ``sort`` argument) again
    for every collection it sets up: its "already patched" check reads the
    wrapper's ``__name__``, which ``functools.wraps`` has overwritten with the
    original's. After about a thousand collections in one process the nested
    wrappers pass the recursion limit and every ``bulk_write`` update fails.
    Its check accepts a wrapper named ``add_update_compat``: install one, the
    same wrapper it means to install, once."""
    original = BulkOperationBuilder.add_update
    if original.__name__ == "add_update_compat":
        return

    def add_update_compat(*args: Any, **kwargs: Any) -> Any:
        kwargs.pop("sort", None)
        return original(*args, **kwargs)

    BulkOperationBuilder.add_update = add_update_compat  # type: ignore[method-assign]


_install_standin_bulk_patch_once()


@dataclass
class Backend:
    """One backend's data for one test.

    ``new_store()`` builds a new, unopened store over the same data (a file, a
    database): call it again after closing a store to check persistence.
    ``standin`` is true for the in-process MongoDB stand-in. ``mongo_db`` is
    the raw database (MongoDB only), for checks on the schema itself.
    """

    name: str
    new_store: Callable[[], Store]
    standin: bool = False
    mongo_db: Any = None

    def skip_on_standin(self, reason: str) -> None:
        if self.standin:
            pytest.skip(reason)


@asynccontextmanager
async def backend_context(name: str, tmp_path: pathlib.Path) -> AsyncIterator[Backend]:
    """The backend called ``name`` (one of :data:`BACKENDS`), cleaned up on exit."""
    if name == "sqlite":
        yield Backend("sqlite", lambda: make_store(data_dir=tmp_path, mongo_url=None))
        return
    if name != "mongo":
        raise ValueError(name)
    db_name = f"grover_test_{new_id()}"
    if MONGO_URL is not None:
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            MONGO_URL, serverSelectionTimeoutMS=5000
        )
        try:
            yield Backend(
                "mongo",
                lambda: MongoStore(client=client, db_name=db_name),
                mongo_db=client[db_name],
            )
        finally:
            await client.drop_database(db_name)
            await client.close()
        return
    standin = AsyncMongoMockClient()
    try:
        yield Backend(
            "mongo",
            lambda: MongoStore(client=standin, db_name=db_name),
            standin=True,
            mongo_db=standin[db_name],
        )
    finally:
        # The stand-in's close() is mongomock's synchronous one: awaiting it
        # raises TypeError, so call it plainly.
        standin.close()
