"""Pagination as Pipedrive does it: opaque cursors in API v2, `start`/`limit` offsets in API v1."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson

from pipedrive_source.testing import clock
from pipedrive_source.testing.errors import ApiError
from pipedrive_source.testing.routes import Request

V2_DEFAULT_LIMIT = 100
V2_MAX_LIMIT = 500
V1_DEFAULT_LIMIT = 100
V1_MAX_LIMIT = 500

# Cursor field values: how a sort value (an int in the table) is written into and read from the cursor.
_TIME_FIELDS = ("update_time", "add_time")


def parse_limit(req: Request, maximum: int = V2_MAX_LIMIT, default: int = V2_DEFAULT_LIMIT) -> int:
    """The v2 `limit`: default 100; above the maximum is a 400, as in Pipedrive."""
    limit = req.int_arg("limit")
    if limit is None:
        return default
    if limit < 1:
        raise ApiError(400, "Validation failed: limit: Number must be greater than or equal to 1")
    if limit > maximum:
        raise ApiError(400, f"Validation failed: limit: Number must be less than or equal to {maximum}")
    return limit


def parse_sort(req: Request, allowed: tuple[str, ...], default: str = "id") -> tuple[str, bool]:
    sort_by = req.arg("sort_by") or default
    if sort_by not in allowed:
        raise ApiError(400, f"Validation failed: sort_by: Must be one of {', '.join(allowed)}")
    direction = req.arg("sort_direction") or "asc"
    if direction not in ("asc", "desc"):
        raise ApiError(400, "Validation failed: sort_direction: Must be one of asc, desc")
    return sort_by, direction == "desc"


def parse_time_arg(req: Request, name: str) -> int | None:
    value = req.arg(name)
    if not value:
        return None
    try:
        return clock.parse_time(value)
    except ValueError:
        raise ApiError(400, f"Validation failed: {name}: Must be a valid RFC3339 date-time") from None


def _write_value(field: str, value: Any) -> Any:
    if field in _TIME_FIELDS and isinstance(value, int):
        return clock.rfc3339(value)
    if field == "due_date" and isinstance(value, int):
        return clock.iso_date(value * clock.DAY)
    return value


def _read_value(field: str, value: Any) -> Any:
    if field in _TIME_FIELDS and isinstance(value, str):
        return clock.parse_time(value)
    if field == "due_date" and isinstance(value, str):
        return clock.parse_date(value) // clock.DAY
    return value


def encode_cursor(field: str, value: Any, descending: bool, record_id: Any) -> str:
    """An opaque cursor shaped like Pipedrive's: base64 of `{field, fieldValue, sortDirection, id}`."""
    payload = {
        "field": field,
        "fieldValue": _write_value(field, value),
        "sortDirection": "desc" if descending else "asc",
        "id": record_id,
    }
    return base64.urlsafe_b64encode(orjson.dumps(payload)).decode().rstrip("=")


def decode_cursor(req: Request, field: str, descending: bool) -> tuple[Any, Any] | None:
    """The (sort value, id) after which the page starts, or None without a cursor.

    Raises:
        ApiError: 400 for a cursor that is malformed or made for another sort order.
    """
    text = req.arg("cursor")
    if not text:
        return None
    try:
        payload = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        if payload["field"] != field or payload["sortDirection"] != ("desc" if descending else "asc"):
            raise ValueError("cursor made for another sort order")
        return _read_value(field, payload["fieldValue"]), payload["id"]
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        raise ApiError(400, "Validation failed: cursor: Invalid cursor") from None


def v2_envelope(items: list[Any], next_cursor: str | None) -> dict[str, Any]:
    return {"success": True, "data": items, "additional_data": {"next_cursor": next_cursor}}


def take(ids: Iterable[Any], keep: Callable[[Any], bool], limit: int) -> tuple[list[Any], bool]:
    """Up to `limit` ids passing `keep`, and whether there are more."""
    chosen: list[Any] = []
    for item in ids:
        if keep(item):
            if len(chosen) == limit:
                return chosen, True
            chosen.append(item)
    return chosen, False


def page_of_list(
    req: Request,
    records: list[dict[str, Any]],
    sort_fields: dict[str, Callable[[dict[str, Any]], Any]],
    default_sort: str = "id",
    maximum: int = V2_MAX_LIMIT,
    id_key: str = "id",
) -> dict[str, Any]:
    """A v2 page over a small in-memory list, keyset-paginated on (sort value, id)."""
    limit = parse_limit(req, maximum)
    sort_by, descending = parse_sort(req, tuple(sort_fields), default_sort)
    value_of = sort_fields[sort_by]

    def key(record: dict[str, Any]) -> tuple[Any, Any]:
        return value_of(record), record[id_key]

    ordered = sorted(records, key=key, reverse=descending)
    after = decode_cursor(req, sort_by, descending)
    if after is not None:
        ordered = [r for r in ordered if (key(r) < after if descending else key(r) > after)]
    page, more = ordered[:limit], len(ordered) > limit
    next_cursor = encode_cursor(sort_by, value_of(page[-1]), descending, page[-1][id_key]) if more else None
    return v2_envelope(page, next_cursor)


def offset_page(
    req: Request, items: Iterable[Any], default: int = V1_DEFAULT_LIMIT, maximum: int = V1_MAX_LIMIT
) -> tuple[list[Any], dict[str, Any]]:
    """A v1 page from `start`, at most `limit` items (above the maximum: 400), and its `pagination`."""
    start = req.int_arg("start") or 0
    if start < 0:
        raise ApiError(400, "Validation failed: start: Must be greater than or equal to 0")
    limit = req.int_arg("limit")
    if limit is None:
        limit = default
    elif limit < 1 or limit > maximum:
        raise ApiError(400, f"Validation failed: limit: Must be between 1 and {maximum}")
    iterator: Iterator[Any] = iter(items)
    window = list(itertools.islice(iterator, start, start + limit + 1))
    more = len(window) > limit
    page = window[:limit]
    pagination: dict[str, Any] = {"start": start, "limit": limit, "more_items_in_collection": more}
    if more:
        pagination["next_start"] = start + limit
    return page, pagination
