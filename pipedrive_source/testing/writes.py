"""How a create, update or delete changes a record of each entity: defaults of a new record, derived fields
(a deal's pipeline follows its stage, won/lost times follow its status), the integer attributes the table
filters on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pipedrive_source.testing import clock
from pipedrive_source.testing.custom_values import complete_custom_fields
from pipedrive_source.testing.fields import custom_fields_of
from pipedrive_source.testing.generate import ACTIVITY_TYPES, STATUS_CODES
from pipedrive_source.testing.generate_v1 import PIN_DEAL, PIN_LEAD, PIN_ORG, PIN_PERSON
from pipedrive_source.testing.table import Record

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

_READ_ONLY = frozenset({"id", "add_time", "update_time"})


@dataclass(frozen=True)
class WriteRules:
    blank: Callable[[Account, int], Record]
    attrs: Callable[[Account, Record], dict[str, int]]
    time_format: Callable[[int], str | None] | None = clock.rfc3339
    """How `add_time`/`update_time` are written; None for records without them (call logs, roles, ...)."""
    deleted_key: str | None = "is_deleted"
    """The flag a deleted record shows (None: a deleted record just leaves the lists)."""
    deleted_value: Any = True
    derive: Callable[[Account, Record, dict[str, Any]], None] | None = None
    deleted_status: str | None = None
    """The status a deleted record reports (deals: "deleted")."""
    cascade: Callable[[Account, int], None] | None = None
    """What deleting a record deletes too (a task's subtasks)."""

    def stamp(self, record: Record, now: int, created: bool) -> None:
        if self.time_format is None:
            return
        record["update_time"] = self.time_format(now)
        if created:
            record["add_time"] = record["update_time"]

    def apply(self, acct: Account, entity: str, record: Record, data: dict[str, Any]) -> None:
        for key, value in data.items():
            if key in _READ_ONLY:
                continue
            if key == "custom_fields" and isinstance(value, dict):
                written = complete_custom_fields(custom_fields_of(acct.fields, entity), value)
                record["custom_fields"] = {**(record.get("custom_fields") or {}), **written}
            else:
                record[key] = value
        if self.derive is not None:
            self.derive(acct, record, data)

    def mark_deleted(self, record: Record) -> None:
        if self.deleted_key is not None:
            record[self.deleted_key] = self.deleted_value
        if self.deleted_status is not None:
            record["status"] = self.deleted_status


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _empty_custom(acct: Account, entity: str) -> dict[str, Any]:
    return {f.key: None for f in custom_fields_of(acct.fields, entity)}


# -- deals ---------------------------------------------------------------------------------------------------
def _blank_deal(acct: Account, record_id: int) -> Record:
    return {
        "id": record_id,
        "title": "",
        "creator_user_id": 1,
        "owner_id": 1,
        "value": 0,
        "person_id": None,
        "org_id": None,
        "stage_id": 1,
        "pipeline_id": 1,
        "currency": "EUR",
        "archive_time": None,
        "add_time": None,
        "update_time": None,
        "stage_change_time": None,
        "status": "open",
        "is_archived": False,
        "is_deleted": False,
        "probability": None,
        "lost_reason": None,
        "visible_to": 3,
        "close_time": None,
        "won_time": None,
        "lost_time": None,
        "local_won_date": None,
        "local_lost_date": None,
        "local_close_date": None,
        "expected_close_date": None,
        "label_ids": [],
        "origin": "API",
        "origin_id": None,
        "channel": None,
        "channel_id": None,
        "source_lead_id": None,
        "acv": None,
        "arr": None,
        "mrr": None,
        "custom_fields": _empty_custom(acct, "deals"),
    }


def _derive_deal(acct: Account, record: Record, data: dict[str, Any]) -> None:
    now = clock.rfc3339(clock.now_second())
    if "stage_id" in data:
        stage = acct.table("stages").get(_int(record["stage_id"]))
        if stage is not None:
            record["pipeline_id"] = stage["pipeline_id"]
        record["stage_change_time"] = now
    if "status" in data:
        status = record["status"]
        record["won_time"] = now if status == "won" else None
        record["lost_time"] = now if status == "lost" else None
        record["close_time"] = now if status in ("won", "lost") else None
        record["local_won_date"] = now[:10] if status == "won" else None  # type: ignore[index]
        record["local_lost_date"] = now[:10] if status == "lost" else None  # type: ignore[index]
        record["local_close_date"] = now[:10] if status in ("won", "lost") else None  # type: ignore[index]
    if "is_archived" in data:
        record["archive_time"] = now if record["is_archived"] else None


def _deal_attrs(acct: Account, record: Record) -> dict[str, int]:
    return {
        "owner_id": _int(record.get("owner_id")),
        "person_id": _int(record.get("person_id")),
        "org_id": _int(record.get("org_id")),
        "stage_id": _int(record.get("stage_id")),
        "pipeline_id": _int(record.get("pipeline_id")),
        "status": STATUS_CODES.get(record.get("status") or "open", 1),
        "archived": 1 if record.get("is_archived") else 0,
    }


# -- persons, organizations, products, activities ------------------------------------------------------------
def _blank_person(acct: Account, record_id: int) -> Record:
    return {
        "id": record_id,
        "name": "",
        "first_name": None,
        "last_name": None,
        "owner_id": 1,
        "org_id": None,
        "add_time": None,
        "update_time": None,
        "emails": [],
        "phones": [],
        "is_deleted": False,
        "visible_to": 3,
        "label_ids": [],
        "picture_id": None,
        "custom_fields": _empty_custom(acct, "persons"),
        "notes": None,
        "im": [],
        "birthday": None,
        "job_title": None,
        "postal_address": None,
    }


def _derive_person(acct: Account, record: Record, data: dict[str, Any]) -> None:
    if "name" in data and "first_name" not in data and isinstance(record["name"], str):
        first, _, last = record["name"].partition(" ")
        record["first_name"], record["last_name"] = first, last or None


def _blank_organization(acct: Account, record_id: int) -> Record:
    return {
        "id": record_id,
        "name": "",
        "owner_id": 1,
        "add_time": None,
        "update_time": None,
        "is_deleted": False,
        "visible_to": 3,
        "address": None,
        "label_ids": [],
        "website": None,
        "linkedin": None,
        "industry": None,
        "annual_revenue": None,
        "employee_count": None,
        "custom_fields": _empty_custom(acct, "organizations"),
    }


def _blank_product(acct: Account, record_id: int) -> Record:
    return {
        "id": record_id,
        "name": "",
        "code": None,
        "description": None,
        "unit": None,
        "tax": 0,
        "category": None,
        "is_linkable": True,
        "is_deleted": False,
        "visible_to": 3,
        "owner_id": 1,
        "add_time": None,
        "update_time": None,
        "billing_frequency": "one-time",
        "billing_frequency_cycles": None,
        "prices": [],
        "custom_fields": _empty_custom(acct, "products"),
    }


def _blank_activity(acct: Account, record_id: int) -> Record:
    return {
        "id": record_id,
        "subject": "",
        "type": "task",
        "owner_id": 1,
        "creator_user_id": 1,
        "is_deleted": False,
        "add_time": None,
        "update_time": None,
        "deal_id": None,
        "lead_id": None,
        "person_id": None,
        "org_id": None,
        "project_id": None,
        "due_date": clock.iso_date(clock.now_second()),
        "due_time": None,
        "duration": None,
        "busy": False,
        "done": False,
        "marked_as_done_time": None,
        "location": None,
        "participants": [],
        "conference_meeting_client": None,
        "conference_meeting_url": None,
        "conference_meeting_id": None,
        "public_description": None,
        "priority": None,
        "note": None,
        "custom_fields": _empty_custom(acct, "activities"),
    }


def _derive_activity(acct: Account, record: Record, data: dict[str, Any]) -> None:
    if "done" in data:
        record["marked_as_done_time"] = clock.rfc3339(clock.now_second()) if record["done"] else None
    if "person_id" in data and "participants" not in data:
        person = record["person_id"]
        record["participants"] = [{"person_id": person, "primary": True}] if person else []


def _activity_attrs(acct: Account, record: Record) -> dict[str, int]:
    due = record.get("due_date")
    return {
        "owner_id": _int(record.get("owner_id")),
        "deal_id": _int(record.get("deal_id")),
        "person_id": _int(record.get("person_id")),
        "org_id": _int(record.get("org_id")),
        "done": 1 if record.get("done") else 0,
        "type": ACTIVITY_TYPES.index(record["type"]) if record.get("type") in ACTIVITY_TYPES else 0,
        "due_day": clock.parse_date(due) // clock.DAY if isinstance(due, str) else 0,
    }


# -- v1 entities ---------------------------------------------------------------------------------------------
def _blank_note(acct: Account, record_id: int) -> Record:
    return {
        "id": record_id,
        "active_flag": True,
        "add_time": None,
        "content": "",
        "deal": None,
        "lead_id": None,
        "deal_id": None,
        "last_update_user_id": 1,
        "org_id": None,
        "organization": None,
        "person": None,
        "person_id": None,
        "project_id": None,
        "project": None,
        "pinned_to_lead_flag": False,
        "pinned_to_deal_flag": False,
        "pinned_to_organization_flag": False,
        "pinned_to_person_flag": False,
        "pinned_to_project_flag": False,
        "update_time": None,
        "user": acct.note_user(1),
        "user_id": 1,
    }


def _derive_note(acct: Account, record: Record, data: dict[str, Any]) -> None:
    for key, entity, summary_key, name_key in (
        ("deal_id", "deals", "deal", "title"),
        ("person_id", "persons", "person", "name"),
        ("org_id", "organizations", "organization", "name"),
    ):
        if key in data:
            related = _int(record.get(key))
            record[summary_key] = {name_key: acct.name_of(entity, related)} if related else None
    if "user_id" in data:
        record["user"] = acct.note_user(_int(record["user_id"]))


def _note_attrs(acct: Account, record: Record) -> dict[str, int]:
    lead = record.get("lead_id")
    pinned = (
        (PIN_DEAL if record.get("pinned_to_deal_flag") else 0)
        | (PIN_PERSON if record.get("pinned_to_person_flag") else 0)
        | (PIN_ORG if record.get("pinned_to_organization_flag") else 0)
        | (PIN_LEAD if record.get("pinned_to_lead_flag") else 0)
    )
    return {
        "user_id": _int(record.get("user_id")),
        "deal_id": _int(record.get("deal_id")),
        "person_id": _int(record.get("person_id")),
        "org_id": _int(record.get("org_id")),
        "lead_id": (acct.lead_number(lead) or 0) if isinstance(lead, str) else 0,
        "pinned": pinned,
    }


def _blank_lead(acct: Account, record_id: int) -> Record:
    record: Record = {
        "id": acct.lead_id(record_id),
        "title": "",
        "owner_id": 1,
        "creator_id": 1,
        "label_ids": [],
        "person_id": None,
        "organization_id": None,
        "source_name": "API",
        "origin": "API",
        "origin_id": None,
        "channel": None,
        "channel_id": None,
        "source_deal_id": None,
        "is_archived": False,
        "was_seen": False,
        "value": None,
        "expected_close_date": None,
        "next_activity_id": None,
        "add_time": None,
        "update_time": None,
        "visible_to": "3",
        "cc_email": f"{acct.company['company_domain']}+lead{record_id}@pipedrivemail.com",
    }
    record.update(acct.v1_custom("leads", _empty_custom(acct, "deals")))
    return record


def _owner(acct: Account, record: Record) -> dict[str, int]:
    return {"owner_id": _int(record.get("owner_id"))}


def _person_attrs(acct: Account, record: Record) -> dict[str, int]:
    return {"owner_id": _int(record.get("owner_id")), "org_id": _int(record.get("org_id"))}


def _lead_attrs(acct: Account, record: Record) -> dict[str, int]:
    return {
        "owner_id": _int(record.get("owner_id")),
        "person_id": _int(record.get("person_id")),
        "org_id": _int(record.get("organization_id")),
        "archived": 1 if record.get("is_archived") else 0,
    }


def _stage_attrs(acct: Account, record: Record) -> dict[str, int]:
    return {"pipeline_id": _int(record.get("pipeline_id")), "order_nr": _int(record.get("order_nr"))}


def _blank_pipeline(acct: Account, record_id: int) -> Record:
    return {
        "id": record_id,
        "name": "",
        "order_nr": record_id,
        "is_deleted": False,
        "is_deal_probability_enabled": False,
        "add_time": None,
        "update_time": None,
    }


def _blank_stage(acct: Account, record_id: int) -> Record:
    return {
        "id": record_id,
        "order_nr": 1,
        "name": "",
        "is_deleted": False,
        "deal_probability": 100,
        "pipeline_id": 1,
        "is_deal_rot_enabled": False,
        "days_to_rotten": None,
        "add_time": None,
        "update_time": None,
    }


RULES: dict[str, WriteRules] = {
    "deals": WriteRules(_blank_deal, _deal_attrs, derive=_derive_deal, deleted_status="deleted"),
    "persons": WriteRules(_blank_person, _person_attrs, derive=_derive_person),
    "organizations": WriteRules(_blank_organization, _owner),
    "products": WriteRules(_blank_product, _owner),
    "activities": WriteRules(_blank_activity, _activity_attrs, derive=_derive_activity),
    "pipelines": WriteRules(_blank_pipeline, lambda acct, record: {}),
    "stages": WriteRules(_blank_stage, _stage_attrs),
    "notes": WriteRules(_blank_note, _note_attrs, clock.v1_time, "active_flag", False, _derive_note),
    "leads": WriteRules(_blank_lead, _lead_attrs, clock.rfc3339_millis),
}
