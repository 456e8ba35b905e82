"""Permission sets, organization relationships and mail threads (API v1)."""

from __future__ import annotations

import pytest

from tests.simulator.clients import Api


# -- permission sets -----------------------------------------------------------------------------------------
def test_assignment_counts_add_up_to_the_users_access(api):
    users = api.ok("v1", "/users")["data"]
    assigned: dict[str, int] = {}
    for user in users:
        for access in user["access"]:
            assigned[access["permission_set_id"]] = assigned.get(access["permission_set_id"], 0) + 1
    sets = api.ok("v1", "/permissionSets")["data"]
    assert {s["id"]: s["assignment_count"] for s in sets if s["assignment_count"]} == assigned


def test_permission_sets_filter_by_app(api):
    sales = api.ok("v1", "/permissionSets", {"app": "sales"})["data"]
    assert sales and {s["app"] for s in sales} == {"sales"}
    assert {"admin", "regular"} <= {s["type"] for s in sales}
    assert api.get("v1", "/permissionSets", {"app": "crm"}).status_code == 400


def test_a_permission_set_lists_its_permissions(api):
    admin, regular = (
        next(s for s in api.ok("v1", "/permissionSets", {"app": "sales"})["data"] if s["type"] == kind)
        for kind in ("admin", "regular")
    )
    admin_contents = set(api.ok("v1", f"/permissionSets/{admin['id']}")["data"]["contents"])
    regular_contents = set(api.ok("v1", f"/permissionSets/{regular['id']}")["data"]["contents"])
    assert regular_contents < admin_contents


# -- organization relationships ------------------------------------------------------------------------------
@pytest.mark.parametrize("params", [{}, {"org_id": ""}])
def test_relationships_need_an_organization(api, params):
    response = api.get("v1", "/organizationRelationships", params)
    assert response.status_code == 400
    assert response.json() == {
        "success": False,
        "error": '"org_id" is required.',
        "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
        "data": None,
        "additional_data": None,
    }


def relationships(api: Api, org_id: int) -> dict[int, dict]:
    return {r["id"]: r for r in api.ok("v1", "/organizationRelationships", {"org_id": org_id})["data"]}


def test_a_relationship_is_seen_from_both_sides(api):
    orgs = [org["id"] for org in api.all("v2", "/organizations", {"limit": 500})]
    found = next(r for org in orgs for r in relationships(api, org).values())
    owner, linked = found["rel_owner_org_id"]["value"], found["rel_linked_org_id"]["value"]
    from_owner, from_linked = relationships(api, owner)[found["id"]], relationships(api, linked)[found["id"]]
    assert from_owner["calculated_related_org_id"] == linked
    assert from_linked["calculated_related_org_id"] == owner
    expected = {"parent": ("daughter", "parent"), "related": ("related", "related")}[found["type"]]
    assert (from_owner["calculated_type"], from_linked["calculated_type"]) == expected
    assert from_owner["related_organization_name"] == found["rel_linked_org_id"]["name"]


def test_relationships_come_and_go(make_sim):
    api = Api(make_sim(deals=300), "direct")
    account = api.sim.account()
    organizations = api.all("v2", "/organizations", {"limit": 500})
    owner, linked = organizations[0]["id"], organizations[1]["id"]
    before = set(relationships(api, owner))
    added = account.add_organization_relationship(owner, linked, type="parent")
    assert set(relationships(api, owner)) == before | {added["id"]}
    assert relationships(api, linked)[added["id"]]["calculated_type"] == "parent"
    account.remove_organization_relationship(added["id"])
    assert set(relationships(api, owner)) == before
    assert added["id"] not in relationships(api, linked)
    assert api.get("v1", f"/organizationRelationships/{added['id']}").status_code == 404


def test_relationships_count_the_people_of_their_organizations(api):
    orgs = [org["id"] for org in api.all("v2", "/organizations", {"limit": 500})]
    found = next(r for org in orgs for r in relationships(api, org).values())
    org = found["rel_owner_org_id"]
    people = api.all("v2", "/persons", {"org_id": org["value"], "limit": 500})
    assert org["people_count"] == len(people)


# -- mail threads --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("params", "message"), [({}, '"folder" is required.'), ({"folder": "spam"}, "folder")]
)
def test_mail_threads_need_a_folder(api, params, message):
    response = api.get("v1", "/mailbox/mailThreads", params)
    assert response.status_code == 400
    assert response.json()["success"] is False
    assert message in response.json()["error"]


def test_mail_folders_do_not_overlap_and_grow_with_the_account(make_sim, api):
    folders = {
        folder: {t["id"] for t in api.all("v1", "/mailbox/mailThreads", {"folder": folder, "limit": 500})}
        for folder in ("inbox", "drafts", "sent", "archive")
    }
    total = sum(len(ids) for ids in folders.values())
    assert len(set().union(*folders.values())) == total
    small = Api(make_sim(deals=100), "direct")
    assert (
        0
        < len(small.all("v1", "/mailbox/mailThreads", {"folder": "inbox", "limit": 500}))
        < len(folders["inbox"])
    )


def test_mail_threads_link_deals_and_their_contacts(api):
    threads = api.all("v1", "/mailbox/mailThreads", {"folder": "inbox", "limit": 500})
    linked = [t for t in threads if t["deal_id"]][:10]
    assert linked
    users = {user["id"] for user in api.ok("v1", "/users")["data"]}
    for thread in linked:
        deal = api.ok("v2", f"/deals/{thread['deal_id']}")["data"]
        contact = thread["parties"]["from"][0]
        assert contact["linked_person_id"] == deal["person_id"]
        assert thread["deal_status"] == deal["status"]
        assert thread["user_id"] in users


def test_mail_thread_pages_follow_start_and_limit(api):
    whole = [t["id"] for t in api.all("v1", "/mailbox/mailThreads", {"folder": "inbox", "limit": 500})]
    page = api.ok("v1", "/mailbox/mailThreads", {"folder": "inbox", "start": 10, "limit": 5})
    assert [t["id"] for t in page["data"]] == whole[10:15]
    assert page["additional_data"]["pagination"] == {
        "start": 10,
        "limit": 5,
        "more_items_in_collection": True,
        "next_start": 15,
    }


def test_deleted_mail_thread_leaves_its_folder(make_sim):
    api = Api(make_sim(deals=200), "direct")
    thread = api.ok("v1", "/mailbox/mailThreads", {"folder": "sent"})["data"][0]
    api.sim.account().delete("mail_threads", thread["id"])
    sent = {t["id"] for t in api.all("v1", "/mailbox/mailThreads", {"folder": "sent", "limit": 500})}
    assert thread["id"] not in sent
    assert api.get("v1", f"/mailbox/mailThreads/{thread['id']}").status_code == 404
