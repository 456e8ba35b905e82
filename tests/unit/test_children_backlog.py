"""The backlog of a child table: parents read once per run, the others kept in the state for the next run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dlt
import pytest

from pipedrive_source.children.backlog import UNREAD_KEY, Backlog, wait_for_next_run


@pytest.fixture
def pipeline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dlt.Pipeline:
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    return dlt.pipeline("backlog", pipelines_dir=str(tmp_path / "pipelines"), destination="duckdb")


def _waiting(pipeline: dlt.Pipeline) -> Any:
    (source,) = pipeline.state["sources"].values()
    return source["resources"]["deal_followers"].get(UNREAD_KEY)


def test_a_parent_seen_again_in_a_run_waits_for_the_next_and_runs_start_afresh(pipeline: dlt.Pipeline):
    backlog = Backlog("deal_followers")
    claimed: list[list[Any]] = []

    @dlt.resource(name="deal_followers")
    def first_run() -> Any:
        state = backlog.state()
        claimed.append(backlog.claim([1, 2, 2], state))
        # 2 changed again while the run read: read next run
        claimed.append(backlog.claim([2, 3], state))
        # waiting parents already read in this run are done
        claimed.append(backlog.claim([1, 4], state, changed=False))
        yield from ()

    pipeline.extract(first_run())

    assert claimed == [[1, 2], [3], [4]]
    assert _waiting(pipeline) == [2]

    @dlt.resource(name="deal_followers")
    def second_run() -> Any:
        state = backlog.state()
        claimed.append(backlog.take(state))
        claimed.append(backlog.claim([1, 2], state, changed=False))
        wait_for_next_run(state, [7, 7, 8])
        wait_for_next_run(state, [8, 9])
        yield from ()

    pipeline.extract(second_run())

    # the same Backlog in another run (another load package): nothing was read in it yet
    assert claimed[3:] == [[2], [1, 2]]
    assert _waiting(pipeline) == [7, 8, 9]
