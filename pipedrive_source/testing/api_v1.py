"""Pipedrive API v1 (`tests/data/openapi-v1.yaml`) for the entities that stay on v1: notes, users, activity
types, filters, leads (with labels and sources), currencies, files, call logs, goals, roles, the v1 fields
endpoints, `recents`, deal flow and participants (permission sets and organization relationships are in
`api_v1_company`, mail threads in `api_mailbox`). The v1 endpoints of deals, persons, organizations,
activities, pipelines, stages and products are out of support since 2026-08-01 and answer 410 Gone.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Iterator
from typing import Any

from pipedrive_source.testing import clock, generate_v1, related
from pipedrive_source.testing.deal_flow import FLOW_ITEMS, flow
from pipedrive_source.testing.errors import GONE_MESSAGE, ApiError
from pipedrive_source.testing.field_views import V2_FIELD_ENTITIES, field_v1
from pipedrive_source.testing.generate_v1 import PIN_DEAL, PIN_LEAD, PIN_ORG, PIN_PERSON
from pipedrive_source.testing.pagination import offset_page, parse_time_arg
from pipedrive_source.testing.routes import Request, Response, Router, ok
from pipedrive_source.testing.table import EntityTable, Record, order_key
from pipedrive_source.testing.v1_shapes import V1_SHAPES

PREFIXES = ("/api/v1", "/v1")
RETIRED = ("deals", "persons", "organizations", "activities", "pipelines", "stages", "products")
FIELD_ENTITIES = {**V2_FIELD_ENTITIES, "noteFields": "notes", "leadFields": "leads"}
RECENT_ITEMS = {
    "activity": "activities",
    "activityType": "activityTypes",
    "deal": "deals",
    "file": "files",
    "filter": "filters",
    "note": "notes",
    "person": "persons",
    "organization": "organizations",
    "pipeline": "pipelines",
    "product": "products",
    "stage": "stages",
    "user": "users",
}
PAGE_MAXIMUM = {"files": 100, "callLogs": 50}
FLOW_ITEM_KINDS = frozenset(
    [
        "call",
        "activity",
        "plannedActivity",
        "change",
        "note",
        "deal",
        "file",
        "dealChange",
        "personChange",
        "organizationChange",
        "follower",
        "dealFollower",
        "personFollower",
        "organizationFollower",
        "participant",
        "comment",
        "mailMessage",
        "mailMessageWithAttachment",
        "invoice",
        "document",
        "marketing_campaign_stat",
        "marketing_status_change",
    ]
)
"""What the flow's `items` parameter accepts (the spec's list); the simulator has notes, activities and
deal changes."""


def _sort(req: Request, allowed: tuple[str, ...]) -> tuple[str, bool]:
    """The v1 `sort` parameter ("field ASC|DESC"); only its first field is honoured."""
    text = (req.arg("sort") or "id ASC").split(",")[0].strip()
    name, _, direction = text.partition(" ")
    if name not in allowed:
        raise ApiError(400, f"Invalid sort field: {name}")
    return name, direction.strip().upper() == "DESC"


def _listed(
    req: Request, table: EntityTable, keep: Callable[[int], bool], sorts: tuple[str, ...]
) -> Iterator[int]:
    sort_by, descending = _sort(req, sorts)
    since = parse_time_arg(req, "updated_since")
    return (i for i in table.ordered_ids(sort_by, descending, None, since, None) if keep(i))


def _page_response(
    req: Request, entity: str, ids: Iterator[int], shape: Callable[[Record], Record]
) -> Response:
    table = req.account.table(entity)
    page, pagination = offset_page(req, ids, maximum=PAGE_MAXIMUM.get(entity, 500))
    return ok([shape(table.get(i) or {}) for i in page], {"pagination": pagination})


def _equal(table: EntityTable, conditions: list[tuple[str, int | None]]) -> list[tuple[Any, int]]:
    return [(table.attrs[attr], value) for attr, value in conditions if value is not None]


# -- notes ---------------------------------------------------------------------------------------------------
def list_notes(req: Request) -> Response:
    acct = req.account
    table = acct.table("notes")
    lead = req.arg("lead_id")
    checks = _equal(
        table,
        [
            ("user_id", req.int_arg("user_id")),
            ("deal_id", req.int_arg("deal_id")),
            ("person_id", req.int_arg("person_id")),
            ("org_id", req.int_arg("org_id")),
            ("lead_id", (acct.lead_number(lead) or -1) if lead else None),
        ],
    )
    pins = [
        (flag, req.int_arg(f"pinned_to_{name}_flag"))
        for name, flag in (
            ("deal", PIN_DEAL),
            ("person", PIN_PERSON),
            ("organization", PIN_ORG),
            ("lead", PIN_LEAD),
        )
    ]
    pins = [(flag, value) for flag, value in pins if value is not None]
    start_date, end_date = req.arg("start_date"), req.arg("end_date")
    try:
        first = clock.parse_date(start_date) if start_date else None
        last = clock.parse_date(end_date) + clock.DAY if end_date else None
    except ValueError:
        raise ApiError(400, "start_date and end_date must be dates (YYYY-MM-DD)") from None
    deleted, pinned, add_ts = table.deleted, table.attrs["pinned"], table.add_ts

    def keep(note_id: int) -> bool:
        index = note_id - 1
        if deleted[index] or any(column[index] != value for column, value in checks):
            return False
        if any(bool(pinned[index] & flag) != bool(value) for flag, value in pins):
            return False
        return (first is None or add_ts[index] >= first) and (last is None or add_ts[index] < last)

    ids = _listed(req, table, keep, ("id", "add_time", "update_time"))
    return _page_response(req, "notes", ids, lambda r: r)


# -- leads ---------------------------------------------------------------------------------------------------
def list_leads(archived: bool) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        table = req.account.table("leads")
        checks = _equal(
            table,
            [
                ("owner_id", req.int_arg("owner_id")),
                ("person_id", req.int_arg("person_id")),
                ("org_id", req.int_arg("organization_id")),
            ],
        )
        deleted, archived_col = table.deleted, table.attrs["archived"]
        wanted = 1 if archived else 0

        def keep(number: int) -> bool:
            index = number - 1
            return (
                not deleted[index]
                and archived_col[index] == wanted
                and all(column[index] == value for column, value in checks)
            )

        ids = _listed(req, table, keep, ("id", "add_time", "update_time"))
        return _page_response(req, "leads", ids, lambda r: r)

    return handler


def _lead_number(req: Request) -> int:
    number = req.account.lead_number(req.params["id"])
    table = req.account.table("leads")
    if number is None or not table.exists(number) or table.is_deleted(number):
        raise ApiError(404, "Lead not found")
    return number


def get_lead(req: Request) -> Response:
    return ok(req.account.table("leads").get(_lead_number(req)))


def create_lead(req: Request) -> Response:
    body = req.json()
    if not isinstance(body.get("title"), str) or not body["title"]:
        raise ApiError(400, "title is required")
    return ok(req.account.create("leads", body), status=201)


def update_lead(req: Request) -> Response:
    return ok(req.account.update("leads", _lead_number(req), req.json()))


def delete_lead(req: Request) -> Response:
    number = _lead_number(req)
    req.account.delete("leads", number)
    return ok({"id": req.account.lead_id(number)})


# -- simple collections --------------------------------------------------------------------------------------
def _all_rows(req: Request, entity: str, with_deleted: bool = True) -> list[Record]:
    table = req.account.table(entity)
    return [
        r
        for i in range(1, table.max_id + 1)
        if (with_deleted or not table.is_deleted(i)) and (r := table.get(i)) is not None
    ]


def list_plain(
    entity: str, keep: Callable[[Request, Record], bool] | None = None, with_deleted: bool = True
) -> Callable[[Request], Response]:
    """A v1 list without pagination (users, activity types, filters, lead labels); `with_deleted` lists the
    deleted records (with their `active_flag` false, see `writes_more`)."""

    def handler(req: Request) -> Response:
        rows = _all_rows(req, entity, with_deleted)
        return ok([r for r in rows if keep is None or keep(req, r)])

    return handler


def list_offset(entity: str, with_deleted: bool = False) -> Callable[[Request], Response]:
    """A v1 list with `start`/`limit` pagination over the records in id order (`with_deleted`: also the
    deleted ones, flagged)."""

    def handler(req: Request) -> Response:
        table = req.account.table(entity)
        deleted = table.deleted
        ids = (i for i in range(1, table.max_id + 1) if with_deleted or not deleted[i - 1])
        return _page_response(req, entity, ids, lambda r: r)

    return handler


def list_files(req: Request) -> Response:
    table = req.account.table("files")
    deleted = table.deleted
    ids = _listed(req, table, lambda i: not deleted[i - 1], ("id", "update_time"))
    return _page_response(req, "files", ids, lambda r: r)


def get_single(
    entity: str,
    label: str,
    by_number: Callable[[Request], int] | None = None,
    with_deleted: bool = True,
) -> Callable[[Request], Response]:
    """A v1 single GET; `with_deleted=False` for records that are gone once deleted."""

    def handler(req: Request) -> Response:
        number = by_number(req) if by_number else req.param_int()
        table = req.account.table(entity)
        record = table.get(number) if number is not None else None
        if record is None or (not with_deleted and table.is_deleted(number)):
            raise ApiError(404, f"{label} not found")
        return ok(record)

    return handler


def _call_log_number(req: Request) -> int:
    return req.account.call_log_number(req.params["id"]) or 0


def get_me(req: Request) -> Response:
    acct = req.account
    user = dict(acct.table("users").get(1) or {})
    user.update(acct.company)
    user["language"] = {"language_code": "en", "country_code": "US"}
    return ok(user)


def list_currencies(req: Request) -> Response:
    term = (req.arg("term") or "").lower()
    rows = [c for c in generate_v1.currencies() if term in c["code"].lower() or term in c["name"].lower()]
    return ok(rows)


def find_goals(req: Request) -> Response:
    rows = _all_rows(req, "goals", with_deleted=False)
    kind = req.arg("type.name")
    title = req.arg("title")
    active = req.bool_arg("is_active")
    assignee = req.int_arg("assignee.id")
    goals = [
        g
        for g in rows
        if (kind is None or g["type"]["name"] == kind)
        and (title is None or g["title"] == title)
        and (active is None or g["is_active"] == active)
        and (assignee is None or g["assignee"]["id"] == assignee)
    ]
    return ok({"goals": goals})


# -- fields --------------------------------------------------------------------------------------------------
def _choices(req: Request) -> dict[str, list[dict[str, Any]]]:
    return {
        "stage": [{"id": s["id"], "label": s["name"]} for s in _all_rows(req, "stages")],
        "pipeline": [{"id": p["id"], "label": p["name"]} for p in _all_rows(req, "pipelines")],
    }


def list_fields(entity: str) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        choices = _choices(req)
        rows = [field_v1(f, entity, choices) for f in req.account.fields[entity]]
        if entity == "notes":
            return ok(rows)
        page, pagination = offset_page(req, rows)
        return ok(page, {"pagination": pagination})

    return handler


def get_field(entity: str) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        field_id = req.param_int()
        for fdef in req.account.fields[entity]:
            if fdef.id == field_id:
                return ok(field_v1(fdef, entity, _choices(req)))
        raise ApiError(404, "Field not found")

    return handler


# -- recents, flow, participants -----------------------------------------------------------------------------
def recents(req: Request) -> Response:
    acct = req.account
    since_text = req.arg("since_timestamp")
    if not since_text:
        raise ApiError(400, "since_timestamp is required")
    try:
        since = clock.parse_time(since_text)
    except ValueError:
        raise ApiError(400, "since_timestamp must be YYYY-MM-DD HH:MM:SS") from None
    kinds = req.list_arg("items") or list(RECENT_ITEMS)
    unknown = [k for k in kinds if k not in RECENT_ITEMS]
    if unknown:
        raise ApiError(400, f"Unknown items: {', '.join(unknown)}")

    def stream(position: int, kind: str) -> Iterator[tuple[int, int, str, int]]:
        table = acct.table(RECENT_ITEMS[kind])
        for record_id in table.ordered_ids("update_time", False, None, since, None):
            yield order_key(table.update_ts[record_id - 1], 0), position, kind, record_id

    merged = heapq.merge(*(stream(n, kind) for n, kind in enumerate(kinds)))
    page, pagination = offset_page(req, merged)
    data = []
    last_time = None
    for _, _, kind, record_id in page:
        entity = RECENT_ITEMS[kind]
        table = acct.table(entity)
        data.append(
            {"item": kind, "id": record_id, "data": V1_SHAPES[entity](acct, table.get(record_id) or {})}
        )
        last_time = clock.v1_time(table.update_ts[record_id - 1])
    additional = {
        "since_timestamp": clock.v1_time(since),
        "last_timestamp_on_page": last_time,
        "pagination": pagination,
    }
    return ok(data, additional)


def _deal_or_404(req: Request) -> int:
    deal_id = req.param_int()
    if req.account.table("deals").get(deal_id) is None:
        raise ApiError(404, "Deal not found")
    return deal_id


def deal_flow(req: Request) -> Response:
    acct = req.account
    deal_id = _deal_or_404(req)
    items = req.list_arg("items")
    unknown = [kind for kind in items if kind not in FLOW_ITEM_KINDS]
    if unknown:
        raise ApiError(400, f"Validation failed: items: Unknown item type(s) {', '.join(unknown)}")
    page, pagination = offset_page(req, flow(acct, deal_id, items or FLOW_ITEMS))
    deal = acct.table("deals").get(deal_id) or {}
    related_objects = {
        "deal": {
            str(deal_id): {
                "id": deal_id,
                "title": deal.get("title"),
                "status": deal.get("status"),
                "value": deal.get("value"),
                "currency": deal.get("currency"),
                "stage_id": deal.get("stage_id"),
                "pipeline_id": deal.get("pipeline_id"),
            }
        },
        "user": {str(u["id"]): u for u in [acct.user_summary(deal.get("creator_user_id") or 1)] if u},
    }
    return ok(page, {"pagination": pagination}, related_objects=related_objects)


def deal_participants(req: Request) -> Response:
    acct = req.account
    deal_id = _deal_or_404(req)
    page, pagination = offset_page(req, related.participants(acct, deal_id))
    persons = {str(p["person"]["id"]): acct.person_summary(p["person"]["id"]) for p in page}
    return ok(page, {"pagination": pagination}, related_objects={"person": persons})


def add_participant(req: Request) -> Response:
    deal_id = _deal_or_404(req)
    person_id = req.json().get("person_id")
    if not isinstance(person_id, int) or isinstance(person_id, bool):
        raise ApiError(400, '"person_id" is required.')
    try:
        return ok(req.account.add_participant(deal_id, person_id))
    except KeyError:
        raise ApiError(404, "Person not found") from None
    except ValueError as error:
        raise ApiError(400, str(error)) from None


def delete_participant(req: Request) -> Response:
    deal_id = _deal_or_404(req)
    participant_id = req.param_int("deal_participant_id")
    if not related.remove_participant(req.account, deal_id, participant_id):
        raise ApiError(404, "Participant not found")
    return ok({"id": participant_id})


# -- notes writes --------------------------------------------------------------------------------------------
def create_note(req: Request) -> Response:
    body = req.json()
    if not isinstance(body.get("content"), str) or not body["content"]:
        raise ApiError(400, "content is required")
    return ok(req.account.create("notes", body))


def _live_note(req: Request) -> int:
    note_id = req.param_int()
    table = req.account.table("notes")
    if not table.exists(note_id) or table.is_deleted(note_id):
        raise ApiError(404, "Note not found")
    return note_id


def update_note(req: Request) -> Response:
    return ok(req.account.update("notes", _live_note(req), req.json()))


def delete_note(req: Request) -> Response:
    req.account.delete("notes", _live_note(req))
    return ok(True)


# -- out of support ------------------------------------------------------------------------------------------
def gone(entity: str) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        raise ApiError(410, GONE_MESSAGE.format(entity=entity))

    return handler


def register(router: Router) -> None:
    """Add every v1 route to the router, under both `/api/v1` and `/v1`."""
    routes: list[tuple[str, str, Callable[[Request], Response]]] = [
        ("GET", "/notes", list_notes),
        ("GET", "/notes/{id}", get_single("notes", "Note")),
        ("POST", "/notes", create_note),
        ("PUT", "/notes/{id}", update_note),
        ("DELETE", "/notes/{id}", delete_note),
        ("GET", "/users", list_plain("users")),
        ("GET", "/users/me", get_me),
        ("GET", "/users/{id}", get_single("users", "User")),
        ("GET", "/activityTypes", list_plain("activityTypes")),
        ("GET", "/filters", list_plain("filters", lambda req, r: req.arg("type") in (None, r["type"]))),
        ("GET", "/filters/{id}", get_single("filters", "Filter")),
        ("GET", "/leads", list_leads(archived=False)),
        ("GET", "/leads/archived", list_leads(archived=True)),
        ("GET", "/leads/{id}", get_lead),
        ("POST", "/leads", create_lead),
        ("PATCH", "/leads/{id}", update_lead),
        ("DELETE", "/leads/{id}", delete_lead),
        ("GET", "/leadLabels", list_plain("leadLabels", with_deleted=False)),
        ("GET", "/leadSources", lambda req: ok(generate_v1.lead_sources())),
        ("GET", "/currencies", list_currencies),
        ("GET", "/files", list_files),
        ("GET", "/files/{id}", get_single("files", "File")),
        ("GET", "/callLogs", list_offset("callLogs")),
        ("GET", "/callLogs/{id}", get_single("callLogs", "Call log", _call_log_number, with_deleted=False)),
        ("GET", "/goals/find", find_goals),
        ("GET", "/roles", list_offset("roles", with_deleted=True)),
        ("GET", "/roles/{id}", get_single("roles", "Role")),
        ("GET", "/recents", recents),
        ("GET", "/deals/{id}/flow", deal_flow),
        ("GET", "/deals/{id}/participants", deal_participants),
        ("POST", "/deals/{id}/participants", add_participant),
        ("DELETE", "/deals/{id}/participants/{deal_participant_id}", delete_participant),
    ]
    for path, entity in FIELD_ENTITIES.items():
        routes.append(("GET", f"/{path}", list_fields(entity)))
        if entity not in ("notes", "leads", "activities"):
            routes.append(("GET", f"/{path}/{{id}}", get_field(entity)))
    for entity in RETIRED:
        for method in ("GET", "POST", "PUT", "DELETE"):
            routes.append((method, f"/{entity}", gone(entity)))
            routes.append((method, f"/{entity}/{{id}}", gone(entity)))
        routes.append(("GET", f"/{entity}/search", gone(entity)))
    routes.append(("GET", "/itemSearch", gone("itemSearch")))
    for method, path, handler in routes:
        for prefix in PREFIXES:
            router.add(method, prefix + path, handler, cost_key=f"{method} /v1{path}")
