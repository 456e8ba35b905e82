"""The destination holds what the pipeline's state says was loaded, or the run makes it so.

dlt keeps a pipeline's state twice: on the machine (the pipelines folder) and in the destination, with every
load (`_dlt_pipeline_state`). An incremental run continues from the state on the machine, which may no longer
describe the destination: the DuckDB file was deleted, the dataset or a table dropped, a table emptied, or
the run loads another database than the last one. Continuing would load only the changes since, over
tables that lack the history: "Loaded 0 rows" over an empty table.

The rule here: the destination is the truth. Before a run reads (`agree_with_destination`, called by
`pipeline.run()`):

- the destination holds no state of the pipeline, which has loaded before: the state on the machine is
  dropped and everything is loaded again;
- the destination holds another state than the machine (loaded elsewhere since, or an older copy): the
  destination's state replaces the machine's, and the run continues from what that destination holds
  (packages a failed load left behind are loaded first: they continue the destination);
- a table the schema says was loaded is missing, or an incremental table is empty: its resources start
  over (state reset, table re-created), a child table's parents are read in full again.

A pipeline run by dlt directly (`dlt.pipeline(...).run(pipedrive_source())`) gets dlt's own check (a
dataset that is gone drops the machine's state); the source's first request then checks the rest
(`refuse_disagreement`) and stops with `DestinationDisagrees`, naming the fix, instead of repairing: by
then dlt has read the state it extracts from.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import dlt
from dlt.common.destination.client import JobClientBase, WithStateSync
from dlt.common.destination.exceptions import DestinationUndefinedEntity
from dlt.common.schema import Schema
from dlt.common.schema.utils import has_table_seen_data
from dlt.destinations.exceptions import DatabaseTerminalException, DatabaseUndefinedRelation
from dlt.destinations.job_client_impl import SqlJobClientBase
from dlt.destinations.sql_client import SqlClientBase, WithSqlClient
from dlt.extract.source import DltSource
from dlt.pipeline.drop import prepare_drop_resources
from dlt.pipeline.state_sync import decompress_state, migrate_state_to_current

from pipedrive_source.children.tables import CHILDREN
from pipedrive_source.errors import PipedriveError
from pipedrive_source.guards.account import recorded_account
from pipedrive_source.guards.where import data_location
from pipedrive_source.selection import table_of
from pipedrive_source.shared_layout import ACCOUNT_COLUMN

CHILD_PARENT = {child.name: child.parent for child in CHILDREN}


@dataclass
class Disagreement:
    """What the destination lacks of what the pipeline's state says was loaded.

    Attributes:
        no_state: the destination holds no state of the pipeline, which has loaded before.
        other_state: the destination holds another state than the machine: when it was written.
        missing_tables: tables the schema says were loaded, absent from the destination.
        empty_tables: incremental tables with a position in the state, holding no row.
    """

    no_state: bool = False
    other_state: str | None = None
    missing_tables: list[str] = field(default_factory=list)
    empty_tables: list[str] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.no_state or self.other_state is not None or bool(self.missing_tables or self.empty_tables)


class DestinationDisagrees(PipedriveError):
    """The destination lacks what the state says was loaded, in a run that cannot repair it."""

    def __init__(self, pipeline: dlt.Pipeline, found: Disagreement) -> None:
        name = pipeline.pipeline_name
        if found.other_state is not None:
            what = (
                f"holds another state of pipeline {name!r} (written {found.other_state}) than this "
                "machine's: the machine's state was loaded elsewhere since, or the destination was "
                "replaced by an older copy"
            )
        else:
            lost = [*found.missing_tables, *(f"{table} (empty)" for table in found.empty_tables)]
            what = f"no longer holds tables its state says were loaded: {', '.join(lost)}"
        super().__init__(
            f"The {data_location(pipeline)} {what}. An incremental run would load only later changes "
            "and leave the history out, so nothing was read. Run it with pipedrive_source.pipeline.run("
            "pipeline, source), which continues from what the destination holds and loads what it lacks "
            f"in full, or `pipedrive-source run --pipeline-name {name} --dataset-name "
            f"{pipeline.dataset_name}` with the same destination; or start over with "
            'refresh="drop_sources".'
        )


_checked: ContextVar[str | None] = ContextVar("pipedrive_destination_checked", default=None)


@contextlib.contextmanager
def destination_checked(pipeline: dlt.Pipeline) -> Iterator[None]:
    """Within the block the pipeline has been made to agree with its destination: the source does not
    check again (dlt's extraction threads see this through the context dlt copies into them)."""
    token = _checked.set(pipeline.pipeline_name)
    try:
        yield
    finally:
        _checked.reset(token)


def agree_with_destination(pipeline: dlt.Pipeline, source: DltSource, notify: Callable[[str], None]) -> None:
    """Make the pipeline's state describe its destination before a run reads (see the module docstring).

    `notify` gets one sentence for each thing the run does differently because of it.
    """
    if pipeline.destination is None or pipeline.default_schema_name is None:
        return  # never ran, or nowhere to compare with: dlt's first run
    name = pipeline.pipeline_name
    found: Disagreement | None = None
    with _opened(pipeline, source) as client:
        remote = stored_state(pipeline, client) if _syncs_state(pipeline, client) else pipeline.state
        if remote is not None and _same(remote, pipeline) and not pipeline.has_pending_data:
            found = tables_disagreement(pipeline, source, client)  # the usual case: one connection
    if remote is None:
        notify(
            f"The {data_location(pipeline)} holds none of the loads of pipeline {name!r} (deleted, dropped, "
            "or another database): loading everything again."
        )
        pipeline.drop()
        return
    if pipeline.has_pending_data:
        # a failed load left packages behind: they continue this destination's state
        pipeline.normalize()
        pipeline.load()
        with _opened(pipeline, source) as client:
            remote = stored_state(pipeline, client) or remote
    if not _same(remote, pipeline):
        notify(
            f"The {data_location(pipeline)} holds another state of pipeline {name!r} (written "
            f"{remote['_written']}) than this machine (loaded elsewhere since): continuing from what the "
            "destination holds."
        )
        pipeline.drop()
        pipeline.sync_destination()
    if found is None:
        with _opened(pipeline, source) as client:
            found = tables_disagreement(pipeline, source, client)
    if found.missing_tables or found.empty_tables:
        lost = ", ".join([*found.missing_tables, *(f"{table} (empty)" for table in found.empty_tables)])
        them = "them" if len(found.missing_tables) + len(found.empty_tables) > 1 else "it"
        notify(f"The {data_location(pipeline)} lacks {lost}, loaded before: reading {them} in full again.")
        _start_over(pipeline, source, [*found.missing_tables, *found.empty_tables])


def refuse_disagreement(pipeline: dlt.Pipeline, source: DltSource) -> None:
    """In a run not made by `pipeline.run()` of this package: stop if the destination lacks what the state
    says was loaded (see the module docstring).

    Raises:
        DestinationDisagrees: with the fix.
    """
    if _checked.get() == pipeline.pipeline_name or pipeline.destination is None:
        return
    if pipeline.default_schema_name is None:
        return
    with _opened(pipeline, source) as client:
        found = Disagreement()
        if _syncs_state(pipeline, client):
            remote = stored_state(pipeline, client)
            if remote is not None and not _same(remote, pipeline):
                found.other_state = remote["_written"]
        if not found:
            found = tables_disagreement(pipeline, source, client)
    if found:
        raise DestinationDisagrees(pipeline, found)


@contextlib.contextmanager
def _opened(pipeline: dlt.Pipeline, source: DltSource) -> Iterator[JobClientBase]:
    """The destination's client for the source's schema, open for the block: one connection for every
    question (opening a DuckDB file costs about 20 ms)."""
    schema_name = source.name if source.name in pipeline.schema_names else str(pipeline.default_schema_name)
    with pipeline.destination_client(schema_name) as client:
        yield client


def stored_state(pipeline: dlt.Pipeline, client: JobClientBase) -> dict[str, Any] | None:
    """The newest state of the pipeline that its destination holds, with when it was written
    (`_written`); None if it holds none (or keeps no state: see `_syncs_state`)."""
    if not isinstance(client, WithStateSync):
        return None
    try:
        info = client.get_stored_state(pipeline.pipeline_name)
    except DestinationUndefinedEntity:
        return None
    if info is None:
        return None
    state = dict(migrate_state_to_current(pipeline.pipeline_name, decompress_state(info.state)))
    written = info.created_at  # a string in the filesystem destination's state files
    state["_written"] = f"{written:%Y-%m-%d %H:%M:%S} UTC" if isinstance(written, datetime) else str(written)
    return state


def tables_disagreement(pipeline: dlt.Pipeline, source: DltSource, client: JobClientBase) -> Disagreement:
    """The loaded tables of the source's selection that the destination lacks or that were emptied."""
    schema = pipeline.schemas.get(source.name) if source.name in pipeline.schema_names else None
    if schema is None:
        return Disagreement()
    loaded = _loaded_tables(schema, source)
    storage = getattr(client, "get_storage_tables", None)
    if not loaded or storage is None:
        return Disagreement()
    present = {name for name, columns in storage(loaded) if columns}
    missing = [table for table in loaded if table not in present]
    positioned = [table for table in _positioned_tables(pipeline, source) if table in present]
    if isinstance(client, SqlJobClientBase):  # its SQL connection is the one already open
        empty = _empty(pipeline, schema, positioned, client.sql_client)
    elif positioned and isinstance(client, WithSqlClient):  # files queried through DuckDB: its own
        with pipeline.sql_client(schema.name) as sql_client:
            empty = _empty(pipeline, schema, positioned, sql_client)
    else:
        empty = []
    return Disagreement(missing_tables=missing, empty_tables=empty)


def _same(remote: Mapping[str, Any], pipeline: dlt.Pipeline) -> bool:
    """Whether the destination's state is the machine's."""
    return bool(remote.get("_version_hash") == pipeline.state.get("_version_hash"))


def _syncs_state(pipeline: dlt.Pipeline, client: JobClientBase) -> bool:
    """Whether the destination keeps the pipeline's state: dlt's `restore_from_destination` is on and the
    destination can (a custom sink, dlt's `dummy`, cannot: nothing to compare, the machine's state holds)."""
    return bool(pipeline.config.restore_from_destination) and isinstance(client, WithStateSync)


def _loaded_tables(schema: Schema, source: DltSource) -> list[str]:
    """The tables of the selected resources that the schema says received data."""
    selected = {table_of(resource) for resource in source.selected_resources.values()}
    return [
        table["name"]
        for table in schema.data_tables(seen_data_only=True)
        if table["name"] in selected and has_table_seen_data(table)
    ]


def _resource_states(pipeline: dlt.Pipeline, source: DltSource) -> Mapping[str, Any]:
    sources = pipeline.state.get("sources") or {}
    return (sources.get(source.name) or {}).get("resources") or {}


def _positioned_tables(pipeline: dlt.Pipeline, source: DltSource) -> list[str]:
    """The tables of selected resources whose incremental state holds a position: rows were loaded there,
    and this source never deletes a row of them (deletes are flagged)."""
    states = _resource_states(pipeline, source)
    tables = []
    for name, resource in source.selected_resources.items():
        incremental = (states.get(name) or {}).get("incremental") or {}
        if any((cursor or {}).get("last_value") is not None for cursor in incremental.values()):
            tables.append(table_of(resource))
    return list(dict.fromkeys(tables))


def _empty(
    pipeline: dlt.Pipeline, schema: Schema, tables: Iterable[str], client: SqlClientBase[Any]
) -> list[str]:
    account = recorded_account(pipeline, schema.name)
    empty = []
    for table in tables:
        where = ""
        columns = schema.tables[table].get("columns", {})
        if account is not None and columns.get(ACCOUNT_COLUMN, {}).get("primary_key"):
            where = f" where {client.escape_column_name(ACCOUNT_COLUMN)} = {int(account.company_id)}"
        name = client.make_qualified_table_name(table)
        try:
            rows = client.execute_sql(f"select 1 from {name}{where} limit 1")
        except DatabaseUndefinedRelation:
            rows = []
        except DatabaseTerminalException:
            continue  # a dialect without LIMIT (SQL Server): cannot tell, taken as holding rows
        if not rows:
            empty.append(table)
    return empty


def _start_over(pipeline: dlt.Pipeline, source: DltSource, tables: list[str]) -> None:
    """Reset the resources filling `tables` and the parents of child tables among them, and drop `tables`
    in the destination with the stored schema versions, so that the load creates them again (as dlt's own
    refresh does)."""
    by_table: dict[str, list[str]] = {}
    for name, resource in source.resources.items():
        by_table.setdefault(table_of(resource), []).append(name)
    reset = [name for table in tables for name in by_table.get(table, ())]
    reset += [
        name for table in tables if table in CHILD_PARENT for name in by_table.get(CHILD_PARENT[table], ())
    ]
    schema = pipeline.schemas[source.name]
    with pipeline.managed_state() as state:
        prepare_drop_resources(schema.clone(), state, resources=reset, state_only=True)
    with pipeline.destination_client(source.name) as client:
        drop_tables = getattr(client, "drop_tables", None)
        if drop_tables is not None:
            drop_tables(*tables, delete_schema=True)
