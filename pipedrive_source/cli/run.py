"""`pipedrive-source run`: load Pipedrive into a dlt destination (DuckDB by default).

Exit codes: 0 loaded everything; 1 failed (the message says how to fix it); 2 wrong usage; 3 partial load:
the run stopped early on the token budget, loaded what it had read and saved its state, and the next run
continues from there. With `--connections` (several accounts, `accounts.run_accounts`): 1 if any account
failed (after the others loaded), else 3 if one stopped on the budget, else 0.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Mapping
from typing import Any

import click
import dlt
from dlt.common.destination.exceptions import UnknownDestinationModule
from dlt.common.pipeline import NormalizeInfo
from dlt.common.typing import TRefreshMode
from dlt.extract import DltSource

from pipedrive_source.accounts import ACCOUNT_LAYOUTS, AccountRun, check_accounts_settings, run_accounts
from pipedrive_source.children.tables import CHILDREN
from pipedrive_source.cli import cli
from pipedrive_source.cli.failures import exit_on_failure
from pipedrive_source.deletes import reconciling_deletes
from pipedrive_source.errors import ConfigurationError
from pipedrive_source.guards.account import AccountIdentity, recorded_account
from pipedrive_source.guards.where import duckdb_file
from pipedrive_source.personal_data import PERSONAL_DATA_MODES
from pipedrive_source.pipeline import duckdb_credentials, duckdb_database, make_pipeline
from pipedrive_source.pipeline import run as run_in_steps
from pipedrive_source.progress import PROGRESS, ResourceUsage, RunUsage, track_usage
from pipedrive_source.selection import UnknownTables, select_tables
from pipedrive_source.settings import CUSTOM_FIELDS_TABLE, ENDPOINTS, FIELDS_ENDPOINTS
from pipedrive_source.source import pipedrive_source

TABLES = tuple(
    dict.fromkeys(
        (
            *(endpoint.table for endpoint in ENDPOINTS),
            *(fields.name for fields in FIELDS_ENDPOINTS),
            CUSTOM_FIELDS_TABLE,
            *(child.name for child in CHILDREN),
        )
    )
)
"""The tables of the help text; `--resources` is checked against the source itself."""
NOT_BY_DEFAULT = (
    *(endpoint.table for endpoint in ENDPOINTS if not endpoint.enabled_by_default),
    *(child.name for child in CHILDREN if not child.enabled_by_default),
)

PARTIAL_LOAD = 3
"""Exit code of a run that stopped early on the token budget: run again to continue."""


def _table_names(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    return tuple(name.strip() for name in value.split(",") if name.strip())


def _chosen(source: DltSource, names: tuple[str, ...]) -> DltSource:
    """The source with the resources filling the named tables (and their parent tables) selected."""
    try:
        return select_tables(source, names)
    except UnknownTables as exc:
        raise click.BadParameter(str(exc), param_hint="--resources") from None


def summary(rows: Mapping[str, int], usage: Mapping[str, ResourceUsage]) -> list[str]:
    """The end-of-run table: rows loaded per table, requests and API tokens per resource, and the totals."""
    names = sorted(set(rows) | set(usage))
    lines = [("table", "rows", "requests", "tokens")]
    for name in names:
        spent = usage.get(name)
        lines.append(
            (
                name,
                f"{rows.get(name, 0):,}",
                f"{spent.requests:,}" if spent else "-",
                f"{spent.tokens:,}" if spent else "-",
            )
        )
    total = sum(usage.values(), ResourceUsage())
    lines.append(("total", f"{sum(rows.values()):,}", f"{total.requests:,}", f"{total.tokens:,}"))
    width = max(len(line[0]) for line in lines)
    widths = [max(len(line[column]) for line in lines) for column in range(1, 4)]
    return [
        f"  {name:<{width}}  " + "  ".join(f"{cell:>{w}}" for cell, w in zip(cells, widths, strict=True))
        for name, *cells in lines
    ]


def _loaded_rows(normalized: NormalizeInfo) -> dict[str, int]:
    return {table: rows for table, rows in normalized.row_counts.items() if not table.startswith("_dlt")}


def _connection_ids(ctx: click.Context, param: click.Parameter, value: str | None) -> Any:
    if value is None:
        return None
    if value.strip().lower() == "all":
        return "all"
    ids = [part.strip() for part in value.split(",") if part.strip()]
    if not ids:
        raise click.BadParameter("name connection ids separated by commas, or all", param=param)
    return ids


def _report_account(account: AccountRun, destination: str) -> None:
    name = f"Account {account.connection_id}"
    if account.company is not None:
        name += f" ({account.company.company})"
    for notice in account.notices:
        _notice(notice)
    if account.error is not None:
        click.echo(f"{name}: FAILED, nothing more loaded. {account.error}", err=True)
        return
    if account.same_as is not None:
        click.echo(
            f"{name}: the same company as connection {account.same_as}, loaded once by it: skipped. Delete "
            "the connection you no longer use (`pipedrive-source connections delete ID`)."
        )
        return
    click.echo(
        f"{name}: loaded {sum(account.rows.values()):,} rows into {destination} dataset "
        f"{account.dataset_name!r} in {account.elapsed:.1f} s (pipeline {account.pipeline_name})"
    )
    if moved := route_change(account.previous, account.company):
        click.echo(f"  The same company as before{moved}: its tables continue.")
    for line in summary(account.rows, account.usage):
        click.echo(line)
    if account.stop_reason:
        click.echo(f"{name}: partial load: {account.stop_reason}", err=True)


def _run_accounts(
    connection_ids: Any,
    layout: str,
    tables: tuple[str, ...],
    destination: str,
    dataset_name: str,
    pipeline_name: str,
    full_refresh: bool,
    max_tokens: int | None,
    progress: str,
    personal_data: str | None,
) -> None:
    """`run --connections`: every account one after the other, a summary each, the exit code of all."""
    source_kwargs = {"personal_data": personal_data} if personal_data else {}
    refresh = refresh_mode(full_refresh, tables)
    try:
        check_accounts_settings(layout, refresh, **source_kwargs)
    except ConfigurationError as exc:
        raise click.UsageError(str(exc)) from None
    if tables:
        # unknown names fail as usage errors before any account runs
        _chosen(pipedrive_source(**source_kwargs), tables)
    with exit_on_failure():
        result = run_accounts(
            connection_ids,
            layout=layout,
            destination=destination,
            dataset_name=dataset_name,
            pipeline_name=pipeline_name,
            refresh=refresh,
            tables=tables,
            progress=PROGRESS[progress](),
            max_tokens=max_tokens,
            **source_kwargs,
        )
    for account in result.accounts:
        _report_account(account, destination)
    for company in result.not_loaded:
        click.echo(
            f"Not loaded: {company.company}, loaded before through {company.route}, which no ACTIVE "
            "connection reaches now: its rows stay as they were last loaded. Reconnect it "
            "(`pipedrive-source connections create`), or drop its rows if it is gone."
        )
    if destination == "duckdb":
        click.echo(f"Database: {duckdb_database(duckdb_credentials(), f'{pipeline_name}.duckdb')}")
    if result.failed:
        failed = ", ".join(str(account.connection_id) for account in result.failed)
        click.echo(
            f"Error: {len(result.failed)} of {len(result.accounts)} accounts failed ({failed}); the others "
            "are loaded. Fix what each message above says and run again: each account continues from its "
            "own state.",
            err=True,
        )
        raise SystemExit(1)
    if result.stopped:
        raise SystemExit(PARTIAL_LOAD)


def refresh_mode(full_refresh: bool, resources: tuple[str, ...]) -> TRefreshMode | None:
    """`--full-refresh` alone starts the pipeline over (every table and the whole state, the recorded
    company included); with `--resources` it reloads the named tables only."""
    if not full_refresh:
        return None
    return "drop_resources" if resources else "drop_sources"


def account_line(before: AccountIdentity | None, after: AccountIdentity | None) -> str | None:
    """The summary's line naming the company loaded and the way in, and a way in that changed."""
    if after is None:
        return None
    return f"Company: {after.company} through {after.route}{route_change(before, after)}"


def route_change(before: AccountIdentity | None, after: AccountIdentity | None) -> str:
    """` (before this run: through <the old way in>)` when the same company came another way, else ``."""
    if before is None or after is None or not before.same_company(after) or before.route == after.route:
        return ""
    return f" (before this run: through {before.route})"


def _notice(text: str) -> None:
    click.echo(f"Note: {text}", err=True)


def _report(
    pipeline: dlt.Pipeline,
    normalized: NormalizeInfo,
    usage: RunUsage,
    destination: str,
    account: str | None,
) -> None:
    rows = _loaded_rows(normalized)
    click.echo(
        f"Loaded {sum(rows.values()):,} rows into {destination} dataset {pipeline.dataset_name!r} in "
        f"{usage.elapsed:.1f} s"
    )
    if account is not None:
        click.echo(account)
    for line in summary(rows, usage.by_resource()):
        click.echo(line)
    database = duckdb_file(pipeline)
    if database is not None:
        click.echo(f"Database: {database}")


@cli.command()
@click.option(
    "--resources",
    callback=_table_names,
    metavar="NAMES",
    help="Comma-separated tables to load, with their parent tables; `default` stands for the tables "
    f"loaded when this is not given (all but {', '.join(NOT_BY_DEFAULT)}: mail threads hold third parties' "
    "personal data, the others cost one request per parent record), `all` for every table, e.g. "
    f"`default,deal_changes`. Tables: {', '.join(TABLES)}.",
)
@click.option(
    "--destination",
    default="duckdb",
    show_default=True,
    help="Any dlt destination by name; its credentials come from dlt config.",
)
# not "pipedrive": DuckDB cannot tell a dataset from the database file `pipedrive.duckdb` of the same name
@click.option(
    "--dataset-name", default="pipedrive_data", show_default=True, help="Dataset (schema) to load into."
)
@click.option(
    "--pipeline-name",
    default="pipedrive",
    show_default=True,
    help="dlt pipeline name; it keeps the incremental state between runs (DuckDB file <name>.duckdb).",
)
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Start over: drop every table of the pipeline and its state (the company it holds included), then "
    "load everything again. With --resources, only the named tables and their state.",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    help="Stop cleanly after spending this many Pipedrive API tokens: what was read is loaded, the exit "
    "code is 3 and the next run continues (default: sources.pipedrive.max_tokens_per_run, else no cap).",
)
@click.option(
    "--progress",
    type=click.Choice(sorted(PROGRESS)),
    help="Show records and requests per table while reading, on stderr: a line every 5 s (log) or "
    "tqdm bars. Default: log on a terminal, none otherwise.",
)
@click.option(
    "--personal-data",
    type=click.Choice(PERSONAL_DATA_MODES),
    help="Keep, hash (HMAC-SHA256 keyed with sources.pipedrive.personal_data_key) or drop the contacts' "
    "names, e-mails and phones at extraction (default: sources.pipedrive.personal_data, else keep).",
)
@click.option(
    "--reconcile-deletes",
    is_flag=True,
    help="Scan the ids of every incremental table now (one page per 500 records) and flag the records "
    "deleted in Pipedrive with is_deleted = true; otherwise every sources.pipedrive."
    "reconcile_deletes_every_days (default 7; 0 never).",
)
@click.option(
    "--connections",
    "connection_ids",
    callback=_connection_ids,
    metavar="all|ID[,ID...]",
    help="Load several Pipedrive accounts (Maton connections), one after the other, each company with its "
    "own pipeline <pipeline-name>_<Pipedrive company id> and state (a company reconnected through a new "
    "connection continues): `all` for every ACTIVE connection, or comma-separated ids. Without it, one "
    "account is loaded (sources.pipedrive.connection_id or the oldest active one).",
)
@click.option(
    "--accounts-layout",
    type=click.Choice(ACCOUNT_LAYOUTS),
    default="datasets",
    show_default=True,
    help="With --connections: `datasets` loads each company into <dataset-name>_<company id>; `shared` "
    "loads all into <dataset-name>, every table with a company_id column in its primary key.",
)
def run(
    resources: tuple[str, ...],
    destination: str,
    dataset_name: str,
    pipeline_name: str,
    full_refresh: bool,
    max_tokens: int | None,
    progress: str | None,
    personal_data: str | None,
    reconcile_deletes: bool,
    connection_ids: Any,
    accounts_layout: str,
) -> None:
    """Load Pipedrive into DuckDB (or DESTINATION); the next run loads only what changed.

    Exits with 3 when the run stopped early on Pipedrive's daily token budget or --max-tokens: what it
    read is loaded; run it again after the budget resets to continue.
    """
    shown = progress or ("log" if sys.stderr.isatty() else "none")
    forced = reconciling_deletes() if reconcile_deletes else contextlib.nullcontext()
    if connection_ids is not None:
        with forced:
            _run_accounts(
                connection_ids,
                accounts_layout,
                resources,
                destination,
                dataset_name,
                pipeline_name,
                full_refresh,
                max_tokens,
                shown,
                personal_data,
            )
        return
    with exit_on_failure(), track_usage(PROGRESS[shown](), token_cap=max_tokens) as usage, forced:
        source = pipedrive_source(**({"personal_data": personal_data} if personal_data else {}))
        if resources:
            source = _chosen(source, resources)
        try:
            pipeline = make_pipeline(pipeline_name, destination, dataset_name)
        except UnknownDestinationModule:
            raise click.BadParameter(
                f"{destination!r} is not a dlt destination (try duckdb, postgres, bigquery, snowflake, ...)",
                param_hint="--destination",
            ) from None
        before = recorded_account(pipeline)
        normalized, _ = run_in_steps(
            pipeline, source, refresh=refresh_mode(full_refresh, resources), notify=_notice
        )
    _report(pipeline, normalized, usage, destination, account_line(before, recorded_account(pipeline)))
    if usage.stop_reason:
        click.echo(f"Partial load: {usage.stop_reason}", err=True)
        raise SystemExit(PARTIAL_LOAD)
