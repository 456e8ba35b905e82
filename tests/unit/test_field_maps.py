"""The custom field maps of a run: each fields endpoint is read once, however many threads ask."""

from __future__ import annotations

import threading
import time
from typing import Any

from pipedrive_source.settings import ENDPOINTS_BY_NAME
from pipedrive_source.source import FieldMaps


def test_an_entity_fields_endpoint_is_read_once_however_many_resources_ask_at_once():
    class SlowClient:
        calls: list[str] = []

        def records(self, path: str) -> list[dict[str, Any]]:
            self.calls.append(path)
            time.sleep(0.05)
            return [
                {
                    "field_code": "a" * 40,
                    "field_name": "Tier",
                    "field_type": "varchar",
                    "is_custom_field": True,
                }
            ]

    client = SlowClient()
    field_maps = FieldMaps(client)  # type: ignore[arg-type]
    deals = ENDPOINTS_BY_NAME["deals"]

    threads = [threading.Thread(target=field_maps, args=(deals,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert client.calls == ["api/v2/dealFields"]
    assert field_maps(deals).column_names == ("tier",)  # type: ignore[union-attr]
