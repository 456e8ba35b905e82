"""End-to-end into a real PostgreSQL: the whole CRM, then an incremental run after changes in Pipedrive.

The first run is Python (`make_pipeline(destination=dlt.destinations.postgres(...))`), the second the command
line (`pipedrive-source run --destination postgres`, the credentials in `DESTINATION__POSTGRES__CREDENTIALS`):
both keep the same pipeline state. The tables are read back with psycopg2, as a user checks a warehouse.

Replays `cassettes/test_postgres/`, recorded from the simulator (`--record-mode=rewrite`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import psycopg2
import pytest
from click.testing import CliRunner
from vcr.cassette import Cassette

from pipedrive_source import pipedrive_source
from pipedrive_source.cli import cli, run  # noqa: F401 - registers the command
from pipedrive_source.custom_fields import is_field_code
from pipedrive_source.pipeline import make_pipeline
from pipedrive_source.pipeline import run as run_pipeline
from pipedrive_source.settings import ENDPOINTS
from tests.e2e.conftest import RequestCounter
from tests.e2e.oracle import endpoint_rows
from tests.warehouses.answers import (
    CREATED,
    NEW_EMAILS,
    RENAMED,
    change_the_crm,
    custom_field_types,
    tables,
)
from tests.warehouses.postgres import Postgres

pytestmark = [pytest.mark.vcr, pytest.mark.usefixtures("gateway")]

PIPELINE = "pipedrive_postgres"
DATASET = "pipedrive_crm"

TIMESTAMP = "timestamp with time zone"
COLUMN_TYPES = {
    ("deals", "id"): "bigint",
    ("deals", "value"): "numeric",
    ("deals", "update_time"): TIMESTAMP,
    ("deals", "add_time"): TIMESTAMP,
    ("deals", "expected_close_date"): "date",
    ("deals", "is_deleted"): "boolean",
    ("deals", "title"): "character varying",
    ("deals", "label_ids"): "jsonb",
    ("persons", "emails"): "jsonb",
    ("persons", "phones"): "jsonb",
    ("persons", "update_time"): TIMESTAMP,
    ("organizations", "id"): "bigint",
    ("activities", "done"): "boolean",
    ("activities", "due_date"): "date",
    ("products", "id"): "bigint",
    ("notes", "update_time"): TIMESTAMP,
    ("users", "created"): TIMESTAMP,
    ("leads", "id"): "character varying",
    ("stages", "pipeline_id"): "bigint",
}
"""Column types as `information_schema.columns` names them (the DuckDB equivalents: see `tests/e2e`)."""
CUSTOM_FIELD_TYPES = {
    "double": "double precision",
    "monetary": "numeric",
    "date": "date",
    "enum": "character varying",
    "set": "jsonb",
    "varchar": "character varying",
    "text": "character varying",
    "phone": "character varying",
    "user": "bigint",
    "org": "bigint",
    "people": "bigint",
    "address": "character varying",
    "varchar_auto": "character varying",
    "daterange": "date",
    "time": "time without time zone",
    "timerange": "time without time zone",
}
"""The column type of each custom field type Pipedrive has (`custom_fields.field_type`)."""


def _query(postgres: Postgres, sql: str) -> list[tuple[Any, ...]]:
    with psycopg2.connect(postgres.credentials) as connection, connection.cursor() as cursor:
        cursor.execute(f"set search_path to {DATASET}")
        cursor.execute(sql)
        return [tuple(row) for row in cursor.fetchall()]


def _columns(postgres: Postgres) -> dict[tuple[str, str], str]:
    rows = _query(
        postgres,
        "select table_name, column_name, data_type from information_schema.columns "
        f"where table_schema = '{DATASET}'",
    )
    return {(table, column): data_type for table, column, data_type in rows}


def _check_tables_mirror_the_api(postgres: Postgres, vcr: Cassette, stop: int | None) -> None:
    """Every table holds each record the API answered, once."""
    for table, endpoints in tables().items():
        api = endpoint_rows(vcr, endpoints, stop=stop)
        assert api, f"the API returned no {table}"
        key = endpoints[0].primary_key
        keys = [row[0] for row in _query(postgres, f"select {key} from {table}")]
        assert sorted(keys, key=str) == sorted(api, key=str), table


def _check_types(postgres: Postgres, vcr: Cassette, stop: int) -> None:
    columns = _columns(postgres)
    assert {column: columns.get(column) for column in COLUMN_TYPES} == COLUMN_TYPES
    assert [column for column in columns if is_field_code(column[1][:40])] == []
    # every custom field the API described has a column under its name, typed after its Pipedrive type
    api_types = custom_field_types(vcr, stop=stop)
    named = _query(
        postgres, "select entity, field_code, column_name from custom_fields where is_custom_field"
    )
    assert {code for _, code, _ in named} == set(api_types)
    assert {api_types[code] for _, code, _ in named} >= {"double", "monetary", "date", "enum", "set", "user"}
    found = {(entity, column): columns.get((entity, column)) for entity, _, column in named}
    expected = {(entity, column): CUSTOM_FIELD_TYPES[api_types[code]] for entity, code, column in named}
    assert found == expected


def test_postgres_gets_the_crm_then_merges_changes(
    postgres: Postgres,
    vcr: Cassette,
    sent: RequestCounter,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the pipelines' state lands under DLT_DATA_DIR, the test's folder (`clean_env`), for both runs
    pipeline = make_pipeline(
        PIPELINE, destination=dlt.destinations.postgres(postgres.credentials), dataset_name=DATASET
    )
    run_pipeline(pipeline, pipedrive_source())

    run_1 = len(sent)
    _check_tables_mirror_the_api(postgres, vcr, stop=run_1)
    _check_types(postgres, vcr, stop=run_1)
    api_persons = endpoint_rows(vcr, tables()["persons"], stop=run_1)
    person_id, person = next((i, p) for i, p in sorted(api_persons.items()) if len(p.get("emails") or []) > 1)
    ((emails,),) = _query(postgres, f"select emails from persons where id = {person_id}")
    assert emails == person["emails"]  # jsonb reads back as the list the API sent
    deleted_before = {
        i for i, deal in endpoint_rows(vcr, tables()["deals"], stop=run_1).items() if deal["is_deleted"]
    }
    assert {row[0] for row in _query(postgres, "select id from deals where is_deleted")} == deleted_before

    open_deals = [
        row[0] for row in _query(postgres, "select id from deals where status = 'open' order by id")
    ]
    changes = change_the_crm(open_deals, person_id)
    sent.clear()
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", postgres.credentials)

    result = CliRunner().invoke(
        cli, ["run", "--destination", "postgres", "--dataset-name", DATASET, "--pipeline-name", PIPELINE]
    )

    assert result.exit_code == 0, result.output
    # incremental: one request per list (the changes fit a page)
    incremental = [e.path for e in ENDPOINTS if e.incremental and e.enabled_by_default]
    assert {path: sent.to(path) for path in incremental} == dict.fromkeys(incremental, 1)
    _check_tables_mirror_the_api(postgres, vcr, stop=None)
    for table, endpoints in tables().items():
        key = endpoints[0].primary_key
        duplicates = _query(postgres, f"select {key} from {table} group by {key} having count(*) > 1")
        assert duplicates == [], table
    renamed = _query(postgres, f"select id, title, value from deals where id in {changes.renamed}")
    assert sorted(renamed) == [(deal_id, RENAMED, Decimal("99.25")) for deal_id in sorted(changes.renamed)]
    assert _query(postgres, f"select is_deleted from deals where id = {changes.deleted}") == [(True,)]
    ((title, value, currency, update_time),) = _query(
        postgres, f"select title, value, currency, update_time from deals where id = {changes.created}"
    )
    assert (title, value, currency) == (CREATED, Decimal("1234.5"), "EUR")
    assert isinstance(update_time, datetime) and update_time.utcoffset() is not None
    assert _query(postgres, f"select emails from persons where id = {changes.person}") == [(NEW_EMAILS,)]
    ((loads,),) = _query(postgres, "select count(*) from _dlt_loads where status = 0")
    assert loads == 2
