"""Fixtures of the unit tests: a fake Pipedrive behind the Maton URL, and a clean environment."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import responses

from tests.source.fake_api import KEY, FakePipedrive


@pytest.fixture
def fake(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakePipedrive]:
    """A fake Pipedrive at the default base URL, reached with the Maton key `KEY` from `MATON_API_KEY`."""
    monkeypatch.setenv("MATON_API_KEY", KEY)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakePipedrive(mock)
