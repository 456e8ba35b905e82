"""The token budget: a run out of it stops cleanly with a gap-free prefix loaded; the next one continues."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import dlt
import duckdb
import pytest
from click.testing import CliRunner

from pipedrive_source import pipedrive_source
from pipedrive_source.cli import cli, run  # noqa: F401 - registers the command
from pipedrive_source.progress import ResourceUsage, track_usage
from pipedrive_source.selection import select_tables
from pipedrive_source.testing import simulator
from tests.source.fake_api import FakePipedrive, deal, deal_fields, example

DAILY_BUDGET_429 = {"success": False, "error": "Daily API token budget exceeded", "errorCode": 429}


def _rows(pipeline: dlt.Pipeline, query: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql(query)]


@pytest.fixture
def deals(fake: FakePipedrive, monkeypatch: pytest.MonkeyPatch) -> FakePipedrive:
    """1200 deals read as one chain of three pages."""
    monkeypatch.setenv("SOURCES__PIPEDRIVE__PARALLEL_WINDOWS", "1")
    fake.serve(
        "api/v2/deals", [deal(i, f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z") for i in range(1, 1201)]
    )
    fake.serve("api/v2/dealFields", deal_fields())
    return fake


def test_an_exhausted_daily_budget_loads_what_was_read_and_the_next_run_continues(
    deals: FakePipedrive, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    deals.fail("api/v2/deals", 429, DAILY_BUDGET_429, {"retry-after": "3939"}, after=1)
    pipeline = make_pipeline()

    with track_usage() as usage:
        pipeline.run(pipedrive_source().with_resources("deals"))

    assert usage.stop_reason is not None
    assert "daily API token budget" in usage.stop_reason and "resets in 1 h 6 min" in usage.stop_reason
    assert _rows(pipeline, "select count(*), max(id) from deals") == [(500, 500)]

    pipeline.run(pipedrive_source().with_resources("deals"))

    assert deals.requests_to("api/v2/deals")[-2]["updated_since"] == "2024-01-01T00:08:20Z"
    assert _rows(pipeline, "select count(*), count(distinct id) from deals") == [(1200, 1200)]


def test_the_token_cap_stops_before_the_request_that_would_pass_it(
    deals: FakePipedrive, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    pipeline = make_pipeline()

    # the account check (users/me, 2 tokens), the fields (10) and the first page (10) fit under 25; the
    # second page would not
    with track_usage(token_cap=25) as usage:
        pipeline.run(pipedrive_source().with_resources("deals"))

    assert usage.stop_reason is not None and "cap of 25 API tokens" in usage.stop_reason
    assert usage.total() == ResourceUsage(requests=3, tokens=22, records=500)
    assert len(deals.requests_to("api/v2/deals")) == 1
    assert _rows(pipeline, "select count(*) from deals") == [(500,)]


def test_the_cap_comes_from_config_too(
    deals: FakePipedrive, make_pipeline: Callable[..., dlt.Pipeline], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SOURCES__PIPEDRIVE__MAX_TOKENS_PER_RUN", "25")

    with track_usage() as usage:
        make_pipeline().run(pipedrive_source().with_resources("deals"))

    assert usage.stop_reason is not None and "cap of 25 API tokens" in usage.stop_reason


def test_a_run_stops_before_a_request_the_daily_budget_cannot_pay(
    deals: FakePipedrive, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    deals.headers["x-daily-ratelimit-token-remaining"] = "5"

    with track_usage() as usage:
        make_pipeline().run(pipedrive_source().with_resources("deals"))

    assert usage.stop_reason is not None and "5 tokens left" in usage.stop_reason
    assert deals.requests_to("api/v2/deals") == []


def test_a_replaced_table_is_never_emptied_by_a_stop(
    fake: FakePipedrive, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    fake.serve("api/v2/pipelines", example("v2_pipelines_list")["data"])
    pipeline = make_pipeline()
    pipeline.run(pipedrive_source().with_resources("pipelines"))
    fake.fail("api/v2/pipelines", 429, DAILY_BUDGET_429, {"retry-after": "3939"})

    with pytest.raises(Exception, match="daily API token budget"):
        pipeline.run(pipedrive_source().with_resources("pipelines"))

    assert _rows(pipeline, "select count(*) from pipelines") == [(1,)]


# -- against the simulator -----------------------------------------------------------------------------------
KEY = "budget-test-key"
TABLES = ("deals", "activities", "notes")


@pytest.fixture
def sim(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with simulator(seed=13, deals=5000, api_key=KEY, rate_limit=None) as running:
        monkeypatch.setenv("MATON_API_KEY", KEY)
        monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", running.base_url)
        monkeypatch.setenv("SOURCES__PIPEDRIVE__REQUESTS_PER_SECOND", "0")
        yield running


class BudgetRunsOut:
    """A progress display exhausting the simulator's daily budget once the run has sent `after` requests."""

    def __init__(self, sim: Any, after: int) -> None:
        self.sim = sim
        self.after = after

    def update(self, usage: Mapping[str, ResourceUsage], elapsed: float) -> None:
        if sum(counts.requests for counts in usage.values()) >= self.after:
            self.sim.faults.daily_budget_exhausted()

    def close(self, usage: Mapping[str, ResourceUsage], elapsed: float) -> None:
        pass


def _table(pipeline: dlt.Pipeline | str, table: str) -> list[tuple[Any, ...]]:
    query = f"select id, update_time from {table} order by id"
    if isinstance(pipeline, str):
        with duckdb.connect(pipeline, read_only=True) as db:
            return [tuple(row) for row in db.sql(query.replace(table, f"pipedrive_data.{table}")).fetchall()]
    return _rows(pipeline, query)


def test_a_run_stopped_by_the_budget_and_the_next_one_load_exactly_a_full_load(
    sim: Any, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    full = make_pipeline("full")
    full.run(pipedrive_source().with_resources(*TABLES))
    sim.requests.clear()

    pipeline = make_pipeline("interrupted")
    with track_usage(BudgetRunsOut(sim, after=14)) as usage:
        pipeline.run(pipedrive_source().with_resources(*TABLES))

    assert usage.stop_reason is not None and "daily API token budget" in usage.stop_reason
    assert any("updated_until" in request.query for request in sim.requests)  # read in windows
    first = {table: len(_table(pipeline, table)) for table in TABLES}
    assert 0 < first["activities"] < len(_table(full, "activities"))

    sim.faults.clear()
    pipeline.run(pipedrive_source().with_resources(*TABLES))

    for table in TABLES:
        rows = _table(pipeline, table)
        assert rows == _table(full, table), table
        assert len({row[0] for row in rows}) == len(rows), table


def test_the_command_says_partial_load_and_exits_3_then_completes(
    sim: Any, clean_env: Path, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    full = make_pipeline("full")
    # as the command picks them: every resource filling the tables (archived deals land in `deals`)
    full.run(select_tables(pipedrive_source(), ["deals", "notes"]))
    command = ["run", "--resources", "deals,notes", "--progress", "none"]

    first = CliRunner().invoke(cli, [*command, "--max-tokens", "60"])

    assert first.exit_code == 3, first.stderr
    assert first.stderr.startswith("Partial load: This run stopped at its cap of 60 API tokens")
    assert "run again to continue" in first.stderr
    assert "Traceback" not in first.stderr
    database = str(clean_env / "pipedrive.duckdb")
    assert 0 < len(_table(database, "deals")) < len(_table(full, "deals"))

    second = CliRunner().invoke(cli, command)

    assert second.exit_code == 0, second.stderr
    for table in ("deals", "notes"):
        assert _table(database, table) == _table(full, table), table
