"""The Maton gateway in front of Pipedrive: its key, connection choice, connections API and rate limit."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pipedrive_source.testing import simulator
from tests.simulator.clients import API_KEY, SEED, UNTHROTTLED, Api

MATON = json.loads((Path(__file__).parents[1] / "data" / "examples" / "maton.json").read_text())
EXAMPLE_CONNECTION = MATON["connections_api"]["list"]["response"]["connections"][0]
EXAMPLE_GET = MATON["connections_api"]["get"]["response"]["connection"]


@pytest.fixture
def two_accounts(make_sim):
    """Two companies behind one Maton key, for tests that change connections or data."""
    return make_sim(deals=30, connections=2)


@pytest.fixture(scope="module")
def two_companies() -> Iterator[Any]:
    """Two companies behind one Maton key, for tests that only read."""
    with simulator(seed=SEED, deals=30, connections=2, api_key=API_KEY, rate_limit=UNTHROTTLED) as private:
        yield private


@pytest.fixture(scope="module")
def throttled() -> Iterator[Any]:
    """Maton's own limit of 10 requests per second per key."""
    with simulator(seed=SEED, deals=20, api_key=API_KEY, rate_limit=10.0) as private:
        yield private


def connections_api(
    sim, method: str, path: str = "", key: str | None = API_KEY, **kwargs
) -> requests.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return requests.request(method, f"{sim.connections_url}{path}", headers=headers, timeout=30, **kwargs)


def deal_titles(api: Api) -> list[str]:
    return [deal["title"] for deal in api.ok("v2", "/deals", {"limit": 20})["data"]]


@pytest.mark.parametrize("authorization", [None, "Bearer not-the-key", f"Token {API_KEY}"])
def test_maton_refuses_a_missing_or_wrong_key(sim, authorization):
    headers = {"Authorization": authorization} if authorization else {}
    response = requests.get(f"{sim.base_url}/api/v2/deals", headers=headers, timeout=30)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    assert isinstance(response.json(), dict) and response.json()
    assert "not-the-key" not in response.text and API_KEY not in response.text


def test_maton_does_not_take_a_pipedrive_token(sim):
    response = requests.get(f"{sim.base_url}/api/v2/deals", headers={"x-api-token": API_KEY}, timeout=30)
    assert response.status_code == 401


def test_unknown_app_is_refused(sim):
    response = requests.get(
        f"{sim.root_url}/hubspot/api/v2/deals", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=30
    )
    assert 400 <= response.status_code < 500
    assert response.json()


def test_connection_header_chooses_the_account(two_companies):
    first, second = two_companies.connection_ids
    default = Api(two_companies, "maton")
    chosen_first, chosen_second = Api(two_companies, "maton", first), Api(two_companies, "maton", second)
    assert deal_titles(chosen_first) != deal_titles(chosen_second)
    assert deal_titles(default) == deal_titles(chosen_first)


def test_accounts_are_independent(two_accounts):
    first, second = two_accounts.connection_ids
    created = two_accounts.account(second).create("deals", {"title": "Only in the second company"})
    in_second = {deal["id"]: deal["title"] for deal in Api(two_accounts, "maton", second).all("v2", "/deals")}
    in_first = {deal["id"]: deal["title"] for deal in Api(two_accounts, "maton", first).all("v2", "/deals")}
    assert in_second[created["id"]] == "Only in the second company"
    assert in_first.get(created["id"]) != "Only in the second company"
    assert two_accounts.account().count("deals") == two_accounts.account(first).count("deals")


def test_unknown_connection_is_refused(two_companies):
    response = Api(two_companies, "maton", str(uuid.uuid4())).get("v2", "/deals")
    assert response.status_code in (400, 404)
    assert response.json()


def test_default_is_the_oldest_active_connection(two_accounts):
    first, second = two_accounts.connection_ids
    second_titles = deal_titles(Api(two_accounts, "maton", second))
    assert connections_api(two_accounts, "DELETE", f"/{first}").status_code in (200, 204)
    assert deal_titles(Api(two_accounts, "maton")) == second_titles


def test_no_active_connection_is_a_400(two_accounts):
    for connection_id in two_accounts.connection_ids:
        assert connections_api(two_accounts, "DELETE", f"/{connection_id}").status_code in (200, 204)
    response = Api(two_accounts, "maton").get("v2", "/deals")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert "connection" in response.text.lower()


def test_pending_connection_is_not_the_default(two_accounts):
    created = connections_api(two_accounts, "POST", json={"app": "pipedrive"})
    assert created.status_code in (200, 201)
    first = two_accounts.connection_ids[0]
    assert deal_titles(Api(two_accounts, "maton")) == deal_titles(Api(two_accounts, "maton", first))


def is_utc_timestamp(text: str) -> bool:
    return text.endswith("Z") and dt.datetime.fromisoformat(text.replace("Z", "+00:00")) is not None


def test_connections_list_shape(two_companies):
    response = connections_api(two_companies, "GET", params={"app": "pipedrive", "status": "ACTIVE"})
    assert response.status_code == 200
    connections = response.json()["connections"]
    assert set(response.json()) == {"connections"}
    oldest_first = sorted(connections, key=lambda connection: connection["creation_time"])
    assert [connection["connection_id"] for connection in oldest_first] == two_companies.connection_ids
    for connection in connections:
        assert set(connection) == set(EXAMPLE_CONNECTION)
        assert connection["status"] == "ACTIVE" and connection["app"] == "pipedrive"
        assert str(uuid.UUID(connection["connection_id"])) == connection["connection_id"]
        assert is_utc_timestamp(connection["creation_time"]) and is_utc_timestamp(
            connection["last_updated_time"]
        )


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, 2),
        ({"app": "pipedrive"}, 2),
        ({"app": "slack"}, 0),
        ({"status": "ACTIVE"}, 2),
        ({"status": "PENDING"}, 0),
    ],
)
def test_connections_list_filters(two_companies, params, expected):
    response = connections_api(two_companies, "GET", params=params)
    assert response.status_code == 200
    assert len(response.json()["connections"]) == expected


def test_connection_get_shape(two_companies):
    connection_id = two_companies.connection_ids[1]
    response = connections_api(two_companies, "GET", f"/{connection_id}")
    assert response.status_code == 200
    assert set(response.json()) == {"connection"}
    connection = response.json()["connection"]
    assert set(EXAMPLE_GET) <= set(connection)
    assert connection["connection_id"] == connection_id
    assert connection["status"] == "ACTIVE"


def test_connection_create_and_delete(two_accounts):
    created = connections_api(two_accounts, "POST", json={"app": "pipedrive", "method": "OAUTH2"})
    assert created.status_code in (200, 201)
    assert set(created.json()) == {"connection"}
    connection = created.json()["connection"]
    assert set(EXAMPLE_GET) <= set(connection)
    assert connection["status"] == "PENDING" and connection["app"] == "pipedrive"
    assert connection["url"].startswith("http")
    pending = connections_api(two_accounts, "GET", params={"status": "PENDING"}).json()["connections"]
    assert [item["connection_id"] for item in pending] == [connection["connection_id"]]

    assert connections_api(two_accounts, "DELETE", f"/{connection['connection_id']}").status_code in (
        200,
        204,
    )
    assert connections_api(two_accounts, "GET", f"/{connection['connection_id']}").status_code == 404
    assert len(connections_api(two_accounts, "GET").json()["connections"]) == 2


def test_connections_api_needs_the_key(two_companies):
    assert connections_api(two_companies, "GET", key=None).status_code == 401
    assert connections_api(two_companies, "GET", key="not-the-key").status_code == 401


def test_pipedrive_errors_pass_through_unchanged(sim):
    through_maton = Api(sim, "maton").get("v2", "/deals/987654321")
    direct = Api(sim, "direct").get("v2", "/deals/987654321")
    assert through_maton.status_code == direct.status_code == 404
    assert through_maton.json() == direct.json()


def test_rate_limit_per_key(throttled):
    api = Api(throttled, "maton")
    responses = [api.get("v2", "/deals", {"limit": 1}) for _ in range(25)]
    codes = [response.status_code for response in responses]
    assert codes[:10] == [200] * 10, codes
    limited = [response for response in responses if response.status_code == 429]
    assert limited, codes
    assert limited[0].headers["content-type"].startswith("application/json")
    assert limited[0].json()
    time.sleep(1.1)
    assert api.get("v2", "/deals", {"limit": 1}).status_code == 200


def test_rate_limit_is_not_applied_to_the_direct_layer(throttled):
    api = Api(throttled, "direct")
    assert [api.get("v2", "/deals", {"limit": 1}).status_code for _ in range(15)] == [200] * 15
