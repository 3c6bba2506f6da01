"""What every backend's :class:`~actors.store.Store` does as a whole: opening,
answering ``ping`` until closed, and which one :func:`make_store` builds."""

from __future__ import annotations

import pathlib

from server.storage import SQLITE_FILE_NAME, MongoStore, SqliteStore, make_store
from tests.store.backends import Backend


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
