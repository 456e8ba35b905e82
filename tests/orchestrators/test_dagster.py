"""The Dagster definitions (`pipelines/dagster_pipedrive.py`) materialized in process against the simulator.

Two Maton connections, one partition each: every partition loads its account's tables into its own dataset
of one DuckDB file in the test's temporary folder.
"""

import importlib.util
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import Any

import dagster as dg
import duckdb
import pytest

from pipedrive_source.accounts import account_dataset
from pipedrive_source.testing import simulator

MODULE = Path(__file__).resolve().parents[2] / "pipelines" / "dagster_pipedrive.py"
TABLES = ("deals", "persons", "organizations", "activities", "products")


def load_module() -> ModuleType:
    """The definitions file as `dagster dev -f` loads it: by path, with the environment as it is."""
    spec = importlib.util.spec_from_file_location("dagster_pipedrive", MODULE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def sim(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with simulator(seed=5, deals=100, connections=2, api_key="dagster-test-key", rate_limit=None) as running:
        monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", running.base_url)
        monkeypatch.setenv("SOURCES__PIPEDRIVE__MATON_API_KEY", running.api_key)
        monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", str(clean_env / "pipedrive.duckdb"))
        yield running


def live_rows(database: Path, dataset: str, table: str) -> int:
    # Pipedrive lists deleted deals for 30 days, with status `deleted`; the simulator counts live records
    where = " where status <> 'deleted'" if table == "deals" else ""
    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(f"select count(*) from {dataset}.{table}{where}").fetchone()[0]


def test_definitions_load_without_credentials(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = ["21fd90f9-5d3b-4a8e-9c51-0c4a3f3e7b11", "8e0b6c2a-1f44-4d2e-a0b5-5a9f2c1d3e22"]
    monkeypatch.setenv("PIPEDRIVE_CONNECTION_IDS", ",".join(ids))

    module = load_module()

    defs = module.defs
    dg.Definitions.validate_loadable(defs)
    job = defs.resolve_job_def("pipedrive_job")
    assert job.partitions_def is not None
    assert job.partitions_def.get_partition_keys() == ids
    assert dg.validate_run_config(job) == dg.validate_run_config(job, {})
    keys = {key.to_user_string() for key in defs.resolve_all_asset_keys()}
    assert {f"pipedrive/{table}" for table in TABLES} <= keys
    # several resources fill one table: one asset each table, none per resource
    assert "pipedrive/archived_deals" not in keys and "pipedrive/deals_deletes" not in keys
    assets = defs.get_assets_def(dg.AssetKey(["pipedrive", "deals"]))
    assert assets.op.pool == module.POOL


def test_schedule_requests_every_account_each_day(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = ["21fd90f9-5d3b-4a8e-9c51-0c4a3f3e7b11", "8e0b6c2a-1f44-4d2e-a0b5-5a9f2c1d3e22"]
    defs = load_module().pipedrive_definitions(ids)
    schedule = defs.resolve_schedule_def("pipedrive_daily")

    def requests_on(day: datetime) -> list[dg.RunRequest]:
        with dg.build_schedule_context(
            repository_def=defs.get_repository_def(), scheduled_execution_time=day
        ) as context:
            return list(schedule.evaluate_tick(context).run_requests or [])

    monday = requests_on(datetime(2026, 12, 7, 3, tzinfo=timezone.utc))
    tuesday = requests_on(datetime(2026, 12, 8, 3, tzinfo=timezone.utc))

    assert schedule.cron_schedule == "0 3 * * *"
    assert [request.partition_key for request in monday] == ids
    assert [request.partition_key for request in tuesday] == ids
    # a distinct run key per account and day: each day runs every account once
    assert len({request.run_key for request in monday + tuesday}) == 4


def test_materialize_loads_each_account_into_its_dataset(sim: Any, clean_env: Path) -> None:
    defs = load_module().pipedrive_definitions(sim.connection_ids)
    assets = defs.get_assets_def(dg.AssetKey(["pipedrive", "deals"]))

    for connection_id in sim.connection_ids:
        result = dg.materialize([assets], partition_key=connection_id)

        assert result.success
        materialized = {event.asset_key for event in result.get_asset_materialization_events()}
        assert materialized == set(assets.keys)
    for connection_id in sim.connection_ids:
        account = sim.account(connection_id)
        # each partition loads into the dataset of the company its connection reaches
        dataset = account_dataset("pipedrive_data", account.company["company_id"])
        loaded = {table: live_rows(clean_env / "pipedrive.duckdb", dataset, table) for table in TABLES}
        assert loaded == {table: account.count(table) for table in TABLES}
