"""Configurations, valid and invalid, as a user would write them (env vars), with the outcome they get."""

from pathlib import Path

import pytest

from pipedrive_source import ConfigurationError, pipedrive_source
from pipedrive_source.client import PipedriveClient
from pipedrive_source.config import settings_from_config

KEY = "maton-key-abcdef0123456789"
TOKEN = "0123456789abcdef0123456789abcdef01234567"
CONNECTION = "21fd90f9-5935-43cd-b6c8-bde9d915ca80"
COMPANY = "https://acme.pipedrive.com"

VALID: list[tuple[str, dict[str, str], dict[str, object]]] = [
    (
        "Maton key from MATON_API_KEY",
        {"MATON_API_KEY": KEY},
        {
            "auth_mode": "maton_api_key",
            "layer": "maton",
            "base_url": "https://api.maton.ai/pipedrive",
            "headers": {},
        },
    ),
    (
        "Maton key as a dlt secret, with a connection",
        {"SOURCES__PIPEDRIVE__MATON_API_KEY": KEY, "SOURCES__PIPEDRIVE__CONNECTION_ID": CONNECTION},
        {"auth_mode": "maton_api_key", "headers": {"Maton-Connection": CONNECTION}},
    ),
    (
        "dlt secret wins over the plain variable",
        {"MATON_API_KEY": "other-key", "SOURCES__PIPEDRIVE__MATON_API_KEY": KEY},
        {"credential": KEY},
    ),
    (
        "Maton key copied with a trailing newline",
        {"MATON_API_KEY": f"{KEY}\n"},
        {"credential": KEY},
    ),
    (
        "a local gateway (the simulator), trailing slash",
        {"MATON_API_KEY": KEY, "SOURCES__PIPEDRIVE__BASE_URL": "http://127.0.0.1:8765/pipedrive/"},
        {"base_url": "http://127.0.0.1:8765/pipedrive", "layer": "maton"},
    ),
    (
        "direct with an API token",
        {"SOURCES__PIPEDRIVE__API_TOKEN": TOKEN, "SOURCES__PIPEDRIVE__BASE_URL": COMPANY},
        {"auth_mode": "api_token", "layer": "direct", "base_url": COMPANY},
    ),
    (
        "direct with an OAuth access token",
        {"SOURCES__PIPEDRIVE__ACCESS_TOKEN": "oauth-token", "SOURCES__PIPEDRIVE__BASE_URL": COMPANY},
        {"auth_mode": "access_token", "layer": "direct"},
    ),
    (
        "a direct token wins over a Maton key left in the environment",
        {
            "MATON_API_KEY": KEY,
            "SOURCES__PIPEDRIVE__API_TOKEN": TOKEN,
            "SOURCES__PIPEDRIVE__BASE_URL": COMPANY,
        },
        {"auth_mode": "api_token"},
    ),
]

INVALID: list[tuple[str, dict[str, str], str]] = [
    ("nothing set", {}, "set MATON_API_KEY"),
    ("an empty key", {"MATON_API_KEY": "  "}, "set MATON_API_KEY"),
    ("a key with a space inside", {"MATON_API_KEY": "abc def"}, "copied wrongly"),
    (
        "both direct tokens",
        {
            "SOURCES__PIPEDRIVE__API_TOKEN": TOKEN,
            "SOURCES__PIPEDRIVE__ACCESS_TOKEN": "oauth-token",
            "SOURCES__PIPEDRIVE__BASE_URL": COMPANY,
        },
        "keep only one",
    ),
    (
        "base_url without a scheme",
        {"MATON_API_KEY": KEY, "SOURCES__PIPEDRIVE__BASE_URL": "api.maton.ai/pipedrive"},
        "is not an http(s) URL",
    ),
    (
        "base_url with ftp",
        {"MATON_API_KEY": KEY, "SOURCES__PIPEDRIVE__BASE_URL": "ftp://api.maton.ai/pipedrive"},
        "is not an http(s) URL",
    ),
    (
        "base_url with the API version",
        {"SOURCES__PIPEDRIVE__API_TOKEN": TOKEN, "SOURCES__PIPEDRIVE__BASE_URL": f"{COMPANY}/api/v2"},
        "ends with an API version",
    ),
    (
        "base_url with a query",
        {"MATON_API_KEY": KEY, "SOURCES__PIPEDRIVE__BASE_URL": "https://api.maton.ai/pipedrive?x=1"},
        "has a query or fragment",
    ),
    (
        "connection id that is not a UUID",
        {"MATON_API_KEY": KEY, "SOURCES__PIPEDRIVE__CONNECTION_ID": "my-connection"},
        "is not a Maton connection id",
    ),
    (
        "API token against the Maton gateway",
        {"SOURCES__PIPEDRIVE__API_TOKEN": TOKEN},
        "set base_url to https://{company}.pipedrive.com",
    ),
    (
        "Maton key against Pipedrive itself",
        {"MATON_API_KEY": KEY, "SOURCES__PIPEDRIVE__BASE_URL": COMPANY},
        "only a Maton API key is set",
    ),
    (
        "connection id in direct mode",
        {
            "SOURCES__PIPEDRIVE__API_TOKEN": TOKEN,
            "SOURCES__PIPEDRIVE__BASE_URL": COMPANY,
            "SOURCES__PIPEDRIVE__CONNECTION_ID": CONNECTION,
        },
        "selects a Maton connection",
    ),
]


def _set(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


@pytest.mark.parametrize(("case", "env", "expected"), VALID, ids=[case for case, _, _ in VALID])
def test_valid_configuration(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    env: dict[str, str],
    expected: dict[str, object],
) -> None:
    _set(monkeypatch, env)

    settings = settings_from_config()

    actual = {
        "auth_mode": settings.auth_mode,
        "layer": settings.layer,
        "base_url": settings.base_url,
        "headers": settings.headers(),
        "credential": settings.credential,
    }
    assert {name: actual[name] for name in expected} == expected
    assert settings.credential not in repr(settings)


@pytest.mark.parametrize(("case", "env", "fix"), INVALID, ids=[case for case, _, _ in INVALID])
def test_invalid_configuration_fails_before_any_request_with_the_fix(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, case: str, env: dict[str, str], fix: str
) -> None:
    _set(monkeypatch, env)

    with pytest.raises(ConfigurationError) as raised:
        pipedrive_source()

    message = str(raised.value)
    assert fix in message
    for secret in (KEY, TOKEN, "oauth-token"):
        assert secret not in message


def test_source_and_check_resolve_the_same_settings(clean_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _set(monkeypatch, {"MATON_API_KEY": KEY, "SOURCES__PIPEDRIVE__CONNECTION_ID": CONNECTION})
    source = pipedrive_source()
    # the entities and field definitions; child resources come on top
    assert set(source.resources) >= {
        "deals",
        "persons",
        "organizations",
        "activities",
        "products",
        "pipelines",
        "stages",
        "notes",
        "users",
        "leads",
        "archived_leads",
        "archived_deals",
        "lead_labels",
        "lead_sources",
        "files",
        "filters",
        "activity_types",
        "currencies",
        "goals",
        "call_logs",
        "roles",
        "permission_sets",
        "projects",
        "tasks",
        "mail_threads",
        "deal_fields",
        "person_fields",
        "organization_fields",
        "activity_fields",
        "product_fields",
        "project_fields",
        "note_fields",
        "lead_fields",
        "custom_fields",
    }
    assert settings_from_config().headers() == {"Maton-Connection": CONNECTION}


READ_SETTINGS: list[tuple[str, dict[str, str], dict[str, object]]] = [
    (
        "defaults through Maton",
        {"MATON_API_KEY": KEY},
        {"requests_per_second": 10.0, "max_tokens_per_run": None, "parallel_windows": 8},
    ),
    (
        "defaults directly: Pipedrive's burst headers pace the run",
        {"SOURCES__PIPEDRIVE__API_TOKEN": TOKEN, "SOURCES__PIPEDRIVE__BASE_URL": COMPANY},
        {"requests_per_second": None},
    ),
    (
        "a slower pace, a token cap, sequential reads",
        {
            "MATON_API_KEY": KEY,
            "SOURCES__PIPEDRIVE__REQUESTS_PER_SECOND": "2.5",
            "SOURCES__PIPEDRIVE__MAX_TOKENS_PER_RUN": "5000",
            "SOURCES__PIPEDRIVE__PARALLEL_WINDOWS": "1",
        },
        {"requests_per_second": 2.5, "max_tokens_per_run": 5000, "parallel_windows": 1},
    ),
    (
        "no client-side limit",
        {"MATON_API_KEY": KEY, "SOURCES__PIPEDRIVE__REQUESTS_PER_SECOND": "0"},
        {"requests_per_second": None},
    ),
]


@pytest.mark.parametrize(
    ("case", "env", "expected"), READ_SETTINGS, ids=[case for case, _, _ in READ_SETTINGS]
)
def test_read_settings(
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    case: str,
    env: dict[str, str],
    expected: dict[str, object],
) -> None:
    _set(monkeypatch, env)

    client = PipedriveClient(settings_from_config())

    actual = {
        "requests_per_second": client.limiter.requests_per_second,
        "max_tokens_per_run": client.read_settings.max_tokens_per_run,
        "parallel_windows": client.read_settings.parallel_windows,
    }
    assert {name: actual[name] for name in expected} == expected


INVALID_READ_SETTINGS: list[tuple[str, dict[str, str], str]] = [
    ("a pace in words", {"SOURCES__PIPEDRIVE__REQUESTS_PER_SECOND": "fast"}, "set a number of requests"),
    ("a negative pace", {"SOURCES__PIPEDRIVE__REQUESTS_PER_SECOND": "-1"}, "set a number of requests"),
    ("a cap of nothing", {"SOURCES__PIPEDRIVE__MAX_TOKENS_PER_RUN": "0"}, "at least 1, or leave it unset"),
    ("a cap in words", {"SOURCES__PIPEDRIVE__MAX_TOKENS_PER_RUN": "lots"}, "a whole number of API tokens"),
    ("no windows", {"SOURCES__PIPEDRIVE__PARALLEL_WINDOWS": "0"}, "1 reads every list as one chain"),
]


@pytest.mark.parametrize(
    ("case", "env", "fix"), INVALID_READ_SETTINGS, ids=[case for case, _, _ in INVALID_READ_SETTINGS]
)
def test_invalid_read_settings_name_the_fix(
    clean_env: Path, monkeypatch: pytest.MonkeyPatch, case: str, env: dict[str, str], fix: str
) -> None:
    _set(monkeypatch, {"MATON_API_KEY": KEY, **env})

    with pytest.raises(ConfigurationError, match="sources.pipedrive.") as raised:
        pipedrive_source()

    assert fix in str(raised.value)
