"""The route table: (method, path template) -> handler, with the token cost of each operation."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from pipedrive_source.testing.costs import DEFAULT_COST, TOKEN_COSTS
from pipedrive_source.testing.errors import ApiError

if TYPE_CHECKING:
    from pipedrive_source.testing.store import Account


@dataclass
class Response:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    drop: bool = False
    """Close the connection half-way through the body (the drop fault)."""


def json_response(status: int, payload: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, orjson.dumps(payload), headers or {})


def ok(data: Any, additional_data: Any = None, status: int = 200, **extra: Any) -> Response:
    """A success envelope; `additional_data` is omitted when None."""
    payload: dict[str, Any] = {"success": True, "data": data}
    if additional_data is not None:
        payload["additional_data"] = additional_data
    payload.update(extra)
    return json_response(status, payload)


@dataclass
class Request:
    """A Pipedrive API request after the gateway and authentication."""

    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes
    account: Account
    params: dict[str, str] = field(default_factory=dict)
    headers: Mapping[str, str] = field(default_factory=dict)

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def required_arg(self, name: str) -> str:
        """A query parameter the operation requires; missing or empty is a 400 in the words of the spec's
        validation example (`"outcome" is required.`)."""
        value = self.arg(name)
        if value is None or value == "":
            raise ApiError(400, f'"{name}" is required.')
        return value

    def int_arg(self, name: str) -> int | None:
        value = self.arg(name)
        if value is None or value == "":
            return None
        try:
            return int(value)
        except ValueError:
            raise ApiError(400, f"Validation failed: {name}: Must be an integer") from None

    def bool_arg(self, name: str) -> bool | None:
        value = self.arg(name)
        if value is None or value == "":
            return None
        lowered = value.lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0"):
            return False
        raise ApiError(400, f"Validation failed: {name}: Must be a boolean")

    def list_arg(self, name: str) -> list[str]:
        """A comma-separated (or repeated) query parameter as a list."""
        items: list[str] = []
        for value in self.query.get(name, []):
            items.extend(part.strip() for part in value.split(",") if part.strip())
        return items

    def param_int(self, name: str = "id") -> int:
        try:
            return int(self.params[name])
        except ValueError:
            raise ApiError(400, f"Validation failed: {name}: Must be an integer") from None

    def json(self) -> dict[str, Any]:
        if not self.body:
            return {}
        try:
            payload = orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise ApiError(400, "Invalid JSON body") from None
        if not isinstance(payload, dict):
            raise ApiError(400, "Request body must be a JSON object")
        return payload


Handler = Callable[[Request], Response]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    handler: Handler
    cost: int


def _compile(template: str) -> re.Pattern[str]:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return re.compile(f"^{regex}/?$")


class Router:
    """Matches a method and a path to a handler; literal segments win over `{param}` ones."""

    def __init__(self) -> None:
        self._routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, cost_key: str | None = None) -> None:
        cost = TOKEN_COSTS.get(cost_key or f"{method} {template}", DEFAULT_COST)
        self._routes.append(Route(method, template, _compile(template), handler, cost))
        # Fixed paths such as /deals/archived must be tried before /deals/{id}.
        self._routes.sort(key=lambda r: (r.template.count("{"), -len(r.template)))

    def match(self, method: str, path: str) -> tuple[Route, dict[str, str]] | None:
        for route in self._routes:
            if route.method != method:
                continue
            found = route.pattern.match(path)
            if found:
                return route, found.groupdict()
        return None

    def allows(self, path: str) -> bool:
        """Whether some method serves this path (to answer 405 rather than 404)."""
        return any(route.pattern.match(path) for route in self._routes)
