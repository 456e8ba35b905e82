"""Projects, project fields and tasks (API v2): filters, cursor pages, archived and deleted projects."""

from __future__ import annotations

import pytest

from tests.simulator.clients import Api


@pytest.fixture(scope="module")
def projects(sim) -> list[dict]:
    direct = Api(sim, "direct")
    return direct.all("v2", "/projects", {"limit": 500}) + direct.all(
        "v2", "/projects/archived", {"limit": 500}
    )


@pytest.fixture(scope="module")
def tasks(sim) -> list[dict]:
    return Api(sim, "direct").all("v2", "/tasks", {"limit": 500})


def ids(api: Api, path: str, **params) -> list:
    return [record["id"] for record in api.all("v2", path, {"limit": 500, **params})]


def test_projects_and_tasks_grow_with_the_account(make_sim):
    small, large = Api(make_sim(deals=100), "direct"), Api(make_sim(deals=1000), "direct")
    assert 0 < len(ids(small, "/projects")) < len(ids(large, "/projects"))
    assert len(ids(large, "/tasks")) > 2 * len(ids(large, "/projects"))


def test_cursor_pages_add_up_in_id_order(api):
    whole = ids(api, "/tasks")
    paged = [task["id"] for page in api.pages("v2", "/tasks", {"limit": 7}) for task in page["data"]]
    assert paged == whole == sorted(whole)
    assert len(set(whole)) == len(whole)


def test_archived_projects_are_listed_apart(api, projects):
    archived = ids(api, "/projects/archived")
    assert archived, "no archived project"
    assert not set(archived) & set(ids(api, "/projects"))
    assert all(p["archive_time"] for p in projects if p["id"] in archived)
    assert not any(p["archive_time"] for p in projects if p["id"] not in archived)


@pytest.mark.parametrize("status", ["open", "completed", "canceled"])
def test_projects_filter_by_status(api, projects, status):
    expected = [p["id"] for p in projects if p["status"] == status and not p["archive_time"]]
    assert ids(api, "/projects", status=status) == expected


@pytest.mark.parametrize(
    ("param", "key"), [("deal_id", "deal_ids"), ("person_id", "person_ids"), ("org_id", "org_ids")]
)
def test_projects_filter_by_linked_record(api, projects, param, key):
    linked = next(p for p in projects if p[key] and not p["archive_time"])
    found = api.all("v2", "/projects", {param: linked[key][0]})
    assert linked["id"] in {p["id"] for p in found}
    assert all(linked[key][0] in p[key] for p in found)


def test_projects_filter_by_phase_and_their_board_follows(api, projects):
    phase = projects[0]["phase_id"]
    found = api.all("v2", "/projects", {"phase_id": phase})
    assert found and {p["phase_id"] for p in found} == {phase}
    assert len({p["board_id"] for p in found}) == 1


def test_projects_link_existing_deals_persons_and_organizations(api, projects):
    linked = projects[:10]
    for project in linked:
        for deal_id in project["deal_ids"]:
            deal = api.ok("v2", f"/deals/{deal_id}")["data"]
            assert project["person_ids"] == ([deal["person_id"]] if deal["person_id"] else [])
            assert project["org_ids"] == ([deal["org_id"]] if deal["org_id"] else [])


@pytest.mark.parametrize(
    ("param", "value", "check"),
    [
        ("is_done", "true", lambda task: task["is_done"]),
        ("is_done", "false", lambda task: not task["is_done"]),
        ("is_milestone", "true", lambda task: task["is_milestone"]),
        ("parent_task_id", "null", lambda task: task["parent_task_id"] is None),
    ],
)
def test_tasks_filters(api, tasks, param, value, check):
    expected = [task["id"] for task in tasks if check(task)]
    assert expected, f"no task matches {param}={value}"
    assert ids(api, "/tasks", **{param: value}) == expected


def test_tasks_filter_by_project_assignee_and_parent(api, tasks):
    subtask = next(task for task in tasks if task["parent_task_id"])
    assert subtask["id"] in ids(api, "/tasks", parent_task_id=subtask["parent_task_id"])
    assert set(ids(api, "/tasks", parent_task_id=subtask["parent_task_id"])) == {
        task["id"] for task in tasks if task["parent_task_id"] == subtask["parent_task_id"]
    }
    project = subtask["project_id"]
    assert ids(api, "/tasks", project_id=project) == [
        task["id"] for task in tasks if task["project_id"] == project
    ]
    user = tasks[0]["assignee_ids"][0]
    assert ids(api, "/tasks", assignee_id=user) == [
        task["id"] for task in tasks if user in task["assignee_ids"]
    ]


def test_subtasks_belong_to_their_parents_project(tasks):
    by_id = {task["id"]: task for task in tasks}
    subtasks = [task for task in tasks if task["parent_task_id"] in by_id]
    assert subtasks
    assert all(by_id[task["parent_task_id"]]["project_id"] == task["project_id"] for task in subtasks)


def test_project_fields_describe_the_custom_fields_of_projects(api, projects):
    fields = api.all("v2", "/projectFields")
    custom = {field["field_code"] for field in fields if field["is_custom_field"]}
    assert custom == set(projects[0]["custom_fields"])
    assert {"title", "status", "phase_id", "board_id"} <= {field["field_code"] for field in fields}


def test_deleted_project_is_listed_only_when_asked_for(make_sim):
    api = Api(make_sim(deals=600), "direct")
    project = api.ok("v2", "/projects", {"limit": 1})["data"][0]
    api.sim.account().delete("projects", project["id"])
    assert project["id"] not in ids(api, "/projects")
    deleted = api.all("v2", "/projects", {"status": "deleted"})
    assert [p["id"] for p in deleted] == [project["id"]]
    assert deleted[0]["status"] == "deleted"
    assert api.ok("v2", f"/projects/{project['id']}")["data"]["status"] == "deleted"


def test_deleting_a_task_deletes_its_subtasks(make_sim):
    api = Api(make_sim(deals=600), "direct")
    tasks = api.all("v2", "/tasks", {"limit": 500})
    parent = next(task["parent_task_id"] for task in tasks if task["parent_task_id"])
    subtasks = {task["id"] for task in tasks if task["parent_task_id"] == parent}
    api.sim.account().delete("tasks", parent)
    left = set(ids(api, "/tasks"))
    assert parent not in left and not subtasks & left
    assert api.get("v2", f"/tasks/{parent}").status_code == 404


def test_created_and_updated_tasks_show_up(make_sim):
    api = Api(make_sim(deals=100), "direct")
    account = api.sim.account()
    project = ids(api, "/projects")[0]
    created = account.create(
        "tasks", {"title": "Migrate the price lists", "project_id": project, "assignee_ids": [3]}
    )
    assert created["id"] in ids(api, "/tasks", project_id=project, assignee_id=3)
    account.update("tasks", created["id"], {"is_done": True})
    done = api.ok("v2", f"/tasks/{created['id']}")["data"]
    assert done["is_done"] is True and done["marked_as_done_time"]
    assert created["id"] in ids(api, "/tasks", is_done="true")
