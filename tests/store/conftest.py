"""Store tests run once per backend: SQLite in a temporary file, PostgreSQL in a throwaway server."""

from __future__ import annotations

import pytest
from backends import BackendCase
from pg import postgres  # noqa: F401  (the session's PostgreSQL server fixture)


@pytest.fixture(params=["sqlite", "postgres"])
async def case(request, tmp_path):
    if request.param == "sqlite":
        backend_case = BackendCase("sqlite", path=tmp_path / "store.db")
    else:
        server = request.getfixturevalue("postgres")
        backend_case = BackendCase("postgres", url=server.fresh_url("store"))
    yield backend_case
    await backend_case.close_all()


@pytest.fixture
async def store(case):
    return await case.open()
