"""The request log records what was asked and answered, and never the key."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from pipedrive_source.testing import simulator
from tests.simulator.clients import API_KEY, SEED, UNTHROTTLED, Api, query_value


@pytest.fixture(scope="module")
def logged() -> Iterator[Any]:
    with simulator(seed=SEED, deals=30, connections=2, api_key=API_KEY, rate_limit=UNTHROTTLED) as private:
        yield private


def entry_text(entry) -> str:
    return " ".join(
        str(getattr(entry, name, ""))
        for name in ("method", "path", "query", "status", "connection_id", "layer")
    ) + repr(entry)


def test_maton_request_is_logged(logged):
    sim = logged
    sim.requests.clear()
    Api(sim, "maton", sim.connection_ids[1]).get("v2", "/deals", {"limit": 5, "status": "won"})
    entries = list(sim.requests)
    assert len(entries) == 1, entries
    [entry] = entries
    assert entry.method == "GET"
    assert entry.path.endswith("/api/v2/deals")
    assert query_value(entry.query, "limit") == "5"
    assert query_value(entry.query, "status") == "won"
    assert entry.status == 200
    assert entry.layer == "maton"
    assert entry.connection_id == sim.connection_ids[1]


def test_direct_and_connections_requests_are_logged(logged):
    sim = logged
    sim.requests.clear()
    Api(sim, "direct").get("v1", "/notes/987654321")
    requests.get(sim.connections_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
    entries = list(sim.requests)
    assert len(entries) == 2, entries
    direct, connections = entries
    assert (direct.method, direct.status, direct.layer) == ("GET", 404, "direct")
    assert direct.path.endswith("/api/v1/notes/987654321")
    assert (connections.layer, connections.status) == ("connections", 200)


def test_writes_and_refusals_are_logged(logged):
    sim = logged
    sim.requests.clear()
    api = Api(sim, "maton")
    api.request("POST", "v2", "/deals", json={"title": "Logged deal"})
    requests.get(f"{sim.base_url}/api/v2/deals", headers={"Authorization": "Bearer wrong-key"}, timeout=30)
    assert [(entry.method, entry.status) for entry in sim.requests] == [("POST", 200), ("GET", 401)]


def test_the_key_is_never_logged(logged):
    sim = logged
    sim.requests.clear()
    Api(sim, "maton").get("v2", "/deals", {"limit": 1})
    Api(sim, "direct").get("v2", "/deals", {"limit": 1})
    # Pipedrive also takes the token as a query parameter; a log must not keep it from there either.
    requests.get(f"{sim.direct_url}/api/v1/users/me", params={"api_token": API_KEY}, timeout=30)
    requests.get(sim.connections_url, headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30)
    entries = list(sim.requests)
    assert len(entries) == 4
    leaked = [entry_text(entry) for entry in entries if API_KEY in entry_text(entry)]
    assert not leaked


def test_log_can_be_cleared(logged):
    sim = logged
    Api(sim, "maton").get("v2", "/deals", {"limit": 1})
    assert len(sim.requests) >= 1
    sim.requests.clear()
    assert len(sim.requests) == 0


def test_stats_count_requests_refusals_and_tokens(make_sim):
    """`GET /_simulator/stats` (simulator-only, for benchmarks running it as a process) sums it all up."""
    sim = make_sim(deals=20, rate_limit=10.0)
    sim.limit_clock.freeze()
    api = Api(sim, "maton")
    statuses = [api.get("v2", "/deals", {"limit": 5}).status_code for _ in range(12)]
    assert statuses == [200] * 10 + [429] * 2
    api.get("v1", "/notes", {"limit": 5})  # still refused by Maton: the clock is frozen
    sim.limit_clock.advance(1.0)
    assert api.get("v1", "/notes", {"limit": 5}).status_code == 200
    sim.faults.burst_429(1)
    assert api.get("v2", "/deals", {"limit": 5}).status_code == 429

    stats = requests.get(f"{sim.root_url}/_simulator/stats", timeout=30).json()
    assert stats["requests"] == 15 == len(sim.requests)
    assert stats["by_layer"] == {"maton": 15}
    assert stats["by_status"] == {"200": 11, "429": 4}
    assert stats["rate_limited"] == {"maton": 3, "fault": 1}
    # a v2 list page costs 10 tokens, a v1 list page 20 (`x-token-cost`); the burst answer was charged too
    assert stats["tokens"] == 10 * 10 + 20 + 10
    assert sim.stats() == stats
    assert all(entry.path != "/_simulator/stats" for entry in sim.requests)
