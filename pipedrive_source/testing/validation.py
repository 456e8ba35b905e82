"""Body validation of API v2 writes: v2 is strict (no string-to-number coercion, unknown keys rejected)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipedrive_source.testing.custom_values import validate_custom_fields
from pipedrive_source.testing.errors import ApiError
from pipedrive_source.testing.fields import custom_fields_of

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

_ADDRESS = "obj?"
_CHECKS = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "num": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "list": lambda v: isinstance(v, list),
    "obj": lambda v: isinstance(v, dict),
}

# Writable body keys per entity and their types ("?" = nullable).
BODY_TYPES: dict[str, dict[str, str]] = {
    "deals": {
        "title": "str",
        "owner_id": "int",
        "person_id": "int?",
        "org_id": "int?",
        "pipeline_id": "int",
        "stage_id": "int",
        "value": "num",
        "currency": "str",
        "is_deleted": "bool",
        "is_archived": "bool",
        "archive_time": "str?",
        "status": "str",
        "probability": "num?",
        "lost_reason": "str?",
        "visible_to": "int",
        "close_time": "str?",
        "won_time": "str?",
        "lost_time": "str?",
        "expected_close_date": "str?",
        "label_ids": "list",
        "custom_fields": "obj",
    },
    "persons": {
        "name": "str",
        "owner_id": "int",
        "org_id": "int?",
        "emails": "list",
        "phones": "list",
        "visible_to": "int",
        "label_ids": "list",
        "postal_address": _ADDRESS,
        "notes": "str?",
        "im": "list",
        "birthday": "str?",
        "job_title": "str?",
        "marketing_status": "str",
        "custom_fields": "obj",
        "first_name": "str",
        "last_name": "str",
    },
    "organizations": {
        "name": "str",
        "owner_id": "int",
        "visible_to": "int",
        "label_ids": "list",
        "address": _ADDRESS,
        "website": "str?",
        "linkedin": "str?",
        "industry": "int?",
        "annual_revenue": "int?",
        "employee_count": "int?",
        "custom_fields": "obj",
    },
    "products": {
        "name": "str",
        "code": "str?",
        "description": "str?",
        "unit": "str?",
        "tax": "num",
        "category": "str?",
        "owner_id": "int",
        "is_linkable": "bool",
        "visible_to": "int",
        "prices": "list",
        "billing_frequency": "str",
        "billing_frequency_cycles": "int?",
        "custom_fields": "obj",
    },
    "activities": {
        "subject": "str",
        "type": "str",
        "owner_id": "int",
        "deal_id": "int?",
        "lead_id": "str?",
        "person_id": "int?",
        "org_id": "int?",
        "project_id": "int?",
        "due_date": "str?",
        "due_time": "str?",
        "duration": "str?",
        "busy": "bool",
        "done": "bool",
        "location": _ADDRESS,
        "participants": "list",
        "attendees": "list",
        "public_description": "str?",
        "priority": "int?",
        "note": "str?",
        "custom_fields": "obj",
    },
    "pipelines": {"name": "str", "is_deal_probability_enabled": "bool"},
    "stages": {
        "name": "str",
        "pipeline_id": "int",
        "deal_probability": "int",
        "is_deal_rot_enabled": "bool",
        "days_to_rotten": "int?",
    },
}

REQUIRED_ON_CREATE: dict[str, tuple[str, ...]] = {
    "deals": ("title",),
    "persons": ("name",),
    "organizations": ("name",),
    "products": ("name",),
    "pipelines": ("name",),
    "stages": ("name", "pipeline_id"),
}

# Ids in a body must point at existing records.
REFERENCES = {
    "owner_id": "users",
    "person_id": "persons",
    "org_id": "organizations",
    "stage_id": "stages",
    "pipeline_id": "pipelines",
    "deal_id": "deals",
}

ENUMS = {"status": ("open", "won", "lost"), "visible_to": (1, 3, 5, 7)}


def validate_body(acct: Account, entity: str, body: dict[str, Any], creating: bool) -> None:
    """Raise a 400 `ApiError` when a v2 write body is not acceptable."""
    types = BODY_TYPES[entity]
    if creating:
        missing = [key for key in REQUIRED_ON_CREATE.get(entity, ()) if not body.get(key)]
        if missing:
            raise ApiError(400, f"Validation failed: {missing[0]}: Required")
    for key, value in body.items():
        kind = types.get(key)
        if kind is None:
            raise ApiError(400, f"Validation failed: {key}: Unknown property")
        if value is None:
            if not kind.endswith("?"):
                raise ApiError(400, f"Validation failed: {key}: Must not be null")
            continue
        if not _CHECKS[kind.rstrip("?")](value):
            raise ApiError(400, f"Validation failed: {key}: Must be of type {kind.rstrip('?')}")
        allowed = ENUMS.get(key)
        if allowed is not None and value not in allowed:
            raise ApiError(400, f"Validation failed: {key}: Must be one of {', '.join(map(str, allowed))}")
        target = REFERENCES.get(key)
        if target is not None and not acct.table(target).exists(value):
            raise ApiError(400, f"Validation failed: {key}: No {target[:-1]} with id {value}")
    if "custom_fields" in body:
        problem = validate_custom_fields(custom_fields_of(acct.fields, entity), body["custom_fields"])
        if problem:
            raise ApiError(400, f"Validation failed: custom_fields: {problem}")
