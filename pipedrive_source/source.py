"""The `pipedrive` dlt source: one resource per row of `settings.ENDPOINTS`, one field definitions table per
row of `settings.FIELDS_ENDPOINTS`, plus the `custom_fields` table.

Incremental resources send `updated_since` (the last `update_time` loaded; inclusive) and merge on `id`; the
one incremental list without that filter (archived leads) is read newest first and stops where the last run
left off. The other lists have no such filter: they are read whole and replace their table. The request
parameters are a function of the pipeline state only (no wall clock), so a run replays exactly from recorded
traffic. Each page is yielded as one Arrow table (`pages.PageTables`): dlt writes it to parquet as is,
skipping its per-value JSON normalizer. The resources are `parallelized`: dlt reads them in its thread pool,
all under the account's one rate limiter (`client.py`).
API reference: https://developers.pipedrive.com/docs/api/v1
"""

# No `from __future__ import annotations`: dlt reads the resource and config signatures at run time.
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

import dlt
import pyarrow as pa
from dlt.common import logger
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.common.schema.typing import TColumnSchema, TWriteDispositionConfig
from dlt.common.typing import TSecretStrValue
from dlt.extract.incremental import Incremental
from dlt.sources import DltResource

from pipedrive_source.children.resources import child_resources
from pipedrive_source.children.tables import CHILDREN
from pipedrive_source.client import PipedriveClient
from pipedrive_source.column_types import column_schema, entity_columns, parse_v1_timestamp
from pipedrive_source.config import ConnectionSettings, resolve_connection
from pipedrive_source.custom_fields import CustomFieldMap
from pipedrive_source.deletes import deletes_resources
from pipedrive_source.guards.account import AccountGate
from pipedrive_source.guards.first_read import FirstReadChecks
from pipedrive_source.pages import PageTables, concatenated
from pipedrive_source.personal_data import PersonalData, PersonalDataMode, check_settings
from pipedrive_source.selection import table_of
from pipedrive_source.settings import (
    CURSOR_FIELD,
    CUSTOM_FIELDS_TABLE,
    DEFAULT_BASE_URL,
    ENDPOINTS,
    FIELDS_ENDPOINTS,
    FIELDS_ENDPOINTS_BY_PATH,
    Endpoint,
    FieldsEndpoint,
)

Records = list[dict[str, Any]]

MERGE: TWriteDispositionConfig = {"disposition": "merge", "strategy": "delete-insert"}
"""How changed records merge on `id`. Measured on DuckDB with its 192 MB memory limit: `delete-insert` merges
1,000,000 rows (31 columns) into a table holding them in 10 s, 2,000,000 wider ones too; `upsert` (DuckDB's
`MERGE INTO`) runs out of memory on the former. At 20,000 deals both take the same time."""

ROWS_PER_ITEM = 5000
"""Pages go to dlt joined into Arrow tables of about this many rows: dlt's work per item is fixed."""


PersonalDataOf = Callable[[str, CustomFieldMap | None], PersonalData | None]
"""The personal data rewriting of a table (given its custom fields), or None: `PersonalData.for_table` with
the run's mode and key."""


class FieldMaps:
    """The field definitions read from each fields endpoint and the custom field map of each table, each read
    or built at most once per source instance.

    The field definitions tables and the entity resources share the reads: no fields endpoint is requested
    twice in a run. Thread-safe: resources ask from different threads.
    """

    def __init__(self, client: PipedriveClient) -> None:
        self._client = client
        self._fields: dict[str, list[dict[str, Any]]] = {}
        self._maps: dict[tuple[str, str], CustomFieldMap] = {}
        # A lock per fields endpoint: each resource waits for its own fields only. With one lock for all,
        # the first requests of a run went out one after another instead of together.
        self._locks: defaultdict[str, threading.Lock] = defaultdict(threading.Lock)
        self._locks_lock = threading.Lock()

    def definitions(self, path: str) -> list[dict[str, Any]]:
        """The field descriptions the fields endpoint at `path` returns, in its order."""
        with self._lock_of(path):
            return self._definitions(path)

    def __call__(self, endpoint: Endpoint) -> CustomFieldMap | None:
        """The custom field map of the endpoint's table, or None if it has no custom fields."""
        if endpoint.fields_path is None:
            return None
        key = (endpoint.table, endpoint.fields_path)
        with self._lock_of(endpoint.fields_path):
            if key not in self._maps:
                fields = self._definitions(endpoint.fields_path)
                if endpoint.fields_path.startswith("api/v2/"):
                    self._maps[key] = CustomFieldMap.from_v2_fields(
                        endpoint.table, fields, record_layout=endpoint.api_version
                    )
                else:
                    self._maps[key] = CustomFieldMap.from_v1_fields(endpoint.table, fields)
        return self._maps[key]

    def _lock_of(self, path: str) -> threading.Lock:
        with self._locks_lock:
            return self._locks[path]

    def _definitions(self, path: str) -> list[dict[str, Any]]:
        if path not in self._fields:
            described = FIELDS_ENDPOINTS_BY_PATH.get(path)
            self._fields[path] = self._client.records(path, described.pagination if described else "cursor")
        return self._fields[path]


def page_table(
    endpoint: Endpoint, field_map: CustomFieldMap | None, personal_data: PersonalData | None = None
) -> Callable[[Records], pa.Table]:
    """The function turning one page of API records into one Arrow table of the endpoint's table.

    Custom field values move to named columns and personal data is hashed or removed (in place, record by
    record); then the page is converted column by column, typed by the table's hints (v1 and v2 timestamps
    alike become UTC timestamps).
    """
    columns = _table_columns(endpoint)
    if field_map is not None:
        columns.update(field_map.columns)
    if personal_data is not None:
        # a removed column must not come back as a column of nulls
        columns = _without(columns, personal_data.removed_columns)
    tables = PageTables(endpoint.table, columns, required=(endpoint.primary_key,))
    flatten = field_map.flatten if field_map is not None else None

    def to_table(records: Records) -> pa.Table:
        if flatten is not None:
            for record in records:
                flatten(record)
        if personal_data is not None:
            personal_data(records)
        return tables(records)

    return to_table


def updated_since(value: Any) -> str:
    """An incremental cursor value as the RFC3339 `updated_since` parameter, in whole UTC seconds."""
    moment = parse_v1_timestamp(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise TypeError(f"update_time cursor is not a timestamp: {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def every_column(row: dict[str, Any] | pa.Table) -> list[str]:
    """Deduplication key of the incremental cursor: the whole row, its non-null values.

    `updated_since` is inclusive, so each run reads the last second of the previous one again. Deduplicating
    those rows on `id` alone would drop a record updated a second time within that same second; on the
    whole content only the rows already loaded unchanged are dropped. dlt asks an Arrow page for its columns,
    then each of its rows (as a dict) for the key. Null values are left out: which columns a page holds
    besides the API's values depends on the other records of the page (an object column that is null
    throughout stays one column instead of one per key), and the same row must give the same key.
    """
    if isinstance(row, pa.Table):
        return sorted(row.schema.names)
    return sorted(name for name, value in row.items() if value is not None)


def _table_columns(endpoint: Endpoint) -> dict[str, TColumnSchema]:
    columns = entity_columns(endpoint.table)
    if endpoint.incremental:
        # A record updated during a run can be read twice in one load; keep its latest version.
        columns[CURSOR_FIELD] = {**columns.get(CURSOR_FIELD, {"name": CURSOR_FIELD}), "dedup_sort": "desc"}
    return columns


def _without(columns: dict[str, TColumnSchema], removed: Iterable[str]) -> dict[str, TColumnSchema]:
    # a hinted column is created in the destination even when no row has it
    return {name: hint for name, hint in columns.items() if name not in frozenset(removed)}


def _records(endpoint: Endpoint, page: Records) -> Records:
    if endpoint.data_key is None:
        return page
    return [record for wrapper in page for record in wrapper.get(endpoint.data_key) or ()]


def _first_seen(pages: Iterable[Records], primary_key: str) -> Iterator[Records]:
    seen: set[Any] = set()
    for page in pages:
        fresh = [record for record in page if record.get(primary_key) not in seen]
        seen.update(record.get(primary_key) for record in fresh)
        yield fresh


def with_counts(params: Mapping[str, str], table: str) -> dict[str, str]:
    """`params` asking for the counts (`include_fields`) that the selected child tables of `table` use.

    A count spares a child table one request per parent without children, but the server computes it for
    every record of every page: a run without those child tables does not ask for it.
    """
    selected_tables = {table_of(resource) for resource in dlt.current.source().selected_resources.values()}
    used = [
        child.count_field
        for child in CHILDREN
        if child.parent == table and child.count_field and child.name in selected_tables
    ]
    return {**params, "include_fields": ",".join(used)} if used else dict(params)


def entity_resource(
    client: PipedriveClient,
    endpoint: Endpoint,
    field_maps: FieldMaps,
    personal_data_of: PersonalDataOf | None = None,
) -> DltResource:
    """The resource reading one endpoint of `settings.ENDPOINTS` into its table."""
    personal = personal_data_of or (lambda table, field_map: None)
    # the columns personal data removes whatever the custom fields; those of custom fields follow below
    static_personal = personal(endpoint.table, None)
    removed = static_personal.removed_columns if static_personal is not None else frozenset()

    def read(updated_at: Incremental[Any] | None = None) -> Iterator[Any]:
        since: dict[str, str] = {}
        if endpoint.filters_updated_since and updated_at is not None and updated_at.start_value is not None:
            since["updated_since"] = updated_since(updated_at.start_value)
        field_map = field_maps(endpoint)
        personal_data = personal(endpoint.table, field_map)
        to_table = page_table(endpoint, field_map, personal_data)
        # The custom field columns are known only once the fields endpoint has been read: hint them with
        # the first page, so that they are typed even where a page holds no value.
        hints = None
        if field_map is not None:
            dropped = personal_data.removed_columns if personal_data is not None else ()
            hints = dlt.mark.make_hints(columns=_without(field_map.columns, dropped))
        pages: Iterator[Records] = (
            _records(endpoint, page)
            for params in endpoint.requests_params
            for page in client.pages(
                endpoint.path, endpoint.pagination, {**with_counts(params, endpoint.table), **since}
            )
        )
        if len(endpoint.requests_params) > 1:
            # a mail thread can sit in several folders: each record once
            pages = _first_seen(pages, endpoint.primary_key)
        # newest first, dlt ends the read after the first page reaching back past the cursor: page by page
        rows_per_item = 0 if endpoint.newest_first else ROWS_PER_ITEM
        for table in concatenated((to_table(page) for page in pages if page), rows_per_item):
            if hints is not None:
                yield dlt.mark.with_hints(table, hints)
                hints = None
            else:
                yield table
        if field_map is not None and field_map.unmapped_codes:
            logger.warning(
                f"{endpoint.name}: dropped the values of {len(field_map.unmapped_codes)} custom field(s) "
                "deleted in Pipedrive while this run was reading; the next run will not see them."
            )

    resource = dlt.resource(
        read,
        name=endpoint.name,
        table_name=endpoint.table,
        primary_key=endpoint.primary_key,
        write_disposition=MERGE if endpoint.write_disposition == "merge" else endpoint.write_disposition,
        columns=_without(_table_columns(endpoint), removed),
        selected=endpoint.enabled_by_default,
    )
    if not endpoint.incremental:
        return resource().parallelize()
    updated_at: Incremental[Any] = dlt.sources.incremental(
        CURSOR_FIELD, primary_key=every_column, row_order="desc" if endpoint.newest_first else None
    )
    if endpoint.newest_first:
        # dlt closes the generator to end the read, which a parallelized generator busy in another
        # thread refuses: this small list is read in dlt's main loop
        return resource(updated_at=updated_at)
    # `.parallelize()` after the call: dlt drops `parallelized=True` when a resource is called with arguments
    return resource(updated_at=updated_at).parallelize()


CUSTOM_FIELDS_KEY = ("entity", "field_code")
CUSTOM_FIELDS_COLUMNS: dict[str, TColumnSchema] = {
    "column_names": {"name": "column_names", "data_type": "json"},
    "options": {"name": "options", "data_type": "json"},
    "is_custom_field": {"name": "is_custom_field", "data_type": "bool"},
}


def custom_fields_resource(field_maps: FieldMaps) -> DltResource:
    """The `custom_fields` table: which column holds which field of each entity, and the enum/set options."""

    def read() -> Iterator[pa.Table]:
        tables = PageTables(CUSTOM_FIELDS_TABLE, CUSTOM_FIELDS_COLUMNS, required=CUSTOM_FIELDS_KEY)
        described: set[str] = set()
        for endpoint in ENDPOINTS:
            # archived deals and leads share their table's map
            if endpoint.table in described:
                continue
            described.add(endpoint.table)
            field_map = field_maps(endpoint)
            if field_map is not None and field_map.fields:
                yield tables(field_map.column_rows())

    return dlt.resource(
        read,
        name=CUSTOM_FIELDS_TABLE,
        primary_key=CUSTOM_FIELDS_KEY,
        write_disposition="replace",
        columns=CUSTOM_FIELDS_COLUMNS,
        # in dlt's thread pool: waiting in dlt's main loop for the fields endpoints, it would hold up every
        # other resource at the start of the run
    )().parallelize()


FIELD_DEFINITION_COLUMNS: dict[str, TColumnSchema] = {
    name: column_schema(name, "json") for name in ("options", "subfields")
}
"""Lists of a field definition (enum and set options, parts of composite fields) stay JSON in their row."""


def fields_resource(fields_endpoint: FieldsEndpoint, field_maps: FieldMaps) -> DltResource:
    """A field definitions table (`deal_fields`, ...): one row per field, built-in and custom, as the fields
    endpoint describes it; replaced on every run."""
    columns = {**entity_columns(fields_endpoint.name), **FIELD_DEFINITION_COLUMNS}

    def read() -> Iterator[pa.Table]:
        fields = field_maps.definitions(fields_endpoint.path)
        if fields:
            tables = PageTables(fields_endpoint.name, columns, required=(fields_endpoint.primary_key,))
            # copies: the page conversion adds missing keys to the records it is given
            yield tables([dict(field) for field in fields])

    return dlt.resource(
        read,
        name=fields_endpoint.name,
        primary_key=fields_endpoint.primary_key,
        write_disposition="replace",
        columns=columns,
    )().parallelize()


@dlt.source(name="pipedrive", section="pipedrive")
def pipedrive_source(
    base_url: str = DEFAULT_BASE_URL,
    maton_api_key: TSecretStrValue | None = dlt.secrets.value,
    connection_id: str | None = None,
    api_token: TSecretStrValue | None = None,
    access_token: TSecretStrValue | None = None,
    personal_data: str = "keep",
    personal_data_key: TSecretStrValue | None = None,
) -> Sequence[DltResource]:
    """The whole Pipedrive CRM: one resource per entity (`settings.ENDPOINTS`), the field definitions of every
    entity (`deal_fields`, ...) and the custom field mapping (`custom_fields`).

    Every argument resolves through dlt config (`sources.pipedrive.*`, env `SOURCES__PIPEDRIVE__*`); the Maton
    key also from a plain `MATON_API_KEY`. Pick tables with `.with_resources("deals", "persons")`. Mail
    threads are not loaded unless picked: `.with_resources(...)` naming `mail_threads`, or
    `source.mail_threads.selected = True`.

    Args:
        base_url: `https://api.maton.ai/pipedrive` (Maton, the default) or `https://{company}.pipedrive.com`.
        maton_api_key: the Maton API key, sent as `Authorization: Bearer`.
        connection_id: the Maton connection to read (a UUID); default the oldest active one.
        api_token: a Pipedrive API token for direct mode, sent in the `x-api-token` header.
        access_token: a Pipedrive OAuth access token for direct mode.
        personal_data: `keep` (default), `hash` or `drop` the contacts' names, e-mails and phones at
            extraction (see `personal_data.py`).
        personal_data_key: the secret key of `hash` mode's HMAC-SHA256.

    Raises:
        ConfigurationError: the settings cannot work; the message says what to set.
    """
    mode = check_settings(personal_data, personal_data_key)
    settings = resolve_connection(
        base_url=base_url,
        maton_api_key=maton_api_key,
        connection_id=connection_id,
        api_token=api_token,
        access_token=access_token,
    )
    return pipedrive_resources(settings, personal_data=mode, personal_data_key=personal_data_key)


def pipedrive_resources(
    settings: ConnectionSettings,
    runtime: RuntimeConfiguration | None = None,
    personal_data: PersonalDataMode = "keep",
    personal_data_key: str | None = None,
) -> list[DltResource]:
    """The resources of the source for already validated settings."""
    client = PipedriveClient(settings, runtime)
    # before its first read for data, each run checks whose data it loads and where (`guards`)
    client.account_check = FirstReadChecks(AccountGate(settings, client.users_me))
    field_maps = FieldMaps(client)

    def personal_data_of(table: str, field_map: CustomFieldMap | None) -> PersonalData | None:
        return PersonalData.for_table(table, personal_data, personal_data_key, field_map)

    resources = [
        *(entity_resource(client, endpoint, field_maps, personal_data_of) for endpoint in ENDPOINTS),
        *(fields_resource(fields_endpoint, field_maps) for fields_endpoint in FIELDS_ENDPOINTS),
        custom_fields_resource(field_maps),
    ]
    return [*resources, *child_resources(client, resources), *deletes_resources(client)]
