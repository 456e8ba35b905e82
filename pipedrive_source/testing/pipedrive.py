"""Pipedrive itself: routes a request of one account to its handler, applying rate limits and faults, and adds
the headers every Pipedrive response carries (`x-ratelimit-*`, `x-daily-ratelimit-token-*`,
`x-correlation-id`).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from collections.abc import Mapping

import orjson

from pipedrive_source.testing import api_mailbox, api_projects, api_v1, api_v1_company, api_v2
from pipedrive_source.testing.costs import DEFAULT_COST
from pipedrive_source.testing.errors import (
    BURST_BODY,
    DAILY_BUDGET_BODY,
    FORBIDDEN_HTML,
    SERVER_ERROR_MESSAGE,
    ApiError,
    error_body,
)
from pipedrive_source.testing.faults import Fault, Faults
from pipedrive_source.testing.ratelimit import PipedriveLimits
from pipedrive_source.testing.routes import Request, Response, Router, json_response
from pipedrive_source.testing.store import Account

log = logging.getLogger(__name__)

SUCCESS_FALSE_BODY = {
    "success": False,
    "error": "Request could not be completed, please try again",
    "error_info": "Please check developers.pipedrive.com for more information about Pipedrive API.",
    "data": None,
    "additional_data": None,
}


def build_router() -> Router:
    router = Router()
    api_v2.register(router)
    api_projects.register(router)
    api_v1.register(router)
    api_v1_company.register(router, api_v1.PREFIXES)
    api_mailbox.register(router, api_v1.PREFIXES)
    return router


class PipedriveService:
    """Serves the Pipedrive API of any account."""

    def __init__(self, limits: PipedriveLimits, faults: Faults) -> None:
        self.router = build_router()
        self.limits = limits
        self.faults = faults
        self.tokens_spent = 0
        """Token cost of every request answered so far (all accounts, all days)."""
        self.refusals: Counter[str] = Counter()
        """429 answers by cause: `burst`, `daily` (Pipedrive's limits) or `fault` (injected)."""
        self._counting = threading.Lock()

    def handle(
        self,
        account: Account,
        company: str,
        token: str,
        oauth: bool,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: bytes,
        headers: Mapping[str, str],
    ) -> Response:
        correlation = {"x-correlation-id": str(uuid.uuid4())}
        found = self.router.match(method, path)
        cost = found[0].cost if found else DEFAULT_COST
        searching = found is not None and "search" in found[0].template.lower()
        verdict = self.limits.check(company, token, oauth, cost, search=searching)
        response_headers = {**verdict.headers, **correlation}
        if found is None:
            status = 405 if self.router.allows(path) else 404
            message = "Method not allowed" if status == 405 else f"Unknown method {path}"
            return json_response(status, error_body(status, message), response_headers)
        route, params = found
        if not verdict.allowed:
            with self._counting:
                self.refusals[verdict.reason] += 1
            response_headers["retry-after"] = str(verdict.retry_after)
            body_json = DAILY_BUDGET_BODY if verdict.reason == "daily" else BURST_BODY
            return json_response(429, body_json, response_headers)
        with self._counting:
            self.tokens_spent += cost
        fault = self.faults.next_fault()
        if fault is not None and fault.kind != "drop":
            if fault.status == 429:
                with self._counting:
                    self.refusals["fault"] += 1
            return self._fault_response(fault, response_headers)
        request = Request(method, path, query, body, account, params, headers)
        try:
            response = route.handler(request)
        except ApiError as error:
            response = json_response(error.status, error.body(), error.headers)
        except Exception:
            log.exception("simulator handler failed for %s %s", method, path)
            response = json_response(500, error_body(500, SERVER_ERROR_MESSAGE))
        response.headers.update(response_headers)
        response.drop = fault is not None and fault.kind == "drop"
        return response

    @staticmethod
    def _fault_response(fault: Fault, headers: dict[str, str]) -> Response:
        if fault.kind == "html_403":
            return Response(403, FORBIDDEN_HTML.encode(), headers, "text/html; charset=UTF-8")
        if fault.kind in ("daily_budget", "burst_429"):
            headers = {**headers, "retry-after": str(fault.retry_after)}
            if fault.kind == "daily_budget":
                headers["x-daily-ratelimit-token-remaining"] = "0"
                return json_response(429, DAILY_BUDGET_BODY, headers)
            headers["x-ratelimit-remaining"] = "0"
            return json_response(429, BURST_BODY, headers)
        if fault.kind == "success_false":
            return Response(200, orjson.dumps(SUCCESS_FALSE_BODY), headers)
        message = SERVER_ERROR_MESSAGE if fault.status >= 500 else "Simulated error"
        return json_response(fault.status, error_body(fault.status, message), headers)
