"""End-to-end: every list entity beyond the CRM core, the field definitions, and mail threads only on demand.

Replays `cassettes/test_catalog/`, recorded from the simulator through the Maton layer (see `conftest.py`).
Expected values come from what the API answered (the cassette), never from the code under test. Records
deleted between the runs are deleted on the simulator while recording; the replay gets the same answers.
"""

import json
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

import dlt
import pytest
from vcr.cassette import Cassette

from pipedrive_source import pipedrive_source
from pipedrive_source.settings import ENDPOINTS_BY_NAME, FIELDS_ENDPOINTS, Endpoint
from tests.e2e import oracle
from tests.e2e.conftest import Gateway, RequestCounter, write_through_gateway

pytestmark = pytest.mark.vcr

REPLACED = (
    "lead_labels",
    "lead_sources",
    "files",
    "filters",
    "activity_types",
    "currencies",
    "goals",
    "call_logs",
    "roles",
    "permission_sets",
    "projects",
    "archived_projects",
    "tasks",
)
MERGED = ("leads", "archived_leads", "archived_deals")
FIELD_TABLES = tuple(fields.name for fields in FIELDS_ENDPOINTS)
CATALOG = (*MERGED, *REPLACED, *FIELD_TABLES, "custom_fields")

DELETED = (
    "lead_labels",
    "files",
    "filters",
    "activity_types",
    "goals",
    "call_logs",
    "roles",
    "permission_sets",
    "projects",
    "tasks",
)
"""Tables of which the test deletes a record in Pipedrive between the runs (lead sources and currencies
cannot be deleted)."""

TIMESTAMP = "TIMESTAMP WITH TIME ZONE"
DECIMAL = "DECIMAL(38,9)"
KEY_COLUMNS = {
    ("leads", "id"): "VARCHAR",
    ("leads", "update_time"): TIMESTAMP,
    ("leads", "expected_close_date"): "DATE",
    ("leads", "value__amount"): DECIMAL,
    ("leads", "is_archived"): "BOOLEAN",
    ("leads", "label_ids"): "JSON",
    ("deals", "archive_time"): TIMESTAMP,
    ("deals", "value"): DECIMAL,
    ("lead_labels", "id"): "VARCHAR",
    ("lead_labels", "update_time"): TIMESTAMP,
    ("lead_sources", "name"): "VARCHAR",
    ("files", "id"): "BIGINT",
    ("files", "add_time"): TIMESTAMP,
    ("files", "file_size"): "BIGINT",
    ("filters", "last_used_time"): TIMESTAMP,
    ("activity_types", "active_flag"): "BOOLEAN",
    ("currencies", "decimal_points"): "BIGINT",
    ("goals", "duration__start"): "DATE",
    ("goals", "expected_outcome__target"): DECIMAL,
    ("goals", "is_active"): "BOOLEAN",
    ("call_logs", "id"): "VARCHAR",
    ("call_logs", "start_time"): TIMESTAMP,
    ("roles", "parent_role_id"): "BIGINT",
    ("permission_sets", "assignment_count"): "BIGINT",
    ("projects", "start_date"): "DATE",
    ("projects", "archive_time"): TIMESTAMP,
    ("projects", "budget"): DECIMAL,
    ("tasks", "is_done"): "BOOLEAN",
    ("tasks", "update_time"): TIMESTAMP,
    ("deal_fields", "options"): "JSON",
    ("deal_fields", "is_custom_field"): "BOOLEAN",
    ("lead_fields", "update_time"): TIMESTAMP,
    ("note_fields", "id"): "BIGINT",
}


def _query(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql(sql)]


def _columns(pipeline: dlt.Pipeline) -> dict[tuple[str, str], str]:
    rows = _query(
        pipeline,
        "select table_name, column_name, data_type from information_schema.columns "
        "where table_schema = 'pipedrive_data'",
    )
    return {(table, column): data_type for table, column, data_type in rows}


def _loaded(pipeline: dlt.Pipeline) -> dict[str, int]:
    counts = pipeline.last_trace.last_normalize_info.row_counts
    return {table: rows for table, rows in counts.items() if not table.startswith("_dlt")}


def _tables(names: Iterable[str]) -> dict[str, list[Endpoint]]:
    tables: dict[str, list[Endpoint]] = {}
    for name in names:
        endpoint = ENDPOINTS_BY_NAME[name]
        tables.setdefault(endpoint.table, []).append(endpoint)
    return tables


def _ids(pipeline: dlt.Pipeline, table: str, key: str = "id") -> set[Any]:
    return {row[0] for row in _query(pipeline, f"select {key} from {table}")}


def _check_tables_mirror_the_api(
    pipeline: dlt.Pipeline, vcr: Cassette, names: Iterable[str], start: int, stop: int | None
) -> None:
    for table, endpoints in _tables(names).items():
        api = oracle.endpoint_rows(vcr, endpoints, start, stop)
        assert api, f"the API returned no {table}"
        key = endpoints[0].primary_key
        assert _ids(pipeline, table, key) == set(api), table
        ((rows,),) = _query(pipeline, f"select count(*) from {table}")
        assert rows == len(api), f"{table}: each record once"


def _check_custom_fields_by_name(
    pipeline: dlt.Pipeline, vcr: Cassette, table: str, fields_path: str, records: dict[Any, dict[str, Any]]
) -> None:
    """Every custom field has its named column; enum and set values land as labels, money as amount and
    currency. v1 leads carry values as top-level keys, v2 projects in `custom_fields`."""
    mapping = dict(
        _query(
            pipeline,
            f"select field_code, column_name from custom_fields where entity = '{table}' and is_custom_field",
        )
    )
    custom = [field for field in oracle.fields(vcr, fields_path) if field.get("is_custom_field")]
    assert {field["field_code"] for field in custom} == set(mapping)
    columns = {column for t, column in _columns(pipeline) if t == table}
    checked = {"enum": 0, "set": 0, "monetary": 0}
    for field in custom:
        column = mapping[field["field_code"]]
        assert column in columns, f"{table}: {field['field_name']} -> {column}"
        if field["field_type"] not in checked:
            continue
        labels = {str(option["id"]): option["label"] for option in field.get("options") or []}
        for record_id, record in records.items():
            value = (record.get("custom_fields") or record).get(field["field_code"])
            if value in (None, "", [], {}):
                continue
            ((loaded, *rest),) = _query(
                pipeline,
                f"select {column}, {column}_currency from {table} where id = '{record_id}'"
                if field["field_type"] == "monetary"
                else f"select {column} from {table} where id = '{record_id}'",
            )
            if field["field_type"] == "enum":
                assert loaded == labels[str(value)]
            elif field["field_type"] == "set":
                options = value.split(",") if isinstance(value, str) else value
                assert json.loads(loaded) == [labels[str(option)] for option in options]
            else:
                amount = value["value"] if isinstance(value, dict) else value
                currency = (
                    value["currency"]
                    if isinstance(value, dict)
                    else record[f"{field['field_code']}_currency"]
                )
                assert (loaded, *rest) == (Decimal(str(amount)), currency)
            checked[field["field_type"]] += 1
            break
    assert all(checked.values()), f"{table}: no custom field value of each type to check: {checked}"


def _check_full_load(pipeline: dlt.Pipeline, vcr: Cassette, run_1: int) -> None:
    _check_tables_mirror_the_api(pipeline, vcr, (*MERGED, *REPLACED), 0, run_1)
    columns = _columns(pipeline)
    assert {column: columns.get(column) for column in KEY_COLUMNS} == KEY_COLUMNS

    leads = oracle.endpoint_rows(vcr, [ENDPOINTS_BY_NAME["leads"]], stop=run_1)
    archived_leads = oracle.endpoint_rows(vcr, [ENDPOINTS_BY_NAME["archived_leads"]], stop=run_1)
    assert leads and archived_leads
    assert _ids(pipeline, "leads where is_archived") == set(archived_leads)
    _check_custom_fields_by_name(pipeline, vcr, "leads", "api/v2/dealFields", {**leads, **archived_leads})
    assert {"priority", "contract_value", "contract_value_currency"} <= {
        c for t, c in columns if t == "leads"
    }

    archived_deals = oracle.endpoint_rows(vcr, [ENDPOINTS_BY_NAME["archived_deals"]], stop=run_1)
    assert _query(pipeline, "select count(*), count(*) filter (where is_archived) from deals") == [
        (len(archived_deals), len(archived_deals))
    ]

    projects = oracle.endpoint_rows(vcr, [ENDPOINTS_BY_NAME["projects"]], stop=run_1)
    archived_projects = oracle.endpoint_rows(vcr, [ENDPOINTS_BY_NAME["archived_projects"]], stop=run_1)
    assert archived_projects and not set(projects) & set(archived_projects)
    assert _ids(pipeline, "projects where archive_time is not null") == set(archived_projects)
    _check_custom_fields_by_name(
        pipeline, vcr, "projects", "api/v2/projectFields", {**projects, **archived_projects}
    )
    assert {"category", "budget", "budget_currency", "delivery_team"} <= {
        c for t, c in columns if t == "projects"
    }

    with_options: list[str] = []
    for fields in FIELDS_ENDPOINTS:
        api = oracle.fields(vcr, fields.path, stop=run_1)
        key = fields.primary_key
        assert _ids(pipeline, fields.name, key) == {field[key] for field in api}
        for field in (field for field in api if field.get("options")):
            ((options,),) = _query(
                pipeline, f"select options from {fields.name} where {key} = '{field[key]}'"
            )
            assert json.loads(options) == field["options"], fields.name
            with_options.append(fields.name)
    assert {"deal_fields", "person_fields", "project_fields", "lead_fields"} <= set(with_options)


def _delete(gateway: Gateway, pipeline: dlt.Pipeline) -> dict[str, Any]:
    """One record of each deletable table deleted in Pipedrive (on the simulator, while recording)."""
    deleted = {}
    for table in DELETED:
        endpoint = ENDPOINTS_BY_NAME[table]
        ((record_id,),) = _query(pipeline, f"select max({endpoint.primary_key}) from {endpoint.table}")
        deleted[table] = record_id
        if gateway.recording:
            gateway.sim.account().delete(table, record_id)
    return deleted


def test_catalog_full_then_incremental_run(
    gateway: Gateway, vcr: Cassette, sent: RequestCounter, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    pipeline = make_pipeline()

    pipeline.run(pipedrive_source().with_resources(*CATALOG))

    run_1 = len(sent)
    _check_full_load(pipeline, vcr, run_1)
    # each fields endpoint is read once, though tables, custom field maps and `custom_fields` all use it
    assert {fields.path: sent.to(fields.path) for fields in FIELDS_ENDPOINTS} == {
        fields.path: 1 for fields in FIELDS_ENDPOINTS
    }
    assert sent.to("api/v1/mailbox/mailThreads") == 0

    renamed, archived = (
        row[0] for row in _query(pipeline, "select id from leads where not is_archived order by id limit 2")
    )
    write_through_gateway("PATCH", f"api/v1/leads/{renamed}", {"title": "Renamed by the catalog test"})
    write_through_gateway("PATCH", f"api/v1/leads/{archived}", {"is_archived": True})
    (open_deal,) = write_through_gateway("GET", "api/v2/deals?limit=1&status=open")
    write_through_gateway("PATCH", f"api/v2/deals/{open_deal['id']}", {"is_archived": True})
    deleted = _delete(gateway, pipeline)
    run_2 = len(sent)

    pipeline.run(pipedrive_source().with_resources(*CATALOG))

    # a replaced table is what the API lists now
    _check_tables_mirror_the_api(pipeline, vcr, REPLACED, run_2, None)
    for table, record_id in deleted.items():
        endpoint = ENDPOINTS_BY_NAME[table]
        still_listed = oracle.endpoint_rows(vcr, [endpoint], start=run_2).get(record_id)
        if still_listed is None:
            assert record_id not in _ids(pipeline, endpoint.table, endpoint.primary_key), table
        else:
            # the API keeps it, flagged: so does the table
            assert still_listed["active_flag"] is False
            assert _query(pipeline, f"select active_flag from {table} where id = {record_id}") == [(False,)]

    # incremental: only what changed, read with one request per list
    loaded = _loaded(pipeline)
    assert loaded["leads"] == 2
    assert loaded["deals"] == 1
    assert _query(pipeline, f"select title, is_archived from leads where id = '{renamed}'") == [
        ("Renamed by the catalog test", False)
    ]
    assert _query(pipeline, f"select is_archived from leads where id = '{archived}'") == [(True,)]
    assert _query(pipeline, f"select is_archived from deals where id = {open_deal['id']}") == [(True,)]
    for path in ("api/v1/leads", "api/v1/leads/archived", "api/v2/deals/archived"):
        assert sent.to(path) == 2, path


def test_mail_threads_load_only_when_picked(
    gateway: Gateway, vcr: Cassette, sent: RequestCounter, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    source = pipedrive_source()
    assert "mail_threads" in source.resources
    assert "mail_threads" not in source.selected_resources
    pipeline = make_pipeline()

    pipeline.run(pipedrive_source().with_resources("mail_threads"))

    mail = ENDPOINTS_BY_NAME["mail_threads"]
    api = oracle.endpoint_rows(vcr, [mail])
    assert sent.to("api/v1/mailbox/mailThreads") >= 4, "every folder is read"
    assert _query(pipeline, "select count(*), count(distinct id) from mail_threads") == [(len(api), len(api))]
    some_id, some = next(iter(api.items()))
    ((parties, last_message),) = _query(
        pipeline, f"select parties__to, last_message_timestamp from mail_threads where id = {some_id}"
    )
    assert json.loads(parties) == some["parties"]["to"]
    assert last_message.utcoffset() is not None

    ((thread_id,),) = _query(pipeline, "select max(id) from mail_threads")
    if gateway.recording:
        gateway.sim.account().delete("mail_threads", thread_id)
    start = len(sent)

    pipeline.run(pipedrive_source().with_resources("mail_threads"))

    after = oracle.endpoint_rows(vcr, [mail], start=start)
    assert _ids(pipeline, "mail_threads") == set(after)
    if thread_id in after:
        assert after[thread_id]["deleted_flag"] == 1
        assert _query(pipeline, f"select deleted_flag from mail_threads where id = {thread_id}") == [(1,)]
    else:
        assert thread_id not in _ids(pipeline, "mail_threads")
