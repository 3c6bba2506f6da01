"""Storage backends behind the ports of :mod:`actors.store`.

:func:`make_store` picks one from configuration: SQLite (embedded, the
default) or MongoDB when a URL is given. The caller opens and closes it.
"""

from __future__ import annotations

import pathlib

from actors.store import Store
from server.storage.mongo import MongoStore
from server.storage.sqlite import SqliteStore

__all__ = ["SQLITE_FILE_NAME", "MongoStore", "SqliteStore", "make_store"]

#: File name of the SQLite database inside the data directory.
SQLITE_FILE_NAME = "grover.sqlite3"


def make_store(*, data_dir: pathlib.Path, mongo_url: str | None, mongo_db: str = "grover") -> Store:
    """An unopened :class:`~actors.store.Store`: MongoDB database ``mongo_db``
    at ``mongo_url`` if that is set (non-empty), else SQLite in
    ``data_dir / "grover.sqlite3"`` (the directory is created on open)."""
    if mongo_url:
        return MongoStore(mongo_url, db_name=mongo_db)
    return SqliteStore(data_dir / SQLITE_FILE_NAME)
