"""Choosing what a run loads by table, whichever resources fill each table.

A table can be filled by several resources: `deals` by `deals`, `archived_deals` and `deals_deletes` (the
delete reconciliation); `deal_changes` by its transformers on `deals` and `archived_deals` and by its
backlog. A child table also needs its parent table in the same run: dlt reads a transformer's parent
anyway and would move the parent's cursor without loading it. Users name tables; this module turns them
into the resources to select.
"""

from __future__ import annotations

from collections.abc import Iterable

from dlt.extract import DltSource
from dlt.extract.resource import DltResource

from pipedrive_source.children.tables import CHILDREN

DEFAULT = "default"
"""Stands for the tables a run loads when none are named."""

ALL = "all"
"""Stands for every table, the ones off by default included."""

PARENT_TABLES = {child.name: child.parent for child in CHILDREN}


class UnknownTables(ValueError):
    """Names that are no table of the source; `choices` are the table names."""

    def __init__(self, unknown: list[str], choices: list[str]) -> None:
        self.unknown = unknown
        self.choices = choices
        super().__init__(f"unknown table(s) {', '.join(unknown)}; choose from {', '.join(choices)}")


def table_of(resource: DltResource) -> str:
    table = resource.table_name
    return table if isinstance(table, str) else resource.name


def tables(source: DltSource) -> list[str]:
    """Every table the source can fill, in the order of its resources."""
    return list(dict.fromkeys(table_of(resource) for resource in source.resources.values()))


def default_tables(source: DltSource) -> list[str]:
    """The tables filled when nothing is chosen."""
    return list(dict.fromkeys(table_of(resource) for resource in source.selected_resources.values()))


def with_parents(names: Iterable[str]) -> set[str]:
    """The tables and, for child tables, the parent tables read with them."""
    wanted = set(names)
    wanted |= {PARENT_TABLES[name] for name in wanted if name in PARENT_TABLES}
    return wanted


def select_tables(source: DltSource, names: Iterable[str]) -> DltSource:
    """The source with exactly the resources filling the named tables (and their parent tables) selected.

    `default` stands for the tables loaded when none are named, `all` for every table:
    `["default", "deal_changes"]` adds the deal history to a usual run.

    Raises:
        UnknownTables: a name is neither a table nor `default`/`all`.
    """
    known = tables(source)
    chosen: set[str] = set()
    unknown = []
    for name in names:
        if name == DEFAULT:
            chosen |= set(default_tables(source))
        elif name == ALL:
            chosen |= set(known)
        elif name in known:
            chosen.add(name)
        else:
            unknown.append(name)
    if unknown:
        raise UnknownTables(unknown, [DEFAULT, ALL, *known])
    chosen = with_parents(chosen)
    return source.with_resources(
        *(name for name, resource in source.resources.items() if table_of(resource) in chosen)
    )
