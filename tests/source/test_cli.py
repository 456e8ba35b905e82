"""The `pipedrive-source` commands: output, exit codes and messages as a user sees them."""

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from pipedrive_source.cli import check, cli, run  # noqa: F401 - registers the commands
from pipedrive_source.settings import USERS_ME_PATH
from tests.source.fake_api import KEY, FakePipedrive, example


def test_run_without_a_key_says_to_set_it(clean_env: Path) -> None:
    result = CliRunner().invoke(cli, ["run"])

    assert result.exit_code == 1
    assert "set MATON_API_KEY" in result.stderr
    assert "Traceback" not in result.output + result.stderr


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["run", "--resources", "deals,leads"], "unknown table(s) leads"),
        (["run", "--destination", "nowhere"], "is not a dlt destination"),
    ],
)
def test_usage_errors_exit_2(fake: FakePipedrive, arguments: list[str], complaint: str) -> None:
    result = CliRunner().invoke(cli, arguments)

    assert result.exit_code == 2
    assert complaint in result.stderr


def test_check_prints_who_and_which_company(fake: FakePipedrive) -> None:
    fake.serve_object(USERS_ME_PATH, example("v1_users_me")["data"])

    result = CliRunner().invoke(cli, ["check"])

    assert result.exit_code == 0, result.stderr
    assert "through the Maton gateway" in result.stdout
    assert "Me <me@pipedrive.com>" in result.stdout
    assert "Pipedrive (pipedrive-12g53f.pipedrive.com)" in result.stdout
    assert KEY not in result.stdout


def test_check_with_a_wrong_key(fake: FakePipedrive) -> None:
    fake.serve_object(USERS_ME_PATH, {})
    fake.fail(USERS_ME_PATH, 401, {"success": False, "error": "unauthorized access", "errorCode": 401})

    result = CliRunner().invoke(cli, ["check"])

    assert result.exit_code == 1
    assert result.stderr.startswith(
        "Error: The Maton gateway refused the credentials (401). Check MATON_API_KEY"
    )
    assert "Traceback" not in result.stderr and KEY not in result.stderr


def test_run_loads_the_chosen_tables_into_duckdb(fake: FakePipedrive, clean_env: Path) -> None:
    fake.serve("api/v2/pipelines", example("v2_pipelines_list")["data"])
    fake.serve("api/v2/stages", example("v2_stages_list")["data"])

    result = CliRunner().invoke(cli, ["run", "--resources", "pipelines,stages"])

    assert result.exit_code == 0, result.stderr
    assert "pipelines: 1" in result.stdout and "stages: 1" in result.stdout
    with duckdb.connect(str(clean_env / "pipedrive.duckdb"), read_only=True) as db:
        assert db.sql("select name from pipedrive_data.pipelines").fetchall() == [("Pipeline Name",)]
