"""Shared fixtures: an isolated environment, temporary dlt pipelines, and the VCR configuration.

Cassettes live in the repo's top-level `cassettes/<test module>/<test>.yaml`. pytest-recording replays them by
default (`--record-mode=none`: a request with no recorded answer fails); see `docs/testing.md` for how to
record them again.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import dlt
import pytest

REPO = Path(__file__).resolve().parent.parent
CASSETTES = REPO / "cassettes"

# Every header or parameter that can carry a credential or name an account. The connection id is no secret,
# but it identifies a Maton account: a cassette recorded against the real gateway must not publish it.
FILTERED_HEADERS = ("authorization", "x-api-token", "maton-connection", "cookie")
FILTERED_QUERY_PARAMETERS = ("api_token", "access_token")
REDACTED = "REDACTED"

PIPEDRIVE_ENV = (
    "MATON_API_KEY",
    "SOURCES__PIPEDRIVE__MATON_API_KEY",
    "SOURCES__PIPEDRIVE__API_TOKEN",
    "SOURCES__PIPEDRIVE__ACCESS_TOKEN",
    "SOURCES__PIPEDRIVE__CONNECTION_ID",
    "SOURCES__PIPEDRIVE__BASE_URL",
    "SOURCES__MATON_API_KEY",
    "SOURCES__API_TOKEN",
)


# A Maton connection's authorization link (`url`) carries a session token: whoever holds it can authorize.
SESSION_TOKEN = re.compile(rb"session_token=[^\"&\s]+")


def as_recorded(text: str) -> str:
    """`text` with Maton session tokens masked as the cassettes hold them: what a test compares with them."""
    return SESSION_TOKEN.sub(b"session_token=" + REDACTED.encode(), text.encode()).decode()


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    """No cookie and no Maton session token in a recorded answer."""
    headers = response.get("headers") or {}
    for name in [name for name in headers if name.lower() == "set-cookie"]:
        del headers[name]
    body = response.get("body") or {}
    if isinstance(body.get("string"), bytes):
        body["string"] = SESSION_TOKEN.sub(b"session_token=" + REDACTED.encode(), body["string"])
    return response


@pytest.fixture(scope="module")
def vcr_config() -> dict[str, Any]:
    """pytest-recording's settings; the record mode stays on the command line (`--record-mode`)."""
    return {
        "filter_headers": [(name, REDACTED) for name in FILTERED_HEADERS],
        "filter_query_parameters": [(name, REDACTED) for name in FILTERED_QUERY_PARAMETERS],
        "before_record_response": _scrub_response,
        "decode_compressed_response": True,
        # The simulator listens on a random port: match on everything but the host.
        "match_on": ["method", "path", "query"],
    }


@pytest.fixture(scope="module")
def vcr_cassette_dir(request: pytest.FixtureRequest) -> str:
    return str(CASSETTES / request.module.__name__.rsplit(".", 1)[-1])


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No Pipedrive settings from the machine, fast retries, dlt's files in a temporary folder."""
    for name in PIPEDRIVE_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("RUNTIME__DLTHUB_TELEMETRY", "false")
    # With Airflow installed (the `test` extra), dlt would read Airflow Variables on every config lookup:
    # an Airflow import and a SQLite database under ~/airflow. Only the Airflow DAG's test wants that.
    monkeypatch.setenv("PROVIDERS__ENABLE_AIRFLOW_SECRETS", "false")
    monkeypatch.setenv("RUNTIME__REQUEST_BACKOFF_FACTOR", "0")
    monkeypatch.setenv("RUNTIME__REQUEST_MAX_ATTEMPTS", "3")
    # the DuckDB file of a CLI run lands in the working directory
    monkeypatch.setenv("DLT_DATA_DIR", str(tmp_path / "dlt"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def make_pipeline(clean_env: Path) -> Iterator[Callable[..., dlt.Pipeline]]:
    """A factory of DuckDB pipelines whose state and database live in the test's temporary folder."""

    def make(name: str = "pipedrive") -> dlt.Pipeline:
        pipeline = dlt.pipeline(
            pipeline_name=name,
            pipelines_dir=str(clean_env / "pipelines"),
            destination=dlt.destinations.duckdb(str(clean_env / f"{name}.duckdb")),
            dataset_name="pipedrive_data",
        )
        return pipeline

    yield make
