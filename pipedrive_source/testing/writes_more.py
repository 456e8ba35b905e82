"""Write rules of the entities `writes.py` leaves out: the v1 lists (files, call logs, filters, activity
types, lead labels, goals, roles, permission sets, organization relationships, mail threads) and the v2
projects and tasks.

What a deleted record looks like follows each `DELETE` operation of the specs:

- "Marks ... as deleted" on a record with an `active_flag` (activity types, filters, roles): the record stays
  in its list with `active_flag: false` (activities keep naming their type; the lists take no status filter).
- Files are "marked as deleted" too, but the files list once offered `include_deleted_files` to see them,
  and the current spec has no such parameter: a deleted file leaves the list (as the generated ones do).
- "Deletes ..." (call logs, lead labels, organization relationships, notes, leads), goals (no flag to show)
  and permission sets (no `DELETE` at all, deleted in the app): the record leaves its list and its GET.
- Mail threads: `deleted_flag: 1` and the thread leaves every folder.
- Projects: status `deleted`, listed only when `status=deleted` is asked for (as `GET /projects` documents).
- Tasks: gone from the list and its GET, with their subtasks ("If the task has subtasks, those will also be
  deleted").
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pipedrive_source.testing import clock
from pipedrive_source.testing.generate_company import RELATIONSHIP_TYPES, permission_set_id
from pipedrive_source.testing.generate_mail import MAIL_FOLDERS, MAILBOX_OWNER
from pipedrive_source.testing.generate_projects import PHASE_BOARD, STATUS_CODES
from pipedrive_source.testing.table import Record
from pipedrive_source.testing.writes import WriteRules, _empty_custom, _int

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account


def _no_attrs(acct: Account, record: Record) -> dict[str, int]:
    return {}


def _linked_attrs(acct: Account, record: Record) -> dict[str, int]:
    return {key: _int(record.get(key)) for key in ("user_id", "deal_id", "person_id", "org_id")}


def _derive_names(acct: Account, record: Record, data: dict[str, Any]) -> None:
    for key, entity, name_key in (
        ("deal_id", "deals", "deal_name"),
        ("person_id", "persons", "person_name"),
        ("org_id", "organizations", "org_name"),
    ):
        if key in data:
            record[name_key] = acct.name_of(entity, _int(record.get(key)))


# -- files and call logs -------------------------------------------------------------------------------------
def _blank_file(acct: Account, record_id: int) -> Record:
    domain = acct.company["company_domain"]
    return {
        "id": record_id,
        "user_id": 1,
        "deal_id": None,
        "person_id": None,
        "org_id": None,
        "product_id": None,
        "activity_id": None,
        "lead_id": None,
        "project_id": None,
        "add_time": None,
        "update_time": None,
        "file_name": f"{record_id}_file",
        "file_type": "pdf",
        "file_size": 0,
        "active_flag": True,
        "inline_flag": False,
        "remote_location": "s3",
        "remote_id": f"{record_id:08x}",
        "cid": "",
        "s3_bucket": "pipedrive-files-eu",
        "mail_message_id": "",
        "mail_template_id": "",
        "deal_name": "",
        "person_name": "",
        "org_name": "",
        "product_name": "",
        "lead_name": "",
        "project_name": "",
        "url": f"https://{domain}.pipedrive.com/api/v1/files/{record_id}/download",
        "name": "",
        "description": "",
    }


def _blank_call_log(acct: Account, record_id: int) -> Record:
    now = clock.v1_time(clock.now_second())
    return {
        "id": acct.call_log_id(record_id),
        "user_id": 1,
        "activity_id": None,
        "subject": "",
        "duration": "0",
        "outcome": "connected",
        "from_phone_number": None,
        "to_phone_number": "",
        "start_time": now,
        "end_time": now,
        "person_id": None,
        "org_id": None,
        "deal_id": None,
        "lead_id": None,
        "note": None,
        "has_recording": False,
        "company_id": acct.company["company_id"],
    }


# -- small lists ---------------------------------------------------------------------------------------------
def _blank_filter(acct: Account, record_id: int) -> Record:
    return {
        "id": record_id,
        "name": "",
        "filter_code": None,
        "is_editable": True,
        "active_flag": True,
        "type": "deals",
        "temporary_flag": None,
        "user_id": 1,
        "add_time": None,
        "update_time": None,
        "visible_to": "1",
        "last_used_time": None,
        "custom_view_id": None,
    }


def _blank_activity_type(acct: Account, record_id: int) -> Record:
    return {
        "id": record_id,
        "name": "",
        "icon_key": "task",
        "color": None,
        "order_nr": record_id,
        "key_string": f"custom_{record_id}",
        "active_flag": True,
        "is_custom_flag": True,
        "add_time": None,
        "update_time": None,
    }


def _blank_lead_label(acct: Account, record_id: int) -> Record:
    return {
        "id": acct.uuid("lead-label", record_id),
        "name": "",
        "color": "gray",
        "add_time": None,
        "update_time": None,
    }


def _blank_goal(acct: Account, record_id: int) -> Record:
    return {
        "id": acct.uuid("goal", record_id).replace("-", "")[:24],
        "owner_id": 1,
        "title": "",
        "type": {"name": "deals_won", "params": {"pipeline_id": [1]}},
        "assignee": {"id": 0, "type": "company"},
        "interval": "monthly",
        "duration": {"start": clock.iso_date(clock.now_second()), "end": None},
        "expected_outcome": {"target": 10, "tracking_metric": "quantity"},
        "is_active": True,
        "report_ids": [],
    }


def _blank_role(acct: Account, record_id: int) -> Record:
    return {
        "id": record_id,
        "parent_role_id": None,
        "name": "",
        "active_flag": True,
        "assignment_count": "0",
        "sub_role_count": "0",
        "level": 1,
    }


def _blank_permission_set(acct: Account, record_id: int) -> Record:
    return {
        "id": permission_set_id(acct, record_id),
        "name": "",
        "description": "",
        "app": "sales",
        "type": "custom",
        "assignment_count": 0,
    }


# -- organization relationships and mail threads -------------------------------------------------------------
def _blank_relationship(acct: Account, record_id: int) -> Record:
    return {"id": record_id, "type": "parent", "rel_owner_org_id": None, "rel_linked_org_id": None}


def _org_of(value: Any) -> int:
    return _int(value.get("value") if isinstance(value, dict) else value)


def _relationship_attrs(acct: Account, record: Record) -> dict[str, int]:
    kind = record.get("type")
    return {
        "owner_org_id": _org_of(record.get("rel_owner_org_id")),
        "linked_org_id": _org_of(record.get("rel_linked_org_id")),
        "type": RELATIONSHIP_TYPES.index(kind) if kind in RELATIONSHIP_TYPES else 0,
    }


def _blank_mail_thread(acct: Account, record_id: int) -> Record:
    record = dict(acct.table("mailThreads").builder(1)) if acct.table("mailThreads").base_count else {}
    record.update(
        id=record_id,
        parties={"to": [], "from": []},
        folders=["inbox"],
        user_id=MAILBOX_OWNER,
        subject="",
        snippet="",
        deal_id=None,
        deal_status=None,
        deleted_flag=0,
    )
    return record


def _mail_thread_attrs(acct: Account, record: Record) -> dict[str, int]:
    folders = record.get("folders") or ["inbox"]
    return {
        "folder": MAIL_FOLDERS.index(folders[0]) if folders[0] in MAIL_FOLDERS else 0,
        "deal_id": _int(record.get("deal_id")),
        "person_id": 0,
        "org_id": 0,
    }


# -- projects and tasks --------------------------------------------------------------------------------------
def _blank_project(acct: Account, record_id: int) -> Record:
    return {
        "id": record_id,
        "title": "",
        "description": "",
        "status": "open",
        "board_id": 1,
        "phase_id": 1,
        "owner_id": 1,
        "start_date": clock.iso_date(clock.now_second()),
        "end_date": None,
        "deal_ids": [],
        "person_ids": [],
        "org_ids": [],
        "label_ids": [],
        "health_status": None,
        "add_time": None,
        "update_time": None,
        "status_change_time": None,
        "archive_time": None,
        "custom_fields": _empty_custom(acct, "projects"),
    }


def _derive_project(acct: Account, record: Record, data: dict[str, Any]) -> None:
    now = clock.rfc3339_millis(clock.now_second())
    if "phase_id" in data and 1 <= _int(record["phase_id"]) <= len(PHASE_BOARD):
        record["board_id"] = PHASE_BOARD[record["phase_id"] - 1]
    if "status" in data or record["status_change_time"] is None:
        record["status_change_time"] = now
    if "archive_time" not in data and "is_archived" in data:
        record["archive_time"] = now if record.pop("is_archived") else None


def _first(values: Any) -> int:
    return _int(values[0]) if isinstance(values, list) and values else 0


def _project_attrs(acct: Account, record: Record) -> dict[str, int]:
    return {
        "owner_id": _int(record.get("owner_id")),
        "deal_id": _first(record.get("deal_ids")),
        "person_id": _first(record.get("person_ids")),
        "org_id": _first(record.get("org_ids")),
        "phase_id": _int(record.get("phase_id")),
        "status": STATUS_CODES.get(record.get("status") or "open", 1),
        "archived": 1 if record.get("archive_time") else 0,
    }


def _blank_task(acct: Account, record_id: int) -> Record:
    return {
        "id": record_id,
        "title": "",
        "creator_id": 1,
        "description": None,
        "project_id": 1,
        "is_done": False,
        "is_milestone": False,
        "due_date": None,
        "start_date": None,
        "parent_task_id": None,
        "assignee_ids": [],
        "priority": None,
        "add_time": None,
        "update_time": None,
        "marked_as_done_time": None,
    }


def _derive_task(acct: Account, record: Record, data: dict[str, Any]) -> None:
    if "is_done" in data:
        record["marked_as_done_time"] = (
            clock.rfc3339_millis(clock.now_second()) if record["is_done"] else None
        )


def _task_attrs(acct: Account, record: Record) -> dict[str, int]:
    assignees = [_int(user) for user in record.get("assignee_ids") or []] + [0, 0]
    return {
        "project_id": _int(record.get("project_id")),
        "parent_task_id": _int(record.get("parent_task_id")),
        "done": 1 if record.get("is_done") else 0,
        "milestone": 1 if record.get("is_milestone") else 0,
        "assignee_1": assignees[0],
        "assignee_2": assignees[1],
        "creator_id": _int(record.get("creator_id")),
    }


def _delete_subtasks(acct: Account, task_id: int) -> None:
    from pipedrive_source.testing.related import ids_linked_to

    tasks = acct.table("tasks")
    for subtask in ids_linked_to(tasks.attrs["parent_task_id"], task_id):
        if not tasks.is_deleted(subtask):
            acct.delete("tasks", subtask)


V1_TIME = clock.v1_time
MILLIS = clock.rfc3339_millis

RULES: dict[str, WriteRules] = {
    "files": WriteRules(_blank_file, _linked_attrs, V1_TIME, "active_flag", False, _derive_names),
    "callLogs": WriteRules(_blank_call_log, _linked_attrs, None, None),
    "filters": WriteRules(_blank_filter, _no_attrs, V1_TIME, "active_flag", False),
    "activityTypes": WriteRules(_blank_activity_type, _no_attrs, V1_TIME, "active_flag", False),
    "roles": WriteRules(_blank_role, _no_attrs, None, "active_flag", False),
    "leadLabels": WriteRules(_blank_lead_label, _no_attrs, MILLIS, None),
    "goals": WriteRules(_blank_goal, _no_attrs, None, None),
    "permissionSets": WriteRules(_blank_permission_set, _no_attrs, None, None),
    "organizationRelationships": WriteRules(_blank_relationship, _relationship_attrs, V1_TIME, None),
    "mailThreads": WriteRules(_blank_mail_thread, _mail_thread_attrs, MILLIS, "deleted_flag", 1),
    "projects": WriteRules(
        _blank_project, _project_attrs, MILLIS, None, derive=_derive_project, deleted_status="deleted"
    ),
    "tasks": WriteRules(
        _blank_task, _task_attrs, MILLIS, None, derive=_derive_task, cascade=_delete_subtasks
    ),
}
