"""The child tables, as data: one `Child` row per table, read from its parent's records.

Bulk endpoints take up to 100 parent ids per request (`deal_ids=`, the spec's maximum) and are never read
one parent at a time. Per-parent endpoints (followers, participants, the flow, organization relationships)
are read once per parent read in the run, and not at all when the parent's count field says it has none.
API references: https://developers.pipedrive.com/docs/api/v1/Deals (v2 deal products, installments,
followers; v1 participants and flow), https://developers.pipedrive.com/docs/api/v1/OrganizationRelationships
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from dlt.common.schema.typing import TColumnSchema, TDataType

from pipedrive_source.children import shapes
from pipedrive_source.children.shapes import Shape
from pipedrive_source.settings import NO_PARAMS, Pagination, Params

MAX_PARENT_IDS = 100
"""The most parent ids `/api/v2/deals/products` and `/api/v2/deals/installments` take in one request."""

Columns = Mapping[str, TColumnSchema]


def _columns(**types: TDataType) -> Columns:
    return MappingProxyType(
        {name: {"name": name, "data_type": data_type} for name, data_type in types.items()}
    )


@dataclass(frozen=True)
class Child:
    """How one child table is read from the records of its parent resource.

    Attributes:
        name: the table and resource name.
        parent: the resource whose records are the parents (`deals`).
        parent_key: the column holding the parent's id; the children of a parent read again replace its
            previous ones on this key (dlt's `merge_key`).
        path: the list path; `{id}` stands for the parent's id.
        pagination: how the pages follow each other.
        columns: the column types.
        shape: turns one answer's records into rows.
        params: query parameters sent with every request.
        ids_param: the query parameter taking the parent id(s), for paths without `{id}`.
        ids_per_request: parent ids per request: more than one for a bulk endpoint.
        repeat_ids: send the ids as `deal_ids=1&deal_ids=2` (the spec's default array style) rather than
            comma-separated (`style: form, explode: false` in the spec).
        count_field: the parent's column counting the children (zero: no request).
        enabled_by_default: loaded by a run that names no tables. The per-parent tables are not: a full load
            costs one request per parent each (20,000 deals: about 60,000 requests and 1.4 million tokens
            for all of them, more than many companies' daily budget); name them to load them.
    """

    name: str
    parent: str
    parent_key: str
    path: str
    pagination: Pagination
    columns: Columns
    shape: Shape
    params: Params = field(default_factory=lambda: NO_PARAMS)
    ids_param: str | None = None
    ids_per_request: int = 1
    repeat_ids: bool = False
    count_field: str | None = None

    @property
    def enabled_by_default(self) -> bool:
        return self.bulk

    @property
    def bulk(self) -> bool:
        return self.ids_per_request > 1

    @property
    def api_version(self) -> Literal["v1", "v2"]:
        return "v2" if self.path.startswith("api/v2/") else "v1"

    def request(self, parent_ids: list[Any]) -> tuple[str, dict[str, Any]]:
        """The path and query parameters reading the children of `parent_ids` (one id unless bulk)."""
        params: dict[str, Any] = dict(self.params)
        if self.ids_param is not None:
            if self.repeat_ids:
                params[self.ids_param] = [str(parent_id) for parent_id in parent_ids]
            else:
                params[self.ids_param] = ",".join(str(parent_id) for parent_id in parent_ids)
        path = self.path.format(id=parent_ids[0]) if "{id}" in self.path else self.path
        return path, params


def _ids(*names: str) -> dict[str, TDataType]:
    return {name: "bigint" for name in names}


def _followers(parent: str, parent_key: str, count_field: str | None = "followers_count") -> Child:
    """The followers of each `parent` record: v2 `/{parent}/{id}/followers`."""
    return Child(
        f"{parent[:-1]}_followers",
        parent=parent,
        parent_key=parent_key,
        path=f"api/v2/{parent}/{{id}}/followers",
        pagination="cursor",
        columns=_columns(**_ids(parent_key), user_id="bigint", add_time="timestamp"),
        shape=shapes.with_parent(parent_key),
        count_field=count_field,
    )


DEAL_PRODUCT_COLUMNS = _columns(
    id="bigint",
    deal_id="bigint",
    product_id="bigint",
    product_variation_id="bigint",
    order_nr="bigint",
    sum="decimal",
    item_price="decimal",
    quantity="double",
    discount="double",
    tax="double",
    is_enabled="bool",
    billing_frequency_cycles="bigint",
    billing_start_date="date",
    add_time="timestamp",
    update_time="timestamp",
    name="text",
    comments="text",
    currency="text",
    discount_type="text",
    tax_method="text",
    billing_frequency="text",
)

CHILDREN: tuple[Child, ...] = (
    Child(
        "deal_products",
        parent="deals",
        parent_key="deal_id",
        path="api/v2/deals/products",
        pagination="cursor",
        columns=DEAL_PRODUCT_COLUMNS,
        shape=shapes.as_listed,
        ids_param="deal_ids",
        ids_per_request=MAX_PARENT_IDS,
    ),
    Child(
        "deal_installments",
        parent="deals",
        parent_key="deal_id",
        path="api/v2/deals/installments",
        pagination="cursor",
        columns=_columns(
            id="bigint", deal_id="bigint", amount="decimal", billing_date="date", description="text"
        ),
        shape=shapes.as_listed,
        ids_param="deal_ids",
        ids_per_request=MAX_PARENT_IDS,
        # the spec gives `deal_ids` no style here, unlike deal products: OpenAPI's default repeats the key
        repeat_ids=True,
    ),
    _followers("deals", "deal_id"),
    Child(
        "deal_participants",
        parent="deals",
        parent_key="deal_id",
        path="api/v1/deals/{id}/participants",
        pagination="offset",
        columns=_columns(
            deal_id="bigint",
            id="bigint",
            person_id="bigint",
            add_time="timestamp",
            active_flag="bool",
            added_by_user_id="bigint",
        ),
        shape=shapes.deal_participant,
        count_field="participants_count",
    ),
    Child(
        "deal_changes",
        parent="deals",
        parent_key="deal_id",
        path="api/v1/deals/{id}/flow",
        pagination="offset",
        columns=_columns(
            deal_id="bigint",
            id="bigint",
            field_key="text",
            old_value="text",
            new_value="text",
            changed_at="timestamp",
            user_id="bigint",
            change_source="text",
            change_source_user_agent="text",
            is_bulk_update="bool",
            old_value_formatted="text",
            new_value_formatted="text",
        ),
        shape=shapes.deal_changes,
        # field changes only, custom fields' included
        params=MappingProxyType({"items": shapes.DEAL_CHANGE, "all_changes": "1"}),
    ),
    _followers("persons", "person_id"),
    _followers("organizations", "org_id"),
    # The v2 products list has no `include_fields`: every product read costs one request.
    _followers("products", "product_id", count_field=None),
    # `org_id` is required; the list is not paginated.
    Child(
        "organization_relationships",
        parent="organizations",
        parent_key="org_id",
        path="api/v1/organizationRelationships",
        pagination="single",
        columns=_columns(
            org_id="bigint",
            id="bigint",
            type="text",
            owner_org_id="bigint",
            linked_org_id="bigint",
            related_org_id="bigint",
            related_type="text",
            related_organization_name="text",
            add_time="timestamp",
            update_time="timestamp",
            active_flag="bool",
        ),
        shape=shapes.organization_relationship,
        ids_param="org_id",
    ),
)

CHILDREN_BY_NAME: Mapping[str, Child] = MappingProxyType({child.name: child for child in CHILDREN})

COUNT_FIELDS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        parent: tuple(child.count_field for child in CHILDREN if child.parent == parent and child.count_field)
        for parent in dict.fromkeys(child.parent for child in CHILDREN if child.count_field)
    }
)
"""The counts (`include_fields`) of each parent list that spare its child tables a request per parent
without children: `deals` -> `followers_count`, `participants_count`."""
