"""The HTTP server: one loopback port serving three layers.

- `/connections[/{id}]`: Maton's connections API (Bearer API key).
- `/{app}/...`: the Maton gateway; `/pipedrive/api/v1/...` and `/pipedrive/api/v2/...` reach Pipedrive.
- `/api/v1/...`, `/v1/...`, `/api/v2/...`: Pipedrive directly (`x-api-token` or `Authorization: Bearer`).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pipedrive_source.testing.errors import UNAUTHORIZED_BODY
from pipedrive_source.testing.faults import Faults
from pipedrive_source.testing.maton import (
    APP,
    Connections,
    bearer_key,
    choose_connection,
    connections_api,
    first_value,
    maton_error,
)
from pipedrive_source.testing.pipedrive import PipedriveService
from pipedrive_source.testing.ratelimit import KeyRateLimiter
from pipedrive_source.testing.routes import Response, json_response

SECRET_QUERY_KEYS = ("api_token",)
"""Query parameters never written to the request log."""


def require_loopback(host: str) -> str:
    """The host itself when it is a loopback address; the simulator refuses to listen anywhere else.

    Raises:
        ValueError: for any other host.
    """
    if host == "localhost":
        return "127.0.0.1"
    try:
        if ipaddress.ip_address(host).is_loopback:
            return host
    except ValueError:
        pass
    raise ValueError(f"the simulator only listens on loopback addresses, not {host!r}")


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the simulator saw it (never with credentials)."""

    method: str
    path: str
    query: dict[str, str]
    status: int
    connection_id: str | None
    layer: str
    """"maton" | "direct" | "connections\""""
    duration: float = 0.0
    """Seconds from receiving the request to having its answer ready (latency fault included)."""
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    """Request headers other than credentials (`Authorization`, `x-api-token` are left out)."""


class RequestLog(list[LoggedRequest]):
    """The request log: a list of `LoggedRequest`, appended to by the server threads."""

    def __init__(self) -> None:
        super().__init__()
        self._lock = threading.Lock()

    def record(self, entry: LoggedRequest) -> None:
        with self._lock:
            self.append(entry)

    def by_layer(self, layer: str) -> list[LoggedRequest]:
        return [entry for entry in list(self) if entry.layer == layer]


@dataclass
class Gateway:
    """Everything a request handler needs."""

    api_key: str
    connections: Connections
    pipedrive: PipedriveService
    faults: Faults
    maton_limiter: KeyRateLimiter
    log: RequestLog


_CREDENTIAL_HEADERS = {"authorization", "x-api-token", "cookie"}


class SimulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pipedrive-simulator"
    gateway: Gateway

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log: the request log is the record of traffic."""

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        started = time.perf_counter()
        gateway = self.gateway
        url = urlsplit(self.path)
        path = url.path
        query = parse_qs(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if gateway.faults.latency:
            time.sleep(gateway.faults.latency)
        layer, connection_id, response = self._dispatch(path, query, body)
        # Logged before answering, so a client that has its answer finds the request in the log.
        gateway.log.record(
            LoggedRequest(
                method=self.command,
                path=path,
                query={k: ("***" if k in SECRET_QUERY_KEYS else v[-1]) for k, v in query.items()},
                status=response.status,
                connection_id=connection_id,
                layer=layer,
                duration=time.perf_counter() - started,
                headers={k: v for k, v in self.headers.items() if k.lower() not in _CREDENTIAL_HEADERS},
            )
        )
        self._send(response)

    def _dispatch(
        self, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[str, str | None, Response]:
        first = path.split("/", 2)[1] if path.count("/") >= 1 else ""
        if first == "connections":
            return "connections", None, self._connections(path, query, body)
        if first in ("api", "v1"):
            return "direct", None, self._direct(path, query, body)
        return self._maton(first, path, query, body)

    def _connections(self, path: str, query: dict[str, list[str]], body: bytes) -> Response:
        gateway = self.gateway
        key = bearer_key(self.headers)
        if key != gateway.api_key:
            return maton_error(401, "UNAUTHORIZED", "Invalid or missing Maton API key")
        if not gateway.maton_limiter.allow(key):
            return maton_error(429, "RATE_LIMITED", "Too many requests", {"Retry-After": "1"})
        return connections_api(gateway.connections, self.command, path, query, body)

    def _maton(
        self, app: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[str, str | None, Response]:
        gateway = self.gateway
        key = bearer_key(self.headers)
        if key != gateway.api_key:
            return "maton", None, maton_error(401, "UNAUTHORIZED", "Invalid or missing Maton API key")
        if not gateway.maton_limiter.allow(key):
            limited = maton_error(
                429,
                "RATE_LIMITED",
                f"Rate limit exceeded: {gateway.maton_limiter.rate:g} requests per second",
                {"Retry-After": "1"},
            )
            return "maton", None, limited
        if app != APP:
            return "maton", None, maton_error(400, "MISSING_CONNECTION", f"Missing connection for app {app}")
        chosen = choose_connection(gateway.connections, self.headers.get("Maton-Connection"))
        if isinstance(chosen, Response):
            return "maton", None, chosen
        upstream_path = path[len(APP) + 1 :] or "/"
        response = gateway.pipedrive.handle(
            chosen.account,
            chosen.connection_id,
            f"oauth:{chosen.connection_id}",
            True,
            self.command,
            upstream_path,
            query,
            body,
            dict(self.headers.items()),
        )
        return "maton", chosen.connection_id, response

    def _direct(self, path: str, query: dict[str, list[str]], body: bytes) -> Response:
        gateway = self.gateway
        token = self.headers.get("x-api-token")
        oauth = bearer_key(self.headers)
        if path.startswith("/v1/") or path.startswith("/api/v1/"):
            token = token or first_value(query, "api_token")
        supplied = token or oauth
        if supplied != gateway.api_key:
            return json_response(401, UNAUTHORIZED_BODY, {"x-401-by-gw": "true"})
        connection = gateway.connections.all()[0] if gateway.connections.all() else None
        if connection is None:
            return json_response(401, UNAUTHORIZED_BODY, {"x-401-by-gw": "true"})
        kind = "api" if token else "oauth"
        return gateway.pipedrive.handle(
            connection.account,
            connection.connection_id,
            f"{kind}:direct",
            kind == "oauth",
            self.command,
            path,
            query,
            body,
            dict(self.headers.items()),
        )

    def _send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if response.drop:
            self.send_header("Connection", "close")
        self.end_headers()
        if not response.drop:
            self.wfile.write(response.body)
            return
        # Half of the body, then the connection goes away: the client sees an incomplete read.
        self.wfile.write(response.body[: max(1, len(response.body) // 2)])
        self.wfile.flush()
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class SimulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class SimulatorServer6(SimulatorServer):
    address_family = socket.AF_INET6


def make_server(host: str, port: int, gateway: Gateway) -> SimulatorServer:
    address = require_loopback(host)
    handler = type("BoundSimulatorHandler", (SimulatorHandler,), {"gateway": gateway})
    server_class = SimulatorServer6 if ":" in address else SimulatorServer
    return server_class((address, port), handler)
