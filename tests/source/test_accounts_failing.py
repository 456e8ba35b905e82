"""Several accounts when one breaks in the middle of its run: the others load, the broken one keeps its state.

Against a small live simulator: the connection is revoked while its account is being read, which a cassette
cannot replay (the tests of `tests/e2e/test_accounts.py` cover an account refused before it starts).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
import requests.adapters

from pipedrive_source.accounts import account_dataset, account_pipeline_name, run_accounts
from tests.source.conftest import live_simulator

KEY = "accounts-failing-key-51d2"
TABLES = ("deals", "persons", "organizations", "stages")
REQUESTS_BEFORE_REVOKED = 4


def company_id(sim: Any, connection_id: str) -> int:
    """The Pipedrive company a connection reaches: what names its pipeline and dataset."""
    return int(sim.account(connection_id).company["company_id"])


@pytest.fixture
def sim(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    yield from live_simulator(monkeypatch, KEY, seed=5, deals=40, connections=3)


def revoke_after(sim: Any, connection_id: str, requests_sent: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Delete the Maton connection once the source has sent it `requests_sent` requests, as a user revoking
    access in the middle of a nightly run would."""
    send = requests.adapters.HTTPAdapter.send
    seen = []

    def counting(self: Any, request: Any, *args: Any, **kwargs: Any) -> Any:
        if request.headers.get("Maton-Connection") == connection_id:
            seen.append(request.url)
            if len(seen) == requests_sent:
                sim.connections.delete(connection_id)
        return send(self, request, *args, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", counting)


def test_an_account_revoked_mid_run_fails_alone_and_keeps_no_half_load(
    sim: Any, clean_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, broken, last = sim.connection_ids
    companies = {connection_id: company_id(sim, connection_id) for connection_id in sim.connection_ids}
    revoke_after(sim, broken, REQUESTS_BEFORE_REVOKED, monkeypatch)

    result = run_accounts([first, broken, last], tables=TABLES, pipelines_dir=str(clean_env / "pipelines"))

    assert [account.status for account in result.accounts] == ["loaded", "failed", "loaded"]
    message = result[broken].error or ""
    assert "400" in message and KEY not in message
    with duckdb.connect(str(clean_env / "pipedrive.duckdb"), read_only=True) as db:
        for connection_id in (first, last):
            dataset = account_dataset("pipedrive_data", companies[connection_id])
            live = db.execute(f"select count(*) from {dataset}.deals where status <> 'deleted'").fetchone()
            assert live == (sim.account(connection_id).count("deals"),)
        datasets = {
            row[0] for row in db.execute("select schema_name from information_schema.schemata").fetchall()
        }
    # the broken account loaded nothing: its next run starts from scratch, so nothing is lost
    assert account_dataset("pipedrive_data", companies[broken]) not in datasets
    state = clean_env / "pipelines" / account_pipeline_name("pipedrive", companies[broken]) / "state.json"
    assert not state.exists() or "update_time" not in state.read_text()
