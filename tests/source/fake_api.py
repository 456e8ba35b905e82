"""A minimal Pipedrive for unit tests, on `responses`: list endpoints that page and filter like the real ones.

Only what the unit tests look at: v2 cursor pages, v1 `start`/`limit` pages, `updated_since` and ascending
`update_time` order. The full-fidelity stand-in is the simulator (`pipedrive_source.testing`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import responses

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples"
BASE_URL = "https://api.maton.ai/pipedrive"
KEY = "unit-test-maton-key-0123456789"


def example(name: str) -> Any:
    """The `example` payload of `tests/data/examples/<name>.json`."""
    return json.loads((EXAMPLES / f"{name}.json").read_text())["example"]


def _rfc3339(update_time: str) -> str:
    return update_time.replace(" ", "T") + ("" if update_time.endswith("Z") else "Z")


@dataclass
class FakePipedrive:
    """Records per list path, served through `responses` under `BASE_URL`."""

    mock: responses.RequestsMock
    lists: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    failures: dict[str, list[tuple[int, dict[str, str], Any] | None]] = field(default_factory=dict)
    """Per path: answers to give (status, headers, body) before the data, one per request; None: the data."""
    headers: dict[str, str] = field(default_factory=dict)
    """Headers added to every data answer."""

    def serve(self, path: str, records: list[dict[str, Any]]) -> None:
        self.lists[path] = records
        handler: Callable[[Any], tuple[int, dict[str, str], str]] = (
            self._v2_page if path.startswith("api/v2/") else self._v1_page
        )
        self.mock.add_callback(responses.GET, f"{BASE_URL}/{path}", callback=self._failing_or(path, handler))

    def serve_object(self, path: str, data: dict[str, Any]) -> None:
        """A single-object endpoint such as `users/me`."""
        body = json.dumps({"success": True, "data": data})

        def answer(request: Any) -> tuple[int, dict[str, str], str]:
            return 200, {"content-type": "application/json"}, body

        self.mock.add_callback(responses.GET, f"{BASE_URL}/{path}", callback=self._failing_or(path, answer))

    def fail(
        self, path: str, status: int, body: Any, headers: dict[str, str] | None = None, after: int = 0
    ) -> None:
        """Answer `status` to a request of `path`, after `after` requests that get the data."""
        self.failures.setdefault(path, []).extend([None] * after + [(status, headers or {}, body)])

    def requests_to(self, path: str) -> list[dict[str, str]]:
        """The query parameters of every request sent to `path`, in order."""
        return [
            dict(parse_qsl(urlsplit(call.request.url).query))
            for call in self.mock.calls
            if urlsplit(call.request.url).path == f"/pipedrive/{path}"
        ]

    def _failing_or(self, path: str, handler: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def answer(request: Any) -> Any:
            pending = self.failures.get(path)
            failure = pending.pop(0) if pending else None
            if failure is not None:
                status, headers, body = failure
                text = body if isinstance(body, str) else json.dumps(body)
                content_type = "text/html" if isinstance(body, str) else "application/json"
                return status, {"content-type": content_type, **headers}, text
            status, headers, text = handler(request)
            return status, {**headers, **self.headers}, text

        return answer

    def _selected(self, path: str, query: dict[str, str]) -> list[dict[str, Any]]:
        records = self.lists[path]
        since = query.get("updated_since")
        if since:
            records = [r for r in records if _rfc3339(r["update_time"]) >= since]
        until = query.get("updated_until")
        if until:
            records = [r for r in records if _rfc3339(r["update_time"]) < until]
        if query.get("sort_by") == "update_time" or query.get("sort", "").startswith("update_time"):
            records = sorted(
                records,
                key=lambda r: (_rfc3339(r["update_time"]), r["id"]),
                reverse=query.get("sort_direction") == "desc",
            )
        return records

    def _v2_page(self, request: Any) -> tuple[int, dict[str, str], str]:
        path = urlsplit(request.url).path.removeprefix("/pipedrive/")
        query = dict(parse_qsl(urlsplit(request.url).query))
        records = self._selected(path, query)
        start = int(base64.b64decode(query["cursor"])) if "cursor" in query else 0
        limit = int(query.get("limit", 100))
        page = records[start : start + limit]
        more = start + limit < len(records)
        cursor = base64.b64encode(str(start + limit).encode()).decode() if more else None
        body = {"success": True, "data": page, "additional_data": {"next_cursor": cursor}}
        return 200, {"content-type": "application/json"}, json.dumps(body)

    def _v1_page(self, request: Any) -> tuple[int, dict[str, str], str]:
        path = urlsplit(request.url).path.removeprefix("/pipedrive/")
        query = dict(parse_qsl(urlsplit(request.url).query))
        records = self._selected(path, query)
        start, limit = int(query.get("start", 0)), int(query.get("limit", 100))
        page = records[start : start + limit]
        more = start + limit < len(records)
        pagination = {"start": start, "limit": limit, "more_items_in_collection": more}
        if more:
            pagination["next_start"] = start + limit
        body = {"success": True, "data": page or None, "additional_data": {"pagination": pagination}}
        return 200, {"content-type": "application/json"}, json.dumps(body)


def deal(deal_id: int, update_time: str, **values: Any) -> dict[str, Any]:
    """A v2 deal shaped like the spec's example."""
    record = dict(example("v2_deals_list")["data"][0])
    record.update(id=deal_id, title=f"Deal {deal_id}", update_time=update_time, custom_fields={})
    record.update(values)
    return record


def note(note_id: int, update_time: str, **values: Any) -> dict[str, Any]:
    """A v1 note shaped like the spec's example."""
    record = dict(example("v1_notes_list")["data"][0])
    record.update(id=note_id, content=f"Note {note_id}", update_time=update_time)
    record.update(values)
    return record


def deal_fields() -> list[dict[str, Any]]:
    """The spec's dealFields example: two built-in fields and the custom enum `Priority`."""
    fields: list[dict[str, Any]] = example("v2_dealFields_list")["data"]
    return fields
