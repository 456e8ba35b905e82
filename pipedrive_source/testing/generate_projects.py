"""Generated projects and tasks (API v2 shapes, `GET /api/v2/projects`, `GET /api/v2/tasks`).

About one project per 25 deals, each started from a deal (its person and organization come along), on one of
two boards with their phases. About four tasks per project: a task belongs to a project that existed when it
was added, some are subtasks of an earlier task of the same project. Deleting a task deletes its subtasks
(as `DELETE /tasks/{id}` documents); deleting a project (status `deleted`) leaves its tasks alone (its
`DELETE` says nothing about them).
"""

from __future__ import annotations

import bisect
from array import array
from typing import TYPE_CHECKING

from pipedrive_source.testing import clock, vocabulary
from pipedrive_source.testing.clock import DAY, rfc3339_millis
from pipedrive_source.testing.dice import Dice, salt
from pipedrive_source.testing.dice import rng as random_source
from pipedrive_source.testing.generate import _fill
from pipedrive_source.testing.table import EntityTable, Record
from pipedrive_source.testing.timeline import Timeline

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

BOARDS = (
    ("Customer onboarding", ("Kick-off", "Setup", "Training", "Live")),
    ("Implementation", ("Scoping", "Delivery", "Handover")),
)
PHASE_BOARD = tuple(board for board, (_, phases) in enumerate(BOARDS, start=1) for _ in phases)
"""The board of each phase id (phase ids count through the boards' phases, from 1)."""
PROJECT_STATUSES = ("open", "completed", "canceled")
STATUS_CODES = {name: code for code, name in enumerate(PROJECT_STATUSES, start=1)}
DEALS_PER_PROJECT = 25
TASKS_PER_PROJECT = 4
RECENT_PROJECTS = 8
"""A task goes to one of the last few projects added before it: work happens on recent projects."""

_TASK_TITLES = (
    "Kick-off call",
    "Collect requirements",
    "Configure pipelines",
    "Import contacts",
    "Set up integrations",
    "Train the sales team",
    "Review data quality",
    "Go-live check",
    "Send welcome pack",
    "Sign-off meeting",
)


def generate_projects(acct: Account) -> EntityTable:
    table = EntityTable(
        "projects",
        ("owner_id", "deal_id", "person_id", "org_id", "phase_id", "status", "archived"),
        lambda i: build_project(acct, i),
    )
    count = acct.sizes.projects
    _fill(table, Timeline(acct.seed, "projects", count, 0.01))
    rng = random_source(acct.seed, "projects", "links")
    deal_count, users = acct.sizes.deals, acct.sizes.users
    deals = acct.table("deals") if deal_count else None
    rolls = [rng.getrandbits(64) for _ in range(count)]
    columns: dict[str, array[int]] = {name: array("q") for name in table.attrs}
    for roll, deleted in zip(rolls, table.deleted, strict=True):
        deal = 1 + roll % deal_count if deals is not None else 0
        if deal and deals is not None and deals.deleted[deal - 1]:
            deal = 0
        status = (roll >> 40) % 10
        columns["owner_id"].append(1 + (roll >> 20) % users)
        columns["deal_id"].append(deal)
        columns["person_id"].append(deals.attrs["person_id"][deal - 1] if deal and deals is not None else 0)
        columns["org_id"].append(deals.attrs["org_id"][deal - 1] if deal and deals is not None else 0)
        columns["phase_id"].append(1 + (roll >> 32) % len(PHASE_BOARD))
        columns["status"].append(1 if status < 7 else 2 if status < 9 else 3)
        columns["archived"].append(1 if not deleted and (roll >> 48) % 20 == 0 else 0)
    table.attrs.update(columns)
    table.finish_generation()
    return table


def build_project(acct: Account, project_id: int) -> Record:
    table = acct.table("projects")
    index = project_id - 1
    dice = Dice.keyed(salt(acct.seed, "projects"), project_id)
    attrs = {name: column[index] for name, column in table.attrs.items()}
    added, updated = table.add_ts[index], table.update_ts[index]
    deal, person, org = attrs["deal_id"], attrs["person_id"], attrs["org_id"]
    company = acct.name_of("organizations", org) if org else acct.name_of("persons", person) if person else ""
    board_name = BOARDS[PHASE_BOARD[attrs["phase_id"] - 1] - 1][0]
    deleted = bool(table.deleted[index])
    status = "deleted" if deleted else PROJECT_STATUSES[attrs["status"] - 1]
    status_changed = added if status == "open" else added + (updated - added) // 2
    return {
        "id": project_id,
        "title": f"{board_name}: {company}" if company else f"{board_name} #{project_id}",
        "description": dice.pick(vocabulary.NOTE_SENTENCES) if dice.chance(0.6) else "",
        "status": status,
        "board_id": PHASE_BOARD[attrs["phase_id"] - 1],
        "phase_id": attrs["phase_id"],
        "owner_id": attrs["owner_id"],
        "start_date": clock.iso_date(added),
        "end_date": clock.iso_date(added + dice.between(30, 120) * DAY) if dice.chance(0.7) else None,
        "deal_ids": [deal] if deal else [],
        "person_ids": [person] if person else [],
        "org_ids": [org] if org else [],
        "label_ids": [dice.between(1, 3)] if dice.chance(0.3) else [],
        "health_status": None,
        "add_time": rfc3339_millis(added),
        "update_time": rfc3339_millis(updated),
        "status_change_time": rfc3339_millis(status_changed),
        "archive_time": rfc3339_millis(updated) if attrs["archived"] else None,
        "custom_fields": acct.custom_values("projects", project_id),
    }


# -- tasks ---------------------------------------------------------------------------------------------------
TASK_ATTRS = ("project_id", "parent_task_id", "done", "milestone", "assignee_1", "assignee_2", "creator_id")


def generate_tasks(acct: Account) -> EntityTable:
    table = EntityTable("tasks", TASK_ATTRS, lambda i: build_task(acct, i))
    projects = acct.table("projects") if acct.sizes.projects else None
    count = acct.sizes.tasks if projects is not None else 0
    timeline = Timeline(acct.seed, "tasks", count, 0.01)
    rng = random_source(acct.seed, "tasks", "links")
    users = acct.sizes.users
    columns: dict[str, array[int]] = {name: array("q") for name in TASK_ATTRS}
    root_of_project: dict[int, int] = {}
    for index in range(count):
        assert projects is not None
        added = timeline.add_ts[index]
        existing = max(1, bisect.bisect_right(projects.add_ts, added))
        project = existing - rng.randrange(min(existing, RECENT_PROJECTS))
        if projects.add_ts[project - 1] > added:
            timeline.add_ts[index] = projects.add_ts[project - 1]
            timeline.update_ts[index] = max(timeline.update_ts[index], timeline.add_ts[index])
        roll = rng.getrandbits(64)
        parent = root_of_project.get(project, 0) if roll % 5 == 0 else 0
        if not parent:
            root_of_project[project] = index + 1
        # Deleting a task deletes its subtasks.
        if parent and timeline.deleted[parent - 1]:
            timeline.deleted[index] = 1
        done = 1 if (roll >> 8) % 10 < 4 or projects.attrs["status"][project - 1] == 2 else 0
        columns["project_id"].append(project)
        columns["parent_task_id"].append(parent)
        columns["done"].append(done)
        columns["milestone"].append(1 if (roll >> 16) % 10 == 0 and not parent else 0)
        columns["assignee_1"].append(1 + (roll >> 24) % users)
        second = 1 + (roll >> 32) % users
        columns["assignee_2"].append(
            second if (roll >> 40) % 3 == 0 and second != columns["assignee_1"][-1] else 0
        )
        columns["creator_id"].append(projects.attrs["owner_id"][project - 1])
    _fill(table, timeline)
    table.attrs.update(columns)
    table.finish_generation()
    return table


def build_task(acct: Account, task_id: int) -> Record:
    table = acct.table("tasks")
    index = task_id - 1
    dice = Dice.keyed(salt(acct.seed, "tasks"), task_id)
    attrs = {name: column[index] for name, column in table.attrs.items()}
    added, updated = table.add_ts[index], table.update_ts[index]
    start = added + dice.between(0, 10) * DAY
    done = bool(attrs["done"])
    return {
        "id": task_id,
        "title": dice.pick(_TASK_TITLES),
        "creator_id": attrs["creator_id"],
        "description": dice.pick(vocabulary.NOTE_SENTENCES) if dice.chance(0.4) else None,
        "project_id": attrs["project_id"],
        "is_done": done,
        "is_milestone": bool(attrs["milestone"]),
        "due_date": clock.iso_date(start + dice.between(3, 40) * DAY) if dice.chance(0.8) else None,
        "start_date": clock.iso_date(start) if dice.chance(0.6) else None,
        "parent_task_id": attrs["parent_task_id"] or None,
        "assignee_ids": [user for user in (attrs["assignee_1"], attrs["assignee_2"]) if user],
        "priority": dice.pick((None, None, 1, 2, 3)),
        "add_time": rfc3339_millis(added),
        "update_time": rfc3339_millis(updated),
        "marked_as_done_time": rfc3339_millis(updated) if done else None,
    }
