"""API v1 permission sets and organization relationships (`tests/data/openapi-v1.yaml`).

- `GET /permissionSets` (`app` filter) and `/permissionSets/{id}` (with `contents`, the set's permissions).
  The spec's example of the single set wraps it in a list; its schema describes one object, like every other
  single GET: the simulator answers the object.
- `GET /organizationRelationships?org_id=` (required): the relationships where the organization is either
  side, each with the fields calculated from that organization (`calculated_type`: what the other one is to
  it, `daughter`, `parent` or `related`), and `related_objects.organization`. The operation has no paging
  parameters: the whole list comes in one answer, with the pagination block of the spec's example.
  `GET /organizationRelationships/{id}` (optional `org_id`, the side to calculate from; the owner by
  default), and the writes `POST`, `PUT` and `DELETE`. A deleted relationship is gone ("Deletes an
  organization relationship").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pipedrive_source.testing.errors import ApiError
from pipedrive_source.testing.generate_company import (
    RELATIONSHIP_TYPES,
    build_organization_relationship,
    organization_info,
    permission_set_contents,
    relationship_seen_from,
)
from pipedrive_source.testing.related import ids_linked_to
from pipedrive_source.testing.routes import Request, Response, Router, ok
from pipedrive_source.testing.table import Record

PERMISSION_APPS = ("sales", "projects", "campaigns", "global", "account_settings", "partnership", "nova")


# -- permission sets -----------------------------------------------------------------------------------------
def _live_rows(req: Request, entity: str) -> list[Record]:
    table = req.account.table(entity)
    return [r for i in range(1, table.max_id + 1) if not table.is_deleted(i) and (r := table.get(i))]


def list_permission_sets(req: Request) -> Response:
    app = req.arg("app")
    if app is not None and app not in PERMISSION_APPS:
        raise ApiError(400, f"Validation failed: app: Must be one of {', '.join(PERMISSION_APPS)}")
    return ok([r for r in _live_rows(req, "permissionSets") if app is None or r["app"] == app])


def get_permission_set(req: Request) -> Response:
    wanted = req.params["id"]
    for record in _live_rows(req, "permissionSets"):
        if record["id"] == wanted:
            return ok({**record, "contents": permission_set_contents(record["type"])})
    raise ApiError(404, "Permission set not found")


# -- organization relationships ------------------------------------------------------------------------------
def _org_id(req: Request, name: str = "org_id", required: bool = True) -> int | None:
    if required:
        req.required_arg(name)
    return req.int_arg(name)


def _related_objects(req: Request, records: list[Record]) -> dict[str, Any]:
    orgs: dict[str, Any] = {}
    for record in records:
        for side in ("rel_owner_org_id", "rel_linked_org_id"):
            org_id = (record.get(side) or {}).get("value")
            if org_id and str(org_id) not in orgs:
                info = organization_info(req.account, org_id) or {}
                orgs[str(org_id)] = {"id": org_id, **{k: v for k, v in info.items() if k != "value"}}
    return {"organization": orgs}


def relationship_ids_of(req: Request, org_id: int) -> list[int]:
    """Live relationships where the organization is either side, in id order."""
    table = req.account.table("organizationRelationships")
    found = set(ids_linked_to(table.attrs["owner_org_id"], org_id))
    found.update(ids_linked_to(table.attrs["linked_org_id"], org_id))
    return sorted(i for i in found if not table.is_deleted(i))


def list_relationships(req: Request) -> Response:
    org_id = _org_id(req) or 0
    acct = req.account
    records = [
        relationship_seen_from(acct, build_organization_relationship(acct, number), org_id)
        for number in relationship_ids_of(req, org_id)
    ]
    pagination = {"start": 0, "limit": max(len(records), 1), "more_items_in_collection": False}
    return ok(records, {"pagination": pagination}, related_objects=_related_objects(req, records))


def _live_relationship(req: Request) -> Record:
    table = req.account.table("organizationRelationships")
    number = req.param_int()
    if not table.exists(number) or table.is_deleted(number):
        raise ApiError(404, "Organization relationship not found")
    return build_organization_relationship(req.account, number)


def _seen(req: Request, record: Record) -> Response:
    base = _org_id(req, required=False) or (record.get("rel_owner_org_id") or {}).get("value") or 0
    shaped = relationship_seen_from(req.account, record, base)
    return ok(shaped, related_objects=_related_objects(req, [shaped]))


def get_relationship(req: Request) -> Response:
    return _seen(req, _live_relationship(req))


def _relationship_body(req: Request, creating: bool) -> dict[str, Any]:
    body = req.json()
    required = ("type", "rel_owner_org_id", "rel_linked_org_id") if creating else ()
    for name in required:
        if body.get(name) is None:
            raise ApiError(400, f'"{name}" is required.')
    if "type" in body and body["type"] not in RELATIONSHIP_TYPES:
        raise ApiError(400, f"Validation failed: type: Must be one of {', '.join(RELATIONSHIP_TYPES)}")
    orgs = req.account.table("organizations")
    for name in ("rel_owner_org_id", "rel_linked_org_id"):
        if name in body and (not isinstance(body[name], int) or orgs.get(body[name]) is None):
            raise ApiError(400, f"Validation failed: {name}: Must be the id of an organization")
    return {k: v for k, v in body.items() if k in ("type", "rel_owner_org_id", "rel_linked_org_id")}


def create_relationship(req: Request) -> Response:
    created = req.account.create("organizationRelationships", _relationship_body(req, creating=True))
    return _seen(req, build_organization_relationship(req.account, created["id"]))


def update_relationship(req: Request) -> Response:
    record = _live_relationship(req)
    req.account.update("organizationRelationships", record["id"], _relationship_body(req, False))
    return _seen(req, build_organization_relationship(req.account, record["id"]))


def delete_relationship(req: Request) -> Response:
    record = _live_relationship(req)
    req.account.delete("organizationRelationships", record["id"])
    return ok({"id": record["id"]})


ROUTES: list[tuple[str, str, Callable[[Request], Response]]] = [
    ("GET", "/permissionSets", list_permission_sets),
    ("GET", "/permissionSets/{id}", get_permission_set),
    ("GET", "/organizationRelationships", list_relationships),
    ("POST", "/organizationRelationships", create_relationship),
    ("GET", "/organizationRelationships/{id}", get_relationship),
    ("PUT", "/organizationRelationships/{id}", update_relationship),
    ("DELETE", "/organizationRelationships/{id}", delete_relationship),
]


def register(router: Router, prefixes: tuple[str, ...]) -> None:
    for method, path, handler in ROUTES:
        for prefix in prefixes:
            router.add(method, prefix + path, handler, cost_key=f"{method} /v1{path}")
