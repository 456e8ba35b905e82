"""End-to-end into dlt's `filesystem` destination as Parquet (a local folder standing for S3/GCS/Azure), then
an incremental run after changes in Pipedrive.

A plain filesystem cannot merge: dlt loads the merged tables (deals, persons, ...) append-only, one set of
files per load, and warns that it falls back to append; the replaced tables (pipelines, stages, users, ...)
are replaced. The newest row per id is the one of the latest load (`LATEST`, the query the README shows).

Replays `cassettes/test_filesystem/`, recorded from the simulator (`--record-mode=rewrite`).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from vcr.cassette import Cassette

from pipedrive_source import pipedrive_source
from pipedrive_source.pipeline import make_pipeline
from tests.e2e.conftest import RequestCounter
from tests.e2e.oracle import endpoint_rows
from tests.warehouses.answers import CREATED, NEW_EMAILS, RENAMED, change_the_crm, tables

pytestmark = [pytest.mark.vcr, pytest.mark.usefixtures("gateway")]

DATASET = "pipedrive_crm"
MERGED = ("deals", "persons", "organizations", "activities", "products", "notes", "leads")
REPLACED = ("pipelines", "stages", "users", "lead_labels", "activity_types", "currencies")

LATEST = """
select * from read_parquet('{folder}/*.parquet', union_by_name = true)
qualify row_number() over (partition by id order by _dlt_load_id desc) = 1
"""
"""The newest row of each record: the one of the latest load (`_dlt_load_id` grows with each load)."""

UTC_TIMESTAMP = pa.timestamp("us", tz="UTC")
ARROW_TYPES = {
    ("deals", "id"): pa.int64(),
    ("deals", "update_time"): UTC_TIMESTAMP,
    ("deals", "add_time"): UTC_TIMESTAMP,
    ("deals", "expected_close_date"): pa.date32(),
    ("deals", "is_deleted"): pa.bool_(),
    ("deals", "title"): pa.string(),
    ("notes", "update_time"): UTC_TIMESTAMP,
    ("users", "created"): UTC_TIMESTAMP,
    ("activities", "done"): pa.bool_(),
    ("leads", "id"): pa.string(),
}


def _files(bucket: Path, table: str) -> list[Path]:
    return sorted((bucket / DATASET / table).iterdir())


def _read(bucket: Path, table: str) -> pa.Table:
    """All the table's Parquet files, as one Arrow table."""
    parts = [pq.read_table(path) for path in _files(bucket, table)]
    return pa.concat_tables(parts, promote_options="default")


def _keys(rows: pa.Table, key: str) -> list[Any]:
    return sorted(rows.column(key).to_pylist(), key=str)


def _latest(bucket: Path, table: str, columns: str, where: str = "true") -> list[tuple[Any, ...]]:
    latest = LATEST.format(folder=bucket / DATASET / table)
    return duckdb.sql(f"select {columns} from ({latest}) where {where} order by id").fetchall()


def test_parquet_files_hold_the_crm_and_the_newest_row_per_id(
    vcr: Cassette, sent: RequestCounter, clean_env: Path
) -> None:
    bucket = clean_env / "bucket"
    pipeline = make_pipeline(
        "pipedrive_files",
        destination=dlt.destinations.filesystem(bucket_url=bucket.as_uri()),
        dataset_name=DATASET,
        pipelines_dir=str(clean_env / "pipelines"),
    )

    pipeline.run(pipedrive_source(), loader_file_format="parquet")

    run_1 = len(sent)
    for table, endpoints in tables().items():
        assert _files(bucket, table) and all(path.suffix == ".parquet" for path in _files(bucket, table))
        api = endpoint_rows(vcr, endpoints, stop=run_1)
        assert _keys(_read(bucket, table), endpoints[0].primary_key) == sorted(api, key=str), table
    schemas = {table: _read(bucket, table).schema for table, _ in ARROW_TYPES}
    assert {(t, c): schemas[t].field(c).type for t, c in ARROW_TYPES} == ARROW_TYPES
    value = schemas["deals"].field("value").type
    assert pa.types.is_decimal(value), value
    api_persons = endpoint_rows(vcr, tables()["persons"], stop=run_1)
    person_id, person = next((i, p) for i, p in sorted(api_persons.items()) if len(p.get("emails") or []) > 1)
    persons = {row["id"]: row for row in _read(bucket, "persons").to_pylist()}
    assert persons[person_id]["emails"] == person["emails"]

    open_deals = [row[0] for row in _latest(bucket, "deals", "id", "status = 'open'")]
    changes = change_the_crm(open_deals, person_id)
    files_before = {table: set(_files(bucket, table)) for table in (*MERGED, *REPLACED)}
    sent.clear()

    pipeline.run(pipedrive_source(), loader_file_format="parquet")

    for table in MERGED:
        # append-only: the first load's files stay, the changed rows come in new ones
        assert files_before[table] <= set(_files(bucket, table)), table
    for table in REPLACED:
        assert not files_before[table] & set(_files(bucket, table)), f"{table}: replaced"
        api = endpoint_rows(vcr, tables()[table], start=run_1)
        assert _keys(_read(bucket, table), tables()[table][0].primary_key) == sorted(api, key=str), table
    new_files = sorted(set(_files(bucket, "deals")) - files_before["deals"])
    appended = pa.concat_tables([pq.read_table(path) for path in new_files], promote_options="default")
    changed = {*changes.renamed, changes.deleted, changes.created}
    # the changed deals, each once, among what the API answered (the re-read boundary deal is not loaded)
    assert (
        changed <= set(appended.column("id").to_pylist()) <= set(endpoint_rows(vcr, tables()["deals"], run_1))
    )
    assert appended.num_rows == len(set(appended.column("id").to_pylist()))
    assert (
        _read(bucket, "deals").num_rows
        == len(endpoint_rows(vcr, tables()["deals"], stop=run_1)) + appended.num_rows
    )
    latest = _latest(bucket, "deals", "id, title, value, is_deleted, currency, update_time")
    assert [row[0] for row in latest] == sorted(endpoint_rows(vcr, tables()["deals"]))
    by_id = {row[0]: row[1:] for row in latest}
    assert [by_id[deal_id][:3] for deal_id in changes.renamed] == [(RENAMED, Decimal("99.25"), False)] * 2
    assert by_id[changes.deleted][2] is True
    title, value, _, currency, update_time = by_id[changes.created]
    assert (title, value, currency) == (CREATED, Decimal("1234.5"), "EUR")
    assert isinstance(update_time, datetime) and update_time.utcoffset() is not None
    ((emails,),) = _latest(bucket, "persons", "emails", f"id = {changes.person}")
    assert emails == NEW_EMAILS
