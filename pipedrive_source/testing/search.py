"""The v2 search endpoints (`/deals/search`, `/persons/search`, `/organizations/search`, `/products/search`,
`/itemSearch`): case-insensitive term matching with a result score, paginated with an opaque cursor.

Searching scans the records of the entity (names are cheap to generate), stopping after `MAX_MATCHES`
matches, as Pipedrive caps its result sets too.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from pipedrive_source.testing.errors import ApiError
from pipedrive_source.testing.generate import STATUS_CODES
from pipedrive_source.testing.pagination import parse_limit
from pipedrive_source.testing.routes import Request
from pipedrive_source.testing.table import Record

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account

MAX_MATCHES = 2000
ITEM_SEARCH_MAX_LIMIT = 100


def score(text: str | None, term: str, exact: bool) -> float:
    """How well a text matches a lower-cased term: 0 when it does not."""
    if not text:
        return 0.0
    lowered = text.lower()
    if lowered == term:
        return 1.0
    if exact:
        return 0.0
    if lowered.startswith(term):
        return 0.8
    if f" {term}" in lowered or f"@{term}" in lowered or f".{term}" in lowered:
        return 0.6
    if term in lowered:
        return 0.4
    return 0.0


def _ref(acct: Account, entity: str, record_id: int | None) -> dict[str, Any] | None:
    if not record_id:
        return None
    return {"id": record_id, "name": acct.name_of(entity, record_id)}


def _deal_item(acct: Account, deal: Record) -> dict[str, Any]:
    stage = acct.table("stages").get(deal["stage_id"]) or {}
    return {
        "id": deal["id"],
        "type": "deal",
        "title": deal["title"],
        "value": int(deal["value"] or 0),
        "currency": deal["currency"],
        "status": deal["status"],
        "visible_to": deal["visible_to"],
        "owner": {"id": deal["owner_id"]},
        "stage": {"id": deal["stage_id"], "name": stage.get("name")},
        "person": _ref(acct, "persons", deal["person_id"]),
        "organization": _ref(acct, "organizations", deal["org_id"]),
        "custom_fields": [],
        "notes": [],
        "is_archived": deal["is_archived"],
    }


def _person_item(acct: Account, person: Record) -> dict[str, Any]:
    return {
        "id": person["id"],
        "type": "person",
        "name": person["name"],
        "phones": [p["value"] for p in person["phones"]],
        "emails": [e["value"] for e in person["emails"]],
        "visible_to": person["visible_to"],
        "owner": {"id": person["owner_id"]},
        "organization": _ref(acct, "organizations", person["org_id"]),
        "custom_fields": [],
        "notes": [],
    }


def _organization_item(acct: Account, org: Record) -> dict[str, Any]:
    return {
        "id": org["id"],
        "type": "organization",
        "name": org["name"],
        "address": (org.get("address") or {}).get("value"),
        "visible_to": org["visible_to"],
        "owner": {"id": org["owner_id"]},
        "custom_fields": [],
        "notes": [],
    }


def _product_item(acct: Account, product: Record) -> dict[str, Any]:
    code = product["code"]
    return {
        "id": product["id"],
        "type": "product",
        "name": product["name"],
        "code": int(code) if isinstance(code, str) and code.isdigit() else code,
        "visible_to": product["visible_to"],
        "owner": {"id": product["owner_id"]},
        "custom_fields": [],
    }


def _lead_item(acct: Account, lead: Record) -> dict[str, Any]:
    value = lead.get("value") or {}
    return {
        "id": lead["id"],
        "type": "lead",
        "title": lead["title"],
        "owner": {"id": lead["owner_id"]},
        "person": _ref(acct, "persons", lead["person_id"]),
        "organization": _ref(acct, "organizations", lead["organization_id"]),
        "phones": [],
        "emails": [],
        "custom_fields": [],
        "notes": [],
        "value": value.get("amount"),
        "currency": value.get("currency"),
        "visible_to": int(lead["visible_to"]),
        "is_archived": lead["is_archived"],
    }


@dataclass(frozen=True)
class SearchSpec:
    item_type: str
    fields: tuple[str, ...]
    cheap_text: Callable[[Account, int], str]
    """The name or title, without building the record"""
    full_texts: Callable[[Record], dict[str, list[str]]]
    """Searchable texts per field of a built record"""
    item: Callable[[Account, Record], dict[str, Any]]


def _names(entity: str) -> Callable[[Account, int], str]:
    return lambda acct, record_id: acct.name_of(entity, record_id)


SEARCHES: dict[str, SearchSpec] = {
    "deals": SearchSpec(
        "deal",
        ("title", "custom_fields", "notes"),
        _names("deals"),
        lambda r: {"title": [r["title"]]},
        _deal_item,
    ),
    "persons": SearchSpec(
        "person",
        ("name", "email", "phone", "custom_fields", "notes"),
        _names("persons"),
        lambda r: {
            "name": [r["name"]],
            "email": [e["value"] for e in r["emails"]],
            "phone": [p["value"] for p in r["phones"]],
        },
        _person_item,
    ),
    "organizations": SearchSpec(
        "organization",
        ("name", "address", "custom_fields", "notes"),
        _names("organizations"),
        lambda r: {"name": [r["name"]], "address": [(r.get("address") or {}).get("value") or ""]},
        _organization_item,
    ),
    "products": SearchSpec(
        "product",
        ("name", "code", "custom_fields"),
        _names("products"),
        lambda r: {"name": [r["name"]], "code": [r["code"] or ""]},
        _product_item,
    ),
}
LEAD_SEARCH = SearchSpec(
    "lead",
    ("title", "custom_fields", "notes"),
    _names("leads"),
    lambda r: {"title": [r["title"]]},
    _lead_item,
)
ITEM_TYPES = {
    "deal": "deals",
    "person": "persons",
    "organization": "organizations",
    "product": "products",
    "lead": "leads",
}


def _term(req: Request) -> tuple[str, bool]:
    term = (req.arg("term") or "").strip()
    exact = bool(req.bool_arg("exact_match"))
    if len(term) < (1 if exact else 2):
        raise ApiError(
            400, "Validation failed: term: Must be at least 2 characters long (1 with exact_match)"
        )
    return term.lower(), exact


def _matches(
    acct: Account,
    entity: str,
    spec: SearchSpec,
    term: str,
    exact: bool,
    fields: list[str],
    keep: Callable[[int], bool] | None = None,
) -> Iterator[tuple[float, int]]:
    table = acct.table(entity)
    wanted = [f for f in fields if f in spec.fields] if fields else list(spec.fields)
    name_field = spec.fields[0]
    needs_record = any(f not in (name_field, "custom_fields", "notes") for f in wanted)
    found = 0
    for record_id in range(1, table.max_id + 1):
        if table.deleted[record_id - 1] or (keep is not None and not keep(record_id)):
            continue
        best = score(spec.cheap_text(acct, record_id), term, exact) if name_field in wanted else 0.0
        if needs_record and best < 1.0:
            record = table.get(record_id) or {}
            for name, texts in spec.full_texts(record).items():
                if name in wanted and name != name_field:
                    best = max([best, *(score(t, term, exact) for t in texts)])
        if best:
            yield best, record_id
            found += 1
            if found >= MAX_MATCHES:
                return


def _offset(req: Request) -> int:
    text = req.arg("cursor")
    if not text:
        return 0
    try:
        return int(orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))["offset"])
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise ApiError(400, "Validation failed: cursor: Invalid cursor") from None


def _page(req: Request, results: list[tuple[float, str, int]], limit: int) -> dict[str, Any]:
    """One page of (score, entity, id) results, building only the items on the page."""
    acct = req.account
    offset = _offset(req)
    page = results[offset : offset + limit]
    more = len(results) > offset + limit
    next_cursor = (
        base64.urlsafe_b64encode(orjson.dumps({"offset": offset + limit})).decode().rstrip("=")
        if more
        else None
    )
    items = [
        {
            "result_score": round(result_score, 5),
            "item": SEARCHES.get(entity, LEAD_SEARCH).item(acct, acct.table(entity).get(record_id) or {}),
        }
        for result_score, entity, record_id in page
    ]
    return {"success": True, "data": {"items": items}, "additional_data": {"next_cursor": next_cursor}}


def _keep_filter(req: Request, entity: str, acct: Account) -> Callable[[int], bool] | None:
    table = acct.table(entity)
    checks: list[tuple[Any, int]] = []
    if entity == "deals":
        for param, attr in (("person_id", "person_id"), ("organization_id", "org_id")):
            value = req.int_arg(param)
            if value is not None:
                checks.append((table.attrs[attr], value))
        status = req.arg("status")
        if status:
            if status not in ("open", "won", "lost"):
                raise ApiError(400, "Validation failed: status: Must be one of open, won, lost")
            checks.append((table.attrs["status"], STATUS_CODES[status]))
    if entity == "persons" and req.int_arg("organization_id") is not None:
        checks.append((table.attrs["org_id"], req.int_arg("organization_id") or 0))
    if not checks:
        return None
    return lambda record_id: all(column[record_id - 1] == value for column, value in checks)


def search_entity(req: Request, entity: str) -> dict[str, Any]:
    acct = req.account
    spec = SEARCHES[entity]
    term, exact = _term(req)
    limit = parse_limit(req)
    keep = _keep_filter(req, entity, acct)
    found = sorted(
        _matches(acct, entity, spec, term, exact, req.list_arg("fields"), keep), key=lambda m: (-m[0], m[1])
    )
    return _page(req, [(s, entity, i) for s, i in found], limit)


def item_search(req: Request) -> dict[str, Any]:
    acct = req.account
    term, exact = _term(req)
    limit = parse_limit(req, ITEM_SEARCH_MAX_LIMIT)
    types = req.list_arg("item_types") or list(ITEM_TYPES)
    fields = req.list_arg("fields")
    found: list[tuple[float, int, str]] = []
    for item_type in types:
        entity = ITEM_TYPES.get(item_type)
        if entity is None:
            continue
        spec = SEARCHES.get(entity, LEAD_SEARCH)
        field_names = [f if f != "title" or entity in ("deals", "leads") else "name" for f in fields]
        found.extend((s, i, entity) for s, i in _matches(acct, entity, spec, term, exact, field_names))
    found.sort(key=lambda m: (-m[0], m[2], m[1]))
    page = _page(req, [(s, entity, i) for s, i, entity in found], limit)
    page["data"]["related_items"] = []
    return page
