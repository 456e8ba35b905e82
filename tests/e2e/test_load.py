"""End-to-end: the whole CRM into a real DuckDB, then an incremental run after a few changes.

Replays `cassettes/test_load/`, recorded from the simulator through the Maton layer (see `conftest.py`).
Expected values come from what the API answered (the cassette), never from the code under test.
"""

import json
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import dlt
import pytest
from vcr.cassette import Cassette

from pipedrive_source import pipedrive_source
from pipedrive_source.custom_fields import is_field_code
from pipedrive_source.rate_limit import ReadSettings
from pipedrive_source.settings import ENDPOINTS, FIELDS_ENDPOINTS
from tests.e2e import oracle
from tests.e2e.conftest import RequestCounter, write_through_gateway

pytestmark = pytest.mark.vcr

RENAMED = "Renamed by the e2e test"
NEW_EMAILS = [{"value": "new.address@example.com", "primary": True, "label": "work"}]
EMAILS_UNNESTED = (
    'unnest(from_json(emails, \'[{"value": "VARCHAR", "label": "VARCHAR", "primary": "BOOLEAN"}]\'), '
    "recursive := true)"
)
"""The README's way of reading persons' e-mails as rows (value, label, primary)."""
CREATED = "Created by the e2e test"
CORE = (
    "deals",
    "persons",
    "organizations",
    "activities",
    "products",
    "pipelines",
    "stages",
    "notes",
    "users",
)
"""The CRM core this test checks row by row; `test_catalog.py` checks the other entities."""


def _api_records(
    vcr: Cassette, table: str, start: int = 0, stop: int | None = None
) -> dict[Any, dict[str, Any]]:
    """The records the API returned for every list loaded into `table` (archived deals land in `deals`)."""
    found: dict[Any, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        if endpoint.table == table and endpoint.enabled_by_default:
            found.update(oracle.records(vcr, endpoint.path, start, stop))
    return found


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
    for table in CORE:
        api = _api_records(vcr, table, stop=run_1)
        assert api, f"the API returned no {table}"
        ids = {row[0] for row in _query(pipeline, f"select id from {table}")}
        assert ids == set(api), table

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

    # lists stay in their row, as JSON holding what the API sent, and unnest in DuckDB
    assert _columns(pipeline, "persons")["emails"] == "JSON"
    assert _columns(pipeline, "deals")["label_ids"] == "JSON"
    api_persons = oracle.records(vcr, "api/v2/persons", stop=run_1)
    person_id, person = next((i, p) for i, p in api_persons.items() if len(p.get("emails") or []) > 1)
    ((emails,),) = _query(pipeline, f"select emails from persons where id = {person_id}")
    assert json.loads(emails) == person["emails"]
    unnested = _query(pipeline, f"select {EMAILS_UNNESTED} from persons where id = {person_id}")
    assert [row[0] for row in unnested] == [email["value"] for email in person["emails"]]


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
    checked: dict[str, int] = {"enum": 0, "set": 0}
    for field in custom:
        column, field_type = mapping[field["field_code"]]
        assert column in deal_columns, f"{field['field_name']} -> {column}"
        if field_type not in checked:
            continue
        labels = {option["id"]: option["label"] for option in field["options"]}
        for deal_id, deal in api_deals.items():
            option = (deal.get("custom_fields") or {}).get(field["field_code"])
            if option:
                ((value,),) = _query(pipeline, f"select {column} from deals where id = {deal_id}")
                if field_type == "enum":
                    assert value == labels[option]
                else:
                    # a set: the list of its labels, in a JSON column
                    assert deal_columns[column] == "JSON"
                    assert json.loads(value) == [labels[one] for one in option]
                checked[field_type] += 1
                break
    assert all(checked.values()), f"no custom field value of each type to check: {checked}"


def _mutate(pipeline: dlt.Pipeline) -> tuple[list[int], int, int, tuple[int, int]]:
    """Two deals renamed, one deleted, one created, a person's e-mails emptied and another's replaced, through
    the API: the ids touched."""
    open_ids = [
        row[0] for row in _query(pipeline, "select id from deals where status = 'open' order by id limit 3")
    ]
    renamed, deleted = open_ids[:2], open_ids[2]
    for deal_id in renamed:
        write_through_gateway("PATCH", f"api/v2/deals/{deal_id}", {"title": RENAMED})
    write_through_gateway("DELETE", f"api/v2/deals/{deleted}")
    created = write_through_gateway(
        "POST", "api/v2/deals", {"title": CREATED, "value": 1234.5, "currency": "EUR"}
    )
    emptied, replaced = (
        row[0]
        for row in _query(
            pipeline, "select id from persons where json_array_length(emails) > 1 order by id limit 2"
        )
    )
    write_through_gateway("PATCH", f"api/v2/persons/{emptied}", {"emails": []})
    write_through_gateway("PATCH", f"api/v2/persons/{replaced}", {"emails": NEW_EMAILS})
    return renamed, deleted, int(created["id"]), (emptied, replaced)


@pytest.mark.usefixtures("gateway")
def test_full_load_then_incremental_run(
    vcr: Cassette, sent: RequestCounter, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    pipeline = make_pipeline()

    pipeline.run(pipedrive_source())

    run_1 = len(sent)
    _check_full_load(pipeline, vcr, run_1)
    # mail threads hold third parties' mail: not loaded unless picked
    assert sent.to("api/v1/mailbox/mailThreads") == 0
    mail_tables = "select count(*) from information_schema.tables where table_name = 'mail_threads'"
    assert _query(pipeline, mail_tables) == [(0,)]
    _check_custom_fields(pipeline, vcr, run_1)
    api_deals = oracle.records(vcr, "api/v2/deals", stop=run_1)
    deleted_before = {i for i, deal in _api_records(vcr, "deals", stop=run_1).items() if deal["is_deleted"]}
    assert {row[0] for row in _query(pipeline, "select id from deals where is_deleted")} == deleted_before
    # pages of 500: a list of n records takes ceil(n / 500) requests; a full load read in time windows adds
    # one for the newest page (to plan them) and at most one part-filled page per window
    pages = -(-len(api_deals) // 500)
    assert pages <= sent.to("api/v2/deals") <= pages + 1 + ReadSettings().parallel_windows

    renamed, deleted, created_id, (emptied, replaced) = _mutate(pipeline)
    sent.clear()

    pipeline.run(pipedrive_source())

    loaded = _loaded(pipeline)
    assert loaded["deals"] == 4
    assert loaded["persons"] == 2
    unchanged = {e.table for e in ENDPOINTS if e.incremental and e.table not in ("deals", "persons")}
    assert [table for table in unchanged if loaded.get(table)] == []
    # the merge replaces a person's whole list, an emptied one included
    emails = dict(_query(pipeline, f"select id, emails from persons where id in ({emptied}, {replaced})"))
    assert {person_id: json.loads(value) for person_id, value in emails.items()} == {
        emptied: [],
        replaced: NEW_EMAILS,
    }
    assert _query(pipeline, f"select {EMAILS_UNNESTED} from persons where id = {emptied}") == []
    titles = dict(_query(pipeline, f"select id, title from deals where id in ({renamed[0]}, {renamed[1]})"))
    assert titles == {renamed[0]: RENAMED, renamed[1]: RENAMED}
    assert _query(pipeline, f"select is_deleted from deals where id = {deleted}") == [(True,)]
    created = _query(pipeline, f"select value, currency, update_time from deals where id = {created_id}")
    assert len(created) == 1 and created[0][:2] == (Decimal("1234.5"), "EUR")
    assert isinstance(created[0][2], datetime) and created[0][2].utcoffset() is not None
    # one request per incremental list (their changes fit a page), each fields endpoint read once for the run
    incremental = [e.path for e in ENDPOINTS if e.incremental and e.enabled_by_default]
    assert {path: sent.to(path) for path in incremental} == dict.fromkeys(incremental, 1)
    fields_paths = [fields.path for fields in FIELDS_ENDPOINTS]
    assert {path: sent.to(path) for path in fields_paths} == dict.fromkeys(fields_paths, 1)
    changed = set(oracle.records(vcr, "api/v2/deals", start=run_1))
    assert {*renamed, deleted, created_id} <= changed  # and the re-read boundary second
    assert run_1 > len(sent)
    assert isinstance(_query(pipeline, "select min(expected_close_date) from deals")[0][0], date)
