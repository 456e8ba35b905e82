"""Pipedrive's error bodies, as the official specs and live observations show them
(`tests/data/examples/errors.json`)."""

from __future__ import annotations

from typing import Any

ERROR_INFO = "Please check developers.pipedrive.com for more information about Pipedrive API."
SHORT_ERROR_INFO = "Please check developers.pipedrive.com"


class ApiError(Exception):
    """A Pipedrive error answer; handlers raise it, the server turns it into the error envelope."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.status, self.message)


def error_body(status: int, message: str) -> dict[str, Any]:
    """The error envelope of both versions: `success: false`, `error`, `error_info`, null `data` and
    `additional_data`."""
    return {
        "success": False,
        "error": message,
        "error_info": ERROR_INFO,
        "data": None,
        "additional_data": None,
    }


def not_found(entity: str = "Item") -> ApiError:
    return ApiError(404, f"{entity} not found")


def bad_request(message: str) -> ApiError:
    return ApiError(400, message)


UNAUTHORIZED_BODY = {
    "success": False,
    "error": "unauthorized access",
    "errorCode": 401,
    "error_info": SHORT_ERROR_INFO,
}
"""The gateway 401 observed live (with header `x-401-by-gw: true`), for a missing or wrong token."""

DAILY_BUDGET_BODY = {"success": False, "error": "daily request budget exceeded", "errorCode": 429}
"""Observed live when the company's daily token budget is used up (with a `retry-after` of hours)."""

BURST_BODY = {
    "success": False,
    "error": "Request over limit",
    "errorCode": 429,
    "error_info": SHORT_ERROR_INFO,
}
"""Burst-limit 429: Pipedrive's docs give only the envelope shape, not the exact message."""

SERVER_ERROR_MESSAGE = "An internal server error occurred"

GONE_MESSAGE = (
    "This endpoint is out of support since 2026-08-01: API v1 {entity} endpoints are deprecated, "
    "use API v2 instead (/api/v2/{entity})"
)

FORBIDDEN_HTML = """<!DOCTYPE html>
<html lang="en-US">
<head><title>Attention Required! | Cloudflare</title>
<meta charset="UTF-8" /><meta name="robots" content="noindex, nofollow" /></head>
<body>
<div id="cf-wrapper"><div id="cf-error-details" class="cf-error-details-wrapper">
<h1>Sorry, you have been blocked</h1>
<h2>You are unable to access pipedrive.com</h2>
<p>This website is using a security service to protect itself from online attacks. The action you just
performed triggered the security solution. There are several actions that could trigger this block including
submitting a certain word or phrase, a SQL command or malformed data.</p>
<p>Cloudflare Ray ID: <strong>8f1c2a7b3d4e5f60</strong></p>
</div></div>
</body>
</html>
"""
"""The Cloudflare block page an API-token client gets after ignoring 429s (HTML, not JSON)."""
