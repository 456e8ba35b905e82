"""The `pipedrive` dlt source: one resource per row of `settings.ENDPOINTS`, plus the `custom_fields` table.

Incremental resources send `updated_since` (the last `update_time` loaded; inclusive) and merge on `id`. The
request parameters are a function of the pipeline state only (no wall clock), so a run replays exactly from
recorded traffic. API reference: https://developers.pipedrive.com/docs/api/v1
"""

# No `from __future__ import annotations`: dlt reads the resource and config signatures at run time.
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timezone
from typing import Any

import dlt
from dlt.common import logger
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.common.schema.typing import TColumnSchema
from dlt.common.typing import TSecretStrValue
from dlt.extract.incremental import Incremental
from dlt.sources import DltResource

from pipedrive_source.client import PipedriveClient
from pipedrive_source.column_types import (
    entity_columns,
    nested_hints,
    parse_v1_timestamp,
    v1_timestamp_coercer,
)
from pipedrive_source.config import ConnectionSettings, resolve_connection
from pipedrive_source.custom_fields import CustomFieldMap
from pipedrive_source.settings import (
    CURSOR_FIELD,
    CUSTOM_FIELDS_TABLE,
    DEFAULT_BASE_URL,
    ENDPOINTS,
    Endpoint,
)

Records = list[dict[str, Any]]


class FieldMaps:
    """The custom field map of each entity, read from its fields endpoint at most once per source instance."""

    def __init__(self, client: PipedriveClient) -> None:
        self._client = client
        self._maps: dict[str, CustomFieldMap] = {}

    def __call__(self, endpoint: Endpoint) -> CustomFieldMap | None:
        if endpoint.fields_path is None:
            return None
        if endpoint.name not in self._maps:
            fields = self._client.records(endpoint.fields_path)
            self._maps[endpoint.name] = CustomFieldMap.from_v2_fields(endpoint.name, fields)
        return self._maps[endpoint.name]


def page_transformer(endpoint: Endpoint, field_map: CustomFieldMap | None) -> Callable[[Records], Records]:
    """The function turning one page of API records into table rows, in place.

    Custom field values move to named columns; v1 timestamps become aware datetimes; `update_time` is a
    datetime in every table so that the incremental cursor compares moments, not texts. One call per page,
    so that a columnar (Arrow) version can replace it whole.
    """
    steps: list[Callable[[dict[str, Any]], dict[str, Any]]] = []
    if field_map is not None:
        steps.append(field_map.flatten)
    if endpoint.api_version == "v1":
        steps.append(v1_timestamp_coercer(endpoint.name))

    def transform(records: Records) -> Records:
        for record in records:
            for step in steps:
                step(record)
            cursor = record.get(CURSOR_FIELD)
            if cursor.__class__ is str:
                record[CURSOR_FIELD] = parse_v1_timestamp(cursor)
        return records

    return transform


def updated_since(value: Any) -> str:
    """An incremental cursor value as the RFC3339 `updated_since` parameter, in whole UTC seconds."""
    moment = parse_v1_timestamp(value) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise TypeError(f"update_time cursor is not a timestamp: {value!r}")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def every_column(row: dict[str, Any]) -> list[str]:
    """Deduplication key of the incremental cursor: the whole row.

    `updated_since` is inclusive, so each run reads the last second of the previous one again. Deduplicating
    those rows on `id` alone would drop a record updated a second time within that same second; on the
    whole content only the rows already loaded unchanged are dropped.
    """
    return sorted(row)


def _table_columns(endpoint: Endpoint) -> dict[str, TColumnSchema]:
    columns = entity_columns(endpoint.name)
    if endpoint.incremental:
        # A record updated during a run can be read twice in one load; keep its latest version.
        columns[CURSOR_FIELD] = {**columns.get(CURSOR_FIELD, {"name": CURSOR_FIELD}), "dedup_sort": "desc"}
    return columns


def entity_resource(client: PipedriveClient, endpoint: Endpoint, field_maps: FieldMaps) -> DltResource:
    """The resource reading one endpoint of `settings.ENDPOINTS` into its table."""

    def read(updated_at: Incremental[Any] | None = None) -> Iterator[Any]:
        params = dict(endpoint.params)
        if updated_at is not None and updated_at.start_value is not None:
            params["updated_since"] = updated_since(updated_at.start_value)
        field_map = field_maps(endpoint)
        transform = page_transformer(endpoint, field_map)
        # The custom field columns are known only once the fields endpoint has been read: hint them with
        # the first page.
        hints = dlt.mark.make_hints(columns=field_map.columns) if field_map is not None else None
        for page in client.pages(endpoint.path, endpoint.pagination, params):
            rows = transform(page)
            if hints is not None:
                yield dlt.mark.with_hints(rows, hints)
                hints = None
            else:
                yield rows
        if field_map is not None and field_map.unmapped_codes:
            logger.warning(
                f"{endpoint.name}: dropped the values of {len(field_map.unmapped_codes)} custom field(s) "
                "deleted in Pipedrive while this run was reading; the next run will not see them."
            )

    resource = dlt.resource(
        read,
        name=endpoint.name,
        primary_key="id",
        write_disposition=endpoint.write_disposition,
        columns=_table_columns(endpoint),
        nested_hints=nested_hints(endpoint.name),  # type: ignore[arg-type]
    )
    if endpoint.incremental:
        return resource(updated_at=dlt.sources.incremental(CURSOR_FIELD, primary_key=every_column))
    return resource()


def custom_fields_resource(field_maps: FieldMaps) -> DltResource:
    """The `custom_fields` table: which column holds which field of each entity, and the enum/set options."""

    def read() -> Iterator[Records]:
        for endpoint in ENDPOINTS:
            field_map = field_maps(endpoint)
            if field_map is not None:
                yield field_map.column_rows()

    return dlt.resource(
        read,
        name=CUSTOM_FIELDS_TABLE,
        primary_key=("entity", "field_code"),
        write_disposition="replace",
        columns={"column_names": {"data_type": "json"}},
    )()


@dlt.source(name="pipedrive", section="pipedrive")
def pipedrive_source(
    base_url: str = DEFAULT_BASE_URL,
    maton_api_key: TSecretStrValue | None = dlt.secrets.value,
    connection_id: str | None = None,
    api_token: TSecretStrValue | None = None,
    access_token: TSecretStrValue | None = None,
) -> Sequence[DltResource]:
    """The Pipedrive CRM: deals, persons, organizations, activities, products, pipelines, stages, notes, users
    and the custom field mapping.

    Every argument resolves through dlt config (`sources.pipedrive.*`, env `SOURCES__PIPEDRIVE__*`); the Maton
    key also from a plain `MATON_API_KEY`. Pick tables with `.with_resources("deals", "persons")`.

    Args:
        base_url: `https://api.maton.ai/pipedrive` (Maton, the default) or `https://{company}.pipedrive.com`.
        maton_api_key: the Maton API key, sent as `Authorization: Bearer`.
        connection_id: the Maton connection to read (a UUID); default the oldest active one.
        api_token: a Pipedrive API token for direct mode, sent in the `x-api-token` header.
        access_token: a Pipedrive OAuth access token for direct mode.

    Raises:
        ConfigurationError: the settings cannot work; the message says what to set.
    """
    settings = resolve_connection(
        base_url=base_url,
        maton_api_key=maton_api_key,
        connection_id=connection_id,
        api_token=api_token,
        access_token=access_token,
    )
    return pipedrive_resources(settings)


def pipedrive_resources(
    settings: ConnectionSettings, runtime: RuntimeConfiguration | None = None
) -> list[DltResource]:
    """The resources of the source for already validated settings."""
    client = PipedriveClient(settings, runtime)
    field_maps = FieldMaps(client)
    return [
        *(entity_resource(client, endpoint, field_maps) for endpoint in ENDPOINTS),
        custom_fields_resource(field_maps),
    ]
