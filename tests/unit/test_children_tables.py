"""The child tables as data: the requests they send, how API records become rows, which parents cost a
request, and which table a request path counts under."""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from pipedrive_source.children import shapes
from pipedrive_source.children.paths import table_of_path
from pipedrive_source.children.resources import parent_records, plan
from pipedrive_source.children.tables import CHILDREN, CHILDREN_BY_NAME, MAX_PARENT_IDS
from pipedrive_source.token_costs import TOKEN_COSTS, _spec_path, cost_of


@pytest.mark.parametrize(
    ("name", "parent_ids", "path", "params"),
    [
        ("deal_products", [1, 2, 3], "api/v2/deals/products", {"deal_ids": "1,2,3"}),
        ("deal_installments", [1, 2], "api/v2/deals/installments", {"deal_ids": ["1", "2"]}),
        ("deal_followers", [17], "api/v2/deals/17/followers", {}),
        ("deal_participants", [17], "api/v1/deals/17/participants", {}),
        ("deal_changes", [17], "api/v1/deals/17/flow", {"items": "dealChange", "all_changes": "1"}),
        ("organization_relationships", [4], "api/v1/organizationRelationships", {"org_id": "4"}),
    ],
)
def test_requests(name: str, parent_ids: list[int], path: str, params: dict[str, Any]):
    assert CHILDREN_BY_NAME[name].request(parent_ids) == (path, params)


def test_bulk_endpoints_take_the_specs_maximum_of_ids_and_the_others_one_parent():
    bulk = {child.name: child.ids_per_request for child in CHILDREN if child.bulk}
    assert bulk == {"deal_products": MAX_PARENT_IDS, "deal_installments": MAX_PARENT_IDS}
    assert all("{id}" in child.path or child.ids_param for child in CHILDREN)


def test_every_child_request_has_its_token_cost_from_the_spec():
    # the child paths are written as the spec writes them (`{id}` included)
    assert [c.name for c in CHILDREN if f"GET {_spec_path(c.path)}" not in TOKEN_COSTS] == []
    assert cost_of("GET", "api/v1/deals/17/flow") == 40
    assert cost_of("GET", "api/v2/deals/17/followers") == 10


@pytest.mark.parametrize(
    ("path", "table"),
    [
        ("api/v2/deals/products", "deal_products"),
        ("/api/v2/deals/installments", "deal_installments"),
        ("api/v2/deals/17/followers", "deal_followers"),
        ("api/v2/persons/3/followers", "person_followers"),
        ("api/v1/deals/17/flow", "deal_changes"),
        ("api/v1/organizationRelationships", "organization_relationships"),
        ("api/v1/notes/30", "notes"),
        ("api/v1/leads/8d5eef38-9f43-43a6-8228-00000000000c", "leads"),
        ("api/v2/deals/archived/17", "deals"),
        ("api/v2/deals/17/products", None),
        ("api/v2/deals/17/flow", None),
    ],
)
def test_requests_count_under_their_table(path: str, table: str | None):
    assert table_of_path(path) == table


def test_the_flow_becomes_one_row_per_field_change():
    flow = [
        {
            "object": "dealChange",
            "timestamp": "2026-02-03 10:00:00",
            "data": {
                "id": 501,
                "item_id": 17,
                "user_id": 4,
                "field_key": "stage_id",
                "old_value": 1,
                "new_value": 2,
                "is_bulk_update_flag": None,
                "log_time": "2026-02-03 10:00:00",
                "change_source": "app",
                "change_source_user_agent": None,
                "additional_data": {"old_value_formatted": "Lead in", "new_value_formatted": "Qualified"},
            },
        },
        {"object": "note", "timestamp": "2026-02-02 09:00:00", "data": {"id": 9, "content": "hello"}},
        {
            "object": "dealChange",
            "timestamp": "2026-02-01 08:00:00",
            "data": {
                "id": 500,
                "item_id": 17,
                "user_id": 4,
                "field_key": "value",
                "old_value": None,
                "new_value": 1250.5,
                "log_time": "2026-02-01 08:00:00",
                "additional_data": [],
            },
        },
    ]

    rows = shapes.deal_changes(17, flow)

    assert [(r["id"], r["field_key"], r["old_value"], r["new_value"]) for r in rows] == [
        (501, "stage_id", "1", "2"),
        (500, "value", None, "1250.5"),
    ]
    assert rows[0]["changed_at"] == "2026-02-03 10:00:00"
    assert (rows[0]["old_value_formatted"], rows[0]["new_value_formatted"]) == ("Lead in", "Qualified")
    assert rows[1]["new_value_formatted"] is None
    assert {r["deal_id"] for r in rows} == {17}


def test_participants_keep_the_person_id_and_none_of_the_persons_details():
    record = {
        "id": 136,
        "person_id": {"name": "Ann", "email": [{"value": "ann@example.com"}], "value": 42},
        "add_time": "2026-01-01 00:00:00",
        "active_flag": True,
        "person": {"id": 42, "name": "Ann", "phone": [{"value": "+1 555"}]},
        "added_by_user_id": {"id": 3, "name": "Bob", "value": 3},
    }

    (row,) = shapes.deal_participant(17, [record])

    assert row == {
        "deal_id": 17,
        "id": 136,
        "person_id": 42,
        "add_time": "2026-01-01 00:00:00",
        "active_flag": True,
        "added_by_user_id": 3,
    }


def test_a_relationship_is_seen_from_the_organization_read():
    record = {
        "id": 1,
        "type": "parent",
        "rel_owner_org_id": {"name": "Pipedrive", "value": 1481},
        "rel_linked_org_id": {"name": "Telia", "value": 1480},
        "calculated_type": "daughter",
        "calculated_related_org_id": 1480,
        "related_organization_name": "Telia",
        "add_time": "2020-09-22 08:58:28",
        "update_time": "2020-09-22 08:58:28",
        "active_flag": "true",
    }

    (row,) = shapes.organization_relationship(1481, [record])

    assert (row["org_id"], row["owner_org_id"], row["linked_org_id"]) == (1481, 1481, 1480)
    assert (row["related_org_id"], row["related_type"]) == (1480, "daughter")


def test_parents_without_children_or_deleted_cost_no_request():
    followers = CHILDREN_BY_NAME["deal_followers"]
    parents = pa.table(
        {
            "id": [1, 2, 3, 4],
            "is_deleted": [False, False, True, None],
            "followers_count": [2, 0, 5, None],
            "title": ["a", "b", "c", "d"],
        }
    )

    records = parent_records(parents, followers)

    assert records[0] == {"id": 1, "is_deleted": False, "followers_count": 2}
    # a deleted parent keeps its children as last read; an unknown count is read
    assert plan(followers, records) == ([1, 4], [2])
    # without a count field every live parent is read
    assert plan(
        CHILDREN_BY_NAME["deal_changes"], parent_records(parents, CHILDREN_BY_NAME["deal_changes"])
    ) == (
        [1, 2, 4],
        [],
    )
    assert parent_records([{"id": 9, "title": "x"}], followers) == [
        {"id": 9, "is_deleted": None, "followers_count": None}
    ]
