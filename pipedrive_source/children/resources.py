"""The child resources: for each child table, a dlt transformer fed by its parent resource's pages, and a
`<table>_backlog` resource reading the parents an earlier run left unread.

The transformer sees the parent records that pass the parent's incremental filter: every parent on a full
load, the changed ones on an incremental run. Deleted parents (deals with `is_deleted`) cost no request:
their children stay as last read, and the parent row says the parent is deleted. Parents whose count field
is zero get no request either: their previous children, if any, are deleted.

The requests run in dlt's extract thread pool (`dlt.defer`): a bulk batch, or a few parents of a
per-parent endpoint, per call. Every child table merges with `delete-insert` on the parent's id
(`merge_key`): the children of a parent read again replace all its previous ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from typing import Any

import dlt
import pyarrow as pa
from dlt.common.schema.typing import TColumnSchema, TWriteDispositionConfig
from dlt.extract.items import DataItemWithMeta
from dlt.sources import DltResource

from pipedrive_source.children.backlog import Backlog, wait_for_next_run
from pipedrive_source.children.reading import NO_CHILDREN, ChildRead, none_left, read_children
from pipedrive_source.children.shapes import Record
from pipedrive_source.children.tables import CHILDREN, Child
from pipedrive_source.client import PipedriveClient
from pipedrive_source.errors import ConfigurationError
from pipedrive_source.pages import PageTables

MERGE: TWriteDispositionConfig = {"disposition": "merge", "strategy": "delete-insert"}

PARENTS_PER_CALL = 10
"""Parents of a per-parent endpoint read by one call in dlt's thread pool: enough to keep each call's
overhead small, few enough that the pool's workers share a run's parents."""

BACKLOG_SUFFIX = "_backlog"


def child_columns(child: Child) -> dict[str, TColumnSchema]:
    """The column hints of a child table, with its `hard_delete` marker column."""
    return {
        **child.columns,
        NO_CHILDREN: {"name": NO_CHILDREN, "data_type": "bool", "hard_delete": True},
    }


def child_resources(client: PipedriveClient, resources: Iterable[DltResource]) -> list[DltResource]:
    """The child resources of the parents among `resources`: for each child table, a transformer per
    resource filling the parent's table (`deals` and `archived_deals` both fill `deals`) and a backlog."""
    found: list[DltResource] = []
    for child in CHILDREN:
        parents = [resource for resource in resources if resource.table_name == child.parent]
        if not parents:
            continue
        # one backlog for the table: a deal read by both resources in a run is read once
        backlog = Backlog(child.name)
        filling = [
            *(child_transformer(client, child, parent, backlog) for parent in parents),
            backlog_resource(client, child, backlog),
        ]
        for resource in filling:
            resource.selected = child.enabled_by_default
        found += filling
    return found


def transformer_name(child: Child, parent: DltResource) -> str:
    """`deal_products` for the children of `deals`, `deal_products_of_archived_deals` for another parent
    resource filling the same table."""
    return child.name if parent.name == child.parent else f"{child.name}_of_{parent.name}"


def child_transformer(
    client: PipedriveClient, child: Child, parent: DltResource, backlog: Backlog
) -> DltResource:
    """The transformer reading the children of the parent records it is fed."""
    read_chunk = _chunk_reader(client, child)

    def read(parents: pa.Table | Sequence[Record]) -> Iterator[Any]:
        check_parent_selected(child, parent.name)
        state = backlog.state()
        to_read, without_children = plan(child, parent_records(parents, child))
        without_children = backlog.claim(without_children, state)
        if without_children:
            yield _rows_item(child, none_left(child, without_children))
        for chunk in _chunks(backlog.claim(to_read, state), child):
            yield read_chunk(chunk, state)

    transformer = dlt.transformer(
        read,
        data_from=parent,
        name=transformer_name(child, parent),
        table_name=child.name,
        merge_key=child.parent_key,
        columns=child_columns(child),
    )
    # `dlt.transformer()` types `write_disposition` as the disposition's name only
    transformer.apply_hints(write_disposition=MERGE)
    return transformer


def check_parent_selected(child: Child, parent: str) -> None:
    """Fail a run that reads a child table without its parent resource.

    dlt reads an unselected parent for its transformers and moves the parent's incremental cursor all the
    same: the parent's table would miss the changes of that run for good.

    Raises:
        ConfigurationError: the parent resource is not selected; the message says what to select.
    """
    resource = dlt.current.source().resources.get(parent)
    if resource is not None and not resource.selected:
        raise ConfigurationError(
            f"{child.name} reads the children of the {parent} read in the same run: select {parent} too "
            f"(`--resources {parent},{child.name}` or `.with_resources(...)`). Alone it would move the "
            f"{parent} cursor forward without loading {parent}."
        )


def backlog_resource(client: PipedriveClient, child: Child, backlog: Backlog) -> DltResource:
    """The resource reading, into the child table, the children of parents an earlier run left unread.

    A resource of its own rather than part of the transformer: the transformer runs only when its parent
    yields records, and the next run may have no changed parent at all.
    """
    read_chunk = _chunk_reader(client, child)

    def read() -> Iterator[Any]:
        state = backlog.state()
        waiting = backlog.claim(backlog.take(state), state, changed=False)
        for chunk in _chunks(waiting, child):
            yield read_chunk(chunk, state)

    return dlt.resource(
        read,
        name=child.name + BACKLOG_SUFFIX,
        table_name=child.name,
        write_disposition=MERGE,
        merge_key=child.parent_key,
        columns=child_columns(child),
    )()


def parent_records(parents: pa.Table | Sequence[Record], child: Child) -> list[Record]:
    """The parents' `id`, `is_deleted` and count field, from an Arrow page or a list of records."""
    wanted = [name for name in ("id", "is_deleted", child.count_field) if name is not None]
    if isinstance(parents, pa.Table):
        return parents.select([name for name in wanted if name in parents.column_names]).to_pylist()
    return [{name: record.get(name) for name in wanted} for record in parents]


def plan(child: Child, parents: Iterable[Record]) -> tuple[list[Any], list[Any]]:
    """The parents whose children to read, and those the count field says have none.

    Deleted parents are in neither: their children stay as last read.
    """
    to_read: list[Any] = []
    without_children: list[Any] = []
    for parent in parents:
        if parent.get("is_deleted"):
            continue
        count = parent.get(child.count_field) if child.count_field else None
        (without_children if count == 0 else to_read).append(parent["id"])
    return to_read, without_children


def _chunks(parent_ids: list[Any], child: Child) -> Iterator[list[Any]]:
    size = child.ids_per_request if child.bulk else PARENTS_PER_CALL
    for start in range(0, len(parent_ids), size):
        yield parent_ids[start : start + size]


def child_table(child: Child, rows: list[Record]) -> pa.Table:
    """Rows of a child table as an Arrow table typed by its column hints."""
    return PageTables(child.name, child_columns(child), required=(child.parent_key,))(rows)


def _rows_item(child: Child, rows: list[Record]) -> DataItemWithMeta:
    # Named explicitly: an item of a transformer otherwise inherits the hints its parent's item carried.
    return dlt.mark.with_table_name(child_table(child, rows), child.name)


def _chunk_reader(
    client: PipedriveClient, child: Child
) -> Callable[[list[Any], MutableMapping[str, Any]], Callable[[], DataItemWithMeta | None]]:
    """A function deferring the read of a chunk of parents to dlt's thread pool; the parents it could not
    read wait in the child's `state` for the next run."""

    @dlt.defer
    def read_chunk(parent_ids: list[Any], state: MutableMapping[str, Any]) -> DataItemWithMeta | None:
        read: ChildRead = read_children(client, child, parent_ids)
        if read.unread:
            wait_for_next_run(state, read.unread)
        return _rows_item(child, read.rows) if read.rows else None

    return read_chunk
