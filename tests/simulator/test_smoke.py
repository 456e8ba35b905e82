"""Smoke tests of the simulator as a library user meets it: start, read, mutate, page through, plugin."""

from __future__ import annotations

import datetime as dt
import statistics
import time

import pytest
import requests

from pipedrive_source.testing import simulator
from pipedrive_source.testing.clock import REFERENCE_INSTANT
from pipedrive_source.testing.pytest_plugin import pipedrive_simulator, pipedrive_simulator_env  # noqa: F401

KEY = "smoke-key"


def maton_session(sim) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {sim.api_key}"
    return session


def deal_pages(session: requests.Session, url: str, params: dict) -> list[list[dict]]:
    pages = []
    while True:
        body = session.get(url, params=params, timeout=30).json()
        pages.append(body["data"])
        cursor = body["additional_data"]["next_cursor"]
        if cursor is None:
            return pages
        params = {**params, "cursor": cursor}


def test_both_layers_serve_the_same_account():
    with simulator(deals=120, api_key=KEY, rate_limit=None) as sim:
        assert sim.base_url.startswith("http://127.0.0.1:") and sim.base_url.endswith("/pipedrive")
        maton = maton_session(sim).get(f"{sim.base_url}/api/v2/deals", params={"limit": 500}, timeout=30)
        direct = requests.get(
            f"{sim.direct_url}/api/v2/deals", params={"limit": 500}, headers={"x-api-token": KEY}, timeout=30
        )
        assert maton.status_code == direct.status_code == 200
        assert maton.json()["data"] == direct.json()["data"]
        archived = maton_session(sim).get(f"{sim.base_url}/api/v2/deals/archived", timeout=30).json()["data"]
        assert archived and all(deal["is_archived"] for deal in archived)
        assert len(maton.json()["data"]) + len(archived) == sim.account().count("deals")


def test_a_mutation_is_seen_by_the_next_incremental_read():
    with simulator(deals=80, api_key=KEY, rate_limit=None) as sim:
        session = maton_session(sim)
        url = f"{sim.base_url}/api/v2/deals"
        before = deal_pages(session, url, {"limit": 500, "sort_by": "update_time"})
        newest = before[-1][-1]["update_time"]
        changed = sim.account().update("deals", 5, {"title": "Renegotiated contract"})
        created = sim.account().create("deals", {"title": "Brand new deal", "value": 900})
        assert changed["update_time"] >= dt.datetime.fromtimestamp(
            REFERENCE_INSTANT, dt.timezone.utc
        ).strftime("%Y-%m-%dT%H:%M:%SZ")
        since = {"limit": 500, "sort_by": "update_time", "updated_since": newest}
        seen = [deal for page in deal_pages(session, url, since) for deal in page]
        ids = [deal["id"] for deal in seen]
        assert ids[-2:] == [5, created["id"]]
        assert seen[-2]["title"] == "Renegotiated contract"
        assert all(deal["update_time"] >= newest for deal in seen)


def test_a_record_updated_while_paging_moves_to_the_end_once():
    with simulator(deals=300, api_key=KEY, rate_limit=None) as sim:
        session = maton_session(sim)
        url = f"{sim.base_url}/api/v2/deals"
        params = {"limit": 50, "sort_by": "update_time"}
        first = session.get(url, params=params, timeout=30).json()
        moved = first["data"][0]["id"]
        sim.account().update("deals", moved, {"value": 4321})
        rest = deal_pages(session, url, {**params, "cursor": first["additional_data"]["next_cursor"]})
        ids = [deal["id"] for deal in first["data"]] + [deal["id"] for page in rest for deal in page]
        assert ids.count(moved) == 2 and ids[-1] == moved
        assert len(ids) - 1 == len(set(ids))


def test_only_loopback_addresses_are_served():
    with pytest.raises(ValueError, match="loopback"), simulator(deals=5, host="0.0.0.0"):
        pass


def test_the_pytest_plugin_points_the_connector_at_the_simulator(pipedrive_simulator_env, monkeypatch):  # noqa: F811
    import os

    sim = pipedrive_simulator_env
    assert os.environ["SOURCES__PIPEDRIVE__BASE_URL"] == sim.base_url
    response = requests.get(
        f"{os.environ['SOURCES__PIPEDRIVE__BASE_URL']}/api/v1/users/me",
        headers={"Authorization": f"Bearer {os.environ['SOURCES__PIPEDRIVE__MATON_API_KEY']}"},
        timeout=30,
    )
    assert response.status_code == 200
    assert response.json()["data"]["company_domain"]


def test_a_stopped_simulator_answers_nothing_more_and_stops_at_once():
    """Not even on a connection the client kept alive (a stopped simulator must not go on serving)."""
    session = None
    with simulator(deals=20, api_key=KEY, rate_limit=None) as sim:
        session = maton_session(sim)
        url = f"{sim.base_url}/api/v2/deals"
        assert session.get(url, params={"limit": 1}, timeout=30).status_code == 200
        started = time.perf_counter()
    assert time.perf_counter() - started < 0.3
    with pytest.raises(requests.exceptions.ConnectionError):
        session.get(url, params={"limit": 1}, timeout=5)


def test_small_answers_are_not_held_back():
    """Headers and body leave together: no ~40 ms wait for the client's delayed ACK on every small answer."""
    with simulator(deals=20, api_key=KEY, rate_limit=None) as sim:
        session = maton_session(sim)
        url = f"{sim.base_url}/api/v2/deals"
        session.get(url, params={"limit": 1}, timeout=30)
        durations = []
        for _ in range(21):
            started = time.perf_counter()
            assert session.get(url, params={"limit": 1}, timeout=30).status_code == 200
            durations.append(time.perf_counter() - started)
        assert statistics.median(durations) < 0.03, durations
