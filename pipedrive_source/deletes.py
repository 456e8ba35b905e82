"""Deletes everywhere: a periodic reconciliation of ids for the incremental tables.

An incremental read sees what changed, not what disappeared: only deals come back deleted (`status=deleted`,
for 30 days). Every `reconcile_deletes_every_days` days (`sources.pipedrive.*`; default 7, 0 = never), or
when forced (`pipedrive-source run --reconcile-deletes`, `with reconciling_deletes(): pipeline.run(...)`),
the `<table>_deletes` resource of each incremental table scans the ids of every list feeding the table
(one page per 500 records, sorted by id) and compares them with the ids live in the destination (read
with the pipeline's SQL client). Each record that vanished lands again as its whole stored row with
`is_deleted = true`: a partial row would null its other columns through the `delete-insert` merge.

The scan reads the parents' count fields too (`followers_count`, `participants_count`): a parent whose count
changed without a change of its `update_time` has its followers or participants read again, at the latest
on the next run. The children of a vanished parent stay as last read; the parent row says it is deleted.

The first run has nothing to compare: it only notes the time. The time of the last reconciliation is kept
in the resource's state (`reconciled_at`). A scan cut short by the token budget marks nothing.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import dlt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.exceptions import ConfigValueCannotBeCoercedException
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.schema.typing import TColumnSchema, TWriteDispositionConfig
from dlt.destinations.exceptions import DatabaseUndefinedRelation
from dlt.sources import DltResource

from pipedrive_source.children.backlog import wait_for_next_run
from pipedrive_source.children.tables import CHILDREN, COUNT_FIELDS
from pipedrive_source.client import PipedriveClient
from pipedrive_source.errors import ConfigurationError, PipedriveHTTPError
from pipedrive_source.guards.account import ACCOUNT_STATE_KEY, AccountIdentity
from pipedrive_source.pages import PageTables
from pipedrive_source.settings import ENDPOINTS, Endpoint, Pagination
from pipedrive_source.shared_layout import ACCOUNT_COLUMN

IS_DELETED = "is_deleted"
RECONCILED_AT_KEY = "reconciled_at"
DELETES_SUFFIX = "_deletes"
IDS_PER_QUERY = 1000
"""Vanished ids per destination query: keeps the `IN (...)` list of the SQL small."""
ROWS_PER_CHUNK = 100_000
"""Rows fetched from the destination at a time."""

MERGE: TWriteDispositionConfig = {"disposition": "merge", "strategy": "delete-insert"}

_forced: ContextVar[bool] = ContextVar("reconcile_deletes_now", default=False)


@configspec
class DeleteSettings(BaseConfiguration):
    """How often runs reconcile deletes (`sources.pipedrive.reconcile_deletes_every_days`).

    Attributes:
        reconcile_deletes_every_days: days between two reconciliations; 0 never reconciles.
    """

    reconcile_deletes_every_days: float = 7

    def on_resolved(self) -> None:
        if self.reconcile_deletes_every_days < 0:
            raise ConfigurationError(_FIX.format(value=self.reconcile_deletes_every_days))


_FIX = (
    "sources.pipedrive.reconcile_deletes_every_days is {value!r}: set a number of days of at least 0 "
    "(0 never reconciles; the default 7 scans the ids of every incremental table once a week)."
)


def resolve_delete_settings() -> DeleteSettings:
    """`DeleteSettings` from dlt config (`sources.pipedrive.*`).

    Raises:
        ConfigurationError: the setting is not a number of days; the message says what to set.
    """
    try:
        return resolve_configuration(DeleteSettings(), sections=("sources", "pipedrive"))
    except ConfigValueCannotBeCoercedException as exc:
        raise ConfigurationError(_FIX.format(value=exc.field_value)) from None


@contextlib.contextmanager
def reconciling_deletes() -> Iterator[None]:
    """Runs within the block reconcile deletes whatever the schedule (`--reconcile-deletes`)."""
    token = _forced.set(True)
    try:
        yield
    finally:
        _forced.reset(token)


@dataclass(frozen=True)
class ReconciledTable:
    """An incremental table and the lists that fill it (deals: `/deals` and `/deals/archived`)."""

    name: str
    endpoints: tuple[Endpoint, ...]

    @property
    def primary_key(self) -> str:
        return self.endpoints[0].primary_key


def reconciled_tables(endpoints: Iterable[Endpoint] = ENDPOINTS) -> list[ReconciledTable]:
    """Every incremental table, with the lists filling it. Replaced tables capture deletes by replacement."""
    lists: dict[str, list[Endpoint]] = {}
    for endpoint in endpoints:
        if endpoint.incremental:
            lists.setdefault(endpoint.table, []).append(endpoint)
    return [ReconciledTable(table, tuple(found)) for table, found in lists.items()]


def scan_request(endpoint: Endpoint) -> tuple[Pagination, dict[str, str]]:
    """The cheapest complete read of a list's ids: its largest pages, sorted by id.

    v2 cursors over an id order are stable under concurrent updates. v1 lists are read by offset, which a
    delete during the scan can shift: the ids a v1 scan misses are checked one by one (`confirmed_gone`).
    """
    params = dict(endpoint.requests_params[0])
    if counts := COUNT_FIELDS.get(endpoint.table):
        # compared with the stored ones: a changed count queues the parent's children (`_queue_recounted`)
        params["include_fields"] = ",".join(counts)
    if endpoint.api_version == "v2":
        params.update(sort_by="id", sort_direction="asc")
        return "cursor", params
    params["sort"] = "id ASC"
    return "offset", params


def is_due(last: str | None, every_days: float, now: datetime) -> bool:
    """Whether a reconciliation last made at `last` (ISO time, None: never) is due at `now`."""
    if every_days == 0:
        return False
    if last is None:
        return True
    return now - datetime.fromisoformat(last) >= timedelta(days=every_days)


def vanished_rows(rows: pa.Table) -> pa.Table:
    """Stored rows as they land again: whole, with `is_deleted = true`."""
    flags = pa.array([True] * rows.num_rows, pa.bool_())
    if IS_DELETED in rows.column_names:
        return rows.set_column(rows.column_names.index(IS_DELETED), IS_DELETED, flags)
    return rows.append_column(IS_DELETED, flags)


_destination_lock = threading.Lock()
"""The `<table>_deletes` resources run in parallel, and dlt's live schemas are not thread-safe: one reads
the destination at a time (the scans of the API, the slow part, still run in parallel)."""


class Destination:
    """What the pipeline's destination holds of one table, read with its SQL client.

    Rows come back as Python values and are typed again by the table's schema (`pages.PageTables`), JSON
    columns parsed back to lists: `pipeline.dataset()` and the cursors' Arrow export would keep the types,
    but neither works with the installed sqlglot and DuckDB 2 under dlt 1.31.
    """

    def __init__(self, table: ReconciledTable, pipeline: dlt.Pipeline, company_id: int | None = None) -> None:
        self.table = table
        self.pipeline = pipeline
        self.columns: dict[str, TColumnSchema] = dict(
            pipeline.default_schema.tables.get(table.name, {}).get("columns", {})
        )
        # a table shared by several companies (`shared_layout`): only the rows of the run's company
        self.account = (
            f"{ACCOUNT_COLUMN} = {_literal(company_id)}"
            if company_id is not None and self.columns.get(ACCOUNT_COLUMN, {}).get("primary_key")
            else "true"
        )

    @classmethod
    def of(cls, table: ReconciledTable, company_id: int | None = None) -> Destination | None:
        """The destination of the running pipeline; None before its first load (nothing to compare)."""
        pipeline = dlt.current.pipeline()
        if pipeline.default_schema_name is None:
            return None
        with _destination_lock:
            return cls(table, pipeline, company_id)

    def _query(
        self, select: str, where: str, convert: Callable[[list[dict[str, Any]]], pa.Table]
    ) -> list[pa.Table]:
        """The rows of `select ... where ...`, `ROWS_PER_CHUNK` at a time, each chunk converted; none
        without the table. Read whole before returning: the lock is never held across a `yield`."""
        with _destination_lock, self.pipeline.sql_client() as client:
            name = client.make_qualified_table_name(self.table.name)
            chunks = []
            try:
                query = f"select {select} from {name} where ({where}) and {self.account}"
                with client.execute_query(query) as cursor:
                    names = [column[0] for column in cursor.description]
                    while rows := cursor.fetchmany(ROWS_PER_CHUNK):
                        chunks.append(convert([dict(zip(names, row, strict=True)) for row in rows]))
            except DatabaseUndefinedRelation:
                return []
            return chunks

    def live(self, count_fields: Sequence[str]) -> pa.Table | None:
        """The primary key (and `count_fields`) of the rows not flagged deleted; None without the table."""
        if self.table.primary_key not in self.columns:
            return None
        selected = [self.table.primary_key, *(f for f in count_fields if f in self.columns)]
        live = f"{IS_DELETED} is not true" if IS_DELETED in self.columns else "true"
        chunks = self._query(", ".join(selected), live, pa.Table.from_pylist)
        return pa.concat_tables(chunks) if chunks else None

    def rows(self, ids: Sequence[Any]) -> Iterator[pa.Table]:
        """The stored rows of `ids`, whole, typed as the table's columns, without dlt's own columns."""
        key = self.table.primary_key
        columns = {name: hint for name, hint in self.columns.items() if not name.startswith("_dlt_")}
        json_columns = [name for name, hint in columns.items() if hint.get("data_type") == "json"]
        tables = PageTables(self.table.name, columns, required=(key,))

        def typed(rows: list[dict[str, Any]]) -> pa.Table:
            for row in rows:
                for name in json_columns:
                    if isinstance(row[name], str):
                        row[name] = orjson.loads(row[name])
            return tables(rows)

        for start in range(0, len(ids), IDS_PER_QUERY):
            listed = ", ".join(_literal(value) for value in ids[start : start + IDS_PER_QUERY])
            yield from self._query(", ".join(columns), f"{key} in ({listed})", typed)


def _literal(value: Any) -> str:
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


class Reconciliation:
    """One table's reconciliation: scan the API's ids, compare, re-emit the vanished rows flagged deleted."""

    def __init__(self, client: PipedriveClient, table: ReconciledTable) -> None:
        self.client = client
        self.table = table
        self.count_fields = COUNT_FIELDS.get(table.name, ())

    def scan(self) -> pa.Table | None:
        """The id (and the count fields) of every record the lists hold; None if the run stopped first."""
        key = self.table.primary_key
        pages = []
        for endpoint in self.table.endpoints:
            pagination, params = scan_request(endpoint)
            for page in self.client.pages(endpoint.path, pagination, params):
                columns = {name: [record.get(name) for record in page] for name in (key, *self.count_fields)}
                pages.append(pa.table(columns))
        if self.client.stop_reason is not None:
            return None
        return pa.concat_tables(pages, promote_options="permissive") if pages else pa.table({key: []})

    def confirmed_gone(self, ids: Iterable[Any]) -> list[Any]:
        """The ids whose record the API no longer has: one request each for v1 lists (see `scan_request`)."""
        if all(endpoint.api_version == "v2" for endpoint in self.table.endpoints):
            return list(ids)
        gone = []
        path = self.table.endpoints[0].path
        for record_id in ids:
            try:
                record = self.client.get(f"{path}/{record_id}")
            except PipedriveHTTPError as error:
                if error.problem != "not_found":
                    raise
                gone.append(record_id)
                continue
            if record.get(IS_DELETED) is True or record.get("active_flag") is False:
                gone.append(record_id)
        return gone

    def run(self) -> Iterator[pa.Table]:
        """The vanished rows flagged deleted; also queues the children of parents whose counts changed."""
        # the company whose rows to compare: the run's own, recorded before any read (`guards.account`)
        self.client.check_account()
        account = AccountIdentity.from_state(dlt.current.source_state().get(ACCOUNT_STATE_KEY))
        destination = Destination.of(self.table, account.company_id if account is not None else None)
        stored = destination.live(self.count_fields) if destination is not None else None
        if stored is None or stored.num_rows == 0 or destination is None:
            return
        scanned = self.scan()
        if scanned is None:
            return
        key = self.table.primary_key
        missing = pc.invert(pc.is_in(stored.column(key), value_set=scanned.column(key).combine_chunks()))
        vanished = self.confirmed_gone(stored.filter(missing).column(key).to_pylist())
        if self.client.stop_reason is not None:
            return
        for rows in destination.rows(vanished):
            yield vanished_rows(rows)
        self._queue_recounted(stored, scanned)

    def _queue_recounted(self, stored: pa.Table, scanned: pa.Table) -> None:
        key = self.table.primary_key
        for child in CHILDREN:
            field = child.count_field
            if child.parent != self.table.name or field is None or field not in stored.column_names:
                continue
            if pa.types.is_null(stored.schema.field(field).type):
                # never loaded: runs without the child table do not ask for its count (`source.with_counts`)
                continue
            both = stored.select([key, field]).join(
                scanned.select([key, field]), key, join_type="inner", right_suffix="_now"
            )
            changed = both.filter(pc.fill_null(pc.not_equal(both[field], both[f"{field}_now"]), True))
            if changed.num_rows:
                wait_for_next_run(dlt.current.resource_state(child.name), changed.column(key).to_pylist())


def deletes_resource(client: PipedriveClient, table: ReconciledTable) -> DltResource:
    """The `<table>_deletes` resource: vanished records of `table`, flagged deleted, when a run reconciles."""

    def read() -> Iterator[pa.Table]:
        every_days = resolve_delete_settings().reconcile_deletes_every_days
        state = dlt.current.resource_state()
        now = datetime.now(timezone.utc)
        if not (_forced.get() or is_due(state.get(RECONCILED_AT_KEY), every_days, now)):
            return
        reconciliation = Reconciliation(client, table)
        yield from reconciliation.run()
        if client.stop_reason is None:
            state[RECONCILED_AT_KEY] = now.isoformat()

    columns: dict[str, TColumnSchema] = {IS_DELETED: {"name": IS_DELETED, "data_type": "bool"}}
    return dlt.resource(
        read,
        name=table.name + DELETES_SUFFIX,
        table_name=table.name,
        primary_key=table.primary_key,
        write_disposition=MERGE,
        columns=columns,
    )().parallelize()


def deletes_resources(
    client: PipedriveClient, endpoints: Iterable[Endpoint] = ENDPOINTS
) -> list[DltResource]:
    """A `<table>_deletes` resource for every incremental table."""
    return [deletes_resource(client, table) for table in reconciled_tables(endpoints)]
