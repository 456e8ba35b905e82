"""Every fault the simulator can inject looks to a client like the real failure it stands for."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from pipedrive_source.testing import simulator
from tests.openapi_schemas import assert_matches_spec
from tests.simulator.clients import API_KEY, LAYERS, SEED, UNTHROTTLED, Api

ERRORS = json.loads((Path(__file__).parents[1] / "data" / "examples" / "errors.json").read_text())


@pytest.fixture(scope="module", params=LAYERS)
def faulty(request) -> Iterator[Api]:
    """A simulator of this module's own (faults are global to a simulator), through each layer."""
    with simulator(seed=SEED, deals=30, api_key=API_KEY, rate_limit=UNTHROTTLED) as private:
        yield Api(private, request.param)


@pytest.fixture
def api(faulty) -> Iterator[Api]:
    faulty.sim.faults.clear()
    yield faulty
    faulty.sim.faults.clear()


def statuses(api: Api, count: int, path: str = "/deals") -> list[int]:
    return [api.get("v2", path, {"limit": 5}).status_code for _ in range(count)]


def test_latency_is_added_to_every_request(api):
    api.ok("v2", "/deals", {"limit": 5})
    api.sim.faults.latency = 0.15
    for _ in range(2):
        started = time.perf_counter()
        api.ok("v2", "/deals", {"limit": 5})
        assert 0.15 <= time.perf_counter() - started < 1.5
    api.sim.faults.clear()
    started = time.perf_counter()
    api.ok("v2", "/deals", {"limit": 5})
    assert time.perf_counter() - started < 0.15


@pytest.mark.parametrize("status", [500, 503])
def test_error_every_nth_request(api, status):
    api.sim.faults.error_every(3, status=status)
    responses = [api.get("v2", "/deals", {"limit": 5}) for _ in range(9)]
    failed = [index for index, response in enumerate(responses) if response.status_code != 200]
    assert len(failed) == 3
    assert failed[1] - failed[0] == failed[2] - failed[1] == 3
    for index in failed:
        assert responses[index].status_code == status
        assert_matches_spec("v2", "get", "/deals", status, responses[index].json())
    api.sim.faults.clear()
    assert statuses(api, 4) == [200] * 4


def read_fully(api: Api) -> str:
    """One GET as a client sees it: 'ok', or 'broken' for a dropped connection or a truncated body."""
    try:
        response = api.get("v2", "/deals", {"limit": 100})
        response.json()
    except (requests.exceptions.ConnectionError, requests.exceptions.ChunkedEncodingError, ValueError):
        return "broken"
    return "ok" if response.status_code == 200 else f"status {response.status_code}"


def test_drop_every_nth_request_breaks_the_body(api):
    api.sim.faults.drop_every(2)
    outcomes = [read_fully(api) for _ in range(6)]
    assert outcomes.count("broken") == 3, outcomes
    assert outcomes.count("ok") == 3, outcomes
    api.sim.faults.clear()
    assert [read_fully(api) for _ in range(3)] == ["ok"] * 3


def test_burst_429_with_retry_after(api):
    api.sim.faults.burst_429(2, retry_after=2)
    first, second, third = (api.get("v2", "/deals", {"limit": 5}) for _ in range(3))
    for response in (first, second):
        assert response.status_code == 429
        assert response.headers["Retry-After"] == "2"
        assert response.json()["success"] is False
        assert_matches_spec("v2", "get", "/deals", 429, response.json())
    assert third.status_code == 200


def test_daily_budget_exhausted(api):
    api.sim.faults.daily_budget_exhausted(retry_after=3939)
    observed = ERRORS["429_daily_budget_observed"]
    for path, version in (("/deals", "v2"), ("/notes", "v1"), ("/users/me", "v1")):
        response = api.get(version, path)
        assert response.status_code == 429
        assert response.headers["retry-after"] == observed["headers"]["retry-after"]
        assert response.json() == observed["body"]
    api.sim.faults.clear()
    assert statuses(api, 1) == [200]


def test_daily_budget_retry_after_is_configurable(api):
    api.sim.faults.daily_budget_exhausted(retry_after=7200)
    response = api.get("v2", "/deals")
    assert response.status_code == 429
    assert int(response.headers["retry-after"]) == 7200


def test_success_false_every_nth_request(api):
    api.sim.faults.success_false_every(2)
    responses = [api.get("v2", "/deals", {"limit": 5}) for _ in range(4)]
    assert [response.status_code for response in responses] == [200] * 4
    successes = [response.json()["success"] for response in responses]
    assert successes.count(False) == 2, successes
    assert successes.count(True) == 2, successes


def test_html_403(api):
    api.sim.faults.html_403()
    response = api.get("v2", "/deals")
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()
    with pytest.raises(ValueError):
        response.json()
    api.sim.faults.clear()
    assert statuses(api, 1) == [200]


@pytest.mark.parametrize("layer", LAYERS)
def test_rate_limit_headers_count_down(make_sim, layer):
    """Each request takes one from the rolling 2-second window; once the window has passed, it is full again.

    The window's clock is frozen: how fast this machine serves the requests (a loaded CI, a garbage
    collection) must not move a request out of the window mid-test.
    """
    sim = make_sim(deals=20)
    api = Api(sim, layer)
    sim.limit_clock.freeze()
    responses = [api.get("v2", "/deals", {"limit": 5}) for _ in range(4)]
    limits = {int(response.headers["x-ratelimit-limit"]) for response in responses}
    remaining = [int(response.headers["x-ratelimit-remaining"]) for response in responses]
    assert len(limits) == 1
    limit = limits.pop()
    assert remaining == [limit - 1 - step for step in range(4)], remaining
    assert all(0 < float(response.headers["x-ratelimit-reset"]) <= 2 for response in responses)

    sim.limit_clock.advance(1.5)
    assert int(api.get("v2", "/deals", {"limit": 5}).headers["x-ratelimit-remaining"]) == limit - 5
    sim.limit_clock.advance(0.6)
    refilled = api.get("v2", "/deals", {"limit": 5})
    assert int(refilled.headers["x-ratelimit-remaining"]) == limit - 2, "the first four left the window"


def test_requests_over_the_burst_limit_are_refused_until_the_window_passes(make_sim):
    """Pipedrive's burst limit for an API token (Ultimate plan: 120 per 2 s), then a 429 with Retry-After."""
    sim = make_sim(deals=20)
    api = Api(sim, "direct")
    sim.limit_clock.freeze()
    statuses = [api.get("v2", "/deals", {"limit": 1}).status_code for _ in range(121)]
    assert statuses == [200] * 120 + [429]
    refused = api.get("v2", "/deals", {"limit": 1})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["retry-after"]) <= 2
    assert refused.headers["x-ratelimit-remaining"] == "0"
    sim.limit_clock.advance(2.0)
    assert api.get("v2", "/deals", {"limit": 1}).status_code == 200


def test_unenforced_limits_count_without_refusing(make_sim):
    sim = make_sim(deals=20, pipedrive_limits=False)
    api = Api(sim, "direct")
    sim.limit_clock.freeze()
    responses = [api.get("v2", "/deals", {"limit": 1}) for _ in range(125)]
    assert {response.status_code for response in responses} == {200}
    assert responses[-1].headers["x-ratelimit-remaining"] == "0"


def test_daily_token_budget_counts_token_costs(api):
    """A v2 list page costs 10 tokens, a v1 list page 20 (`x-token-cost` in the specs)."""
    before = int(api.get("v2", "/deals").headers["x-daily-ratelimit-token-remaining"])
    after_v2 = int(api.get("v2", "/deals").headers["x-daily-ratelimit-token-remaining"])
    after_v1 = int(api.get("v1", "/notes").headers["x-daily-ratelimit-token-remaining"])
    assert (before - after_v2, after_v2 - after_v1) == (10, 20)


def test_faults_are_logged_with_their_status(api):
    api.sim.requests.clear()
    api.sim.faults.error_every(2, status=502)
    statuses(api, 4)
    logged = [entry.status for entry in api.sim.requests]
    assert sorted(logged) == [200, 200, 502, 502]
