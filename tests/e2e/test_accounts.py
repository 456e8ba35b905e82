"""End-to-end: several Pipedrive accounts (Maton connections) in one run, in a dataset each or in shared
tables, each with its own incremental state; a failing account does not lose the others' data.

Replays `cassettes/test_accounts/`, recorded from the simulator with two connections (two independent
accounts of 60 deals whose ids overlap). The `Maton-Connection` header is filtered from the cassettes, so in
replay an account's requests match on method, path and query only: the accounts run one after the other, and
VCR answers a request with the first unplayed answer recorded for it, so each account gets back its own
answers in recorded order. The changes between runs go through the gateway (to the oldest connection,
account A) like the reads, and replay the same. Expected rows come from the answers, never from the code.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests
import requests.adapters
from click.testing import CliRunner
from vcr.cassette import Cassette

from pipedrive_source.accounts import (
    AccountsResult,
    account_dataset,
    account_pipeline_name,
    run_accounts,
)
from pipedrive_source.cli import cli
from pipedrive_source.cli import run as _run_command  # noqa: F401  (registers `run`)
from pipedrive_source.connections import MatonConnections
from pipedrive_source.deletes import reconciling_deletes
from tests.e2e import oracle
from tests.e2e.conftest import (
    Gateway,
    write_through_gateway,
)
from tests.e2e.test_children import small_account

pytestmark = [pytest.mark.vcr, pytest.mark.simulator_only]

DEALS = 60
TABLES = ("deals", "persons", "pipelines", "stages")
LISTS = {
    "deals": ("api/v2/deals", "api/v2/deals/archived"),
    "persons": ("api/v2/persons",),
    "pipelines": ("api/v2/pipelines",),
    "stages": ("api/v2/stages",),
}
UNKNOWN_CONNECTION = str(uuid.uuid5(uuid.NAMESPACE_URL, "pipedrive-source/tests/no-such-connection"))
"""A connection id no Maton key has."""


@pytest.fixture
def gateway(record_mode: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    """Two accounts behind one Maton key: the simulator while recording, the cassette in replay, one request
    at a time (`test_children.small_account`)."""
    yield from small_account(record_mode, monkeypatch, deals=DEALS, connections=2)


def _slices(result: AccountsResult, start: int) -> list[tuple[int, int]]:
    """The interactions of each account's run, in order: each account sent as many requests as it counted."""
    slices = []
    for account in result.accounts:
        stop = start + sum(usage.requests for usage in account.usage.values())
        slices.append((start, stop))
        start = stop
    return slices


def _answered(vcr: Cassette, table: str, start: int, stop: int) -> dict[Any, dict[str, Any]]:
    """The records of `table` its lists answered in interactions start:stop, by id."""
    return {i: r for path in LISTS[table] for i, r in oracle.records(vcr, path, start, stop).items()}


def _query(sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with duckdb.connect("pipedrive.duckdb", read_only=True) as database:
        return database.execute(sql, list(params)).fetchall()


def _ids(dataset: str, table: str, company_id: int | None = None) -> set[Any]:
    where = "" if company_id is None else " where company_id = ?"
    params = () if company_id is None else (company_id,)
    return {row[0] for row in _query(f"select id from {dataset}.{table}{where}", *params)}


def _rows(dataset: str, table: str, company_id: int) -> set[tuple[Any, ...]]:
    """The account's rows as loaded, without dlt's columns (they change with every load)."""
    columns = [
        row[0]
        for row in _query(
            "select column_name from information_schema.columns where table_schema = ? and table_name = ? "
            "and column_name not like '\\_dlt%' escape '\\'",
            dataset,
            table,
        )
    ]
    return set(_query(f"select {', '.join(columns)} from {dataset}.{table} where company_id = ?", company_id))


def _write_to(connection_id: str, method: str, path: str, body: dict[str, Any]) -> Any:
    """A write to one account, through the gateway as the source reads it; the answer's `data`."""
    response = requests.request(
        method,
        f"{os.environ['SOURCES__PIPEDRIVE__BASE_URL']}/{path}",
        headers={
            "Authorization": f"Bearer {os.environ['MATON_API_KEY']}",
            "Maton-Connection": connection_id,
        },
        json=body,
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["data"]


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _cursor_param(vcr: Cassette, path: str, start: int, stop: int) -> list[str]:
    """The `updated_since` of the first request to `path` in interactions start:stop, if any."""
    for request, _ in vcr.data[start:stop]:
        if request.method == "GET" and request.path.endswith(f"/{path}"):
            return [value for name, value in request.query if name == "updated_since"]
    raise AssertionError(f"no request to {path}")


def test_datasets_layout_loads_each_account_into_its_own_dataset_with_its_own_state(
    gateway: Gateway, vcr: Cassette, clean_env: Path
) -> None:
    pipelines_dir = str(clean_env / "pipelines")

    result = run_accounts("all", tables=TABLES, pipelines_dir=pipelines_dir)

    ids = [account.connection_id for account in result.accounts]
    assert len(ids) == 2 and ids == MatonConnections.from_config().active_ids()
    first = _slices(result, 1)
    companies = []
    for (start, stop), account in zip(first, result.accounts, strict=True):
        assert account.status == "loaded", account.error
        # each account is named after the company its connection reaches, as users/me answered
        (company,) = oracle.companies(vcr, start, stop)
        companies.append(company["company_id"])
        assert account.pipeline_name == f"pipedrive_{company['company_id']}"
        dataset = account_dataset("pipedrive_data", company["company_id"])
        for table in TABLES:
            assert _ids(dataset, table) == set(_answered(vcr, table, start, stop)), (dataset, table)
    # the accounts are different companies whose ids overlap
    a_deals = _answered(vcr, "deals", *first[0])
    b_deals = _answered(vcr, "deals", *first[1])
    assert set(a_deals) & set(b_deals)
    assert any(a_deals[i]["title"] != b_deals[i]["title"] for i in set(a_deals) & set(b_deals))

    renamed = min(a_deals)
    write_through_gateway("PATCH", f"api/v2/deals/{renamed}", {"title": "Renamed in account A"})
    second_start = first[1][1] + 2  # the listing above and the change

    again = run_accounts(ids, tables=TABLES, pipelines_dir=pipelines_dir)

    second = _slices(again, second_start + 1)  # after the check of the connections
    for (start, stop), before in zip(second, first, strict=True):
        # each account continues from the last update_time it loaded itself
        latest = max(_moment(record["update_time"]) for record in _answered(vcr, "deals", *before).values())
        assert [_moment(value) for value in _cursor_param(vcr, "api/v2/deals", start, stop)] == [latest]
    a_dataset, b_dataset = (account_dataset("pipedrive_data", company) for company in companies)
    assert renamed in _answered(vcr, "deals", *second[0])
    assert renamed not in _answered(vcr, "deals", *second[1])
    assert _query(f"select title from {a_dataset}.deals where id = ?", renamed) == [("Renamed in account A",)]
    assert _query(f"select title from {b_dataset}.deals where id = ?", renamed) == [
        (b_deals[renamed]["title"],)
    ]


def test_shared_layout_keeps_each_accounts_rows_apart(
    gateway: Gateway, vcr: Cassette, clean_env: Path
) -> None:
    pipelines_dir = str(clean_env / "pipelines")
    a, b = MatonConnections.from_config().active_ids()
    # a person only account B has: A's reconciliation must not take it for one of A's deleted persons
    only_in_b = _write_to(b, "POST", "api/v2/persons", {"name": "Only in account B"})["id"]

    result = run_accounts([a, b], layout="shared", tables=TABLES, pipelines_dir=pipelines_dir)

    assert [account.status for account in result.accounts] == ["loaded", "loaded"]
    first = _slices(result, 3)
    # rows are keyed by the company each connection reaches, as users/me answered
    ca, cb = (oracle.companies(vcr, start, stop)[0]["company_id"] for start, stop in first)
    assert only_in_b in _ids("pipedrive_data", "persons", cb) - _ids("pipedrive_data", "persons", ca)
    for company_id, (start, stop) in zip((ca, cb), first, strict=True):
        for table in TABLES:
            assert _ids("pipedrive_data", table, company_id) == set(_answered(vcr, table, start, stop))
    # one deal id in both accounts: two rows
    both = _ids("pipedrive_data", "deals", ca) & _ids("pipedrive_data", "deals", cb)
    assert both
    twice = _query("select id, count(*) from pipedrive_data.deals group by id having count(*) = 2")
    assert {row[0] for row in twice} == both
    assert result[a].rows["deals"] == len(_answered(vcr, "deals", *first[0]))
    b_before = {table: _rows("pipedrive_data", table, cb) for table in TABLES}

    # account A: a deal renamed, one deleted, a person deleted, every pipeline deleted
    a_deals = sorted(_ids("pipedrive_data", "deals", ca))
    renamed, deleted = a_deals[0], a_deals[1]
    write_through_gateway("PATCH", f"api/v2/deals/{renamed}", {"title": "Renamed in account A"})
    write_through_gateway("DELETE", f"api/v2/deals/{deleted}")
    gone_person = min(_ids("pipedrive_data", "persons", ca) & _ids("pipedrive_data", "persons", cb))
    write_through_gateway("DELETE", f"api/v2/persons/{gone_person}")
    a_pipelines = sorted(_ids("pipedrive_data", "pipelines", ca))
    for pipeline_id in a_pipelines:
        write_through_gateway("DELETE", f"api/v2/pipelines/{pipeline_id}")
    start = first[1][1] + 3 + len(a_pipelines) + 1  # the changes, then the check of the connections

    with reconciling_deletes():
        again = run_accounts([a], layout="shared", tables=TABLES, pipelines_dir=pipelines_dir)

    assert again[a].status == "loaded", again[a].error
    ((start, stop),) = _slices(again, start)
    assert stop == len(vcr.data)
    # B's rows are as they were, in every table, the replaced ones included
    assert {table: _rows("pipedrive_data", table, cb) for table in TABLES} == b_before
    # A's incremental changes
    assert _query("select title from pipedrive_data.deals where company_id = ? and id = ?", ca, renamed) == [
        ("Renamed in account A",)
    ]
    assert _query(
        "select is_deleted from pipedrive_data.deals where company_id = ? and id = ?", ca, deleted
    ) == [(True,)]
    # the reconciliation flagged A's deleted person only, not B's person of the same id
    flagged = _query("select company_id, id from pipedrive_data.persons where is_deleted")
    assert flagged == [(ca, gone_person)]
    # A's replaced tables are what A's lists answer now: no pipeline left, stages as listed
    assert not _answered(vcr, "pipelines", start, stop)
    assert _ids("pipedrive_data", "pipelines", ca) == set()
    assert _ids("pipedrive_data", "stages", ca) == set(_answered(vcr, "stages", start, stop))
    assert again[a].rows.get("pipelines", 0) == 0


def test_a_failing_account_does_not_lose_the_others(gateway: Gateway, vcr: Cassette, clean_env: Path) -> None:
    a, b = MatonConnections.from_config().active_ids()

    outcome = CliRunner().invoke(
        cli, ["run", "--connections", f"{a},{UNKNOWN_CONNECTION},{b}", "--resources", "deals"]
    )

    assert outcome.exit_code == 1, outcome.output
    assert f"Account {UNKNOWN_CONNECTION}: FAILED" in outcome.stderr
    assert "pipedrive-source connections list" in outcome.stderr
    assert UNKNOWN_CONNECTION in outcome.stderr.splitlines()[-1]
    companies = [company["company_id"] for company in oracle.companies(vcr)]
    assert len(companies) == 2
    for connection_id in (a, b):
        assert f"Account {connection_id} (" in outcome.stdout
    for company_id in companies:
        assert _ids(account_dataset("pipedrive_data", company_id), "deals")
        assert f"(pipeline {account_pipeline_name('pipedrive', company_id)})" in outcome.stdout
    tables = _query(
        "select table_schema from information_schema.tables where table_name = 'deals' "
        "and table_schema not like '%\\_staging' escape '\\' order by 1"
    )
    assert [row[0] for row in tables] == sorted(account_dataset("pipedrive_data", i) for i in companies)
