"""End-to-end fixtures: where requests go (a cassette, the simulator or the real gateway), request counts.

- `pytest tests/e2e` (record mode `none`, the default) replays `cassettes/<module>/<test>.yaml`, no server.
- `pytest tests/e2e --record-mode=rewrite` starts the simulator (seed `SEED`, `DEALS` deals) and records
  through its Maton layer; mutations for second runs are made on the simulator between runs.
- With `PIPEDRIVE_RECORD_BASE_URL=https://api.maton.ai/pipedrive` and `MATON_API_KEY` set, recording goes to
  that gateway instead (tests that need the simulator's mutations or fault injection are then not re-recorded:
  pass `-m "not simulator_only"`).
"""

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import dlt
import pytest
import requests
import requests.adapters

from pipedrive_source.pipeline import make_pipeline as make_pipedrive_pipeline

SEED = 7
DEALS = 1200
RECORDING_KEY = "e2e-simulator-key-5c1f0a9e7d"
"""The key the simulator accepts while recording; the cassette guard checks it never lands in a cassette."""

REPLAY_BASE_URL = "http://127.0.0.1:9/pipedrive"
"""Where requests go in replay: nothing listens there; VCR answers (it matches on method, path and query)."""

# Read before any fixture cleans the environment: the real gateway's settings, when re-recording against it.
RECORD_BASE_URL = os.environ.get("PIPEDRIVE_RECORD_BASE_URL")
SECRETS_FROM_ENV = tuple(
    value
    for value in (os.environ.get("MATON_API_KEY"), os.environ.get("SOURCES__PIPEDRIVE__API_TOKEN"))
    if value
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "simulator_only: needs the simulator's mutations or faults to record")


@dataclass
class Gateway:
    """The Maton layer the test talks to, and the simulator behind it while recording from one."""

    base_url: str
    api_key: str
    sim: Any = None

    @property
    def recording(self) -> bool:
        return self.base_url != REPLAY_BASE_URL


@pytest.fixture
def gateway(
    record_mode: str, request: pytest.FixtureRequest, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Gateway]:
    """The source's settings for this test, set in the environment as a user would set them."""
    if record_mode == "none":
        found = Gateway(REPLAY_BASE_URL, RECORDING_KEY)
        yield from _configured(found, monkeypatch)
    elif RECORD_BASE_URL:
        if request.node.get_closest_marker("simulator_only"):
            pytest.fail("this test records from the simulator only: deselect it with -m 'not simulator_only'")
        yield from _configured(Gateway(RECORD_BASE_URL, SECRETS_FROM_ENV[0]), monkeypatch)
    else:
        from pipedrive_source.testing import simulator

        one_request_at_a_time(monkeypatch)
        with simulator(seed=SEED, deals=DEALS, api_key=RECORDING_KEY, rate_limit=1000.0) as sim:
            yield from _configured(Gateway(sim.base_url, sim.api_key, sim), monkeypatch)


def one_request_at_a_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serialize requests while recording: vcrpy loses interactions recorded from several threads at once
    (kevin1024/vcrpy#849). Replay still runs the resources in parallel."""
    lock = threading.Lock()
    send = requests.adapters.HTTPAdapter.send

    def serialized(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        with lock:
            return send(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", serialized)


def _configured(found: Gateway, monkeypatch: pytest.MonkeyPatch) -> Iterator[Gateway]:
    monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", found.base_url)
    monkeypatch.setenv("MATON_API_KEY", found.api_key)
    yield found


@dataclass
class RequestCounter:
    """Requests sent through `requests`, by path, whether VCR or a server answers them."""

    paths: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.paths)

    def clear(self) -> None:
        self.paths.clear()

    def to(self, suffix: str) -> int:
        return sum(1 for path in self.paths if path.endswith(suffix))


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> RequestCounter:
    counter = RequestCounter()
    original: Callable[..., Any] = requests.adapters.HTTPAdapter.send

    def counting_send(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        counter.paths.append(urlsplit(request.url).path)
        return original(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", counting_send)
    return counter


@pytest.fixture
def make_pipeline(clean_env: Path) -> Callable[..., dlt.Pipeline]:
    """Pipelines as users make them (`pipedrive_source.pipeline.make_pipeline`), their state under the
    test's temporary folder and the database `<name>.duckdb` in it (the working folder)."""

    def make(name: str = "pipedrive") -> dlt.Pipeline:
        return make_pipedrive_pipeline(name, pipelines_dir=str(clean_env / "pipelines"))

    return make


def write_through_gateway(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    """A write (or a lookup) through the same gateway and key as the source, recorded and replayed like the
    reads; the answer's `data`."""
    response = requests.request(
        method,
        f"{os.environ['SOURCES__PIPEDRIVE__BASE_URL']}/{path}",
        headers={"Authorization": f"Bearer {os.environ['MATON_API_KEY']}"},
        json=body,
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["data"]
