"""Transient failures are retried by dlt's session and the load completes, against the live simulator.

Not replayed from a cassette: a dropped connection is not something VCR can record.
"""

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

from pipedrive_source import pipedrive_source
from pipedrive_source.testing import simulator

KEY = "resilience-test-key"


@pytest.fixture
def sim(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    with simulator(seed=3, deals=600, api_key=KEY, rate_limit=1000.0) as running:
        monkeypatch.setenv("MATON_API_KEY", KEY)
        monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", running.base_url)
        monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "5")
        yield running


def _snapshot(pipeline: dlt.Pipeline) -> dict[str, list[tuple[Any, ...]]]:
    with pipeline.sql_client() as client:
        return {
            table: [
                tuple(row) for row in client.execute_sql(f"select id, update_time from {table} order by id")
            ]
            for table in ("deals", "notes")
        }


@pytest.mark.parametrize(
    "inject",
    [
        lambda faults: faults.drop_every(3),
        lambda faults: faults.error_every(2, status=503),
        lambda faults: faults.burst_429(3, retry_after=1),
    ],
    ids=["dropped connections", "every other request a 503", "a burst of 429s with Retry-After"],
)
def test_transient_failures_do_not_change_what_is_loaded(
    sim: Any, make_pipeline: Callable[..., dlt.Pipeline], inject: Callable[[Any], None]
) -> None:
    baseline = make_pipeline("baseline")
    baseline.run(pipedrive_source().with_resources("deals", "notes"))
    requests_without_faults = len(sim.requests)
    sim.requests.clear()
    inject(sim.faults)

    pipeline = make_pipeline("faulty")
    pipeline.run(pipedrive_source().with_resources("deals", "notes"))

    assert len(sim.requests) > requests_without_faults  # the faults happened and were retried
    assert _snapshot(pipeline) == _snapshot(baseline)
    assert len(_snapshot(pipeline)["deals"]) > 500  # more than one page
