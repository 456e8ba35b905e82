"""Fixtures of the unit tests: a fake Pipedrive behind the Maton URL, and a clean environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import responses

from pipedrive_source.testing import Simulator, simulator
from tests.source.fake_api import KEY, FakePipedrive, example


@pytest.fixture
def fake(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePipedrive]:
    """A fake Pipedrive at the default base URL, reached with the Maton key `KEY` from `MATON_API_KEY`;
    `users/me` answers the spec's example (the company every run checks first)."""
    monkeypatch.setenv("MATON_API_KEY", KEY)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fake = FakePipedrive(mock)
        fake.serve_object("api/v1/users/me", example("v1_users_me")["data"])
        yield fake


def live_simulator(monkeypatch: pytest.MonkeyPatch, api_key: str, **options: Any) -> Iterator[Simulator]:
    """A simulator serving from this process (no Maton rate limit), the source pointed at it through the
    environment as a user sets it (`MATON_API_KEY`, `SOURCES__PIPEDRIVE__BASE_URL`). For tests of what a
    cassette cannot replay: live faults, several processes."""
    with simulator(api_key=api_key, rate_limit=None, **options) as running:
        monkeypatch.setenv("MATON_API_KEY", api_key)
        monkeypatch.setenv("SOURCES__PIPEDRIVE__BASE_URL", running.base_url)
        yield running
