"""The HTTP side: dlt's `RESTClient` on dlt's retrying session, Pipedrive's paginators and error checks.

Retries (5xx, connection errors, short 429s honouring `Retry-After`) are dlt's, tuned by the usual
`[runtime]` settings (`request_max_attempts`, `request_backoff_factor`, `request_max_retry_delay`,
`request_timeout`). Pagination references: https://pipedrive.readme.io/docs/core-api-concepts-pagination
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import MappingProxyType
from typing import Any

from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.sources.helpers.requests.retry import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.client import PageData
from dlt.sources.helpers.rest_client.paginators import (
    BasePaginator,
    JSONResponseCursorPaginator,
    SinglePagePaginator,
)
from dlt.sources.helpers.rest_client.typing import Hooks
from requests import Request, RequestException, Response

from pipedrive_source.config import ConnectionSettings
from pipedrive_source.errors import connection_failed, parse_retry_after, response_checker
from pipedrive_source.settings import CURSOR_FIELD, PAGE_LIMIT, Pagination

SERVER_ERRORS = tuple(range(500, 600))


def retry_short_rate_limits(
    max_retry_delay: float,
) -> Callable[[Response | None, BaseException | None], bool]:
    """A retry condition for 429s worth waiting for.

    dlt would retry every 429, capping a long `Retry-After` at `max_retry_delay`: for an exhausted daily
    budget (`Retry-After` of an hour or more) that is minutes of sleeping before failing anyway.
    """

    def should_retry(response: Response | None, exception: BaseException | None) -> bool:
        if response is None or response.status_code != 429:
            return False
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        return retry_after is None or retry_after <= max_retry_delay

    return should_retry


def to_rfc3339(update_time: str) -> str:
    """`2024-05-01 10:20:00` (v1) or `2024-05-01T10:20:00Z` (v2) as RFC3339 for `updated_since`."""
    text = update_time.strip().replace(" ", "T", 1)
    return text if text.endswith("Z") or "+" in text[10:] else f"{text}Z"


class UpdatedSincePaginator(BasePaginator):
    """v1 offset pages anchored on the last `update_time` read.

    Plain `start` offsets over a list sorted by `update_time` skip a record whenever an earlier record is
    updated during the run (it moves to the end and everything behind it shifts). Each page here asks for
    `updated_since=<last update_time read>` and skips only the records of that same second already read,
    so moves behind the anchor cannot shift what is left to read.
    """

    def __init__(self, limit: int = PAGE_LIMIT, cursor_field: str = CURSOR_FIELD) -> None:
        super().__init__()
        self.limit = limit
        self.cursor_field = cursor_field
        self.anchor: str | None = None
        self.read_at_anchor = 0

    def init_request(self, request: Request) -> None:
        self._has_next_page = True
        self.anchor = None
        self.read_at_anchor = 0
        request.params = {**(request.params or {}), "start": 0, "limit": self.limit}

    def update_state(self, response: Response, data: list[Any] | None = None) -> None:
        pagination = (response.json().get("additional_data") or {}).get("pagination") or {}
        more = pagination.get("more_items_in_collection")
        self._has_next_page = bool(data) and (
            more if isinstance(more, bool) else len(data or ()) >= self.limit
        )
        if not data:
            return
        last = data[-1].get(self.cursor_field)
        if last is None:
            raise ValueError(f"a record without {self.cursor_field} in a list sorted by it")
        last = to_rfc3339(str(last))
        same_second = sum(
            1 for r in data if r.get(self.cursor_field) and to_rfc3339(str(r[self.cursor_field])) == last
        )
        if last == self.anchor:
            self.read_at_anchor += len(data)
        else:
            self.anchor, self.read_at_anchor = last, same_second

    def update_request(self, request: Request) -> None:
        params = dict(request.params or {})
        if self.anchor is not None:
            params["updated_since"] = self.anchor
        params["start"] = self.read_at_anchor
        params["limit"] = self.limit
        request.params = params


PAGINATORS: Mapping[Pagination, Callable[[], BasePaginator]] = MappingProxyType(
    {
        "cursor": lambda: JSONResponseCursorPaginator(
            cursor_path="additional_data.next_cursor", cursor_param="cursor"
        ),
        "updated_since": UpdatedSincePaginator,
        "single": SinglePagePaginator,
    }
)

# v2 cursor lists take `limit`; the v1 paginator sets its own.
PAGE_PARAMS: Mapping[Pagination, Mapping[str, Any]] = MappingProxyType(
    {"cursor": {"limit": PAGE_LIMIT}, "updated_since": {}, "single": {}}
)


class PipedriveClient:
    """Reads Pipedrive through Maton or directly, raising `PipedriveError`s with the fix on failure."""

    def __init__(self, settings: ConnectionSettings, runtime: RuntimeConfiguration | None = None) -> None:
        runtime = runtime or resolve_configuration(RuntimeConfiguration())
        self.settings = settings
        self.attempts = runtime.request_max_attempts
        session = Client(
            request_timeout=runtime.request_timeout,
            raise_for_status=False,
            status_codes=SERVER_ERRORS,
            retry_condition=retry_short_rate_limits(runtime.request_max_retry_delay),
            request_max_attempts=runtime.request_max_attempts,
            request_backoff_factor=runtime.request_backoff_factor,
            request_max_retry_delay=runtime.request_max_retry_delay,
        ).session
        self.rest = RESTClient(
            base_url=settings.base_url,
            headers=settings.headers(),
            auth=settings.auth(),
            data_selector="data",
            session=session,
            config=runtime,
        )
        self.hooks: Hooks = {
            "response": [
                response_checker(
                    layer=settings.layer,
                    auth_mode=settings.auth_mode,
                    attempts=runtime.request_max_attempts,
                    max_retry_delay=runtime.request_max_retry_delay,
                    secrets=(settings.credential,),
                    base_path=settings.base_path,
                )
            ]
        }

    def pages(
        self, path: str, pagination: Pagination, params: Mapping[str, Any] | None = None
    ) -> Iterator[PageData[Any]]:
        """Every page of the list at `path`, as the `data` records of each answer."""
        query = {**PAGE_PARAMS[pagination], **(params or {})}
        try:
            yield from self.rest.paginate(
                path, params=query, paginator=PAGINATORS[pagination](), hooks=self.hooks
            )
        except RequestException as exc:
            if getattr(exc, "response", None) is not None:
                raise
            raise connection_failed(exc, self.attempts) from exc

    def records(self, path: str, pagination: Pagination = "cursor") -> list[dict[str, Any]]:
        """All records of a (small) list, e.g. a fields endpoint."""
        return [record for page in self.pages(path, pagination) for record in page]

    def get(self, path: str) -> dict[str, Any]:
        """The `data` object of a single-object endpoint such as `users/me`."""
        try:
            response = self.rest.get(path, hooks=self.hooks)
        except RequestException as exc:
            if getattr(exc, "response", None) is not None:
                raise
            raise connection_failed(exc, self.attempts) from exc
        data: dict[str, Any] = response.json().get("data") or {}
        return data
