"""The Maton connections client against a small live simulator: configuration, waiting, retries, failures.

The cassette tests (`tests/e2e/test_connections.py`) cover the commands; these cover what a cassette cannot
replay: time, a connection that fails to authorize, the rate limit, and no server at all.
"""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipedrive_source.cli import cli, connections  # noqa: F401 - registers the commands
from pipedrive_source.connections import MatonConnections, connections_url
from pipedrive_source.errors import ConfigurationError, PipedriveError
from pipedrive_source.testing import simulator

KEY = "unit-connections-key-3e8d"
NOTHING_LISTENS = "http://127.0.0.1:9/pipedrive"


@pytest.fixture
def sim(clean_env: Path) -> Iterator[Any]:
    with simulator(seed=11, deals=10, connections=2, api_key=KEY, rate_limit=None) as running:
        yield running


@pytest.fixture
def maton(sim: Any) -> MatonConnections:
    return MatonConnections(KEY, sim.base_url)


def _connection_requests(sim: Any) -> list[tuple[str, str, int]]:
    return [(r.method, r.path, r.status) for r in sim.requests if r.layer == "connections"]


def test_the_api_lives_at_the_root_of_the_gateway() -> None:
    assert connections_url("https://api.maton.ai/pipedrive") == "https://api.maton.ai/connections"
    assert connections_url("http://127.0.0.1:8765/pipedrive") == "http://127.0.0.1:8765/connections"


def test_from_config_uses_the_sources_key_and_gateway(sim: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCES__PIPEDRIVE__MATON_API_KEY", KEY)
    monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", sim.base_url)

    found = MatonConnections.from_config()

    assert found.url == sim.connections_url
    assert found.active_ids() == sim.connection_ids


def test_from_config_without_a_key_says_how_to_set_it(clean_env: Path) -> None:
    with pytest.raises(ConfigurationError, match="set MATON_API_KEY"):
        MatonConnections.from_config()

    result = CliRunner().invoke(cli, ["connections", "list"])

    assert result.exit_code == 1
    assert "Maton connections need a Maton API key" in result.stderr


def test_a_wrong_id_is_wrong_usage_before_any_request(sim: Any, maton: MatonConnections) -> None:
    with pytest.raises(ConfigurationError, match="not a Maton connection id"):
        maton.get("../deals")

    result = CliRunner().invoke(cli, ["connections", "show", "12345"], env={"MATON_API_KEY": KEY})

    assert result.exit_code == 2
    assert "is not a Maton connection id" in result.stderr
    assert _connection_requests(sim) == []


def test_waiting_stops_when_the_authorization_failed(sim: Any, maton: MatonConnections) -> None:
    created = maton.create()
    sim.connections.find(created.connection_id).status = "FAILED"

    with pytest.raises(PipedriveError, match="FAILED to authorize") as failed:
        maton.wait_until_active(created.connection_id, timeout=30, poll_every=0)

    assert f"connections delete {created.connection_id}" in str(failed.value)
    assert [m for m, *_ in _connection_requests(sim)] == ["POST", "GET"]


def test_waiting_gives_up_after_the_timeout_naming_the_url(sim: Any, maton: MatonConnections) -> None:
    created = maton.create()
    started = time.monotonic()

    with pytest.raises(PipedriveError, match="still PENDING after 0.3 s") as pending:
        maton.wait_until_active(created.connection_id, timeout=0.3, poll_every=0.1)

    assert 0.3 <= time.monotonic() - started < 5
    assert "open its authorization URL in a browser" in str(pending.value)
    assert str(created.url) in str(pending.value)
    polls = [r for r in _connection_requests(sim) if r[0] == "GET"]
    assert 2 <= len(polls) <= 6
    assert sim.connections.find(created.connection_id).status == "PENDING"


def test_create_wait_on_the_command_line_fails_after_its_timeout(sim: Any) -> None:
    env = {"MATON_API_KEY": KEY, "SOURCES__PIPEDRIVE__BASE_URL": sim.base_url}

    result = CliRunner().invoke(
        cli, ["connections", "create", "--wait", "--timeout", "1", "--poll-every", "0.2"], env=env
    )

    assert result.exit_code == 1
    assert "Open this URL in a browser" in result.stdout
    assert "still PENDING after 1 s" in result.stderr


def test_rate_limited_reads_and_writes_are_retried(clean_env: Path) -> None:
    # Maton allows a key this many requests a second and answers 429 with `Retry-After: 1` beyond
    with simulator(seed=11, deals=10, api_key=KEY, rate_limit=1.0) as limited:
        maton = MatonConnections(KEY, limited.base_url)

        before = maton.active_ids()
        created = maton.create()
        after = maton.list()

    answered = [(method, status) for method, _, status in _connection_requests(limited)]
    assert ("POST", 429) in answered and ("GET", 429) in answered
    assert answered.count(("POST", 201)) == 1
    assert [c.connection_id for c in after] == [*before, created.connection_id]


def test_an_unreachable_gateway_names_where_it_tried(clean_env: Path) -> None:
    maton = MatonConnections(KEY, NOTHING_LISTENS)

    with pytest.raises(PipedriveError) as unreachable:
        maton.list()

    message = str(unreachable.value)
    assert "Could not reach the Maton connections API at http://127.0.0.1:9/connections" in message
    assert "after 3 attempts" in message  # RUNTIME__REQUEST_MAX_ATTEMPTS of `clean_env`
    assert "Check the network" in message
    assert KEY not in message


def test_the_key_is_not_in_the_repr(maton: MatonConnections) -> None:
    assert KEY not in repr(maton)
