"""Filter semantics of the lists: time windows, sorting, deal status, ids, archived deals."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest

from tests.simulator.clients import Api, rfc3339, v1_time, v2_time

SECOND = dt.timedelta(seconds=1)


@pytest.fixture(scope="module")
def all_deals(sim) -> list[dict]:
    return Api(sim, "direct").all("v2", "/deals", {"limit": 500})


@pytest.fixture(scope="module")
def shared_second(all_deals) -> dt.datetime:
    """An update second shared by several deals (Pipedrive stores seconds; bulk edits share them)."""
    counts = Counter(v2_time(deal["update_time"]) for deal in all_deals)
    shared = [moment for moment, count in counts.items() if count >= 2]
    assert shared, "no two deals share an update second"
    return sorted(shared)[len(shared) // 2]


def ids_where(deals: list[dict], keep) -> set:
    return {deal["id"] for deal in deals if keep(v2_time(deal["update_time"]))}


def test_updated_since_is_inclusive(api, all_deals, shared_second):
    got = {
        deal["id"]
        for deal in api.all("v2", "/deals", {"updated_since": rfc3339(shared_second), "limit": 500})
    }
    assert got == ids_where(all_deals, lambda moment: moment >= shared_second)


def test_updated_until_is_exclusive(api, all_deals, shared_second):
    got = {
        deal["id"]
        for deal in api.all("v2", "/deals", {"updated_until": rfc3339(shared_second), "limit": 500})
    }
    assert got == ids_where(all_deals, lambda moment: moment < shared_second)


def test_one_second_window_holds_every_same_second_update(api, all_deals, shared_second):
    window = {"updated_since": rfc3339(shared_second), "updated_until": rfc3339(shared_second + SECOND)}
    got = {deal["id"] for deal in api.all("v2", "/deals", {**window, "limit": 500})}
    expected = ids_where(all_deals, lambda moment: moment == shared_second)
    assert len(expected) >= 2
    assert got == expected


def test_adjacent_windows_partition_the_deals(api, all_deals, shared_second):
    """What an incremental load does: [.., T) then [T, ..) see every deal exactly once."""
    before = api.all("v2", "/deals", {"updated_until": rfc3339(shared_second), "limit": 500})
    after = api.all("v2", "/deals", {"updated_since": rfc3339(shared_second), "limit": 500})
    combined = [deal["id"] for deal in before + after]
    assert sorted(combined) == sorted(deal["id"] for deal in all_deals)


def test_time_filters_accept_utc_offsets(api, all_deals, shared_second):
    offset = shared_second.astimezone(dt.timezone(dt.timedelta(hours=2))).isoformat()
    got = {deal["id"] for deal in api.all("v2", "/deals", {"updated_since": offset, "limit": 500})}
    assert got == ids_where(all_deals, lambda moment: moment >= shared_second)


@pytest.mark.parametrize("entity", ["persons", "organizations", "activities"])
def test_updated_since_on_other_entities(api, entity):
    records = api.all("v2", f"/{entity}", {"limit": 500})
    moments = sorted(v2_time(record["update_time"]) for record in records)
    middle = moments[len(moments) // 2]
    got = {
        record["id"]
        for record in api.all("v2", f"/{entity}", {"updated_since": rfc3339(middle), "limit": 500})
    }
    assert got == {record["id"] for record in records if v2_time(record["update_time"]) >= middle}
    assert 0 < len(got) < len(records)


@pytest.mark.parametrize("sort_by", ["id", "update_time", "add_time"])
@pytest.mark.parametrize("direction", ["asc", "desc"])
def test_sort_orders(api, all_deals, sort_by, direction):
    deals = api.all("v2", "/deals", {"sort_by": sort_by, "sort_direction": direction, "limit": 200})
    key = (lambda deal: deal["id"]) if sort_by == "id" else (lambda deal: v2_time(deal[sort_by]))
    keys = [key(deal) for deal in deals]
    assert keys == sorted(keys, reverse=direction == "desc")
    assert sorted(deal["id"] for deal in deals) == sorted(deal["id"] for deal in all_deals)


def test_default_order_is_id_ascending(api, all_deals):
    ids = [deal["id"] for deal in all_deals]
    assert ids == sorted(ids)


def test_default_status_excludes_deleted_deals(all_deals):
    statuses = Counter(deal["status"] for deal in all_deals)
    assert set(statuses) <= {"open", "won", "lost"}
    assert statuses["open"] and statuses["won"] and statuses["lost"], statuses
    assert not any(deal["is_deleted"] for deal in all_deals)


@pytest.mark.parametrize("status", ["open", "won", "lost"])
def test_status_filter(api, all_deals, status):
    got = api.all("v2", "/deals", {"status": status, "limit": 500})
    assert {deal["id"] for deal in got} == {deal["id"] for deal in all_deals if deal["status"] == status}


def test_status_filter_takes_a_comma_list(api, all_deals):
    got = api.all("v2", "/deals", {"status": "won,lost", "limit": 500})
    assert {deal["id"] for deal in got} == {deal["id"] for deal in all_deals if deal["status"] != "open"}


def test_status_deleted_lists_recently_deleted_deals(api, all_deals):
    deleted = api.all("v2", "/deals", {"status": "deleted", "limit": 500})
    assert deleted, "the data set has deals deleted within the last 30 days"
    assert all(deal["is_deleted"] is True for deal in deleted)
    assert not {deal["id"] for deal in deleted} & {deal["id"] for deal in all_deals}


def test_status_deleted_combines_with_live_statuses(api, all_deals):
    deleted = {deal["id"] for deal in api.all("v2", "/deals", {"status": "deleted", "limit": 500})}
    everything = api.all("v2", "/deals", {"status": "open,won,lost,deleted", "limit": 500})
    assert {deal["id"] for deal in everything} == deleted | {deal["id"] for deal in all_deals}


def test_ids_filter(api, all_deals):
    wanted = [all_deals[index]["id"] for index in (3, 50, 101, 250)]
    got = api.ok("v2", "/deals", {"ids": ",".join(map(str, [*wanted, 99999999]))})["data"]
    assert sorted(deal["id"] for deal in got) == sorted(wanted)


@pytest.mark.parametrize("field", ["owner_id", "pipeline_id", "stage_id", "person_id", "org_id"])
def test_deal_attribute_filters(api, all_deals, field):
    value = next(deal[field] for deal in all_deals[10:] if deal[field] is not None)
    got = api.all("v2", "/deals", {field: value, "limit": 500})
    assert {deal["id"] for deal in got} == {deal["id"] for deal in all_deals if deal[field] == value}


def test_archived_deals_only_at_their_endpoint(api, all_deals):
    archived = api.all("v2", "/deals/archived", {"limit": 500})
    assert archived, "the data set has archived deals"
    assert all(deal["is_archived"] is True for deal in archived)
    assert all(deal["is_archived"] is False for deal in all_deals)
    assert not {deal["id"] for deal in archived} & {deal["id"] for deal in all_deals}


def test_archived_deals_honour_updated_since(api):
    archived = api.all("v2", "/deals/archived", {"limit": 500})
    oldest = min(v2_time(deal["update_time"]) for deal in archived)
    newest = max(v2_time(deal["update_time"]) for deal in archived)
    got = api.all("v2", "/deals/archived", {"updated_since": rfc3339(newest), "limit": 500})
    assert {deal["id"] for deal in got} == {
        deal["id"] for deal in archived if v2_time(deal["update_time"]) >= newest
    }
    assert oldest < newest


@pytest.mark.parametrize("path", ["/notes", "/leads"])
def test_v1_updated_since_is_inclusive(api, path):
    records = api.all("v1", path, {"limit": 500})
    moments = sorted(parse_any(record["update_time"]) for record in records)
    middle = moments[len(moments) // 2]
    got = api.all("v1", path, {"updated_since": rfc3339(middle), "limit": 500})
    assert {record["id"] for record in got} == {
        record["id"] for record in records if parse_any(record["update_time"]) >= middle
    }
    assert 0 < len(got) < len(records)


def parse_any(text: str) -> dt.datetime:
    """v1 notes send `YYYY-MM-DD HH:MM:SS`; v1 leads send RFC 3339 (the spec says so for leads)."""
    return v1_time(text) if " " in text else v2_time(text)


def test_v1_times_are_in_v1_format(api):
    note = api.ok("v1", "/notes", {"limit": 1})["data"][0]
    assert v1_time(note["add_time"]) <= v1_time(note["update_time"])
