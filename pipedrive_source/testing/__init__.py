"""A local simulator of Pipedrive behind the Maton gateway, for tests, demos and benchmarks without network.

It is built from Pipedrive's published OpenAPI specs and documented behaviour, not from Pipedrive's code: it
serves the endpoints and response shapes the connector uses, with deterministic generated data.

    from pipedrive_source.testing import simulator

    with simulator(deals=2600) as sim:
        sim.base_url          # the connector's base_url (Maton layer), key sim.api_key
        sim.account().create("deals", {"title": "New deal"})

See `Simulator` for everything it offers, and `pipedrive-source simulate` to run it as a process.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pipedrive_source.testing.faults import Faults
from pipedrive_source.testing.maton import Connections
from pipedrive_source.testing.pipedrive import PipedriveService
from pipedrive_source.testing.ratelimit import KeyRateLimiter, LimitClock, PipedriveLimits
from pipedrive_source.testing.server import Gateway, LoggedRequest, RequestLog, make_server
from pipedrive_source.testing.store import Account, Sizes

DEFAULT_API_KEY = "sim-key"
POLL_SECONDS = 0.02
"""How often the serving loop checks for `stop()`: stopping takes at most this long (socketserver's default
of 0.5 s made every simulator in a test suite cost half a second to stop)."""

__all__ = ["DEFAULT_API_KEY", "Account", "LimitClock", "LoggedRequest", "Simulator", "simulator"]


class Simulator:
    """A running simulator (use `simulator()` to start and stop one).

    Attributes:
        root_url: `http://127.0.0.1:PORT`.
        base_url: the Maton gateway's Pipedrive base URL, `{root_url}/pipedrive`.
        connections_url: Maton's connections API, `{root_url}/connections`.
        direct_url: Pipedrive directly (`/api/v1/...`, `/api/v2/...`), accepting `api_key` as `x-api-token`
            or as an OAuth `Authorization: Bearer` token; it serves the account of the oldest connection.
        api_key: the only Maton API key (and Pipedrive API token) accepted.
        faults: fault switches (`Faults`).
        requests: the request log (`RequestLog` of `LoggedRequest`).
        limit_clock: the clock of the rolling rate-limit windows (Maton's 1 s, Pipedrive's 2 s); a test can
            `freeze()` and `advance()` it to check window arithmetic independently of its own speed.
    """

    def __init__(
        self,
        *,
        seed: int = 42,
        sizes: Sizes,
        connections: int = 1,
        api_key: str = DEFAULT_API_KEY,
        host: str = "127.0.0.1",
        port: int = 0,
        rate_limit: float | None = 10.0,
        plan: str = "Ultimate",
        activate_after_seconds: float | None = None,
        activate_after_polls: int | None = None,
        pipedrive_limits: bool = True,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self.api_key = api_key
        self.sizes = sizes
        self.faults = Faults()
        self.requests = RequestLog()
        self.limit_clock = LimitClock()
        self.connections = Connections(seed, sizes, connections, activate_after_seconds, activate_after_polls)
        self._gateway = Gateway(
            api_key=api_key,
            connections=self.connections,
            pipedrive=PipedriveService(
                PipedriveLimits(plan, sizes.users, self.limit_clock, enforce=pipedrive_limits), self.faults
            ),
            faults=self.faults,
            maton_limiter=KeyRateLimiter(rate_limit, self.limit_clock),
            log=self.requests,
        )
        self._server = make_server(host, port, self._gateway)
        bound_host, bound_port = str(self._server.server_address[0]), self._server.server_address[1]
        shown_host = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.root_url = f"http://{shown_host}:{bound_port}"
        self.base_url = f"{self.root_url}/pipedrive"
        self.connections_url = f"{self.root_url}/connections"
        self.direct_url = self.root_url
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def connection_ids(self) -> list[str]:
        """Ids of the ACTIVE connections, oldest first (the first is the default one)."""
        return [c.connection_id for c in self.connections.active()]

    def account(self, connection_id: str | None = None) -> Account:
        """The account (data) behind a connection; by default the oldest ACTIVE connection's."""
        if connection_id is None:
            active = self.connections.active()
            if not active:
                raise LookupError("no ACTIVE connection")
            return active[0].account
        connection = self.connections.find(connection_id)
        if connection is None:
            raise LookupError(f"no connection {connection_id}")
        return connection.account

    def activate(self, connection_id: str) -> None:
        """Make a PENDING connection ACTIVE, as if its user had completed the authorization URL."""
        self.connections.activate(connection_id)

    def reconnect(self, connection_id: str, keep_old: bool = False) -> str:
        """Replace a connection by a new one to the same company (see `Connections.reconnect`; `keep_old`
        keeps both); the new connection's id. It is the newest connection: the default only when no other
        is ACTIVE."""
        return self.connections.reconnect(connection_id, keep_old).connection_id

    def stats(self) -> dict[str, Any]:
        """What `GET {root_url}/_simulator/stats` answers: requests by layer and status, 429 answers by cause
        (`maton`, `burst`, `daily`, `fault`) and the tokens the requests cost."""
        return self._gateway.stats()

    def warm(self) -> None:
        """Generate the large tables of every ACTIVE account now, instead of on the first request."""
        for connection in self.connections.active():
            connection.account.warm()

    def start(self) -> Simulator:
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": POLL_SECONDS},
            name="pipedrive-simulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def serve_forever(self) -> None:
        """Serve in the calling thread until interrupted (used by `pipedrive-source simulate`)."""
        try:
            self._server.serve_forever(poll_interval=POLL_SECONDS)
        finally:
            self._server.server_close()


@contextmanager
def simulator(
    seed: int = 42,
    deals: int = 2600,
    persons: int | None = None,
    organizations: int | None = None,
    activities: int | None = None,
    products: int | None = None,
    connections: int = 1,
    api_key: str = "test-key",
    port: int = 0,
    rate_limit: float | None = 10.0,
    *,
    notes: int | None = None,
    leads: int | None = None,
    users: int = 12,
    host: str = "127.0.0.1",
    plan: str = "Ultimate",
    activate_after_seconds: float | None = None,
    activate_after_polls: int | None = None,
    pipedrive_limits: bool = True,
) -> Iterator[Simulator]:
    """Run a simulator on a loopback port for the duration of the block.

    Sizes left as None are derived from `deals` (persons ~ deals/2, organizations ~ deals/7, activities ~ 2 x
    deals, products 50, notes ~ deals/2, leads ~ deals/5, users 12; projects ~ deals/25 with ~4 tasks each,
    mail threads ~ deals/4, organization relationships ~ organizations/8). `rate_limit` is the Maton
    requests/second limit per key (None: no limit); `plan` sets Pipedrive's burst limits and daily token
    budget, which `pipedrive_limits=False` counts in the `x-ratelimit-*` headers without ever refusing (for
    test suites that send more requests than a real account accepts). A connection created through the
    connections API stays PENDING until `Simulator.activate()`, or until `activate_after_seconds` have passed
    or it has been polled (`GET /connections/{id}`) `activate_after_polls` times.
    """
    sizes = Sizes.derive(
        deals,
        persons=persons,
        organizations=organizations,
        activities=activities,
        products=products,
        notes=notes,
        leads=leads,
        users=users,
    )
    sim = Simulator(
        seed=seed,
        sizes=sizes,
        connections=connections,
        api_key=api_key,
        host=host,
        port=port,
        rate_limit=rate_limit,
        plan=plan,
        activate_after_seconds=activate_after_seconds,
        activate_after_polls=activate_after_polls,
        pipedrive_limits=pipedrive_limits,
    ).start()
    try:
        yield sim
    finally:
        sim.stop()
