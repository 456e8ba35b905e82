"""The Airflow DAG (`pipelines/airflow/pipedrive_dag.py`) run by Airflow's own `airflow dags test`.

Airflow runs as a subprocess with its SQLite metadata database, logs and dlt's working folders in the test's
temporary folder; the simulator (two Maton connections) answers in this process. Settings reach the DAG as a
user sets them: Airflow Variables from `AIRFLOW_VAR_*` (the key in dlt's `dlt_secrets_toml` Variable) and
dlt's environment variables.
"""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipedrive_source.accounts import account_dataset
from pipedrive_source.testing import simulator

REPO = Path(__file__).resolve().parents[2]
DAGS_FOLDER = REPO / "pipelines" / "airflow"
AIRFLOW = str(Path(sys.executable).with_name("airflow"))
DAG_ID = "pipedrive"
AIRFLOW_TIMEOUT = 600


@dataclass
class AirflowRun:
    """Airflow's command line in an environment of its own, and the DuckDB file the DAG loads into."""

    env: dict[str, str]
    database: Path
    logs: Path

    def __call__(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [AIRFLOW, *args], env=self.env, capture_output=True, text=True, timeout=AIRFLOW_TIMEOUT
        )
        (self.logs / f"{'_'.join(args[:2])}.log").write_text(done.stdout + done.stderr)
        return done

    def rows(self, query: str) -> list[tuple[Any, ...]]:
        with duckdb.connect(str(self.database), read_only=True) as connection:
            return connection.execute(query).fetchall()


@pytest.fixture
def sim(clean_env: Path) -> Iterator[Any]:
    with simulator(seed=11, deals=100, connections=2, api_key="airflow-test-key") as running:
        yield running


@pytest.fixture
def airflow(sim: Any, clean_env: Path) -> AirflowRun:
    home, temp, logs = clean_env / "airflow", clean_env / "tmp", clean_env / "logs"
    for folder in (home, temp, logs):
        folder.mkdir()
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "TMPDIR": str(temp),
        "AIRFLOW_VAR_PIPEDRIVE_CONNECTION_IDS": json.dumps(sim.connection_ids),
        # dlt reads its secrets from the Airflow Variable `dlt_secrets_toml` (off elsewhere in the tests)
        "PROVIDERS__ENABLE_AIRFLOW_SECRETS": "true",
        "AIRFLOW_VAR_DLT_SECRETS_TOML": f'[sources.pipedrive]\nmaton_api_key = "{sim.api_key}"\n',
        "SOURCES__PIPEDRIVE__BASE_URL": sim.base_url,
    }
    env.pop("DESTINATION__DUCKDB__CREDENTIALS", None)
    # the DAG's default DuckDB file, which outlives the tasks' temporary folders
    run = AirflowRun(env, home / "pipedrive.duckdb", logs)
    migrated = run("db", "migrate")
    assert migrated.returncode == 0, migrated.stderr[-3000:]
    return run


LIVE_ROWS = {
    # Pipedrive lists deleted deals for 30 days, with status `deleted`; the simulator counts live records
    "deals": "select count(*) from {dataset}.deals where status <> 'deleted'",
    "persons": "select count(*) from {dataset}.persons",
    "organizations": "select count(*) from {dataset}.organizations",
}


def counts(airflow: AirflowRun, dataset: str) -> dict[str, int]:
    return {table: airflow.rows(query.format(dataset=dataset))[0][0] for table, query in LIVE_ROWS.items()}


def test_dag_has_one_task_per_account(airflow: AirflowRun, sim: Any) -> None:
    listed = airflow("tasks", "list", DAG_ID)

    assert listed.returncode == 0, listed.stderr[-3000:]
    tasks = set(listed.stdout.split())
    aliases = [connection_id.replace("-", "")[:8] for connection_id in sim.connection_ids]
    assert tasks == {f"pipedrive_{alias}" for alias in aliases}


def test_dags_test_loads_each_account_then_merges_changes(airflow: AirflowRun, sim: Any) -> None:
    first = airflow("dags", "test", DAG_ID)

    assert first.returncode == 0, (first.stdout + first.stderr)[-5000:]
    # each account loads into the dataset of the company its connection reaches
    datasets = {
        connection_id: account_dataset("pipedrive_data", sim.account(connection_id).company["company_id"])
        for connection_id in sim.connection_ids
    }
    for connection_id, dataset in datasets.items():
        account = sim.account(connection_id)
        assert counts(airflow, dataset) == {
            "deals": account.count("deals"),
            "persons": account.count("persons"),
            "organizations": account.count("organizations"),
        }

    changed_account, other_account = sim.connection_ids
    changed = datasets[changed_account]
    deal_id = airflow.rows(f"select min(id) from {changed}.deals")[0][0]
    sim.account(changed_account).update("deals", deal_id, {"title": "Renewal 2027"})
    sim.account(changed_account).create("persons", {"name": "Ada Lovelace"})
    other_before = counts(airflow, datasets[other_account])
    sim.requests.clear()

    second = airflow("dags", "test", DAG_ID)

    assert second.returncode == 0, (second.stdout + second.stderr)[-5000:]
    assert airflow.rows(f"select title from {changed}.deals where id = {deal_id}") == [("Renewal 2027",)]
    assert airflow.rows(f"select count(*) from {changed}.deals where id = {deal_id}") == [(1,)]
    assert counts(airflow, changed)["persons"] == sim.account(changed_account).count("persons")
    assert counts(airflow, datasets[other_account]) == other_before
    # incremental: the second run asked each account's deals for what changed since the first
    deal_reads = [
        request
        for request in sim.requests
        if request.path.endswith("/api/v2/deals") and request.status == 200
    ]
    assert {request.connection_id for request in deal_reads} == set(sim.connection_ids)
    assert all("updated_since" in request.query for request in deal_reads)
