"""Lists attached to records (followers, participants, deal products, installments, deal flow): their counts
agree with them, tests change them through the account, and a deal's changes land in its flow."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.simulator.clients import Api, v1_time, v2_time

COUNTS = "followers_count,participants_count,products_count"


@pytest.fixture
def private(make_sim) -> Api:
    return Api(make_sim(deals=200), "direct")


def deal_children(api: Api, deal_id: int) -> dict[str, list]:
    return {
        "followers_count": api.ok("v2", f"/deals/{deal_id}/followers")["data"],
        "participants_count": api.ok("v1", f"/deals/{deal_id}/participants")["data"] or [],
        "products_count": api.ok("v2", f"/deals/{deal_id}/products")["data"],
    }


def test_deal_counts_agree_with_the_lists_they_count(api):
    deals = api.ok("v2", "/deals", {"limit": 40, "include_fields": COUNTS})["data"]
    for deal in deals:
        lists = deal_children(api, deal["id"])
        assert {name: deal[name] for name in lists} == {name: len(rows) for name, rows in lists.items()}
    assert {deal["participants_count"] for deal in deals} > {0}
    assert {deal["products_count"] for deal in deals} > {0}


@pytest.mark.parametrize("entity", ["persons", "organizations"])
def test_follower_counts_agree_with_the_followers(api, entity):
    for record in api.ok("v2", f"/{entity}", {"limit": 20, "include_fields": "followers_count"})["data"]:
        followers = api.ok("v2", f"/{entity}/{record['id']}/followers")["data"]
        assert record["followers_count"] == len(followers)


@pytest.mark.parametrize("entity", ["deals", "persons", "organizations", "products"])
def test_followers_come_and_go_without_touching_the_record(private, entity):
    account = private.sim.account()
    record = private.ok("v2", f"/{entity}", {"limit": 1})["data"][0]
    followers = {f["user_id"] for f in private.ok("v2", f"/{entity}/{record['id']}/followers")["data"]}
    newcomer = next(user for user in range(1, 13) if user not in followers)
    account.add_follower(entity, record["id"], newcomer)
    listed = {f["user_id"] for f in private.ok("v2", f"/{entity}/{record['id']}/followers")["data"]}
    assert listed == followers | {newcomer}
    account.remove_follower(entity, record["id"], newcomer)
    listed = {f["user_id"] for f in private.ok("v2", f"/{entity}/{record['id']}/followers")["data"]}
    assert listed == followers
    assert private.ok("v2", f"/{entity}/{record['id']}")["data"]["update_time"] == record["update_time"]


def test_participants_come_and_go_and_are_counted(private):
    account = private.sim.account()
    deal = private.ok("v2", "/deals", {"limit": 1, "include_fields": COUNTS})["data"][0]
    person = private.ok("v2", "/persons", {"limit": 30})["data"][-1]["id"]
    row = account.add_participant(deal["id"], person)
    assert row["person"]["id"] == person
    after = private.ok("v2", f"/deals/{deal['id']}", {"include_fields": COUNTS})["data"]
    assert after["participants_count"] == deal["participants_count"] + 1
    assert after["update_time"] == deal["update_time"]
    assert person in {
        p["person"]["id"] for p in private.ok("v1", f"/deals/{deal['id']}/participants")["data"]
    }
    account.remove_participant(deal["id"], person)
    after = private.ok("v2", f"/deals/{deal['id']}", {"include_fields": COUNTS})["data"]
    assert after["participants_count"] == deal["participants_count"]
    with pytest.raises(KeyError):
        account.remove_participant(deal["id"], person)


def test_deal_products_are_added_changed_and_removed(private):
    account = private.sim.account()
    deal = private.ok("v2", "/deals", {"limit": 3})["data"][2]
    bulk = {"deal_ids": str(deal["id"])}
    before = private.all("v2", "/deals/products", bulk)
    product = private.ok("v2", "/products", {"limit": 1})["data"][0]["id"]
    attached = account.add_deal_product(deal["id"], product, item_price=120, quantity=2)
    assert {a["id"] for a in private.all("v2", "/deals/products", bulk)} == {a["id"] for a in before} | {
        attached["id"]
    }
    changed = account.update_deal_product(deal["id"], attached["id"], {"quantity": 5, "discount": 10})
    assert changed["sum"] == 540
    served = {a["id"]: a for a in private.all("v2", "/deals/products", bulk)}[attached["id"]]
    assert (served["quantity"], served["sum"]) == (5, 540)
    assert v2_time(served["update_time"]) >= v2_time(attached["add_time"])
    account.remove_deal_product(deal["id"], attached["id"])
    assert private.all("v2", "/deals/products", bulk) == before
    assert private.ok("v2", f"/deals/{deal['id']}")["data"]["update_time"] == deal["update_time"]


def test_installments_are_added_and_removed(private):
    account = private.sim.account()
    deal = private.ok("v2", "/deals", {"limit": 1})["data"][0]
    bulk = {"deal_ids": str(deal["id"])}
    before = private.all("v2", "/deals/installments", bulk)
    added = account.add_installment(deal["id"], 250.0, "2027-02-01", "Kick-off fee")
    assert private.all("v2", "/deals/installments", bulk) == [*before, added]
    account.remove_installment(deal["id"], added["id"])
    assert private.all("v2", "/deals/installments", bulk) == before
    with pytest.raises(ValueError):
        account.add_installment(deal["id"], 10.0, "01/02/2027")


def test_changing_a_deal_owner_or_person_keeps_its_followers_and_participants(private):
    account = private.sim.account()
    deal = next(
        d
        for d in private.ok("v2", "/deals", {"limit": 50, "include_fields": COUNTS})["data"]
        if d["person_id"]
    )
    before = deal_children(private, deal["id"])
    other_person = private.ok("v2", "/persons", {"limit": 40})["data"][-1]["id"]
    account.update("deals", deal["id"], {"owner_id": deal["owner_id"] % 12 + 1, "person_id": other_person})
    assert deal_children(private, deal["id"]) == before


# -- flow ----------------------------------------------------------------------------------------------------
def stage_changes(api: Api, deal_id: int) -> list[dict]:
    flow = api.all("v1", f"/deals/{deal_id}/flow", {"items": "dealChange", "limit": 100})
    assert {item["object"] for item in flow} <= {"dealChange"}
    return [item["data"] for item in flow if item["data"]["field_key"] == "stage_id"]


def test_a_generated_deal_entered_its_stage_at_its_stage_change_time(api):
    for deal in api.ok("v2", "/deals", {"limit": 30})["data"]:
        changes = stage_changes(api, deal["id"])
        newest = changes[0]
        assert newest["new_value"] == deal["stage_id"]
        assert v1_time(newest["log_time"]) == v2_time(deal["stage_change_time"])
        assert changes[-1]["old_value"] is None
        # Each change leaves the stage the previous one entered.
        assert [c["old_value"] for c in changes[:-1]] == [c["new_value"] for c in changes[1:]]


def test_a_stage_change_shows_in_the_flow(private):
    account = private.sim.account()
    deal = private.ok("v2", "/deals", {"limit": 1, "status": "open"})["data"][0]
    before = stage_changes(private, deal["id"])
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    stages = [s["id"] for s in private.ok("v2", "/stages", {"pipeline_id": deal["pipeline_id"]})["data"]]
    target = next(stage for stage in stages if stage != deal["stage_id"])
    account.update("deals", deal["id"], {"stage_id": target})
    after = stage_changes(private, deal["id"])
    assert after[1:] == before
    assert (after[0]["old_value"], after[0]["new_value"]) == (deal["stage_id"], target)
    assert v1_time(after[0]["log_time"]) >= started
    changed = private.ok("v2", f"/deals/{deal['id']}")["data"]
    assert v2_time(changed["stage_change_time"]) == v1_time(after[0]["log_time"])


def test_value_title_and_status_changes_show_in_the_flow(private):
    account = private.sim.account()
    deal = private.ok("v2", "/deals", {"limit": 1, "status": "open"})["data"][0]
    account.update("deals", deal["id"], {"value": 4321, "title": "Fleet renewal 2027"})
    account.update("deals", deal["id"], {"status": "won"})
    flow = private.all("v1", f"/deals/{deal['id']}/flow", {"items": "dealChange"})
    newest = {}
    for item in reversed(flow):
        newest[item["data"]["field_key"]] = (item["data"]["old_value"], item["data"]["new_value"])
    assert newest["value"] == (deal["value"], 4321)
    assert newest["title"] == (deal["title"], "Fleet renewal 2027")
    assert newest["status"] == ("open", "won")
    assert flow[0]["data"]["field_key"] == "status"


def test_a_created_deal_starts_its_flow(private):
    created = private.sim.account().create("deals", {"title": "Pilot for 12 stores", "stage_id": 2})
    changes = {c["data"]["field_key"]: c["data"] for c in private.all("v1", f"/deals/{created['id']}/flow")}
    assert changes["stage_id"]["new_value"] == 2
    assert changes["add_time"]["new_value"] == created["add_time"]


def test_flow_items_filter_and_unknown_items(api):
    deal = api.ok("v2", "/deals", {"limit": 1})["data"][0]
    everything = api.all("v1", f"/deals/{deal['id']}/flow")
    notes = api.all("v1", f"/deals/{deal['id']}/flow", {"items": "note"})
    assert notes == [item for item in everything if item["object"] == "note"]
    assert api.get("v1", f"/deals/{deal['id']}/flow", {"items": "gossip"}).status_code == 400
