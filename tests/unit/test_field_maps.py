"""The field definitions and custom field maps of a run: each fields endpoint is read once, however many
threads and tables ask."""

from __future__ import annotations

import threading
import time
from typing import Any

from pipedrive_source.settings import ENDPOINTS_BY_NAME, FIELDS_ENDPOINTS_BY_PATH
from pipedrive_source.source import FieldMaps

TIER = {
    "field_code": "a" * 40,
    "field_name": "Tier",
    "field_type": "varchar",
    "is_custom_field": True,
}


class SlowClient:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.reading = 0
        self.most_at_once = 0
        self._count = threading.Lock()

    def records(self, path: str, pagination: str = "cursor") -> list[dict[str, Any]]:
        with self._count:
            self.calls.append((path, pagination))
            self.reading += 1
            self.most_at_once = max(self.most_at_once, self.reading)
        time.sleep(0.05)
        with self._count:
            self.reading -= 1
        return [dict(TIER)]


def test_an_entity_fields_endpoint_is_read_once_however_many_resources_ask_at_once():
    client = SlowClient()
    field_maps = FieldMaps(client)  # type: ignore[arg-type]
    askers = [
        *(ENDPOINTS_BY_NAME[name] for name in ("deals", "archived_deals", "leads", "archived_leads")),
    ]

    threads = [threading.Thread(target=field_maps, args=(endpoint,)) for endpoint in askers * 2]
    threads.append(threading.Thread(target=field_maps.definitions, args=("api/v2/dealFields",)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert client.calls == [("api/v2/dealFields", "cursor")]
    assert field_maps(ENDPOINTS_BY_NAME["deals"]).column_names == ("tier",)  # type: ignore[union-attr]
    assert field_maps.definitions("api/v2/dealFields") == [TIER]


def test_resources_of_different_fields_endpoints_read_them_at_the_same_time():
    client = SlowClient()
    field_maps = FieldMaps(client)  # type: ignore[arg-type]
    askers = [ENDPOINTS_BY_NAME[name] for name in ("deals", "persons", "organizations", "activities")]

    threads = [threading.Thread(target=field_maps, args=(endpoint,)) for endpoint in askers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(path for path, _ in client.calls) == [
        "api/v2/activityFields",
        "api/v2/dealFields",
        "api/v2/organizationFields",
        "api/v2/personFields",
    ]
    # each resource waits for its own fields only, not for the others' (the run's first requests)
    assert client.most_at_once > 1


def test_archived_deals_share_the_map_of_deals_and_leads_read_deal_fields_as_top_level_keys():
    field_maps = FieldMaps(SlowClient())  # type: ignore[arg-type]

    deals = field_maps(ENDPOINTS_BY_NAME["deals"])
    leads = field_maps(ENDPOINTS_BY_NAME["leads"])

    assert field_maps(ENDPOINTS_BY_NAME["archived_deals"]) is deals
    assert field_maps(ENDPOINTS_BY_NAME["archived_leads"]) is leads
    assert leads is not None and leads.entity == "leads"
    # a v1 lead carries the deal field's value under its code, as v1 deals did
    assert leads.flatten({"id": "x", "a" * 40: "Gold"}) == {"id": "x", "tier": "Gold"}
    assert deals is not None
    assert deals.flatten({"id": 1, "custom_fields": {"a" * 40: "Gold"}}) == {"id": 1, "tier": "Gold"}


def test_v1_fields_endpoints_are_read_with_their_own_pagination():
    client = SlowClient()
    field_maps = FieldMaps(client)  # type: ignore[arg-type]

    field_maps.definitions("api/v1/leadFields")
    field_maps.definitions("api/v1/noteFields")

    assert client.calls == [
        ("api/v1/leadFields", FIELDS_ENDPOINTS_BY_PATH["api/v1/leadFields"].pagination),
        ("api/v1/noteFields", "single"),
    ]
    assert FIELDS_ENDPOINTS_BY_PATH["api/v1/leadFields"].pagination == "offset"


def test_an_entity_without_custom_fields_has_no_map_and_reads_nothing():
    client = SlowClient()

    assert FieldMaps(client)(ENDPOINTS_BY_NAME["tasks"]) is None  # type: ignore[arg-type]
    assert client.calls == []
