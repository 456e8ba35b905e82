"""The guards of a run: the company a pipeline holds, the refusal of another, the DuckDB file as an absolute
path, and the command's choice of refresh."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import dlt
import pytest

from pipedrive_source.cli.run import account_line, refresh_mode
from pipedrive_source.config import resolve_connection
from pipedrive_source.errors import PipedriveError
from pipedrive_source.guards.account import AccountIdentity, OtherCompany
from pipedrive_source.guards.where import data_location, duckdb_file
from pipedrive_source.pipeline import make_pipeline

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "examples"
MATON = resolve_connection(
    maton_api_key="unit-test-key", connection_id="21fd90f9-5935-43cd-b6c8-bde9d915ca80"
)
DIRECT = resolve_connection(base_url="https://acme.pipedrive.com", api_token="unit-test-token")


def users_me() -> dict[str, Any]:
    """The spec's example answer of `GET /v1/users/me`."""
    data: dict[str, Any] = json.loads((EXAMPLES / "v1_users_me.json").read_text())["example"]["data"]
    return data


def test_the_company_comes_from_users_me_with_the_way_in() -> None:
    identity = AccountIdentity.from_users_me(users_me(), MATON)

    assert (identity.company_id, identity.company_name, identity.company_domain) == (
        54235233,
        "Pipedrive",
        "pipedrive-12g53f",
    )
    assert identity.route == f"Maton connection {MATON.connection_id}"
    assert identity.company == "Pipedrive (pipedrive-12g53f.pipedrive.com, company 54235233)"
    direct = AccountIdentity.from_users_me(users_me(), DIRECT)
    assert direct.route == "Pipedrive directly at https://acme.pipedrive.com"
    # the state keeps it as JSON and gives the same identity back
    assert AccountIdentity.from_state(json.loads(json.dumps(identity.as_state()))) == identity
    assert AccountIdentity.from_state({"company_id": "54235233"}) is None
    assert AccountIdentity.from_state(None) is None


def test_an_answer_without_a_company_names_the_base_url_to_fix() -> None:
    with pytest.raises(PipedriveError, match="base_url must be the Maton gateway"):
        AccountIdentity.from_users_me({"id": 1, "name": "Me"}, DIRECT)


def test_the_same_company_through_another_way_in_is_the_same_account() -> None:
    through_maton = AccountIdentity.from_users_me(users_me(), MATON)
    directly = AccountIdentity.from_users_me(users_me(), DIRECT)
    other = AccountIdentity.from_users_me({**users_me(), "company_id": 7, "company_name": "Globex"}, MATON)

    assert through_maton.same_company(directly)
    assert not through_maton.same_company(other)
    assert account_line(through_maton, directly) == (
        f"Company: {directly.company} through Pipedrive directly at https://acme.pipedrive.com "
        f"(before this run: through Maton connection {MATON.connection_id})"
    )
    assert account_line(None, directly) == f"Company: {directly.company} through {directly.route}"
    assert account_line(through_maton, None) is None


def test_the_refusal_names_both_companies_where_the_data_is_and_the_ways_out(clean_env: Path) -> None:
    recorded = AccountIdentity.from_users_me(users_me(), MATON)
    current = AccountIdentity.from_users_me(
        {**users_me(), "company_id": 7, "company_name": "Globex", "company_domain": "globex"}, DIRECT
    )
    pipeline = make_pipeline("crm", pipelines_dir=str(clean_env / "pipelines"))

    message = str(OtherCompany(recorded, current, pipeline))

    assert "Pipeline 'crm' holds the data of Pipedrive company Pipedrive (pipedrive-12g53f" in message
    assert "Globex (globex.pipedrive.com, company 7)" in message
    assert f"DuckDB file {clean_env / 'crm.duckdb'}" in message
    assert "--pipeline-name crm_7 --dataset-name pipedrive_data_7" in message
    assert "--full-refresh` without --resources" in message
    assert "unit-test-key" not in message and "unit-test-token" not in message


def test_the_duckdb_file_is_the_current_folders_whatever_folder_the_pipeline_first_ran_in(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = clean_env / "first", clean_env / "second"
    first.mkdir()
    second.mkdir()
    monkeypatch.chdir(first)
    make_pipeline("crm", pipelines_dir=str(clean_env / "pipelines"))

    monkeypatch.chdir(second)
    pipeline = make_pipeline("crm", pipelines_dir=str(clean_env / "pipelines"))

    assert duckdb_file(pipeline) == str(second / "crm.duckdb")
    assert data_location(pipeline) == f"DuckDB file {second / 'crm.duckdb'}, dataset 'pipedrive_data'"
    # a relative file named in dlt config is the current folder's too
    monkeypatch.setenv("DESTINATION__DUCKDB__CREDENTIALS", "data/warehouse.duckdb")
    configured = make_pipeline("crm", pipelines_dir=str(clean_env / "pipelines"))
    assert duckdb_file(configured) == str(second / "data" / "warehouse.duckdb")


def test_another_destination_is_named_without_its_password(clean_env: Path) -> None:
    pipeline = dlt.pipeline(
        "crm",
        pipelines_dir=str(clean_env / "pipelines"),
        destination=dlt.destinations.postgres("postgresql://loader:s3cret@db.internal:5432/analytics"),
        dataset_name="pipedrive_data",
    )

    shown = data_location(pipeline)

    assert "db.internal" in shown and "analytics" in shown and "'pipedrive_data'" in shown
    assert "s3cret" not in shown


@pytest.mark.parametrize(
    ("full_refresh", "resources", "mode"),
    [
        (False, (), None),
        (False, ("deals",), None),
        # starting over: every table and the whole state, the recorded company included
        (True, (), "drop_sources"),
        # the named tables only (adding a child table to an existing dataset)
        (True, ("deals", "deal_changes"), "drop_resources"),
    ],
)
def test_full_refresh_alone_starts_over(
    full_refresh: bool, resources: tuple[str, ...], mode: str | None
) -> None:
    assert refresh_mode(full_refresh, resources) == mode
