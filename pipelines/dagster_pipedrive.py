"""Dagster definitions: the Pipedrive tables as assets, partitioned by account, materialized daily.

    pip install "pipedrive-source[dagster]"
    export MATON_API_KEY=...                       # or [sources.pipedrive] in .dlt/secrets.toml
    export PIPEDRIVE_CONNECTION_IDS=id1,id2        # optional: the Maton connections (accounts) to load
    dagster dev -f pipelines/dagster_pipedrive.py

Settings, read when the definitions load: `PIPEDRIVE_CONNECTION_IDS` (comma-separated; unset: one partition,
`default`, the key's oldest active connection), `PIPEDRIVE_DESTINATION` (a dlt destination name, default
`duckdb`; its credentials from dlt config, e.g. `DESTINATION__DUCKDB__CREDENTIALS=/data/pipedrive.duckdb`),
`PIPEDRIVE_DATASET` (default `pipedrive_data`). The source's credentials are read from dlt config when a
partition runs, not when the definitions load: the asset specs come from a source made with a placeholder key.

- One asset per table (`pipedrive/deals`, ...). dagster-dlt makes one asset per dlt resource, but several
  resources fill one table here (`deals`, `archived_deals` and `deals_deletes` all land in `deals`), so the
  specs are keyed by table and all tables are materialized together (`can_subset=False`): one pass over the
  API reads every table of an account, as the source is built to.
- One partition per account (Maton connection). A partition asks which company its connection reaches
  (`users/me`) and loads it with that company's own dlt pipeline (`pipedrive_<company id>`, incremental
  state kept in the destination) into its own dataset (`<dataset>_<company id>`, `pipedrive-source`'s
  names): a company reconnected through a new connection continues its tables. The load is
  `pipedrive_source.accounts.run_account()`: from what the destination holds (a dropped dataset or table
  is loaded again in full), one run of a pipeline at a time.
- The schedule `pipedrive_daily` requests every partition each day at 03:00 UTC.
- Maton allows 10 requests/s per API key, shared by all its connections: the assets run in the concurrency
  pool `pipedrive_maton`. Give it one slot so that accounts run one after the other:
  `dagster instance concurrency set pipedrive_maton 1` (or `concurrency: pools: default_limit: 1` in
  `dagster.yaml`).
"""

# No `from __future__ import annotations`: Dagster reads the asset function's annotations when defining it.
import os
from collections.abc import Iterator, Sequence
from typing import Any

import dagster as dg
from dagster_dlt import DagsterDltTranslator, build_dlt_asset_specs
from dagster_dlt.translator import DltResourceTranslatorData
from dlt.common.destination import TDestinationReferenceArg

from pipedrive_source import pipedrive_source
from pipedrive_source.accounts import run_account
from pipedrive_source.config import without_airflow_secrets
from pipedrive_source.pipeline import make_pipeline

PIPELINE_NAME = "pipedrive"
DEFAULT_ACCOUNT = "default"
"""The partition of the key's oldest active connection, when no connection ids are configured."""
POOL = "pipedrive_maton"
"""The concurrency pool of the assets: give it one slot, Maton's rate limit is per API key."""
SPECS_ONLY_KEY = "definitions-only-placeholder"
"""Makes the source that lists the tables when the definitions load; it never sends a request."""


class PipedriveTranslator(DagsterDltTranslator):
    """Asset keys by destination table (`pipedrive/deals`), not by dlt resource."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> dg.AssetSpec:
        spec = super().get_asset_spec(data)
        return spec.replace_attributes(
            key=dg.AssetKey([PIPELINE_NAME, str(data.resource.table_name)]), deps=[], group_name=PIPELINE_NAME
        )


def table_specs(
    destination: TDestinationReferenceArg, dataset_name: str, translator: DagsterDltTranslator
) -> list[dg.AssetSpec]:
    """One spec per table the source loads by default, in the source's order."""
    source = pipedrive_source(maton_api_key=SPECS_ONLY_KEY)
    pipeline = make_pipeline(pipeline_name=PIPELINE_NAME, destination=destination, dataset_name=dataset_name)
    specs: dict[dg.AssetKey, dg.AssetSpec] = {}
    for spec in build_dlt_asset_specs(source, pipeline, translator):
        specs.setdefault(spec.key, spec)
    return list(specs.values())


def pipedrive_definitions(
    connection_ids: Sequence[str] = (),
    destination: TDestinationReferenceArg = "duckdb",
    dataset_name: str = "pipedrive_data",
    cron_schedule: str = "0 3 * * *",
) -> dg.Definitions:
    """The assets, job and daily schedule of the given accounts (none: the key's oldest active connection)."""
    accounts = dg.StaticPartitionsDefinition(list(connection_ids) or [DEFAULT_ACCOUNT])
    translator = PipedriveTranslator()

    @dg.multi_asset(
        name=PIPELINE_NAME,
        specs=table_specs(destination, dataset_name, translator),
        partitions_def=accounts,
        can_subset=False,
        pool=POOL,
    )
    def pipedrive_tables(context: dg.AssetExecutionContext) -> Iterator[Any]:
        connection_id = None if context.partition_key == DEFAULT_ACCOUNT else context.partition_key
        account = run_account(
            connection_id, destination=destination, dataset_name=dataset_name, pipeline_name=PIPELINE_NAME
        )
        for notice in account.notices:
            context.log.warning(notice)
        if account.error is not None:
            raise dg.Failure(description=account.error)
        company = account.company.company if account.company is not None else "?"
        for key in context.selected_asset_keys:
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "rows_loaded": account.rows.get(key.path[-1], 0),
                    "company": company,
                    "dataset": account.dataset_name,
                    "pipeline": account.pipeline_name,
                },
            )

    job = dg.define_asset_job("pipedrive_job", selection=[pipedrive_tables])

    @dg.schedule(job=job, cron_schedule=cron_schedule, execution_timezone="UTC")
    def pipedrive_daily(context: dg.ScheduleEvaluationContext) -> Iterator[dg.RunRequest]:
        day = context.scheduled_execution_time.strftime("%Y-%m-%d")
        for partition_key in accounts.get_partition_keys():
            yield dg.RunRequest(run_key=f"{partition_key}:{day}", partition_key=partition_key)

    return dg.Definitions(assets=[pipedrive_tables], jobs=[job], schedules=[pipedrive_daily])


without_airflow_secrets()
defs = pipedrive_definitions(
    connection_ids=[
        part.strip() for part in os.environ.get("PIPEDRIVE_CONNECTION_IDS", "").split(",") if part.strip()
    ],
    destination=os.environ.get("PIPEDRIVE_DESTINATION", "duckdb"),
    dataset_name=os.environ.get("PIPEDRIVE_DATASET", "pipedrive_data"),
)
