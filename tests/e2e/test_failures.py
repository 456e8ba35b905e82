"""End-to-end failures: the CLI's message and exit code, and the pipeline state left as it was.

Replays `cassettes/test_failures/`, recorded from the simulator with its fault injection.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from click.testing import CliRunner
from vcr.cassette import Cassette

from pipedrive_source import pipedrive_source
from pipedrive_source.cli import check, cli, run  # noqa: F401 - registers the commands
from tests.e2e import oracle
from tests.e2e.conftest import Gateway, RequestCounter

pytestmark = pytest.mark.vcr
SIMULATED = pytest.mark.simulator_only

UNKNOWN_CONNECTION = "0b7e3f2a-9c41-4d6e-8f10-5a2b3c4d5e6f"


def _wrong_key(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATON_API_KEY", "not-the-right-key")


def _unknown_connection(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__PIPEDRIVE__CONNECTION_ID", UNKNOWN_CONNECTION)


def _fault(name: str, *args: Any, **kwargs: Any) -> Callable[[Gateway, pytest.MonkeyPatch], None]:
    def inject(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
        if gateway.sim is not None:
            getattr(gateway.sim.faults, name)(*args, **kwargs)

    return inject


FAILURES = [
    pytest.param(_wrong_key, "Check MATON_API_KEY", id="401"),
    pytest.param(_unknown_connection, "pipedrive-source connections create", id="missing connection"),
    pytest.param(
        _fault("daily_budget_exhausted", retry_after=3939),
        "resets at midnight server time",
        id="daily budget",
        marks=SIMULATED,
    ),
    pytest.param(_fault("success_false_every", 1), "success: false", id="success false", marks=SIMULATED),
    pytest.param(_fault("html_403"), "blocked this client", id="HTML 403", marks=SIMULATED),
]


@pytest.mark.parametrize(("make_it_fail", "fix"), FAILURES)
def test_run_fails_with_the_fix_and_leaves_no_state(
    gateway: Gateway,
    monkeypatch: pytest.MonkeyPatch,
    clean_env: Path,
    make_it_fail: Callable[[Gateway, pytest.MonkeyPatch], None],
    fix: str,
) -> None:
    make_it_fail(gateway, monkeypatch)

    result = CliRunner().invoke(cli, ["run", "--resources", "users,pipelines"])

    assert result.exit_code == 1
    assert fix in result.stderr
    assert "Traceback" not in result.stderr
    assert gateway.api_key not in result.stderr
    database = clean_env / "pipedrive.duckdb"
    if database.exists():
        with duckdb.connect(str(database), read_only=True) as db:
            tables = db.sql("select table_name from information_schema.tables").fetchall()
        assert ("users",) not in tables and ("pipelines",) not in tables


@SIMULATED
def test_a_run_failing_midway_does_not_advance_the_state(
    gateway: Gateway, vcr: Cassette, sent: RequestCounter, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    pipeline = make_pipeline()
    pipeline.run(pipedrive_source().with_resources("deals"))
    state = pipeline.state["sources"]["pipedrive"]["resources"]["deals"]["incremental"]["update_time"]
    last_value = state["last_value"]
    if gateway.sim is not None:
        account = gateway.sim.account()
        for deal_id in range(1, 601):
            account.update("deals", deal_id, {"title": f"Changed {deal_id}"})
        # the run checks the account, reads dealFields, then deals page 1, then fails on page 2 for good
        gateway.sim.faults.error_every(4, status=400)
    run_1 = len(sent)

    with pytest.raises(Exception, match="invalid"):
        pipeline.run(pipedrive_source().with_resources("deals"))

    assert len(list(oracle.answers(vcr, "api/v2/deals", start=run_1))) == 1  # page 1 was read
    reloaded = make_pipeline()
    after = reloaded.state["sources"]["pipedrive"]["resources"]["deals"]["incremental"]["update_time"]
    assert after["last_value"] == last_value
    with reloaded.sql_client() as client:
        assert client.execute_sql("select count(*) from deals where title like 'Changed %'")[0][0] == 0
