"""End-to-end: records deleted in Pipedrive land with `is_deleted = true` after a reconciling run, their
other columns as they were, through `pipedrive-source run --reconcile-deletes`.

Replays `cassettes/test_deletes/`, recorded from the simulator through the Maton layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from pipedrive_source.cli import cli, run  # noqa: F401 - registers the command
from pipedrive_source.deletes import IS_DELETED
from pipedrive_source.settings import ENDPOINTS
from tests.e2e.conftest import Gateway, RequestCounter
from tests.e2e.test_children import small_account

pytestmark = [pytest.mark.vcr, pytest.mark.simulator_only]

TABLES = ("persons", "organizations", "activities", "products", "notes", "leads")
LISTS = {endpoint.path: endpoint.table for endpoint in ENDPOINTS if endpoint.table in TABLES}
"""Every list filling the tables (leads: `/leads` and `/leads/archived`)."""
V1_TABLES = ("notes", "leads")
"""Read by offset, so each id their scan misses is checked with a request of its own."""


@pytest.fixture
def gateway(record_mode: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    yield from small_account(record_mode, monkeypatch)


def _run(*options: str) -> None:
    result = CliRunner().invoke(cli, ["run", "--resources", ",".join(TABLES), *options])
    assert result.exit_code == 0, result.output


def _rows(database: Path, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(database), read_only=True) as db:
        db.execute("set search_path = 'pipedrive_data'")
        cursor = db.execute(sql)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _list_requests(sent: RequestCounter) -> dict[str, int]:
    return {path: sent.to(f"/{path}") for path in LISTS}


def _literal(value: Any) -> str:
    return str(value) if isinstance(value, int) else f"'{value}'"


def test_records_deleted_between_runs_land_flagged_with_their_other_columns_intact(
    gateway: Gateway, sent: RequestCounter, clean_env: Path
) -> None:
    database = clean_env / "pipedrive.duckdb"

    _run()

    # the first run has nothing to compare: one page per list, no scan
    assert _list_requests(sent) == dict.fromkeys(LISTS, 1)
    deleted = {table: _rows(database, f"select min(id) as id from {table}")[0]["id"] for table in TABLES}
    before = {
        table: _rows(database, f"select * from {table} where id = {_literal(record_id)}")[0]
        for table, record_id in deleted.items()
    }
    if gateway.sim is not None:
        account = gateway.sim.account()
        for table, record_id in deleted.items():
            account.delete(table, record_id)
    sent.clear()

    _run("--reconcile-deletes")

    for table, record_id in deleted.items():
        (after,) = _rows(database, f"select * from {table} where id = {_literal(record_id)}")
        assert after.pop(IS_DELETED) is True, table
        assert {k: v for k, v in after.items() if k != "_dlt_load_id"} == {
            k: v for k, v in before[table].items() if k not in ("_dlt_load_id", IS_DELETED)
        }, table
        assert [row["id"] for row in _rows(database, f"select id from {table} where {IS_DELETED}")] == [
            record_id
        ], table
    # the scan: one page of ids per list (each holds fewer than 500 records) besides the incremental read;
    # and one request per id a v1 scan missed
    assert _list_requests(sent) == dict.fromkeys(LISTS, 2)
    for table in V1_TABLES:
        assert sent.to(f"/{table}/{deleted[table]}") == 1, table
    sent.clear()

    _run()

    # the next reconciliation is due in 7 days
    assert _list_requests(sent) == dict.fromkeys(LISTS, 1)
    assert all(
        _rows(database, f"select count(*) as n from {t} where {IS_DELETED}")[0]["n"] == 1 for t in TABLES
    )
