"""Token costs: the package's table matches the official specs, and a run counts what Pipedrive charges."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest
import requests

from pipedrive_source import pipedrive_source
from pipedrive_source.progress import track_usage
from pipedrive_source.testing import costs as simulator_costs
from pipedrive_source.token_costs import TOKEN_COSTS, cost_of
from tests.source.conftest import live_simulator

EXAMPLES = Path(__file__).resolve().parent.parent / "data" / "examples"


def test_the_cost_table_is_the_specs_x_token_cost() -> None:
    from_specs: dict[str, int] = {}
    for version in ("v1", "v2"):
        costs = json.loads((EXAMPLES / f"token_costs_{version}.json").read_text())["costs"]
        # v1 entries also say whether the operation is deprecated
        from_specs.update({key: c["cost"] if isinstance(c, dict) else c for key, c in costs.items()})

    assert from_specs == TOKEN_COSTS


def test_the_simulator_charges_from_the_same_table() -> None:
    assert simulator_costs.TOKEN_COSTS is TOKEN_COSTS


@pytest.mark.parametrize(
    ("method", "path", "cost"),
    [
        ("GET", "api/v2/deals", 10),
        ("GET", "api/v2/pipelines", 5),
        ("GET", "api/v2/dealFields", 10),
        ("GET", "/api/v2/deals/17", 1),
        ("GET", "api/v1/notes", 20),
        ("GET", "api/v1/users", 20),
        ("get", "api/v1/users/me", 2),
        ("PATCH", "api/v2/deals/17", 5),
        ("GET", "api/v2/not-an-endpoint", 10),
    ],
)
def test_cost_of_a_request(method: str, path: str, cost: int) -> None:
    assert cost_of(method, path) == cost


KEY = "token-test-key"


@pytest.fixture
def sim(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from live_simulator(monkeypatch, KEY, seed=9, deals=1200)


def _tokens_left(sim: Any) -> int:
    """The company's daily tokens left after one `users/me` request."""
    answer = requests.get(
        f"{sim.base_url}/api/v1/users/me", headers={"Authorization": f"Bearer {KEY}"}, timeout=10
    )
    return int(answer.headers["x-daily-ratelimit-token-remaining"])


def test_a_run_counts_the_tokens_pipedrive_charged_per_resource(
    sim: Any, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    before = _tokens_left(sim)
    sim.requests.clear()

    pipeline = make_pipeline()
    with track_usage() as usage:
        pipeline.run(pipedrive_source())

    sent = list(sim.requests)
    charged = before - _tokens_left(sim) - cost_of("GET", "api/v1/users/me")
    spent = usage.by_resource()
    assert usage.total().tokens == charged
    assert usage.total().requests == len(sent)
    # a v2 list costs 10, a v1 list 20: deals read its fields and its pages, users its one page
    deal_requests = sum(1 for r in sent if r.path.endswith(("/api/v2/deals", "/api/v2/dealFields")))
    assert spent["deals"].tokens == 10 * deal_requests
    assert spent["users"].tokens == 20
    with pipeline.sql_client() as client:
        # archived deals land in `deals` too
        loaded = client.execute_sql("select count(*) from deals")[0][0]
        assert spent["deals"].records + spent["archived_deals"].records == loaded
