"""End-to-end: the Maton connections of a key, from the command line and from Python.

Replays `cassettes/test_connections/`, recorded from the simulator's connections API (see `conftest.py`).
Expected values come from what the API answered (the cassette), never from the code under test.
"""

import json
from typing import Any
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner, Result
from vcr.cassette import Cassette

from pipedrive_source.cli import cli, connections  # noqa: F401 - registers the commands
from pipedrive_source.connections import MatonConnections
from pipedrive_source.errors import PipedriveHTTPError
from tests.conftest import as_recorded
from tests.e2e.conftest import Gateway, RequestCounter

pytestmark = pytest.mark.vcr
SIMULATED = pytest.mark.simulator_only

UNKNOWN_CONNECTION = "0b7e3f2a-9c41-4d6e-8f10-5a2b3c4d5e6f"
WRONG_KEY = "not-the-right-maton-key"
POLLS_UNTIL_AUTHORIZED = 3
"""While recording, a created connection turns ACTIVE on this GET, as if its user authorized it meanwhile."""


def _answers(
    vcr: Cassette, method: str, path: str = "/connections", start: int = 0, stop: int | None = None
) -> list[tuple[int, Any]]:
    """Status and JSON body of the answers to `method` on `path` among requests start:stop, in order.

    While recording the cassette fills as requests go out; in replay it holds every interaction from the
    start. Either way interaction `i` answers the test's request `i` (counted by `sent`).
    """
    found = []
    for request, response in vcr.data[start:stop]:
        if request.method == method and urlsplit(request.uri).path == path:
            text = response["body"]["string"]
            body = json.loads(text.decode() if isinstance(text, bytes) else text)
            found.append((response["status"]["code"], body))
    return found


def _listed(vcr: Cassette, start: int = 0, stop: int | None = None) -> list[list[dict[str, Any]]]:
    """The connections of every list answer among requests start:stop, each sorted oldest first as a user
    expects them."""
    return [
        sorted(body["connections"], key=lambda c: c["creation_time"])
        for status, body in _answers(vcr, "GET", start=start, stop=stop)
        if status == 200
    ]


def _connections(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, ["connections", *args], input=input)


def _table_rows(result: Result) -> list[list[str]]:
    """The rows of the `connections list` table under its header, split into cells."""
    lines = result.stdout.splitlines()
    assert lines[0].split()[:3] == ["id", "status", "method"]
    return [line.split() for line in lines[1:] if line and not line.startswith("*")]


def _authorize_on_poll(gateway: Gateway, polls: int) -> None:
    if gateway.sim is not None:
        gateway.sim.connections.activate_after_polls = polls


def test_list_shows_active_and_pending_connections_as_a_table(
    gateway: Gateway, vcr: Cassette, sent: RequestCounter
) -> None:
    maton = MatonConnections.from_config()
    pending = maton.create()
    before = len(sent)

    result = _connections("list")

    assert result.exit_code == 0, result.stderr
    (api,) = _listed(vcr, before, len(sent))
    assert {c["status"] for c in api} == {"ACTIVE", "PENDING"}
    rows = _table_rows(result)
    assert [row[0] for row in rows] == [c["connection_id"] for c in api]
    for row, connection in zip(rows, api, strict=True):
        assert connection["status"] in row and connection["method"] in row
    oldest_active = next(c["connection_id"] for c in api if c["status"] == "ACTIVE")
    assert [row[:2] for row in rows if "*" in row] == [[oldest_active, "*"]]
    assert pending.connection_id in [row[0] for row in rows]
    before = len(sent)

    only_active = _connections("list", "--status", "ACTIVE")

    assert only_active.exit_code == 0, only_active.stderr
    (active_api,) = _listed(vcr, before, len(sent))
    assert [row[0] for row in _table_rows(only_active)] == [c["connection_id"] for c in active_api]
    assert pending.connection_id not in only_active.stdout
    before = len(sent)

    # from Python, oldest first: the same connections, and the ACTIVE ones' ids
    listed = maton.list()
    active_ids = maton.active_ids()

    all_api, active_api = _listed(vcr, before, len(sent))
    assert [(c.connection_id, c.status, as_recorded(c.url or "")) for c in listed] == [
        (c["connection_id"], c["status"], c["url"]) for c in all_api
    ]
    assert active_ids == [c["connection_id"] for c in active_api]
    assert pending.connection_id not in active_ids


def test_list_as_json(gateway: Gateway, vcr: Cassette, sent: RequestCounter) -> None:
    result = _connections("list", "--json")

    assert result.exit_code == 0, result.stderr
    (api,) = _listed(vcr, 0, len(sent))
    assert [(c["connection_id"], c["status"], c["creation_time"]) for c in json.loads(result.stdout)] == [
        (c["connection_id"], c["status"], c["creation_time"]) for c in api
    ]


@SIMULATED
def test_create_prints_the_url_and_waits_until_active(
    gateway: Gateway, vcr: Cassette, sent: RequestCounter
) -> None:
    _authorize_on_poll(gateway, POLLS_UNTIL_AUTHORIZED)

    result = _connections("create", "--wait", "--poll-every", "0")

    assert result.exit_code == 0, result.stderr
    ((status, body),) = _answers(vcr, "POST", stop=len(sent))
    created = body["connection"]
    connection_id = created["connection_id"]
    assert (status, created["status"]) == (201, "PENDING")
    assert "Open this URL in a browser" in result.stdout
    assert created["url"] in as_recorded(result.stdout)
    assert result.stdout.splitlines()[-1] == connection_id
    # it kept asking while the connection was PENDING and stopped once it was ACTIVE
    polled = [
        b["connection"]["status"]
        for _, b in _answers(vcr, "GET", f"/connections/{connection_id}", stop=len(sent))
    ]
    assert len(polled) >= 2 and polled[-1] == "ACTIVE" and set(polled[:-1]) == {"PENDING"}
    assert f"{connection_id} is ACTIVE" in result.stdout

    shown = _connections("show", connection_id)

    assert shown.exit_code == 0, shown.stderr
    assert "status:        ACTIVE" in shown.stdout
    assert connection_id in MatonConnections.from_config().active_ids()


@SIMULATED
def test_create_and_wait_from_python(gateway: Gateway, vcr: Cassette, sent: RequestCounter) -> None:
    _authorize_on_poll(gateway, 2)
    maton = MatonConnections.from_config()

    created = maton.create()
    active = maton.wait_until_active(created.connection_id, poll_every=0)

    ((_, body),) = _answers(vcr, "POST", stop=len(sent))
    assert (created.connection_id, created.status, as_recorded(created.url or "")) == (
        body["connection"]["connection_id"],
        "PENDING",
        body["connection"]["url"],
    )
    polled = _answers(vcr, "GET", f"/connections/{created.connection_id}", stop=len(sent))
    assert (active.connection_id, active.status) == (created.connection_id, "ACTIVE")
    assert polled[-1][1]["connection"]["status"] == "ACTIVE"
    # the newest connection comes last
    assert maton.active_ids()[-1] == created.connection_id


def test_delete_asks_for_confirmation(gateway: Gateway, vcr: Cassette, sent: RequestCounter) -> None:
    maton = MatonConnections.from_config()
    created = maton.create()
    path = f"/connections/{created.connection_id}"

    refused = _connections("delete", created.connection_id, input="n\n")

    assert refused.exit_code == 1
    assert f"Delete Maton connection {created.connection_id}" in refused.stderr
    assert "Nothing deleted" in refused.stderr
    assert _answers(vcr, "DELETE", path, stop=len(sent)) == []
    assert created.connection_id in [c.connection_id for c in maton.list()]

    deleted = _connections("delete", created.connection_id, "--yes")

    assert deleted.exit_code == 0, deleted.stderr
    assert "Delete Maton connection" not in deleted.stderr  # no question asked
    assert f"Deleted Maton connection {created.connection_id}" in deleted.stdout
    assert [status for status, _ in _answers(vcr, "DELETE", path, stop=len(sent))] == [200]
    assert created.connection_id not in [c.connection_id for c in maton.list()]


def test_a_wrong_key_is_refused_with_the_fix(
    gateway: Gateway, vcr: Cassette, sent: RequestCounter, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MATON_API_KEY", WRONG_KEY)

    result = _connections("list")

    assert result.exit_code == 1
    assert "The Maton API key was refused" in result.stderr
    assert "MATON_API_KEY" in result.stderr
    assert "Traceback" not in result.output
    assert WRONG_KEY not in result.output and gateway.api_key not in result.output
    assert [status for status, _ in _answers(vcr, "GET", stop=len(sent))] == [401]

    with pytest.raises(PipedriveHTTPError, match="The Maton API key was refused") as refused:
        MatonConnections.from_config().active_ids()
    assert WRONG_KEY not in str(refused.value)


@pytest.mark.parametrize("command", [("show",), ("delete", "--yes")], ids=["show", "delete"])
def test_an_unknown_connection_is_named(
    gateway: Gateway, vcr: Cassette, sent: RequestCounter, command: tuple[str, ...]
) -> None:
    result = _connections(*command, UNKNOWN_CONNECTION)

    assert result.exit_code == 1
    assert (
        f"No Maton connection {UNKNOWN_CONNECTION}: list them with `pipedrive-source connections list`"
        in result.stderr
    )
    path = f"/connections/{UNKNOWN_CONNECTION}"
    assert [status for status, _ in _answers(vcr, "GET", path, stop=len(sent))] == [404]
    assert _answers(vcr, "DELETE", path, stop=len(sent)) == []
