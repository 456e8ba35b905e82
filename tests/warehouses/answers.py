"""What the API answered, per destination table, and the changes the tests make between two runs.

Expected rows come from the cassette (`tests.e2e.oracle`), never from the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass

from vcr.cassette import Cassette

from pipedrive_source.settings import ENDPOINTS, FIELDS_ENDPOINTS, Endpoint
from tests.e2e import oracle
from tests.e2e.conftest import write_through_gateway

RENAMED = "Renamed in the warehouse test"
CREATED = "Created in the warehouse test"
NEW_EMAILS = [{"value": "moved@example.com", "primary": True, "label": "work"}]


def tables() -> dict[str, list[Endpoint]]:
    """The tables a default run fills from lists, and the lists feeding each (archived deals: `deals`)."""
    found: dict[str, list[Endpoint]] = {}
    for endpoint in ENDPOINTS:
        if endpoint.enabled_by_default:
            found.setdefault(endpoint.table, []).append(endpoint)
    return found


def custom_field_types(cassette: Cassette, stop: int | None = None) -> dict[str, str]:
    """The Pipedrive type (`field_type`) of each custom field the fields endpoints described, by code."""
    return {
        field["field_code"]: field["field_type"]
        for fields in FIELDS_ENDPOINTS
        for field in oracle.fields(cassette, fields.path, stop=stop)
        if field.get("is_custom_field")
    }


@dataclass(frozen=True)
class Changes:
    """What changed in Pipedrive between the two runs."""

    renamed: tuple[int, int]
    deleted: int
    created: int
    person: int


def change_the_crm(open_deals: list[int], person: int) -> Changes:
    """Two open deals renamed, one deleted, one created and a person's e-mails replaced, through the API."""
    renamed = (open_deals[0], open_deals[1])
    for deal_id in renamed:
        write_through_gateway("PATCH", f"api/v2/deals/{deal_id}", {"title": RENAMED, "value": 99.25})
    write_through_gateway("DELETE", f"api/v2/deals/{open_deals[2]}")
    created = write_through_gateway(
        "POST", "api/v2/deals", {"title": CREATED, "value": 1234.5, "currency": "EUR"}
    )
    write_through_gateway("PATCH", f"api/v2/persons/{person}", {"emails": NEW_EMAILS})
    return Changes(renamed, open_deals[2], int(created["id"]), person)
