"""HTTP clients and small helpers shared by the simulator's fidelity tests."""

from __future__ import annotations

import datetime as dt
from typing import Any

import requests

API_KEY = "sim-test-key-0123456789"
SEED = 42
# Enough for multi-page lists everywhere, small enough to start in a blink.
DEALS = 600
# Maton's 10 req/s per key would throttle the suite itself; the tests of that limit make their own simulator.
UNTHROTTLED = 1_000_000.0
LAYERS = ("maton", "direct")


class Api:
    """One layer of a simulator as a client sees it: Maton (`/pipedrive/api/...`) or direct (`/api/...`)."""

    def __init__(self, sim: Any, layer: str, connection_id: str | None = None) -> None:
        self.sim = sim
        self.layer = layer
        self.session = requests.Session()
        if layer == "maton":
            self.root = sim.base_url
            self.session.headers["Authorization"] = f"Bearer {sim.api_key}"
            if connection_id:
                self.session.headers["Maton-Connection"] = connection_id
        else:
            self.root = sim.direct_url
            self.session.headers["x-api-token"] = sim.api_key

    def url(self, version: str, path: str) -> str:
        return f"{self.root}/api/{version}{path}"

    def request(self, method: str, version: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", 30)
        return self.session.request(method, self.url(version, path), **kwargs)

    def get(self, version: str, path: str, params: dict | None = None, **kwargs: Any) -> requests.Response:
        return self.request("GET", version, path, params=params, **kwargs)

    def ok(self, version: str, path: str, params: dict | None = None) -> dict:
        """GET that must succeed; the parsed body."""
        response = self.get(version, path, params)
        assert response.status_code == 200, (
            f"GET {path} {params}: {response.status_code} {response.text[:500]}"
        )
        body = response.json()
        assert body["success"] is True, body
        return body

    def pages(self, version: str, path: str, params: dict | None = None, max_pages: int = 200) -> list[dict]:
        """Every page of a list, following `next_cursor` (v2) or `next_start` (v1)."""
        params = dict(params or {})
        pages = []
        for _ in range(max_pages):
            body = self.ok(version, path, params)
            pages.append(body)
            if version == "v2":
                cursor = (body.get("additional_data") or {}).get("next_cursor")
                if cursor is None:
                    return pages
                params["cursor"] = cursor
            else:
                pagination = ((body.get("additional_data") or {}).get("pagination")) or {}
                if not pagination.get("more_items_in_collection"):
                    return pages
                params["start"] = pagination["next_start"]
        raise AssertionError(f"{path}: more than {max_pages} pages")

    def all(self, version: str, path: str, params: dict | None = None) -> list[dict]:
        """Every record of a list, all pages concatenated."""
        return [record for page in self.pages(version, path, params) for record in (page["data"] or [])]


def v2_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def v1_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=dt.timezone.utc)


def rfc3339(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def query_value(query: dict, name: str) -> str | None:
    """A query parameter of a request-log entry, whether the log keeps lists or single values."""
    value = query.get(name)
    if isinstance(value, list | tuple):
        return value[0] if value else None
    return value
