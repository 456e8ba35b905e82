"""Pipedrive API v2 (https://developers.pipedrive.com/docs/api/v1 "v2" sections;
`tests/data/openapi-v2.yaml`): deals (with archived deals, deal products, installments, followers), persons,
organizations, activities, products, pipelines, stages, the fields endpoints, the search endpoints and writes
(projects, project fields and tasks are in `api_projects`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pipedrive_source.testing import clock, deal_items, related
from pipedrive_source.testing.errors import ApiError
from pipedrive_source.testing.field_views import V2_FIELD_ENTITIES, field_v2
from pipedrive_source.testing.generate import STATUS_CODES
from pipedrive_source.testing.pagination import (
    decode_cursor,
    encode_cursor,
    page_of_list,
    parse_limit,
    parse_sort,
    parse_time_arg,
    take,
    v2_envelope,
)
from pipedrive_source.testing.routes import Request, Response, Router, json_response, ok
from pipedrive_source.testing.search import SEARCHES, item_search, search_entity
from pipedrive_source.testing.table import EntityTable, Record
from pipedrive_source.testing.validation import validate_body
from pipedrive_source.testing.views import record_viewer, view_options

PREFIX = "/api/v2"
MAX_IDS = 100


@dataclass(frozen=True)
class ListSpec:
    """How the v2 list of an entity filters and sorts."""

    filters: dict[str, str] = field(default_factory=dict)
    """query parameter -> table attribute compared for equality"""
    sorts: tuple[str, ...] = ("id", "update_time", "add_time")
    has_until: bool = True


LISTS: dict[str, ListSpec] = {
    "deals": ListSpec(
        {
            "owner_id": "owner_id",
            "person_id": "person_id",
            "org_id": "org_id",
            "pipeline_id": "pipeline_id",
            "stage_id": "stage_id",
        }
    ),
    "persons": ListSpec({"owner_id": "owner_id", "org_id": "org_id"}),
    "organizations": ListSpec({"owner_id": "owner_id"}),
    "activities": ListSpec(
        {"owner_id": "owner_id", "deal_id": "deal_id", "person_id": "person_id", "org_id": "org_id"},
        ("id", "update_time", "add_time", "due_date"),
    ),
}
SINGULAR = {
    "deals": "Deal",
    "persons": "Person",
    "organizations": "Organization",
    "activities": "Activity",
    "products": "Product",
    "pipelines": "Pipeline",
    "stages": "Stage",
}


def _time_of(key: str) -> Callable[[Record], Any]:
    return lambda record: clock.parse_time(record[key]) if record.get(key) else 0


def _value_of(key: str) -> Callable[[Record], Any]:
    return lambda record: record[key]


# -- lists ---------------------------------------------------------------------------------------------------
def _deal_statuses(req: Request) -> tuple[set[int], bool]:
    statuses = req.list_arg("status")
    for status in statuses:
        if status not in ("open", "won", "lost", "deleted"):
            raise ApiError(400, "Validation failed: status: Must be one of open, won, lost, deleted")
    if not statuses:
        return set(STATUS_CODES.values()), False
    return {STATUS_CODES[s] for s in statuses if s != "deleted"}, "deleted" in statuses


def by_status(
    table: EntityTable,
    codes: set[int],
    with_deleted: bool,
    archived: bool,
    conditions: list[tuple[Any, int]],
) -> Callable[[int], bool]:
    """Whether a record of a list with a status and an archive (deals, projects) is listed: in the archive or
    not as asked, deleted only when asked for, otherwise of one of the status `codes`, and equal to every
    `(column, value)` condition."""
    status_col, archived_col, deleted = table.attrs["status"], table.attrs["archived"], table.deleted
    wanted = 1 if archived else 0

    def keep(record_id: int) -> bool:
        index = record_id - 1
        if archived_col[index] != wanted:
            return False
        if deleted[index]:
            if not with_deleted:
                return False
        elif status_col[index] not in codes:
            return False
        return all(column[index] == value for column, value in conditions)

    return keep


def _predicate(req: Request, entity: str, table: EntityTable, archived: bool) -> Callable[[int], bool]:
    spec = LISTS[entity]
    conditions = [
        (table.attrs[attr], value)
        for param, attr in spec.filters.items()
        if (value := req.int_arg(param)) is not None
    ]
    deleted = table.deleted
    if entity == "deals":
        codes, with_deleted = _deal_statuses(req)
        return by_status(table, codes, with_deleted, archived, conditions)
    done = req.bool_arg("done") if entity == "activities" else None
    done_col = table.attrs["done"] if done is not None else None

    def keep(record_id: int) -> bool:
        index = record_id - 1
        if deleted[index]:
            return False
        if done_col is not None and done_col[index] != int(bool(done)):
            return False
        return all(column[index] == value for column, value in conditions)

    return keep


def _candidates(req: Request, entity: str, table: EntityTable) -> list[int] | None:
    """Ids the request restricts the list to (`ids`, persons of a `deal_id`, activities of a `lead_id`)."""
    candidates: set[int] | None = None
    raw_ids = req.list_arg("ids")
    if raw_ids:
        if len(raw_ids) > MAX_IDS:
            raise ApiError(400, f"Validation failed: ids: A maximum of {MAX_IDS} ids is allowed")
        try:
            candidates = {int(i) for i in raw_ids}
        except ValueError:
            raise ApiError(
                400, "Validation failed: ids: Must be a comma-separated list of integers"
            ) from None
    if entity == "persons" and req.int_arg("deal_id") is not None:
        deal = req.account.table("deals").get(req.int_arg("deal_id") or 0)
        linked = (
            {p["person_id"]["value"] for p in related.participants(req.account, deal["id"])}
            if deal
            else set()
        )
        candidates = linked if candidates is None else candidates & linked
    if entity == "activities" and req.arg("lead_id"):
        lead = req.arg("lead_id")
        linked = {i for i, r in table.overlay.items() if r.get("lead_id") == lead}
        candidates = linked if candidates is None else candidates & linked
    if candidates is None:
        return None
    return [i for i in candidates if table.exists(i)]


def list_records(req: Request, entity: str, archived: bool = False) -> Response:
    acct = req.account
    table = acct.table(entity)
    spec = LISTS[entity]
    limit = parse_limit(req)
    sort_by, descending = parse_sort(req, spec.sorts)
    since = parse_time_arg(req, "updated_since")
    until = parse_time_arg(req, "updated_until") if spec.has_until else None
    viewer = record_viewer(acct, entity, view_options(req, entity))
    if req.int_arg("filter_id") is not None and not acct.table("filters").exists(
        req.int_arg("filter_id") or 0
    ):
        raise ApiError(404, "Filter not found")
    keep = _predicate(req, entity, table, archived)
    after = decode_cursor(req, sort_by, descending)
    candidates = _candidates(req, entity, table)
    if candidates is None:
        ids_in_order = table.ordered_ids(sort_by, descending, after, since, until)
    else:
        keyed = sorted(((table.sort_value(sort_by, i), i) for i in candidates), reverse=descending)
        ids_in_order = (
            i
            for value, i in keyed
            if (after is None or ((value, i) < after if descending else (value, i) > after))
            and (since is None or table.update_ts[i - 1] >= since)
            and (until is None or table.update_ts[i - 1] < until)
        )
    page, more = take(ids_in_order, keep, limit)
    next_cursor = (
        encode_cursor(sort_by, table.sort_value(sort_by, page[-1]), descending, page[-1]) if more else None
    )
    data = [viewer(record) for record in acct.records(entity, page)]
    return json_response(200, v2_envelope(data, next_cursor))


def list_of(entity: str, archived: bool = False) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        return list_records(req, entity, archived)

    return handler


def list_products(req: Request) -> Response:
    acct = req.account
    table = acct.table("products")
    owner = req.int_arg("owner_id")
    since = parse_time_arg(req, "updated_since")
    raw_ids = set(req.list_arg("ids"))
    viewer = record_viewer(acct, "products", view_options(req, "products"))
    records = []
    for product_id in range(1, table.max_id + 1):
        if table.is_deleted(product_id):
            continue
        if owner is not None and table.attr("owner_id", product_id) != owner:
            continue
        if since is not None and table.update_ts[product_id - 1] < since:
            continue
        if raw_ids and str(product_id) not in raw_ids:
            continue
        records.append(viewer(table.get(product_id) or {}))
    sorts = {
        "id": lambda r: r["id"],
        "name": lambda r: r["name"],
        "add_time": _time_of("add_time"),
        "update_time": _time_of("update_time"),
    }
    return json_response(200, page_of_list(req, records, sorts))


def _small_list(
    entity: str, keep: Callable[[Request, Record], bool], sorts: tuple[str, ...]
) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        table = req.account.table(entity)
        records = [r for i in range(1, table.max_id + 1) if (r := table.get(i)) and keep(req, r)]
        sort_fields: dict[str, Callable[[Record], Any]] = {"id": lambda r: r["id"]}
        for name in sorts:
            sort_fields[name] = _time_of(name) if name.endswith("_time") else _value_of(name)
        return json_response(200, page_of_list(req, records, sort_fields))

    return handler


# -- singles and writes --------------------------------------------------------------------------------------
def _get_live(req: Request, entity: str) -> Record:
    record = req.account.table(entity).get(req.param_int())
    if record is None:
        raise ApiError(404, f"{SINGULAR[entity]} not found")
    return record


def get_record(entity: str) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        record = _get_live(req, entity)
        viewer = record_viewer(req.account, entity, view_options(req, entity))
        return ok(viewer(record))

    return handler


CREATED_STATUS = {"products": 201}
"""POST answers 200 except where the v2 spec says 201."""


def create_record(entity: str) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        body = req.json()
        validate_body(req.account, entity, body, creating=True)
        return ok(req.account.create(entity, body), status=CREATED_STATUS.get(entity, 200))

    return handler


def update_record(entity: str) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        record = _get_live(req, entity)
        body = req.json()
        validate_body(req.account, entity, body, creating=False)
        return ok(req.account.update(entity, record["id"], body))

    return handler


def delete_record(entity: str) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        record = _get_live(req, entity)
        if req.account.table(entity).is_deleted(record["id"]):
            raise ApiError(404, f"{SINGULAR[entity]} not found")
        req.account.delete(entity, record["id"])
        return ok({"id": record["id"]})

    return handler


# -- followers, deal products, installments ------------------------------------------------------------------
def list_followers(entity: str) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        record = _get_live(req, entity)
        rows = [dict(f, id=f["user_id"]) for f in related.followers(req.account, entity, record["id"])]
        page = page_of_list(req, rows, {"id": lambda r: r["id"]})
        for row in page["data"]:
            row.pop("id", None)
        return json_response(200, page)

    return handler


def add_follower(entity: str) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        record = _get_live(req, entity)
        user_id = req.json().get("user_id")
        if not isinstance(user_id, int) or not req.account.table("users").exists(user_id):
            raise ApiError(400, "Validation failed: user_id: Must be the id of a user")
        return ok(related.add_follower(req.account, entity, record["id"], user_id), status=201)

    return handler


def delete_follower(entity: str) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        record = _get_live(req, entity)
        user_id = req.param_int("follower_id")
        if not related.remove_follower(req.account, entity, record["id"], user_id):
            raise ApiError(404, "Follower not found")
        return ok({"user_id": user_id})

    return handler


_PRODUCT_SORTS: dict[str, Callable[[Record], Any]] = {
    "id": lambda r: r["id"],
    "deal_id": lambda r: r["deal_id"],
    "add_time": _time_of("add_time"),
    "update_time": _time_of("update_time"),
    "order_nr": lambda r: r["order_nr"] or 0,
}


def _deal_ids(req: Request) -> list[int]:
    raw = req.list_arg("deal_ids") or req.list_arg("deal_ids[]")
    if not raw:
        raise ApiError(400, "Validation failed: deal_ids: Required")
    if len(raw) > MAX_IDS:
        raise ApiError(400, f"Validation failed: deal_ids: A maximum of {MAX_IDS} ids is allowed")
    try:
        return [int(i) for i in raw]
    except ValueError:
        raise ApiError(400, "Validation failed: deal_ids: Must be integers") from None


def list_products_of_deals(req: Request) -> Response:
    rows = [a for deal_id in _deal_ids(req) for a in deal_items.deal_products(req.account, deal_id)]
    return json_response(200, page_of_list(req, rows, _PRODUCT_SORTS))


def list_deal_products(req: Request) -> Response:
    deal = _get_live(req, "deals")
    rows = deal_items.deal_products(req.account, deal["id"])
    sorts = {k: v for k, v in _PRODUCT_SORTS.items() if k != "deal_id"}
    return json_response(200, page_of_list(req, rows, sorts))


def add_deal_product(req: Request) -> Response:
    deal = _get_live(req, "deals")
    body = req.json()
    product_id, price = body.get("product_id"), body.get("item_price")
    if not isinstance(product_id, int) or not req.account.table("products").exists(product_id):
        raise ApiError(400, "Validation failed: product_id: Must be the id of a product")
    if not isinstance(price, (int, float)) or isinstance(price, bool):
        raise ApiError(400, "Validation failed: item_price: Required number")
    quantity = body.get("quantity", 1)
    if not isinstance(quantity, (int, float)) or isinstance(quantity, bool):
        raise ApiError(400, "Validation failed: quantity: Must be a number")
    try:
        attachment = deal_items.add_deal_product(req.account, deal["id"], body)
    except ValueError as error:
        raise ApiError(400, str(error)) from None
    return ok(attachment, status=201)


def delete_deal_product(req: Request) -> Response:
    deal = _get_live(req, "deals")
    attachment_id = req.param_int("product_attachment_id")
    if not deal_items.remove_deal_product(req.account, deal["id"], attachment_id):
        raise ApiError(404, "Product attachment not found")
    return ok({"id": attachment_id})


def update_deal_product(req: Request) -> Response:
    deal = _get_live(req, "deals")
    attachment_id = req.param_int("product_attachment_id")
    changes = {k: v for k, v in req.json().items() if k != "product_id"}
    try:
        return ok(req.account.update_deal_product(deal["id"], attachment_id, changes))
    except KeyError:
        raise ApiError(404, "Product attachment not found") from None
    except ValueError as error:
        raise ApiError(400, str(error)) from None


def add_installment(req: Request) -> Response:
    deal = _get_live(req, "deals")
    body = req.json()
    for name in ("description", "amount", "billing_date"):
        if body.get(name) is None:
            raise ApiError(400, f"Validation failed: {name}: Required")
    amount = body["amount"]
    if not isinstance(amount, (int, float)) or isinstance(amount, bool) or amount <= 0:
        raise ApiError(400, "Validation failed: amount: Must be a positive number")
    try:
        installment = req.account.add_installment(
            deal["id"], amount, body["billing_date"], body["description"]
        )
    except ValueError as error:
        raise ApiError(400, f"Validation failed: {error}") from None
    return ok(installment)


def delete_installment(req: Request) -> Response:
    deal = _get_live(req, "deals")
    installment_id = req.param_int("installment_id")
    if not deal_items.remove_installment(req.account, deal["id"], installment_id):
        raise ApiError(404, "Installment not found")
    return ok({"id": installment_id})


def list_installments(req: Request) -> Response:
    rows = [i for deal_id in _deal_ids(req) for i in deal_items.installments(req.account, deal_id)]
    sorts: dict[str, Callable[[Record], Any]] = {
        "id": lambda r: r["id"],
        "billing_date": lambda r: r["billing_date"],
        "deal_id": lambda r: r["deal_id"],
    }
    return json_response(200, page_of_list(req, rows, sorts))


# -- fields --------------------------------------------------------------------------------------------------


def list_fields(entity: str, always: frozenset[str] = frozenset()) -> Callable[[Request], Response]:
    """A v2 fields list; `always` names the `include_fields` namespaces answered without being asked
    (projectFields takes no `include_fields` but its example shows them)."""

    def handler(req: Request) -> Response:
        include = set(req.list_arg("include_fields")) | always
        rows = [dict(field_v2(f, entity, include), id=f.id) for f in req.account.fields[entity]]
        page = page_of_list(req, rows, {"id": lambda r: r["id"]})
        for row in page["data"]:
            row.pop("id")
        return json_response(200, page)

    return handler


def get_field(entity: str, always: frozenset[str] = frozenset()) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        code = req.params["field_code"]
        for fdef in req.account.fields[entity]:
            if fdef.key == code:
                return ok(field_v2(fdef, entity, set(req.list_arg("include_fields")) | always))
        raise ApiError(404, "Field not found")

    return handler


# -- search --------------------------------------------------------------------------------------------------
def search(entity: str) -> Callable[[Request], Response]:
    def handler(req: Request) -> Response:
        return json_response(200, search_entity(req, entity))

    return handler


def register(router: Router) -> None:
    """Add every v2 route to the router."""

    def add(method: str, path: str, handler: Callable[[Request], Response]) -> None:
        router.add(method, PREFIX + path, handler)

    for entity in ("deals", "persons", "organizations", "activities"):
        add("GET", f"/{entity}", list_of(entity))
    add("GET", "/deals/archived", list_of("deals", archived=True))
    add("GET", "/products", list_products)
    add(
        "GET",
        "/pipelines",
        _small_list("pipelines", lambda req, r: not r["is_deleted"], ("update_time", "add_time")),
    )
    add(
        "GET",
        "/stages",
        _small_list(
            "stages",
            lambda req, r: (
                not r["is_deleted"]
                and (req.int_arg("pipeline_id") is None or r["pipeline_id"] == req.int_arg("pipeline_id"))
            ),
            ("update_time", "add_time", "order_nr"),
        ),
    )
    for entity in ("deals", "persons", "organizations", "activities", "products", "pipelines", "stages"):
        add("GET", f"/{entity}/{{id}}", get_record(entity))
        add("POST", f"/{entity}", create_record(entity))
        add("PATCH", f"/{entity}/{{id}}", update_record(entity))
        add("DELETE", f"/{entity}/{{id}}", delete_record(entity))
    for entity in ("deals", "persons", "organizations", "products"):
        add("GET", f"/{entity}/{{id}}/followers", list_followers(entity))
        add("POST", f"/{entity}/{{id}}/followers", add_follower(entity))
        add("DELETE", f"/{entity}/{{id}}/followers/{{follower_id}}", delete_follower(entity))
    add("GET", "/deals/products", list_products_of_deals)
    add("GET", "/deals/{id}/products", list_deal_products)
    add("POST", "/deals/{id}/products", add_deal_product)
    add("DELETE", "/deals/{id}/products/{product_attachment_id}", delete_deal_product)
    add("PATCH", "/deals/{id}/products/{product_attachment_id}", update_deal_product)
    add("GET", "/deals/installments", list_installments)
    add("POST", "/deals/{id}/installments", add_installment)
    add("DELETE", "/deals/{id}/installments/{installment_id}", delete_installment)
    for path, entity in V2_FIELD_ENTITIES.items():
        add("GET", f"/{path}", list_fields(entity))
        add("GET", f"/{path}/{{field_code}}", get_field(entity))
    for entity in SEARCHES:
        add("GET", f"/{entity}/search", search(entity))
    add("GET", "/itemSearch", lambda req: json_response(200, item_search(req)))
