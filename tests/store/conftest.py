"""Fixtures of the store suites: ``backend`` (each test once per backend of
:data:`~tests.store.backends.BACKENDS`), ``store`` (an opened store of that
backend) and ``mongo`` (the MongoDB backend alone, for its own tests)."""

from __future__ import annotations

import pathlib
from collections.abc import AsyncIterator

import pytest

from actors.store import Store
from tests.store.backends import BACKENDS, Backend, backend_context


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> AsyncIterator[Backend]:
    async with backend_context(request.param, tmp_path) as value:
        yield value


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[Store]:
    opened = backend.new_store()
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()


@pytest.fixture
async def mongo(tmp_path: pathlib.Path) -> AsyncIterator[Backend]:
    async with backend_context("mongo", tmp_path) as value:
        yield value
