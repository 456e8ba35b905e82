"""Airflow DAG `pipedrive`: loads every configured Pipedrive account once a day, one task per account.

Copy this file (and the `.dlt/` folder beside it) into Airflow's dags folder, with `pipedrive-source[airflow]`
installed on the workers. Settings, as Airflow Variables (or `AIRFLOW_VAR_<NAME>` environment variables):

- `pipedrive_connection_ids`: the Maton connection ids to load, as a JSON list or separated by commas
  (`pipedrive-source connections list` shows them). Unset: one account, the key's oldest active connection.
- `pipedrive_destination`: a dlt destination name (default `duckdb`); its credentials come from dlt config,
  e.g. `[destination.postgres.credentials]` in the secrets below. DuckDB writes to the file dlt config names
  (`DESTINATION__DUCKDB__CREDENTIALS=/data/pipedrive.duckdb`), else to `pipedrive_duckdb_file`.
- `pipedrive_duckdb_file`: default `$AIRFLOW_HOME/pipedrive.duckdb`, every account in one file (the task's
  working folder is not kept).
- `pipedrive_dataset`: the dataset name (default `pipedrive_data`); each company loads into
  `<dataset>_<its Pipedrive company id>`.
- `dlt_secrets_toml`: dlt's own Variable for secrets, a TOML fragment, e.g.
  `[sources.pipedrive]` / `maton_api_key = "..."` (or set `SOURCES__PIPEDRIVE__MATON_API_KEY`).

Why a task per account and not per table: the accounts are what is independent. Each task asks which
company its connection reaches (`users/me`) and loads it with that company's own dlt pipeline
(`pipedrive_<company id>`) and dataset, so a company reconnected through a new Maton connection continues
its tables, and a failing account is retried and reported alone while the others load. The tables of one
account are read in one pass, in parallel under the account's one rate limiter. The task runs
`pipedrive_source.accounts.run_account()`, which loads from what the destination holds (a dropped dataset
or table is loaded again in full) and holds the pipeline's run lock.

The accounts run one at a time (`max_active_tasks=1`): Maton allows 10 requests/s per API key, shared by all
its connections, and DuckDB takes one writer at a time.
"""

from __future__ import annotations

import json
import os
from datetime import timedelta
from pathlib import Path

import pendulum
from airflow.sdk import DAG, Variable, task

PIPELINE_NAME = "pipedrive"


def connection_ids(setting: str | None) -> list[str | None]:
    """The ids in the `pipedrive_connection_ids` Variable; `[None]` (the default account) if unset."""
    if not setting or not setting.strip():
        return [None]
    text = setting.strip()
    ids = json.loads(text) if text.startswith("[") else text.split(",")
    return [str(connection_id).strip() for connection_id in ids if str(connection_id).strip()] or [None]


def task_id(connection_id: str | None) -> str:
    """`pipedrive_<first 8 hex digits of the connection>`, or `pipedrive` for the default account."""
    return PIPELINE_NAME if connection_id is None else f"{PIPELINE_NAME}_{connection_id.replace('-', '')[:8]}"


@task
def load_account(connection_id: str | None, destination: str, duckdb_file: str, dataset_name: str) -> dict:
    """Load one account; fail the task (Airflow retries it) with the account's message if it fails."""
    # dlt reads its settings (`.dlt/config.toml`: telemetry off, log level) from the folder beside this file
    os.environ.setdefault("DLT_PROJECT_DIR", str(Path(__file__).resolve().parent))
    # imported when the task runs: parsing the DAG file stays light
    from pipedrive_source.accounts import run_account
    from pipedrive_source.pipeline import duckdb_in_file

    account = run_account(
        connection_id,
        destination=duckdb_in_file(destination, duckdb_file),
        dataset_name=dataset_name,
        pipeline_name=PIPELINE_NAME,
    )
    for notice in account.notices:
        print(f"Note: {notice}")
    if account.error is not None:
        raise RuntimeError(account.error)
    company = account.company
    print(
        f"Loaded {sum(account.rows.values()):,} rows of {company.company if company else '?'} into dataset "
        f"{account.dataset_name!r} (pipeline {account.pipeline_name})"
    )
    return {"company_id": company.company_id if company else None, "rows": dict(account.rows)}


with DAG(
    dag_id="pipedrive",
    description="Pipedrive CRM into the warehouse, incrementally, one task per account",
    schedule="@daily",
    start_date=pendulum.datetime(2026, 1, 1, tz="UTC"),
    catchup=False,
    max_active_runs=1,
    max_active_tasks=1,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=10)},
    tags=["pipedrive", "dlt"],
) as dag:
    destination_name = Variable.get("pipedrive_destination", default="duckdb")
    duckdb_file = Variable.get(
        "pipedrive_duckdb_file",
        default=str(Path(os.environ.get("AIRFLOW_HOME", "~/airflow")).expanduser() / "pipedrive.duckdb"),
    )
    dataset = Variable.get("pipedrive_dataset", default="pipedrive_data")
    for connection_id in connection_ids(Variable.get("pipedrive_connection_ids", default=None)):
        load_account.override(task_id=task_id(connection_id))(
            connection_id, destination_name, duckdb_file, dataset
        )
