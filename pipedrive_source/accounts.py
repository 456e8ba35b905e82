"""Several Pipedrive accounts (Maton connections) in one run: where each account's rows and state go.

Each account is read by its own dlt pipeline (`account_pipeline_name`), so that its incremental state is its
own and a failing account leaves the others' loads alone. The accounts run one after the other: Maton's
10 requests/s are per API key, so accounts read in parallel would not be faster.

Layout `datasets` loads each account into its own dataset (`account_dataset`), its tables as for one account.
Layout `shared` loads all of them into one dataset, every table with a `connection_id` column in its primary
key (`shared_layout.py`).

dlt schemas in the `shared` layout: every pipeline keeps its schema, and the destination keeps every
schema's versions in `_dlt_version` by schema name. Pipelines sharing a schema name would restore each
other's schema when their local state is lost, so each account's source is named (and its schema is)
`pipedrive_<alias>`. Each schema holds the columns its account has seen (custom fields differ from account
to account); dlt adds the columns a schema brings to the shared tables, and the rows of the other accounts
hold nulls there. With DuckDB every account's pipeline writes the same database file `<pipeline_name>.duckdb`.

    result = run_accounts("all", layout="shared")
    for account in result.accounts:
        print(account.connection_id, account.status, account.rows, account.error)
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from dlt.common.destination import TDestinationReferenceArg
from dlt.extract.source import DltSource

from pipedrive_source.config import settings_from_config
from pipedrive_source.connections import MatonConnections, checked_connection_id
from pipedrive_source.errors import ConfigurationError, message_for
from pipedrive_source.pipeline import duckdb_in_file, make_pipeline, run
from pipedrive_source.progress import Progress, ResourceUsage, track_usage
from pipedrive_source.selection import select_tables
from pipedrive_source.shared_layout import shared_layout
from pipedrive_source.source import pipedrive_source

ACCOUNT_LAYOUTS = ("datasets", "shared")
"""Where several accounts land: a dataset each, or shared tables told apart by `connection_id`."""


def account_alias(connection_id: str) -> str:
    """A short, stable name for a connection in pipeline and dataset names: its UUID's first 8 hex digits."""
    return uuid.UUID(connection_id).hex[:8]


def account_dataset(dataset_name: str, connection_id: str) -> str:
    """The dataset of one account in the `datasets` layout."""
    return f"{dataset_name}_{account_alias(connection_id)}"


def account_pipeline_name(pipeline_name: str, connection_id: str) -> str:
    """The pipeline (and so the incremental state) of one account, in either layout."""
    return f"{pipeline_name}_{account_alias(connection_id)}"


def account_names(connection_id: str | None, pipeline_name: str, dataset_name: str) -> tuple[str, str]:
    """The pipeline and dataset names of one account loaded into its own dataset; None (the key's default
    connection, when no ids are configured) keeps the plain names."""
    if connection_id is None:
        return pipeline_name, dataset_name
    return account_pipeline_name(pipeline_name, connection_id), account_dataset(dataset_name, connection_id)


def account_schema_name(connection_id: str) -> str:
    """The source (and schema) name of one account in the `shared` layout: one schema per pipeline."""
    return f"pipedrive_{account_alias(connection_id)}"


AccountStatus = Literal["loaded", "stopped", "failed"]


@dataclass(frozen=True)
class AccountRun:
    """What one account's run did.

    Attributes:
        connection_id: the Maton connection read.
        pipeline_name: the dlt pipeline keeping its state.
        dataset_name: the dataset it loaded into.
        rows: rows loaded per table (dlt's own tables left out).
        usage: requests, API tokens and records per resource.
        elapsed: seconds the account took.
        stop_reason: why it stopped early on the token budget (what it read is loaded), or None.
        error: why it failed (one paragraph saying what to do), or None. What it loaded before stays.
    """

    connection_id: str
    pipeline_name: str
    dataset_name: str
    rows: Mapping[str, int] = field(default_factory=dict)
    usage: Mapping[str, ResourceUsage] = field(default_factory=dict)
    elapsed: float = 0.0
    stop_reason: str | None = None
    error: str | None = None

    @property
    def status(self) -> AccountStatus:
        if self.error is not None:
            return "failed"
        return "stopped" if self.stop_reason is not None else "loaded"


@dataclass(frozen=True)
class AccountsResult:
    """The runs of every account, in the order they ran."""

    accounts: tuple[AccountRun, ...]

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
            f"{layout!r} is not an accounts layout: use datasets (a dataset per account) or shared (one "
            "dataset, tables with a connection_id column)."
        )
    if layout == "shared" and refresh is not None:
        raise ConfigurationError(
            "A full refresh drops whole tables, which the shared layout shares with the other accounts: "
            "refresh each account in the datasets layout, or delete the account's rows (where "
            "connection_id = ...) and its pipeline's state yourself."
        )
    connection = {
        name: source_kwargs[name]
        for name in ("base_url", "maton_api_key", "api_token", "access_token")
        if source_kwargs.get(name) is not None
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
    refresh: Literal["drop_resources"] | None = None,
    pipelines_dir: str | None = None,
    tables: Iterable[str] = (),
    progress: Progress | None = None,
    max_tokens: int | None = None,
    **source_kwargs: Any,
) -> AccountsResult:
    """Load several Pipedrive accounts (Maton connections), one after the other, each with its own pipeline.

    An account that fails (its connection is not ACTIVE, a 401, a failed load step, ...) is recorded with
    its message and the next account still runs; what each account loaded stays loaded.

    Args:
        connection_ids: the Maton connection ids, or `"all"` for every ACTIVE one (oldest first).
        layout: `datasets` (a dataset `<dataset_name>_<alias>` each) or `shared` (one dataset, tables with
            a `connection_id` column in their primary key).
        destination: a dlt destination name or instance; DuckDB by name writes `<pipeline_name>.duckdb`.
        dataset_name: the dataset, or the start of each account's dataset name.
        pipeline_name: the start of each account's pipeline name (`<pipeline_name>_<alias>`).
        refresh: `drop_resources` reloads the selected tables of each account from scratch (datasets
            layout only).
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
    names = tuple(tables)
    runs = []
    for connection_id in ids:
        dataset = dataset_name if layout == "shared" else account_dataset(dataset_name, connection_id)
        pipeline = account_pipeline_name(pipeline_name, connection_id)
        if connection_id in problems:
            runs.append(AccountRun(connection_id, pipeline, dataset, error=problems[connection_id]))
            continue
        runs.append(
            _run_account(
                connection_id,
                layout,
                shared_destination,
                dataset,
                pipeline,
                refresh,
                pipelines_dir,
                names,
                progress,
                max_tokens,
                source_kwargs,
            )
        )
    return AccountsResult(tuple(runs))


def account_source(
    connection_id: str,
    layout: str,
    tables: Sequence[str],
    source_kwargs: Mapping[str, Any],
    markers: set[str] | None = None,
) -> DltSource:
    """The source of one account, its tables selected, in the layout's form (`markers`: see
    `shared_layout`)."""
    if layout == "shared":
        factory = pipedrive_source.with_args(name=account_schema_name(connection_id))
        source = factory(connection_id=connection_id, **source_kwargs)
    else:
        source = pipedrive_source(connection_id=connection_id, **source_kwargs)
    if tables:
        source = select_tables(source, tables)
    return shared_layout(source, connection_id, markers) if layout == "shared" else source


def _run_account(
    connection_id: str,
    layout: str,
    destination: TDestinationReferenceArg,
    dataset_name: str,
    pipeline_name: str,
    refresh: Literal["drop_resources"] | None,
    pipelines_dir: str | None,
    tables: Sequence[str],
    progress: Progress | None,
    max_tokens: int | None,
    source_kwargs: Mapping[str, Any],
) -> AccountRun:
    markers: set[str] = set()
    with track_usage(progress, token_cap=max_tokens) as usage:
        try:
            source = account_source(connection_id, layout, tables, source_kwargs, markers)
            pipeline = make_pipeline(
                pipeline_name,
                destination,
                dataset_name,
                **({"pipelines_dir": pipelines_dir} if pipelines_dir else {}),
            )
            normalized, _ = run(pipeline, source, refresh=refresh)
        except Exception as exc:  # any failure of one account: the next still runs
            return AccountRun(
                connection_id,
                pipeline_name,
                dataset_name,
                usage=usage.by_resource(),
                elapsed=usage.elapsed,
                error=message_for(exc),
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
        rows=rows,
        usage=usage.by_resource(),
        elapsed=usage.elapsed,
        stop_reason=usage.stop_reason,
    )
