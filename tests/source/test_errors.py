"""Errors: each failure is one message naming the fix; retries happen where they help; no secret leaks."""

import time
from collections.abc import Callable
from typing import Any

import dlt
import pytest

from pipedrive_source import PipedriveError, pipedrive_source
from pipedrive_source.client import PipedriveClient
from pipedrive_source.config import resolve_connection
from pipedrive_source.errors import find_cause
from pipedrive_source.settings import USERS_ME_PATH
from tests.source.fake_api import BASE_URL, KEY, FakePipedrive, example

HTML_403 = "<!DOCTYPE html><html><head><title>Attention Required! | Cloudflare</title></head></html>"

# Bodies as in tests/data/examples/errors.json.
CASES: list[tuple[str, int, dict[str, str], Any, str]] = [
    (
        "401 from Maton",
        401,
        {},
        {"success": False, "error": "unauthorized access", "errorCode": 401},
        "Check MATON_API_KEY",
    ),
    (
        "missing connection",
        400,
        {},
        {"error": "Missing connection for the requested app"},
        "connections create",
    ),
    ("403", 403, {}, {"success": False, "error": "You do not have permissions to do this."}, "global admin"),
    ("HTML 403", 403, {}, HTML_403, "blocked this client"),
    ("404", 404, {}, {"success": False, "error": "Unknown method ."}, "Check base_url"),
    ("410", 410, {}, {"success": False, "error": "Gone"}, "pip install -U pipedrive-source"),
    (
        "daily budget",
        429,
        {"retry-after": "3939"},
        {"success": False, "error": "daily request budget exceeded", "errorCode": 429},
        "wait until the budget resets at midnight server time",
    ),
    (
        "success false",
        200,
        {},
        {"success": False, "error": "Something odd"},
        "success: false (Something odd)",
    ),
    ("HTML 200", 200, {}, "<html><body>Sign in</body></html>", "HTML page"),
]


def _fail_users_me(
    fake: FakePipedrive, status: int, headers: dict[str, str], body: Any, times: int = 1
) -> None:
    fake.serve_object(USERS_ME_PATH, example("v1_users_me")["data"])
    for _ in range(times):
        fake.fail(USERS_ME_PATH, status, body, headers)


def _client() -> PipedriveClient:
    return PipedriveClient(resolve_connection(maton_api_key=KEY))


@pytest.mark.parametrize(("case", "status", "headers", "body", "fix"), CASES, ids=[c[0] for c in CASES])
def test_each_failure_names_its_fix_without_retrying_or_leaking_the_key(
    fake: FakePipedrive, case: str, status: int, headers: dict[str, str], body: Any, fix: str
) -> None:
    _fail_users_me(fake, status, headers, body)
    started = time.monotonic()

    with pytest.raises(PipedriveError) as raised:
        _client().get(USERS_ME_PATH)

    message = str(raised.value)
    assert fix.lower() in message.lower()
    assert KEY not in message and "Bearer" not in message
    assert len(fake.requests_to(USERS_ME_PATH)) == 1
    # a 429 with a Retry-After of an hour fails at once instead of sleeping
    assert time.monotonic() - started < 5


def test_direct_mode_401_points_at_the_api_token_page(fake: FakePipedrive) -> None:
    direct = "https://acme.pipedrive.com"
    fake.mock.get(
        f"{direct}/{USERS_ME_PATH}", status=401, json={"success": False, "error": "unauthorized access"}
    )
    client = PipedriveClient(resolve_connection(base_url=direct, api_token="tok-123456"))

    with pytest.raises(PipedriveError, match="Personal preferences > API") as raised:
        client.get(USERS_ME_PATH)

    assert "tok-123456" not in str(raised.value)
    sent = fake.mock.calls[0].request
    assert sent.headers["x-api-token"] == "tok-123456"
    assert "tok-123456" not in sent.url and "Authorization" not in sent.headers


@pytest.mark.parametrize(
    ("status", "headers"),
    [(500, {}), (502, {}), (429, {"retry-after": "1"}), (429, {})],
    ids=["500", "502", "429 short retry-after", "429 without retry-after"],
)
def test_transient_failures_are_retried(fake: FakePipedrive, status: int, headers: dict[str, str]) -> None:
    _fail_users_me(fake, status, headers, {"success": False, "error": "try again"}, times=2)

    me = _client().get(USERS_ME_PATH)

    assert len(fake.requests_to(USERS_ME_PATH)) == 3
    assert me["company_domain"] == "pipedrive-12g53f"


def test_retries_give_up_with_the_message_after_the_configured_attempts(fake: FakePipedrive) -> None:
    _fail_users_me(fake, 500, {}, {"success": False, "error": "An internal server error occurred"}, times=5)

    with pytest.raises(PipedriveError, match="after 3 attempts") as raised:
        _client().get(USERS_ME_PATH)

    assert "re-create the Pipedrive connection" in str(raised.value)
    assert len(fake.requests_to(USERS_ME_PATH)) == 3


def test_an_unreachable_server_is_one_clear_message(clean_env: Any) -> None:
    client = PipedriveClient(resolve_connection(base_url="http://127.0.0.1:9/pipedrive", maton_api_key=KEY))

    with pytest.raises(PipedriveError, match=r"Could not get an answer from 127\.0\.0\.1:9 after 3 attempts"):
        client.get(USERS_ME_PATH)


def test_a_failing_pipeline_run_surfaces_the_message(
    fake: FakePipedrive, make_pipeline: Callable[..., dlt.Pipeline]
) -> None:
    fake.serve("api/v2/pipelines", [])
    fake.fail("api/v2/pipelines", 401, {"success": False, "error": "unauthorized access"})

    with pytest.raises(Exception) as raised:
        make_pipeline().run(pipedrive_source().with_resources("pipelines"))

    cause = find_cause(raised.value)
    assert isinstance(cause, PipedriveError)
    assert "Check MATON_API_KEY" in str(cause)
    assert KEY not in str(raised.value)
    assert f"{BASE_URL}/api/v2/pipelines" not in str(cause)  # the path is shown relative to base_url
