"""The connection settings, how each way of authenticating sends its credential, and their validation.

dlt resolves the values (section `sources.pipedrive`, env `SOURCES__PIPEDRIVE__*`, plain `MATON_API_KEY`);
this module checks them up front so that a wrong setting fails with the fix before any request is sent.
"""

# No `from __future__ import annotations`: dlt reads the config signature at run time.
import os
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from urllib.parse import urlsplit

import dlt
from dlt.common.configuration import with_config
from dlt.common.typing import TSecretStrValue
from dlt.sources.helpers.rest_client.auth import APIKeyAuth, AuthConfigBase, BearerTokenAuth

from pipedrive_source.errors import ConfigurationError, Layer
from pipedrive_source.settings import DEFAULT_BASE_URL

MATON_HOST = urlsplit(DEFAULT_BASE_URL).netloc

AIRFLOW_SECRETS_SETTING = "PROVIDERS__ENABLE_AIRFLOW_SECRETS"


def without_airflow_secrets() -> None:
    """Keep dlt from reading Airflow Variables in a process that is no Airflow task, unless configured.

    Where Airflow is installed (`pipedrive-source[airflow]`), dlt looks up every setting in Airflow's
    Variables too: its first lookup imports Airflow and opens Airflow's metadata database, 3 s and 100 MB
    before the first request. The command line and the Dagster definitions never run inside Airflow.
    """
    os.environ.setdefault(AIRFLOW_SECRETS_SETTING, "false")


@dataclass(frozen=True)
class AuthMode:
    """One way of authenticating: which setting holds the credential and how it is sent."""

    setting: str
    layer: Layer
    auth: Callable[[str], AuthConfigBase]


# Checked in this order: an explicit direct credential wins over a Maton key found in the environment.
AUTH_MODES: Mapping[str, AuthMode] = MappingProxyType(
    {
        # Pipedrive reads the token from this header too; in a query parameter it would end up in logs.
        "api_token": AuthMode(
            "api_token", "direct", lambda t: APIKeyAuth(name="x-api-token", api_key=t, location="header")
        ),
        "access_token": AuthMode("access_token", "direct", lambda t: BearerTokenAuth(token=t)),
        "maton_api_key": AuthMode("maton_api_key", "maton", lambda t: BearerTokenAuth(token=t)),
    }
)

NO_CREDENTIALS = (
    "No Pipedrive credentials found: set MATON_API_KEY to your Maton API key (from maton.ai), or put "
    "maton_api_key under [sources.pipedrive] in .dlt/secrets.toml. To call Pipedrive without Maton, set "
    "sources.pipedrive.api_token (Pipedrive > Personal preferences > API) and base_url "
    "https://{company}.pipedrive.com."
)


@dataclass(frozen=True)
class ConnectionSettings:
    """Validated settings for talking to Pipedrive.

    Attributes:
        base_url: the API root without a trailing slash (`https://api.maton.ai/pipedrive` or
            `https://{company}.pipedrive.com`).
        auth_mode: the key of `AUTH_MODES` in use.
        credential: the secret that mode sends.
        connection_id: the Maton connection to use; None means the oldest active one.
    """

    base_url: str
    auth_mode: str
    credential: str
    connection_id: str | None = None

    @property
    def layer(self) -> Layer:
        return AUTH_MODES[self.auth_mode].layer

    @property
    def base_path(self) -> str:
        """The path part of `base_url`, cut from paths shown in messages."""
        return urlsplit(self.base_url).path.rstrip("/")

    def auth(self) -> AuthConfigBase:
        return AUTH_MODES[self.auth_mode].auth(self.credential)

    def headers(self) -> dict[str, str]:
        return {"Maton-Connection": self.connection_id} if self.connection_id else {}

    def __repr__(self) -> str:
        return (
            f"ConnectionSettings(base_url={self.base_url!r}, auth_mode={self.auth_mode!r}, "
            f"connection_id={self.connection_id!r})"
        )


def _clean_secret(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    if any(ch.isspace() for ch in value):
        raise ConfigurationError(
            f"The {name} setting contains spaces or line breaks, so it was copied wrongly: copy it again as "
            "a single word."
        )
    return value


def _check_base_url(base_url: str) -> str:
    parts = urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigurationError(
            f"base_url {base_url!r} is not an http(s) URL: set SOURCES__PIPEDRIVE__BASE_URL to "
            "https://api.maton.ai/pipedrive (Maton) or https://{company}.pipedrive.com (direct)."
        )
    if parts.query or parts.fragment:
        raise ConfigurationError(
            f"base_url {base_url!r} has a query or fragment: give only the API root, e.g. "
            "https://api.maton.ai/pipedrive or https://{company}.pipedrive.com."
        )
    path = parts.path.rstrip("/")
    if path.endswith(("/v1", "/v2")):
        raise ConfigurationError(
            f"base_url {base_url!r} ends with an API version: give only the root (e.g. "
            "https://api.maton.ai/pipedrive or https://{company}.pipedrive.com); the source adds /api/v1 "
            "and /api/v2 itself."
        )
    return f"{parts.scheme}://{parts.netloc}{path}"


def _check_connection_id(connection_id: str | None) -> str | None:
    if connection_id is None or not connection_id.strip():
        return None
    try:
        return str(uuid.UUID(connection_id.strip()))
    except ValueError:
        raise ConfigurationError(
            f"connection_id {connection_id!r} is not a Maton connection id (a UUID such as "
            "21fd90f9-5935-43cd-b6c8-bde9d915ca80): list your connections at maton.ai or with "
            "`pipedrive-source connections list`, or unset SOURCES__PIPEDRIVE__CONNECTION_ID to use the "
            "oldest active one."
        ) from None


def resolve_connection(
    base_url: str | None = None,
    maton_api_key: str | None = None,
    connection_id: str | None = None,
    api_token: str | None = None,
    access_token: str | None = None,
) -> ConnectionSettings:
    """Pick the way of authenticating from the settings given and check that they fit together.

    Raises:
        ConfigurationError: with the fix, when the settings cannot work.
    """
    url = _check_base_url(base_url or DEFAULT_BASE_URL)
    given = {
        "maton_api_key": _clean_secret("MATON_API_KEY", maton_api_key),
        "api_token": _clean_secret("api_token", api_token),
        "access_token": _clean_secret("access_token", access_token),
    }
    if given["api_token"] and given["access_token"]:
        raise ConfigurationError(
            "Both sources.pipedrive.api_token and sources.pipedrive.access_token are set: keep only one "
            "(api_token for a personal API token, access_token for an OAuth app)."
        )
    mode = next((name for name in AUTH_MODES if given[AUTH_MODES[name].setting]), None)
    if mode is None:
        raise ConfigurationError(NO_CREDENTIALS)
    layer = AUTH_MODES[mode].layer
    host = urlsplit(url).netloc
    if layer == "direct" and host == MATON_HOST:
        raise ConfigurationError(
            f"{mode} calls Pipedrive directly, but base_url is the Maton gateway: set base_url to "
            "https://{company}.pipedrive.com (or use MATON_API_KEY without a Pipedrive token)."
        )
    if layer == "maton" and host.endswith("pipedrive.com"):
        raise ConfigurationError(
            "base_url points at Pipedrive itself, but only a Maton API key is set: set "
            "sources.pipedrive.api_token to call Pipedrive directly, or use base_url "
            "https://api.maton.ai/pipedrive."
        )
    cid = _check_connection_id(connection_id)
    if cid and layer == "direct":
        raise ConfigurationError(
            "connection_id selects a Maton connection, but the source calls Pipedrive directly with "
            f"{mode}: unset SOURCES__PIPEDRIVE__CONNECTION_ID, or drop {mode} to go through Maton."
        )
    return ConnectionSettings(url, mode, str(given[AUTH_MODES[mode].setting]), cid)


@with_config(sections=("sources", "pipedrive"))
def settings_from_config(
    base_url: str = DEFAULT_BASE_URL,
    maton_api_key: TSecretStrValue | None = dlt.secrets.value,
    connection_id: str | None = None,
    api_token: TSecretStrValue | None = None,
    access_token: TSecretStrValue | None = None,
) -> ConnectionSettings:
    """The connection settings from dlt config, resolved as `pipedrive_source` resolves them, validated."""
    return resolve_connection(base_url, maton_api_key, connection_id, api_token, access_token)
