"""The `shared` layout of several accounts: every table of the source told apart by a `company_id` column.

An account is a Pipedrive company (its id from `users/me`), whatever Maton connection reaches it: a company
reconnected through a new connection keeps its rows. `shared_layout(source, company_id)` turns the source of
one account into the form that loads next to the other accounts in the same tables, with dlt hints only (no
resource is edited):

- every item gets the `company_id` column (`add_map` on each Arrow table; call logs carry Pipedrive's own
  `company_id`, the same value);
- a primary key becomes (`company_id`, <key>): the same deal id in two companies is two rows, and a merge
  replaces only the company's own rows;
- a child table's `merge_key` becomes (`company_id`, <parent key>): the children of a deal read again
  replace that company's children of that deal only;
- a replaced table (pipelines, stages, users, the field tables, ...) merges with `delete-insert` on the
  `merge_key` `company_id` instead: the company's rows are replaced, the other companies' stay. So that a
  table the company emptied loses its rows too, a `<table>_of_account` resource adds one marker row per run,
  flagged `hard_delete` (never inserted), whose only effect is to match the company's rows.

The delete reconciliation (`deletes.py`) reads the stored ids of the run's company only when the table has
this column in its key.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import dlt
import pyarrow as pa
from dlt.common import logger
from dlt.common.schema.typing import TColumnSchema, TTableSchemaColumns, TWriteDispositionConfig
from dlt.extract.source import DltSource
from dlt.sources import DltResource

ACCOUNT_COLUMN = "company_id"
"""The column of every table of the `shared` layout holding the Pipedrive company the row belongs to."""

REPLACES_ACCOUNT_ROWS = "_replaces_account_rows"
"""The `hard_delete` column of the replaced tables in the `shared` layout, set on the marker row only."""

OF_ACCOUNT_SUFFIX = "_of_account"

MERGE: TWriteDispositionConfig = {"disposition": "merge", "strategy": "delete-insert"}

ACCOUNT_COLUMNS: TTableSchemaColumns = {
    ACCOUNT_COLUMN: {"name": ACCOUNT_COLUMN, "data_type": "bigint", "nullable": False},
}
REPLACED_COLUMNS: TTableSchemaColumns = {
    **ACCOUNT_COLUMNS,
    REPLACES_ACCOUNT_ROWS: {"name": REPLACES_ACCOUNT_ROWS, "data_type": "bool", "hard_delete": True},
}

MARKER_KEYS: Mapping[str, tuple[pa.DataType, Any]] = {
    "bigint": (pa.int64(), -1),
    "text": (pa.string(), ""),
}
"""The marker row's value of a primary key column, by its type: no Pipedrive record has it. The row is
never inserted; its key only has to be of the column's type."""


def with_company_id(company_id: int) -> Callable[[Any], Any]:
    """The `add_map` function setting `company_id` on each item (an Arrow table or a record)."""

    def add(item: Any) -> Any:
        if isinstance(item, pa.Table):
            column = pa.array([company_id] * item.num_rows, pa.int64())
            named = pa.field(ACCOUNT_COLUMN, pa.int64(), nullable=False)
            if ACCOUNT_COLUMN in item.column_names:
                return item.set_column(item.column_names.index(ACCOUNT_COLUMN), named, column)
            return item.append_column(named, column)
        if isinstance(item, dict):
            item[ACCOUNT_COLUMN] = company_id
        return item

    return add


def key_columns(resource: DltResource, hint: str) -> list[str]:
    """The columns of the resource's table having `hint` (`primary_key`, `merge_key`), in order."""
    columns = resource.compute_table_schema()["columns"]
    return [name for name, column in columns.items() if column.get(hint)]


def is_replaced(resource: DltResource) -> bool:
    """Whether the resource replaces its whole table on every run."""
    disposition = resource.write_disposition
    if isinstance(disposition, dict):
        return disposition.get("disposition") == "replace"
    return disposition == "replace"


def share_resource(resource: DltResource, company_id: int) -> None:
    """Turn one resource into its `shared` layout form, in place (see the module docstring)."""
    primary_key = [name for name in key_columns(resource, "primary_key") if name != ACCOUNT_COLUMN]
    merge_key = [name for name in key_columns(resource, "merge_key") if name != ACCOUNT_COLUMN]
    if is_replaced(resource):
        resource.apply_hints(write_disposition=MERGE, columns=REPLACED_COLUMNS, merge_key=[ACCOUNT_COLUMN])
    else:
        resource.apply_hints(columns=ACCOUNT_COLUMNS)
        if merge_key:
            resource.apply_hints(merge_key=[ACCOUNT_COLUMN, *merge_key])
    if primary_key:
        resource.apply_hints(primary_key=[ACCOUNT_COLUMN, *primary_key])
    resource.add_map(with_company_id(company_id))


def replaced_rows_marker(
    table: str, company_id: int, primary_key: list[str], sent: set[str] | None = None
) -> DltResource:
    """The `<table>_of_account` resource: one `hard_delete` row matching the company's rows of a replaced
    table, so that they go even when the company's list is now empty.

    The key values take the types the pipeline's schema knows; a table not in it was never loaded by this
    account, and there is nothing to replace. `sent` gets the table's name when the row goes out (it is
    no loaded row).
    """

    def read() -> Iterator[pa.Table]:
        known = dlt.current.source_schema().tables.get(table, {}).get("columns", {})
        if not known:
            return
        columns: dict[str, pa.Array] = {ACCOUNT_COLUMN: pa.array([company_id], pa.int64())}
        for name in primary_key:
            marker = MARKER_KEYS.get(str(known.get(name, {}).get("data_type")))
            if marker is None:
                logger.warning(f"{table}: no marker for its key {name}; rows it lost stay until it has rows")
                return
            data_type, value = marker
            columns[name] = pa.array([value], data_type)
        columns[REPLACES_ACCOUNT_ROWS] = pa.array([True], pa.bool_())
        if sent is not None:
            sent.add(table)
        yield pa.table(columns)

    columns: dict[str, TColumnSchema] = dict(REPLACED_COLUMNS)
    return dlt.resource(
        read,
        name=table + OF_ACCOUNT_SUFFIX,
        table_name=table,
        write_disposition=MERGE,
        primary_key=[ACCOUNT_COLUMN, *primary_key],
        merge_key=[ACCOUNT_COLUMN],
        columns=columns,
    )()


def shared_layout(source: DltSource, company_id: int, markers: set[str] | None = None) -> DltSource:
    """The source of one company as it loads into tables shared with other companies, in place.

    Call it after selecting the tables (`selection.select_tables`, `.with_resources`): the marker resources
    of the replaced tables are selected with the resources filling them. `markers` gets the names of the
    tables a marker row was sent to (to leave it out of the rows loaded).
    """
    replaced: dict[str, list[DltResource]] = defaultdict(list)
    for resource in list(source.resources.values()):
        if is_replaced(resource):
            replaced[str(resource.table_name)].append(resource)
        share_resource(resource, company_id)
    for table, filling in replaced.items():
        primary_key = [name for name in key_columns(filling[0], "primary_key") if name != ACCOUNT_COLUMN]
        marker = replaced_rows_marker(table, company_id, primary_key, markers)
        source.resources.add(marker)
        source.resources[marker.name].selected = any(resource.selected for resource in filling)
    return source
