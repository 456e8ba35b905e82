"""`pipedrive-source run`: load Pipedrive into a dlt destination (DuckDB by default)."""

from __future__ import annotations

import time

import click
import dlt
from dlt.common.destination.exceptions import UnknownDestinationModule

from pipedrive_source.cli import cli
from pipedrive_source.cli.failures import exit_on_failure
from pipedrive_source.settings import CUSTOM_FIELDS_TABLE, ENDPOINTS_BY_NAME
from pipedrive_source.source import pipedrive_source

TABLES = (*ENDPOINTS_BY_NAME, CUSTOM_FIELDS_TABLE)


def _table_names(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[str, ...]:
    if not value:
        return ()
    names = tuple(name.strip() for name in value.split(",") if name.strip())
    unknown = [name for name in names if name not in TABLES]
    if unknown:
        raise click.BadParameter(f"unknown table(s) {', '.join(unknown)}; choose from {', '.join(TABLES)}")
    return names


@cli.command()
@click.option(
    "--resources",
    callback=_table_names,
    metavar="NAMES",
    help=f"Comma-separated tables to load (default all): {', '.join(TABLES)}.",
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
    help="Drop the selected tables and their incremental state, then load everything again.",
)
def run(
    resources: tuple[str, ...],
    destination: str,
    dataset_name: str,
    pipeline_name: str,
    full_refresh: bool,
) -> None:
    """Load Pipedrive into DuckDB (or DESTINATION); the next run loads only what changed."""
    with exit_on_failure():
        source = pipedrive_source()
        if resources:
            source = source.with_resources(*resources)
        try:
            pipeline = dlt.pipeline(
                pipeline_name=pipeline_name, destination=destination, dataset_name=dataset_name
            )
        except UnknownDestinationModule:
            raise click.BadParameter(
                f"{destination!r} is not a dlt destination (try duckdb, postgres, bigquery, snowflake, ...)",
                param_hint="--destination",
            ) from None
        started = time.monotonic()
        if full_refresh:
            pipeline.run(source, refresh="drop_resources")
        else:
            pipeline.run(source)
        elapsed = time.monotonic() - started
    normalized = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
    row_counts = normalized.row_counts if normalized else {}
    loaded = {table: rows for table, rows in sorted(row_counts.items()) if not table.startswith("_dlt")}
    click.echo(
        f"Loaded {sum(loaded.values())} rows into {destination} dataset {dataset_name!r} in {elapsed:.1f} s"
    )
    for table, rows in loaded.items():
        click.echo(f"  {table}: {rows}")
    if destination == "duckdb":
        click.echo(f"Database: {pipeline.pipeline_name}.duckdb")
