"""Every endpoint the simulator serves answers what Pipedrive's official specs describe, through both layers.

Each response body is validated against the response schema of its operation in `tests/data/openapi-v*.yaml`
(`tests.openapi_schemas`), on the first, a later and the last page of every list.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from pipedrive_source.testing import simulator
from tests.openapi_schemas import assert_matches_spec, load_spec, response_schema
from tests.simulator.clients import API_KEY, LAYERS, SEED, UNTHROTTLED, Api, v2_time

EXAMPLES = Path(__file__).parents[1] / "data" / "examples"
# path -> (page size, pages at least): page sizes small enough that first, middle and last pages all exist.
V2_LISTS = {
    "/deals": (250, 3),
    "/deals/archived": (2, 2),
    "/persons": (120, 3),
    "/organizations": (30, 3),
    "/activities": (500, 3),
    "/products": (20, 3),
    "/pipelines": (1, 2),
    "/stages": (2, 3),
    "/dealFields": (10, 3),
    "/personFields": (10, 2),
    "/organizationFields": (10, 2),
    "/productFields": (5, 2),
    "/activityFields": (10, 2),
    "/projects": (5, 3),
    "/projects/archived": (1, 2),
    "/projectFields": (5, 3),
    "/tasks": (20, 3),
}
V1_PAGED_LISTS = {
    "/notes": (120, 3),
    "/leads": (40, 3),
    "/files": (20, 2),
    "/callLogs": (20, 2),
    "/roles": (1, 2),
    "/dealFields": (20, 2),
    "/personFields": (10, 2),
    "/organizationFields": (10, 2),
    "/productFields": (5, 2),
    "/leadFields": (20, 2),
}
V1_UNPAGED_LISTS = [
    "/users",
    "/activityTypes",
    "/filters",
    "/leadLabels",
    "/leadSources",
    "/currencies",
    "/goals/find",
    "/activityFields",
    "/noteFields",
    "/permissionSets",
]
# folder -> (page size, pages at least) of `GET /mailbox/mailThreads?folder=`
MAIL_FOLDERS = {"inbox": (20, 3), "sent": (10, 3), "archive": (10, 2), "drafts": (3, 2)}
V2_ENTITIES = ["deals", "persons", "organizations", "activities", "products", "pipelines", "stages"]
OUT_OF_SUPPORT_V1 = ["deals", "persons", "organizations", "activities", "pipelines", "stages", "products"]

NEW_RECORDS = {
    "deals": {"title": "Fidelity check: renewal 2027", "value": 1250.5, "currency": "EUR"},
    "persons": {
        "name": "Maren Lindqvist",
        "emails": [{"value": "maren.lindqvist@nordhavn.example", "primary": True, "label": "work"}],
        "phones": [{"value": "+46 8 555 014 22", "primary": True, "label": "mobile"}],
    },
    "organizations": {"name": "Nordhavn Logistics AB"},
    "activities": {"subject": "Follow-up call about the renewal", "type": "call", "due_date": "2027-01-15"},
    "products": {"name": "Fleet telemetry licence", "code": "FTL-12"},
}
CHANGES = {
    "deals": {"title": "Fidelity check: renewal 2027 (signed)"},
    "persons": {"name": "Maren Lindqvist-Berg"},
    "organizations": {"name": "Nordhavn Logistics Group AB"},
    "activities": {"subject": "Follow-up call, moved"},
    "products": {"name": "Fleet telemetry licence (2 years)"},
}
CREATED_STATUS = {"products": 201}


def check_list(
    api: Api, version: str, path: str, limit: int, min_pages: int, extra: dict | None = None
) -> list:
    params = {"limit": limit, **(extra or {})}
    pages = api.pages(version, path, params)
    assert len(pages) >= min_pages, (
        f"{path}: expected at least {min_pages} pages of {limit}, got {len(pages)}"
    )
    for number, page in enumerate(pages):
        assert_matches_spec(version, "get", path, 200, page)
        assert page["success"] is True
        size = len(page["data"] or [])
        assert size <= limit
        if number < len(pages) - 1:
            assert size == limit, f"{path}: page {number} of a longer list holds {size} of {limit}"
    return pages


@pytest.mark.parametrize("path", sorted(V2_LISTS))
def test_v2_list_pages_match_spec(api, path):
    limit, min_pages = V2_LISTS[path]
    pages = check_list(api, "v2", path, limit, min_pages)
    assert pages[0]["data"], f"{path}: empty first page"
    assert pages[-1]["additional_data"]["next_cursor"] is None


@pytest.mark.parametrize("path", sorted(V1_PAGED_LISTS))
def test_v1_paged_list_pages_match_spec(api, path):
    limit, min_pages = V1_PAGED_LISTS[path]
    pages = check_list(api, "v1", path, limit, min_pages)
    assert pages[0]["data"], f"{path}: empty first page"
    assert pages[-1]["additional_data"]["pagination"]["more_items_in_collection"] is False


@pytest.mark.parametrize("path", V1_UNPAGED_LISTS)
def test_v1_list_matches_spec(api, path):
    body = api.ok("v1", path)
    assert_matches_spec("v1", "get", path, 200, body)
    assert body["data"], f"{path}: no records"


@pytest.mark.parametrize("folder", sorted(MAIL_FOLDERS))
def test_v1_mail_thread_pages_match_spec(api, folder):
    limit, min_pages = MAIL_FOLDERS[folder]
    pages = check_list(api, "v1", "/mailbox/mailThreads", limit, min_pages, {"folder": folder})
    threads = [thread for page in pages for thread in page["data"]]
    assert {tuple(thread["folders"]) for thread in threads} == {(folder,)}
    last_messages = [v2_time(thread["last_message_timestamp"]) for thread in threads]
    assert last_messages == sorted(last_messages, reverse=True), "most recent message first"


@pytest.fixture(scope="module")
def related_org_id(sim) -> int:
    """An organization with at least two relationships."""
    direct = Api(sim, "direct")
    for org in direct.all("v2", "/organizations", {"limit": 500}):
        if len(direct.ok("v1", "/organizationRelationships", {"org_id": org["id"]})["data"]) >= 2:
            return org["id"]
    raise AssertionError("no organization has two relationships")


def test_v1_organization_relationships_match_spec(api, related_org_id):
    body = api.ok("v1", "/organizationRelationships", {"org_id": related_org_id})
    assert_matches_spec("v1", "get", "/organizationRelationships", 200, body)
    for relationship in body["data"]:
        sides = {relationship["rel_owner_org_id"]["value"], relationship["rel_linked_org_id"]["value"]}
        assert related_org_id in sides
        assert relationship["calculated_related_org_id"] == (sides - {related_org_id}).pop()
        assert str(relationship["calculated_related_org_id"]) in body["related_objects"]["organization"]


V1_SINGLES = {
    "/permissionSets/{id}": ("/permissionSets", {}),
    "/mailbox/mailThreads/{id}": ("/mailbox/mailThreads", {"folder": "sent"}),
}


@pytest.mark.parametrize("path", sorted(V1_SINGLES))
def test_v1_new_singles_match_spec(api, path):
    list_path, params = V1_SINGLES[path]
    listed = api.ok("v1", list_path, params)["data"][-1]
    body = api.ok("v1", path.format(id=listed["id"]))
    assert_matches_spec("v1", "get", path, 200, body)
    assert {key: body["data"][key] for key in listed} == listed


def test_v1_organization_relationship_single_matches_spec(api, related_org_id):
    listed = api.ok("v1", "/organizationRelationships", {"org_id": related_org_id})["data"][0]
    body = api.ok("v1", f"/organizationRelationships/{listed['id']}", {"org_id": related_org_id})
    assert_matches_spec("v1", "get", "/organizationRelationships/{id}", 200, body)
    assert body["data"] == listed


@pytest.mark.parametrize("entity", ["projects", "tasks"])
def test_v2_project_and_task_singles_match_spec(api, entity):
    listed = api.ok("v2", f"/{entity}", {"limit": 3})["data"][-1]
    body = api.ok("v2", f"/{entity}/{listed['id']}")
    assert_matches_spec("v2", "get", f"/{entity}/{{id}}", 200, body)
    assert body["data"] == listed


def test_v2_project_field_single_matches_spec(api):
    listed = [f for f in api.all("v2", "/projectFields") if f["is_custom_field"]][0]
    body = api.ok("v2", f"/projectFields/{listed['field_code']}")
    assert_matches_spec("v2", "get", "/projectFields/{field_code}", 200, body)
    assert body["data"] == listed


def test_v1_users_me_matches_spec(api):
    body = api.ok("v1", "/users/me")
    assert_matches_spec("v1", "get", "/users/me", 200, body)
    assert isinstance(body["data"]["id"], int)
    assert body["data"]["company_domain"]


def test_v1_recents_match_spec(api):
    since = max(v2_time(deal["update_time"]) for deal in api.all("v2", "/deals", {"limit": 500}))
    since = since.replace(day=1).strftime("%Y-%m-%d %H:%M:%S")
    pages = check_list(api, "v1", "/recents", 50, 1, {"since_timestamp": since})
    assert pages[0]["data"], "no recents in the last month of data"


@pytest.fixture(scope="module")
def first_deal_id(sim) -> int:
    return Api(sim, "direct").ok("v2", "/deals", {"limit": 1})["data"][0]["id"]


@pytest.mark.parametrize("path", ["/deals/{id}/flow", "/deals/{id}/participants"])
def test_v1_deal_children_match_spec(api, first_deal_id, path):
    pages = api.pages("v1", path.format(id=first_deal_id), {"limit": 20})
    for page in pages:
        assert_matches_spec("v1", "get", path, 200, page)


def test_v1_deal_flow_is_not_empty(api, first_deal_id):
    assert api.ok("v1", f"/deals/{first_deal_id}/flow")["data"], (
        "a deal has at least its creation in its flow"
    )


@pytest.mark.parametrize("entity", V2_ENTITIES)
def test_v2_single_matches_spec(api, entity):
    listed = api.ok("v2", f"/{entity}", {"limit": 3})["data"][-1]
    body = api.ok("v2", f"/{entity}/{listed['id']}")
    assert_matches_spec("v2", "get", f"/{entity}/{{id}}", 200, body)
    assert body["data"] == listed


@pytest.mark.parametrize(("entity", "key"), [("notes", "id"), ("users", "id"), ("leads", "id")])
def test_v1_single_matches_spec(api, entity, key):
    listed = api.ok("v1", f"/{entity}", {"limit": 2})["data"][-1]
    body = api.ok("v1", f"/{entity}/{listed[key]}")
    assert_matches_spec("v1", "get", f"/{entity}/{{id}}", 200, body)
    assert body["data"]["id"] == listed["id"]


@pytest.fixture(scope="module")
def deals_with_products(sim) -> list[int]:
    direct = Api(sim, "direct")
    ids = [deal["id"] for deal in direct.ok("v2", "/deals", {"limit": 100})["data"]]
    products = direct.all("v2", "/deals/products", {"deal_ids": ",".join(map(str, ids)), "limit": 500})
    return sorted({product["deal_id"] for product in products})


def test_v2_deal_products_in_bulk_match_spec(api):
    ids = [deal["id"] for deal in api.ok("v2", "/deals", {"limit": 100})["data"]]
    pages = check_list(api, "v2", "/deals/products", 50, 1, {"deal_ids": ",".join(map(str, ids))})
    attached = [product for page in pages for product in page["data"]]
    assert attached, "none of 100 deals has products"
    assert {product["deal_id"] for product in attached} <= set(ids)


def test_v2_products_of_one_deal_match_spec(api, deals_with_products):
    assert deals_with_products, "none of 100 deals has products"
    deal_id = deals_with_products[0]
    body = api.ok("v2", f"/deals/{deal_id}/products")
    assert_matches_spec("v2", "get", "/deals/{id}/products", 200, body)
    assert body["data"]
    assert {product["deal_id"] for product in body["data"]} == {deal_id}


def test_v2_deal_installments_match_spec(api):
    ids = [deal["id"] for deal in api.ok("v2", "/deals", {"limit": 100})["data"]]
    pages = check_list(api, "v2", "/deals/installments", 50, 1, {"deal_ids": ",".join(map(str, ids))})
    assert {item["deal_id"] for page in pages for item in page["data"]} <= set(ids)


def test_v2_deal_followers_match_spec(api, first_deal_id):
    body = api.ok("v2", f"/deals/{first_deal_id}/followers")
    assert_matches_spec("v2", "get", "/deals/{id}/followers", 200, body)
    users = {user["id"] for user in api.ok("v1", "/users")["data"]}
    assert body["data"], "a deal is followed at least by its owner"
    assert {follower["user_id"] for follower in body["data"]} <= users


SEARCHES = [
    ("/deals/search", "deals", "title"),
    ("/persons/search", "persons", "name"),
    ("/organizations/search", "organizations", "name"),
    ("/products/search", "products", "name"),
]


@pytest.mark.parametrize(("path", "entity", "key"), SEARCHES)
def test_v2_search_matches_spec(api, path, entity, key):
    record = api.ok("v2", f"/{entity}", {"limit": 5})["data"][4]
    body = api.ok("v2", path, {"term": record[key], "exact_match": "true"})
    assert_matches_spec("v2", "get", path, 200, body)
    found = [hit["item"]["id"] for hit in body["data"]["items"]]
    assert record["id"] in found


def test_v2_item_search_matches_spec(api):
    deal = api.ok("v2", "/deals", {"limit": 1})["data"][0]
    body = api.ok("v2", "/itemSearch", {"term": deal["title"], "item_types": "deal", "exact_match": "true"})
    assert_matches_spec("v2", "get", "/itemSearch", 200, body)
    assert deal["id"] in [hit["item"]["id"] for hit in body["data"]["items"]]


@pytest.fixture(scope="module")
def writable() -> Iterator[Any]:
    with simulator(seed=SEED, deals=60, api_key=API_KEY, rate_limit=UNTHROTTLED) as private:
        yield private


@pytest.mark.parametrize("layer", LAYERS)
@pytest.mark.parametrize("entity", sorted(NEW_RECORDS))
def test_v2_writes_match_spec(writable, layer, entity):
    api = Api(writable, layer)
    created = api.request("POST", "v2", f"/{entity}", json=NEW_RECORDS[entity])
    status = CREATED_STATUS.get(entity, 200)
    assert created.status_code == status, created.text[:500]
    assert_matches_spec("v2", "post", f"/{entity}", status, created.json())
    record_id = created.json()["data"]["id"]
    assert isinstance(record_id, int)

    changed = api.request("PATCH", "v2", f"/{entity}/{record_id}", json=CHANGES[entity])
    assert changed.status_code == 200, changed.text[:500]
    assert_matches_spec("v2", "patch", f"/{entity}/{{id}}", 200, changed.json())
    for key, value in CHANGES[entity].items():
        assert changed.json()["data"][key] == value

    deleted = api.request("DELETE", "v2", f"/{entity}/{record_id}")
    assert deleted.status_code == 200, deleted.text[:500]
    assert_matches_spec("v2", "delete", f"/{entity}/{{id}}", 200, deleted.json())
    assert deleted.json()["data"]["id"] == record_id


ERRORS = [
    ("v2", "/deals", {"limit": 501}, 400),
    ("v2", "/persons", {"limit": 1000}, 400),
    ("v2", "/deals/{id}", None, 404),
    ("v2", "/persons/{id}", None, 404),
    ("v2", "/organizations/{id}", None, 404),
    ("v1", "/notes/{id}", None, 404),
    ("v2", "/projects/{id}", None, 404),
    ("v2", "/tasks/{id}", None, 404),
    ("v2", "/projects", {"limit": 501}, 400),
    ("v2", "/tasks", {"limit": 0}, 400),
    ("v1", "/permissionSets/{id}", None, 404),
    ("v1", "/organizationRelationships/{id}", None, 404),
    ("v1", "/mailbox/mailThreads/{id}", None, 404),
    ("v1", "/organizationRelationships", None, 400),
    ("v1", "/mailbox/mailThreads", None, 400),
    ("v1", "/mailbox/mailThreads", {"folder": "spam"}, 400),
] + [("v1", f"/{entity}", None, 410) for entity in OUT_OF_SUPPORT_V1]


@pytest.mark.parametrize(("version", "path", "params", "status"), ERRORS)
def test_error_responses_match_spec(api, version, path, params, status):
    response = api.get(version, path.format(id=987654321), params)
    assert response.status_code == status, response.text[:500]
    assert response.headers["content-type"].startswith("application/json")
    assert_matches_spec(version, "get", path, status, response.json())


@pytest.mark.parametrize("layer", LAYERS)
def test_unauthorized_matches_spec(sim, layer):
    api = Api(sim, layer)
    api.session.headers.pop("x-api-token", None)
    api.session.headers["Authorization"] = "Bearer wrong-key"
    response = api.get("v2", "/deals")
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/json")
    if layer == "direct":
        assert_matches_spec("v2", "get", "/deals", 401, response.json())
        assert response.json()["error"] == "unauthorized access"
        assert response.json()["errorCode"] == 401


# list -> its official example: records carry every key the example shows and the schema declares
# (keys that only `include_fields` adds are left out: they are not in default responses).
KEY_EXAMPLES = [
    ("v2", "/deals", "v2_deals_list"),
    ("v2", "/persons", "v2_persons_list"),
    ("v2", "/organizations", "v2_organizations_list"),
    ("v2", "/activities", "v2_activities_list"),
    ("v2", "/products", "v2_products_list"),
    ("v2", "/pipelines", "v2_pipelines_list"),
    ("v2", "/stages", "v2_stages_list"),
    ("v2", "/dealFields", "v2_dealFields_list"),
    ("v1", "/notes", "v1_notes_list"),
    ("v1", "/users", "v1_users_list"),
    ("v1", "/dealFields", "v1_dealFields_list"),
]


def declared_keys(schema: dict) -> set[str]:
    keys = set(schema.get("properties", {}))
    for combinator in ("allOf", "anyOf", "oneOf"):
        for member in schema.get(combinator, []):
            keys |= declared_keys(member)
    return keys


def record_schema(version: str, path: str) -> dict:
    body = response_schema(version, "get", path, 200)
    for member in [body, *body.get("allOf", [])]:
        if "data" in member.get("properties", {}):
            data = member["properties"]["data"]
            return data.get("items", data)
    raise AssertionError(f"{version} {path}: no data in the response schema")


def optional_includes(version: str, path: str) -> set[str]:
    parameters = load_spec(version)["paths"][path]["get"].get("parameters", [])
    options = [p["schema"].get("enum", []) for p in parameters if p["name"] == "include_fields"]
    return {name for option in (options[0] if options else []) for name in option.split(",")}


@pytest.mark.parametrize(("version", "path", "example_name"), KEY_EXAMPLES)
def test_records_carry_every_documented_key(api, version, path, example_name):
    example = json.loads((EXAMPLES / f"{example_name}.json").read_text())["example"]
    example_keys = set().union(*(set(record) for record in example["data"]))
    expected = (example_keys & declared_keys(record_schema(version, path))) - optional_includes(version, path)
    served = api.ok(version, path, {"limit": 50})["data"]
    missing = {record.get("id", record.get("key")): sorted(expected - set(record)) for record in served}
    assert not {key: keys for key, keys in missing.items() if keys}


def test_direct_layer_takes_the_key_as_an_oauth_bearer_token(sim):
    response = requests.get(
        f"{sim.direct_url}/api/v2/deals", headers={"Authorization": f"Bearer {sim.api_key}"}, timeout=30
    )
    assert response.status_code == 200
    assert_matches_spec("v2", "get", "/deals", 200, response.json())


# list -> the query it needs: records carry every key of the spec's own example (no example file exists).
SPEC_EXAMPLE_LISTS = [
    ("v1", "/permissionSets", {}),
    ("v1", "/mailbox/mailThreads", {"folder": "inbox"}),
    ("v2", "/projects", {}),
    ("v2", "/tasks", {}),
    ("v2", "/projectFields", {}),
]


def spec_example_keys(version: str, path: str) -> set[str]:
    example = load_spec(version)["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
    return set().union(*(set(record) for record in example["example"]["data"]))


@pytest.mark.parametrize(("version", "path", "params"), SPEC_EXAMPLE_LISTS)
def test_new_records_carry_every_key_of_the_spec_example(api, version, path, params):
    expected = spec_example_keys(version, path) & declared_keys(record_schema(version, path))
    served = api.ok(version, path, {"limit": 50, **params})["data"]
    assert served
    missing = {
        str(record.get("id", record.get("field_code"))): sorted(expected - set(record)) for record in served
    }
    assert not {key: keys for key, keys in missing.items() if keys}


def test_organization_relationships_carry_every_key_of_the_spec_example(api, related_org_id):
    path = "/organizationRelationships"
    expected = spec_example_keys("v1", path) & declared_keys(record_schema("v1", path))
    for record in api.ok("v1", path, {"org_id": related_org_id})["data"]:
        assert expected <= set(record), sorted(expected - set(record))


@pytest.mark.parametrize("layer", LAYERS)
def test_v1_organization_relationship_writes_match_spec(writable, layer):
    api = Api(writable, layer)
    created = api.request(
        "POST",
        "v1",
        "/organizationRelationships",
        json={"type": "parent", "rel_owner_org_id": 1, "rel_linked_org_id": 2},
    )
    assert created.status_code == 200, created.text[:500]
    assert_matches_spec("v1", "post", "/organizationRelationships", 200, created.json())
    relationship = created.json()["data"]
    assert (relationship["calculated_type"], relationship["calculated_related_org_id"]) == ("daughter", 2)

    path = f"/organizationRelationships/{relationship['id']}"
    changed = api.request("PUT", "v1", path, json={"type": "related"})
    assert changed.status_code == 200, changed.text[:500]
    assert_matches_spec("v1", "put", "/organizationRelationships/{id}", 200, changed.json())
    assert changed.json()["data"]["calculated_type"] == "related"

    deleted = api.request("DELETE", "v1", path)
    assert deleted.status_code == 200, deleted.text[:500]
    assert_matches_spec("v1", "delete", "/organizationRelationships/{id}", 200, deleted.json())
    assert api.get("v1", path).status_code == 404


@pytest.mark.parametrize("layer", LAYERS)
def test_v1_participant_writes_match_spec(writable, layer):
    api = Api(writable, layer)
    deal = api.ok("v2", "/deals", {"limit": 1})["data"][0]
    listed = {p["person"]["id"] for p in api.ok("v1", f"/deals/{deal['id']}/participants")["data"] or []}
    person = next(p["id"] for p in api.ok("v2", "/persons", {"limit": 20})["data"] if p["id"] not in listed)
    added = api.request("POST", "v1", f"/deals/{deal['id']}/participants", json={"person_id": person})
    assert added.status_code == 200, added.text[:500]
    assert_matches_spec("v1", "post", "/deals/{id}/participants", 200, added.json())
    participant_id = added.json()["data"]["id"]

    removed = api.request("DELETE", "v1", f"/deals/{deal['id']}/participants/{participant_id}")
    assert removed.status_code == 200, removed.text[:500]
    assert_matches_spec("v1", "delete", "/deals/{id}/participants/{deal_participant_id}", 200, removed.json())
    assert person not in {
        p["person"]["id"] for p in api.ok("v1", f"/deals/{deal['id']}/participants")["data"]
    }


@pytest.mark.parametrize("layer", LAYERS)
def test_v2_deal_product_and_installment_writes_match_spec(writable, layer):
    api = Api(writable, layer)
    deal = api.ok("v2", "/deals", {"limit": 2})["data"][1]
    product = api.ok("v2", "/products", {"limit": 1})["data"][0]
    attached = api.request(
        "POST", "v2", f"/deals/{deal['id']}/products", json={"product_id": product["id"], "item_price": 40}
    )
    assert attached.status_code == 201, attached.text[:500]
    path = f"/deals/{deal['id']}/products/{attached.json()['data']['id']}"
    changed = api.request("PATCH", "v2", path, json={"quantity": 3, "discount": 10})
    assert changed.status_code == 200, changed.text[:500]
    assert_matches_spec("v2", "patch", "/deals/{id}/products/{product_attachment_id}", 200, changed.json())
    assert changed.json()["data"]["sum"] == 108

    body = {"description": "Second half", "amount": 500, "billing_date": "2027-03-01"}
    installment = api.request("POST", "v2", f"/deals/{deal['id']}/installments", json=body)
    assert installment.status_code == 200, installment.text[:500]
    assert_matches_spec("v2", "post", "/deals/{id}/installments", 200, installment.json())
    installment_path = f"/deals/{deal['id']}/installments/{installment.json()['data']['id']}"
    removed = api.request("DELETE", "v2", installment_path)
    assert removed.status_code == 200, removed.text[:500]
    assert_matches_spec("v2", "delete", "/deals/{id}/installments/{installment_id}", 200, removed.json())
    assert api.request("DELETE", "v2", path).status_code == 200
