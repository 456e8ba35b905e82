"""A deal's updates flow (`GET /v1/deals/{id}/flow`): field changes (`dealChange`), notes and activities,
newest first.

A generated deal's changes tell its generated history: its creation, its way through the stages of its
pipeline up to its current stage (entered at its `stage_change_time`), and its closing (won or lost at its
`close_time`, deleted at its `update_time`). Once a deal is changed, those changes are kept in
`Account.related` and every change made through `Account.update`/`delete` (or the API) appends one
`dealChange` per changed field, at the change's second: `field_key` is the v1 field key (`user_id` for the
owner), `old_value`/`new_value` the values before and after, `log_time` and the item's `timestamp` the time
in v1 format. So "when did this deal enter each stage" is answered by its `stage_id` changes.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from pipedrive_source.testing import clock
from pipedrive_source.testing.related import ids_linked_to, stored
from pipedrive_source.testing.table import Record
from pipedrive_source.testing.v1_shapes import activity_v1, v1_from_v2_time

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

TRACKED_FIELDS = {
    "title": "title",
    "value": "value",
    "currency": "currency",
    "stage_id": "stage_id",
    "pipeline_id": "pipeline_id",
    "status": "status",
    "owner_id": "user_id",
    "person_id": "person_id",
    "org_id": "org_id",
    "expected_close_date": "expected_close_date",
    "lost_reason": "lost_reason",
    "probability": "probability",
}
"""Deal fields whose changes the flow logs: v2 key -> v1 `field_key`."""
FLOW_ITEMS = ("dealChange", "note", "activity")
"""The `items` of the flow the simulator serves (Pipedrive has more kinds: calls, files, mails, ...)."""
GENERATED_CHANGES_PER_DEAL = 10
"""Generated change ids are `deal_id * 10 + n`; changes made later count up from `LOGGED_CHANGE_IDS`."""
LOGGED_CHANGE_IDS = 4_000_000_000


def _change(deal: Record, n: int, field_key: str, old: Any, new: Any, at: str | None) -> Record:
    return {
        "id": deal["id"] * GENERATED_CHANGES_PER_DEAL + n,
        "item_id": deal["id"],
        "user_id": deal["creator_user_id"],
        "field_key": field_key,
        "old_value": old,
        "new_value": new,
        "is_bulk_update_flag": None,
        "log_time": v1_from_v2_time(at),
        "change_source": "app",
        "change_source_user_agent": None,
        "additional_data": {},
    }


def _stage_path(acct: Account, stage_id: int) -> list[int]:
    """The stages of a stage's pipeline up to and including it, in pipeline order."""
    stages = acct.table("stages")
    current = stages.get(stage_id)
    if current is None:
        return [stage_id]
    rows = [s for i in range(1, stages.max_id + 1) if (s := stages.get(i)) is not None]
    path = [
        s for s in rows if s["pipeline_id"] == current["pipeline_id"] and s["order_nr"] <= current["order_nr"]
    ]
    return [s["id"] for s in sorted(path, key=lambda s: (s["order_nr"], s["id"]))] or [stage_id]


def generated_changes(acct: Account, deal: Record) -> list[Record]:
    """The changes of a deal as generated, oldest first."""
    entered_text = deal["stage_change_time"] or deal["add_time"]
    added, entered = clock.parse_time(deal["add_time"]), clock.parse_time(entered_text)
    changes = [_change(deal, 0, "add_time", None, deal["add_time"], deal["add_time"])]
    path = _stage_path(acct, deal["stage_id"])
    if len(path) == 1:
        changes.append(_change(deal, 1, "stage_id", None, path[0], entered_text))
    else:
        changes.append(_change(deal, 1, "stage_id", None, path[0], deal["add_time"]))
        steps = len(path) - 1
        for step in range(1, steps + 1):
            at = added + (entered - added) * step // steps
            changes.append(_change(deal, 1 + step, "stage_id", path[step - 1], path[step], clock.rfc3339(at)))
    if deal["status"] in ("won", "lost"):
        changes.append(_change(deal, len(changes), "status", "open", deal["status"], deal["close_time"]))
    elif deal["status"] == "deleted":
        changes.append(_change(deal, len(changes), "status", "open", "deleted", deal["update_time"]))
    return changes


def changes(acct: Account, deal: Record) -> list[Record]:
    kept = stored(acct, "flow", deal["id"])
    return kept if kept is not None else generated_changes(acct, deal)


def creation_changes(acct: Account, deal: Record) -> list[Record]:
    """What a deal created now logs: its creation, its first stage and a status other than open."""
    logged = [
        _change(deal, 0, "add_time", None, deal["add_time"], deal["add_time"]),
        _change(deal, 1, "stage_id", None, deal["stage_id"], deal["add_time"]),
    ]
    if deal["status"] != "open":
        logged.append(_change(deal, 2, "status", "open", deal["status"], deal["add_time"]))
    for change in logged:
        change["id"] = next(acct.change_ids)
    return logged


def log_changes(acct: Account, before: Record, after: Record, user_id: int = 1) -> None:
    """Append a `dealChange` per tracked field that differs between two versions of a deal (call with the
    flow already kept, see `children.keep_children`)."""
    at = clock.v1_time(clock.now_second())
    logged = acct.related.setdefault(("flow", after["id"]), [])
    for key, field_key in TRACKED_FIELDS.items():
        if before.get(key) != after.get(key):
            change = _change(after, 0, field_key, before.get(key), after.get(key), None)
            change.update(id=next(acct.change_ids), user_id=user_id, log_time=at)
            logged.append(change)


def flow(acct: Account, deal_id: int, items: Iterable[str] = FLOW_ITEMS) -> list[Record]:
    """A deal's updates flow, newest first, limited to the kinds in `items`."""
    deal = acct.table("deals").get(deal_id)
    if deal is None:
        return []
    wanted = set(items)
    entries: list[tuple[str, str, Record]] = []
    if "dealChange" in wanted:
        entries.extend((c["log_time"] or "", "dealChange", c) for c in changes(acct, deal))
    if "note" in wanted:
        notes = acct.table("notes")
        for note_id in ids_linked_to(notes.attrs["deal_id"], deal_id):
            note = notes.get(note_id)
            if note and not notes.is_deleted(note_id):
                entries.append((note["add_time"], "note", note))
    if "activity" in wanted:
        activities = acct.table("activities")
        for activity_id in ids_linked_to(activities.attrs["deal_id"], deal_id):
            activity = activities.get(activity_id)
            if activity and not activities.is_deleted(activity_id):
                added = v1_from_v2_time(activity["add_time"]) or ""
                entries.append((added, "activity", activity_v1(acct, activity)))
    # Newest first; of changes in the same second, the one made last first.
    ordered = sorted(enumerate(entries), key=lambda e: (e[1][0], e[0]), reverse=True)
    return [{"object": kind, "timestamp": at, "data": data} for _, (at, kind, data) in ordered]
