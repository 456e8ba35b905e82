"""Which table a request path serves when it is not a list of `settings.ENDPOINTS`, for counting requests
and tokens per table: the child tables' paths (`api/v2/deals/17/followers`), and single records of a list
(`api/v1/notes/30`, read by the delete reconciliation)."""

from __future__ import annotations

import re
from functools import lru_cache

from pipedrive_source.children.tables import CHILDREN
from pipedrive_source.settings import ENDPOINTS


@lru_cache(maxsize=1)
def _patterns() -> tuple[tuple[re.Pattern[str], str], ...]:
    children = [(re.escape(child.path).replace(re.escape("{id}"), "[^/]+"), child.name) for child in CHILDREN]
    records = [(re.escape(endpoint.path) + "/[^/]+", endpoint.table) for endpoint in ENDPOINTS]
    return tuple((re.compile(pattern + "$"), name) for pattern, name in (*children, *records))


@lru_cache(maxsize=4096)
def table_of_path(path: str) -> str | None:
    """The table a request to `path` serves (`api/v2/deals/17/followers`: `deal_followers`), or None."""
    path = path.strip("/")
    return next((name for pattern, name in _patterns() if pattern.match(path)), None)
