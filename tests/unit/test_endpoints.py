"""The endpoint tables against the official specs: every list read as its spec documents it, and priced."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from pipedrive_source.settings import ENDPOINTS, FIELDS_ENDPOINTS, PAGE_LIMIT, Endpoint, FieldsEndpoint
from pipedrive_source.token_costs import TOKEN_COSTS

SPECS = Path(__file__).resolve().parents[1] / "data"
ALL = (*ENDPOINTS, *FIELDS_ENDPOINTS)
PAGINATION_PARAMS = {"cursor": {"cursor", "limit"}, "offset": {"start", "limit"}}


@cache
def _spec(version: str) -> dict[str, Any]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    return yaml.load((SPECS / f"openapi-{version}.yaml").read_text(encoding="utf-8"), Loader=loader)


def _parameters(endpoint: Endpoint | FieldsEndpoint) -> dict[str, dict[str, Any]]:
    """The query parameters the spec documents for the endpoint's GET, by name."""
    spec = _spec(endpoint.api_version)
    path = "/" + endpoint.path.split("/", 2)[2]
    found = {}
    for parameter in spec["paths"][path]["get"].get("parameters", []):
        if "$ref" in parameter:
            node: Any = spec
            for part in parameter["$ref"].removeprefix("#/").split("/"):
                node = node[part]
            parameter = node
        found[parameter["name"]] = parameter
    return found


@pytest.mark.parametrize("endpoint", ALL, ids=[e.name for e in ALL])
def test_every_get_has_its_token_cost_from_the_spec(endpoint):
    spec_path = endpoint.path.removeprefix("api") if endpoint.api_version == "v1" else f"/{endpoint.path}"

    assert f"GET {spec_path}" in TOKEN_COSTS


@pytest.mark.parametrize("endpoint", ALL, ids=[e.name for e in ALL])
def test_every_parameter_sent_is_documented_and_every_required_one_sent(endpoint):
    documented = _parameters(endpoint)
    variants = endpoint.requests_params if isinstance(endpoint, Endpoint) else ({},)

    for params in variants:
        sent = set(params) | PAGINATION_PARAMS.get(endpoint.pagination, set())
        if endpoint.pagination == "updated_since":
            sent |= {"updated_since", "start", "limit"}
        if getattr(endpoint, "filters_updated_since", False):
            sent.add("updated_since")
        assert sent <= set(documented), endpoint.name
        required = {name for name, parameter in documented.items() if parameter.get("required")}
        assert required <= sent, endpoint.name
        for name, value in params.items():
            allowed = documented[name].get("schema", {}).get("enum")
            if allowed and name != "sort":
                assert set(value.split(",")) <= set(allowed), (endpoint.name, name, value)


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=[e.name for e in ENDPOINTS])
def test_incremental_where_the_api_filters_by_update_time_replace_where_it_cannot(endpoint):
    filters = "updated_since" in _parameters(endpoint)

    if endpoint.newest_first:
        assert endpoint.incremental and not filters
        assert endpoint.params["sort"].startswith("update_time DESC")
    else:
        assert endpoint.incremental == filters, endpoint.name


@pytest.mark.parametrize("endpoint", ALL, ids=[e.name for e in ALL])
def test_paginated_lists_are_read_page_by_page(endpoint):
    documented = set(_parameters(endpoint))

    if "cursor" in documented:
        assert endpoint.pagination == "cursor"
    elif "start" in documented:
        assert endpoint.pagination in ("offset", "updated_since")
    else:
        assert endpoint.pagination == "single"


def test_pages_stay_within_the_documented_maximum():
    limits = {e.name: e.page_limit for e in ENDPOINTS}

    assert limits["files"] == 100
    assert limits["call_logs"] == 50
    assert {name for name, limit in limits.items() if limit != PAGE_LIMIT} == {"files", "call_logs"}


def test_mail_threads_are_off_by_default_and_read_from_every_folder():
    mail = next(e for e in ENDPOINTS if e.name == "mail_threads")
    folders = _parameters(mail)["folder"]["schema"]["enum"]

    assert [e.name for e in ENDPOINTS if not e.enabled_by_default] == ["mail_threads"]
    assert sorted(params["folder"] for params in mail.requests_params) == sorted(folders)


def test_goals_are_read_for_every_type_active_or_not():
    goals = next(e for e in ENDPOINTS if e.name == "goals")
    types = _parameters(goals)["type.name"]["schema"]["enum"]

    read = {(params["type.name"], params["is_active"]) for params in goals.requests_params}
    assert read == {(goal_type, active) for goal_type in types for active in ("true", "false")}


def test_archived_records_land_in_the_table_of_their_entity():
    tables = {e.name: e.table for e in ENDPOINTS if e.table != e.name}

    assert tables == {"archived_deals": "deals", "archived_leads": "leads", "archived_projects": "projects"}
