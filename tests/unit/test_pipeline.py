"""`make_pipeline`: DuckDB memory settings (defaults under configured ones), `_dlt_load_id` on Arrow rows;
`run`: the DuckDB file held open during the load only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
import pytest

from pipedrive_source.pipeline import DUCKDB_SETTINGS, make_pipeline, run


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    monkeypatch.delenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _settings(pipeline: dlt.Pipeline) -> dict[str, Any]:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select name, value from duckdb_settings() "
            "where name in ('memory_limit', 'threads', 'preserve_insertion_order')"
        )
    return dict(rows)


def _load_one_arrow_row(pipeline: dlt.Pipeline) -> None:
    pipeline.run(dlt.resource([pa.table({"id": [1]})], name="deals", primary_key="id"))


def test_duckdb_gets_a_memory_limit_and_the_database_lands_in_the_working_folder(workdir: Path):
    pipeline = make_pipeline("memory_test", pipelines_dir=str(workdir / "pipelines"))

    _load_one_arrow_row(pipeline)

    settings = _settings(pipeline)
    assert settings["memory_limit"] == "183.1 MiB"  # DuckDB shows 192MB in MiB
    assert settings["threads"] == str(DUCKDB_SETTINGS["threads"])
    assert settings["preserve_insertion_order"] == "false"
    assert (workdir / "memory_test.duckdb").exists()


def test_configured_duckdb_settings_win_one_by_one(workdir: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG", '{"memory_limit": "1GB"}')
    pipeline = make_pipeline("configured_test", pipelines_dir=str(workdir / "pipelines"))

    _load_one_arrow_row(pipeline)

    settings = _settings(pipeline)
    assert settings["memory_limit"] == "953.6 MiB"
    assert settings["threads"] == str(DUCKDB_SETTINGS["threads"])


def test_arrow_rows_carry_the_load_id(workdir: Path):
    pipeline = make_pipeline(
        "load_id_test",
        destination=dlt.destinations.duckdb(str(workdir / "given.duckdb")),
        pipelines_dir=str(workdir / "pipelines"),
    )

    _load_one_arrow_row(pipeline)

    load_id = pipeline.last_trace.last_normalize_info.loads_ids[0]
    with pipeline.sql_client() as client:
        assert client.execute_sql("select _dlt_load_id from deals") == [(load_id,)]
    assert (workdir / "given.duckdb").exists()


def test_run_loads_every_job_into_duckdb_and_leaves_the_file_closed(workdir: Path):
    pipeline = make_pipeline("kept_open_test", pipelines_dir=str(workdir / "pipelines"))
    tables = [
        dlt.resource(
            [pa.table({"id": [1, 2], "name": ["a", "b"]})],
            name=name,
            primary_key="id",
            write_disposition="merge",
        )
        for name in ("deals", "persons", "stages")
    ]

    run(pipeline, dlt.source(lambda: tables, name="pipedrive")())
    run(pipeline, dlt.source(lambda: tables[:1], name="pipedrive")())  # a second run on the same pipeline

    # closed after the load: another process (here a read-only connection) can open the file
    with duckdb.connect(str(workdir / "kept_open_test.duckdb"), read_only=True) as db:
        counts = {
            name: db.execute(f"select count(*) from pipedrive_data.{name}").fetchone()[0]
            for name in ("deals", "persons", "stages")
        }
    assert counts == {"deals": 2, "persons": 2, "stages": 2}
    # the merge's staging copy is emptied once loaded: the database does not keep the last load twice
    with duckdb.connect(str(workdir / "kept_open_test.duckdb"), read_only=True) as db:
        staged = db.execute("select count(*) from pipedrive_data_staging.deals").fetchone()[0]
    assert staged == 0


def test_run_into_another_destination_opens_no_duckdb_file(workdir: Path):
    pipeline = make_pipeline(
        "files_test",
        destination=dlt.destinations.filesystem(str(workdir / "bucket")),
        pipelines_dir=str(workdir / "pipelines"),
    )

    run(pipeline, dlt.source(lambda: [dlt.resource([{"id": 1}], name="deals")], name="pipedrive")())

    assert list((workdir / "bucket").rglob("deals/*"))
    assert not list(workdir.glob("*.duckdb"))
