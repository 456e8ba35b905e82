"""Incremental windows: what each run asks for, given the pipeline state, and what it loads."""

from collections.abc import Callable
from typing import Any

import dlt
import pytest

from pipedrive_source import pipedrive_source
from pipedrive_source.pipeline import run
from pipedrive_source.source import updated_since
from tests.source.fake_api import FakePipedrive, deal, deal_fields, note


def _rows(pipeline: dlt.Pipeline, query: str) -> list[tuple[Any, ...]]:
    with pipeline.sql_client() as client:
        return [tuple(row) for row in client.execute_sql(query)]


def _loaded(pipeline: dlt.Pipeline, table: str) -> int:
    return int(pipeline.last_trace.last_normalize_info.row_counts.get(table, 0))


@pytest.fixture
def deals(fake: FakePipedrive) -> list[dict[str, Any]]:
    records = [deal(i, f"2024-03-0{1 + i % 3}T12:00:0{i % 10}Z") for i in range(1, 31)]
    fake.serve("api/v2/deals", records)
    fake.serve("api/v2/dealFields", deal_fields())
    return records


def test_first_run_reads_everything_and_the_next_asks_from_the_last_update_time(
    fake: FakePipedrive, deals: list[dict[str, Any]], make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    pipeline = make_pipeline()
    pipeline.run(pipedrive_source().with_resources("deals"))
    pipeline.run(pipedrive_source().with_resources("deals"))

    first, second = fake.requests_to("api/v2/deals")
    assert "updated_since" not in first
    newest = max(record["update_time"] for record in deals)
    assert second["updated_since"] == newest
    # a no-change rerun reads the boundary second again, recognises it and loads nothing
    assert _loaded(pipeline, "deals") == 0
    assert _rows(pipeline, "select count(*) from deals") == [(30,)]


def test_rerun_loads_exactly_the_changes_including_a_second_update_within_the_same_second(
    fake: FakePipedrive, deals: list[dict[str, Any]], make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    pipeline = make_pipeline()
    pipeline.run(pipedrive_source().with_resources("deals"))
    newest = max(deals, key=lambda record: (record["update_time"], record["id"]))
    # updated again after the first run read it, but within the same second: same update_time
    newest["title"] = "Renamed in the same second"
    deals.append(deal(99, "2024-04-01T00:00:00Z", title="New deal"))

    pipeline.run(pipedrive_source().with_resources("deals"))

    assert _loaded(pipeline, "deals") == 2
    titles = dict(_rows(pipeline, f"select id, title from deals where id in ({newest['id']}, 99)"))
    assert titles == {newest["id"]: "Renamed in the same second", 99: "New deal"}


def test_the_window_depends_on_the_state_only(
    fake: FakePipedrive, deals: list[dict[str, Any]], make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    """No wall-clock value in any request: two pipelines with the same history send the same requests."""
    for name in ("one", "two"):
        pipeline = make_pipeline(name)
        pipeline.run(pipedrive_source().with_resources("deals"))
        pipeline.run(pipedrive_source().with_resources("deals"))
    sent = fake.requests_to("api/v2/deals")
    assert sent[:2] == sent[2:]
    assert all("updated_until" not in query for query in sent)


def test_notes_window_is_sent_in_rfc3339_and_rows_hold_aware_timestamps(
    fake: FakePipedrive, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    fake.serve("api/v1/notes", [note(1, "2024-01-01 08:00:00"), note(2, "2024-01-02 09:30:15")])
    pipeline = make_pipeline()
    pipeline.run(pipedrive_source().with_resources("notes"))
    pipeline.run(pipedrive_source().with_resources("notes"))

    assert fake.requests_to("api/v1/notes")[1]["updated_since"] == "2024-01-02T09:30:15Z"
    table = pipeline.default_schema.get_table("notes")
    assert table["columns"]["update_time"]["data_type"] == "timestamp"
    assert table["columns"]["update_time"].get("timezone") is True
    assert table["write_disposition"] == "merge"
    ((update_time,),) = _rows(pipeline, "select update_time from notes where id = 2")
    assert update_time.utcoffset() is not None and update_time.isoformat().startswith("2024-01-02T09:30:15")


def test_a_run_failing_midway_leaves_the_state_where_it_was(
    fake: FakePipedrive, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    records = [deal(i, f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z") for i in range(1, 601)]
    fake.serve("api/v2/deals", records)
    fake.serve("api/v2/dealFields", deal_fields())
    pipeline = make_pipeline()
    pipeline.run(pipedrive_source().with_resources("deals"))
    state_before = pipeline.state["sources"]["pipedrive"]["resources"]["deals"]["incremental"]["update_time"]
    for i in range(1, 601):
        records[i - 1]["update_time"] = f"2024-06-01T00:{i // 60:02d}:{i % 60:02d}Z"
    # the second page of the next run fails for good (400 is not retried)
    fake.fail(
        "api/v2/deals",
        200,
        {"success": True, "data": records[:500], "additional_data": {"next_cursor": "NTAw"}},
    )
    fake.fail("api/v2/deals", 400, {"success": False, "error": "boom"})

    with pytest.raises(Exception, match="boom"):
        pipeline.run(pipedrive_source().with_resources("deals"))

    reloaded = make_pipeline()
    state_after = reloaded.state["sources"]["pipedrive"]["resources"]["deals"]["incremental"]["update_time"]
    assert state_after["last_value"] == state_before["last_value"]
    assert _rows(reloaded, "select max(update_time) < '2024-06-01' from deals") == [(True,)]


@pytest.mark.parametrize(
    ("cursor", "expected"),
    [
        ("2024-01-02 09:30:15", "2024-01-02T09:30:15Z"),
        ("2024-01-02T09:30:15Z", "2024-01-02T09:30:15Z"),
        ("2024-01-02T11:30:15.250+02:00", "2024-01-02T09:30:15Z"),
    ],
)
def test_updated_since_is_whole_utc_seconds(cursor: str, expected: str) -> None:
    assert updated_since(cursor) == expected


def test_a_destination_that_keeps_no_state_continues_from_the_machines(
    fake: FakePipedrive, deals: list[dict[str, Any]], clean_env: Any
) -> None:
    # a sink of one's own keeps no copy of the state: nothing to compare, the state on the machine holds
    received: list[int] = []

    @dlt.destination(batch_size=0, loader_file_format="parquet")
    def sink(items: Any, table: Any) -> None:
        received.append(1)

    pipeline = dlt.pipeline("to_sink", destination=sink, pipelines_dir=str(clean_env / "pipelines"))
    notes: list[str] = []
    run(pipeline, pipedrive_source().with_resources("deals"), notify=notes.append)
    run(pipeline, pipedrive_source().with_resources("deals"), notify=notes.append)

    first, second = fake.requests_to("api/v2/deals")
    assert "updated_since" not in first and "updated_since" in second
    assert notes == [] and received
