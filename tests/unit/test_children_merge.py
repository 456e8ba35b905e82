"""The child tables' merge on DuckDB: the children of a parent read again replace its previous ones, an
emptied set included (dlt's `delete-insert` on the `merge_key`, with a `hard_delete` row for "none left"),
and the children of parents not read again stay."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import pytest

from pipedrive_source.children.reading import NO_CHILDREN, none_left
from pipedrive_source.children.resources import MERGE, child_columns, child_table
from pipedrive_source.children.tables import CHILDREN_BY_NAME, Child

FOLLOWERS = CHILDREN_BY_NAME["deal_followers"]
CHANGES = CHILDREN_BY_NAME["deal_changes"]


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dlt.Pipeline:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    return dlt.pipeline(
        "children_merge",
        pipelines_dir=str(tmp_path / "pipelines"),
        destination=dlt.destinations.duckdb(str(tmp_path / "children.duckdb")),
        dataset_name="pipedrive_data",
    )


def _load(pipeline: dlt.Pipeline, child: Child, rows: list[dict[str, Any]]) -> None:
    resource = dlt.resource(
        [child_table(child, rows)],
        name=child.name,
        write_disposition=MERGE,
        merge_key=child.parent_key,
        columns=child_columns(child),
    )
    pipeline.run(resource)


def _rows(pipeline: dlt.Pipeline, sql: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql(sql)]


def _follower(deal_id: int, user_id: int) -> dict[str, Any]:
    return {"deal_id": deal_id, "user_id": user_id, "add_time": "2026-01-02T03:04:05Z"}


def test_a_parent_read_again_replaces_its_children_and_an_emptied_one_keeps_none(pipeline: dlt.Pipeline):
    _load(pipeline, FOLLOWERS, [_follower(1, 10), _follower(1, 11), _follower(2, 12), _follower(3, 13)])

    # deal 1 lost a follower, deal 2 lost its only one, deal 3 was not read again
    _load(pipeline, FOLLOWERS, [_follower(1, 11), *none_left(FOLLOWERS, [2])])

    assert _rows(pipeline, "select deal_id, user_id from deal_followers order by deal_id, user_id") == [
        (1, 11),
        (3, 13),
    ]
    # the marker never lands: its column stays empty
    assert _rows(pipeline, f"select count(*) from deal_followers where {NO_CHILDREN} is not null") == [(0,)]


def test_a_parent_whose_children_come_back_gets_them_again(pipeline: dlt.Pipeline):
    _load(pipeline, FOLLOWERS, none_left(FOLLOWERS, [5]))
    assert _rows(pipeline, "select count(*) from deal_followers") == [(0,)]

    _load(pipeline, FOLLOWERS, [_follower(5, 50)])

    assert _rows(pipeline, "select deal_id, user_id from deal_followers") == [(5, 50)]


def test_deal_changes_land_typed(pipeline: dlt.Pipeline):
    change = {
        "deal_id": 7,
        "id": 70,
        "field_key": "stage_id",
        "old_value": "1",
        "new_value": "2",
        "changed_at": "2026-03-04 05:06:07",
        "user_id": 9,
    }
    _load(pipeline, CHANGES, [change])

    ((changed_at, new_value),) = _rows(pipeline, "select changed_at, new_value from deal_changes")
    assert changed_at.isoformat() == "2026-03-04T05:06:07+00:00"
    assert new_value == "2"
