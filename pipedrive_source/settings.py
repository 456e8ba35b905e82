"""The Pipedrive endpoints this source reads, as data.

One `Endpoint` row per resource, one `FieldsEndpoint` row per field definitions table; `source.py` builds
every resource from these rows in loops, so adding an entity is adding a row. API references:
https://developers.pipedrive.com/docs/api/v1 (v1 and v2 lists).
"""

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

DEFAULT_BASE_URL = "https://api.maton.ai/pipedrive"
"""The Maton gateway; `{base_url}/api/v2/deals` proxies `https://{company}.pipedrive.com/api/v2/deals`."""

PAGE_LIMIT = 500
"""The largest page both API versions accept."""

CURSOR_FIELD = "update_time"

Pagination = Literal["cursor", "updated_since", "offset", "single"]
"""`cursor`: v2 `additional_data.next_cursor`; `updated_since`: v1 `start`/`limit` anchored on the last
`update_time` read (see `client.UpdatedSincePaginator`); `offset`: v1 `start`/`limit`, following
`additional_data.pagination.next_start`; `single`: one unpaginated page."""

Params = MappingProxyType[str, str]
NO_PARAMS: Params = MappingProxyType({})


@dataclass(frozen=True)
class Endpoint:
    """How one Pipedrive list endpoint is read into one table.

    Attributes:
        name: the resource name (and the table's, unless `table_name` says otherwise).
        path: the list path, relative to `base_url`.
        pagination: how the pages follow each other.
        incremental: read only what changed since the last run, merged on the primary key. The API filters
            by `updated_since`, unless `newest_first`.
        params: query parameters sent with every page.
        fields_path: the fields endpoint describing the entity's custom fields, if it has any (leads take
            the fields of deals).
        table_name: the table the records land in, when several resources fill one table (archived deals
            in `deals`).
        primary_key: the column identifying a record.
        enabled_by_default: loaded by `pipedrive_source()` unless deselected; otherwise only when picked
            with `.with_resources(...)`.
        variants: query parameters of which each set is read in turn, for lists that answer one slice per
            request (mail threads per folder).
        data_key: the key of `data` holding the list, for answers that wrap it in an object.
        newest_first: for an incremental list without `updated_since`: read sorted newest first, and the
            read ends at the first page reaching back past the last run's cursor (dlt's `row_order`).
        page_limit: the largest page the endpoint accepts, where it is below `PAGE_LIMIT`.
    """

    name: str
    path: str
    pagination: Pagination
    incremental: bool
    params: Params = field(default_factory=lambda: NO_PARAMS)
    fields_path: str | None = None
    table_name: str | None = None
    primary_key: str = "id"
    enabled_by_default: bool = True
    variants: tuple[Params, ...] = ()
    data_key: str | None = None
    newest_first: bool = False
    page_limit: int = PAGE_LIMIT

    @property
    def table(self) -> str:
        return self.table_name or self.name

    @property
    def api_version(self) -> Literal["v1", "v2"]:
        return "v2" if self.path.startswith("api/v2/") else "v1"

    @property
    def write_disposition(self) -> Literal["merge", "replace"]:
        return "merge" if self.incremental else "replace"

    @property
    def filters_updated_since(self) -> bool:
        """Whether an incremental run asks the API for `updated_since`."""
        return self.incremental and not self.newest_first

    @property
    def requests_params(self) -> tuple[dict[str, str], ...]:
        """The query parameters of each read of the list: one per variant."""
        base = dict(self.params)
        if self.page_limit != PAGE_LIMIT:
            base["limit"] = str(self.page_limit)
        return tuple({**base, **variant} for variant in self.variants) or (base,)


@dataclass(frozen=True)
class FieldsEndpoint:
    """A fields endpoint, read into a table of field definitions (one row per field, built-in and custom).

    Attributes:
        name: the table name (`deal_fields`).
        path: the fields endpoint path, relative to `base_url`.
        pagination: how the pages follow each other.
        primary_key: the field's code: `field_code` in v2, `key` in v1.
    """

    name: str
    path: str
    pagination: Pagination
    primary_key: str

    @property
    def api_version(self) -> Literal["v1", "v2"]:
        return "v2" if self.path.startswith("api/v2/") else "v1"


def _params(**params: str) -> Params:
    return MappingProxyType(params)


GOAL_TYPES = ("deals_won", "deals_progressed", "activities_completed", "activities_added", "deals_started")
"""Every `type.name` of `/v1/goals/find`."""

MAIL_FOLDERS = ("inbox", "drafts", "sent", "archive")
"""Every `folder` of `/v1/mailbox/mailThreads`."""

# v2 lists sort on `update_time` ascending so a run that stops anywhere has read a gap-free prefix, and
# records updated while the run reads move behind the cursor where the same run picks them up again.
_V2_CHANGES = {"sort_by": "update_time", "sort_direction": "asc"}

# Without `status` the deal lists omit deleted deals; with `deleted` they return those deleted in the last
# 30 days (Pipedrive purges them after that), which then land with `is_deleted = true`.
_DEAL_LISTS = MappingProxyType({**_V2_CHANGES, "status": "open,won,lost,deleted"})

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "deals",
        "api/v2/deals",
        "cursor",
        incremental=True,
        params=_DEAL_LISTS,
        fields_path="api/v2/dealFields",
    ),
    Endpoint(
        "persons",
        "api/v2/persons",
        "cursor",
        incremental=True,
        params=MappingProxyType(_V2_CHANGES),
        fields_path="api/v2/personFields",
    ),
    Endpoint(
        "organizations",
        "api/v2/organizations",
        "cursor",
        incremental=True,
        params=MappingProxyType(_V2_CHANGES),
        fields_path="api/v2/organizationFields",
    ),
    Endpoint(
        "activities",
        "api/v2/activities",
        "cursor",
        incremental=True,
        params=MappingProxyType(_V2_CHANGES),
        fields_path="api/v2/activityFields",
    ),
    Endpoint(
        "products",
        "api/v2/products",
        "cursor",
        incremental=True,
        params=MappingProxyType(_V2_CHANGES),
        fields_path="api/v2/productFields",
    ),
    # Pipelines and stages have no `updated_since` filter and hold a handful of rows: one page, replaced.
    Endpoint("pipelines", "api/v2/pipelines", "cursor", incremental=False),
    Endpoint("stages", "api/v2/stages", "cursor", incremental=False),
    # v1 only (no v2 list). The 2026-08 spec gives notes `updated_since` (RFC3339, inclusive).
    Endpoint(
        "notes",
        "api/v1/notes",
        "updated_since",
        incremental=True,
        params=MappingProxyType({"sort": "update_time ASC, id ASC"}),
    ),
    # `/v1/users` takes no parameters and is not paginated.
    Endpoint("users", "api/v1/users", "single", incremental=False),
    # v1 leads take `updated_since` (inclusive) and `sort`; their custom fields are those of deals (the spec:
    # "leads inherit the custom fields' structure from deals"), as top-level keys like v1 deals had.
    Endpoint(
        "leads",
        "api/v1/leads",
        "updated_since",
        incremental=True,
        params=_params(sort="update_time ASC, id ASC"),
        fields_path="api/v2/dealFields",
    ),
    # The archive has no `updated_since`: newest first, the read stops where the last run left off.
    Endpoint(
        "archived_leads",
        "api/v1/leads/archived",
        "offset",
        incremental=True,
        params=_params(sort="update_time DESC, id DESC"),
        fields_path="api/v2/dealFields",
        table_name="leads",
        newest_first=True,
    ),
    Endpoint(
        "archived_deals",
        "api/v2/deals/archived",
        "cursor",
        incremental=True,
        params=_DEAL_LISTS,
        fields_path="api/v2/dealFields",
        table_name="deals",
    ),
    # Small v1 lists without `updated_since`: read whole, replaced.
    Endpoint("lead_labels", "api/v1/leadLabels", "single", incremental=False),
    # Lead sources have no id: a source is its name.
    Endpoint("lead_sources", "api/v1/leadSources", "single", incremental=False, primary_key="name"),
    Endpoint(
        "files", "api/v1/files", "offset", incremental=False, params=_params(sort="id ASC"), page_limit=100
    ),
    Endpoint("filters", "api/v1/filters", "single", incremental=False),
    Endpoint("activity_types", "api/v1/activityTypes", "single", incremental=False),
    Endpoint("currencies", "api/v1/currencies", "single", incremental=False),
    # Without `type.name` the API returns only the token owner's goals, and without `is_active` only the
    # active ones: each goal type, active and not, is one request.
    Endpoint(
        "goals",
        "api/v1/goals/find",
        "single",
        incremental=False,
        data_key="goals",
        variants=tuple(
            _params(**{"type.name": goal_type, "is_active": is_active})
            for goal_type in GOAL_TYPES
            for is_active in ("true", "false")
        ),
    ),
    Endpoint("call_logs", "api/v1/callLogs", "offset", incremental=False, page_limit=50),
    Endpoint("roles", "api/v1/roles", "offset", incremental=False),
    Endpoint("permission_sets", "api/v1/permissionSets", "single", incremental=False),
    # v2 projects and tasks have no `updated_since`. The project list leaves out archived projects, which
    # land in `projects` too (`archive_time` set); both resources replace the table in the same load.
    Endpoint("projects", "api/v2/projects", "cursor", incremental=False, fields_path="api/v2/projectFields"),
    Endpoint(
        "archived_projects",
        "api/v2/projects/archived",
        "cursor",
        incremental=False,
        fields_path="api/v2/projectFields",
        table_name="projects",
    ),
    Endpoint("tasks", "api/v2/tasks", "cursor", incremental=False),
    # Off by default: the threads name and quote third parties (senders, recipients) who never dealt with the
    # account's CRM; a team loads them on purpose. `folder` is required: one read per folder.
    Endpoint(
        "mail_threads",
        "api/v1/mailbox/mailThreads",
        "offset",
        incremental=False,
        enabled_by_default=False,
        variants=tuple(_params(folder=folder) for folder in MAIL_FOLDERS),
    ),
)

ENDPOINTS_BY_NAME: MappingProxyType[str, Endpoint] = MappingProxyType({e.name: e for e in ENDPOINTS})

FIELDS_ENDPOINTS: tuple[FieldsEndpoint, ...] = (
    FieldsEndpoint("deal_fields", "api/v2/dealFields", "cursor", "field_code"),
    FieldsEndpoint("person_fields", "api/v2/personFields", "cursor", "field_code"),
    FieldsEndpoint("organization_fields", "api/v2/organizationFields", "cursor", "field_code"),
    FieldsEndpoint("activity_fields", "api/v2/activityFields", "cursor", "field_code"),
    FieldsEndpoint("product_fields", "api/v2/productFields", "cursor", "field_code"),
    FieldsEndpoint("project_fields", "api/v2/projectFields", "cursor", "field_code"),
    # v1 only: notes and leads have no v2 fields endpoint (leads' custom fields are deals').
    FieldsEndpoint("note_fields", "api/v1/noteFields", "single", "key"),
    FieldsEndpoint("lead_fields", "api/v1/leadFields", "offset", "key"),
)

FIELDS_ENDPOINTS_BY_PATH: MappingProxyType[str, FieldsEndpoint] = MappingProxyType(
    {e.path: e for e in FIELDS_ENDPOINTS}
)

FIELDS_RESOURCES: MappingProxyType[str, str] = MappingProxyType(
    {
        fields.path: next((e.name for e in ENDPOINTS if e.fields_path == fields.path), fields.name)
        for fields in FIELDS_ENDPOINTS
    }
)
"""The resource a fields endpoint's requests count under: the first entity it describes (which reads it
first), else its field definitions table."""

CUSTOM_FIELDS_TABLE = "custom_fields"

USERS_ME_PATH = "api/v1/users/me"
