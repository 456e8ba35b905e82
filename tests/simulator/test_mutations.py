"""Records created, updated and deleted from Python or through the API show up in the lists."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.simulator.clients import LAYERS, Api, rfc3339, v1_time, v2_time


def this_second() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0)


@pytest.fixture
def api(make_sim) -> Api:
    """A private simulator through the Maton layer (this module's tests change data)."""
    return Api(make_sim(deals=40), "maton")


def live_ids(api: Api, entity: str = "deals", **params) -> set:
    return {record["id"] for record in api.all("v2", f"/{entity}", {"limit": 500, **params})}


def test_created_deal_is_listed_with_a_new_update_time(api):
    account = api.sim.account()
    before, started = account.count("deals"), this_second()
    created = account.create("deals", {"title": "Warehouse scanners for Rotterdam", "value": 18400})
    assert isinstance(created["id"], int)
    assert account.count("deals") == before + 1

    listed = api.ok("v2", f"/deals/{created['id']}")["data"]
    assert listed["title"] == "Warehouse scanners for Rotterdam"
    assert listed["status"] == "open" and listed["is_deleted"] is False
    assert started <= v2_time(listed["update_time"]) <= this_second()
    assert created["id"] in live_ids(api)
    assert live_ids(api, updated_since=rfc3339(started)) == {created["id"]}


def test_updated_deal_moves_to_the_present(api):
    account = api.sim.account()
    deal = api.ok("v2", "/deals", {"limit": 1})["data"][0]
    started = this_second()
    account.update("deals", deal["id"], {"title": "Renegotiated: three-year term"})
    changed = api.ok("v2", f"/deals/{deal['id']}")["data"]
    assert changed["title"] == "Renegotiated: three-year term"
    assert v2_time(changed["update_time"]) >= started > v2_time(deal["update_time"])
    assert changed["add_time"] == deal["add_time"]
    assert live_ids(api, updated_since=rfc3339(started)) == {deal["id"]}


def test_deleted_deal_is_listed_as_deleted(api):
    account = api.sim.account()
    deal = api.ok("v2", "/deals", {"limit": 2})["data"][1]
    before, started = account.count("deals"), this_second()
    account.delete("deals", deal["id"])
    assert account.count("deals") == before - 1
    assert deal["id"] not in live_ids(api)
    deleted = {
        record["id"]: record for record in api.all("v2", "/deals", {"status": "deleted", "limit": 500})
    }
    assert deleted[deal["id"]]["is_deleted"] is True
    assert v2_time(deleted[deal["id"]]["update_time"]) >= started


def test_incremental_read_sees_exactly_the_changes(api):
    """The incremental pattern: remember the newest update_time, later ask for everything since then."""
    account = api.sim.account()
    deals = api.all("v2", "/deals", {"limit": 500})
    newest = max(v2_time(deal["update_time"]) for deal in deals)
    account.update("deals", deals[5]["id"], {"value": 999})
    created = account.create("deals", {"title": "Pilot: route planning for 12 vans"})
    changed = api.all("v2", "/deals", {"updated_since": rfc3339(newest), "limit": 500})
    at_newest = {deal["id"] for deal in deals if v2_time(deal["update_time"]) == newest}
    assert {deal["id"] for deal in changed} == at_newest | {deals[5]["id"], created["id"]}


@pytest.mark.parametrize("layer", LAYERS)
def test_api_writes_show_up_in_lists(make_sim, layer):
    api = Api(make_sim(deals=40), layer)
    account = api.sim.account()
    before, started = account.count("deals"), this_second()

    created = api.request(
        "POST", "v2", "/deals", json={"title": "Cold-chain sensors, phase 2", "value": 5200}
    )
    assert created.status_code == 200, created.text[:300]
    deal_id = created.json()["data"]["id"]
    assert account.count("deals") == before + 1
    assert deal_id in live_ids(api, updated_since=rfc3339(started))

    patched = api.request("PATCH", "v2", f"/deals/{deal_id}", json={"status": "won"})
    assert patched.status_code == 200, patched.text[:300]
    assert deal_id in live_ids(api, status="won")
    assert v2_time(api.ok("v2", f"/deals/{deal_id}")["data"]["update_time"]) >= started

    deleted = api.request("DELETE", "v2", f"/deals/{deal_id}")
    assert deleted.status_code == 200, deleted.text[:300]
    assert account.count("deals") == before
    assert deal_id not in live_ids(api)
    assert deal_id in live_ids(api, status="deleted")


def test_person_created_through_the_api_keeps_its_emails(api):
    body = {
        "name": "Ines Carvalho",
        "emails": [
            {"value": "ines.carvalho@atlantico.example", "primary": True, "label": "work"},
            {"value": "ines.c@mail.example", "primary": False, "label": "home"},
        ],
    }
    created = api.request("POST", "v2", "/persons", json=body)
    assert created.status_code == 200, created.text[:300]
    person = api.ok("v2", f"/persons/{created.json()['data']['id']}")["data"]
    assert [email["value"] for email in person["emails"]] == [email["value"] for email in body["emails"]]
    assert person["id"] in live_ids(api, "persons")


def test_v1_note_mutations_use_v1_times(api):
    account = api.sim.account()
    started = this_second()
    deal_id = api.ok("v2", "/deals", {"limit": 1})["data"][0]["id"]
    note = account.create("notes", {"content": "Asked for a pilot in Q1", "deal_id": deal_id})
    listed = {record["id"]: record for record in api.all("v1", "/notes", {"limit": 500})}
    assert v1_time(listed[note["id"]]["update_time"]) >= started
    assert listed[note["id"]]["content"] == "Asked for a pilot in Q1"

    account.delete("notes", note["id"])
    assert note["id"] not in {record["id"] for record in api.all("v1", "/notes", {"limit": 500})}


def test_mutation_of_an_unknown_record_is_an_error(api):
    with pytest.raises((LookupError, ValueError)):
        api.sim.account().update("deals", 987654321, {"title": "Nobody"})


def test_custom_field_writes_are_completed_as_pipedrive_stores_them(api):
    """A time without a zone gets the user's zone; address components not given are null (migration guide)."""
    fields = {
        field["field_type"]: field["field_code"]
        for field in api.all("v2", "/dealFields")
        if field["is_custom_field"]
    }
    written = {
        fields["time"]: {"value": "09:30:00"},
        fields["timerange"]: {"value": "09:00:00", "until": "11:00:00", "timezone_name": "Europe/London"},
        fields["daterange"]: {"value": "2026-01-01", "until": "2026-02-01"},
        fields["address"]: {"value": "530 Fifth Avenue, New York"},
    }
    deal = api.ok("v2", "/deals", {"limit": 1})["data"][0]
    response = api.request("PATCH", "v2", f"/deals/{deal['id']}", json={"custom_fields": written})
    assert response.status_code == 200, response.text
    stored = api.ok("v2", f"/deals/{deal['id']}")["data"]["custom_fields"]
    user_zone = api.ok("v1", "/users/me")["data"]["timezone_name"]
    assert stored[fields["time"]]["value"] == "09:30:00"
    assert stored[fields["time"]]["timezone_name"] == user_zone
    assert isinstance(stored[fields["time"]]["timezone_id"], int)
    assert stored[fields["timerange"]] == {**written[fields["timerange"]], "timezone_id": 318}
    assert stored[fields["daterange"]] == written[fields["daterange"]]
    address = stored[fields["address"]]
    assert address["value"] == "530 Fifth Avenue, New York"
    assert {key: part for key, part in address.items() if key != "value"} == dict.fromkeys(
        (
            "route",
            "country",
            "locality",
            "postal_code",
            "sublocality",
            "street_number",
            "subpremise",
            "admin_area_level_1",
            "admin_area_level_2",
            "formatted_address",
        )
    )


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("daterange", {"start": "2026-01-01", "until": "2026-02-01"}),
        ("time", "09:00:00"),
        ("timerange", {"value": "09:00:00"}),
        ("address", {"route": "5th Avenue"}),
    ],
)
def test_custom_field_writes_in_other_shapes_are_refused(api, kind, value):
    code = next(
        field["field_code"]
        for field in api.all("v2", "/dealFields")
        if field["is_custom_field"] and field["field_type"] == kind
    )
    deal = api.ok("v2", "/deals", {"limit": 1})["data"][0]
    response = api.request("PATCH", "v2", f"/deals/{deal['id']}", json={"custom_fields": {code: value}})
    assert response.status_code == 400, response.text
    assert response.json()["success"] is False


def test_a_page_read_again_after_a_mutation_shows_it(api):
    """Served pages are cached; a mutation must still show on the next read, also where a generated record
    carries data of the changed one (a deal title carries its organization's name)."""
    deals = api.all("v2", "/deals", {"limit": 500})
    deal = next(d for d in deals if d["org_id"])
    org = api.ok("v2", f"/organizations/{deal['org_id']}")["data"]
    assert org["name"] in deal["title"]
    api.sim.account().update("organizations", org["id"], {"name": "Zanzibar Quayside Traders"})
    again = {d["id"]: d for d in api.all("v2", "/deals", {"limit": 500})}
    assert "Zanzibar Quayside Traders" in again[deal["id"]]["title"]
    assert org["name"] not in again[deal["id"]]["title"]
