"""Reading the children of a few parents: the rows of the parents read completely, and the others' ids.

A parent's children are complete only when every page of its list was read. When the run stops early on
its token budget (`client.stop_reason`), the pages just end: the parents whose read it cut short go back
unread, never as "no children" (which would delete the children they have).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pipedrive_source.children.shapes import Record
from pipedrive_source.children.tables import Child
from pipedrive_source.client import PipedriveClient
from pipedrive_source.errors import PipedriveHTTPError

NO_CHILDREN = "_no_children"
"""The `hard_delete` column of every child table. A row with it set stands for a parent that has no children
any more: dlt's `delete-insert` deletes the parent's previous rows (matched on the merge key) and inserts
none (rows flagged `hard_delete` are not inserted), so the flag never reaches the destination."""


@dataclass
class ChildRead:
    """The outcome of reading the children of some parents.

    Attributes:
        rows: the rows of the parents read completely; a parent without children has one `NO_CHILDREN` row.
        unread: the ids of the parents whose children were not read (the run stopped first).
    """

    rows: list[Record] = field(default_factory=list)
    unread: list[Any] = field(default_factory=list)

    def add(self, other: ChildRead) -> None:
        self.rows.extend(other.rows)
        self.unread.extend(other.unread)


def none_left(child: Child, parent_ids: Iterable[Any]) -> list[Record]:
    """The rows replacing the children of `parent_ids` by none."""
    return [{child.parent_key: parent_id, NO_CHILDREN: True} for parent_id in parent_ids]


def read_children(client: PipedriveClient, child: Child, parent_ids: list[Any]) -> ChildRead:
    """The children of `parent_ids`: one request series per batch of a bulk endpoint, else per parent."""
    read = ChildRead()
    size = child.ids_per_request
    for start in range(0, len(parent_ids), size):
        batch = parent_ids[start : start + size]
        if client.stop_reason is not None:
            read.unread.extend(batch)
            continue
        read.add(_read_batch(client, child, batch))
    return read


def _read_batch(client: PipedriveClient, child: Child, parent_ids: list[Any]) -> ChildRead:
    path, params = child.request(parent_ids)
    records: list[Record] = []
    try:
        for page in client.pages(path, child.pagination, params):
            records.extend(child.shape(None if child.bulk else parent_ids[0], page))
    except PipedriveHTTPError as error:
        if error.problem != "not_found" or child.bulk:
            raise
        # The parent was deleted after it was read: its next read (deleted deals) or the delete
        # reconciliation says so; its children stay as they were.
        return ChildRead()
    if client.stop_reason is not None:
        # the pages may have ended because the run stopped rather than at the end of the list
        return ChildRead(unread=list(parent_ids))
    by_parent: dict[Any, list[Record]] = defaultdict(list)
    for record in records:
        by_parent[record[child.parent_key]].append(record)
    rows = [row for parent_id in parent_ids for row in by_parent.get(parent_id, ())]
    return ChildRead(rows + none_left(child, (p for p in parent_ids if p not in by_parent)))
