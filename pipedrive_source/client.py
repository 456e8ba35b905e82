"""The HTTP side: dlt's `RESTClient` on dlt's retrying session, Pipedrive's paginators and error checks, the
account's rate limiter, token accounting, and the clean stop when the token budget runs out.

Retries (5xx, connection errors, short 429s honouring `Retry-After`) are dlt's, tuned by the usual
`[runtime]` settings (`request_max_attempts`, `request_backoff_factor`, `request_max_retry_delay`,
`request_timeout`). Every attempt waits for the account's `rate_limit.AccountLimiter`. A run that exhausts the
daily token budget or its own token cap stops cleanly: `pages()` ends and `stop_reason` says why.
Pagination references: https://pipedrive.readme.io/docs/core-api-concepts-pagination
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Generator, Iterator, Mapping
from datetime import datetime, timezone
from functools import partial
from types import MappingProxyType
from typing import Any
from urllib.parse import urlsplit

import orjson
from dlt.common import logger
from dlt.common.configuration import resolve_configuration
from dlt.common.configuration.specs import RuntimeConfiguration
from dlt.sources.helpers.requests.retry import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.paginators import (
    BasePaginator,
    JSONResponseCursorPaginator,
    SinglePagePaginator,
)
from dlt.sources.helpers.rest_client.typing import Hooks
from requests import PreparedRequest, Request, RequestException, Response

from pipedrive_source.children.paths import table_of_path
from pipedrive_source.config import ConnectionSettings
from pipedrive_source.errors import (
    PipedriveHTTPError,
    connection_failed,
    daily_budget_stop,
    parse_retry_after,
    parsed_body,
    response_checker,
    token_cap_stop,
)
from pipedrive_source.progress import RunUsage, current_usage
from pipedrive_source.rate_limit import PacedAdapter, ReadSettings, account_limiter, resolve_read_settings
from pipedrive_source.settings import (
    CURSOR_FIELD,
    ENDPOINTS,
    FIELDS_RESOURCES,
    PAGE_LIMIT,
    USERS_ME_PATH,
    Pagination,
)
from pipedrive_source.token_costs import cost_of
from pipedrive_source.turns import giving_way
from pipedrive_source.windows import UNTIL_FILTER_PATHS, ReadStopped, Window, plan_windows, read_in_order

SERVER_ERRORS = tuple(range(500, 600))

WINDOW_CHAINS_AT_ONCE = 8
"""Window chains reading at the same time, across all lists of a run. Each holds one answer and its parsed
page (several MB for 500 records with custom fields); 8 keep 10 requests/second busy at a few hundred ms of
latency, while 4 lists x 8 windows reading at once cost about 150 MB more memory for no gain in speed."""


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
        # v1 offsets: `next_start` is where the server's page really ended, whatever limit it applied
        "offset": lambda: JSONResponseCursorPaginator(
            cursor_path="additional_data.pagination.next_start", cursor_param="start"
        ),
        "single": SinglePagePaginator,
    }
)

# v2 cursor lists and v1 offset lists take `limit`; the `updated_since` paginator sets its own.
PAGE_PARAMS: Mapping[Pagination, Mapping[str, Any]] = MappingProxyType(
    {"cursor": {"limit": PAGE_LIMIT}, "updated_since": {}, "offset": {"limit": PAGE_LIMIT}, "single": {}}
)

# Requests count under the resource they serve; a fields endpoint under its entity, which reads it first.
RESOURCE_OF_PATH: Mapping[str, str] = MappingProxyType(
    {
        USERS_ME_PATH: "(account-check)",
        **FIELDS_RESOURCES,
        **{endpoint.path: endpoint.name for endpoint in ENDPOINTS},
    }
)

# A replaced table is read whole or the run fails: a read cut short would empty it (dlt truncates a
# replaced table even when its resource yields nothing).
READ_WHOLE_PATHS = frozenset(endpoint.path for endpoint in ENDPOINTS if not endpoint.incremental)

Page = list[dict[str, Any]]


def unix_seconds(update_time: str) -> int:
    """`2024-05-01T10:20:00Z` (or the v1 form) as whole UNIX seconds."""
    return int(datetime.fromisoformat(to_rfc3339(update_time).replace("Z", "+00:00")).timestamp())


def rfc3339(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class PipedriveClient:
    """Reads Pipedrive through Maton or directly, raising `PipedriveError`s with the fix on failure.

    Attributes:
        usage: requests, tokens and records per resource of the run (shared with the enclosing
            `progress.track_usage()` block, if any).
        limiter: the account's rate limiter, shared by every client of the same account in the process.
    """

    def __init__(
        self,
        settings: ConnectionSettings,
        runtime: RuntimeConfiguration | None = None,
        read_settings: ReadSettings | None = None,
        usage: RunUsage | None = None,
    ) -> None:
        runtime = runtime or resolve_configuration(RuntimeConfiguration())
        self.settings = settings
        self.read_settings = read_settings or resolve_read_settings()
        self.usage = usage or current_usage() or RunUsage()
        self.attempts = runtime.request_max_attempts
        self.account_check: Callable[[], None] | None = None
        """Called before every read for data (`guards.first_read.FirstReadChecks`): the source sets it."""
        self._window_slots = threading.BoundedSemaphore(WINDOW_CHAINS_AT_ONCE)
        self.limiter = account_limiter(
            settings.base_url,
            settings.credential,
            settings.connection_id,
            self.read_settings.rate_for(settings.layer),
        )
        session = Client(
            request_timeout=runtime.request_timeout,
            raise_for_status=False,
            status_codes=SERVER_ERRORS,
            retry_condition=retry_short_rate_limits(runtime.request_max_retry_delay),
            request_max_attempts=runtime.request_max_attempts,
            request_backoff_factor=runtime.request_backoff_factor,
            request_max_retry_delay=runtime.request_max_retry_delay,
        ).session
        adapter = PacedAdapter(self.limiter, self._count_answer)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
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

    @property
    def stop_reason(self) -> str | None:
        """Why the run stopped before reading everything (daily budget, token cap), or None."""
        return self.usage.stop_reason

    def pages(
        self, path: str, pagination: Pagination, params: Mapping[str, Any] | None = None
    ) -> Iterator[Page]:
        """Every page of the list at `path`, as the `data` records of each answer, oldest `update_time` first
        when the list is sorted so.

        When the run stops early (see `stop_reason`) the pages end without an error, after a gap-free
        prefix of the list. A full load of a large v2 list is read as parallel time windows.
        """
        self.check_account()
        query = {**PAGE_PARAMS[pagination], **(params or {})}
        resource = RESOURCE_OF_PATH.get(path) or table_of_path(path) or path
        if self._reads_in_windows(path, pagination, query):
            pages: Iterator[Page] = self._windowed(path, query)
        else:
            pages = self._chain(path, pagination, query, whole=path in READ_WHOLE_PATHS)
        for page in pages:
            self.usage.count_records(resource, len(page))
            yield page

    def records(self, path: str, pagination: Pagination = "cursor") -> list[dict[str, Any]]:
        """All records of a (small) list, e.g. a fields endpoint; read whole even when the run is stopping."""
        self.check_account()
        query = dict(PAGE_PARAMS[pagination])
        return [record for page in self._chain(path, pagination, query, whole=True) for record in page]

    def get(self, path: str) -> dict[str, Any]:
        """The `data` object of a single-object endpoint such as `deals/{id}`."""
        self.check_account()
        return self._get(path)

    def users_me(self) -> dict[str, Any]:
        """The user and company behind the credentials (`users/me`, which every token may read)."""
        return self._get(USERS_ME_PATH)

    def check_account(self) -> None:
        """Run the source's checks of the run (`account_check`) before a read, if it set them."""
        if self.account_check is not None:
            self.account_check()

    def _get(self, path: str) -> dict[str, Any]:
        try:
            response = self.rest.get(path, hooks=self.hooks)
        except RequestException as exc:
            raise self._unanswered(exc) from exc
        data: dict[str, Any] = parsed_body(response).get("data") or {}
        return data

    def _chain(
        self, path: str, pagination: Pagination, query: Mapping[str, Any], whole: bool = False
    ) -> Generator[Page, None, bool]:
        """The pages of one sequential chain; returns True if it read to the end, False if the run stopped.

        Unless `whole`, it checks before each request that the run may go on, and an exhausted daily budget
        stops the run instead of failing it.
        """
        paginator = PAGINATORS[pagination]()
        cost = cost_of("GET", path)
        answers = self.rest.paginate(path, params=dict(query), paginator=paginator, hooks=self.hooks)
        try:
            while True:
                if not whole and not self._may_send(cost):
                    return False
                try:
                    page = next(answers)
                except StopIteration:
                    return True
                except PipedriveHTTPError as exc:
                    if whole or exc.problem != "daily_budget":
                        raise
                    retry_after = parse_retry_after(exc.response.headers.get("retry-after"))
                    self._stop(daily_budget_stop(retry_after=retry_after))
                    return False
                except RequestException as exc:
                    raise self._unanswered(exc) from exc
                yield page
                if not paginator.has_next_page:
                    return True
        finally:
            # closes the connection of an abandoned chain at once rather than when collected
            getattr(answers, "close", lambda: None)()

    def _reads_in_windows(self, path: str, pagination: Pagination, query: Mapping[str, Any]) -> bool:
        # An incremental run (`updated_since` set) reads few pages: one chain is enough.
        return (
            self.read_settings.parallel_windows > 1
            and pagination == "cursor"
            and path in UNTIL_FILTER_PATHS
            and "updated_since" not in query
            and query.get("sort_by") == CURSOR_FIELD
            and query.get("sort_direction", "asc") == "asc"
        )

    def _windowed(self, path: str, query: Mapping[str, Any]) -> Iterator[Page]:
        """A full load of a v2 list sorted by `update_time`, read as parallel windows (see `windows`).

        The first page is read as usual; if the list goes on, one more request reads the newest page, and
        the windows are planned from both.
        """
        chain = self._chain(path, "cursor", query)
        first = next(chain, None)
        if first is None:
            return
        # read before yielding: the consumer may change the records in place
        more = (parsed_body(first.response).get("additional_data") or {}).get("next_cursor")  # type: ignore[attr-defined]
        first_times = [(r["id"], unix_seconds(r[CURSOR_FIELD])) for r in first]
        yield first
        newest = self._newest_page(path, query) if more and first_times else None
        if not newest:
            yield from chain
            return
        windows = plan_windows(
            [seconds for _, seconds in first_times],
            [unix_seconds(r[CURSOR_FIELD]) for r in newest],
            page_size=int(query.get("limit", PAGE_LIMIT)),
            max_windows=self.read_settings.parallel_windows,
        )
        if len(windows) == 1:
            yield from chain
            return
        chain.close()
        start = windows[0].since
        # the first window starts at the first page's last second: skip the records of it already read
        read_at_start = {record_id for record_id, seconds in first_times if seconds == start}
        chains = [partial(self._window_pages, path, query, window) for window in windows]
        for index, body in read_in_order(chains):
            records: Page = orjson.loads(body).get("data") or []
            if index == 0 and read_at_start:
                records = [
                    r
                    for r in records
                    if r["id"] not in read_at_start or unix_seconds(r[CURSOR_FIELD]) != start
                ]
            yield records

    def _newest_page(self, path: str, query: Mapping[str, Any]) -> Page | None:
        """The newest page of the list (sorted newest first); None if the run stopped."""
        newest = {**query, "sort_direction": "desc"}
        newest.pop("cursor", None)
        chain = self._chain(path, "single", newest)
        try:
            return next(chain, None)
        finally:
            chain.close()

    def _window_pages(self, path: str, query: Mapping[str, Any], window: Window) -> Iterator[bytes]:
        params = {**query, "updated_since": rfc3339(window.since)}
        if window.until is not None:
            params["updated_until"] = rfc3339(window.until)
        # windows are submitted in order, so the earliest ones (handed on first) tend to get slots first;
        # they give way to the run's sequential requests (`turns`): this thread reads this window only
        with self._window_slots, giving_way():
            chain = self._chain(path, "cursor", params)
            try:
                while True:
                    try:
                        page = next(chain)
                    except StopIteration as end:
                        if not end.value:
                            raise ReadStopped(path) from None
                        return
                    yield page.response.content  # type: ignore[attr-defined]
            finally:
                chain.close()

    def _may_send(self, cost: int) -> bool:
        """Whether the run may spend `cost` more tokens; stops the run when it may not."""
        if self.usage.stop_reason is not None:
            return False
        cap = self.usage.token_cap or self.read_settings.max_tokens_per_run
        spent = self.usage.tokens
        if cap is not None and spent + cost > cap:
            self._stop(token_cap_stop(cap, spent))
            return False
        left = self.usage.daily_tokens_left
        if left is not None and left < cost:
            self._stop(daily_budget_stop(tokens_left=left))
            return False
        return True

    def _stop(self, reason: str) -> None:
        if self.usage.stop(reason):
            logger.warning(reason)

    def _count_answer(self, request: PreparedRequest, response: Response | None) -> None:
        """Count an attempt under its resource; Pipedrive charges tokens for what it answers, bar 429s."""
        path = urlsplit(request.url or "").path
        base_path = self.settings.base_path
        if base_path and path.startswith(base_path):
            path = path[len(base_path) :]
        path = path.strip("/")
        charged = response is not None and response.status_code != 429
        self.usage.count_request(
            RESOURCE_OF_PATH.get(path) or table_of_path(path) or path,
            cost_of(request.method or "GET", path) if charged else 0,
        )
        left = response.headers.get("x-daily-ratelimit-token-remaining") if response is not None else None
        if left is not None and left.strip().isdigit():
            self.usage.daily_tokens_left = int(left)

    def _unanswered(self, exc: RequestException) -> BaseException:
        if getattr(exc, "response", None) is not None:
            return exc
        return connection_failed(exc, self.attempts)
