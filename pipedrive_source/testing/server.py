"""The HTTP server: one loopback port serving three layers.

- `/connections[/{id}]`: Maton's connections API (Bearer API key).
- `/{app}/...`: the Maton gateway; `/pipedrive/api/v1/...` and `/pipedrive/api/v2/...` reach Pipedrive.
- `/api/v1/...`, `/v1/...`, `/api/v2/...`: Pipedrive directly (`x-api-token` or `Authorization: Bearer`).
- `GET /_simulator/stats`: the simulator's own counters (requests, 429s by cause, tokens), for benchmarks
  that run it as a separate process. Neither Maton nor Pipedrive has it; it is not in the request log.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pipedrive_source.testing.arrival import next_arrival, stamp_arrivals
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


STATS_PATH = "/_simulator/stats"


@dataclass
class Gateway:
    """Everything a request handler needs."""

    api_key: str
    connections: Connections
    pipedrive: PipedriveService
    faults: Faults
    maton_limiter: KeyRateLimiter
    log: RequestLog
    maton_refusals: int = 0
    """429 answers of Maton's own rate limit."""
    _counting: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def maton_allows(self, key: str, arrived: float | None = None) -> bool:
        """Whether Maton's rate limit lets this key's request through (a refusal is counted).

        Args:
            key: the Maton API key.
            arrived: when the request arrived (`time.monotonic()`); None: now.
        """
        if self.maton_limiter.allow(key, arrived):
            return True
        with self._counting:
            self.maton_refusals += 1
        return False

    def stats(self) -> dict[str, Any]:
        """Counters of the traffic so far: requests by layer and status, 429 answers by cause, tokens."""
        entries = list(self.log)
        refusals = dict(self.pipedrive.refusals)
        if self.maton_refusals:
            refusals["maton"] = self.maton_refusals
        return {
            "requests": len(entries),
            "by_layer": dict(Counter(entry.layer for entry in entries)),
            "by_status": {str(code): n for code, n in sorted(Counter(e.status for e in entries).items())},
            "rate_limited": refusals,
            "tokens": self.pipedrive.tokens_spent,
        }


_CREDENTIAL_HEADERS = {"authorization", "x-api-token", "cookie"}


class SimulatorHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pipedrive-simulator"
    # Headers and body leave in one send; without this a small answer waits for the client's delayed ACK
    # (~40 ms on Linux) between them.
    disable_nagle_algorithm = True
    gateway: Gateway
    arrived: float | None = None
    """When the request being handled arrived (`arrival.next_arrival`); None where the kernel does not say."""

    def handle_one_request(self) -> None:
        # HTTP clients wait for each answer before sending the next request on a connection, so nothing is
        # buffered here between requests and the peek sees the next request's first packet.
        stamped = getattr(self.server, "stamps_arrivals", False)
        self.arrived = next_arrival(self.connection) if stamped else None
        super().handle_one_request()

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
        if path == STATS_PATH and self.command == "GET":
            self._send(json_response(200, gateway.stats()))
            return
        query = parse_qs(url.query, keep_blank_values=True)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        # Limits are counted on arrival, as a gateway does; the latency stands for the upstream round trip.
        layer, connection_id, response = self._dispatch(path, query, body)
        if gateway.faults.latency:
            time.sleep(gateway.faults.latency)
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
        if not gateway.maton_allows(key, self.arrived):
            return maton_error(429, "RATE_LIMITED", "Too many requests", {"Retry-After": "1"})
        return connections_api(gateway.connections, self.command, path, query, body)

    def _maton(
        self, app: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[str, str | None, Response]:
        gateway = self.gateway
        key = bearer_key(self.headers)
        if key != gateway.api_key:
            return "maton", None, maton_error(401, "UNAUTHORIZED", "Invalid or missing Maton API key")
        if not gateway.maton_allows(key, self.arrived):
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
        """The status line, headers and body in a single `sendall` (one syscall, no Nagle wait)."""
        lines = [
            f"{self.protocol_version} {response.status} {self.responses.get(response.status, ('',))[0]}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
            *(f"{name}: {value}" for name, value in response.headers.items()),
        ]
        if response.drop:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "strict")
        if not response.drop:
            self.wfile.write(head + response.body)
            return
        # Half of the body, then the connection goes away: the client sees an incomplete read.
        self.wfile.write(head + response.body[: max(1, len(response.body) // 2)])
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)


class SimulatorServer(ThreadingHTTPServer):
    """A threading HTTP server that, when closed, also closes the connections it still holds open.

    Without that, a client's kept-alive connection would go on being answered by a stopped simulator.
    """

    daemon_threads = True
    allow_reuse_address = True
    stamps_arrivals = False
    """Whether the kernel stamps what the connections receive (`arrival.stamp_arrivals`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(*args, **kwargs)

    def server_bind(self) -> None:
        super().server_bind()
        # accepted connections inherit the option, from their first packet on
        self.stamps_arrivals = stamp_arrivals(self.socket)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        with self._open_lock:
            still_open, self._open = list(self._open), set()
        for connection in still_open:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class SimulatorServer6(SimulatorServer):
    address_family = socket.AF_INET6


def make_server(host: str, port: int, gateway: Gateway) -> SimulatorServer:
    address = require_loopback(host)
    handler = type("BoundSimulatorHandler", (SimulatorHandler,), {"gateway": gateway})
    server_class = SimulatorServer6 if ":" in address else SimulatorServer
    return server_class((address, port), handler)
