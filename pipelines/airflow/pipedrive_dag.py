"""Airflow DAG `pipedrive`: loads every configured Pipedrive account once a day, one task group per account.

Copy this file (and the `.dlt/` folder beside it) into Airflow's dags folder, with `pipedrive-source[airflow]`
installed on the workers. Settings, as Airflow Variables (or `AIRFLOW_VAR_<NAME>` environment variables):

- `pipedrive_connection_ids`: the Maton connection ids to load, as a JSON list or separated by commas
  (`pipedrive-source connections list` shows them). Unset: one account, the key's oldest active connection.
- `pipedrive_destination`: a dlt destination name (default `duckdb`); its credentials come from dlt config,
  e.g. `[destination.postgres.credentials]` in the secrets below. DuckDB writes to the file dlt config names
  (`DESTINATION__DUCKDB__CREDENTIALS=/data/pipedrive.duckdb`), else to `pipedrive_duckdb_file`.
- `pipedrive_duckdb_file`: default `$AIRFLOW_HOME/pipedrive.duckdb`, every account in one file (dlt's own
  default, the task's temporary folder, is not kept).
- `pipedrive_dataset`: the dataset name (default `pipedrive_data`); each account loads into
  `<dataset>_<first 8 hex digits of its connection id>`.
- `dlt_secrets_toml`: dlt's own Variable for secrets, a TOML fragment, e.g.
  `[sources.pipedrive]` / `maton_api_key = "..."` (or set `SOURCES__PIPEDRIVE__MATON_API_KEY`).

Why a task group per account and not per table: the accounts are what is independent. Each has its own dlt
pipeline (`pipedrive_<alias>`), so its own incremental state and dataset, and its own task, so a failing
account is retried and reported alone while the others load. The tables of one account are read in one
pass, in parallel under the account's one rate limiter, sharing the field definitions they are read with;
a task per table would read those again in every task, and would need the credentials when the DAG file is
parsed (the source resolves them when it is made; here it is made when the task runs).

The accounts run one at a time (`max_active_tasks=1`): Maton allows 10 requests/s per API key, shared by all
its connections, and DuckDB takes one writer at a time.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from functools import partial
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Variable
from dlt.helpers.airflow_helper import PipelineTasksGroup

from pipedrive_source import pipedrive_source
from pipedrive_source.accounts import account_names
from pipedrive_source.pipeline import arrow_file_format, duckdb_in_file, make_pipeline

PIPELINE_NAME = "pipedrive"


def connection_ids(setting: str | None) -> list[str | None]:
    """The ids in the `pipedrive_connection_ids` Variable; `[None]` (the default account) if unset."""
    if not setting or not setting.strip():
        return [None]
    text = setting.strip()
    ids = json.loads(text) if text.startswith("[") else text.split(",")
    return [str(connection_id).strip() for connection_id in ids if str(connection_id).strip()] or [None]


with DAG(
    dag_id="pipedrive",
    description="Pipedrive CRM into the warehouse, incrementally, one task group per account",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
    tags=["pipedrive", "dlt"],
) as dag:
    destination = duckdb_in_file(
        Variable.get("pipedrive_destination", default="duckdb"),
        Variable.get(
            "pipedrive_duckdb_file",
            default=str(Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "pipedrive.duckdb"),
        ),
    )
    dataset_name = Variable.get("pipedrive_dataset", default="pipedrive_data")
    for connection_id in connection_ids(Variable.get("pipedrive_connection_ids", default=None)):
        pipeline_name, account_dataset_name = account_names(connection_id, PIPELINE_NAME, dataset_name)
        # The group sets dlt's working folders: the pipeline must be made after it.
        tasks = PipelineTasksGroup(pipeline_name, use_data_folder=False, wipe_local_data=True)
        pipeline = make_pipeline(
            pipeline_name=pipeline_name, destination=destination, dataset_name=account_dataset_name
        )
        # A callable: the source (and its credentials) is made when the task runs, not when the DAG is parsed.
        account = {} if connection_id is None else {"connection_id": connection_id}
        tasks.add_run(
            pipeline,
            partial(pipedrive_source, **account),
            # None is dlt's default (its own choice of format), though the helper's hint leaves it out
            loader_file_format=arrow_file_format(pipeline),  # type: ignore[arg-type]
        )
