"""What the API answered, read back from the cassette: the truth the loaded tables are checked against.

While recording the cassette fills as requests go out; in replay it holds every interaction from the start.
Either way interaction `i` answers the test's request `i`, so a run's answers are the slice of its requests.
"""

import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlsplit

from vcr.cassette import Cassette

from pipedrive_source.settings import Endpoint


def _body(response: dict[str, Any]) -> Any:
    text = response["body"]["string"]
    if isinstance(text, bytes):
        text = text.decode()
    return json.loads(text) if text else None


def answers(cassette: Cassette, path: str, start: int = 0, stop: int | None = None) -> Iterator[Any]:
    """The JSON bodies of the successful GET answers to `path` (under base_url), interactions start:stop."""
    for request, response in cassette.data[start:stop]:
        if (
            request.method == "GET"
            and urlsplit(request.uri).path.endswith(f"/{path}")
            and response["status"]["code"] == 200
        ):
            body = _body(response)
            if isinstance(body, dict) and body.get("success") is True:
                yield body


def records(
    cassette: Cassette, path: str, start: int = 0, stop: int | None = None
) -> dict[Any, dict[str, Any]]:
    """The records the API returned for a list in interactions start:stop, by id (the last answer wins)."""
    found: dict[Any, dict[str, Any]] = {}
    for body in answers(cassette, path, start, stop):
        for record in body.get("data") or []:
            found[record["id"]] = record
    return found


def endpoint_rows(
    cassette: Cassette, endpoints: Iterable[Endpoint], start: int = 0, stop: int | None = None
) -> dict[Any, dict[str, Any]]:
    """The records the endpoints' lists answered in interactions start:stop, by primary key (the last
    answer wins); for lists keyed otherwise than `id` or nesting their records (`data_key`)."""
    found: dict[Any, dict[str, Any]] = {}
    for endpoint in endpoints:
        for body in answers(cassette, endpoint.path, start, stop):
            data = body.get("data") or []
            if endpoint.data_key:
                data = data.get(endpoint.data_key) or []
            found.update((record[endpoint.primary_key], record) for record in data)
    return found


def fields(cassette: Cassette, path: str, stop: int | None = None) -> list[dict[str, Any]]:
    """The field descriptions of a fields endpoint (`api/v2/dealFields`) in the first `stop` interactions."""
    return [field for body in answers(cassette, path, 0, stop) for field in body.get("data") or []]


def companies(cassette: Cassette, start: int = 0, stop: int | None = None) -> list[dict[str, Any]]:
    """The companies `users/me` answered in interactions start:stop, in order (the account check of each
    run): `company_id`, `company_name`, `company_domain`."""
    return [
        {key: body["data"][key] for key in ("company_id", "company_name", "company_domain")}
        for body in answers(cassette, "api/v1/users/me", start, stop)
    ]
