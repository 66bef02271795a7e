"""Store tests run once per backend: SQLite in a temporary file, PostgreSQL in a throwaway server.

With `STORE_CONTRACT_SQLITE_SEED=FILE`, each SQLite case starts from a copy of that database
instead of an empty one: the backup tests check that a restored store honours the contract.
"""

from __future__ import annotations

import os
import shutil

import pytest
from backends import BackendCase
from pg import postgres  # noqa: F401  (the session's PostgreSQL server fixture)


@pytest.fixture(params=["sqlite", "postgres"])
async def case(request, tmp_path):
    if request.param == "sqlite":
        backend_case = BackendCase("sqlite", path=tmp_path / "store.db")
        seed = os.environ.get("STORE_CONTRACT_SQLITE_SEED")
        if seed:
            shutil.copyfile(seed, tmp_path / "store.db")
    else:
        server = request.getfixturevalue("postgres")
        backend_case = BackendCase("postgres", url=server.fresh_url("store"))
    yield backend_case
    await backend_case.close_all()


@pytest.fixture
async def store(case):
    return await case.open()
