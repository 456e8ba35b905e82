"""Fixtures of the simulator's fidelity suite: simulators of several sizes, HTTP clients for both layers."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from pipedrive_source.testing import simulator
from tests.simulator.clients import API_KEY, DEALS, LAYERS, SEED, UNTHROTTLED, Api


@pytest.fixture(scope="session")
def sim() -> Iterator[Any]:
    """The shared simulator: read-only by convention (tests that mutate or inject faults make their own).

    Every test shares its rolling burst windows, and the suite sends more than the 120 requests per 2 s that
    Pipedrive allows an API token: it counts in the headers but refuses nothing. The tests of the limits make
    their own simulators.
    """
    with simulator(
        seed=SEED, deals=DEALS, api_key=API_KEY, rate_limit=UNTHROTTLED, pipedrive_limits=False
    ) as shared:
        yield shared


@pytest.fixture
def make_sim() -> Iterator[Callable[..., Any]]:
    """A factory of private simulators, stopped at the end of the test."""
    with contextlib.ExitStack() as stack:

        def make(**options: Any) -> Any:
            options.setdefault("seed", SEED)
            options.setdefault("deals", 40)
            options.setdefault("api_key", API_KEY)
            options.setdefault("rate_limit", UNTHROTTLED)
            return stack.enter_context(simulator(**options))

        yield make


@pytest.fixture(params=LAYERS)
def api(sim: Any, request: pytest.FixtureRequest) -> Api:
    """The shared simulator through each layer in turn."""
    return Api(sim, request.param)


@pytest.fixture
def maton(sim: Any) -> Api:
    return Api(sim, "maton")
