"""The Pipedrive endpoints this source reads, as data.

One `Endpoint` row per table; `source.py` builds every resource from these rows in one loop, so adding an
entity is adding a row. API references: https://developers.pipedrive.com/docs/api/v1 (v1 and v2 lists).
"""

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

DEFAULT_BASE_URL = "https://api.maton.ai/pipedrive"
"""The Maton gateway; `{base_url}/api/v2/deals` proxies `https://{company}.pipedrive.com/api/v2/deals`."""

PAGE_LIMIT = 500
"""The largest page both API versions accept."""

CURSOR_FIELD = "update_time"

Pagination = Literal["cursor", "updated_since", "single"]
"""`cursor`: v2 `additional_data.next_cursor`; `updated_since`: v1 `start`/`limit` anchored on the last
`update_time` read (see `client.UpdatedSincePaginator`); `single`: one unpaginated page."""


@dataclass(frozen=True)
class Endpoint:
    """How one Pipedrive list endpoint is read into one table.

    Attributes:
        name: the table and resource name.
        path: the list path, relative to `base_url`.
        pagination: how the pages follow each other.
        incremental: read only what changed since the last run (`updated_since`, merged on `id`).
        params: query parameters sent with every page.
        fields_path: the fields endpoint describing the entity's custom fields, if it has any.
    """

    name: str
    path: str
    pagination: Pagination
    incremental: bool
    params: MappingProxyType[str, str] = field(default_factory=lambda: MappingProxyType({}))
    fields_path: str | None = None

    @property
    def api_version(self) -> Literal["v1", "v2"]:
        return "v2" if self.path.startswith("api/v2/") else "v1"

    @property
    def write_disposition(self) -> Literal["merge", "replace"]:
        return "merge" if self.incremental else "replace"


# v2 lists sort on `update_time` ascending so a run that stops anywhere has read a gap-free prefix, and
# records updated while the run reads move behind the cursor where the same run picks them up again.
_V2_CHANGES = {"sort_by": "update_time", "sort_direction": "asc"}

ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint(
        "deals",
        "api/v2/deals",
        "cursor",
        incremental=True,
        # Without `status` the list omits deleted deals; with `deleted` it returns those deleted in the last
        # 30 days (Pipedrive purges them after that), which then land with `is_deleted = true`.
        params=MappingProxyType({**_V2_CHANGES, "status": "open,won,lost,deleted"}),
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
)

ENDPOINTS_BY_NAME: MappingProxyType[str, Endpoint] = MappingProxyType({e.name: e for e in ENDPOINTS})

CUSTOM_FIELDS_TABLE = "custom_fields"

USERS_ME_PATH = "api/v1/users/me"
