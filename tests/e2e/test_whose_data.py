"""End-to-end: whose data, where. A pipeline never mixes companies, loads into the database its summary
names, and never skips history because its state and the warehouse disagree.

Replays `cassettes/test_whose_data/`, recorded from the simulator with two Maton connections to two
companies (A, the oldest and so the key's default, and B; 40 deals each) through the command line, as a
user runs it. The `Maton-Connection` header is filtered from the cassettes: the runs go one after the other,
so each gets back its own recorded answers. Expected rows and companies come from the API's answers (the
cassette: `users/me` for the company), never from the code under test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import dlt
import duckdb
import pytest
from click.testing import CliRunner, Result
from vcr.cassette import Cassette

from pipedrive_source import pipedrive_source
from pipedrive_source.accounts import account_dataset
from pipedrive_source.cli import cli
from pipedrive_source.cli import run as _run_command  # noqa: F401  (registers `run`)
from pipedrive_source.connections import MatonConnections
from pipedrive_source.errors import message_for
from tests.e2e import oracle
from tests.e2e.conftest import Gateway, RequestCounter, write_through_gateway
from tests.e2e.test_children import small_account

pytestmark = [pytest.mark.vcr, pytest.mark.simulator_only]

DEALS = 40
TABLES = ("deals", "persons")
LISTS = {"deals": ("api/v2/deals", "api/v2/deals/archived"), "persons": ("api/v2/persons",)}
USERS_ME = "api/v1/users/me"


@pytest.fixture
def gateway(record_mode: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    """Two companies behind one Maton key: the simulator while recording, the cassette in replay."""
    yield from small_account(record_mode, monkeypatch, deals=DEALS, connections=2)


@dataclass
class Run:
    """One `pipedrive-source run`: its outcome and the interactions (requests) it made."""

    result: Result
    start: int
    stop: int
    folder: Path

    @property
    def exit_code(self) -> int:
        return self.result.exit_code

    @property
    def database(self) -> Path:
        return self.folder / "pipedrive.duckdb"


@dataclass
class User:
    """A user at a terminal: runs the command in a folder, with a connection chosen or not."""

    vcr: Cassette
    sent: RequestCounter
    monkeypatch: pytest.MonkeyPatch
    home: Path

    def folder(self, name: str) -> Path:
        folder = self.home / name
        folder.mkdir(exist_ok=True)
        return folder

    def run(
        self, folder: str, *args: str, connection: str | None = None, tables: tuple[str, ...] | None = TABLES
    ) -> Run:
        """`pipedrive-source run [--resources deals,persons] ARGS` in `folder` (None: every default table)."""
        where = self.folder(folder)
        self.monkeypatch.chdir(where)
        if connection is None:
            self.monkeypatch.delenv("SOURCES__PIPEDRIVE__CONNECTION_ID", raising=False)
        else:
            self.monkeypatch.setenv("SOURCES__PIPEDRIVE__CONNECTION_ID", connection)
        start = len(self.sent)
        chosen = ["--resources", ",".join(tables)] if tables else []
        result = CliRunner().invoke(cli, ["run", *chosen, *args])
        return Run(result, start, len(self.sent), where)

    def answered(self, run: Run, table: str) -> dict[Any, dict[str, Any]]:
        """The records of `table` the API answered to the run."""
        return {
            record_id: record
            for path in LISTS[table]
            for record_id, record in oracle.records(self.vcr, path, run.start, run.stop).items()
        }

    def company(self, run: Run) -> dict[str, Any]:
        """The company of the run, as users/me answered its one account check."""
        (found,) = oracle.companies(self.vcr, run.start, run.stop)
        return found

    def requests(self, run: Run, path: str) -> list[dict[str, list[str]]]:
        """The query of each request of the run to `path`."""
        return [
            parse_qs(urlsplit(request.uri).query)
            for request, _ in self.vcr.data[run.start : run.stop]
            if urlsplit(request.uri).path.endswith(f"/{path}")
        ]


@pytest.fixture
def user(
    gateway: Gateway, vcr: Cassette, sent: RequestCounter, monkeypatch: pytest.MonkeyPatch, clean_env: Path
) -> User:
    return User(vcr, sent, monkeypatch, clean_env)


def rows(database: Path, table: str, dataset: str = "pipedrive_data") -> list[tuple[Any, str]]:
    """(id, title or name) of every row of `table`, as stored."""
    label = "title" if table == "deals" else "name"
    with duckdb.connect(str(database), read_only=True) as db:
        return db.execute(f"select id, {label} from {dataset}.{table} order by id").fetchall()


def holds_exactly(
    database: Path, answered: dict[str, dict[Any, dict[str, Any]]], dataset: str = "pipedrive_data"
) -> None:
    """Every record the API answered, each once, under its own title or name, and nothing else."""
    for table, records in answered.items():
        label = "title" if table == "deals" else "name"
        expected = sorted((record_id, record[label]) for record_id, record in records.items())
        assert rows(database, table, dataset) == expected, table


def both_connections() -> tuple[str, str]:
    """A (the oldest: the key's default) and B."""
    a, b = MatonConnections.from_config().active_ids()
    return a, b


def test_two_companies_from_two_folders_each_get_their_own_database(user: User) -> None:
    _, b = both_connections()

    in_demo = user.run("demo")
    in_real = user.run("real", connection=b)

    assert in_demo.exit_code == 0 and in_real.exit_code == 0, in_real.result.output
    a_company, b_company = user.company(in_demo), user.company(in_real)
    assert a_company["company_id"] != b_company["company_id"]
    a_answered = {table: user.answered(in_demo, table) for table in TABLES}
    b_answered = {table: user.answered(in_real, table) for table in TABLES}
    # the second company was read in full, into the second folder's database, which the summary names
    assert not any("updated_since" in query for query in user.requests(in_real, "api/v2/deals"))
    assert f"Database: {in_real.database}" in in_real.result.stdout
    assert f"Company: {b_company['company_name']}" in in_real.result.stdout
    holds_exactly(in_real.database, b_answered)
    holds_exactly(in_demo.database, a_answered)

    back_in_demo = user.run("demo")

    # the first folder continues from what its own database holds: only what changed since its load
    assert back_in_demo.exit_code == 0, back_in_demo.result.output
    assert user.company(back_in_demo)["company_id"] == a_company["company_id"]
    (deals_query,) = user.requests(back_in_demo, "api/v2/deals")
    listed = oracle.records(user.vcr, "api/v2/deals", in_demo.start, in_demo.stop)
    assert deals_query["updated_since"] == [
        max(record["update_time"] for record in listed.values())[:19] + "Z"
    ]
    assert "Loaded 0 rows" in back_in_demo.result.stdout
    holds_exactly(in_demo.database, a_answered)


def test_another_company_in_the_same_folder_is_refused_until_started_over(user: User) -> None:
    _, b = both_connections()
    first = user.run("crm")
    loaded = {table: user.answered(first, table) for table in TABLES}

    other = user.run("crm", connection=b)

    # refused after the one account check: nothing read, nothing loaded, both companies and the ways out named
    assert other.exit_code == 1
    assert other.stop - other.start == 1 and user.requests(other, USERS_ME)
    message = other.result.stderr
    a_company, b_company = user.company(first), user.company(other)
    for company in (a_company, b_company):
        assert company["company_name"] in message and str(company["company_id"]) in message
    assert "'pipedrive'" in message and str(first.database) in message
    assert "--pipeline-name" in message and "--dataset-name" in message and "--full-refresh" in message
    assert "Traceback" not in other.result.output
    holds_exactly(first.database, loaded)

    # a refresh of some tables would leave the other tables of the first company: refused too
    partial = user.run("crm", "--full-refresh", connection=b)
    assert partial.exit_code == 1 and "holds the data of" in partial.result.stderr

    # starting over drops every table of the first company and loads the second's
    over = user.run("crm", "--full-refresh", connection=b, tables=None)

    assert over.exit_code == 0, over.result.output
    assert f"Company: {b_company['company_name']}" in over.result.stdout
    holds_exactly(first.database, {table: user.answered(over, table) for table in TABLES})
    assert not set(user.answered(over, "deals")) - {row[0] for row in rows(first.database, "deals")}


def test_a_deleted_database_or_dropped_dataset_is_loaded_in_full_again(user: User) -> None:
    first = user.run("crm")
    first.database.unlink()

    after_delete = user.run("crm")

    assert after_delete.exit_code == 0, after_delete.result.output
    assert "holds none of the loads of pipeline 'pipedrive'" in after_delete.result.stderr
    assert not any("updated_since" in query for query in user.requests(after_delete, "api/v2/deals"))
    holds_exactly(first.database, {table: user.answered(after_delete, table) for table in TABLES})

    with duckdb.connect(str(first.database)) as db:
        db.execute("drop schema pipedrive_data cascade")

    after_drop = user.run("crm")

    assert after_drop.exit_code == 0, after_drop.result.output
    assert not any("updated_since" in query for query in user.requests(after_drop, "api/v2/deals"))
    holds_exactly(first.database, {table: user.answered(after_drop, table) for table in TABLES})
    # each run checked the account once, and the destination with no request
    for run in (first, after_delete, after_drop):
        assert len(user.requests(run, USERS_ME)) == 1


def test_dropped_and_emptied_tables_are_read_again_in_full(user: User) -> None:
    first = user.run("crm", tables=(*TABLES, "deal_products"))
    with duckdb.connect(str(first.database)) as db:
        db.execute("drop table pipedrive_data.persons")
        db.execute("delete from pipedrive_data.deals")
        db.execute("drop table pipedrive_data.deal_products")

    again = user.run("crm", tables=(*TABLES, "deal_products"))

    assert again.exit_code == 0, again.result.output
    assert "lacks persons, deal_products, deals (empty), loaded before" in again.result.stderr
    for path in ("api/v2/deals", "api/v2/persons"):
        assert not any("updated_since" in query for query in user.requests(again, path)), path
    holds_exactly(first.database, {table: user.answered(again, table) for table in TABLES})
    # the deal products of every deal were read again with the deals
    expected = [
        (record["deal_id"], record["id"])
        for body in oracle.answers(user.vcr, "api/v2/deals/products", again.start, again.stop)
        for record in body["data"]
    ]
    with duckdb.connect(str(first.database), read_only=True) as db:
        stored = db.execute("select deal_id, id from pipedrive_data.deal_products").fetchall()
    assert expected and sorted(stored) == sorted(expected)


def test_a_run_from_another_folder_loads_its_own_database_and_the_first_continues(user: User) -> None:
    first = user.run("here")
    renamed = min(user.answered(first, "deals"))
    write_through_gateway("PATCH", f"api/v2/deals/{renamed}", {"title": "Renamed between runs"})

    elsewhere = user.run("there")
    back = user.run("here")

    assert elsewhere.exit_code == 0 and back.exit_code == 0, back.result.output
    # the other folder got a database of its own, in full; the first was not written by that run
    assert f"Database: {elsewhere.database}" in elsewhere.result.stdout
    holds_exactly(elsewhere.database, {table: user.answered(elsewhere, table) for table in TABLES})
    # back in the first folder: only the changes since its own load, the renamed deal once
    assert all("updated_since" in query for query in user.requests(back, "api/v2/deals"))
    assert renamed in user.answered(back, "deals")
    assert len(user.answered(back, "deals")) < len(user.answered(first, "deals"))
    assert rows(first.database, "deals").count((renamed, "Renamed between runs")) == 1
    expected = {table: {**user.answered(first, table), **user.answered(back, table)} for table in TABLES}
    holds_exactly(first.database, expected)


def test_a_default_connection_that_changes_to_another_company_is_refused(
    user: User, gateway: Gateway
) -> None:
    a, _ = both_connections()
    first = user.run("crm")

    # the user reconnects company A (a new connection, authorized with the same Pipedrive login) and
    # deletes the old one: the key's default is now B, the oldest active connection, another company
    if gateway.recording:
        gateway.sim.connections.reconnect(a, keep_old=True)
    MatonConnections.from_config().delete(a)
    other = user.run("crm")

    assert other.exit_code == 1
    assert "another company" in other.result.stderr
    holds_exactly(first.database, {table: user.answered(first, table) for table in TABLES})

    # pointed at company A's new connection
    newest = MatonConnections.from_config().list()[-1].connection_id
    reconnected = user.run("crm", connection=newest)

    # the same company through its new connection continues its tables: only what changed
    assert reconnected.exit_code == 0, reconnected.result.output
    assert user.company(reconnected) == user.company(first)
    assert f"through Maton connection {newest} (before this run: through" in reconnected.result.stdout
    assert all("updated_since" in query for query in user.requests(reconnected, "api/v2/deals"))
    holds_exactly(first.database, {table: user.answered(first, table) for table in TABLES})


@pytest.mark.parametrize("layout", ["datasets", "shared"])
def test_a_company_reconnected_through_a_new_connection_keeps_its_rows_once(
    user: User, gateway: Gateway, layout: str
) -> None:
    a, b = both_connections()
    first = user.run("crm", "--connections", "all", "--accounts-layout", layout)
    assert first.exit_code == 0, first.result.output
    a_company, b_company = (
        company["company_id"] for company in oracle.companies(user.vcr, first.start, first.stop)
    )

    if gateway.recording:
        gateway.sim.connections.reconnect(a)
    again = user.run("crm", "--connections", "all", "--accounts-layout", layout)

    assert again.exit_code == 0, again.result.output
    new_a = [c for c in MatonConnections.from_config().active_ids() if c != b]
    assert len(new_a) == 1 and new_a[0] != a
    # company A through its new connection: the same pipeline and rows, read incrementally
    assert f"Account {new_a[0]} (" in again.result.stdout
    assert f"(pipeline pipedrive_{a_company})" in again.result.stdout
    deal_reads = user.requests(again, "api/v2/deals")
    assert len(deal_reads) == 2 and all("updated_since" in query for query in deal_reads)
    with duckdb.connect(str(first.database), read_only=True) as db:
        for company_id in (a_company, b_company):
            where = f" where company_id = {company_id}" if layout == "shared" else ""
            total, distinct = db.execute(
                f"select count(*), count(distinct id) from {dataset(layout, company_id)}.deals{where}"
            ).fetchone()
            assert total == distinct > 0, company_id
        schemas = {
            row[0] for row in db.execute("select schema_name from information_schema.schemata").fetchall()
        }
    if layout == "datasets":
        assert {
            name for name in schemas if name.startswith("pipedrive_data_") and not name.endswith("_staging")
        } == {
            account_dataset("pipedrive_data", a_company),
            account_dataset("pipedrive_data", b_company),
        }


def dataset(layout: str, company_id: int) -> str:
    return "pipedrive_data" if layout == "shared" else account_dataset("pipedrive_data", company_id)


def test_two_connections_to_one_company_load_it_once(user: User, gateway: Gateway) -> None:
    a, _ = both_connections()
    if gateway.recording:
        gateway.sim.connections.reconnect(a, keep_old=True)

    run = user.run("crm", "--connections", "all", "--accounts-layout", "shared")

    assert run.exit_code == 0, run.result.output
    ids = MatonConnections.from_config().active_ids()
    assert len(ids) == 3
    assert (
        f"Account {ids[-1]} (" in run.result.stdout
        and f"the same company as connection {a}" in run.result.stdout
    )
    companies = [company["company_id"] for company in oracle.companies(user.vcr, run.start, run.stop)]
    assert len(companies) == 3 and len(set(companies)) == 2
    with duckdb.connect(str(run.database), read_only=True) as db:
        total, distinct = db.execute(
            "select count(*), count(distinct (company_id, id)) from pipedrive_data.deals"
        ).fetchone()
    assert total == distinct
    # two reads of deals (A and B), not three
    assert len(user.requests(run, "api/v2/deals")) == 2


def test_a_pipeline_of_ones_own_refuses_what_it_cannot_repair(
    user: User, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, b = both_connections()
    pipeline = dlt.pipeline(
        pipeline_name="mine",
        pipelines_dir=str(clean_env / "pipelines"),
        destination=dlt.destinations.duckdb(str(clean_env / "mine.duckdb")),
        dataset_name="crm",
    )
    pipeline.run(pipedrive_source().with_resources(*TABLES))
    with duckdb.connect(str(clean_env / "mine.duckdb")) as db:
        db.execute("drop table crm.persons")
        deals = db.execute("select * from crm.deals order by id").fetchall()

    with pytest.raises(Exception) as dropped:
        pipeline.run(pipedrive_source().with_resources(*TABLES))

    message = message_for(dropped.value)
    assert "no longer holds tables its state says were loaded: persons" in message
    assert "pipedrive_source.pipeline.run(" in message

    monkeypatch.setenv("SOURCES__PIPEDRIVE__CONNECTION_ID", b)
    with pytest.raises(Exception) as other:
        pipeline.run(pipedrive_source().with_resources(*TABLES))

    assert "holds the data of Pipedrive company" in message_for(other.value)
    # the refused runs loaded nothing
    with duckdb.connect(str(clean_env / "mine.duckdb"), read_only=True) as db:
        assert deals and db.execute("select * from crm.deals order by id").fetchall() == deals


def test_a_company_no_longer_connected_is_named_and_keeps_its_rows(user: User) -> None:
    _, b = both_connections()
    first = user.run("crm", "--connections", "all")
    assert first.exit_code == 0, first.result.output
    _, b_company = oracle.companies(user.vcr, first.start, first.stop)
    b_dataset = account_dataset("pipedrive_data", b_company["company_id"])
    b_rows = rows(first.database, "deals", b_dataset)

    MatonConnections.from_config().delete(b)
    again = user.run("crm", "--connections", "all")

    assert again.exit_code == 0, again.result.output
    assert len(oracle.companies(user.vcr, again.start, again.stop)) == 1
    assert f"Not loaded: {b_company['company_name']}" in again.result.stdout
    assert "its rows stay as they were last loaded" in again.result.stdout
    assert rows(first.database, "deals", b_dataset) == b_rows
