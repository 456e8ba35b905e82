"""The dlt pipeline for the Pipedrive source, set up to load fast in bounded memory.

`make_pipeline()` is `dlt.pipeline()` with defaults that suit this source, each overridable through dlt config
(`.dlt/config.toml`, environment variables) like any dlt setting:

- DuckDB runs with a memory limit and a thread count (`DUCKDB_SETTINGS`; override one by one with
  `[destination.duckdb.credentials.global_config]`, e.g. `memory_limit = "2GB"`, or the environment variable
  `DESTINATION__DUCKDB__CREDENTIALS__GLOBAL_CONFIG='{"memory_limit": "2GB"}'`). Beyond the limit DuckDB
  spills to a temporary directory next to the database instead of growing.
- `_dlt_load_id` is added to every row (`normalize.parquet_normalizer.add_dlt_load_id`), as dlt does for
  rows it normalizes itself: the source yields Arrow tables, which dlt otherwise loads as they are.
- extracted parquet files rotate every `file_max_items` rows (`data_writer.*`, `PIPELINE_SETTINGS`), so that
  no step holds a whole large table; the load runs one job at a time (`load.workers`), since DuckDB's limit
  is shared by all of them (`run()` runs two at a time for a small load: `load_workers`).

`run()` runs the three steps of `pipeline.run()` one by one, giving the memory of each back to the operating
system before the next (`memory.release_memory`), so that DuckDB's allocations do not come on top of the
extraction's high-water mark. During the load it keeps the DuckDB database open (`duckdb_kept_open`) and,
when every table of the load is small, runs two load jobs at a time (`load_jobs_by_size`).

The source's Arrow tables are written as parquet, the loader file format DuckDB ingests directly (dlt picks it
for Arrow data whenever the destination takes parquet).
"""

from __future__ import annotations

import importlib
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from types import MappingProxyType
from typing import Any

import dlt
from dlt.common import logger
from dlt.common.configuration import resolve_configuration
from dlt.common.data_writers.writers import resolve_best_writer_spec
from dlt.common.destination import TDestinationReferenceArg, TLoaderFileFormat
from dlt.common.pipeline import LoadInfo, NormalizeInfo
from dlt.common.typing import TRefreshMode
from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials
from dlt.extract.source import DltSource

from pipedrive_source.guards.destination import agree_with_destination, destination_checked
from pipedrive_source.guards.run_lock import one_run_at_a_time
from pipedrive_source.guards.where import duckdb_credentials_of, duckdb_file_of
from pipedrive_source.load_workers import jobs_at_a_time, pending_table_bytes
from pipedrive_source.memory import release_memory

DUCKDB_SETTINGS: Mapping[str, Any] = MappingProxyType(
    {
        # measured: loads of 2,000,000 rows x 40 columns and of 2 KB texts fit; DuckDB's RSS runs ~100-150 MB
        # above its limit (allocations outside its buffer manager)
        "memory_limit": "192MB",
        "threads": 2,
        # The merge re-reads the staged rows; their order does not matter and keeping it costs memory.
        "preserve_insertion_order": False,
    }
)
"""DuckDB settings (`SET GLOBAL`) for the load, unless configured otherwise."""

PIPELINE_SETTINGS: Mapping[str, Any] = MappingProxyType(
    {
        "normalize.parquet_normalizer.add_dlt_load_id": True,
        "data_writer.buffer_max_items": 5000,
        "data_writer.file_max_items": 100_000,
        # Two resources fill one table (archived deals land in `deals`): their Arrow pages, buffered
        # together, hold different columns. dlt's default refuses to join them; this joins them losslessly.
        "data_writer.arrow_concat_promote_options": "default",
        # DuckDB's memory limit is per database, not per job: parallel load jobs (dlt's default is 20)
        # overrun it together and fail with out-of-memory errors. One job at a time, each with all threads
        # (two for a small load: `load_jobs_by_size`).
        "load.workers": 1,
        # The staging tables of a merge hold a copy of everything loaded; emptied after the load, the DuckDB
        # file does not keep that copy, and closing it writes half as much (0.5 s to 0.3 s at 20,000 deals).
        "load.truncate_staging_dataset": True,
    }
)
"""dlt settings the pipeline sets where the configuration leaves them unset."""

_DEFAULTED_SETTINGS: set[str] = set()
"""The keys of `PIPELINE_SETTINGS` this process set (the configuration left them unset)."""


def make_pipeline(
    pipeline_name: str = "pipedrive",
    destination: TDestinationReferenceArg = "duckdb",
    dataset_name: str = "pipedrive_data",
    **kwargs: Any,
) -> dlt.Pipeline:
    """A dlt pipeline for `pipedrive_source()`: `dlt.pipeline()` with this module's defaults.

    Args:
        pipeline_name: keeps the incremental state between runs; DuckDB's file is `<pipeline_name>.duckdb`.
        destination: a dlt destination name or instance. By name, `duckdb` gets `DUCKDB_SETTINGS` under the
            configured ones; an instance is used as given.
        dataset_name: the dataset (schema) the tables land in.
        **kwargs: passed on to `dlt.pipeline()` (`pipelines_dir`, `progress`, `dev_mode`, ...).
    """
    for key, value in PIPELINE_SETTINGS.items():
        if dlt.config.get(key) is None:
            dlt.config[key] = value
            _DEFAULTED_SETTINGS.add(key)
    return dlt.pipeline(
        pipeline_name=pipeline_name,
        destination=duckdb_in_file(destination, f"{pipeline_name}.duckdb"),
        dataset_name=dataset_name,
        **kwargs,
    )


def duckdb_credentials() -> DuckDbCredentials:
    """DuckDB's credentials as dlt config resolves them, with `DUCKDB_SETTINGS` for what they leave unset."""
    credentials = resolve_configuration(
        DuckDbCredentials(), sections=("destination", "duckdb", "credentials"), accept_partial=True
    )
    credentials.global_config = {**DUCKDB_SETTINGS, **(credentials.global_config or {})}
    return credentials


def duckdb_in_file(destination: TDestinationReferenceArg, default_file: str) -> TDestinationReferenceArg:
    """`destination` as given, except DuckDB by name: written to `default_file` unless dlt config names one,
    either resolved to an absolute path against the current folder now.

    dlt would resolve a relative file against the folder where the pipeline first ran (kept in its state),
    so a run from another folder would write into the first folder's database; and it would name the file
    after the pipeline, giving every account of several its own file.
    """
    if destination != "duckdb":
        return destination
    credentials = duckdb_credentials()
    credentials.database = duckdb_database(credentials, default_file)
    return dlt.destinations.duckdb(credentials=credentials)


def duckdb_database(credentials: DuckDbCredentials, default_file: str) -> Any:
    """The database of DuckDB `credentials`: the configured file or `default_file`, as an absolute path
    (an in-memory or special location as configured)."""
    database = credentials.database
    if not database or database == ":pipeline:":
        database = default_file
    if isinstance(database, str) and not database.startswith(":"):
        return os.path.abspath(os.path.expanduser(database))
    return database


def run(
    pipeline: dlt.Pipeline,
    source: DltSource,
    refresh: TRefreshMode | None = None,
    notify: Callable[[str], None] | None = None,
) -> tuple[NormalizeInfo, LoadInfo]:
    """`pipeline.run(source)` as extract, normalize and load, with the memory released in between, one run
    of the pipeline at a time, from what its destination holds.

    Before reading, the run takes the pipeline's lock (`guards.run_lock`: another run in progress raises
    `RunInProgress`) and makes the pipeline's state agree with its destination (`guards.destination`: a
    deleted database, a dropped dataset or table, a state written elsewhere). Packages left over by an
    earlier failed load are loaded first. Returns the normalize step's info (rows per table) and the load
    info.

    Args:
        pipeline: the pipeline (`make_pipeline()`).
        source: `pipedrive_source()`, its tables selected.
        refresh: dlt's refresh mode: `drop_resources` reloads the selected tables from scratch,
            `drop_sources` every table of the source (starting over, for another company).
        notify: gets a sentence for each thing the run does because the destination lacked what the state
            says (default: dlt's log, at warning level).
    """
    with one_run_at_a_time(pipeline), destination_checked(pipeline):
        agree_with_destination(pipeline, source, notify or logger.warning)
        _import_in_background(LOAD_STEP_IMPORTS)
        pipeline.extract(source, refresh=refresh, loader_file_format=arrow_file_format(pipeline))
        release_memory()
        normalized = pipeline.normalize()
        release_memory()
        credentials = duckdb_credentials_of(pipeline)
        with duckdb_kept_open(credentials), load_jobs_by_size(pipeline, credentials):
            loaded = pipeline.load()
    return normalized, loaded


LOAD_STEP_IMPORTS = ("dlt.common.libs.sql_alchemy_compat", "duckdb")
"""Modules the load step imports on its way, imported in the background while the extraction waits on the
API's rate limit instead of after it: dlt formats the credentials for the load info through SQLAlchemy's URL
where it is installed (0.3 s); DuckDB's module (0.08 s) is needed by the load only."""


def _import_in_background(modules: tuple[str, ...]) -> None:
    def load() -> None:
        for module in modules:
            with suppress(ImportError):
                importlib.import_module(module)

    threading.Thread(target=load, name="pipedrive-imports", daemon=True).start()


def arrow_file_format(pipeline: dlt.Pipeline) -> TLoaderFileFormat | None:
    """The loader file format for the source's Arrow tables: dlt's own choice (parquet for DuckDB, BigQuery,
    Snowflake, the filesystem, ...) unless that is csv, which cannot hold the nested columns the source yields
    (e-mails, phones, field options) and fails; then `insert_values` (PostgreSQL without ADBC, ...)."""
    if pipeline.destination is None:
        return None
    caps = pipeline.destination.capabilities()
    preferred, supported = caps.preferred_loader_file_format, caps.supported_loader_file_formats
    if caps.loader_file_format_selector is not None:
        preferred, supported = caps.loader_file_format_selector(preferred, supported, table_schema={})
    if not supported:  # loads through a staging bucket only (Athena, ...): dlt's choice
        return None
    chosen = resolve_best_writer_spec("arrow", supported, preferred).file_format
    return "insert_values" if chosen == "csv" and "insert_values" in supported else None


@contextmanager
def load_jobs_by_size(pipeline: dlt.Pipeline, credentials: DuckDbCredentials | None) -> Iterator[None]:
    """While the block runs, `pipeline` loads `load_workers.PARALLEL_JOBS` jobs at a time into DuckDB
    (`credentials`; None: another destination) if the packages to load are small (`load_workers`); at
    the configured number otherwise, for other destinations, or with `load.workers` configured.

    dlt's configuration is process-wide: the setting holds for this load only and is set back after it.
    """
    default = PIPELINE_SETTINGS["load.workers"]
    if (
        credentials is None
        or "load.workers" not in _DEFAULTED_SETTINGS
        or dlt.config.get("load.workers") != default
    ):
        yield
        return
    # a DuckDB destination made elsewhere may set no limit (DuckDB's own is most of the machine's memory):
    # sized as for ours, which is smaller
    memory_limit = (credentials.global_config or {}).get("memory_limit", DUCKDB_SETTINGS["memory_limit"])
    dlt.config["load.workers"] = jobs_at_a_time(pending_table_bytes(pipeline), memory_limit)
    try:
        yield
    finally:
        dlt.config["load.workers"] = default


@contextmanager
def duckdb_kept_open(credentials: DuckDbCredentials | None) -> Iterator[None]:
    """Hold a connection to the DuckDB file of `credentials` while the block runs (nothing for another
    destination, None).

    dlt opens the database for each load job and closes it after, and DuckDB writes a checkpoint whenever
    the last connection to a file closes: about 60 ms per job, most of a second of a 20,000-deal load.
    Connections of one process to one file share the open database, so while this one is held, the jobs'
    connections open and close without a checkpoint; it is written once, when this one closes.
    """
    database = duckdb_file_of(credentials)
    if database is None:
        yield
        return
    import duckdb  # imported by the load step, and in the background meanwhile (`LOAD_STEP_IMPORTS`)

    connection = duckdb.connect(database)
    try:
        yield
    finally:
        connection.close()
