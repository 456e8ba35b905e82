"""Fixtures of the warehouse tests: a real PostgreSQL server for the session (`postgres.py`), and the
Pipedrive account they load: the simulator while recording, the cassette in replay (`cassettes/<module>/`)."""

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import Gateway, sent  # noqa: F401 - `sent` is a fixture of these tests too
from tests.e2e.test_children import small_account
from tests.warehouses.postgres import Postgres, postgres_server

DEALS = 120
"""The account's size: enough for pages of every table, small enough for a cassette per test."""


@pytest.fixture(scope="session")
def postgres() -> Iterator[Postgres]:
    """A PostgreSQL server on 127.0.0.1, started once for the session and stopped at its end."""
    with postgres_server() as server:
        yield server


@pytest.fixture
def gateway(record_mode: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    yield from small_account(record_mode, monkeypatch, deals=DEALS)
