"""The Maton gateway: API-key authentication, connection selection, the connections API and its rate limit.

Maton documents its status codes but not its error bodies (`tests/data/examples/maton.json`: "_body_shape: NOT
documented"). The simulator answers gateway errors with `{"error": {"status": <int>, "code": <str>, "message":
<str>}}` and JSON content type:

| status | code | when |
|---|---|---|
| 401 | `UNAUTHORIZED` | no `Authorization: Bearer`, or not the simulator's API key |
| 400 | `MISSING_CONNECTION` | no ACTIVE connection for the app, or an app other than `pipedrive` |
| 400 | `INVALID_CONNECTION` | `Maton-Connection` names no connection of the key, or one not ACTIVE |
| 404 | `NOT_FOUND` | connections API: no connection with that id |
| 429 | `RATE_LIMITED` | over `rate_limit` requests in a rolling second for the key (`Retry-After: 1`) |

An unknown `Maton-Connection` answers 400, not 404: it is the documented "missing connection" family of
errors, and a 404 would be indistinguishable from Pipedrive's own 404 for a missing record, which Maton
passes through.

Connections API answers (shapes of `maton.json`): list `{"connections": [...]}`, get and create
`{"connection": {...}}` (create: 201, status PENDING with a `url`), delete `{"connection_id": ..., "status":
"DELETED"}`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import orjson

from pipedrive_source.testing.clock import REFERENCE_INSTANT
from pipedrive_source.testing.dice import mix
from pipedrive_source.testing.routes import Response, json_response
from pipedrive_source.testing.store import Account, Sizes

APP = "pipedrive"
METHODS = ("OAUTH2", "API_KEY", "BASIC", "OAUTH1", "MCP")


def maton_error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    return json_response(status, {"error": {"status": status, "code": code, "message": message}}, headers)


def _iso(ts: float) -> str:
    return (
        datetime.fromtimestamp(ts, tz=timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")
    )


@dataclass
class Connection:
    """A Maton connection to one Pipedrive company."""

    connection_id: str
    status: str
    creation_time: float
    last_updated_time: float
    method: str
    session_token: str
    make_account: Callable[[], Account]
    activate_at: float | None = None
    activate_after_polls: int | None = None
    polls: int = 0
    _account: Account | None = field(default=None, repr=False)

    @property
    def account(self) -> Account:
        if self._account is None:
            self._account = self.make_account()
        return self._account

    def view(self) -> dict[str, Any]:
        return {
            "connection_id": self.connection_id,
            "status": self.status,
            "creation_time": _iso(self.creation_time),
            "last_updated_time": _iso(self.last_updated_time),
            "url": f"https://connect.maton.ai/?session_token={self.session_token}",
            "app": APP,
            "method": self.method,
            "metadata": {},
        }


class Connections:
    """The connections of the simulator's Maton API key, oldest first."""

    def __init__(
        self,
        seed: int,
        sizes: Sizes,
        count: int,
        activate_after_seconds: float | None = None,
        activate_after_polls: int | None = None,
    ) -> None:
        self.seed = seed
        self.sizes = sizes
        self.activate_after_seconds = activate_after_seconds
        self.activate_after_polls = activate_after_polls
        self._lock = threading.RLock()
        self._items: list[Connection] = []
        # Ids and accounts come from a creation counter, not the list's length: after a delete, the next
        # connection created must not take the id of one still listed.
        self._created = count
        for index in range(count):
            created = REFERENCE_INSTANT - (count - index) * 86400 * 30 + index * 3607.25
            self._items.append(self._new(index, "ACTIVE", created, "OAUTH2"))

    def _new(self, index: int, status: str, created: float, method: str) -> Connection:
        account_seed = self.seed if index == 0 else mix(self.seed, "account", index) % (1 << 31)
        return Connection(
            connection_id=self._uuid(index),
            status=status,
            creation_time=created,
            last_updated_time=created,
            method=method,
            session_token=format(mix(self.seed, "session", index), "016x") * 2,
            make_account=lambda: Account(account_seed, self.sizes),
        )

    def _uuid(self, index: int) -> str:
        high, low = mix(self.seed, "connection", index), mix(index, "connection", self.seed)
        text = format((high << 64) | low, "032x")
        return f"{text[:8]}-{text[8:12]}-4{text[13:16]}-a{text[17:20]}-{text[20:32]}"

    def _refresh(self, connection: Connection) -> None:
        """Activate a PENDING connection whose simulated authorization is due."""
        if connection.status != "PENDING":
            return
        due_time = connection.activate_at is not None and time.time() >= connection.activate_at
        due_polls = (
            connection.activate_after_polls is not None
            and connection.polls >= connection.activate_after_polls
        )
        if due_time or due_polls:
            connection.status = "ACTIVE"
            connection.last_updated_time = time.time()

    def all(self) -> list[Connection]:
        with self._lock:
            for connection in self._items:
                self._refresh(connection)
            return list(self._items)

    def find(self, connection_id: str, poll: bool = False) -> Connection | None:
        with self._lock:
            for connection in self._items:
                if connection.connection_id == connection_id:
                    if poll:
                        connection.polls += 1
                    self._refresh(connection)
                    return connection
            return None

    def active(self) -> list[Connection]:
        return [c for c in self.all() if c.status == "ACTIVE"]

    def create(self, method: str = "OAUTH2") -> Connection:
        with self._lock:
            now = time.time()
            connection = self._new(self._created, "PENDING", now, method)
            self._created += 1
            if self.activate_after_seconds is not None:
                connection.activate_at = now + self.activate_after_seconds
            connection.activate_after_polls = self.activate_after_polls
            self._items.append(connection)
            return connection

    def reconnect(self, connection_id: str, keep_old: bool = False) -> Connection:
        """A new ACTIVE connection to the company of `connection_id`, which is deleted unless `keep_old`:
        what a user does when an authorization FAILED (delete the connection, create a new one, log in to
        the same Pipedrive company). The new connection has a new id and reaches the same data."""
        with self._lock:
            old = self.find(connection_id)
            if old is None:
                raise KeyError(f"no connection {connection_id}")
            connection = self.create(old.method)
            connection._account = old.account
            connection.status = "ACTIVE"
            if not keep_old:
                self.delete(connection_id)
            return connection

    def activate(self, connection_id: str) -> Connection:
        with self._lock:
            connection = self.find(connection_id)
            if connection is None:
                raise KeyError(f"no connection {connection_id}")
            connection.status = "ACTIVE"
            connection.last_updated_time = time.time()
            return connection

    def delete(self, connection_id: str) -> bool:
        with self._lock:
            before = len(self._items)
            self._items = [c for c in self._items if c.connection_id != connection_id]
            return len(self._items) != before


def first_value(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def bearer_key(headers: Any) -> str | None:
    value = headers.get("Authorization") or ""
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def choose_connection(connections: Connections, header_value: str | None) -> Connection | Response:
    """The connection a proxied request uses, or the gateway's error answer."""
    if header_value:
        connection = connections.find(header_value.strip())
        if connection is None:
            return maton_error(
                400, "INVALID_CONNECTION", f"No connection {header_value.strip()} for app {APP}"
            )
        if connection.status != "ACTIVE":
            return maton_error(
                400, "INVALID_CONNECTION", f"Connection {connection.connection_id} is not ACTIVE"
            )
        return connection
    active = connections.active()
    if not active:
        return maton_error(400, "MISSING_CONNECTION", f"Missing connection for app {APP}: create one first")
    return active[0]


def connections_api(
    connections: Connections, method: str, path: str, query: dict[str, list[str]], body: bytes
) -> Response:
    """`/connections` and `/connections/{id}`."""
    parts = [p for p in path.split("/") if p]
    if len(parts) == 1:
        if method == "GET":
            app = first_value(query, "app")
            status = first_value(query, "status")
            items = [
                c.view()
                for c in connections.all()
                if (app is None or app == APP) and (status is None or c.status == status.upper())
            ]
            return json_response(200, {"connections": items})
        if method == "POST":
            try:
                payload = orjson.loads(body or b"{}")
            except orjson.JSONDecodeError:
                return maton_error(400, "INVALID_REQUEST", "Body must be JSON")
            if not isinstance(payload, dict) or payload.get("app") != APP:
                return maton_error(
                    400, "INVALID_REQUEST", f"Unsupported app: this gateway simulates only '{APP}'"
                )
            connection_method = str(payload.get("method") or "OAUTH2").upper()
            if connection_method not in METHODS:
                return maton_error(400, "INVALID_REQUEST", f"method must be one of {', '.join(METHODS)}")
            return json_response(201, {"connection": connections.create(connection_method).view()})
        return maton_error(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on /connections")
    if len(parts) == 2:
        connection_id = parts[1]
        if method == "GET":
            connection = connections.find(connection_id, poll=True)
            if connection is None:
                return maton_error(404, "NOT_FOUND", f"No connection {connection_id}")
            return json_response(200, {"connection": connection.view()})
        if method == "DELETE":
            if not connections.delete(connection_id):
                return maton_error(404, "NOT_FOUND", f"No connection {connection_id}")
            return json_response(200, {"connection_id": connection_id, "status": "DELETED"})
        return maton_error(405, "METHOD_NOT_ALLOWED", f"{method} is not allowed on /connections/{{id}}")
    return maton_error(404, "NOT_FOUND", "Not found")
