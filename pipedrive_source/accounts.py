"""Several Pipedrive accounts (Maton connections) in one run: where each company's rows and state go.

An account is a Pipedrive company. Each connection is identified first (`users/me`, the one request of a
run's checks, see `guards.account`), and its company is what names its pipeline and dataset: a company
reconnected through a new connection continues its tables and state, and two connections to one company
load it once. Each company is read by its own dlt pipeline (`account_pipeline_name`), so that its
incremental state is its own and a failing account leaves the others' loads alone. The accounts run one
after the other: Maton's 10 requests/s are per API key, so accounts read in parallel would not be faster.

Layout `datasets` loads each company into its own dataset (`account_dataset`), its tables as for one
account. Layout `shared` loads all of them into one dataset, every table with a `company_id` column in its
primary key (`shared_layout.py`).

dlt schemas in the `shared` layout: every pipeline keeps its schema, and the destination keeps every
schema's versions in `_dlt_version` by schema name. Pipelines sharing a schema name would restore each
other's schema when their local state is lost, so each company's source is named (and its schema is)
`pipedrive_<company id>`. Each schema holds the columns its company has seen (custom fields differ from
company to company); dlt adds the columns a schema brings to the shared tables, and the rows of the other
companies hold nulls there. With DuckDB every company's pipeline writes the same database file
`<pipeline_name>.duckdb`.

A company that is no longer loaded (its connection deleted, nothing reconnected) keeps its rows and state
as last loaded; nothing marks them stale.

    result = run_accounts("all", layout="shared")
    for account in result.accounts:
        print(account.connection_id, account.company, account.status, account.rows, account.error)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import dlt
from dlt.common.destination import TDestinationReferenceArg
from dlt.common.pipeline import get_dlt_pipelines_dir
from dlt.common.typing import TRefreshMode
from dlt.extract.source import DltSource

from pipedrive_source.client import PipedriveClient
from pipedrive_source.config import settings_from_config
from pipedrive_source.connections import MatonConnections, checked_connection_id
from pipedrive_source.errors import ConfigurationError, message_for
from pipedrive_source.guards.account import AccountIdentity, known_account, recorded_account
from pipedrive_source.pipeline import duckdb_in_file, make_pipeline, run
from pipedrive_source.progress import Progress, ResourceUsage, track_usage
from pipedrive_source.selection import select_tables
from pipedrive_source.shared_layout import shared_layout
from pipedrive_source.source import pipedrive_source

ACCOUNT_LAYOUTS = ("datasets", "shared")
"""Where several accounts land: a dataset each, or shared tables told apart by `company_id`."""

CONNECTION_SETTINGS = ("base_url", "maton_api_key", "api_token", "access_token")


def account_dataset(dataset_name: str, company_id: int) -> str:
    """The dataset of one company in the `datasets` layout."""
    return f"{dataset_name}_{company_id}"


def account_pipeline_name(pipeline_name: str, company_id: int) -> str:
    """The pipeline (and so the incremental state) of one company, in either layout."""
    return f"{pipeline_name}_{company_id}"


def account_schema_name(company_id: int) -> str:
    """The source (and schema) name of one company in the `shared` layout: one schema per pipeline."""
    return f"pipedrive_{company_id}"


def identify(connection_id: str | None, **source_kwargs: Any) -> AccountIdentity:
    """The company behind a Maton connection (None: the key's oldest active one), from `users/me`.

    Counted in the enclosing `progress.track_usage()` block, if any. Use the answer for the run with
    `guards.account.known_account()`, so that the run does not ask again.
    """
    connection = {name: source_kwargs[name] for name in CONNECTION_SETTINGS if source_kwargs.get(name)}
    settings = settings_from_config(connection_id=connection_id, **connection)
    return AccountIdentity.from_users_me(PipedriveClient(settings).users_me(), settings)


AccountStatus = Literal["loaded", "stopped", "failed", "skipped"]


@dataclass(frozen=True)
class AccountRun:
    """What one account's run did.

    Attributes:
        connection_id: the Maton connection read (None: the key's oldest active one).
        pipeline_name: the dlt pipeline keeping its state ("" when the company is unknown).
        dataset_name: the dataset it loaded into ("" when the company is unknown).
        company: the Pipedrive company behind the connection, None if it could not be asked.
        rows: rows loaded per table (dlt's own tables left out).
        usage: requests, API tokens and records per resource.
        elapsed: seconds the account took.
        stop_reason: why it stopped early on the token budget (what it read is loaded), or None.
        error: why it failed (one paragraph saying what to do), or None. What it loaded before stays.
        same_as: another connection of this run reaching the same company, which loaded it: this one was
            skipped.
        notices: what the run did differently because the destination lacked what the state says
            (`guards.destination`), one sentence each.
        previous: the company and way in the pipeline's state recorded before this run (None: none yet).
    """

    connection_id: str | None
    pipeline_name: str
    dataset_name: str
    company: AccountIdentity | None = None
    rows: Mapping[str, int] = field(default_factory=dict)
    usage: Mapping[str, ResourceUsage] = field(default_factory=dict)
    elapsed: float = 0.0
    stop_reason: str | None = None
    error: str | None = None
    same_as: str | None = None
    notices: tuple[str, ...] = ()
    previous: AccountIdentity | None = None

    @property
    def status(self) -> AccountStatus:
        if self.error is not None:
            return "failed"
        if self.same_as is not None:
            return "skipped"
        return "stopped" if self.stop_reason is not None else "loaded"


@dataclass(frozen=True)
class AccountsResult:
    """The runs of every account, in the order they ran.

    Attributes:
        accounts: each connection's run.
        not_loaded: with `"all"` connections, the companies this machine loaded before (their pipelines in
            the pipelines folder) that no ACTIVE connection reaches now: their rows stay as last loaded.
    """

    accounts: tuple[AccountRun, ...]
    not_loaded: tuple[AccountIdentity, ...] = ()

    @property
    def failed(self) -> list[AccountRun]:
        return [account for account in self.accounts if account.status == "failed"]

    @property
    def stopped(self) -> list[AccountRun]:
        return [account for account in self.accounts if account.status == "stopped"]

    def __getitem__(self, connection_id: str) -> AccountRun:
        return next(account for account in self.accounts if account.connection_id == connection_id)


def check_accounts_settings(layout: str, refresh: str | None = None, **source_kwargs: Any) -> None:
    """Fail before any request when several accounts cannot be loaded with these settings.

    Raises:
        ConfigurationError: the message says what to change.
    """
    if layout not in ACCOUNT_LAYOUTS:
        raise ConfigurationError(
            f"{layout!r} is not an accounts layout: use datasets (a dataset per company) or shared (one "
            "dataset, tables with a company_id column)."
        )
    if layout == "shared" and refresh is not None:
        raise ConfigurationError(
            "A full refresh drops whole tables, which the shared layout shares with the other companies: "
            "refresh each company in the datasets layout, or delete the company's rows (where "
            "company_id = ...) and its pipeline's state yourself."
        )
    connection = {
        name: source_kwargs[name] for name in CONNECTION_SETTINGS if source_kwargs.get(name) is not None
    }
    if settings_from_config(**connection).layer != "maton":
        raise ConfigurationError(
            "Several accounts are several Maton connections, but the source calls Pipedrive directly with "
            "a Pipedrive token: set MATON_API_KEY (and base_url https://api.maton.ai/pipedrive) and unset "
            "sources.pipedrive.api_token / access_token, or load one account without connections."
        )


def connection_ids_of(connection_ids: Sequence[str] | Literal["all"]) -> list[str]:
    """The connections to read: those given (checked as UUIDs, each once), or every ACTIVE one for `"all"`."""
    if connection_ids == "all":
        found = MatonConnections.from_config().active_ids()
        if not found:
            raise ConfigurationError(
                "The Maton key has no ACTIVE Pipedrive connection: create one with `pipedrive-source "
                "connections create` and open the URL it prints, then run again."
            )
        return found
    checked = [checked_connection_id(connection_id) for connection_id in connection_ids]
    if not checked:
        raise ConfigurationError("No connection id given: name one or more, or all.")
    return list(dict.fromkeys(checked))


def not_active(connection_ids: Sequence[str]) -> dict[str, str]:
    """The message of each connection among `connection_ids` that is not ACTIVE for the Maton key, by id.

    Asked once of the connections API before any account runs: an account that cannot be read fails
    without a request, with what to do, and the others still run.
    """
    known = {connection.connection_id: connection for connection in MatonConnections.from_config().list()}
    problems = {}
    for connection_id in connection_ids:
        connection = known.get(connection_id)
        if connection is None:
            problems[connection_id] = (
                f"Connection {connection_id} is not a Pipedrive connection of this Maton key: check the id "
                "with `pipedrive-source connections list`, or create a connection with `pipedrive-source "
                "connections create`."
            )
        elif connection.status != "ACTIVE":
            problems[connection_id] = (
                f"Connection {connection_id} is {connection.status}, not ACTIVE: open its authorization URL "
                f"({connection.url or 'see maton.ai'}) to finish connecting Pipedrive, or leave it out."
            )
    return problems


def run_accounts(
    connection_ids: Sequence[str] | Literal["all"],
    layout: str = "datasets",
    destination: TDestinationReferenceArg = "duckdb",
    dataset_name: str = "pipedrive_data",
    pipeline_name: str = "pipedrive",
    refresh: TRefreshMode | None = None,
    pipelines_dir: str | None = None,
    tables: Iterable[str] = (),
    progress: Progress | None = None,
    max_tokens: int | None = None,
    **source_kwargs: Any,
) -> AccountsResult:
    """Load several Pipedrive accounts (Maton connections), one after the other, each company with its own
    pipeline.

    An account that fails (its connection is not ACTIVE, a 401, a failed load step, ...) is recorded with
    its message and the next account still runs; what each account loaded stays loaded. A connection
    reaching a company that an earlier connection of the run loaded is skipped (`AccountRun.same_as`).

    Args:
        connection_ids: the Maton connection ids, or `"all"` for every ACTIVE one (oldest first).
        layout: `datasets` (a dataset `<dataset_name>_<company id>` each) or `shared` (one dataset, tables
            with a `company_id` column in their primary key).
        destination: a dlt destination name or instance; DuckDB by name writes `<pipeline_name>.duckdb`.
        dataset_name: the dataset, or the start of each company's dataset name.
        pipeline_name: the start of each company's pipeline name (`<pipeline_name>_<company id>`).
        refresh: `drop_resources` reloads the selected tables of each company from scratch,
            `drop_sources` all of them (datasets layout only).
        pipelines_dir: where the pipelines keep their state (dlt's default if None).
        tables: the tables to load, with their parent tables (`selection.select_tables`); default as
            `pipedrive_source()`.
        progress: shows each account's reading while it goes on.
        max_tokens: stop each account cleanly after this many API tokens (each Pipedrive company has its
            own daily budget).
        **source_kwargs: passed on to `pipedrive_source()` (`personal_data`, `base_url`, ...).

    Raises:
        ConfigurationError: before any account ran, when the settings cannot load several accounts.
    """
    check_accounts_settings(layout, refresh, **source_kwargs)
    ids = connection_ids_of(connection_ids)
    problems = {} if connection_ids == "all" else not_active(ids)
    shared_destination = duckdb_in_file(destination, f"{pipeline_name}.duckdb")
    plan = AccountsPlan(layout, shared_destination, dataset_name, pipeline_name, refresh, pipelines_dir)
    names = tuple(tables)
    runs: list[AccountRun] = []
    loaded: dict[int, str] = {}
    for connection_id in ids:
        if connection_id in problems:
            runs.append(AccountRun(connection_id, "", "", error=problems[connection_id]))
            continue
        account = _run_account(connection_id, plan, loaded, names, progress, max_tokens, source_kwargs)
        if account.company is not None and account.same_as is None:
            loaded.setdefault(account.company.company_id, connection_id)
        runs.append(account)
    reached = {account.company.company_id for account in runs if account.company is not None}
    gone = companies_loaded_before(pipeline_name, pipelines_dir, reached) if connection_ids == "all" else []
    return AccountsResult(tuple(runs), tuple(gone))


def companies_loaded_before(
    pipeline_name: str, pipelines_dir: str | None, reached: Iterable[int]
) -> list[AccountIdentity]:
    """The companies whose pipelines (`<pipeline_name>_<company id>`) this machine keeps, other than
    `reached`: the companies no connection loads any more."""
    folder = Path(pipelines_dir or get_dlt_pipelines_dir())
    prefix = f"{pipeline_name}_"
    skip = {account_pipeline_name(pipeline_name, company_id) for company_id in reached}
    found = []
    for entry in sorted(folder.glob(f"{prefix}*")) if folder.is_dir() else ():
        if not entry.is_dir() or not entry.name[len(prefix) :].isdigit() or entry.name in skip:
            continue
        company = recorded_account(dlt.attach(entry.name, pipelines_dir=str(folder)))
        if company is not None:
            found.append(company)
    return found


@dataclass(frozen=True)
class AccountsPlan:
    """Where the accounts of one `run_accounts()` go."""

    layout: str
    destination: TDestinationReferenceArg
    dataset_name: str
    pipeline_name: str
    refresh: TRefreshMode | None
    pipelines_dir: str | None

    def names(self, company: AccountIdentity) -> tuple[str, str]:
        """The pipeline and dataset of a company; the plain names for the key's default connection."""
        if company.connection_id is None:
            return self.pipeline_name, self.dataset_name
        pipeline = account_pipeline_name(self.pipeline_name, company.company_id)
        if self.layout == "shared":
            return pipeline, self.dataset_name
        return pipeline, account_dataset(self.dataset_name, company.company_id)


def run_account(
    connection_id: str | None,
    destination: TDestinationReferenceArg = "duckdb",
    dataset_name: str = "pipedrive_data",
    pipeline_name: str = "pipedrive",
    pipelines_dir: str | None = None,
    tables: Iterable[str] = (),
    progress: Progress | None = None,
    max_tokens: int | None = None,
    **source_kwargs: Any,
) -> AccountRun:
    """Load one account into its own dataset, named after its company, as a task of its own (Airflow,
    Dagster): `run_accounts()` for one connection, in the `datasets` layout. `connection_id` None loads the
    key's oldest active connection (or a direct token's company) as `pipeline_name` into `dataset_name`.

    Failures are returned in `AccountRun.error`, not raised: raise them in the task.
    """
    plan = AccountsPlan(
        "datasets",
        duckdb_in_file(destination, f"{pipeline_name}.duckdb"),
        dataset_name,
        pipeline_name,
        None,
        pipelines_dir,
    )
    checked = checked_connection_id(connection_id) if connection_id is not None else None
    return _run_account(checked, plan, {}, tuple(tables), progress, max_tokens, source_kwargs)


def account_source(
    company: AccountIdentity,
    layout: str,
    tables: Sequence[str],
    source_kwargs: Mapping[str, Any],
    markers: set[str] | None = None,
) -> DltSource:
    """The source of one company, through its connection, its tables selected, in the layout's form
    (`markers`: see `shared_layout`)."""
    account = {"connection_id": company.connection_id, **source_kwargs}
    if layout == "shared":
        source = pipedrive_source.with_args(name=account_schema_name(company.company_id))(**account)
    else:
        source = pipedrive_source(**account)
    if tables:
        source = select_tables(source, tables)
    return shared_layout(source, company.company_id, markers) if layout == "shared" else source


def _run_account(
    connection_id: str | None,
    plan: AccountsPlan,
    loaded: Mapping[int, str],
    tables: Sequence[str],
    progress: Progress | None,
    max_tokens: int | None,
    source_kwargs: Mapping[str, Any],
) -> AccountRun:
    markers: set[str] = set()
    notices: list[str] = []
    company: AccountIdentity | None = None
    pipeline_name = dataset_name = ""
    with track_usage(progress, token_cap=max_tokens) as usage:
        try:
            company = identify(connection_id, **source_kwargs)
            if company.company_id in loaded:
                return AccountRun(
                    connection_id,
                    "",
                    "",
                    company,
                    usage=usage.by_resource(),
                    elapsed=usage.elapsed,
                    same_as=loaded[company.company_id],
                )
            pipeline_name, dataset_name = plan.names(company)
            source = account_source(company, plan.layout, tables, source_kwargs, markers)
            pipeline = make_pipeline(
                pipeline_name,
                plan.destination,
                dataset_name,
                **({"pipelines_dir": plan.pipelines_dir} if plan.pipelines_dir else {}),
            )
            previous = recorded_account(pipeline, source.name)
            with known_account(company):
                normalized, _ = run(pipeline, source, refresh=plan.refresh, notify=notices.append)
        except Exception as exc:  # any failure of one account: the next still runs
            return AccountRun(
                connection_id,
                pipeline_name,
                dataset_name,
                company,
                usage=usage.by_resource(),
                elapsed=usage.elapsed,
                error=message_for(exc),
                notices=tuple(notices),
            )
    rows = {
        table: count - (table in markers)
        for table, count in normalized.row_counts.items()
        if not table.startswith("_dlt")
    }
    return AccountRun(
        connection_id,
        pipeline_name,
        dataset_name,
        company,
        rows=rows,
        usage=usage.by_resource(),
        elapsed=usage.elapsed,
        stop_reason=usage.stop_reason,
        notices=tuple(notices),
        previous=previous,
    )
