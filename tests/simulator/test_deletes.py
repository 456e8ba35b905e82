"""A record deleted through the account leaves its list, or stays flagged, as each entity's `DELETE` documents
(see `pipedrive_source/testing/writes_more.py`); a change moves its `update_time` to the present."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.simulator.clients import Api

# entity -> (API version, list path, list parameters, what a deleted record does: "gone" or "flagged")
DELETES = {
    "deals": ("v2", "/deals", {}, "gone"),
    "persons": ("v2", "/persons", {}, "gone"),
    "organizations": ("v2", "/organizations", {}, "gone"),
    "activities": ("v2", "/activities", {}, "gone"),
    "products": ("v2", "/products", {}, "gone"),
    "projects": ("v2", "/projects", {}, "gone"),
    "tasks": ("v2", "/tasks", {}, "gone"),
    "notes": ("v1", "/notes", {}, "gone"),
    "leads": ("v1", "/leads", {}, "gone"),
    "leadLabels": ("v1", "/leadLabels", {}, "gone"),
    "files": ("v1", "/files", {"limit": 100}, "gone"),
    "callLogs": ("v1", "/callLogs", {"limit": 50}, "gone"),
    "goals": ("v1", "/goals/find", {}, "gone"),
    "permissionSets": ("v1", "/permissionSets", {}, "gone"),
    "mailThreads": ("v1", "/mailbox/mailThreads", {"folder": "inbox"}, "gone"),
    "filters": ("v1", "/filters", {}, "flagged"),
    "activityTypes": ("v1", "/activityTypes", {}, "flagged"),
    "roles": ("v1", "/roles", {}, "flagged"),
}


@pytest.fixture
def api(make_sim) -> Api:
    return Api(make_sim(deals=300), "direct")


def listed(api: Api, version: str, path: str, params: dict) -> dict:
    if path == "/goals/find":
        return {goal["id"]: goal for goal in api.ok(version, path)["data"]["goals"]}
    return {record["id"]: record for record in api.all(version, path, {"limit": 500, **params})}


@pytest.mark.parametrize("entity", sorted(DELETES))
def test_a_deleted_record_leaves_its_list_or_is_flagged(api, entity):
    version, path, params, outcome = DELETES[entity]
    before = listed(api, version, path, params)
    # Not a parent task: deleting one deletes its subtasks too (see test_projects).
    parents = {record.get("parent_task_id") for record in before.values()}
    victim = [record_id for record_id in before if record_id not in parents][1]
    account = api.sim.account()
    live = account.count(entity)
    account.delete(entity, victim)
    after = listed(api, version, path, params)
    assert account.count(entity) == live - 1
    assert set(after) - {victim} == set(before) - {victim}
    if outcome == "gone":
        assert victim not in after
    else:
        assert after[victim]["active_flag"] is False


def test_a_deleted_deal_stays_visible_as_deleted(api):
    deal = api.ok("v2", "/deals", {"limit": 1})["data"][0]
    api.sim.account().delete("deals", deal["id"])
    deleted = {d["id"]: d for d in api.all("v2", "/deals", {"status": "deleted", "limit": 500})}
    assert deleted[deal["id"]]["status"] == "deleted" and deleted[deal["id"]]["is_deleted"] is True


def test_a_relationship_deleted_with_the_account_helper_is_gone(api):
    orgs = [org["id"] for org in api.all("v2", "/organizations", {"limit": 500})]
    found = next(
        r for org in orgs for r in api.ok("v1", "/organizationRelationships", {"org_id": org})["data"]
    )
    api.sim.account().delete("organization_relationships", found["id"])
    owner = found["rel_owner_org_id"]["value"]
    assert found["id"] not in {
        r["id"] for r in api.ok("v1", "/organizationRelationships", {"org_id": owner})["data"]
    }


@pytest.mark.parametrize(
    ("entity", "version", "path", "change"),
    [
        ("filters", "v1", "/filters", {"name": "Renamed filter"}),
        ("activityTypes", "v1", "/activityTypes", {"name": "Site visit"}),
        ("lead_labels", "v1", "/leadLabels", {"name": "Very hot"}),
        ("files", "v1", "/files", {"description": "Signed copy"}),
    ],
)
def test_a_changed_record_is_listed_with_a_new_update_time(api, entity, version, path, change):
    started = dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)
    record = api.ok(version, path)["data"][0]
    api.sim.account().update(entity, record["id"], change)
    changed = next(r for r in api.ok(version, path)["data"] if r["id"] == record["id"])
    assert {key: changed[key] for key in change} == change
    stamp = changed["update_time"].replace("T", " ")[:19]
    assert dt.datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S") >= started


def test_unknown_entities_and_records_are_errors(api):
    account = api.sim.account()
    with pytest.raises(ValueError):
        account.delete("currencies", 1)
    with pytest.raises(KeyError):
        account.delete("leadLabels", "no-such-label")
