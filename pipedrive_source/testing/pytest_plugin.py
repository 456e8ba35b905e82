"""pytest fixtures for testing pipelines against the local simulator (not registered automatically).

Enable it in a `conftest.py`::

    pytest_plugins = ["pipedrive_source.testing.pytest_plugin"]

then ask for `pipedrive_simulator` (a running `Simulator`) or `pipedrive_simulator_env` (the same, with the
connector's settings pointing at it). Configure the data with a marker::

    @pytest.mark.pipedrive_simulator(deals=500, seed=7)
    def test_my_pipeline(pipedrive_simulator_env): ...
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from pipedrive_source.testing import Simulator, simulator

MARKER = "pipedrive_simulator"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(**options): options of the `pipedrive_simulator` fixture, as for simulator()"
    )


@pytest.fixture
def pipedrive_simulator(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    """A simulator running for one test; options from the `pipedrive_simulator` marker (default 200 deals)."""
    marker = request.node.get_closest_marker(MARKER)
    options = {"deals": 200, **(marker.kwargs if marker else {})}
    with simulator(**options) as running:
        yield running


@pytest.fixture
def pipedrive_simulator_env(pipedrive_simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> Simulator:
    """The simulator, with `sources.pipedrive.base_url` and `maton_api_key` set to it in the environment."""
    monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", pipedrive_simulator.base_url)
    monkeypatch.setenv("SOURCES__PIPEDRIVE__MATON_API_KEY", pipedrive_simulator.api_key)
    return pipedrive_simulator
