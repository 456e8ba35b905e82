"""Field definitions as the v2 `*Fields` endpoints (`field_code`, `field_name`, ...) and the v1 ones (`key`,
`name`, `edit_flag`, ...) describe them."""

from __future__ import annotations

from typing import Any

from pipedrive_source.testing import clock
from pipedrive_source.testing.fields import FieldDef

_FIELD_TIME = clock.HISTORY_START - 90 * clock.DAY

V2_FIELD_ENTITIES = {
    "dealFields": "deals",
    "personFields": "persons",
    "organizationFields": "organizations",
    "productFields": "products",
    "activityFields": "activities",
}
"""The fields endpoints both API versions serve, by path, with the entity each describes (v1 has more)."""


def _options_v2(fdef: FieldDef) -> list[dict[str, Any]] | None:
    if fdef.options is None:
        return None
    return [{"id": o.id, "label": o.label, "color": o.color} for o in fdef.options]


def field_v2(fdef: FieldDef, entity: str, include: set[str]) -> dict[str, Any]:
    """One field in the v2 shape; `include` holds the requested `include_fields` namespaces."""
    view: dict[str, Any] = {
        "field_name": fdef.name,
        "field_code": fdef.key,
        "description": None,
        "field_type": fdef.field_type,
        "options": _options_v2(fdef),
        "subfields": [
            {"field_code": code, "field_name": name, "field_type": kind}
            for code, name, kind in fdef.subfields
        ]
        or None,
        "is_custom_field": fdef.is_custom,
        "is_optional_response_field": False,
    }
    if "ui_visibility" in include:
        visibility: dict[str, Any] = {"add_visible_flag": True, "details_visible_flag": True}
        if entity == "deals":
            visibility["projects_detail_visible_flag"] = False
            visibility["show_in_pipelines"] = {"show_in_all": True, "pipeline_ids": []}
        view["ui_visibility"] = visibility
    if "important_fields" in include and entity in ("deals", "persons", "organizations", "projects"):
        view["important_fields"] = {"enabled": False, "stage_ids": []}
    if "required_fields" in include and entity in ("deals", "persons", "organizations", "projects"):
        required: dict[str, Any] = {"enabled": fdef.mandatory}
        if entity == "deals":
            required.update({"stage_ids": [], "statuses": {}})
        view["required_fields"] = required
    return view


# v1 lists only these field types; built-in fields of other kinds are described with the closest one.
V1_FIELD_TYPES = frozenset(
    {
        "address",
        "date",
        "daterange",
        "double",
        "enum",
        "monetary",
        "org",
        "people",
        "phone",
        "set",
        "text",
        "time",
        "timerange",
        "user",
        "varchar",
        "varchar_auto",
        "visible_to",
    }
)
# productFields lists no visible_to type: the products' visibility field is described as an enum there.
_V1_TYPES_OF = {"products": V1_FIELD_TYPES - {"visible_to"}}
_VISIBILITY_OPTIONS = [
    {"id": level, "label": label}
    for level, label in (
        (1, "Owner & followers"),
        (3, "Entire company"),
        (5, "Owner's visibility group"),
        (7, "Owner's visibility group and sub-groups"),
    )
]
_V1_FALLBACK = {
    "int": "double",
    "deal": "double",
    "lead": "varchar",
    "price_list": "monetary",
    "json": "text",
}
_NOT_V1_KEYS = frozenset({"value", "timezone_id", "timezone_name"})
"""v2 value keys with no `<key>_<subfield>` in v1: the value is `<key>` itself, and v1 gives times no zone."""
_STATUS_OPTIONS = [{"id": s, "label": s.capitalize()} for s in ("open", "won", "lost", "deleted")]
_BOOLEAN_OPTIONS = [{"id": 1, "label": "Yes"}, {"id": 0, "label": "No"}]


def _v1_type_and_options(
    fdef: FieldDef, entity: str, choices: dict[str, list[dict[str, Any]]]
) -> tuple[str, list[dict[str, Any]] | None]:
    kind = fdef.v1_field_type
    allowed = _V1_TYPES_OF.get(entity, V1_FIELD_TYPES)
    if fdef.options:
        return ("enum" if kind not in allowed else kind), [
            {"id": o.id, "label": o.label} for o in fdef.options
        ]
    if kind in allowed:
        return kind, None
    if kind == "visible_to":
        return "enum", _VISIBILITY_OPTIONS
    if kind in ("stage", "pipeline"):
        return "enum", choices.get(kind, [])
    if kind == "status":
        return "enum", _STATUS_OPTIONS
    if kind == "boolean":
        return "enum", _BOOLEAN_OPTIONS
    if kind == "billing_frequency":
        labels = ("one-time", "annually", "semi-annually", "quarterly", "monthly", "weekly")
        return "enum", [{"id": label, "label": label} for label in labels]
    return _V1_FALLBACK.get(kind, "varchar"), None


def field_v1(
    fdef: FieldDef, entity: str, choices: dict[str, list[dict[str, Any]]] | None = None
) -> dict[str, Any]:
    """One field in the v1 shape (`key` is the 40-hex hash for custom fields).

    `choices` gives the options of stage and pipeline fields (`{"stage": [{id, label}], "pipeline": [...]}`).
    """
    field_type, options = _v1_type_and_options(fdef, entity, choices or {})
    if entity == "notes":
        return {
            "id": fdef.id,
            "key": fdef.v1_field_key,
            "name": fdef.name,
            "field_type": field_type,
            "active_flag": True,
            "edit_flag": fdef.is_custom,
            "bulk_edit_allowed": False,
            "mandatory_flag": fdef.mandatory,
            "options": options or [],
        }
    view: dict[str, Any] = {
        "id": fdef.id,
        "key": fdef.v1_field_key,
        "name": fdef.name,
        "order_nr": fdef.order_nr,
        "field_type": field_type,
        "add_time": clock.v1_time(_FIELD_TIME + fdef.id * 3600),
        "update_time": clock.v1_time(_FIELD_TIME + fdef.id * 7200),
        "last_updated_by_user_id": 1 if fdef.is_custom else None,
        "created_by_user_id": 1 if fdef.is_custom else None,
        "active_flag": True,
        "edit_flag": fdef.is_custom,
        "index_visible_flag": True,
        "details_visible_flag": True,
        "add_visible_flag": fdef.is_custom or fdef.mandatory,
        "important_flag": False,
        "bulk_edit_allowed": fdef.key != "id",
        "searchable_flag": fdef.field_type in ("varchar", "varchar_auto", "text", "phone", "address"),
        "filtering_allowed": True,
        "sortable_flag": True,
        "mandatory_flag": fdef.mandatory,
        "options": options,
    }
    v1_subfields = [
        {"key": f"{fdef.v1_field_key}_{code}", "name": name, "field_type": kind}
        for code, name, kind in fdef.subfields
        if code not in _NOT_V1_KEYS
    ]
    if v1_subfields:
        view["subfields"] = v1_subfields
    return view
