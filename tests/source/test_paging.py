"""Pagination: every record of every page arrives once, with the parameters Pipedrive expects."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dlt
import pytest
from requests import Request, Response

from pipedrive_source import pipedrive_source
from pipedrive_source.client import UpdatedSincePaginator
from tests.source.fake_api import FakePipedrive, deal, deal_fields, note


def _rows(pipeline: dlt.Pipeline, query: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql(query)]


def test_v2_cursor_pages_are_all_read_500_at_a_time(
    fake: FakePipedrive, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    fake.serve(
        "api/v2/deals", [deal(i, f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z") for i in range(1, 1201)]
    )
    fake.serve("api/v2/dealFields", deal_fields())

    make_pipeline().run(pipedrive_source().with_resources("deals"))

    sent = fake.requests_to("api/v2/deals")
    # the first page, the newest page (to plan parallel windows: too short a list for them), the rest
    assert len(sent) == 4
    assert all(query["limit"] == "500" for query in sent)
    assert "cursor" not in sent[0] and sent[2]["cursor"] and sent[3]["cursor"]
    assert (sent[1]["sort_direction"], "cursor" in sent[1]) == ("desc", False)
    assert all(query["status"] == "open,won,lost,deleted" for query in sent)
    assert all(query["sort_by"] == "update_time" for query in sent)
    assert [query["sort_direction"] for query in sent] == ["asc", "desc", "asc", "asc"]
    assert _rows(make_pipeline(), "select count(*), count(distinct id) from deals") == [(1200, 1200)]


def test_v1_notes_pages_anchor_on_the_last_update_time(
    fake: FakePipedrive, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    # 700 notes, the last 250 of them updated in the same second
    notes = [note(i, f"2024-01-01 00:{i // 60:02d}:{i % 60:02d}") for i in range(1, 451)]
    notes += [note(i, "2024-02-01 10:00:00") for i in range(451, 701)]
    fake.serve("api/v1/notes", notes)

    make_pipeline().run(pipedrive_source().with_resources("notes"))

    sent = fake.requests_to("api/v1/notes")
    assert [(q.get("updated_since"), q["start"], q["limit"]) for q in sent] == [
        (None, "0", "500"),
        # page 1 ended with 50 notes of 10:00:00: the next page starts after them, anchored on that second
        ("2024-02-01T10:00:00Z", "50", "500"),
    ]
    assert sent[0]["sort"] == "update_time ASC, id ASC"
    assert _rows(make_pipeline(), "select count(*), count(distinct id) from notes") == [(700, 700)]


def _response(body: dict[str, Any]) -> Response:
    import json

    response = Response()
    response._content = json.dumps(body).encode()
    response.status_code = 200
    return response


def test_updated_since_paginator_is_not_shifted_by_records_moving_to_the_end() -> None:
    """A record updated while the run reads moves to the end; offsets would then skip the next record."""
    paginator = UpdatedSincePaginator(limit=2)
    request = Request("GET", "https://x/api/v1/notes", params={"sort": "update_time ASC, id ASC"})
    paginator.init_request(request)
    page = [{"id": 1, "update_time": "2024-01-01 00:00:01"}, {"id": 2, "update_time": "2024-01-01 00:00:02"}]
    more = {"additional_data": {"pagination": {"more_items_in_collection": True}}}
    paginator.update_state(_response(more), page)
    paginator.update_request(request)
    # Record 1 is updated now: with offsets, `start=2` would skip record 4 (now second in the list).
    assert request.params == {
        "sort": "update_time ASC, id ASC",
        "updated_since": "2024-01-01T00:00:02Z",
        "start": 1,
        "limit": 2,
    }
    paginator.update_state(
        _response({"additional_data": {"pagination": {"more_items_in_collection": False}}}),
        [{"id": 3, "update_time": "2024-01-01 00:00:03"}],
    )
    assert not paginator.has_next_page


@pytest.mark.parametrize("resource", ["users", "pipelines"])
def test_small_lists_take_one_request_and_replace(
    fake: FakePipedrive, make_pipeline: Callable[..., dlt.Pipeline], resource: str
) -> None:
    path = {"users": "api/v1/users", "pipelines": "api/v2/pipelines"}[resource]
    records = [{"id": i, "name": f"{resource} {i}", "update_time": "2024-01-01 00:00:00"} for i in (1, 2, 3)]
    if resource == "users":
        fake.mock.get(f"https://api.maton.ai/pipedrive/{path}", json={"success": True, "data": records})
    else:
        fake.serve(path, records)
    pipeline = make_pipeline()

    pipeline.run(pipedrive_source().with_resources(resource))
    pipeline.run(pipedrive_source().with_resources(resource))

    assert len(fake.requests_to(path)) == 2
    assert all("updated_since" not in query for query in fake.requests_to(path))
    assert pipeline.default_schema.get_table(resource)["write_disposition"] == "replace"
    assert _rows(pipeline, f"select count(*) from {resource}") == [(3,)]
