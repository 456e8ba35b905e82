"""What went wrong, in the user's words, with the fix.

Every failure a user can act on becomes a `PipedriveError` whose text is one paragraph naming the fix.
HTTP answers are classified by the first matching row of `RULES` and worded by `MESSAGES`: both are tables,
so a new case is a new row. Error shapes: https://pipedrive.readme.io/docs/core-api-concepts-http-status-codes
and the Maton gateway's documented errors (400 no connection, 401 bad key, 429 over 10 requests/s, 500
expired grant).
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from email.utils import mktime_tz, parsedate_tz
from typing import Any, Literal
from urllib.parse import urlsplit

import orjson
from requests import HTTPError, RequestException, Response

Layer = Literal["maton", "direct"]


class PipedriveError(Exception):
    """A failure the user can fix; `str()` is the one-paragraph message that says how."""


class ConfigurationError(PipedriveError):
    """The configuration cannot work; raised before any request is sent."""


class PipedriveHTTPError(HTTPError, PipedriveError):
    """An HTTP answer that is not usable data.

    An `HTTPError` so that dlt's retrying session can read `.response` and retry on 5xx and short 429s.
    """

    def __init__(self, message: str, response: Response, problem: str) -> None:
        super().__init__(message, response=response)
        self.problem = problem


@dataclass(frozen=True)
class Answer:
    """The facts about one HTTP answer that the rules look at."""

    status: int
    layer: Layer
    auth_mode: str
    path: str
    is_html: bool
    body: Mapping[str, Any] | None
    retry_after: float | None
    max_retry_delay: float

    @property
    def error_text(self) -> str:
        """The API's own explanation (Pipedrive's `error`, or a gateway's `message`), if any."""
        if not self.body:
            return ""
        # Maton's own error body is undocumented: accept a nested `{"error": {"message": ...}}` too.
        nested = self.body.get("error")
        for source in (self.body, nested if isinstance(nested, dict) else {}):
            for key in ("error", "message", "detail"):
                value = source.get(key)
                if isinstance(value, str) and value:
                    return value
        return ""


Rule = tuple[str, Callable[[Answer], bool]]

# First match wins, so the specific rows come before the general ones.
RULES: tuple[Rule, ...] = (
    ("blocked_html", lambda a: a.status == 403 and a.is_html),
    ("html_page", lambda a: a.is_html),
    ("unauthorized_maton", lambda a: a.status == 401 and a.layer == "maton"),
    ("unauthorized_api_token", lambda a: a.status == 401 and a.auth_mode == "api_token"),
    ("unauthorized_access_token", lambda a: a.status == 401),
    (
        "missing_connection",
        lambda a: a.status in (400, 404) and a.layer == "maton" and "connection" in a.error_text.lower(),
    ),
    ("bad_request", lambda a: a.status == 400),
    ("forbidden", lambda a: a.status == 403),
    ("not_found", lambda a: a.status == 404),
    ("gone", lambda a: a.status == 410),
    # Pipedrive's answer to an exhausted daily token budget is a 429 with a Retry-After of up to a day; a
    # burst limit answers with a couple of seconds. A wait the retry policy would not make is the budget.
    (
        "daily_budget",
        lambda a: (
            a.status == 429
            and (
                (a.retry_after is not None and a.retry_after > a.max_retry_delay)
                or "daily" in a.error_text.lower()
            )
        ),
    ),
    ("rate_limited", lambda a: a.status == 429),
    ("server_error_maton", lambda a: a.status >= 500 and a.layer == "maton"),
    ("server_error", lambda a: a.status >= 500),
    ("unexpected_status", lambda a: a.status >= 400),
    ("success_false", lambda a: a.body is not None and a.body.get("success") is False),
    ("not_json", lambda a: a.body is None),
)

MESSAGES: Mapping[str, str] = {
    "blocked_html": (
        "Pipedrive blocked this client: it answered {path} with an HTML 403 page instead of JSON. Pipedrive "
        "does this to API-token clients that keep sending requests after being rate limited. Wait a few "
        "minutes before the next run and lower the load (fewer resources per run, no parallel runs on the "
        "same account)."
    ),
    "html_page": (
        "Expected JSON from {path} but got an HTML page (HTTP {status}). base_url is probably not the API: "
        "use https://api.maton.ai/pipedrive (Maton) or https://{{company}}.pipedrive.com (direct), and check "
        "that no proxy or login page intercepts the request."
    ),
    "unauthorized_maton": (
        "The Maton gateway refused the credentials (401). Check MATON_API_KEY (or "
        "sources.pipedrive.maton_api_key in .dlt/secrets.toml): copy the key again from your maton.ai "
        "dashboard. If the key is right, the Pipedrive authorization behind the connection may have expired: "
        "re-create the Pipedrive connection at maton.ai."
    ),
    "unauthorized_api_token": (
        "Pipedrive refused the API token (401). Check the API token: Pipedrive > Personal preferences > API, "
        "and copy it into sources.pipedrive.api_token; also check that base_url is "
        "https://{{company}}.pipedrive.com for the same company."
    ),
    "unauthorized_access_token": (
        "Pipedrive refused the OAuth access token (401). Access tokens expire after an hour: refresh it and "
        "set sources.pipedrive.access_token again, with base_url set to the token's api_domain."
    ),
    "missing_connection": (
        "The Maton gateway has no Pipedrive connection to use ({status}: {detail}). Create a Pipedrive "
        "connection with `pipedrive-source connections create` or at maton.ai, or set "
        "SOURCES__PIPEDRIVE__CONNECTION_ID to the id of an ACTIVE connection of this Maton account."
    ),
    "bad_request": (
        "Pipedrive refused the request to {path} as invalid (400: {detail}). This is likely a bug in "
        "pipedrive-source or an option your Pipedrive plan does not support; please report it with this "
        "message."
    ),
    "forbidden": (
        "Pipedrive denied access to {path} (403: {detail}). The user behind these credentials lacks the "
        "permission: use credentials of a user who can see all data (a global admin), or leave this table "
        "out with `--resources`."
    ),
    "not_found": (
        "{path} was not found (404: {detail}). Check base_url: https://api.maton.ai/pipedrive through Maton, "
        "https://{{company}}.pipedrive.com directly, with no /api or /v1 suffix."
    ),
    "gone": (
        "Pipedrive no longer serves {path} (410 Gone): this API version of the endpoint is out of support. "
        "Upgrade pipedrive-source (`pip install -U pipedrive-source`)."
    ),
    "daily_budget": (
        "Pipedrive's daily API token budget for this company is exhausted (429, retry after {retry_after}). "
        "Wait until the budget resets at midnight server time or lower the load (fewer resources or fewer "
        "runs a day, or buy more API tokens); the next run resumes from the last successful one."
    ),
    "rate_limited": (
        "Still rate limited (429) on {path} after {attempts} attempts. The Maton gateway allows 10 requests "
        "per second per account and Pipedrive limits bursts per 2 seconds, shared with every other tool on "
        "the account: run again later or raise runtime.request_max_attempts."
    ),
    "server_error_maton": (
        "The Maton gateway answered {status} for {path} after {attempts} attempts. Through Maton this is "
        "most often an expired Pipedrive authorization: re-create the Pipedrive connection at maton.ai "
        "(or with `pipedrive-source connections create`), then run again."
    ),
    "server_error": (
        "Pipedrive answered {status} for {path} after {attempts} attempts: a problem on Pipedrive's side. "
        "Run again later; the next run resumes from the last successful one."
    ),
    "unexpected_status": (
        "Unexpected HTTP {status} from {path} ({detail}). Please report it with this message."
    ),
    "not_json": (
        "Expected a JSON object from {path} but got something else (HTTP {status}). Check base_url: "
        "https://api.maton.ai/pipedrive through Maton, https://{{company}}.pipedrive.com directly."
    ),
    "success_false": (
        "Pipedrive answered {path} with success: false ({detail}) instead of data. Run again later; if it "
        "persists, check the account's state in Pipedrive and report it with this message."
    ),
}

STOPPED: Mapping[str, str] = {
    "daily_budget": (
        "Pipedrive's daily API token budget for this company is exhausted ({detail}), so this run stopped "
        "early. What it read until then is loaded and the incremental state saved: run again after the "
        "budget resets at midnight Pipedrive server time to continue where it stopped. To read more per day, "
        "lower the load of other tools on the account or buy more API tokens."
    ),
    "token_cap": (
        "This run stopped at its cap of {cap:,} API tokens (sources.pipedrive.max_tokens_per_run or "
        "--max-tokens), having spent {spent:,}: field lists and the small replaced tables (pipelines, "
        "stages, users) are read whole whatever the cap. What it read is loaded and the incremental state "
        "saved: run again to continue where it stopped."
    ),
}
"""Why a run stopped before reading everything: a partial load, not a failure."""


def daily_budget_stop(retry_after: float | None = None, tokens_left: int | None = None) -> str:
    """The stop message for an exhausted daily budget, from a 429's `Retry-After` or the tokens left."""
    if retry_after is not None:
        detail = f"429, resets in {_duration(retry_after)}"
    else:
        detail = f"{tokens_left if tokens_left is not None else 0} tokens left"
    return STOPPED["daily_budget"].format(detail=detail)


def token_cap_stop(cap: int, spent: int) -> str:
    return STOPPED["token_cap"].format(cap=cap, spent=spent)


CONNECTION_FAILED = (
    "Could not get an answer from {host} after {attempts} attempts ({reason}). Check the network and "
    "base_url, then run again."
)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    parsed = parsedate_tz(value)
    if parsed is None:
        return None
    return max(0.0, mktime_tz(parsed) - time.time())


_UNPARSED = object()


def parsed_body(response: Response) -> Any:
    """The JSON body of `response` (None if not JSON), parsed once with orjson however often asked for."""
    body = response.__dict__.get("_pipedrive_body", _UNPARSED)
    if body is _UNPARSED:
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            body = None
        response.__dict__["_pipedrive_body"] = body
    return body


def _json_body(response: Response) -> Mapping[str, Any] | None:
    body = parsed_body(response)
    return body if isinstance(body, dict) else None


def _reuse_parsed_body(response: Response) -> None:
    """Make `response.json()` return the body already parsed: dlt's paginators and data selector call it."""

    # A weak reference: a closure holding the response would make a cycle, keeping every page's body
    # alive until the cyclic garbage collector runs (tens of MB on a large load).
    response_ref = weakref.ref(response)

    def json(**kwargs: Any) -> Any:
        alive = response_ref()
        return None if alive is None else parsed_body(alive)

    response.json = json  # type: ignore[method-assign]


def _is_html(response: Response) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    return response.content[:200].lstrip().lower().startswith((b"<!doctype html", b"<html"))


def read_answer(
    response: Response, layer: Layer, auth_mode: str, max_retry_delay: float, base_path: str = ""
) -> Answer:
    """Collect what the rules need from `response`; `base_path` is cut from the path shown to the user."""
    path = urlsplit(response.url).path
    if base_path and path.startswith(base_path):
        path = path[len(base_path) :] or "/"
    is_html = _is_html(response)
    return Answer(
        status=response.status_code,
        layer=layer,
        auth_mode=auth_mode,
        path=path,
        is_html=is_html,
        body=None if is_html else _json_body(response),
        retry_after=parse_retry_after(response.headers.get("retry-after")),
        max_retry_delay=max_retry_delay,
    )


def classify(answer: Answer) -> str | None:
    """The problem `answer` shows (a key of `MESSAGES`), or None when it carries data."""
    return next((problem for problem, applies in RULES if applies(answer)), None)


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "an unknown time"
    minutes = round(seconds / 60)
    if minutes < 1:
        return f"{seconds:.0f} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def redact(text: str, secrets: Iterable[str | None]) -> str:
    """Replace every secret value in `text` by `***`; a last guard for text the server echoes back."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def describe(problem: str, answer: Answer, attempts: int) -> str:
    """The message for `problem`, filled with the answer's facts."""
    detail = answer.error_text or "no details given"
    return MESSAGES[problem].format(
        path=answer.path,
        status=answer.status,
        detail=detail[:300],
        retry_after=_duration(answer.retry_after),
        attempts=attempts,
    )


ResponseHook = Callable[..., None]


def response_checker(
    layer: Layer,
    auth_mode: str,
    attempts: int,
    max_retry_delay: float,
    secrets: Iterable[str | None],
    base_path: str = "",
) -> ResponseHook:
    """A `requests` response hook raising `PipedriveHTTPError` for any answer that is not usable data.

    It runs inside dlt's retrying `send`, so a raised 5xx or short 429 is still retried; the message is
    the one left when the retries give up.
    """
    secrets = tuple(secrets)

    def check(response: Response, *args: Any, **kwargs: Any) -> None:
        if response.is_redirect:
            return
        if response.status_code < 400 and not _is_html(response):
            # the common case: one fast parse of a JSON page to catch `success: false`
            body = _json_body(response)
            if body is not None and body.get("success") is not False:
                _reuse_parsed_body(response)
                return
        answer = read_answer(response, layer, auth_mode, max_retry_delay, base_path)
        problem = classify(answer)
        if problem is None:
            return
        message = redact(describe(problem, answer, attempts), secrets)
        raise PipedriveHTTPError(message, response=response, problem=problem)

    return check


def connection_failed(exc: RequestException, attempts: int) -> PipedriveError:
    """A `PipedriveError` for a request that never got an answer (refused, dropped, timed out)."""
    host = urlsplit(exc.request.url).netloc if exc.request is not None and exc.request.url else "the server"
    return PipedriveError(CONNECTION_FAILED.format(host=host, attempts=attempts, reason=type(exc).__name__))


def find_cause(exc: BaseException) -> BaseException:
    """The most specific error behind `exc`: a `PipedriveError` or request failure wrapped by dlt."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, PipedriveError):
            return current
        current = current.__cause__ or current.__context__
    current, seen = exc, set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, RequestException):
            return current
        current = current.__cause__ or current.__context__
    return exc


SECRET_ENV = (
    "MATON_API_KEY",
    "SOURCES__PIPEDRIVE__MATON_API_KEY",
    "SOURCES__PIPEDRIVE__API_TOKEN",
    "SOURCES__PIPEDRIVE__ACCESS_TOKEN",
)


def message_for(exc: BaseException) -> str:
    """The one-paragraph message for a failure: ours when we know the cause, else dlt's own words."""
    cause = find_cause(exc)
    if isinstance(cause, PipedriveError):
        return str(cause)
    if isinstance(cause, RequestException) and getattr(cause, "response", None) is None:
        return str(connection_failed(cause, attempts=1))
    # dlt masks the secrets it knows; the environment's are masked here as a last guard.
    return redact(f"{type(cause).__name__}: {cause}", (os.environ.get(name) for name in SECRET_ENV))
