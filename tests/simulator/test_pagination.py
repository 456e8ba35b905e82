"""Pagination edges: empty lists, exactly 500 and 501 records, the limits, pages that add up to the whole."""

from __future__ import annotations

from collections import Counter

import pytest

from tests.openapi_schemas import assert_matches_spec
from tests.simulator.clients import Api

FUTURE = "2100-01-01T00:00:00Z"


def ids_of(records: list[dict]) -> list:
    return [record["id"] for record in records]


def resize(api: Api, entity: str, version: str, path: str, wanted: int, new_record: dict) -> None:
    """Create or delete records of `entity` from Python until the list at `path` holds exactly `wanted`."""
    account = api.sim.account()
    present = ids_of(api.all(version, path, {"limit": 500}))
    for _ in range(wanted - len(present)):
        account.create(entity, dict(new_record))
    for record_id in present[wanted:]:
        account.delete(entity, record_id)
    assert len(api.all(version, path, {"limit": 500})) == wanted


def test_v2_empty_list(api):
    body = api.ok("v2", "/deals", {"updated_since": FUTURE})
    assert_matches_spec("v2", "get", "/deals", 200, body)
    assert body["data"] == []
    assert body["additional_data"]["next_cursor"] is None


def test_v1_empty_list(api):
    body = api.ok("v1", "/notes", {"updated_since": FUTURE})
    assert_matches_spec("v1", "get", "/notes", 200, body)
    assert not body["data"]
    assert body["additional_data"]["pagination"]["more_items_in_collection"] is False


def test_v2_exactly_500_then_501_records(make_sim):
    api = Api(make_sim(deals=480), "maton")
    resize(api, "deals", "v2", "/deals", 500, {"title": "Expansion seats for the Lyon branch"})

    page = api.ok("v2", "/deals", {"limit": 500})
    assert len(page["data"]) == 500
    assert page["additional_data"]["next_cursor"] is None

    api.sim.account().create("deals", {"title": "One more: annual support renewal"})
    first = api.ok("v2", "/deals", {"limit": 500})
    assert len(first["data"]) == 500
    assert first["additional_data"]["next_cursor"]
    second = api.ok("v2", "/deals", {"limit": 500, "cursor": first["additional_data"]["next_cursor"]})
    assert len(second["data"]) == 1
    assert second["additional_data"]["next_cursor"] is None
    assert not set(ids_of(first["data"])) & set(ids_of(second["data"]))


def test_v1_exactly_500_then_501_records(make_sim):
    api = Api(make_sim(deals=900), "direct")
    deal_id = api.ok("v2", "/deals", {"limit": 1})["data"][0]["id"]
    resize(
        api, "notes", "v1", "/notes", 500, {"content": "Call summary: pricing questions", "deal_id": deal_id}
    )

    page = api.ok("v1", "/notes", {"limit": 500})
    assert len(page["data"]) == 500
    assert page["additional_data"]["pagination"]["more_items_in_collection"] is False

    api.sim.account().create("notes", {"content": "Customer asked for a quote", "deal_id": deal_id})
    first = api.ok("v1", "/notes", {"limit": 500})
    pagination = first["additional_data"]["pagination"]
    assert len(first["data"]) == 500
    assert pagination["more_items_in_collection"] is True
    assert pagination["next_start"] == 500
    second = api.ok("v1", "/notes", {"limit": 500, "start": 500})
    assert len(second["data"]) == 1
    assert second["additional_data"]["pagination"]["more_items_in_collection"] is False


@pytest.mark.parametrize("path", ["/deals", "/persons", "/activities"])
def test_v2_limit_above_500_is_a_400(api, path):
    response = api.get("v2", path, {"limit": 501})
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert "limit" in response.json()["error"].lower()


def test_v2_limit_500_is_allowed(api):
    assert len(api.ok("v2", "/activities", {"limit": 500})["data"]) == 500


def test_v1_page_never_exceeds_500(make_sim):
    """v1 caps `limit` at 500 (the issue says "max 500"; no source documents a 400 for v1)."""
    api = Api(make_sim(deals=1300), "direct")
    assert api.sim.account().count("notes") > 501
    response = api.get("v1", "/notes", {"limit": 501})
    if response.status_code == 200:
        assert len(response.json()["data"]) <= 500
        assert response.json()["additional_data"]["pagination"]["limit"] <= 500
    else:
        assert response.status_code == 400
        assert_matches_spec("v1", "get", "/notes", 400, response.json())


@pytest.mark.parametrize(("version", "path"), [("v2", "/deals"), ("v2", "/persons"), ("v1", "/notes")])
def test_default_limit_is_100(api, version, path):
    body = api.ok(version, path)
    assert len(body["data"]) == 100
    if version == "v2":
        assert body["additional_data"]["next_cursor"]
    else:
        assert body["additional_data"]["pagination"]["limit"] == 100
        assert body["additional_data"]["pagination"]["more_items_in_collection"] is True


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"sort_by": "update_time"},
        {"sort_by": "update_time", "sort_direction": "desc"},
        {"sort_by": "add_time"},
    ],
    ids=["id", "update_time", "update_time-desc", "add_time"],
)
def test_v2_pages_add_up_to_the_whole_set(api, params):
    """Small pages, even where many records share an update second, neither skip nor repeat a record."""
    whole = ids_of(api.all("v2", "/deals", {**params, "limit": 500}))
    paged = ids_of(api.all("v2", "/deals", {**params, "limit": 37}))
    assert not [record_id for record_id, seen in Counter(paged).items() if seen > 1]
    assert paged == whole
    archived = ids_of(api.all("v2", "/deals/archived", {"limit": 500}))
    assert len(whole) + len(archived) == api.sim.account().count("deals")


def test_v2_pages_of_other_entities_add_up(api):
    for entity in ("persons", "organizations", "products"):
        whole = ids_of(api.all("v2", f"/{entity}", {"limit": 500}))
        paged = ids_of(api.all("v2", f"/{entity}", {"limit": 29}))
        assert paged == whole, entity
        assert len(set(whole)) == len(whole) == api.sim.account().count(entity), entity


def test_v1_next_start_arithmetic(api):
    first = api.ok("v1", "/notes", {"start": 0, "limit": 100})["additional_data"]["pagination"]
    assert (first["start"], first["limit"], first["next_start"]) == (0, 100, 100)
    middle = api.ok("v1", "/notes", {"start": 100, "limit": 50})["additional_data"]["pagination"]
    assert (middle["start"], middle["limit"], middle["next_start"]) == (100, 50, 150)
    total = api.sim.account().count("notes")
    last_start = total - 7
    last = api.ok("v1", "/notes", {"start": last_start, "limit": 50})
    assert len(last["data"]) == 7
    assert last["additional_data"]["pagination"]["more_items_in_collection"] is False
    assert "next_start" not in last["additional_data"]["pagination"]


def test_v1_pages_add_up_to_the_whole_set(api):
    whole = ids_of(api.all("v1", "/notes", {"limit": 500}))
    paged = ids_of(api.all("v1", "/notes", {"limit": 41}))
    assert paged == whole
    assert len(set(whole)) == len(whole) == api.sim.account().count("notes")


def test_v2_cursor_is_opaque_and_reusable(api):
    first = api.ok("v2", "/deals", {"limit": 50})
    cursor = first["additional_data"]["next_cursor"]
    assert isinstance(cursor, str)
    assert not cursor.isdigit(), "a cursor is an opaque marker, not an offset"
    again = api.ok("v2", "/deals", {"limit": 50, "cursor": cursor})
    assert again == api.ok("v2", "/deals", {"limit": 50, "cursor": cursor})
    assert ids_of(again["data"])[0] > ids_of(first["data"])[-1]
