"""API v2 projects, project fields and tasks (`tests/data/openapi-v2.yaml`).

- `GET /projects` (non-archived) and `/projects/archived`: filters `status` (open, completed, canceled,
  deleted; deleted projects only when asked for), `phase_id`, `filter_id`, and on `/projects` also `deal_id`,
  `person_id`, `org_id`; cursor pagination in id order (the spec offers no sorting), limit 1..500, default
  100. `GET /projects/{id}` answers archived and deleted projects too (as `GET /deals/{id}` does).
- `GET /projectFields` (+ `/{field_code}`): the fields of projects, cursor-paged, with the `ui_visibility`,
  `important_fields` and `required_fields` its example shows.
- `GET /tasks`: filters `is_done`, `is_milestone`, `assignee_id`, `project_id`, `parent_task_id` (`null`:
  root tasks only); cursor pagination in id order. A deleted task is gone from the list and `/tasks/{id}`.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Iterator

from pipedrive_source.testing import api_v2
from pipedrive_source.testing.errors import ApiError
from pipedrive_source.testing.generate_projects import PROJECT_STATUSES, STATUS_CODES
from pipedrive_source.testing.pagination import decode_cursor, encode_cursor, parse_limit, take, v2_envelope
from pipedrive_source.testing.routes import Request, Response, Router, json_response, ok
from pipedrive_source.testing.table import EntityTable

PREFIX = "/api/v2"
_PROJECT_FILTERS = ("phase_id", "deal_id", "person_id", "org_id")
PROJECT_FIELD_EXTRAS = frozenset({"ui_visibility", "important_fields", "required_fields"})
"""`GET /projectFields` takes no `include_fields`, yet its example shows these: they are always answered."""


def _id_page(req: Request, entity: str, keep: Callable[[int], bool]) -> Response:
    """A v2 page of records in id order, keyset-paginated on the id (the lists offer no other order)."""
    limit = parse_limit(req)
    after = decode_cursor(req, "id", False)
    table = req.account.table(entity)
    ids: Iterator[int] = table.ordered_ids("id", False, after)
    page, more = take(ids, keep, limit)
    next_cursor = encode_cursor("id", page[-1], False, page[-1]) if more else None
    return json_response(200, v2_envelope(req.account.records(entity, page), next_cursor))


def _int_equal(table: EntityTable, conditions: list[tuple[str, int | None]]) -> list[tuple[array[int], int]]:
    return [(table.attrs[attr], value) for attr, value in conditions if value is not None]


# -- projects ------------------------------------------------------------------------------------------------
def _project_statuses(req: Request) -> tuple[set[int], bool]:
    statuses = req.list_arg("status")
    allowed = (*PROJECT_STATUSES, "deleted")
    for status in statuses:
        if status not in allowed:
            raise ApiError(400, f"Validation failed: status: Must be one of {', '.join(allowed)}")
    if not statuses:
        return set(STATUS_CODES.values()), False
    return {STATUS_CODES[s] for s in statuses if s != "deleted"}, "deleted" in statuses


def list_projects(archived: bool) -> Callable[[Request], Response]:
    filters = _PROJECT_FILTERS if not archived else ("phase_id",)

    def handler(req: Request) -> Response:
        acct = req.account
        filter_id = req.int_arg("filter_id")
        if filter_id is not None and not acct.table("filters").exists(filter_id):
            raise ApiError(404, "Filter not found")
        table = acct.table("projects")
        codes, with_deleted = _project_statuses(req)
        conditions = _int_equal(table, [(name, req.int_arg(name)) for name in filters])
        keep = api_v2.by_status(table, codes, with_deleted, archived, conditions)
        return _id_page(req, "projects", keep)

    return handler


def _single(entity: str, label: str, deleted_visible: bool) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        table = req.account.table(entity)
        record_id = req.param_int()
        record = table.get(record_id)
        if record is None or (table.is_deleted(record_id) and not deleted_visible):
            raise ApiError(404, f"{label} not found")
        return ok(record)

    return handler


# -- tasks ---------------------------------------------------------------------------------------------------
def _parent_filter(req: Request) -> int | None:
    """`parent_task_id`: None when absent, 0 for "null" (root tasks only), else the parent's id."""
    value = req.arg("parent_task_id")
    if value is None or value == "":
        return None
    if value == "null":
        return 0
    parent = req.int_arg("parent_task_id")
    return parent


def list_tasks(req: Request) -> Response:
    table = req.account.table("tasks")
    conditions = _int_equal(
        table,
        [
            ("project_id", req.int_arg("project_id")),
            ("parent_task_id", _parent_filter(req)),
            ("done", None if (done := req.bool_arg("is_done")) is None else int(done)),
            ("milestone", None if (milestone := req.bool_arg("is_milestone")) is None else int(milestone)),
        ],
    )
    assignee = req.int_arg("assignee_id")
    first, second, deleted = table.attrs["assignee_1"], table.attrs["assignee_2"], table.deleted

    def keep(task_id: int) -> bool:
        index = task_id - 1
        if deleted[index]:
            return False
        if assignee is not None and assignee not in (first[index], second[index]):
            return False
        return all(column[index] == value for column, value in conditions)

    return _id_page(req, "tasks", keep)


def register(router: Router) -> None:
    routes: list[tuple[str, Callable[[Request], Response]]] = [
        ("/projects", list_projects(archived=False)),
        ("/projects/archived", list_projects(archived=True)),
        ("/projects/{id}", _single("projects", "Project", deleted_visible=True)),
        ("/projectFields", api_v2.list_fields("projects", PROJECT_FIELD_EXTRAS)),
        ("/projectFields/{field_code}", api_v2.get_field("projects", PROJECT_FIELD_EXTRAS)),
        ("/tasks", list_tasks),
        ("/tasks/{id}", _single("tasks", "Task", deleted_visible=False)),
    ]
    for path, handler in routes:
        router.add("GET", PREFIX + path, handler)
