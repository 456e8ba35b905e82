"""End-to-end: the whole CRM into a real DuckDB, then an incremental run after a few changes.

Replays `cassettes/test_load/`, recorded from the simulator through the Maton layer (see `conftest.py`).
Expected values come from what the API answered (the cassette), never from the code under test.
"""

import os
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import dlt
import pytest
import requests
from vcr.cassette import Cassette

from pipedrive_source import pipedrive_source
from pipedrive_source.custom_fields import is_field_code
from pipedrive_source.settings import ENDPOINTS
from tests.e2e import oracle
from tests.e2e.conftest import RequestCounter

pytestmark = pytest.mark.vcr

RENAMED = "Renamed by the e2e test"
CREATED = "Created by the e2e test"


def _query(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql(sql)]


def _columns(pipeline: dlt.Pipeline, table: str) -> dict[str, str]:
    rows = _query(
        pipeline,
        "select column_name, data_type from information_schema.columns "
        f"where table_schema = 'pipedrive_data' and table_name = '{table}'",
    )
    return {name: data_type for name, data_type in rows}


def _loaded(pipeline: dlt.Pipeline) -> dict[str, int]:
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {table: rows for table, rows in counts.items() if not table.startswith("_dlt")}


def _check_full_load(pipeline: dlt.Pipeline, vcr: Cassette, run_1: int) -> None:
    for endpoint in ENDPOINTS:
        api = oracle.records(vcr, endpoint.path, stop=run_1)
        assert api, f"the API returned no {endpoint.name}"
        ids = {row[0] for row in _query(pipeline, f"select id from {endpoint.name}")}
        assert ids == set(api), endpoint.name

    deals = _columns(pipeline, "deals")
    assert deals["update_time"] == "TIMESTAMP WITH TIME ZONE"
    assert deals["expected_close_date"] == "DATE"
    assert deals["value"].startswith("DECIMAL")
    assert _columns(pipeline, "notes")["update_time"] == "TIMESTAMP WITH TIME ZONE"
    assert _columns(pipeline, "users")["created"] == "TIMESTAMP WITH TIME ZONE"

    # no column is named by a 40-hex field code, in any table
    all_columns = _query(
        pipeline,
        "select table_name, column_name from information_schema.columns "
        "where table_schema = 'pipedrive_data'",
    )
    assert [c for c in all_columns if is_field_code(c[1][:40])] == []

    # persons' e-mails form a child table holding what the API sent
    api_persons = oracle.records(vcr, "api/v2/persons", stop=run_1)
    person_id, person = next((i, p) for i, p in api_persons.items() if p.get("emails"))
    emails = _query(
        pipeline,
        "select e.value from persons__emails e join persons p on e._dlt_parent_id = p._dlt_id "
        f"where p.id = {person_id} order by e._dlt_list_idx",
    )
    assert [row[0] for row in emails] == [email["value"] for email in person["emails"]]


def _check_custom_fields(pipeline: dlt.Pipeline, vcr: Cassette, run_1: int) -> None:
    """Every custom field of deals has its named column; enum values land as the option's label."""
    api_deals = oracle.records(vcr, "api/v2/deals", stop=run_1)
    mapping = {
        code: (column, field_type)
        for code, column, field_type in _query(
            pipeline,
            "select field_code, column_name, field_type from custom_fields "
            "where entity = 'deals' and is_custom_field",
        )
    }
    fields = oracle.fields(vcr, "api/v2/dealFields", stop=run_1)
    custom = [field for field in fields if field.get("is_custom_field")]
    assert {field["field_code"] for field in custom} == set(mapping)
    deal_columns = _columns(pipeline, "deals")
    checked = 0
    for field in custom:
        column, field_type = mapping[field["field_code"]]
        if field_type == "set":
            continue
        assert column in deal_columns, f"{field['field_name']} -> {column}"
        if field_type != "enum":
            continue
        labels = {option["id"]: option["label"] for option in field["options"]}
        for deal_id, deal in api_deals.items():
            option = (deal.get("custom_fields") or {}).get(field["field_code"])
            if option is not None:
                assert _query(pipeline, f"select {column} from deals where id = {deal_id}") == [
                    (labels[option],)
                ]
                checked += 1
                break
    assert checked, "no enum custom field value to check"


def _write(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """A write through the same gateway and key as the source (recorded and replayed like the reads)."""
    response = requests.request(
        method,
        f"{os.environ['SOURCES__PIPEDRIVE__BASE_URL']}/{path}",
        headers={"Authorization": f"Bearer {os.environ['MATON_API_KEY']}"},
        json=body,
        timeout=30,
    )
    response.raise_for_status()
    data: dict[str, Any] = response.json()["data"]
    return data


def _mutate(pipeline: dlt.Pipeline) -> tuple[list[int], int, int]:
    """Two deals renamed, one deleted, one created, through the API: the ids touched."""
    open_ids = [
        row[0] for row in _query(pipeline, "select id from deals where status = 'open' order by id limit 3")
    ]
    renamed, deleted = open_ids[:2], open_ids[2]
    for deal_id in renamed:
        _write("PATCH", f"api/v2/deals/{deal_id}", {"title": RENAMED})
    _write("DELETE", f"api/v2/deals/{deleted}")
    created = _write("POST", "api/v2/deals", {"title": CREATED, "value": 1234.5, "currency": "EUR"})
    return renamed, deleted, int(created["id"])


@pytest.mark.usefixtures("gateway")
def test_full_load_then_incremental_run(
    vcr: Cassette, sent: RequestCounter, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    pipeline = make_pipeline()

    pipeline.run(pipedrive_source())

    run_1 = len(sent)
    _check_full_load(pipeline, vcr, run_1)
    _check_custom_fields(pipeline, vcr, run_1)
    api_deals = oracle.records(vcr, "api/v2/deals", stop=run_1)
    deleted_before = {i for i, deal in api_deals.items() if deal["is_deleted"]}
    assert {row[0] for row in _query(pipeline, "select id from deals where is_deleted")} == deleted_before
    # pages of 500: every list of n records took ceil(n / 500) requests, or one when it is empty
    assert sent.to("api/v2/deals") == -(-len(api_deals) // 500)

    renamed, deleted, created_id = _mutate(pipeline)
    sent.clear()

    pipeline.run(pipedrive_source())

    loaded = _loaded(pipeline)
    assert loaded["deals"] == 4
    assert [e.name for e in ENDPOINTS if e.incremental and e.name != "deals" and loaded.get(e.name)] == []
    titles = dict(_query(pipeline, f"select id, title from deals where id in ({renamed[0]}, {renamed[1]})"))
    assert titles == {renamed[0]: RENAMED, renamed[1]: RENAMED}
    assert _query(pipeline, f"select is_deleted from deals where id = {deleted}") == [(True,)]
    created = _query(pipeline, f"select value, currency, update_time from deals where id = {created_id}")
    assert len(created) == 1 and created[0][:2] == (Decimal("1234.5"), "EUR")
    assert isinstance(created[0][2], datetime) and created[0][2].utcoffset() is not None
    # one request per table plus the five fields endpoints read once for the run
    assert len(sent) == len(ENDPOINTS) + 5, sent.paths
    changed = set(oracle.records(vcr, "api/v2/deals", start=run_1))
    assert {*renamed, deleted, created_id} <= changed  # and the re-read boundary second
    assert run_1 > len(sent)
    assert isinstance(_query(pipeline, "select min(expected_close_date) from deals")[0][0], date)
