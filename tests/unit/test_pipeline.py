"""`make_pipeline`: DuckDB memory settings (defaults under configured ones), `_dlt_load_id` on Arrow rows;
`run`: the DuckDB file held open during the load only, two load jobs at a time for a small load only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import duckdb
import pyarrow as pa
import pytest
from dlt.load.load import Load

from pipedrive_source import load_workers
from pipedrive_source.load_workers import jobs_at_a_time, memory_limit_bytes
from pipedrive_source.pipeline import DUCKDB_SETTINGS, PIPELINE_SETTINGS, make_pipeline, run


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


def _merged_tables(*names: str) -> Any:
    """A source of two-row Arrow tables, merged on `id`, one per name."""
    tables = [
        dlt.resource(
            [pa.table({"id": [1, 2], "name": ["a", "b"]})],
            name=name,
            primary_key="id",
            write_disposition="merge",
        )
        for name in names
    ]
    return dlt.source(lambda: tables, name="pipedrive")()


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

    run(pipeline, _merged_tables("deals", "persons", "stages"))
    run(pipeline, _merged_tables("deals"))  # a second run on the same pipeline

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


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ("192MB", 192_000_000),
        ("2GiB", 2 * 1024**3),
        ("1.5GB", 1_500_000_000),
        (" 500 KiB ", 500 * 1024),
        ("4096", 4096),
        ("80%", None),
        ("-1", None),
        ("lots", None),
    ],
)
def test_duckdb_memory_limits_read_as_bytes(setting: str, expected: int | None):
    assert memory_limit_bytes(setting) == expected


def test_two_jobs_at_a_time_only_while_every_table_is_small():
    # 20,000 deals: activities' and deals' parquet files
    assert jobs_at_a_time([2_718_957, 2_001_701, 13_857], "192MB") == 2
    assert jobs_at_a_time([], "192MB") == 2
    # 200,000 deals: more than a twelfth of the default limit; a larger limit takes it
    assert jobs_at_a_time([27_000_000, 20_000_000], "192MB") == 1
    assert jobs_at_a_time([27_000_000, 20_000_000], "2GB") == 2
    # a limit that is not a size (a share of the machine's memory): one at a time
    assert jobs_at_a_time([1_000], "80%") == 1


@pytest.fixture
def load_jobs_at_a_time(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of load jobs at a time of each package loaded."""
    seen: list[int] = []
    load_package = Load.load_single_package

    def recording(self: Load, *args: Any, **kwargs: Any) -> None:
        seen.append(self.config.workers)
        load_package(self, *args, **kwargs)

    monkeypatch.setattr(Load, "load_single_package", recording)
    return seen


def test_a_small_load_runs_two_jobs_at_a_time_and_the_setting_goes_back(
    workdir: Path, load_jobs_at_a_time: list[int]
):
    pipeline = make_pipeline("small_load_test", pipelines_dir=str(workdir / "pipelines"))

    run(pipeline, _merged_tables("deals", "persons", "stages"))

    assert load_jobs_at_a_time == [load_workers.PARALLEL_JOBS]
    assert dlt.config.get("load.workers") == PIPELINE_SETTINGS["load.workers"] == 1
    with duckdb.connect(str(workdir / "small_load_test.duckdb"), read_only=True) as db:
        assert db.execute("select count(*) from pipedrive_data.persons").fetchone() == (2,)


def test_a_large_load_runs_one_job_at_a_time(
    workdir: Path, load_jobs_at_a_time: list[int], monkeypatch: pytest.MonkeyPatch
):
    # every table counts as large
    monkeypatch.setattr(load_workers, "SMALL_TABLE_SHARE", 1e-12)
    pipeline = make_pipeline("large_load_test", pipelines_dir=str(workdir / "pipelines"))

    run(pipeline, _merged_tables("deals", "persons", "stages"))

    assert load_jobs_at_a_time == [1]


def test_configured_load_workers_are_used_as_they_are(
    workdir: Path, load_jobs_at_a_time: list[int], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("LOAD__WORKERS", "3")
    pipeline = make_pipeline("configured_workers_test", pipelines_dir=str(workdir / "pipelines"))

    run(pipeline, _merged_tables("deals", "persons", "stages"))

    assert load_jobs_at_a_time == [3]


def test_another_destination_loads_as_configured(workdir: Path, load_jobs_at_a_time: list[int]):
    pipeline = make_pipeline(
        "bucket_workers_test",
        destination=dlt.destinations.filesystem(str(workdir / "bucket")),
        pipelines_dir=str(workdir / "pipelines"),
    )

    run(pipeline, _merged_tables("deals", "persons", "stages"))

    assert load_jobs_at_a_time == [PIPELINE_SETTINGS["load.workers"]]
