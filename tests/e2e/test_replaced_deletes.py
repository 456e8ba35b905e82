"""End-to-end: in a replaced table a record deleted in Pipedrive is gone after the next run (pipelines and
stages; the other replaced tables are covered by `test_catalog.py`, deals by `test_load.py`, the incremental
tables by `test_deletes.py`).

Replays `cassettes/test_replaced_deletes/`, recorded from the simulator through the Maton layer; the deletes
go through the gateway like the reads, so the replay gets the same answers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import dlt
import pytest
from vcr.cassette import Cassette

from pipedrive_source import pipedrive_source
from pipedrive_source.selection import select_tables
from tests.e2e import oracle
from tests.e2e.conftest import Gateway, RequestCounter, write_through_gateway
from tests.e2e.test_children import small_account

pytestmark = pytest.mark.vcr


@pytest.fixture
def gateway(record_mode: str, clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    yield from small_account(record_mode, monkeypatch)


def _ids(pipeline: dlt.Pipeline, table: str) -> set[int]:
    with pipeline.sql_client() as client:
        return {row[0] for row in client.execute_sql(f"select id from {table}")}


def _listed(vcr: Cassette, path: str, start: int) -> set[int]:
    return {record["id"] for body in oracle.answers(vcr, path, start) for record in body["data"] or []}


def test_deleted_pipelines_and_stages_leave_their_tables(
    gateway: Gateway, vcr: Cassette, sent: RequestCounter, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    pipeline = make_pipeline()
    pipeline.run(select_tables(pipedrive_source(), ["pipelines", "stages"]))
    pipelines, stages = _ids(pipeline, "pipelines"), _ids(pipeline, "stages")
    assert pipelines == _listed(vcr, "api/v2/pipelines", 0)
    assert stages == _listed(vcr, "api/v2/stages", 0)

    stage = max(stages)
    gone_pipeline = max(pipelines)
    write_through_gateway("DELETE", f"api/v2/stages/{stage}")
    write_through_gateway("DELETE", f"api/v2/pipelines/{gone_pipeline}")
    second_run = len(sent)
    pipeline.run(select_tables(pipedrive_source(), ["pipelines", "stages"]))

    assert stage not in _ids(pipeline, "stages")
    assert gone_pipeline not in _ids(pipeline, "pipelines")
    # the tables are what the API lists now, nothing more, nothing less
    assert _ids(pipeline, "pipelines") == _listed(vcr, "api/v2/pipelines", second_run)
    assert _ids(pipeline, "stages") == _listed(vcr, "api/v2/stages", second_run)
    assert _ids(pipeline, "pipelines") == pipelines - {gone_pipeline}
