"""Maton's connections API from Python: list, create, show and delete the Pipedrive connections of a key.

A Maton connection links one Pipedrive company to a Maton API key; the gateway sends a request to the
connection named in `Maton-Connection`, or to the oldest ACTIVE one. The API lives at the root of the
gateway's host (`https://api.maton.ai/connections` for `https://api.maton.ai/pipedrive`); its requests and
answers are in `tests/data/examples/maton.json`. Reads are retried like the source's (dlt's retrying session:
5xx, connection errors, short 429s); writes only on a 429, since a retried create could leave a second
PENDING connection and a retried delete would answer 404 for the connection it already deleted.
"""

# No `from __future__ import annotations`: dlt reads the config signature of `_maton_settings` at run time.
import builtins
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

import dlt
import requests
from dlt.common.configuration import resolve_configuration, with_config
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.common.typing import TSecretStrValue
from dlt.sources.helpers.requests.retry import Client

from pipedrive_source.client import SERVER_ERRORS, retry_short_rate_limits
from pipedrive_source.config import resolve_connection
from pipedrive_source.errors import (
    ConfigurationError,
    PipedriveError,
    PipedriveHTTPError,
    parsed_body,
    redact,
)
from pipedrive_source.settings import DEFAULT_BASE_URL

APP = "pipedrive"
STATUSES = ("ACTIVE", "PENDING", "FAILED")
METHODS = ("OAUTH2", "API_KEY", "BASIC", "OAUTH1", "MCP")
"""The authorization methods Maton's create accepts; Pipedrive connections are normally OAUTH2."""

NEVER = datetime.max.replace(tzinfo=timezone.utc)

NO_MATON_KEY = (
    "Maton connections need a Maton API key: set MATON_API_KEY to your key (from your maton.ai dashboard), "
    "or put maton_api_key under [sources.pipedrive] in .dlt/secrets.toml."
)


@dataclass(frozen=True)
class MatonConnection:
    """One Maton connection, with the fields as Maton sends them (times are ISO 8601 text in UTC).

    Attributes:
        connection_id: the UUID to set as `connection_id` (`Maton-Connection`) to load this company.
        status: ACTIVE (usable), PENDING (waiting for its `url` to be opened and authorized) or FAILED.
        url: the authorization page to open in a browser while the connection is PENDING.
    """

    connection_id: str
    status: str
    app: str
    method: str | None
    creation_time: str | None
    last_updated_time: str | None
    url: str | None

    @classmethod
    def from_api(cls, item: Mapping[str, Any]) -> "MatonConnection":
        return cls(
            connection_id=str(item.get("connection_id") or ""),
            status=str(item.get("status") or "").upper(),
            app=str(item.get("app") or ""),
            method=item.get("method"),
            creation_time=item.get("creation_time"),
            last_updated_time=item.get("last_updated_time"),
            url=item.get("url"),
        )


def _created_at(connection: MatonConnection) -> datetime:
    """When `connection` was created, for sorting; unknown or unreadable times sort last."""
    try:
        created = datetime.fromisoformat(connection.creation_time or "")
    except ValueError:
        return NEVER
    return created if created.tzinfo else created.replace(tzinfo=timezone.utc)


def connections_url(base_url: str) -> str:
    """The connections API of the gateway at `base_url`: the root of its host."""
    parts = urlsplit(base_url)
    return f"{parts.scheme}://{parts.netloc}/connections"


def checked_connection_id(connection_id: str) -> str:
    """`connection_id` in its canonical form.

    Raises:
        ConfigurationError: if it is not a UUID, as every Maton connection id is.
    """
    try:
        return str(uuid.UUID(connection_id.strip()))
    except (ValueError, AttributeError):
        raise ConfigurationError(
            f"{connection_id!r} is not a Maton connection id (a UUID such as "
            "21fd90f9-5935-43cd-b6c8-bde9d915ca80): list them with `pipedrive-source connections list`."
        ) from None


# What each failed answer means, by problem; `_problem` picks the row. Placeholders: method, url, status,
# detail (Maton's own message), connection_id, attempts.
MESSAGES: Mapping[str, str] = {
    "refused_key": (
        "The Maton API key was refused (401: {detail}). Check MATON_API_KEY (or "
        "sources.pipedrive.maton_api_key in .dlt/secrets.toml): copy the key again from your maton.ai "
        "dashboard."
    ),
    "no_connection": (
        "No Maton connection {connection_id}: list them with `pipedrive-source connections list`."
    ),
    "no_api": (
        "{url} was not found (404): the Maton connections API lives at the root of the gateway's host. "
        "Check base_url (https://api.maton.ai/pipedrive for Maton)."
    ),
    "rate_limited": (
        "Maton still answered 429 (rate limited) to {method} {url} after {attempts} attempts: its limit of "
        "10 requests per second is per API key, shared with every load using the key. Try again in a moment."
    ),
    "server_error": (
        "Maton answered {status} to {method} {url} ({detail}) after {attempts} attempts: a problem on "
        "Maton's side. Try again later."
    ),
    "not_json": (
        "Expected JSON from {url} but got something else (HTTP {status}): check base_url "
        "(https://api.maton.ai/pipedrive for Maton) and that no proxy or login page intercepts the request."
    ),
    "refused": (
        "Maton refused {method} {url} ({status}: {detail}). Check the request; if it looks right, report it "
        "with this message."
    ),
}

UNREACHABLE = (
    "Could not reach the Maton connections API at {url} after {attempts} attempts ({reason}). Check the "
    "network connection (and any proxy), and that base_url names the Maton gateway "
    "(https://api.maton.ai/pipedrive): the connections API is at the root of its host."
)
STILL_PENDING = (
    "Maton connection {connection_id} is still {status} after {timeout:g} s: open its authorization URL "
    "in a browser and authorize Pipedrive ({url}), then check it with `pipedrive-source connections show "
    "{connection_id}`."
)
AUTHORIZATION_FAILED = (
    "Maton connection {connection_id} FAILED to authorize Pipedrive: delete it (`pipedrive-source "
    "connections delete {connection_id}`) and create a new one with `pipedrive-source connections create`."
)

Problem = Callable[[requests.Response, bool], bool]
# First match wins; the flag says whether the request named one connection (`/connections/{id}`).
PROBLEMS: tuple[tuple[str, Problem], ...] = (
    ("refused_key", lambda r, one: r.status_code == 401),
    ("no_connection", lambda r, one: r.status_code == 404 and one),
    ("no_api", lambda r, one: r.status_code == 404),
    ("rate_limited", lambda r, one: r.status_code == 429),
    ("server_error", lambda r, one: r.status_code >= 500),
    ("refused", lambda r, one: r.status_code >= 400),
    ("not_json", lambda r, one: not isinstance(parsed_body(r), dict)),
)


def _maton_detail(response: requests.Response) -> str:
    """Maton's own explanation of a failed answer: `{"error": {"message": ...}}` or a flat `message`."""
    body = parsed_body(response)
    if not isinstance(body, dict):
        return "no details given"
    error = body.get("error")
    for source in (error if isinstance(error, dict) else {}, body):
        for key in ("message", "error", "detail"):
            value = source.get(key)
            if isinstance(value, str) and value:
                return value[:300]
    return "no details given"


def _sessions(runtime: RuntimeConfiguration) -> tuple[requests.Session, requests.Session]:
    """A session for reads, retrying like the source's, and one for writes, retrying only short 429s."""
    settings: dict[str, Any] = dict(
        request_timeout=runtime.request_timeout,
        raise_for_status=False,
        retry_condition=retry_short_rate_limits(runtime.request_max_retry_delay),
        request_max_attempts=runtime.request_max_attempts,
        request_backoff_factor=runtime.request_backoff_factor,
        request_max_retry_delay=runtime.request_max_retry_delay,
    )
    reads = Client(status_codes=SERVER_ERRORS, **settings).session
    writes = Client(status_codes=(), exceptions=(), **settings).session
    return reads, writes


@with_config(sections=("sources", "pipedrive"))
def _maton_settings(
    base_url: str = DEFAULT_BASE_URL, maton_api_key: TSecretStrValue | None = dlt.secrets.value
) -> tuple[str, str]:
    """The gateway and Maton key as the source resolves them (dlt config, env, plain MATON_API_KEY)."""
    if not maton_api_key or not str(maton_api_key).strip():
        raise ConfigurationError(NO_MATON_KEY)
    settings = resolve_connection(base_url=base_url, maton_api_key=maton_api_key)
    return settings.base_url, settings.credential


class MatonConnections:
    """The Pipedrive connections of one Maton API key.

    Every method raises a `PipedriveError` with a one-paragraph message saying what to do when Maton
    refuses or cannot be reached (a `PipedriveHTTPError`, holding the `response`, for a refusal).
    """

    def __init__(
        self,
        api_key: str,
        base_url: str = DEFAULT_BASE_URL,
        session: requests.Session | None = None,
    ) -> None:
        """
        Args:
            api_key: the Maton API key.
            base_url: the gateway the source uses; the connections API is at the root of its host.
            session: sends every request as given (no retries added); by default dlt's retrying sessions,
                tuned by the `[runtime]` settings.
        """
        self.url = connections_url(base_url)
        self._api_key = api_key
        runtime: RuntimeConfiguration = resolve_configuration(RuntimeConfiguration())
        self.attempts = 1 if session is not None else runtime.request_max_attempts
        self.timeout = runtime.request_timeout
        self._reads, self._writes = (session, session) if session is not None else _sessions(runtime)

    @classmethod
    def from_config(cls) -> "MatonConnections":
        """The connections of the Maton key and gateway configured for the source.

        Raises:
            ConfigurationError: with the fix, when no Maton key is configured or base_url cannot work.
        """
        base_url, api_key = _maton_settings()
        return cls(api_key, base_url)

    def __repr__(self) -> str:
        return f"MatonConnections(url={self.url!r})"

    def list(self, status: str | None = None) -> list[MatonConnection]:
        """The Pipedrive connections of the key, oldest first; only those with `status` if given."""
        params = {"app": APP}
        if status is not None:
            status = status.upper()
            if status not in STATUSES:
                raise ConfigurationError(
                    f"{status!r} is not a connection status: use one of {', '.join(STATUSES)}."
                )
            params["status"] = status
        body = self._send("GET", self.url, params=params)
        items = body.get("connections") or []
        found = [MatonConnection.from_api(item) for item in items if isinstance(item, dict)]
        # Maton filters by the query already; checked again so another app's connection never slips in.
        found = [c for c in found if c.app == APP and (status is None or c.status == status)]
        return sorted(found, key=_created_at)

    def active_ids(self) -> builtins.list[str]:
        """The ids of the ACTIVE Pipedrive connections, oldest first (the first is the gateway's default)."""
        return [connection.connection_id for connection in self.list("ACTIVE")]

    def get(self, connection_id: str) -> MatonConnection:
        """The connection `connection_id` as it is now (a GET also advances a PENDING authorization)."""
        connection_id = checked_connection_id(connection_id)
        body = self._send("GET", self._one(connection_id), connection_id=connection_id)
        return MatonConnection.from_api(body.get("connection") or {})

    def create(self, method: str = "OAUTH2") -> MatonConnection:
        """A new PENDING Pipedrive connection: open its `url` in a browser to authorize it."""
        method = method.upper()
        if method not in METHODS:
            raise ConfigurationError(
                f"{method!r} is not a Maton connection method: use one of {', '.join(METHODS)}."
            )
        body = self._send("POST", self.url, json={"app": APP, "method": method})
        return MatonConnection.from_api(body.get("connection") or {})

    def wait_until_active(
        self, connection_id: str, timeout: float = 600, poll_every: float = 2
    ) -> MatonConnection:
        """Poll the connection until it is ACTIVE, i.e. until its user has authorized it in a browser.

        Raises:
            PipedriveError: if the authorization FAILED, or the connection is not ACTIVE after `timeout`
                seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            connection = self.get(connection_id)
            if connection.status == "ACTIVE":
                return connection
            if connection.status == "FAILED":
                raise PipedriveError(AUTHORIZATION_FAILED.format(connection_id=connection.connection_id))
            left = deadline - time.monotonic()
            if left <= 0:
                raise PipedriveError(
                    STILL_PENDING.format(
                        connection_id=connection.connection_id,
                        status=connection.status or "not ACTIVE",
                        timeout=timeout,
                        url=connection.url or "see maton.ai",
                    )
                )
            time.sleep(min(poll_every, left))

    def delete(self, connection_id: str) -> None:
        """Delete the connection: loads naming it fail from then on; its Pipedrive authorization is gone."""
        connection_id = checked_connection_id(connection_id)
        self._send("DELETE", self._one(connection_id), connection_id=connection_id)

    def _one(self, connection_id: str) -> str:
        return f"{self.url}/{quote(connection_id, safe='')}"

    def _send(self, method: str, url: str, connection_id: str | None = None, **kwargs: Any) -> dict[str, Any]:
        """The JSON object Maton answered, or the `PipedriveError` saying what went wrong."""
        session = self._reads if method == "GET" else self._writes
        attempts = self.attempts if method == "GET" else 1
        try:
            response = session.request(
                method,
                url,
                headers={"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"},
                timeout=self.timeout,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise PipedriveError(
                UNREACHABLE.format(url=url, attempts=attempts, reason=type(exc).__name__)
            ) from None
        problem = next(
            (name for name, applies in PROBLEMS if applies(response, connection_id is not None)), None
        )
        if problem is None:
            body: dict[str, Any] = parsed_body(response)
            return body
        message = MESSAGES[problem].format(
            method=method,
            url=url,
            status=response.status_code,
            detail=_maton_detail(response),
            connection_id=connection_id,
            # writes are retried on a 429 too
            attempts=self.attempts if problem == "rate_limited" else attempts,
        )
        raise PipedriveHTTPError(redact(message, (self._api_key,)), response=response, problem=problem)
