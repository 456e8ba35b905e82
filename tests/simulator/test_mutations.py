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
