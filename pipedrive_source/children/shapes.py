"""How the API's child records become rows of the child tables.

Each shape takes the parent's id (None for a bulk endpoint, whose records carry it) and one answer's
records, and returns the table's rows. Nested v1 summaries (`{"name": ..., "value": 17}`) shrink to their id:
the persons, users and organizations they summarize have tables of their own, and the child tables keep
no copy of personal data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

Record = dict[str, Any]
Shape = Callable[[Any, list[Record]], list[Record]]

DEAL_CHANGE = "dealChange"
"""The flow item of a change of one deal field."""


def id_of(value: Any) -> Any:
    """The id a v1 summary object stands for (its `value`, else its `id`), or the value itself."""
    if isinstance(value, Mapping):
        return value.get("value", value.get("id"))
    return value


def as_text(value: Any) -> str | None:
    """A changed value as text: flow values are numbers, texts, dates or objects, depending on the field."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def as_listed(parent_id: Any, records: list[Record]) -> list[Record]:
    """Bulk answers (deal products, installments): the records carry their parent's id already."""
    return records


def with_parent(parent_key: str) -> Shape:
    """Records of a per-parent list (followers), with the parent's id added as `parent_key`."""

    def shape(parent_id: Any, records: list[Record]) -> list[Record]:
        return [{parent_key: parent_id, **record} for record in records]

    return shape


def deal_participant(deal_id: Any, records: list[Record]) -> list[Record]:
    """`/v1/deals/{id}/participants`: one row per participating person, without the person's details."""
    return [
        {
            "deal_id": deal_id,
            "id": record.get("id"),
            "person_id": id_of(record.get("person_id")),
            "add_time": record.get("add_time"),
            "active_flag": record.get("active_flag"),
            "added_by_user_id": id_of(record.get("added_by_user_id")),
        }
        for record in records
    ]


def deal_changes(deal_id: Any, records: list[Record]) -> list[Record]:
    """`/v1/deals/{id}/flow`: one row per field change (`dealChange` items), other items (notes, activities,
    files, mails) left out: they have tables of their own.

    Values are kept as text, whatever the field's type: `stage_id` changes hold stage ids, `value` changes
    amounts. `additional_data` holds display forms of the values for some fields (user and stage names).
    """
    rows = []
    for item in records:
        if item.get("object") != DEAL_CHANGE:
            continue
        change = item.get("data") or {}
        extra = change.get("additional_data")
        extra = extra if isinstance(extra, Mapping) else {}
        rows.append(
            {
                "deal_id": change.get("item_id", deal_id),
                "id": change.get("id"),
                "field_key": change.get("field_key"),
                "old_value": as_text(change.get("old_value")),
                "new_value": as_text(change.get("new_value")),
                "changed_at": change.get("log_time") or item.get("timestamp"),
                "user_id": id_of(change.get("user_id")),
                "change_source": change.get("change_source"),
                "change_source_user_agent": change.get("change_source_user_agent"),
                "is_bulk_update": change.get("is_bulk_update_flag"),
                "old_value_formatted": as_text(extra.get("old_value_formatted")),
                "new_value_formatted": as_text(extra.get("new_value_formatted")),
            }
        )
    return rows


def organization_relationship(org_id: Any, records: list[Record]) -> list[Record]:
    """`/v1/organizationRelationships?org_id=`: the relationships of one organization, as seen from it.

    A relationship links two organizations, so it is listed under each of them; `related_org_id` and
    `related_type` say what the other one is to this one (`calculated_*` in the API).
    """
    return [
        {
            "org_id": org_id,
            "id": record.get("id"),
            "type": record.get("type"),
            "owner_org_id": id_of(record.get("rel_owner_org_id")),
            "linked_org_id": id_of(record.get("rel_linked_org_id")),
            "related_org_id": id_of(record.get("calculated_related_org_id")),
            "related_type": record.get("calculated_type"),
            "related_organization_name": record.get("related_organization_name"),
            "add_time": record.get("add_time"),
            "update_time": record.get("update_time"),
            "active_flag": record.get("active_flag"),
        }
        for record in records
    ]
